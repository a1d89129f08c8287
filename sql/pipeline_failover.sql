-- Source "failover": the pipeline's slot is created as a failover slot,
-- which standbys keep in sync so that it survives a promotion.  Only
-- PostgreSQL 17 and later have them: on an older source the pipeline fails
-- and says so (expected/pipeline_failover_1.out).
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- wait until the pipeline has failed (at most 30 s), then show why
CREATE FUNCTION pf_failure(p text) RETURNS TABLE (state text, last_error text)
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pgconduit.status s
						   WHERE s.pipeline = p AND s.errors > 0);
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN QUERY SELECT s.state, s.last_error FROM pgconduit.status s WHERE s.pipeline = p;
END
$$;

CREATE TABLE pf_a (id int PRIMARY KEY, v text);
CREATE TABLE pf_b (LIKE pf_a INCLUDING ALL);
INSERT INTO pf_a SELECT g, 'v' || g FROM generate_series(1, 10) g;

-- bad values are refused and store nothing
SELECT pgconduit.create_source('pf_bad', jsonb_build_object('table', 'pf_a',
	'url', 'dbname=' || current_database(), 'failover', 'sometimes'));
SELECT pgconduit.create_source('pf_bad', jsonb_build_object('table', 'pf_a',
	'url', 'dbname=' || current_database(), 'failover', true, 'cdc', false));
SELECT count(*) AS stored FROM pgconduit.connectors WHERE name = 'pf_bad';

-- a pipeline whose source asks for a failover slot
SELECT pgconduit.create_source('pf_src', jsonb_build_object('table', 'pf_a',
	'url', 'dbname=' || current_database(), 'failover', true));
SELECT pgconduit.create_destination('pf_dst', jsonb_build_object('table', 'pf_b',
	'url', 'dbname=' || current_database()));
SELECT current_setting('server_version_num')::int >= 170000 AS failover_slots \gset
\if :failover_slots
SELECT pgconduit.create_pipeline('pf', 'pf_src', 'pf_dst');
SELECT pgconduit.wait_for_pipeline('pf');
INSERT INTO pf_a VALUES (11, 'after the snapshot');
SELECT pgconduit.wait_for_pipeline('pf');
SELECT count(*) AS rows, max(v) FILTER (WHERE id = 11) AS new_row FROM pf_b;
SELECT slot_name, plugin, failover FROM pg_replication_slots WHERE slot_name = 'pgconduit_pf_src';
SELECT pgconduit.drop_pipeline('pf');
-- a slot that exists without failover is not taken for one that has it
SELECT 'made' FROM pg_create_logical_replication_slot('pf_plain', 'pgconduit_output');
SELECT pgconduit.create_source('pf_src2', jsonb_build_object('table', 'pf_a',
	'url', 'dbname=' || current_database(), 'failover', true, 'slot_name', 'pf_plain',
	'snapshot', false));
SELECT pgconduit.create_pipeline('pf2', 'pf_src2', 'pf_dst');
SELECT * FROM pf_failure('pf2');
SELECT failover FROM pg_replication_slots WHERE slot_name = 'pf_plain';
SELECT pgconduit.drop_pipeline('pf2', drop_slot => false);
SELECT pg_drop_replication_slot('pf_plain');
SELECT pgconduit.drop_connector('pf_src2');
\else
-- the same pipeline on PostgreSQL 15: failed, and no slot made
SELECT pgconduit.create_pipeline('pf', 'pf_src', 'pf_dst');
SELECT * FROM pf_failure('pf');
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'pgconduit_pf_src';
SELECT pgconduit.drop_pipeline('pf');
\endif
SELECT pgconduit.drop_connector('pf_src'), pgconduit.drop_connector('pf_dst');
SELECT count(*) AS leftover_slots FROM pg_replication_slots WHERE slot_name LIKE 'pgconduit_pf%';
