-- Sources of many tables ("tables"): each table is copied with its own
-- snapshot and cut, in its own destination transaction that records it in
-- pgconduit.progress_table.  The source is another database, so that the
-- records' tables name the destination's tables.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db \gset
CREATE DATABASE tsn_src;
\c tsn_src
SET client_min_messages = warning;
CREATE SCHEMA s;
CREATE SCHEMA other;
CREATE TABLE s.a (id int PRIMARY KEY, v text);
CREATE TABLE s.b (x int, y text, v numeric, PRIMARY KEY (x, y));
CREATE TABLE s."Odd ""T"".x" ("Id" int PRIMARY KEY, "v v" text);
CREATE TABLE s.p (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE s.p1 PARTITION OF s.p FOR VALUES FROM (0) TO (100);
CREATE TABLE s.p2 PARTITION OF s.p FOR VALUES FROM (100) TO (1000);
CREATE TABLE s.unselected (id int PRIMARY KEY);
-- a name without schema selects that table in every schema
CREATE TABLE s.dup (id int PRIMARY KEY, v text);
CREATE TABLE other.dup (id int PRIMARY KEY, v text);
-- an inheritance child is a table of its own, not read with its parent
CREATE TABLE s.child () INHERITS (s.a);
INSERT INTO s.a SELECT g, 'a' || g FROM generate_series(1, 300) g;
INSERT INTO s.child VALUES (1000, 'only in the child');
INSERT INTO s.b SELECT g % 10, 'y' || g, g / 7.0 FROM generate_series(1, 200) g;
INSERT INTO s."Odd ""T"".x" VALUES (1, 'odd'), (2, E'tab\there');
INSERT INTO s.p SELECT g, 'p' || g FROM generate_series(1, 500, 3) g;
INSERT INTO s.unselected VALUES (1);
INSERT INTO s.dup VALUES (1, 's');
INSERT INTO other.dup VALUES (1, 'other'), (2, 'other');
-- what the destination must end with, table by table
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM ONLY s.a t) AS sum_a,
	   (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM s.b t) AS sum_b,
	   (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM s."Odd ""T"".x" t) AS sum_odd,
	   (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM s.p t) AS sum_p
\gset

\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE SCHEMA s;
CREATE SCHEMA other;
CREATE TABLE s.a (id int PRIMARY KEY, v text);
CREATE TABLE s.b (x int, y text, v numeric, PRIMARY KEY (x, y));
CREATE TABLE s."Odd ""T"".x" ("Id" int PRIMARY KEY, "v v" text);
CREATE TABLE s.p (id int PRIMARY KEY, v text);
CREATE TABLE s.unselected (id int PRIMARY KEY);
CREATE TABLE s.dup (id int PRIMARY KEY, v text);
CREATE TABLE other.dup (id int PRIMARY KEY, v text);
-- one destination table already has a row: its snapshot goes as records
INSERT INTO s.b VALUES (0, 'y10', 99);

-- names, quoted and not, in a JSON array; snapshot only
SELECT pgconduit.create_source('tsn_s', '{"tables": ["s.a", "S.B", "s.\"Odd \"\"T\"\".x\"", "s.p", "dup"],
	"url": "dbname=tsn_src", "cdc": false}');
SELECT pgconduit.create_destination('tsn_d', jsonb_build_object('url', 'dbname=' || current_database(),
	'batch_size', 50));
SELECT pgconduit.create_pipeline('tsn', 'tsn_s', 'tsn_d');
SELECT pgconduit.wait_for_pipeline('tsn');
SELECT pipeline, state, phase, last_error FROM pgconduit.status WHERE pipeline = 'tsn';

-- every table arrived whole, once, and nothing else
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM s.a t) = :'sum_a' AS a,
	   (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM s.b t) = :'sum_b' AS b,
	   (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM s."Odd ""T"".x" t) = :'sum_odd' AS odd,
	   (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM s.p t) = :'sum_p' AS p;
SELECT count(*) AS unselected FROM s.unselected;
SELECT 's' AS schema, * FROM s.dup UNION ALL SELECT 'other', * FROM other.dup ORDER BY 1, 2;

-- each table's state and cut, by its OID on the source; the pipeline's
-- position is the earliest cut
SELECT source_table, state, cut IS NOT NULL AS has_cut, snapshot_rows,
	   writer = current_user::regrole AS writer
  FROM pgconduit.progress_table ORDER BY source_table;
SELECT p.phase, p.position = (SELECT upper(lpad(to_hex((min(t.cut) - '0/0')::bigint), 16, '0'))
									 || '/0000000000000000'
								FROM pgconduit.progress_table t
							   WHERE t.pipeline_id = p.pipeline_id) AS at_earliest_cut
  FROM pgconduit.progress p WHERE p.pipeline = 'tsn';
SELECT count(DISTINCT source_relid) AS tables FROM pgconduit.progress_table;
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'pgconduit_tsn_s';

-- a done pipeline started again copies nothing again
CREATE TEMP TABLE before AS SELECT source_table, updated_at FROM pgconduit.progress_table;
SELECT pgconduit.start_pipeline('tsn');
SELECT pgconduit.wait_for_pipeline('tsn');
SELECT count(*) AS changed FROM pgconduit.progress_table t JOIN before b USING (source_table)
 WHERE t.updated_at <> b.updated_at;

-- drop_pipeline deletes the tables' rows with the pipeline's
SELECT pgconduit.drop_pipeline('tsn');
SELECT count(*) AS progress_rows FROM pgconduit.progress WHERE pipeline = 'tsn';
SELECT count(*) AS table_rows FROM pgconduit.progress_table;

-- a named table that does not exist is an error that names it, and
-- nothing is copied
TRUNCATE s.a;
CREATE FUNCTION tsn_failure(p text) RETURNS TABLE (state text, last_error text)
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
SELECT pgconduit.alter_connector('tsn_s', '{"tables": "s.a, s.nosuch, \"S\".a",
	"url": "dbname=tsn_src", "cdc": false}');
SELECT pgconduit.create_pipeline('tsn2', 'tsn_s', 'tsn_d');
SELECT * FROM tsn_failure('tsn2');
SELECT count(*) AS copied FROM s.a;
SELECT count(*) AS table_rows FROM pgconduit.progress_table;
SELECT pgconduit.drop_pipeline('tsn2');

-- clean up
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['tsn_s', 'tsn_d']) c;
DROP FUNCTION tsn_failure(text);
DROP SCHEMA s, other CASCADE;
DROP DATABASE tsn_src;
