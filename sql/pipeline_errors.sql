-- Pipelines: what the source path refuses, as pgconduit.status shows it
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE pe_dst (id int PRIMARY KEY, v text);
SELECT pgconduit.create_destination('pe_d', jsonb_build_object('table', 'pe_dst',
	'url', 'dbname=' || current_database()));

-- wait until the pipeline has failed (at most 30 s), then show why
CREATE FUNCTION pe_failure(p text) RETURNS TABLE (state text, last_error text)
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

-- a table that does not exist: failed, and not retried
SELECT pgconduit.create_source('pe_missing', jsonb_build_object('table', 'pe_nosuch',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pe1', 'pe_missing', 'pe_d');
SELECT * FROM pe_failure('pe1');
-- created now, it is found once the pipeline is started again
CREATE TABLE pe_nosuch (id int PRIMARY KEY, v text);
INSERT INTO pe_nosuch VALUES (1, 'one');
SELECT pgconduit.start_pipeline('pe1');
SELECT pgconduit.wait_for_pipeline('pe1');
SELECT * FROM pe_dst;
SELECT pgconduit.drop_pipeline('pe1');
TRUNCATE pe_dst;

-- a table without a primary key, and no "key"
CREATE TABLE pe_nokey (id int, v text);
SELECT pgconduit.create_source('pe_nokey_s', jsonb_build_object('table', 'pe_nokey',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pe2', 'pe_nokey_s', 'pe_d');
SELECT * FROM pe_failure('pe2');
SELECT pgconduit.drop_pipeline('pe2');

-- a "key" or "columns" naming a column the table lacks
SELECT pgconduit.alter_connector('pe_nokey_s', jsonb_build_object('table', 'pe_nokey',
	'url', 'dbname=' || current_database(), 'key', 'nosuch'));
SELECT pgconduit.create_pipeline('pe3', 'pe_nokey_s', 'pe_d');
SELECT * FROM pe_failure('pe3');
SELECT pgconduit.drop_pipeline('pe3');
SELECT pgconduit.alter_connector('pe_nokey_s', jsonb_build_object('table', 'pe_nokey',
	'url', 'dbname=' || current_database(), 'key', 'id', 'columns', 'id,nosuch'));
SELECT pgconduit.create_pipeline('pe4', 'pe_nokey_s', 'pe_d');
SELECT * FROM pe_failure('pe4');
SELECT pgconduit.drop_pipeline('pe4');

-- a source that cannot be reached: failed, retried with backoff
SELECT pgconduit.create_source('pe_down', jsonb_build_object('table', 'pe_nokey',
	'url', 'host=/nonexistent dbname=x connect_timeout=1'));
SELECT pgconduit.create_pipeline('pe5', 'pe_down', 'pe_d');
SELECT state, split_part(last_error, E'\n', 1) AS last_error FROM pe_failure('pe5');
SELECT pgconduit.wait_for_pipeline('pe5', '1 s');
SELECT pgconduit.drop_pipeline('pe5', drop_slot => false);

-- an existing publication that lacks the table
CREATE TABLE pe_other (id int PRIMARY KEY);
CREATE PUBLICATION pe_pub FOR TABLE pe_other;
SELECT pgconduit.create_source('pe_pubsrc', jsonb_build_object('table', 'pe_nosuch',
	'url', 'dbname=' || current_database(), 'publication_name', 'pe_pub'));
SELECT pgconduit.create_pipeline('pe6', 'pe_pubsrc', 'pe_d');
SELECT * FROM pe_failure('pe6');
SELECT pgconduit.drop_pipeline('pe6');
SELECT pubname FROM pg_publication WHERE pubname = 'pe_pub';

-- an existing slot of another plugin
SELECT 'made' FROM pg_create_logical_replication_slot('pe_slot', 'test_decoding');
SELECT pgconduit.create_source('pe_slotsrc', jsonb_build_object('table', 'pe_nosuch',
	'url', 'dbname=' || current_database(), 'slot_name', 'pe_slot'));
SELECT pgconduit.create_pipeline('pe7', 'pe_slotsrc', 'pe_d');
SELECT * FROM pe_failure('pe7');
SELECT pgconduit.drop_pipeline('pe7', drop_slot => false);
SELECT pg_drop_replication_slot('pe_slot');

-- a destination without pgconduit
CREATE DATABASE pe_bare;
SELECT pgconduit.create_destination('pe_bare_d', jsonb_build_object('url', 'dbname=pe_bare'));
SELECT pgconduit.create_pipeline('pe8', 'pe_missing', 'pe_bare_d');
SELECT * FROM pe_failure('pe8');
SELECT pgconduit.drop_pipeline('pe8');

-- a record the destination rejects halts the pipeline at that record;
-- nothing of its source transaction is applied, though with batch_size 1
-- it spans three batches, and what is shown as applied is what the
-- destination recorded
CREATE TABLE pe_strict (id int PRIMARY KEY, v text CHECK (v <> 'bad'));
SELECT pgconduit.create_destination('pe_strict_d', jsonb_build_object('table', 'pe_strict',
	'url', 'dbname=' || current_database(), 'batch_size', 1));
SELECT pgconduit.create_pipeline('pe9', 'pe_missing', 'pe_strict_d');
SELECT pgconduit.wait_for_pipeline('pe9');
INSERT INTO pe_nosuch VALUES (2, 'two'), (3, 'bad'), (4, 'four');
SELECT * FROM pe_failure('pe9');
SELECT error_table, error_position IS NOT NULL AS has_position FROM pgconduit.status WHERE pipeline = 'pe9';
SELECT s.applied_position = p.position AS applied_is_recorded
  FROM pgconduit.status s JOIN pgconduit.progress p ON p.pipeline = s.pipeline
 WHERE s.pipeline = 'pe9';
SELECT * FROM pe_strict ORDER BY id;
-- fixed, the pipeline goes on from that record
ALTER TABLE pe_strict DROP CONSTRAINT pe_strict_v_check;
SELECT pgconduit.start_pipeline('pe9');
SELECT pgconduit.wait_for_pipeline('pe9');
SELECT * FROM pe_strict ORDER BY id;
-- running again, it keeps the error as history: from before this run
SELECT state, split_part(last_error, E'\n', 1) LIKE 'destination rejected the record%' AS kept,
	   last_error_at < started_at AS before_this_run, errors, error_position
  FROM pgconduit.status WHERE pipeline = 'pe9';
SELECT pgconduit.drop_pipeline('pe9');

-- the same with a transaction inside one batch: none of it is applied
CREATE TABLE pe_strict2 (id int PRIMARY KEY, v text CHECK (v <> 'worse'));
SELECT pgconduit.create_destination('pe_strict2_d', jsonb_build_object('table', 'pe_strict2',
	'url', 'dbname=' || current_database(), 'batch_size', 1000));
SELECT pgconduit.create_pipeline('pe9b', 'pe_missing', 'pe_strict2_d');
SELECT pgconduit.wait_for_pipeline('pe9b');
INSERT INTO pe_nosuch VALUES (5, 'five'), (6, 'worse'), (7, 'seven');
SELECT * FROM pe_failure('pe9b');
SELECT s.applied_position = p.position AS applied_is_recorded
  FROM pgconduit.status s JOIN pgconduit.progress p ON p.pipeline = s.pipeline
 WHERE s.pipeline = 'pe9b';
SELECT * FROM pe_strict2 ORDER BY id;
SELECT pgconduit.drop_pipeline('pe9b');
DELETE FROM pe_nosuch WHERE id > 4;

-- with on_error = dead_letter the record is set aside and the rest goes on
CREATE TABLE pe_dl (id int PRIMARY KEY, v text CHECK (v <> 'bad'));
SELECT pgconduit.create_destination('pe_dl_d', jsonb_build_object('table', 'pe_dl',
	'url', 'dbname=' || current_database(), 'on_error', 'dead_letter'));
SELECT pgconduit.create_pipeline('pe10', 'pe_missing', 'pe_dl_d');
SELECT pgconduit.wait_for_pipeline('pe10');
SELECT * FROM pe_dl ORDER BY id;
SELECT pipeline, record->'key' AS key, sqlstate, message FROM pgconduit.dead_letter;
SELECT state, dead_letters FROM pgconduit.status WHERE pipeline = 'pe10';
SELECT pgconduit.drop_pipeline('pe10');

-- clean up
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['pe_missing', 'pe_nokey_s', 'pe_down',
	'pe_pubsrc', 'pe_slotsrc', 'pe_d', 'pe_bare_d', 'pe_strict_d', 'pe_strict2_d', 'pe_dl_d']) c;
DROP DATABASE pe_bare;
DROP PUBLICATION pe_pub;
DROP FUNCTION pe_failure(text);
DROP TABLE pe_dst, pe_nosuch, pe_nokey, pe_other, pe_strict, pe_strict2, pe_dl;
TRUNCATE pgconduit.dead_letter, pgconduit.progress;
