-- Sources of many tables: tables without a primary key.  REPLICA IDENTITY
-- FULL makes a table keyless (its rows matched whole); a table without any
-- replica identity is refused when named, and skipped with a WARNING when
-- a pattern matches it.  No table without a replica identity is ever put
-- in the publication, whose UPDATE and DELETE would then fail.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db \gset
CREATE DATABASE tk_src;
\c tk_src
SET client_min_messages = warning;
CREATE SCHEMA k;
CREATE TABLE k.pk (id int PRIMARY KEY, v text);
CREATE TABLE k.full_t (a int, b text);
ALTER TABLE k.full_t REPLICA IDENTITY FULL;
CREATE TABLE k.idx (a int NOT NULL, b text);
CREATE UNIQUE INDEX idx_a ON k.idx (a);
ALTER TABLE k.idx REPLICA IDENTITY USING INDEX idx_a;
CREATE TABLE k.none_t (a int, b text);
CREATE TABLE k.nothing (id int PRIMARY KEY, v text);
ALTER TABLE k.nothing REPLICA IDENTITY NOTHING;
CREATE UNLOGGED TABLE k.scratch (id int PRIMARY KEY);
INSERT INTO k.pk VALUES (1, 'one');
-- rows that repeat stay as many rows
INSERT INTO k.full_t VALUES (1, 'x'), (1, 'x'), (1, 'x'), (2, NULL), (2, NULL);
INSERT INTO k.idx VALUES (1, 'i');
INSERT INTO k.none_t VALUES (1, 'n');
INSERT INTO k.nothing VALUES (1, 'n');

\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE SCHEMA k;
CREATE TABLE k.pk (id int PRIMARY KEY, v text);
CREATE TABLE k.full_t (a int, b text);
CREATE TABLE k.idx (a int PRIMARY KEY, b text);
CREATE TABLE k.none_t (a int, b text);
CREATE TABLE k.nothing (id int PRIMARY KEY, v text);
CREATE FUNCTION tk_failure(p text) RETURNS TABLE (state text, last_error text)
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

-- a pattern: the tables without a usable identity (or unlogged) are
-- skipped, the others copied
SELECT pgconduit.create_source('tk_s', '{"tables": "k.*", "url": "dbname=tk_src"}');
SELECT pgconduit.create_destination('tk_d', jsonb_build_object('url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('tk', 'tk_s', 'tk_d');
SELECT pgconduit.wait_for_pipeline('tk');
SELECT pipeline, state, phase, last_error FROM pgconduit.status WHERE pipeline = 'tk';
SELECT source_table, state, snapshot_rows FROM pgconduit.progress_table ORDER BY source_table;
SELECT source_table, state, snapshot_rows_done, rows_written FROM pgconduit.status_tables
 WHERE pipeline = 'tk' ORDER BY source_table;
SELECT * FROM k.full_t ORDER BY a, b;
SELECT * FROM k.idx;
SELECT count(*) AS none_t FROM k.none_t;
\c tk_src
SET client_min_messages = warning;
-- the publication holds exactly the tables with a replica identity
SELECT c.relname FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
  JOIN pg_class c ON c.oid = r.prrelid
 WHERE p.pubname = 'pgconduit_tk_s' ORDER BY 1;
-- the application's writes to the skipped tables go on working
UPDATE k.none_t SET b = 'updated';
DELETE FROM k.nothing;
INSERT INTO k.pk VALUES (2, 'two');
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT pgconduit.wait_for_pipeline('tk');
SELECT * FROM k.pk ORDER BY id;
SELECT * FROM k.nothing;
-- a skipped table that can be replicated now is copied, with a cut of its
-- own, when the pipeline starts again, and published
\c tk_src
SET client_min_messages = warning;
ALTER TABLE k.none_t REPLICA IDENTITY FULL;
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT pgconduit.stop_pipeline('tk');
SELECT pgconduit.start_pipeline('tk');
SELECT pgconduit.wait_for_pipeline('tk');
SELECT * FROM k.none_t;
SELECT source_table, state, cut > (SELECT min(cut) FROM pgconduit.progress_table) AS later_cut
  FROM pgconduit.progress_table WHERE source_table = 'k.none_t';
\c tk_src
SET client_min_messages = warning;
SELECT c.relname FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
  JOIN pg_class c ON c.oid = r.prrelid
 WHERE p.pubname = 'pgconduit_tk_s' ORDER BY 1;
INSERT INTO k.none_t VALUES (3, 'streamed');
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT pgconduit.wait_for_pipeline('tk');
SELECT * FROM k.none_t ORDER BY a;
SELECT pgconduit.drop_pipeline('tk');

-- named, a table without a replica identity is refused, with a hint, and
-- nothing is published or copied
TRUNCATE k.pk, k.full_t, k.idx, k.none_t;
\c tk_src
SET client_min_messages = warning;
ALTER TABLE k.none_t REPLICA IDENTITY DEFAULT;
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT pgconduit.alter_connector('tk_s', '{"tables": "k.pk, k.none_t", "url": "dbname=tk_src"}');
SELECT pgconduit.create_pipeline('tk2', 'tk_s', 'tk_d');
SELECT * FROM tk_failure('tk2');
SELECT count(*) AS copied FROM k.pk;
SELECT pgconduit.drop_pipeline('tk2');
\c tk_src
SET client_min_messages = warning;
SELECT count(*) AS publications FROM pg_publication WHERE pubname = 'pgconduit_tk_s';
UPDATE k.none_t SET b = 'again';
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- so is a named unlogged table, and one whose identity leaves out the key
SELECT pgconduit.alter_connector('tk_s', '{"tables": "k.scratch", "url": "dbname=tk_src"}');
SELECT pgconduit.create_pipeline('tk3', 'tk_s', 'tk_d');
SELECT * FROM tk_failure('tk3');
SELECT pgconduit.drop_pipeline('tk3');
SELECT pgconduit.alter_connector('tk_s', '{"tables": "k.nothing", "url": "dbname=tk_src"}');
SELECT pgconduit.create_pipeline('tk4', 'tk_s', 'tk_d');
SELECT * FROM tk_failure('tk4');
SELECT pgconduit.drop_pipeline('tk4');

-- clean up
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['tk_s', 'tk_d']) c;
DROP FUNCTION tk_failure(text);
DROP SCHEMA k CASCADE;
DROP DATABASE tk_src;
