-- A table of a many-table source that is dropped at the source is noted
-- (state dropped) and the pipeline goes on with the others; its changes
-- decoded before the drop still apply, also when the drop happened while
-- the pipeline was stopped.  A table created again under the dropped
-- one's name is a new, late table.  (A one-table source still fails:
-- pipeline_source_table.)
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db \gset

CREATE DATABASE td_dst;
\c td_dst
SET client_min_messages = warning;
CREATE EXTENSION pgconduit;
CREATE SCHEMA td;
CREATE TABLE td.a (id int PRIMARY KEY, v text);
CREATE TABLE td.b (id int PRIMARY KEY, v text);
CREATE TABLE td.c (id int PRIMARY KEY, v text);
CREATE TABLE td.named (id int PRIMARY KEY, v text);
-- wait until the pipeline has recorded table t with state s here (at most
-- 30 s)
CREATE FUNCTION td_table_state(t text, s text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pgconduit.progress_table p
						   WHERE p.source_table = t AND p.state = s);
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN (SELECT string_agg(p.state, ',' ORDER BY p.state) FROM pgconduit.progress_table p
			 WHERE p.source_table = t);
END
$$;
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE SCHEMA td;
CREATE TABLE td.a (id int PRIMARY KEY, v text);
CREATE TABLE td.b (id int PRIMARY KEY, v text);
CREATE TABLE td.c (id int PRIMARY KEY, v text);
CREATE TABLE td.named (id int PRIMARY KEY, v text);
INSERT INTO td.a VALUES (1, 'snapshot');
INSERT INTO td.b VALUES (1, 'snapshot');
INSERT INTO td.c VALUES (1, 'snapshot');
INSERT INTO td.named VALUES (1, 'snapshot');
SELECT pgconduit.create_source('td_s', jsonb_build_object('tables', 'td.a, td.b, td.c*, td.named',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('td_d', '{"url": "dbname=td_dst"}');
SELECT pgconduit.create_pipeline('td', 'td_s', 'td_d');
SELECT pgconduit.wait_for_pipeline('td');

-- changes made just before the drop arrive; the pipeline goes on
BEGIN;
INSERT INTO td.b VALUES (2, 'last words');
UPDATE td.a SET v = 'with the last words' WHERE id = 1;
COMMIT;
DELETE FROM td.b WHERE id = 1;
DROP TABLE td.b;
\c td_dst
SELECT td_table_state('td.b', 'dropped');
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
INSERT INTO td.a VALUES (2, 'after the drop');
SELECT pgconduit.wait_for_pipeline('td');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'td';

-- a table named in "tables" (not a pattern) is noted the same way
UPDATE td.named SET v = 'before the drop';
DROP TABLE td.named;
\c td_dst
SELECT td_table_state('td.named', 'dropped');
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- dropped while the pipeline is stopped: the changes before the drop
-- still apply when it starts again
SELECT pgconduit.stop_pipeline('td');
INSERT INTO td.c VALUES (2, 'while stopped');
DROP TABLE td.c;
SELECT pgconduit.start_pipeline('td');
SELECT pgconduit.wait_for_pipeline('td');
\c td_dst
SELECT td_table_state('td.c', 'dropped');
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- created again under a dropped one's name: a new table, followed
CREATE TABLE td.c (id int PRIMARY KEY, v text);
INSERT INTO td.c VALUES (3, 'new table');
INSERT INTO td.a VALUES (3, 'still going');
SELECT pgconduit.wait_for_pipeline('td');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'td';

\c td_dst
SELECT 'a' AS t, * FROM td.a UNION ALL SELECT 'b', * FROM td.b
UNION ALL SELECT 'c', * FROM td.c UNION ALL SELECT 'named', * FROM td.named
ORDER BY 1, 2;
SELECT source_table, state FROM pgconduit.progress_table ORDER BY source_table, state;
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT pgconduit.drop_pipeline('td');
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['td_s', 'td_d']) c;
DROP SCHEMA td CASCADE;
DROP DATABASE td_dst;
