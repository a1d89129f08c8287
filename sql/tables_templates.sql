-- A source of many tables writing through a destination "table" template:
-- each record goes to the table the template makes of its own table's
-- name, odd names quoted exactly, in the snapshot and in CDC; a renamed
-- source table keeps writing where it wrote; a late table the template
-- names too.
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE SCHEMA tt;
CREATE TABLE tt.a (id int PRIMARY KEY, v text);
CREATE TABLE tt."Odd Name" ("Key" int PRIMARY KEY, v text);
INSERT INTO tt.a SELECT g, 'snapshot' FROM generate_series(1, 3) g;
INSERT INTO tt."Odd Name" VALUES (1, 'snapshot');

-- the copies: schema tt_copy for {schema}_copy, tables as the source's
CREATE SCHEMA tt_copy;
CREATE TABLE tt_copy.a (id int PRIMARY KEY, v text);
CREATE TABLE tt_copy."Odd Name" ("Key" int PRIMARY KEY, v text);
CREATE TABLE tt_copy.late (id int PRIMARY KEY, v text);

SELECT pgconduit.create_source('tt_s', jsonb_build_object('tables', 'tt.*',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('tt_d', jsonb_build_object('table', '{schema}_copy.{table}',
	'url', 'dbname=' || current_database(), 'batch_size', 3));
SELECT pgconduit.create_pipeline('tt', 'tt_s', 'tt_d');
SELECT pgconduit.wait_for_pipeline('tt');
SELECT 'a' AS t, * FROM tt_copy.a UNION ALL SELECT 'odd', * FROM tt_copy."Odd Name" ORDER BY 1, 2;

-- changes, in one transaction across both tables
BEGIN;
INSERT INTO tt.a VALUES (4, 'cdc');
UPDATE tt.a SET v = 'updated' WHERE id = 1;
DELETE FROM tt.a WHERE id = 2;
INSERT INTO tt."Odd Name" VALUES (2, 'cdc');
UPDATE tt."Odd Name" SET v = 'updated' WHERE "Key" = 1;
COMMIT;
SELECT pgconduit.wait_for_pipeline('tt');
SELECT 'a' AS t, * FROM tt_copy.a UNION ALL SELECT 'odd', * FROM tt_copy."Odd Name" ORDER BY 1, 2;

-- renamed at the source: it goes on writing to tt_copy.a
ALTER TABLE tt.a RENAME TO a_renamed;
INSERT INTO tt.a_renamed VALUES (5, 'after rename');
-- a late table: its template-made name is tt_copy.late
CREATE TABLE tt.late (id int PRIMARY KEY, v text);
INSERT INTO tt.late VALUES (1, 'late');
SELECT pgconduit.wait_for_pipeline('tt');
SELECT 'a' AS t, * FROM tt_copy.a UNION ALL SELECT 'late', * FROM tt_copy.late ORDER BY 1, 2;
SELECT state, last_error FROM pgconduit.status WHERE pipeline = 'tt';

SELECT pgconduit.drop_pipeline('tt');
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['tt_s', 'tt_d']) c;
DROP SCHEMA tt, tt_copy CASCADE;
