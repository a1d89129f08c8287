-- Pipelines: source options (columns, key, snapshot, cdc), replica
-- identities, composite keys, hostile names, another database
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- compare a source and a destination query, row for row
CREATE FUNCTION po_same(src text, dst text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) d',
				   src, dst, dst, src) INTO n;
	RETURN CASE WHEN n = 0 THEN 'same' ELSE n || ' rows differ' END;
END
$$;

-- snapshot only: the pipeline is done after the snapshot
CREATE TABLE po_a (id int PRIMARY KEY, v text);
CREATE TABLE po_a_copy (LIKE po_a);
ALTER TABLE po_a_copy ADD PRIMARY KEY (id);
INSERT INTO po_a SELECT g, 'a' || g FROM generate_series(1, 100) g;
SELECT pgconduit.create_source('po_snap', jsonb_build_object('table', 'po_a',
	'url', 'dbname=' || current_database(), 'cdc', 'off'));
SELECT pgconduit.create_destination('po_a_d', jsonb_build_object('table', 'po_a_copy',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('po1', 'po_snap', 'po_a_d');
SELECT pgconduit.wait_for_pipeline('po1');
SELECT pipeline, state, phase, snapshot_rows_done FROM pgconduit.status WHERE pipeline = 'po1';
SELECT po_same('SELECT * FROM po_a', 'SELECT * FROM po_a_copy');
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'pgconduit_po_snap';
SELECT pgconduit.drop_pipeline('po1');
TRUNCATE po_a_copy;

-- CDC only: rows that were there before are not copied, changes are
SELECT pgconduit.create_source('po_cdc', jsonb_build_object('table', 'po_a',
	'url', 'dbname=' || current_database(), 'snapshot', false));
SELECT pgconduit.create_pipeline('po2', 'po_cdc', 'po_a_d');
SELECT pgconduit.wait_for_pipeline('po2');
INSERT INTO po_a VALUES (101, 'new');
UPDATE po_a SET v = 'changed' WHERE id = 101;
INSERT INTO po_a VALUES (102, 'newer');
SELECT pgconduit.wait_for_pipeline('po2');
SELECT * FROM po_a_copy ORDER BY id;
SELECT pgconduit.drop_pipeline('po2');

-- columns limit the payload; a composite key; REPLICA IDENTITY FULL
CREATE TABLE po_b (region text, num int, v text, secret text, PRIMARY KEY (region, num));
ALTER TABLE po_b REPLICA IDENTITY FULL;
CREATE TABLE po_b_copy (region text, num int, v text, secret text DEFAULT 'not sent',
	PRIMARY KEY (region, num));
INSERT INTO po_b SELECT 'r' || (g % 3), g, 'v' || g, 'hidden' FROM generate_series(1, 30) g;
SELECT pgconduit.create_source('po_cols', jsonb_build_object('table', 'po_b',
	'url', 'dbname=' || current_database(), 'columns', jsonb_build_array('region', 'num', 'v')));
SELECT pgconduit.create_destination('po_b_d', jsonb_build_object('table', 'po_b_copy',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('po3', 'po_cols', 'po_b_d');
SELECT pgconduit.wait_for_pipeline('po3');
UPDATE po_b SET v = 'updated', secret = 'still hidden' WHERE num % 4 = 0;
DELETE FROM po_b WHERE num % 5 = 0;
UPDATE po_b SET region = 'moved' WHERE num = 1;
SELECT pgconduit.wait_for_pipeline('po3');
SELECT po_same('SELECT region, num, v FROM po_b', 'SELECT region, num, v FROM po_b_copy');
SELECT DISTINCT secret FROM po_b_copy;
SELECT pgconduit.drop_pipeline('po3');

-- a table without a primary key, with "key" naming its key column
CREATE TABLE po_c (code text NOT NULL UNIQUE, v int);
ALTER TABLE po_c REPLICA IDENTITY USING INDEX po_c_code_key;
CREATE TABLE po_c_copy (code text PRIMARY KEY, v int);
INSERT INTO po_c VALUES ('x', 1), ('y', 2);
SELECT pgconduit.create_source('po_key', jsonb_build_object('table', 'po_c',
	'url', 'dbname=' || current_database(), 'key', 'code'));
SELECT pgconduit.create_destination('po_c_d', jsonb_build_object('table', 'po_c_copy',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('po4', 'po_key', 'po_c_d');
SELECT pgconduit.wait_for_pipeline('po4');
INSERT INTO po_c VALUES ('z', 3);
UPDATE po_c SET v = 20 WHERE code = 'y';
DELETE FROM po_c WHERE code = 'x';
SELECT pgconduit.wait_for_pipeline('po4');
SELECT * FROM po_c_copy ORDER BY code;
SELECT pgconduit.drop_pipeline('po4');

-- hostile names travel end to end
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Tab ""le"".x" ("Id" int PRIMARY KEY, "sel ect" text, "ünï" text);
CREATE TABLE "Odd Schema"."Copy; DROP TABLE po_a" (LIKE "Odd Schema"."Tab ""le"".x" INCLUDING ALL);
INSERT INTO "Odd Schema"."Tab ""le"".x" VALUES (1, 'a''b"c\d', 'é');
SELECT pgconduit.create_source('po_odd', jsonb_build_object('table', '"Odd Schema"."Tab ""le"".x"',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('po_odd_d', jsonb_build_object(
	'table', '"Odd Schema"."Copy; DROP TABLE po_a"', 'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('po5', 'po_odd', 'po_odd_d');
SELECT pgconduit.wait_for_pipeline('po5');
INSERT INTO "Odd Schema"."Tab ""le"".x" VALUES (2, E'tab\there', '日本');
UPDATE "Odd Schema"."Tab ""le"".x" SET "sel ect" = 'upd' WHERE "Id" = 1;
SELECT pgconduit.wait_for_pipeline('po5');
SELECT * FROM "Odd Schema"."Copy; DROP TABLE po_a" ORDER BY 1;
SELECT count(*) AS po_a_still_there FROM po_a;
SELECT pgconduit.drop_pipeline('po5');

-- source and destination in another database of this server
CREATE DATABASE po_other;
SELECT current_database() AS regress_db \gset
\c po_other
SET client_min_messages = warning;
CREATE EXTENSION pgconduit;
CREATE TABLE po_remote (id int PRIMARY KEY, v text);
INSERT INTO po_remote VALUES (1, 'from the other database');
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE TABLE po_remote (id int PRIMARY KEY, v text);
SELECT pgconduit.create_source('po_far', '{"table": "po_remote", "url": "dbname=po_other"}');
SELECT pgconduit.create_destination('po_here', jsonb_build_object('url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('po6', 'po_far', 'po_here');
SELECT pgconduit.wait_for_pipeline('po6');
SELECT * FROM po_remote;
SELECT pgconduit.drop_pipeline('po6');

-- clean up
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['po_snap', 'po_cdc', 'po_a_d', 'po_cols',
	'po_b_d', 'po_key', 'po_c_d', 'po_odd', 'po_odd_d', 'po_far', 'po_here']) c;
DROP DATABASE po_other;
DROP SCHEMA "Odd Schema" CASCADE;
DROP TABLE po_a, po_a_copy, po_b, po_b_copy, po_c, po_c_copy, po_remote;
DROP FUNCTION po_same(text, text);
TRUNCATE pgconduit.progress;
