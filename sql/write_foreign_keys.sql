-- Foreign keys between replicated tables at the destination: pipelines
-- apply with session_replication_role = replica, as native logical
-- replication does, where the destination role may set it
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- wait until the pipeline has failed (at most 30 s), then show why
CREATE FUNCTION wfk_failure(p text) RETURNS TABLE (state text, last_error text)
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pgconduit.status s
						   WHERE s.pipeline = p AND s.errors > 0);
		PERFORM pg_sleep(0.01);
	END LOOP;
	-- positions hold LSNs, which differ from run to run
	RETURN QUERY SELECT s.state, regexp_replace(s.last_error, '[0-9A-F]{16}/[0-9A-F]{16}', 'POSITION')
				   FROM pgconduit.status s WHERE s.pipeline = p;
END
$$;

-- the destination's role: an admin with rights on the tables only
CREATE ROLE wfk_dest LOGIN;
GRANT pgconduit_admin TO wfk_dest;

-- a tree whose foreign key the source checks at commit: children may come
-- before their parent, in the table and in a transaction
CREATE TABLE wfk_tree (id int PRIMARY KEY, up int REFERENCES wfk_tree DEFERRABLE INITIALLY DEFERRED, v text);
BEGIN;
INSERT INTO wfk_tree VALUES (1, 3, 'child'), (2, 3, 'child'), (3, NULL, 'root');
COMMIT;
-- the destination checks the same foreign key at once
CREATE TABLE wfk_tree_d (id int PRIMARY KEY, up int REFERENCES wfk_tree_d ON DELETE CASCADE, v text);
-- a row of its own, so that the snapshot goes by records, in batches
INSERT INTO wfk_tree_d VALUES (100, NULL, 'the destination''s own');
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON wfk_tree_d TO wfk_dest;
SELECT pgconduit.create_source('wfk_tree_s', jsonb_build_object('table', 'wfk_tree',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('wfk_tree_d', jsonb_build_object('table', 'wfk_tree_d',
	'url', 'dbname=' || current_database() || ' user=wfk_dest', 'batch_size', 1));

-- a role that may not set session_replication_role: the destination
-- checks foreign keys as rows arrive, the snapshot's first row fails, and
-- the error says what to grant
SELECT pgconduit.create_pipeline('wfk_tree', 'wfk_tree_s', 'wfk_tree_d');
SELECT * FROM wfk_failure('wfk_tree');
SELECT * FROM wfk_tree_d ORDER BY id;

-- granted the parameter, it applies as native replication does
GRANT SET ON PARAMETER session_replication_role TO wfk_dest;
SELECT pgconduit.start_pipeline('wfk_tree');
SELECT pgconduit.wait_for_pipeline('wfk_tree');
SELECT * FROM wfk_tree_d ORDER BY id;

-- changes in the source's order: a parent deleted before its children in
-- one transaction, a child inserted before its parent, a row its own
-- parent, a cycle; ON DELETE CASCADE of the destination does not run, so
-- a child only the destination has stays
INSERT INTO wfk_tree_d VALUES (101, 3, 'the destination''s own child');
BEGIN;
DELETE FROM wfk_tree WHERE id = 3;
DELETE FROM wfk_tree WHERE id IN (1, 2);
INSERT INTO wfk_tree VALUES (11, 10, 'child before parent');
INSERT INTO wfk_tree VALUES (10, NULL, 'parent');
INSERT INTO wfk_tree VALUES (12, 12, 'its own parent');
COMMIT;
UPDATE wfk_tree SET up = 11 WHERE id = 10;
SELECT pgconduit.wait_for_pipeline('wfk_tree');
SELECT * FROM wfk_tree_d ORDER BY id;
SELECT (SELECT array_agg(id ORDER BY id) FROM wfk_tree) AS source,
	   (SELECT array_agg(id ORDER BY id) FROM wfk_tree_d WHERE id < 100) AS destination;

-- triggers fire as in native replication: those enabled REPLICA or ALWAYS
CREATE TABLE wfk_log (what text);
GRANT INSERT ON wfk_log TO wfk_dest;
CREATE FUNCTION wfk_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.wfk_log VALUES (TG_NAME || ' ' || NEW.id);
	RETURN NEW;
END
$$;
CREATE TRIGGER by_default AFTER INSERT ON wfk_tree_d FOR EACH ROW EXECUTE FUNCTION wfk_log();
CREATE TRIGGER always AFTER INSERT ON wfk_tree_d FOR EACH ROW EXECUTE FUNCTION wfk_log();
CREATE TRIGGER replica AFTER INSERT ON wfk_tree_d FOR EACH ROW EXECUTE FUNCTION wfk_log();
ALTER TABLE wfk_tree_d ENABLE ALWAYS TRIGGER always;
ALTER TABLE wfk_tree_d ENABLE REPLICA TRIGGER replica;
INSERT INTO wfk_tree VALUES (20, NULL, 'logged');
SELECT pgconduit.wait_for_pipeline('wfk_tree');
SELECT * FROM wfk_log ORDER BY what;
SELECT pgconduit.drop_pipeline('wfk_tree');

-- parent and child in pipelines of their own: the child's rows may come
-- first, here while the parent's pipeline is stopped
CREATE TABLE wfk_parent (id int PRIMARY KEY, v text);
CREATE TABLE wfk_child (id int PRIMARY KEY, parent int NOT NULL REFERENCES wfk_parent ON DELETE CASCADE);
INSERT INTO wfk_parent VALUES (1, 'one');
INSERT INTO wfk_child VALUES (1, 1);
CREATE SCHEMA wfk_dst;
CREATE TABLE wfk_dst.wfk_parent (id int PRIMARY KEY, v text);
CREATE TABLE wfk_dst.wfk_child (id int PRIMARY KEY, parent int NOT NULL REFERENCES wfk_dst.wfk_parent);
GRANT USAGE ON SCHEMA wfk_dst TO wfk_dest;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON wfk_dst.wfk_parent, wfk_dst.wfk_child TO wfk_dest;
SELECT pgconduit.create_destination('wfk_dst', jsonb_build_object('table', 'wfk_dst.{table}',
	'url', 'dbname=' || current_database() || ' user=wfk_dest'));
SELECT pgconduit.create_source('wfk_parent_s', jsonb_build_object('table', 'wfk_parent',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_source('wfk_child_s', jsonb_build_object('table', 'wfk_child',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('wfk_parent', 'wfk_parent_s', 'wfk_dst');
SELECT pgconduit.create_pipeline('wfk_child', 'wfk_child_s', 'wfk_dst', false);
SELECT pgconduit.wait_for_pipeline('wfk_parent');
SELECT pgconduit.stop_pipeline('wfk_parent');
SELECT pgconduit.start_pipeline('wfk_child');
SELECT pgconduit.wait_for_pipeline('wfk_child');
BEGIN;
INSERT INTO wfk_parent VALUES (2, 'two');
INSERT INTO wfk_child VALUES (2, 2), (3, 2);
DELETE FROM wfk_parent WHERE id = 1;
COMMIT;
SELECT pgconduit.wait_for_pipeline('wfk_child');
SELECT * FROM wfk_dst.wfk_child ORDER BY id;
SELECT pgconduit.start_pipeline('wfk_parent');
SELECT pgconduit.wait_for_pipeline('wfk_parent');
SELECT * FROM wfk_dst.wfk_parent ORDER BY id;
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline LIKE 'wfk%' ORDER BY 1;
SELECT pgconduit.drop_pipeline('wfk_parent');
SELECT pgconduit.drop_pipeline('wfk_child');

-- a truncate of tables that reference each other: their truncate records
-- come one after the other, and are applied as one TRUNCATE
SELECT pgconduit.write('[
	{"operation": "truncate", "metadata": {"table": "wfk_dst.wfk_child"}},
	{"operation": "truncate", "metadata": {"table": "wfk_dst.wfk_parent"}}]');
SELECT (SELECT count(*) FROM wfk_dst.wfk_parent) AS parents, (SELECT count(*) FROM wfk_dst.wfk_child) AS children;
-- the parent alone cannot be truncated, as TRUNCATE refuses it
SELECT pgconduit.write('{"operation": "truncate", "metadata": {"table": "wfk_dst.wfk_parent"}}');
-- records between them apply in order: the truncate before goes first
INSERT INTO wfk_dst.wfk_parent VALUES (1, 'one');
SELECT pgconduit.write('[
	{"operation": "truncate", "metadata": {"table": "wfk_dst.wfk_child"}},
	{"operation": "create", "metadata": {"table": "wfk_dst.wfk_child"}, "key": {"id": 5}, "payload": {"after": {"parent": 1}}},
	{"operation": "truncate", "metadata": {"table": "wfk_dst.wfk_child"}},
	{"operation": "truncate", "metadata": {"table": "wfk_dst.wfk_parent"}}]');
SELECT (SELECT count(*) FROM wfk_dst.wfk_parent) AS parents, (SELECT count(*) FROM wfk_dst.wfk_child) AS children;

SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['wfk_tree_s', 'wfk_tree_d', 'wfk_dst',
	'wfk_parent_s', 'wfk_child_s']) c;
DROP SCHEMA wfk_dst CASCADE;
DROP TABLE wfk_tree, wfk_tree_d, wfk_log, wfk_child, wfk_parent;
DROP FUNCTION wfk_failure(text), wfk_log();
DELETE FROM pgconduit.progress WHERE pipeline LIKE 'wfk%';
REVOKE SET ON PARAMETER session_replication_role FROM wfk_dest;
REVOKE pgconduit_admin FROM wfk_dest;
DROP ROLE wfk_dest;
