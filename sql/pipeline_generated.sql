-- Generated columns are left out of records and computed by the
-- destination: stored ones on every version, and on PostgreSQL 18 virtual
-- ones (the default there), whose values are not in the WAL at all.  The
-- column "virt" is virtual on 18 and stored before, so one expected output
-- serves every version.
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE gc_src (id int PRIMARY KEY, a int, twice int GENERATED ALWAYS AS (a * 2) STORED);
CREATE TABLE gc_dst (id int PRIMARY KEY, a int, twice int GENERATED ALWAYS AS (a * 2) STORED);
DO $$
BEGIN
	IF current_setting('server_version_num')::int >= 180000 THEN
		EXECUTE 'ALTER TABLE gc_src ADD COLUMN virt int GENERATED ALWAYS AS (a * 3) VIRTUAL';
		EXECUTE 'ALTER TABLE gc_dst ADD COLUMN virt int GENERATED ALWAYS AS (a * 3) VIRTUAL';
	ELSE
		EXECUTE 'ALTER TABLE gc_src ADD COLUMN virt int GENERATED ALWAYS AS (a * 3) STORED';
		EXECUTE 'ALTER TABLE gc_dst ADD COLUMN virt int GENERATED ALWAYS AS (a * 3) STORED';
	END IF;
END
$$;
INSERT INTO gc_src (id, a) SELECT g, g FROM generate_series(1, 5) g;

-- the records carry neither generated column
SELECT 'init' FROM pg_create_logical_replication_slot('gc_slot', 'pgconduit_output');
INSERT INTO gc_src (id, a) VALUES (6, 6);
UPDATE gc_src SET a = a + 10 WHERE id = 1;
DELETE FROM gc_src WHERE id = 2;
SELECT data::jsonb -> 'operation' AS op, data::jsonb -> 'key' AS key, data::jsonb -> 'payload' AS payload
  FROM pg_logical_slot_get_changes('gc_slot', NULL, NULL, 'tables', 'gc_src');
SELECT pg_drop_replication_slot('gc_slot');

-- a pipeline: snapshot and changes; the destination computes both columns
SELECT pgconduit.create_source('gc_s', jsonb_build_object('table', 'gc_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('gc_d', jsonb_build_object('table', 'gc_dst',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('gc', 'gc_s', 'gc_d');
SELECT pgconduit.wait_for_pipeline('gc');
INSERT INTO gc_src (id, a) VALUES (7, 7);
UPDATE gc_src SET a = a + 100 WHERE id = 3;
SELECT pgconduit.wait_for_pipeline('gc');
SELECT * FROM gc_dst ORDER BY id;
SELECT (SELECT count(*) FROM ((TABLE gc_src EXCEPT TABLE gc_dst) UNION ALL (TABLE gc_dst EXCEPT TABLE gc_src)) d) AS rows_differing;
SELECT pgconduit.drop_pipeline('gc');
SELECT pgconduit.drop_connector('gc_s'), pgconduit.drop_connector('gc_d');
