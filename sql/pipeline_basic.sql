-- Pipelines: snapshot, then changes, within this database
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- the same table shape on both sides
CREATE TABLE pb_src (id int PRIMARY KEY, v text, n numeric, ts timestamptz, j jsonb);
CREATE TABLE pb_dst (LIKE pb_src INCLUDING ALL);
INSERT INTO pb_src
SELECT g, 'row ' || g, g / 3.0, '2026-01-01 00:00+00'::timestamptz + g * interval '1 hour',
	   jsonb_build_object('g', g)
  FROM generate_series(1, 500) g;

-- show (the first ten) rows that differ between source and destination
CREATE FUNCTION pb_diff() RETURNS TABLE (side text, id int, v text)
LANGUAGE sql AS $$
	(SELECT 'only in source', s.id, s.v FROM (SELECT * FROM pb_src EXCEPT SELECT * FROM pb_dst) s)
	UNION ALL
	(SELECT 'only in destination', d.id, d.v FROM (SELECT * FROM pb_dst EXCEPT SELECT * FROM pb_src) d)
	ORDER BY 2, 1 LIMIT 10
$$;

SELECT pgconduit.create_source('pb_s', jsonb_build_object('table', 'pb_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('pb_d', jsonb_build_object('table', 'pb_dst',
	'url', 'dbname=' || current_database(), 'batch_size', 64));
SELECT pgconduit.create_pipeline('pb', 'pb_s', 'pb_d');

-- the snapshot
SELECT pgconduit.wait_for_pipeline('pb');
SELECT count(*) FROM pb_dst;
SELECT * FROM pb_diff();
SELECT pipeline, state, phase, snapshot_rows_done, snapshot_rows_total >= 0 AS has_total,
	   records_written >= 500 AS written, last_error, pid IS NOT NULL AS has_pid, slot_name
  FROM pgconduit.status;
SELECT slot_name, plugin FROM pg_replication_slots WHERE slot_name = 'pgconduit_pb_s';
SELECT pubname FROM pg_publication_tables WHERE tablename = 'pb_src';

-- the worker is visible, with a type naming the pipeline
SELECT backend_type FROM pg_stat_activity WHERE backend_type LIKE 'pgconduit pipeline%';

-- changes: inserts, updates, deletes, in several transactions
INSERT INTO pb_src VALUES (501, 'new', 1.5, '2026-02-01 00:00+00', '[1, 2]');
BEGIN;
UPDATE pb_src SET v = 'updated', n = n * 2 WHERE id % 10 = 0;
DELETE FROM pb_src WHERE id % 7 = 0;
INSERT INTO pb_src SELECT g, 'batch', g, NULL, NULL FROM generate_series(1001, 1300) g;
COMMIT;
UPDATE pb_src SET id = id + 10000 WHERE id = 1;
SELECT pgconduit.wait_for_pipeline('pb');
SELECT count(*) FROM pb_dst;
SELECT * FROM pb_diff();

-- a key that changed leaves no old row behind
SELECT count(*) FROM pb_dst WHERE id IN (1, 10001);

-- truncate
TRUNCATE pb_src;
INSERT INTO pb_src VALUES (1, 'after truncate', 0, NULL, NULL);
SELECT pgconduit.wait_for_pipeline('pb');
SELECT * FROM pb_dst;

-- stopping ends the worker; changes made meanwhile arrive after a start
SELECT pgconduit.stop_pipeline('pb');
DO $$
BEGIN
	FOR i IN 1..500 LOOP
		EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity
							   WHERE backend_type = 'pgconduit pipeline pb');
		PERFORM pg_sleep(0.01);
	END LOOP;
END
$$;
SELECT count(*) AS workers FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline pb';
SELECT pipeline, state FROM pgconduit.status;
INSERT INTO pb_src SELECT g, 'while stopped', g, NULL, NULL FROM generate_series(2, 50) g;
SELECT pgconduit.wait_for_pipeline('pb', '100 ms');
SELECT pgconduit.start_pipeline('pb');
SELECT pgconduit.wait_for_pipeline('pb');
SELECT count(*) FROM pb_dst;
SELECT * FROM pb_diff();

-- dropping the pipeline drops its slot and the publication it made
SELECT pgconduit.drop_pipeline('pb');
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'pgconduit_pb_s';
SELECT count(*) AS publications FROM pg_publication WHERE pubname = 'pgconduit_pb_s';
SELECT count(*) AS status_rows FROM pgconduit.status;

SELECT pgconduit.drop_connector('pb_s');
SELECT pgconduit.drop_connector('pb_d');
DROP FUNCTION pb_diff();
DROP TABLE pb_src, pb_dst;
