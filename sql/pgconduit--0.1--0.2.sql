/* pgconduit--0.1--0.2.sql: upgrade of pgconduit 0.1 to 0.2 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgconduit UPDATE TO '0.2'" to load this file. \quit

-- The update keeps the rows of the catalog tables (connectors, pipelines,
-- progress, dead letters) and makes every other object -- functions,
-- views, trigger, policy, grants, comments -- as a fresh 0.2 install has
-- it: 0.1's are dropped here and made again below by a copy of the 0.2
-- install script's statements.  t/010_upgrade.pl compares an updated
-- database with a fresh install.

------------------------------------------------------------------------
-- What 0.1 has besides its tables
------------------------------------------------------------------------

DROP VIEW pgconduit.status, pgconduit.pipelines, pgconduit.connectors;
DROP TRIGGER pipeline_changed ON pgconduit.pipeline;
DROP FUNCTION
	pgconduit._apply_batch(text, text, jsonb, text, text, text, text),
	pgconduit._check_admin(),
	pgconduit._check_preloaded(),
	pgconduit._check_slot_unique(text, jsonb),
	pgconduit._copy_target(text, text[], text[], text[]),
	pgconduit._create_connector(text, text, jsonb),
	pgconduit._drop_source_objects(text),
	pgconduit._jsonb_from_bytes(bytea),
	pgconduit._jsonb_parse(text),
	pgconduit._jsonb_to_bytes(jsonb),
	pgconduit._pipeline_trigger(),
	pgconduit._set_pipeline_enabled(text, boolean),
	pgconduit._set_progress(text, text, text, text),
	pgconduit._status(),
	pgconduit._stop_worker(text),
	pgconduit._validate_config(text, text, jsonb),
	pgconduit._write(jsonb, text),
	pgconduit._write_at(),
	pgconduit._write_rows(bigint),
	pgconduit.alter_connector(text, jsonb),
	pgconduit.create_destination(text, jsonb),
	pgconduit.create_pipeline(text, text, text, boolean),
	pgconduit.create_source(text, jsonb),
	pgconduit.drop_connector(text),
	pgconduit.drop_pipeline(text, boolean),
	pgconduit.mask_url(text),
	pgconduit.start_pipeline(text),
	pgconduit.stop_pipeline(text),
	pgconduit.wait_for_pipeline(text, interval),
	pgconduit.write(jsonb);
-- the grants of 0.2 are given below
REVOKE ALL ON pgconduit.connector, pgconduit.pipeline, pgconduit.progress,
	pgconduit.dead_letter FROM PUBLIC, pgconduit_admin;
REVOKE ALL ON SEQUENCE pgconduit.dead_letter_id_seq FROM PUBLIC, pgconduit_admin;

------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------

-- 0.2 refuses what 0.1 allowed in two ways: names longer than 63 bytes
-- (0.1 counted characters), and a pipeline that uses a connector of
-- another owner.  Such a catalog is not changed; the error says what to do.
DO $$
DECLARE
	r record;
BEGIN
	SELECT 'connector' AS what, c.name INTO r FROM pgconduit.connector c
	 WHERE pg_catalog.octet_length(c.name) OPERATOR(pg_catalog.>) 63
	UNION ALL
	SELECT 'pipeline', p.name FROM pgconduit.pipeline p
	 WHERE pg_catalog.octet_length(p.name) OPERATOR(pg_catalog.>) 63
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'the name of % "%" is longer than 63 bytes', r.what, r.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'pgconduit 0.2 limits names to 63 bytes, as PostgreSQL does.',
				  HINT = 'Drop and create it again under a shorter name, then run ALTER EXTENSION pgconduit UPDATE again.';
	END IF;
	SELECT p.name, p.owner, c.name AS connector, c.owner AS connector_owner INTO r
	  FROM pgconduit.pipeline p
	  JOIN pgconduit.connector c
		ON c.name OPERATOR(pg_catalog.=) p.source OR c.name OPERATOR(pg_catalog.=) p.destination
	 WHERE c.owner OPERATOR(pg_catalog.<>) p.owner
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'pipeline "%" of role "%" uses connector "%" of role "%"',
			r.name, r.owner, r.connector, r.connector_owner
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'In pgconduit 0.2 a pipeline uses only connectors of its own owner.',
				  HINT = 'Drop the pipeline and create it again with connectors of its owner, then run ALTER EXTENSION pgconduit UPDATE again.';
	END IF;
END
$$;

-- Owners are role OIDs (regrole), no longer names with a default.  A role
-- that no longer exists becomes OID 0: its connectors and pipelines stay,
-- for a superuser to drop, and its pipelines do not run, as under 0.1.
-- Names are limited in bytes; a pipeline's connectors share its owner.
ALTER TABLE pgconduit.pipeline
	DROP CONSTRAINT pipeline_source_fkey,
	DROP CONSTRAINT pipeline_destination_fkey;
ALTER TABLE pgconduit.connector
	ALTER COLUMN owner DROP DEFAULT,
	ALTER COLUMN owner TYPE pg_catalog.regrole
		USING coalesce(pg_catalog.to_regrole(pg_catalog.quote_ident(owner)),
					   0::pg_catalog.oid::pg_catalog.regrole),
	DROP CONSTRAINT connector_name_check,
	ADD CONSTRAINT connector_name_check CHECK (octet_length(name) BETWEEN 1 AND 63),
	ADD CONSTRAINT connector_config_check
		CHECK (pg_catalog.jsonb_typeof(config) OPERATOR(pg_catalog.=) 'object'),
	ADD CONSTRAINT connector_name_owner_key UNIQUE (name, owner);
ALTER TABLE pgconduit.pipeline
	ALTER COLUMN owner DROP DEFAULT,
	ALTER COLUMN owner TYPE pg_catalog.regrole
		USING coalesce(pg_catalog.to_regrole(pg_catalog.quote_ident(owner)),
					   0::pg_catalog.oid::pg_catalog.regrole),
	DROP CONSTRAINT pipeline_name_check,
	ADD CONSTRAINT pipeline_name_check CHECK (octet_length(name) BETWEEN 1 AND 63),
	ADD CONSTRAINT pipeline_source_owner_fkey
		FOREIGN KEY (source, owner) REFERENCES pgconduit.connector (name, owner),
	ADD CONSTRAINT pipeline_destination_owner_fkey
		FOREIGN KEY (destination, owner) REFERENCES pgconduit.connector (name, owner);

-- pgconduit.progress: the source table a pipeline follows (by OID, on the
-- source) and its name when the pipeline started; and, as in
-- pgconduit.dead_letter, the role that wrote the row, which row level
-- security compares with the reader.  0.1 did not record it: its rows get
-- the role that runs this update.
ALTER TABLE pgconduit.progress
	ADD COLUMN source_relid oid,
	ADD COLUMN source_table text,
	ADD COLUMN writer regrole NOT NULL DEFAULT CURRENT_USER::regrole;
ALTER TABLE pgconduit.dead_letter
	ADD COLUMN writer regrole NOT NULL DEFAULT CURRENT_USER::regrole;

------------------------------------------------------------------------
-- Everything else as the 0.2 install script creates it (from here on a
-- copy of its statements, the tables above left out)
------------------------------------------------------------------------

-- The role that may manage connectors and pipelines besides superusers.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'pgconduit_admin') THEN
		CREATE ROLE pgconduit_admin NOLOGIN;
	END IF;
END
$$;

REVOKE ALL ON SCHEMA pgconduit FROM PUBLIC;
GRANT USAGE ON SCHEMA pgconduit TO PUBLIC;

------------------------------------------------------------------------
-- Catalog
--
-- Written only by the API functions below, which check their caller and
-- then write as the extension's owner.  pgconduit_admin may read it: the
-- pipelines all, the connectors only its own (row level security), as
-- their connection strings hold passwords.
------------------------------------------------------------------------
-- (created by 0.1, altered above)
COMMENT ON TABLE pgconduit.connector IS 'pgconduit sources and destinations';

-- A pipeline uses only connectors of its own owner: the keys say so.
-- (created by 0.1, altered above)
COMMENT ON TABLE pgconduit.pipeline IS 'pgconduit pipelines: one source, one destination, one worker';

SELECT pg_catalog.pg_extension_config_dump('pgconduit.connector', '');
SELECT pg_catalog.pg_extension_config_dump('pgconduit.pipeline', '');

REVOKE ALL ON pgconduit.connector, pgconduit.pipeline FROM PUBLIC;
GRANT SELECT ON pgconduit.connector, pgconduit.pipeline TO pgconduit_admin;

ALTER TABLE pgconduit.connector ENABLE ROW LEVEL SECURITY;
CREATE POLICY connector_owner ON pgconduit.connector FOR SELECT TO pgconduit_admin
	USING (CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
							  WHERE r.oid OPERATOR(pg_catalog.=) owner::pg_catalog.oid)
				THEN pg_catalog.pg_has_role(owner::pg_catalog.oid, 'USAGE') END);

------------------------------------------------------------------------
-- Internal helpers (C)
------------------------------------------------------------------------

-- Validate a connector config for an owner and return it normalized
-- (derived names filled in); raises an ERROR naming the offending key
-- otherwise.  A non-superuser owner's connection strings must follow
-- dblink's rules.
CREATE FUNCTION pgconduit._validate_config(kind text, name text, config jsonb, owner oid)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgconduit_validate_config'
LANGUAGE C STRICT STABLE;

-- A connection string with any password replaced by asterisks.
CREATE FUNCTION pgconduit.mask_url(url text)
RETURNS text
AS 'MODULE_PATHNAME', 'pgconduit_mask_url'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- Raise an ERROR unless the current user may manage pgconduit objects.
CREATE FUNCTION pgconduit._check_admin()
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_check_admin'
LANGUAGE C STRICT STABLE;

-- Raise an ERROR unless pgconduit is in shared_preload_libraries.
CREATE FUNCTION pgconduit._check_preloaded()
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_check_preloaded'
LANGUAGE C STRICT STABLE;

-- Raise an ERROR unless role p_caller may manage an object of p_owner:
-- has the privileges of the owner (superusers have every role's).
CREATE FUNCTION pgconduit._check_owner(p_what text, p_name text, p_owner oid, p_caller oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_ok boolean;
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) p_owner) THEN
		v_ok := pg_catalog.pg_has_role(p_caller, p_owner, 'USAGE');
	ELSE
		-- a superuser may manage objects whose owner role was dropped
		SELECT r.rolsuper INTO v_ok FROM pg_catalog.pg_roles r
		 WHERE r.oid OPERATOR(pg_catalog.=) p_caller;
	END IF;
	IF NOT coalesce(v_ok, false) THEN
		RAISE EXCEPTION 'must be owner of % "%"', p_what, p_name
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = pg_catalog.format('The %s belongs to role "%s".', p_what,
											 p_owner::pg_catalog.regrole);
	END IF;
END
$$;

------------------------------------------------------------------------
-- Connectors
--
-- Each function of the API is a C entry point that checks its caller (a
-- superuser or a member of pgconduit_admin) and then runs the function of
-- the same name with a leading underscore as the extension's owner,
-- passing the caller's role OID last.  Those are executable by nobody else.
------------------------------------------------------------------------

CREATE FUNCTION pgconduit._create_connector(p_kind text, p_name text, p_config jsonb,
											p_caller oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_config jsonb;
BEGIN
	v_config := pgconduit._validate_config(p_kind, p_name, p_config, p_caller);
	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgconduit.connector'));
	IF EXISTS (SELECT 1 FROM pgconduit.connector c WHERE c.name OPERATOR(pg_catalog.=) p_name) THEN
		RAISE EXCEPTION 'connector "%" already exists', p_name
			USING ERRCODE = 'duplicate_object';
	END IF;
	IF p_kind OPERATOR(pg_catalog.=) 'source' THEN
		PERFORM pgconduit._check_slot_unique(p_name, v_config);
	END IF;
	INSERT INTO pgconduit.connector (name, kind, config, owner)
		VALUES (p_name, p_kind, v_config, p_caller::pg_catalog.regrole);
END
$$;

-- Two sources must never share a replication slot.
CREATE FUNCTION pgconduit._check_slot_unique(p_name text, p_config jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_other text;
BEGIN
	SELECT c.name INTO v_other
	  FROM pgconduit.connector c
	 WHERE c.kind OPERATOR(pg_catalog.=) 'source'
	   AND c.name OPERATOR(pg_catalog.<>) p_name
	   AND (c.config OPERATOR(pg_catalog.->>) 'slot_name')
		   OPERATOR(pg_catalog.=) (p_config OPERATOR(pg_catalog.->>) 'slot_name');
	IF FOUND THEN
		RAISE EXCEPTION 'replication slot name "%" is already used by source "%"',
			p_config OPERATOR(pg_catalog.->>) 'slot_name', v_other
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Set "slot_name" to a name that no other source uses.';
	END IF;
END
$$;

CREATE FUNCTION pgconduit._create_source(p_name text, p_config jsonb, p_caller oid)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pgconduit._create_connector('source', p_name, p_config, p_caller);
END;

CREATE FUNCTION pgconduit.create_source(name text, config jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_api'
LANGUAGE C;
COMMENT ON FUNCTION pgconduit.create_source(text, jsonb) IS 'create a source connector';

CREATE FUNCTION pgconduit._create_destination(p_name text, p_config jsonb, p_caller oid)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pgconduit._create_connector('destination', p_name, p_config, p_caller);
END;

CREATE FUNCTION pgconduit.create_destination(name text, config jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_api'
LANGUAGE C;
COMMENT ON FUNCTION pgconduit.create_destination(text, jsonb) IS 'create a destination connector';

CREATE FUNCTION pgconduit._alter_connector(p_name text, p_config jsonb, p_caller oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_kind text;
	v_owner oid;
	v_config jsonb;
BEGIN
	SELECT c.kind, c.owner INTO v_kind, v_owner FROM pgconduit.connector c
	 WHERE c.name OPERATOR(pg_catalog.=) p_name FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'connector "%" does not exist', p_name
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgconduit._check_owner('connector', p_name, v_owner, p_caller);
	-- the owner's pipelines use it: the owner's rules apply
	v_config := pgconduit._validate_config(v_kind, p_name, p_config, v_owner);
	IF v_kind OPERATOR(pg_catalog.=) 'source' THEN
		PERFORM pgconduit._check_slot_unique(p_name, v_config);
	END IF;
	UPDATE pgconduit.connector c
	   SET config = v_config, updated_at = pg_catalog.now()
	 WHERE c.name OPERATOR(pg_catalog.=) p_name;
END
$$;

CREATE FUNCTION pgconduit.alter_connector(name text, config jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_api'
LANGUAGE C;
COMMENT ON FUNCTION pgconduit.alter_connector(text, jsonb) IS 'replace the configuration of a connector';

CREATE FUNCTION pgconduit._drop_connector(p_name text, p_caller oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_owner oid;
	v_pipeline text;
BEGIN
	SELECT c.owner INTO v_owner FROM pgconduit.connector c
	 WHERE c.name OPERATOR(pg_catalog.=) p_name FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'connector "%" does not exist', p_name
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgconduit._check_owner('connector', p_name, v_owner, p_caller);
	SELECT p.name INTO v_pipeline FROM pgconduit.pipeline p
	 WHERE p.source OPERATOR(pg_catalog.=) p_name
		OR p.destination OPERATOR(pg_catalog.=) p_name
	 ORDER BY p.name LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot drop connector "%" because pipeline "%" uses it',
			p_name, v_pipeline
			USING ERRCODE = 'dependent_objects_still_exist',
				  HINT = 'Drop the pipeline first with pgconduit.drop_pipeline().';
	END IF;
	DELETE FROM pgconduit.connector c WHERE c.name OPERATOR(pg_catalog.=) p_name;
END
$$;

CREATE FUNCTION pgconduit.drop_connector(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_api'
LANGUAGE C;
COMMENT ON FUNCTION pgconduit.drop_connector(text) IS 'drop a connector that no pipeline uses';

------------------------------------------------------------------------
-- Pipelines
------------------------------------------------------------------------

-- Check that connector p_name exists, is of kind p_kind and belongs to
-- p_owner, the owner of the pipeline being created; lock it meanwhile.
CREATE FUNCTION pgconduit._check_pipeline_connector(p_name text, p_kind text, p_owner oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_kind text;
	v_owner oid;
BEGIN
	SELECT c.kind, c.owner INTO v_kind, v_owner FROM pgconduit.connector c
	 WHERE c.name OPERATOR(pg_catalog.=) p_name FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION '% connector "%" does not exist', p_kind, p_name
			USING ERRCODE = 'undefined_object';
	ELSIF v_kind OPERATOR(pg_catalog.<>) p_kind THEN
		RAISE EXCEPTION 'connector "%" is not a %', p_name, p_kind
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = pg_catalog.format('Connector "%s" is a %s.', p_name, v_kind);
	ELSIF v_owner OPERATOR(pg_catalog.<>) p_owner THEN
		RAISE EXCEPTION 'must be owner of connector "%"', p_name
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = pg_catalog.format('A pipeline uses only connectors of its own owner, role "%s"; connector "%s" belongs to role "%s".',
											 p_owner::pg_catalog.regrole, p_name,
											 v_owner::pg_catalog.regrole);
	END IF;
END
$$;

CREATE FUNCTION pgconduit._create_pipeline(p_name text, p_source text, p_destination text,
										   p_enabled boolean, p_caller oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_enabled THEN
		PERFORM pgconduit._check_preloaded();
	END IF;
	IF p_name IS NULL OR pg_catalog.length(p_name) OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'pipeline name must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- in bytes: the name goes where PostgreSQL keeps names (NAMEDATALEN)
	IF pg_catalog.octet_length(p_name) OPERATOR(pg_catalog.>) 63 THEN
		RAISE EXCEPTION 'pipeline name "%" is too long', p_name
			USING ERRCODE = 'name_too_long',
				  DETAIL = pg_catalog.format('The name is %s bytes long; pipeline names are at most 63 bytes long.',
											 pg_catalog.octet_length(p_name));
	END IF;
	PERFORM pgconduit._check_pipeline_connector(p_source, 'source', p_caller);
	PERFORM pgconduit._check_pipeline_connector(p_destination, 'destination', p_caller);
	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgconduit.pipeline'));
	IF EXISTS (SELECT 1 FROM pgconduit.pipeline p WHERE p.name OPERATOR(pg_catalog.=) p_name) THEN
		RAISE EXCEPTION 'pipeline "%" already exists', p_name
			USING ERRCODE = 'duplicate_object';
	END IF;
	IF EXISTS (SELECT 1 FROM pgconduit.pipeline p WHERE p.source OPERATOR(pg_catalog.=) p_source) THEN
		RAISE EXCEPTION 'source "%" is already used by another pipeline', p_source
			USING ERRCODE = 'object_in_use',
				  DETAIL = 'Each source owns a replication slot, which only one pipeline can read.';
	END IF;
	INSERT INTO pgconduit.pipeline (name, source, destination, enabled, owner)
		VALUES (p_name, p_source, p_destination, coalesce(p_enabled, true),
				p_caller::pg_catalog.regrole);
END
$$;

CREATE FUNCTION pgconduit.create_pipeline(name text, source text, destination text,
										  enabled boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_api'
LANGUAGE C;
COMMENT ON FUNCTION pgconduit.create_pipeline(text, text, text, boolean) IS 'create a pipeline from a source to a destination';

-- Lock pipeline p_name and check that p_caller may manage it.
CREATE FUNCTION pgconduit._lock_pipeline(p_name text, p_caller oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_owner oid;
BEGIN
	SELECT p.owner INTO v_owner FROM pgconduit.pipeline p
	 WHERE p.name OPERATOR(pg_catalog.=) p_name FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'pipeline "%" does not exist', p_name
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgconduit._check_owner('pipeline', p_name, v_owner, p_caller);
END
$$;

CREATE FUNCTION pgconduit._start_pipeline(p_name text, p_caller oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pgconduit._lock_pipeline(p_name, p_caller);
	PERFORM pgconduit._check_preloaded();
	UPDATE pgconduit.pipeline p SET enabled = true WHERE p.name OPERATOR(pg_catalog.=) p_name;
END
$$;

CREATE FUNCTION pgconduit.start_pipeline(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_api'
LANGUAGE C;
COMMENT ON FUNCTION pgconduit.start_pipeline(text) IS 'enable a pipeline and start its worker';

CREATE FUNCTION pgconduit._stop_pipeline(p_name text, p_caller oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pgconduit._lock_pipeline(p_name, p_caller);
	UPDATE pgconduit.pipeline p SET enabled = false WHERE p.name OPERATOR(pg_catalog.=) p_name;
END
$$;

CREATE FUNCTION pgconduit.stop_pipeline(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_api'
LANGUAGE C;
COMMENT ON FUNCTION pgconduit.stop_pipeline(text) IS 'disable a pipeline and stop its worker';

CREATE FUNCTION pgconduit._drop_pipeline(p_name text, p_drop_slot boolean, p_caller oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pgconduit._lock_pipeline(p_name, p_caller);
	-- the worker must let go of the slot before it can be dropped
	PERFORM pgconduit._stop_worker(p_name);
	IF p_drop_slot THEN
		PERFORM pgconduit._drop_source_objects(p_name);
	END IF;
	-- its position in the destination would never be read again
	PERFORM pgconduit._drop_destination_progress(p_name);
	DELETE FROM pgconduit.pipeline p WHERE p.name OPERATOR(pg_catalog.=) p_name;
END
$$;

CREATE FUNCTION pgconduit.drop_pipeline(name text, drop_slot boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_api'
LANGUAGE C;
COMMENT ON FUNCTION pgconduit.drop_pipeline(text, boolean) IS 'stop and drop a pipeline, and by default its replication slot';

------------------------------------------------------------------------
-- Views
------------------------------------------------------------------------

-- Connectors, their connection strings shown in clear to their owner (and
-- members of the owner, and superusers), with passwords masked to other
-- members of pgconduit_admin, and not at all to anyone else.
CREATE VIEW pgconduit.connectors AS
SELECT c.name, c.kind, c.owner,
	   coalesce((SELECT pg_catalog.jsonb_object_agg(e.key,
					CASE WHEN e.key OPERATOR(pg_catalog.<>) ALL ('{url,replication_url}'::text[])
						   OR CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
												 WHERE r.oid OPERATOR(pg_catalog.=) c.owner::pg_catalog.oid)
								   THEN pg_catalog.pg_has_role(c.owner::pg_catalog.oid, 'USAGE')
								   ELSE (SELECT r.rolsuper FROM pg_catalog.pg_roles r
										  WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) END
						 THEN e.value
						 ELSE pg_catalog.to_jsonb(pgconduit.mask_url(e.value OPERATOR(pg_catalog.#>>) '{}'::text[]))
					END)
				   FROM pg_catalog.jsonb_each(c.config) e
				  WHERE e.key OPERATOR(pg_catalog.<>) ALL ('{url,replication_url}'::text[])
					 OR pg_catalog.pg_has_role('pgconduit_admin', 'USAGE')),
				'{}'::jsonb) AS config,
	   c.created_at, c.updated_at
  FROM pgconduit.connector c;

CREATE VIEW pgconduit.pipelines AS
SELECT p.name, p.source, p.destination, p.enabled, p.owner, p.created_at
  FROM pgconduit.pipeline p;

GRANT SELECT ON pgconduit.connectors, pgconduit.pipelines TO PUBLIC;

REVOKE ALL ON FUNCTION pgconduit._validate_config(text, text, jsonb, oid),
	pgconduit._check_admin(), pgconduit._check_preloaded(),
	pgconduit._check_owner(text, text, oid, oid),
	pgconduit._create_connector(text, text, jsonb, oid),
	pgconduit._check_slot_unique(text, jsonb),
	pgconduit._create_source(text, jsonb, oid),
	pgconduit._create_destination(text, jsonb, oid),
	pgconduit._alter_connector(text, jsonb, oid),
	pgconduit._drop_connector(text, oid),
	pgconduit._check_pipeline_connector(text, text, oid),
	pgconduit._create_pipeline(text, text, text, boolean, oid),
	pgconduit._lock_pipeline(text, oid),
	pgconduit._start_pipeline(text, oid),
	pgconduit._stop_pipeline(text, oid),
	pgconduit._drop_pipeline(text, boolean, oid)
	FROM PUBLIC;

-- ==== destination (issue 4): pgconduit.write and its helpers go below ====

-- Apply OpenCDC records (one object or an array) to tables of this
-- database, in order, in the caller's transaction; returns how many.
CREATE FUNCTION pgconduit.write(records jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgconduit_write'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION pgconduit.write(jsonb) IS 'apply OpenCDC records: upsert, insert, delete, truncate';

-- The same, with every record's metadata.table replaced by table_override
-- when that is not null (a destination connector's "table").
CREATE FUNCTION pgconduit._write(records jsonb, table_override text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgconduit_write_override'
LANGUAGE C VOLATILE;

-- Internal to write(): the rows one of its statements applies, and the
-- counter of the rows that statement has read.  They do nothing useful
-- outside write().
CREATE FUNCTION pgconduit._write_rows(token bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgconduit_write_rows'
LANGUAGE C STRICT VOLATILE ROWS 1000;

CREATE FUNCTION pgconduit._write_at()
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgconduit_write_at'
LANGUAGE C STRICT VOLATILE COST 1;

-- Internal to pipelines: the jsonb whose bytes the worker sends, checked
-- so that no bytes can make the server read outside them.
CREATE FUNCTION pgconduit._jsonb_from_bytes(bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgconduit_jsonb_from_bytes'
LANGUAGE C STRICT IMMUTABLE;

-- Its inverse, for tests and tools.
CREATE FUNCTION pgconduit._jsonb_to_bytes(jsonb)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pgconduit_jsonb_to_bytes'
LANGUAGE C STRICT IMMUTABLE;

-- JSON text to jsonb as the worker parses records: the same as text::jsonb.
CREATE FUNCTION pgconduit._jsonb_parse(text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgconduit_jsonb_parse'
LANGUAGE C STRICT IMMUTABLE;

-- Internal to pipelines: the COPY statement that may take a snapshot's
-- rows into a table, or NULL when only write() would apply them exactly.
CREATE FUNCTION pgconduit._copy_target(p_table text, p_columns text[],
									   p_types text[], p_key text[])
RETURNS text
AS 'MODULE_PATHNAME', 'pgconduit_copy_target'
LANGUAGE C STRICT VOLATILE;

-- Internal to pipelines: the table a record goes to under a destination's
-- "table" (a fixed name, a template with {schema} and {table}, or NULL),
-- to report the table of a record the destination rejected.
CREATE FUNCTION pgconduit._target_table(p_table text, p_record jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'pgconduit_target_table'
LANGUAGE C STABLE;


-- ==== pipelines (issue 5): status, wait_for_pipeline, dead_letter go below ====

------------------------------------------------------------------------
-- Pipelines at run time
------------------------------------------------------------------------

-- Any change to a pipeline makes the launcher reconcile the workers of
-- this database when the transaction ends.
CREATE FUNCTION pgconduit._pipeline_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pgconduit_pipeline_trigger'
LANGUAGE C;

CREATE TRIGGER pipeline_changed
	AFTER INSERT OR UPDATE OR DELETE ON pgconduit.pipeline
	FOR EACH ROW EXECUTE FUNCTION pgconduit._pipeline_trigger();

-- A pipeline row inserted other than by the API, as by a restored dump,
-- comes in stopped: a second copy of a pipeline must not start by itself.
CREATE TRIGGER pipeline_restored
	BEFORE INSERT ON pgconduit.pipeline
	FOR EACH ROW EXECUTE FUNCTION pgconduit._pipeline_trigger();

CREATE FUNCTION pgconduit._stop_worker(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_stop_worker'
LANGUAGE C STRICT;

CREATE FUNCTION pgconduit._drop_source_objects(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_drop_source_objects'
LANGUAGE C STRICT;

CREATE FUNCTION pgconduit._drop_destination_progress(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgconduit_drop_destination_progress'
LANGUAGE C STRICT;

-- Only drop_pipeline(), which checks its caller, calls them.
REVOKE ALL ON FUNCTION pgconduit._pipeline_trigger(), pgconduit._stop_worker(text),
	pgconduit._drop_source_objects(text),
	pgconduit._drop_destination_progress(text) FROM PUBLIC;

-- Destination side: where each pipeline writing into this database stands.
-- Updated in the same transaction as the records it covers.
-- (created by 0.1, altered above)
COMMENT ON TABLE pgconduit.progress IS 'last position applied here by each pgconduit pipeline';

-- Destination side: records rejected by a pipeline with on_error = dead_letter.
-- (created by 0.1, altered above)
COMMENT ON TABLE pgconduit.dead_letter IS 'records a pgconduit pipeline could not apply, with the error';

SELECT pg_catalog.pg_extension_config_dump('pgconduit.progress', '');
SELECT pg_catalog.pg_extension_config_dump('pgconduit.dead_letter', '');
SELECT pg_catalog.pg_extension_config_dump('pgconduit.dead_letter_id_seq', '');
REVOKE ALL ON pgconduit.progress, pgconduit.dead_letter FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgconduit.progress, pgconduit.dead_letter
	TO pgconduit_admin;
GRANT USAGE ON SEQUENCE pgconduit.dead_letter_id_seq TO pgconduit_admin;

-- An admin reads and writes only the rows of its own pipelines (those its
-- role, or a role whose privileges it has, wrote): another admin could
-- otherwise move a pipeline's position past records it never applied, or
-- read the rows of tables it may not read in their dead letters.
ALTER TABLE pgconduit.progress ENABLE ROW LEVEL SECURITY;
ALTER TABLE pgconduit.dead_letter ENABLE ROW LEVEL SECURITY;
CREATE POLICY progress_writer ON pgconduit.progress TO pgconduit_admin
	USING (CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
							  WHERE r.oid OPERATOR(pg_catalog.=) writer::pg_catalog.oid)
				THEN pg_catalog.pg_has_role(writer::pg_catalog.oid, 'USAGE') END)
	WITH CHECK (pg_catalog.pg_has_role(writer::pg_catalog.oid, 'USAGE'));
CREATE POLICY dead_letter_writer ON pgconduit.dead_letter TO pgconduit_admin
	USING (CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
							  WHERE r.oid OPERATOR(pg_catalog.=) writer::pg_catalog.oid)
				THEN pg_catalog.pg_has_role(writer::pg_catalog.oid, 'USAGE') END)
	WITH CHECK (pg_catalog.pg_has_role(writer::pg_catalog.oid, 'USAGE'));

-- Destination side: each table of a pipeline of many tables ("tables"),
-- by its OID on the source: its state, and the cut of its snapshot (its
-- changes committed before it are in the snapshot).  A table's snapshot
-- rows and its row here are committed in one transaction, so a crash
-- redoes only the tables not committed yet.
CREATE TABLE pgconduit.progress_table (
	pipeline_id	text NOT NULL,
	source_relid oid NOT NULL,
	-- its name when the pipeline first saw it, the table its records go to
	source_table text NOT NULL,
	state		text NOT NULL
		CHECK (state IN ('snapshot', 'streaming', 'done', 'skipped', 'dropped')),
	cut			pg_lsn,
	snapshot_rows bigint NOT NULL DEFAULT 0,
	-- created (or matched) after the pipeline started
	late		boolean NOT NULL DEFAULT false,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	writer		regrole NOT NULL DEFAULT CURRENT_USER::regrole,
	PRIMARY KEY (pipeline_id, source_relid)
);
COMMENT ON TABLE pgconduit.progress_table IS 'state and snapshot cut of each source table of each pgconduit pipeline writing here';
SELECT pg_catalog.pg_extension_config_dump('pgconduit.progress_table', '');
REVOKE ALL ON pgconduit.progress_table FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgconduit.progress_table TO pgconduit_admin;
ALTER TABLE pgconduit.progress_table ENABLE ROW LEVEL SECURITY;
CREATE POLICY progress_table_writer ON pgconduit.progress_table TO pgconduit_admin
	USING (CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
							  WHERE r.oid OPERATOR(pg_catalog.=) writer::pg_catalog.oid)
				THEN pg_catalog.pg_has_role(writer::pg_catalog.oid, 'USAGE') END)
	WITH CHECK (pg_catalog.pg_has_role(writer::pg_catalog.oid, 'USAGE'));

-- Record a source table's state and cut (destination side); the name it
-- was first recorded under stays, and its snapshot's rows unless given.
CREATE FUNCTION pgconduit._set_progress_table(p_id text, p_relid oid, p_table text,
											  p_state text, p_cut pg_lsn,
											  p_rows bigint, p_late boolean)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO pgconduit.progress_table AS g
		(pipeline_id, source_relid, source_table, state, cut, snapshot_rows, late, updated_at)
	VALUES (p_id, p_relid, p_table, p_state, p_cut, coalesce(p_rows, 0), p_late, now())
	ON CONFLICT (pipeline_id, source_relid) DO UPDATE
		SET state = excluded.state, cut = excluded.cut,
			snapshot_rows = coalesce(p_rows, g.snapshot_rows),
			updated_at = excluded.updated_at;
END;
REVOKE ALL ON FUNCTION pgconduit._set_progress_table(text, oid, text, text, pg_lsn, bigint, boolean)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconduit._set_progress_table(text, oid, text, text, pg_lsn, bigint, boolean)
	TO pgconduit_admin;

-- Record a pipeline's phase and position (destination side).
CREATE FUNCTION pgconduit._set_progress(p_id text, p_pipeline text,
										p_phase text, p_position text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO pgconduit.progress AS g (pipeline_id, pipeline, phase, position, updated_at)
	VALUES (p_id, p_pipeline, p_phase, p_position, now())
	ON CONFLICT (pipeline_id) DO UPDATE
		SET phase = excluded.phase, position = excluded.position,
			updated_at = excluded.updated_at;
END;

-- Apply a batch of records for a pipeline (destination side), with its
-- progress, in the caller's transaction.  When the batch fails, records
-- are applied one by one to find the one the destination rejects: with
-- on_error = dead_letter it goes to pgconduit.dead_letter and the rest are
-- applied; with halt it is reported and nothing of the batch stays
-- applied, nor the progress, since the batch may hold part of the source
-- transaction of the rejected record (the worker then rolls back the
-- destination transaction the batch continued).  It runs with the
-- caller's search_path, which resolves the records' unqualified table
-- names as write() does.
CREATE FUNCTION pgconduit._apply_batch(p_id text, p_pipeline text, p_records jsonb,
									   p_table text, p_on_error text,
									   p_phase text, p_position text,
									   OUT applied bigint, OUT dead_letters bigint,
									   OUT failed_position text, OUT failed_table text,
									   OUT err_sqlstate text, OUT err_message text,
									   OUT err_detail text, OUT err_hint text)
LANGUAGE plpgsql
AS $$
DECLARE
	r		jsonb;
	v_last	text;
BEGIN
	applied := 0;
	dead_letters := 0;
	BEGIN
		applied := pgconduit._write(p_records, p_table);
		v_last := p_position;
	EXCEPTION WHEN OTHERS THEN
		applied := 0;
		BEGIN
			FOR r IN SELECT e.value FROM pg_catalog.jsonb_array_elements(p_records) e LOOP
				BEGIN
					applied := applied OPERATOR(pg_catalog.+) pgconduit._write(r, p_table);
					v_last := r OPERATOR(pg_catalog.->>) 'position';
				EXCEPTION WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS err_sqlstate = RETURNED_SQLSTATE,
						err_message = MESSAGE_TEXT, err_detail = PG_EXCEPTION_DETAIL,
						err_hint = PG_EXCEPTION_HINT;
					IF p_on_error OPERATOR(pg_catalog.=) 'dead_letter' THEN
						INSERT INTO pgconduit.dead_letter
							(pipeline, position, record, sqlstate, message, detail, hint)
						VALUES (p_pipeline, r OPERATOR(pg_catalog.->>) 'position', r, err_sqlstate, err_message,
								CASE WHEN err_detail OPERATOR(pg_catalog.<>) '' THEN err_detail END,
								CASE WHEN err_hint OPERATOR(pg_catalog.<>) '' THEN err_hint END);
						dead_letters := dead_letters OPERATOR(pg_catalog.+) 1;
						v_last := r OPERATOR(pg_catalog.->>) 'position';
					ELSE
						failed_position := r OPERATOR(pg_catalog.->>) 'position';
						failed_table := pgconduit._target_table(p_table, r);
						EXIT;
					END IF;
				END;
			END LOOP;
			-- halted: undo the records applied before the rejected one
			IF failed_position IS NOT NULL THEN
				RAISE SQLSTATE 'PGCHL';
			END IF;
		EXCEPTION WHEN SQLSTATE 'PGCHL' THEN
			applied := 0;
			v_last := NULL;
		END;
		IF failed_position IS NULL THEN
			err_sqlstate := NULL;
			err_message := NULL;
			err_detail := NULL;
			err_hint := NULL;
		END IF;
	END;
	IF v_last IS NOT NULL THEN
		PERFORM pgconduit._set_progress(p_id, p_pipeline, p_phase, v_last);
	END IF;
END
$$;

-- Internal: the worker's, through a pgconduit_admin role on the destination.
-- _write_rows() and _write_at() stay PUBLIC's: write(), which runs with its
-- caller's privileges, calls them; outside a write() they return nothing.
REVOKE ALL ON FUNCTION pgconduit._write(jsonb, text), pgconduit._jsonb_to_bytes(jsonb),
	pgconduit._jsonb_parse(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconduit._write(jsonb, text) TO pgconduit_admin;
REVOKE ALL ON FUNCTION pgconduit._set_progress(text, text, text, text),
	pgconduit._apply_batch(text, text, jsonb, text, text, text, text),
	pgconduit._copy_target(text, text[], text[], text[]),
	pgconduit._target_table(text, jsonb),
	pgconduit._jsonb_from_bytes(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconduit._set_progress(text, text, text, text),
	pgconduit._apply_batch(text, text, jsonb, text, text, text, text),
	pgconduit._copy_target(text, text[], text[], text[]),
	pgconduit._target_table(text, jsonb),
	pgconduit._jsonb_from_bytes(bytea) TO pgconduit_admin;

-- The shared-memory status of this database's pipelines.
CREATE FUNCTION pgconduit._status(
	OUT name text, OUT state text, OUT phase text,
	OUT snapshot_rows_done bigint, OUT snapshot_rows_total bigint,
	OUT received_position text, OUT applied_position text,
	OUT received_lsn pg_lsn, OUT applied_lsn pg_lsn, OUT source_lsn pg_lsn,
	OUT lag_bytes bigint, OUT lag_seconds double precision,
	OUT retained_bytes bigint,
	OUT records_read bigint, OUT records_written bigint,
	OUT errors bigint, OUT dead_letters bigint,
	OUT last_error text, OUT last_error_at timestamptz,
	OUT error_position text, OUT error_table text,
	OUT pid integer, OUT slot_name text, OUT started_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgconduit_status'
LANGUAGE C;

-- One row per pipeline: what its worker is doing, or why it is not running.
-- The columns are described in README.md (Monitoring).
CREATE VIEW pgconduit.status AS
SELECT p.name AS pipeline,
	   CASE WHEN s.name IS NOT NULL THEN s.state
			WHEN NOT p.enabled THEN 'stopped'
			ELSE 'waiting' END AS state,
	   s.phase,
	   coalesce(s.snapshot_rows_done, 0) AS snapshot_rows_done,
	   coalesce(s.snapshot_rows_total, 0) AS snapshot_rows_total,
	   s.received_position, s.applied_position,
	   s.received_lsn, s.applied_lsn, s.source_lsn,
	   s.lag_bytes, s.lag_seconds, s.retained_bytes,
	   coalesce(s.records_read, 0) AS records_read,
	   coalesce(s.records_written, 0) AS records_written,
	   coalesce(s.errors, 0) AS errors,
	   coalesce(s.dead_letters, 0) AS dead_letters,
	   s.last_error, s.last_error_at, s.error_position, s.error_table,
	   s.pid, coalesce(s.slot_name, src.config->>'slot_name') AS slot_name,
	   s.started_at
  FROM pgconduit.pipeline p
  JOIN pgconduit.connector src ON src.name = p.source
  LEFT JOIN pgconduit._status() s ON s.name = p.name;

REVOKE ALL ON FUNCTION pgconduit._status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconduit._status() TO pgconduit_admin;
REVOKE ALL ON pgconduit.status FROM PUBLIC;
GRANT SELECT ON pgconduit.status TO pgconduit_admin;

-- The shared-memory status of each table of this database's pipelines.
CREATE FUNCTION pgconduit._status_tables(
	OUT name text, OUT source_relid oid, OUT source_table text, OUT state text,
	OUT snapshot_rows_done bigint, OUT snapshot_rows_total bigint,
	OUT rows_written bigint, OUT last_applied_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgconduit_status_tables'
LANGUAGE C;

-- One row per table of each pipeline whose worker has run since the server
-- started.  The columns are described in README.md (Monitoring).
CREATE VIEW pgconduit.status_tables AS
SELECT p.name AS pipeline, s.source_relid, s.source_table, s.state,
	   s.snapshot_rows_done, s.snapshot_rows_total, s.rows_written,
	   s.last_applied_at
  FROM pgconduit.pipeline p
  JOIN pgconduit.connector src ON src.name = p.source
  JOIN pgconduit._status_tables() s ON s.name = p.name;

REVOKE ALL ON FUNCTION pgconduit._status_tables() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconduit._status_tables() TO pgconduit_admin;
REVOKE ALL ON pgconduit.status_tables FROM PUBLIC;
GRANT SELECT ON pgconduit.status_tables TO pgconduit_admin;

CREATE FUNCTION pgconduit.wait_for_pipeline(name text, timeout interval DEFAULT '1 min')
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgconduit_wait_for_pipeline'
LANGUAGE C STRICT;
COMMENT ON FUNCTION pgconduit.wait_for_pipeline(text, interval) IS 'wait until a pipeline has applied its snapshot and every source change committed before the call';

-- Pipelines that waited for this update (the 0.2 library runs none under a
-- 0.1 catalog) start again: the launcher rescans a database whose
-- pipelines change.
UPDATE pgconduit.pipeline SET enabled = enabled;
