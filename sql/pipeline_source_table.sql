-- Pipelines follow their source table: its own rows only (not those of its
-- inheritance children), by OID through renames, and loudly not at all
-- once it is dropped or replaced; a table whose replica identity would
-- break the application's writes or lose a changed key is refused before
-- anything is published
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- wait until the pipeline has failed with an error like pattern (at most
-- 30 s), then show it
CREATE FUNCTION st_failure(p text, pattern text) RETURNS TABLE (state text, last_error text)
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pgconduit.status s
						   WHERE s.pipeline = p AND s.state = 'failed'
							 AND s.last_error LIKE pattern);
		PERFORM pg_sleep(0.01);
	END LOOP;
	-- OIDs differ from run to run
	RETURN QUERY SELECT s.state, regexp_replace(s.last_error, 'OID [0-9]+', 'OID n', 'g')
				   FROM pgconduit.status s WHERE s.pipeline = p;
END
$$;

-- wait until a stopped pipeline's worker is gone
CREATE FUNCTION st_stopped(p text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity
							   WHERE backend_type = 'pgconduit pipeline ' || p);
		PERFORM pg_sleep(0.01);
	END LOOP;
END
$$;

-- inheritance: the parent's own rows, in the snapshot and in CDC, as
-- native logical replication copies and publishes each table on its own
CREATE TABLE st_parent (id int PRIMARY KEY, v text);
CREATE TABLE st_child (extra int) INHERITS (st_parent);
INSERT INTO st_parent VALUES (1, 'parent');
INSERT INTO st_child VALUES (2, 'child', 0);
CREATE TABLE st_dst (id int PRIMARY KEY, v text);
SELECT pgconduit.create_source('st_s', jsonb_build_object('table', 'st_parent',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('st_d', jsonb_build_object('table', 'st_dst',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('st', 'st_s', 'st_d');
SELECT pgconduit.wait_for_pipeline('st');
SELECT * FROM st_dst ORDER BY id;
-- the child, without a replica identity, can still be updated: the
-- publication leaves it out
INSERT INTO st_parent VALUES (3, 'parent');
INSERT INTO st_child VALUES (4, 'child', 0);
UPDATE st_parent SET v = v || ' updated';
DELETE FROM st_parent WHERE id = 4;
SELECT pgconduit.wait_for_pipeline('st');
SELECT * FROM st_dst ORDER BY id;
SELECT tablename FROM pg_publication_tables WHERE pubname = 'pgconduit_st_s';

-- a rename is followed, and records still go to the same table
ALTER TABLE st_parent RENAME TO st_renamed;
INSERT INTO st_renamed VALUES (5, 'after rename');
UPDATE st_renamed SET v = 'renamed' WHERE id = 1;
SELECT pgconduit.wait_for_pipeline('st');
SELECT * FROM st_dst ORDER BY id;
-- also across a restart of the worker
SELECT pgconduit.stop_pipeline('st');
SELECT st_stopped('st');
INSERT INTO st_renamed VALUES (6, 'while stopped');
CREATE SCHEMA st_other;
ALTER TABLE st_renamed SET SCHEMA st_other;
SELECT pgconduit.start_pipeline('st');
SELECT pgconduit.wait_for_pipeline('st');
INSERT INTO st_other.st_renamed VALUES (7, 'in another schema');
SELECT pgconduit.wait_for_pipeline('st');
SELECT * FROM st_dst ORDER BY id;
ALTER TABLE st_other.st_renamed SET SCHEMA public;
ALTER TABLE st_renamed RENAME TO st_parent;

-- replaced by a new table of the same name while the worker was stopped:
-- the new table's rows were never read, so the pipeline fails on start
SELECT pgconduit.stop_pipeline('st');
SELECT st_stopped('st');
ALTER TABLE st_parent RENAME TO st_old;
CREATE TABLE st_parent (id int PRIMARY KEY, v text);
INSERT INTO st_parent VALUES (100, 'new table');
SELECT pgconduit.start_pipeline('st');
SELECT * FROM st_failure('st', '%is no longer the table%');
-- with the old one back under its name, it goes on
DROP TABLE st_parent;
ALTER TABLE st_old RENAME TO st_parent;
SELECT pgconduit.start_pipeline('st');
SELECT pgconduit.wait_for_pipeline('st');
INSERT INTO st_parent VALUES (8, 'back');
SELECT pgconduit.wait_for_pipeline('st');
SELECT * FROM st_dst ORDER BY id;

-- replaced while the pipeline runs: failed, nothing of the new table read
ALTER TABLE st_parent RENAME TO st_old;
CREATE TABLE st_parent (id int PRIMARY KEY, v text);
INSERT INTO st_parent VALUES (101, 'new table');
SELECT * FROM st_failure('st', '%is no longer the table%');
DROP TABLE st_parent;
ALTER TABLE st_old RENAME TO st_parent;
SELECT pgconduit.start_pipeline('st');
SELECT pgconduit.wait_for_pipeline('st');

-- dropped while the pipeline runs: failed, and it stays so
DROP TABLE st_parent CASCADE;
SELECT * FROM st_failure('st', '%was dropped%');
CREATE TABLE st_parent (id int PRIMARY KEY, v text);
SELECT pgconduit.start_pipeline('st');
SELECT * FROM st_failure('st', '%was dropped%');
SELECT * FROM st_dst ORDER BY id;
SELECT pgconduit.drop_pipeline('st');
SELECT pgconduit.drop_connector('st_s');
DROP TABLE st_parent;

-- a unique index but no primary key, and "key" naming its column: a
-- publication would make UPDATE and DELETE on the table fail
CREATE TABLE st_ui (a int NOT NULL, b text);
CREATE UNIQUE INDEX st_ui_a ON st_ui (a);
INSERT INTO st_ui VALUES (1, 'one'), (2, 'two'), (3, 'three');
CREATE TABLE st_ui_dst (a int PRIMARY KEY, b text);
SELECT pgconduit.create_source('st_ui_s', jsonb_build_object('table', 'st_ui',
	'url', 'dbname=' || current_database(), 'key', 'a'));
SELECT pgconduit.create_destination('st_ui_d', jsonb_build_object('table', 'st_ui_dst',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('st_ui', 'st_ui_s', 'st_ui_d');
SELECT * FROM st_failure('st_ui', '%replica identity%');
-- nothing was published, so the application's writes work
UPDATE st_ui SET b = 'one updated' WHERE a = 1;
DELETE FROM st_ui WHERE a = 3;
SELECT count(*) AS publications FROM pg_publication WHERE pubname = 'pgconduit_st_ui_s';
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'pgconduit_st_ui_s';
-- as the hint says
ALTER TABLE st_ui REPLICA IDENTITY USING INDEX st_ui_a;
SELECT pgconduit.start_pipeline('st_ui');
SELECT pgconduit.wait_for_pipeline('st_ui');
UPDATE st_ui SET a = 10 WHERE a = 1;
DELETE FROM st_ui WHERE a = 2;
SELECT pgconduit.wait_for_pipeline('st_ui');
SELECT * FROM st_ui_dst ORDER BY a;
-- the identity taken away while the pipeline runs: failed
ALTER TABLE st_ui REPLICA IDENTITY NOTHING;
SELECT * FROM st_failure('st_ui', '%has no replica identity%');
SELECT pgconduit.drop_pipeline('st_ui');

-- a replica identity that leaves out a key column: an update of the key
-- would not carry the old key
CREATE TABLE st_ri (id int PRIMARY KEY, code int NOT NULL UNIQUE, v text);
SELECT pgconduit.alter_connector('st_ui_s', jsonb_build_object('table', 'st_ri',
	'url', 'dbname=' || current_database(), 'key', 'code'));
SELECT pgconduit.create_pipeline('st_ri', 'st_ui_s', 'st_ui_d');
SELECT * FROM st_failure('st_ri', '%replica identity%');
SELECT pgconduit.drop_pipeline('st_ri');
-- no unique index to offer: the hint says what would do
CREATE TABLE st_none (a int, b text);
SELECT pgconduit.alter_connector('st_ui_s', jsonb_build_object('table', 'st_none',
	'url', 'dbname=' || current_database(), 'key', 'a'));
SELECT pgconduit.create_pipeline('st_none', 'st_ui_s', 'st_ui_d');
SELECT * FROM st_failure('st_none', '%replica identity%');
SELECT pgconduit.drop_pipeline('st_none');
-- the identity checked for snapshot-only pipelines: not needed, not asked
SELECT pgconduit.alter_connector('st_ui_s', jsonb_build_object('table', 'st_none',
	'url', 'dbname=' || current_database(), 'key', 'a', 'cdc', false));
INSERT INTO st_none VALUES (42, 'x');
SELECT pgconduit.create_pipeline('st_none', 'st_ui_s', 'st_ui_d');
SELECT pgconduit.wait_for_pipeline('st_none');
SELECT * FROM st_ui_dst WHERE a = 42;
SELECT pgconduit.drop_pipeline('st_none');

-- an existing publication that leaves out updates: they would be lost
CREATE PUBLICATION st_pub FOR TABLE st_ri WITH (publish = 'insert');
SELECT pgconduit.alter_connector('st_ui_s', jsonb_build_object('table', 'st_ri',
	'url', 'dbname=' || current_database(), 'publication_name', 'st_pub'));
SELECT pgconduit.create_pipeline('st_pub', 'st_ui_s', 'st_ui_d');
SELECT * FROM st_failure('st_pub', '%every kind of change%');
SELECT pgconduit.drop_pipeline('st_pub');

SELECT pgconduit.drop_connector('st_ui_s');
SELECT pgconduit.drop_connector('st_ui_d');
SELECT pgconduit.drop_connector('st_d');
DROP PUBLICATION st_pub;
DROP TABLE st_ui, st_ui_dst, st_ri, st_none, st_dst;
DROP SCHEMA st_other;
DROP FUNCTION st_failure(text, text);
DROP FUNCTION st_stopped(text);
