-- A source of many tables picks up the tables that come to match its
-- patterns while it runs: created later (also in the transaction that
-- fills them), moved or renamed into a pattern (with the rows they held),
-- partitioned; a matched table without a replica identity is skipped with
-- a WARNING and never breaks the application's writes; a late table the
-- destination lacks fails the pipeline, which resumes once it exists.
-- Renamed tables keep sending to the name the pipeline first saw.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db \gset

-- the destination is another database with the same schema
CREATE DATABASE tl_dst;
\c tl_dst
SET client_min_messages = warning;
CREATE EXTENSION pgconduit;
CREATE SCHEMA tl;
CREATE TABLE tl.a (id int PRIMARY KEY, v text);
CREATE TABLE tl.b (id int PRIMARY KEY, v text);
CREATE TABLE tl.filled (id int PRIMARY KEY, v text);
CREATE TABLE tl.moved (id int PRIMARY KEY, v text);
CREATE TABLE tl."Odd Name" ("Key" int PRIMARY KEY, v text);
CREATE TABLE tl.nokey (v text);
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- wait until the pipeline has failed with an error like pattern (at most
-- 30 s), then show its state and error
CREATE FUNCTION tl_failure(p text, pattern text) RETURNS TABLE (state text, last_error text)
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pgconduit.status s
						   WHERE s.pipeline = p AND s.state = 'failed'
							 AND s.last_error LIKE pattern);
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN QUERY SELECT s.state, regexp_replace(s.last_error, '\n.*', '', 's')
				   FROM pgconduit.status s WHERE s.pipeline = p;
END
$$;

CREATE SCHEMA tl;
CREATE TABLE tl.a (id int PRIMARY KEY, v text);
INSERT INTO tl.a SELECT g, 'snapshot' FROM generate_series(1, 3) g;
SELECT pgconduit.create_source('tl_s', jsonb_build_object('tables', 'tl.*',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('tl_d', '{"url": "dbname=tl_dst", "batch_size": 4}');
SELECT pgconduit.create_pipeline('tl', 'tl_s', 'tl_d');
SELECT pgconduit.wait_for_pipeline('tl');

-- a table created later, filled in the transaction that creates it and
-- changed together with a table of the start
BEGIN;
CREATE TABLE tl.b (id int PRIMARY KEY, v text);
INSERT INTO tl.b SELECT g, 'created' FROM generate_series(1, 10) g;
UPDATE tl.b SET v = 'updated' WHERE id % 2 = 0;
DELETE FROM tl.b WHERE id = 10;
INSERT INTO tl.a VALUES (4, 'with b');
COMMIT;
INSERT INTO tl.b VALUES (11, 'later');
SELECT pgconduit.wait_for_pipeline('tl');

-- a table with rows, moved into the pattern: they come along
CREATE TABLE public.tl_moved (id int PRIMARY KEY, v text);
INSERT INTO public.tl_moved SELECT g, 'before it matched' FROM generate_series(1, 5) g;
ALTER TABLE public.tl_moved SET SCHEMA tl;
ALTER TABLE tl.tl_moved RENAME TO moved;
UPDATE tl.moved SET v = 'after it matched' WHERE id = 5;
-- and one created and filled while nothing else happens, under an odd name
CREATE TABLE tl.filled (id int PRIMARY KEY, v text);
INSERT INTO tl.filled SELECT g, 'filled' FROM generate_series(1, 20) g;
CREATE TABLE tl."Odd Name" ("Key" int PRIMARY KEY, v text);
INSERT INTO tl."Odd Name" VALUES (1, 'odd');
SELECT pgconduit.wait_for_pipeline('tl');

-- a matched table without a replica identity: skipped, its writes work
CREATE TABLE tl.nokey (v text);
INSERT INTO tl.nokey VALUES ('not replicated');
UPDATE tl.nokey SET v = 'updated at the source';
DELETE FROM tl.nokey;
INSERT INTO tl.a VALUES (5, 'after nokey');
SELECT pgconduit.wait_for_pipeline('tl');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'tl';
-- the late tables are published, so their replica identity is kept; the
-- skipped one is not, so its writes never fail
SELECT c.relname FROM pg_publication_rel r
  JOIN pg_class c ON c.oid = r.prrelid
  JOIN pg_publication p ON p.oid = r.prpubid
 WHERE p.pubname = 'pgconduit_tl_s' ORDER BY 1;

\c tl_dst
SELECT 'a' AS t, * FROM tl.a UNION ALL SELECT 'b', * FROM tl.b
UNION ALL SELECT 'filled', * FROM tl.filled WHERE id IN (1, 20)
UNION ALL SELECT 'moved', * FROM tl.moved UNION ALL SELECT 'odd', * FROM tl."Odd Name"
ORDER BY 1, 2;
SELECT count(*) AS filled FROM tl.filled;
SELECT count(*) AS nokey FROM tl.nokey;
SELECT source_table, state FROM pgconduit.progress_table ORDER BY source_table;
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- the late tables are followed across restarts of the worker
SELECT pgconduit.stop_pipeline('tl');
INSERT INTO tl.b VALUES (12, 'while stopped');
INSERT INTO tl.filled VALUES (21, 'while stopped');
SELECT pgconduit.start_pipeline('tl');
SELECT pgconduit.wait_for_pipeline('tl');
INSERT INTO tl.b VALUES (13, 'after restart');
UPDATE tl.moved SET v = 'after restart' WHERE id = 1;
SELECT pgconduit.wait_for_pipeline('tl');

-- a table renamed in the source goes on sending to the name first seen
ALTER TABLE tl.b RENAME TO b_renamed;
INSERT INTO tl.b_renamed VALUES (14, 'renamed');
ALTER TABLE tl.b_renamed SET SCHEMA public;
INSERT INTO public.b_renamed VALUES (15, 'moved out of the pattern');
SELECT pgconduit.wait_for_pipeline('tl');
\c tl_dst
SELECT * FROM tl.b WHERE id > 10 ORDER BY id;
SELECT to_regclass('tl.b_renamed') AS renamed_at_destination;
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- a late table the destination lacks: the destination's error fails the
-- pipeline, nothing after it is applied; once it exists, start_pipeline
-- resumes without loss or duplicates
CREATE TABLE tl.c (id int PRIMARY KEY, v text);
INSERT INTO tl.c VALUES (1, 'c');
INSERT INTO tl.a VALUES (6, 'after c');
SELECT * FROM tl_failure('tl', '%tl.c%');
INSERT INTO tl.c VALUES (2, 'while failed');
\c tl_dst
SELECT * FROM tl.a WHERE id >= 5 ORDER BY id;
CREATE TABLE tl.c (id int PRIMARY KEY, v text);
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT pgconduit.start_pipeline('tl');
SELECT pgconduit.wait_for_pipeline('tl');
INSERT INTO tl.c VALUES (3, 'after start');
SELECT pgconduit.wait_for_pipeline('tl');
SELECT pipeline, state FROM pgconduit.status WHERE pipeline = 'tl';
\c tl_dst
SELECT 'a' AS t, * FROM tl.a WHERE id >= 5 UNION ALL SELECT 'c', * FROM tl.c ORDER BY 1, 2;
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT pgconduit.drop_pipeline('tl');
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['tl_s', 'tl_d']) c;
DROP SCHEMA tl CASCADE;
DROP TABLE public.b_renamed;
DROP FUNCTION tl_failure(text, text);
DROP DATABASE tl_dst;
