-- pgconduit.status_tables: one row per table of each pipeline
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE ts_src (id int PRIMARY KEY, v text);
CREATE TABLE ts_dst (id int PRIMARY KEY, v text CHECK (v IS DISTINCT FROM 'bad'));
INSERT INTO ts_src SELECT g, 'row ' || g FROM generate_series(1, 300) g;

SELECT pgconduit.create_source('ts_s', jsonb_build_object('table', 'ts_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('ts_d', jsonb_build_object('table', 'ts_dst',
	'url', 'dbname=' || current_database(), 'batch_size', 16,
	'on_error', 'dead_letter'));
SELECT pgconduit.create_pipeline('ts', 'ts_s', 'ts_d');

-- the snapshot: its rows count once committed, and the table streams
SELECT pgconduit.wait_for_pipeline('ts');
SELECT pipeline, source_relid = 'ts_src'::regclass AS relid_ok, source_table, state,
	   snapshot_rows_done, snapshot_rows_total >= 0 AS has_total, rows_written,
	   last_applied_at IS NOT NULL AS applied
  FROM pgconduit.status_tables;

-- changes count when the destination has applied them
INSERT INTO ts_src SELECT g, 'new' FROM generate_series(301, 340) g;
UPDATE ts_src SET v = 'changed' WHERE id <= 10;
DELETE FROM ts_src WHERE id > 330;
SELECT pgconduit.wait_for_pipeline('ts');
SELECT state, rows_written FROM pgconduit.status_tables WHERE pipeline = 'ts';

-- a record the destination rejects goes to the dead letters, not written
INSERT INTO ts_src VALUES (1000, 'bad'), (1001, 'fine');
SELECT pgconduit.wait_for_pipeline('ts');
SELECT count(*) AS dead FROM pgconduit.dead_letter WHERE pipeline = 'ts';
SELECT state, rows_written FROM pgconduit.status_tables WHERE pipeline = 'ts';
SELECT rows_written = records_written AS same_as_status
  FROM pgconduit.status_tables JOIN pgconduit.status USING (pipeline)
 WHERE pipeline = 'ts';

-- renamed, the table keeps the name the pipeline knows it by
ALTER TABLE ts_src RENAME TO ts_src_renamed;
INSERT INTO ts_src_renamed VALUES (2000, 'renamed');
SELECT pgconduit.wait_for_pipeline('ts');
SELECT source_table, rows_written FROM pgconduit.status_tables WHERE pipeline = 'ts';

-- a restarted worker keeps the counts of its tables
SELECT pgconduit.stop_pipeline('ts');
SELECT pgconduit.start_pipeline('ts');
INSERT INTO ts_src_renamed VALUES (2001, 'after restart');
SELECT pgconduit.wait_for_pipeline('ts');
SELECT state, snapshot_rows_done, rows_written FROM pgconduit.status_tables WHERE pipeline = 'ts';

-- without a snapshot the table streams at once
CREATE TABLE ts_src2 (id int PRIMARY KEY);
CREATE TABLE ts_dst2 (id int PRIMARY KEY);
INSERT INTO ts_src2 SELECT generate_series(1, 5);
SELECT pgconduit.create_source('ts_s2', jsonb_build_object('table', 'ts_src2',
	'url', 'dbname=' || current_database(), 'snapshot', false));
SELECT pgconduit.create_destination('ts_d2', jsonb_build_object('table', 'ts_dst2',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('ts2', 'ts_s2', 'ts_d2');
SELECT pgconduit.wait_for_pipeline('ts2');
INSERT INTO ts_src2 VALUES (6);
SELECT pgconduit.wait_for_pipeline('ts2');
SELECT pipeline, source_table, state, snapshot_rows_done, snapshot_rows_total, rows_written
  FROM pgconduit.status_tables ORDER BY pipeline;

-- admins see it, as they see pgconduit.status; other roles do not
CREATE ROLE ts_nobody;
SET ROLE ts_nobody;
SELECT count(*) FROM pgconduit.status_tables;
RESET ROLE;
CREATE ROLE ts_other_admin IN ROLE pgconduit_admin;
SET ROLE ts_other_admin;
SELECT count(*) FROM pgconduit.status_tables;
RESET ROLE;

-- a dropped pipeline leaves no row
SELECT pgconduit.drop_pipeline('ts2');
SELECT pipeline FROM pgconduit.status_tables ORDER BY pipeline;

-- clean up
SELECT pgconduit.drop_pipeline('ts');
SELECT pgconduit.drop_connector('ts_s');
SELECT pgconduit.drop_connector('ts_d');
SELECT pgconduit.drop_connector('ts_s2');
SELECT pgconduit.drop_connector('ts_d2');
DELETE FROM pgconduit.dead_letter WHERE pipeline = 'ts';
DROP TABLE ts_src_renamed, ts_dst, ts_src2, ts_dst2;
DROP ROLE ts_nobody, ts_other_admin;
