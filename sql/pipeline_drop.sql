-- drop_pipeline removes what the pipeline left behind: its slot and
-- publication on the source, and its progress row in the destination
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE pd_src (id int PRIMARY KEY, v text);
CREATE TABLE pd_dst (LIKE pd_src INCLUDING ALL);
INSERT INTO pd_src SELECT g, 'row ' || g FROM generate_series(1, 10) g;
SELECT pgconduit.create_source('pd_s', jsonb_build_object('table', 'pd_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('pd_d', jsonb_build_object('table', 'pd_dst',
	'url', 'dbname=' || current_database()));

-- a streaming pipeline
SELECT pgconduit.create_pipeline('pd', 'pd_s', 'pd_d');
SELECT pgconduit.wait_for_pipeline('pd');
SELECT pipeline, phase FROM pgconduit.progress WHERE pipeline = 'pd';

-- what it drops no rollback restores: like DROP SUBSCRIPTION, it refuses
-- to run inside a transaction block, with or without the slot, and
-- changes nothing
BEGIN;
SELECT pgconduit.drop_pipeline('pd');
ROLLBACK;
BEGIN;
SELECT pgconduit.drop_pipeline('pd', drop_slot => false);
ROLLBACK;
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'pgconduit_pd_s';
SELECT count(*) AS progress_rows FROM pgconduit.progress WHERE pipeline = 'pd';
SELECT state, pid IS NOT NULL AS has_worker FROM pgconduit.status WHERE pipeline = 'pd';
-- so the pipeline goes on from its position: a deleted row stays deleted
SELECT pgconduit.stop_pipeline('pd');
DELETE FROM pd_src WHERE id <= 3;
SELECT pgconduit.start_pipeline('pd');
SELECT pgconduit.wait_for_pipeline('pd');
SELECT count(*) AS rows, min(id) FROM pd_dst;
SELECT state FROM pgconduit.status WHERE pipeline = 'pd';

SELECT pgconduit.drop_pipeline('pd');
SELECT count(*) AS progress_rows FROM pgconduit.progress WHERE pipeline = 'pd';
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'pgconduit_pd_s';

-- a snapshot-only pipeline, dropped without its (absent) slot
SELECT pgconduit.alter_connector('pd_s', jsonb_build_object('table', 'pd_src',
	'url', 'dbname=' || current_database(), 'cdc', false));
TRUNCATE pd_dst;
SELECT pgconduit.create_pipeline('pd', 'pd_s', 'pd_d');
SELECT pgconduit.wait_for_pipeline('pd');
SELECT pipeline, phase FROM pgconduit.progress WHERE pipeline = 'pd';
SELECT pgconduit.drop_pipeline('pd', drop_slot => false);
SELECT count(*) AS progress_rows FROM pgconduit.progress WHERE pipeline = 'pd';

-- a destination that cannot be reached: the pipeline is dropped anyway,
-- with a notice that says what to run there later
SELECT pgconduit.create_destination('pd_gone', '{"url": "dbname=pd_no_such_database"}');
SELECT pgconduit.create_pipeline('pd_g', 'pd_s', 'pd_gone', enabled => false);
\set VERBOSITY terse
SET client_min_messages = notice;
SELECT pgconduit.drop_pipeline('pd_g', drop_slot => false);
SET client_min_messages = warning;
\set VERBOSITY default
SELECT count(*) AS pipelines FROM pgconduit.pipeline WHERE name = 'pd_g';

SELECT pgconduit.drop_connector('pd_s');
SELECT pgconduit.drop_connector('pd_d');
SELECT pgconduit.drop_connector('pd_gone');
DROP TABLE pd_src, pd_dst;
