-- Destination "table" templates: {schema} and {table} of each record's
-- metadata.table, substituted as exact (quoted) identifiers
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE SCHEMA archive;
CREATE SCHEMA "Sales Dept";
CREATE SCHEMA "Sales Dept_copy";
CREATE SCHEMA public_copy;
CREATE TABLE archive.orders (id int PRIMARY KEY, v text);
CREATE TABLE archive."Order Items" (id int PRIMARY KEY, v text);
CREATE TABLE "Sales Dept_copy"."Order Items" (id int PRIMARY KEY, v text);
CREATE TABLE public_copy.orders (id int PRIMARY KEY, v text);
CREATE TABLE public.orders_hist (id int PRIMARY KEY, v text);
CREATE TABLE "Sales Dept"."Order Items_hist" (id int PRIMARY KEY, v text);

-- a record of table T (metadata.table as the output plugin writes it)
CREATE FUNCTION wt_rec(op text, t text, id int, v text) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_build_object('operation', op, 'metadata', jsonb_build_object('table', t),
		'key', jsonb_build_object('id', id),
		'payload', jsonb_build_object('after', CASE WHEN op <> 'delete' THEN jsonb_build_object('v', v) END))
$$;

-- {table}: the table part of each record's name, in a fixed schema
SELECT pgconduit._write(jsonb_build_array(
	wt_rec('create', 'public.orders', 1, 'a'),
	wt_rec('create', '"Sales Dept"."Order Items"', 2, 'b'),
	wt_rec('update', 'public.orders', 1, 'a2')), 'archive.{table}');
SELECT * FROM archive.orders;
SELECT * FROM archive."Order Items";

-- {schema} inside a longer name: the parts are joined, then quoted
SELECT pgconduit._write(jsonb_build_array(
	wt_rec('create', '"Sales Dept"."Order Items"', 3, 'c'),
	wt_rec('create', 'public.orders', 4, 'd')), '{schema}_copy.{table}');
SELECT * FROM "Sales Dept_copy"."Order Items";
SELECT * FROM public_copy.orders;

-- {schema}.{table}_hist
SELECT pgconduit._write(jsonb_build_array(
	wt_rec('create', 'public.orders', 5, 'e'),
	wt_rec('create', '"Sales Dept"."Order Items"', 6, 'f'),
	wt_rec('delete', 'public.orders', 5, NULL)), '{schema}.{table}_hist');
SELECT count(*) FROM public.orders_hist;
SELECT * FROM "Sales Dept"."Order Items_hist";

-- white space around the parts is allowed, as in SQL
SELECT pgconduit._write(wt_rec('create', 'public.orders', 7, 'g'), ' archive . {table} ');
SELECT * FROM archive.orders ORDER BY id;

-- unquoted letters of a template fold to lower case; quoted ones do not;
-- the values substituted are never folded
CREATE SCHEMA "Archive";
CREATE TABLE "Archive"."Orders" (id int PRIMARY KEY, v text);
CREATE TABLE "Archive"."orders_V2" (id int PRIMARY KEY, v text);
SELECT pgconduit._write(wt_rec('create', 'public."Orders"', 10, 'quoted'), '"Archive".{table}');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 11, 'folded'), 'ARCHIVE.{table}');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 12, 'mixed'), '"Archive"."{table}_V2"');
SELECT * FROM "Archive"."Orders";
SELECT * FROM archive.orders WHERE id = 11;
SELECT * FROM "Archive"."orders_V2";
-- placeholders inside quotes
CREATE TABLE archive."orders Copy" (id int PRIMARY KEY, v text);
SELECT pgconduit._write(wt_rec('create', 'public.orders', 13, 'in quotes'), 'archive."{table} Copy"');
SELECT * FROM archive."orders Copy";

-- hostile names survive: dots, quotes, upper case, spaces, semicolons
CREATE SCHEMA "we""ird.schema";
CREATE TABLE "we""ird.schema"."a.b ""c""; DROP TABLE wt_victim; --_x" (id int PRIMARY KEY, v text);
CREATE TABLE wt_victim (id int);
SELECT pgconduit._write(wt_rec('create', '"we""ird.schema"."a.b ""c""; DROP TABLE wt_victim; --"', 20, 'odd'),
	'{schema}.{table}_x');
SELECT * FROM "we""ird.schema"."a.b ""c""; DROP TABLE wt_victim; --_x";
SELECT count(*) FROM wt_victim;

-- literal braces: doubled inside a quoted name
CREATE TABLE archive."t{x}" (id int PRIMARY KEY, v text);
SELECT pgconduit._write(wt_rec('create', 'public.orders', 30, 'braces'), 'archive."t{{x}}"');
SELECT * FROM archive."t{x}";
CREATE TABLE archive."orders{}" (id int PRIMARY KEY, v text);
SELECT pgconduit._write(wt_rec('create', 'public.orders', 31, 'braces'), 'archive."{table}{{}}"');
SELECT * FROM archive."orders{}";

-- a template of one part: the name is found through the search path
CREATE TABLE public."Order Items_flat" (id int PRIMARY KEY, v text);
SELECT pgconduit._write(wt_rec('create', '"Sales Dept"."Order Items"', 40, 'flat'), '{table}_flat');
SELECT * FROM public."Order Items_flat";

-- a record without schema: {schema} is the current schema, where an
-- unqualified CREATE TABLE would create the table
CREATE SCHEMA wt_other;
CREATE SCHEMA wt_other_copy;
CREATE TABLE wt_other_copy.orders (id int PRIMARY KEY, v text);
SET search_path = wt_other, public;
SELECT pgconduit._write(wt_rec('create', 'orders', 50, 'current schema'), '{schema}_copy.{table}');
SELECT * FROM wt_other_copy.orders;
-- a missing schema first in the path is skipped, as current_schema() does
SET search_path = nosuch, public;
SELECT pgconduit._write(wt_rec('create', 'orders', 51, 'skip missing'), '{schema}_copy.{table}');
SELECT * FROM public_copy.orders WHERE id = 51;
-- no schema at all: an error, not a guess
SET search_path = '';
SELECT pgconduit._write(public.wt_rec('create', 'orders', 52, 'x'), '{schema}_copy.{table}');
SELECT pgconduit._write(public.wt_rec('create', 'orders', 52, 'x'), 'archive.{table}');
SELECT * FROM archive.orders WHERE id = 52;
RESET search_path;
-- opencdc.collection (no metadata.table): the exact table name, no schema
SELECT pgconduit._write('{"operation": "create", "metadata": {"opencdc.collection": "Order Items"},
	"key": {"id": 60}, "payload": {"after": {"v": "collection"}}}', 'archive.{table}');
SELECT * FROM archive."Order Items" WHERE id = 60;

-- the resolved table must exist; the error names it
SELECT pgconduit._write(wt_rec('create', 'public.nosuch', 1, 'x'), 'archive.{table}');
-- a resolved name longer than 63 bytes is an error, never cut short
SELECT pgconduit._write(wt_rec('create', 'public.' || repeat('x', 60), 1, 'x'), 'archive.{table}_hist');
-- a record's table name that does not parse
SELECT pgconduit._write(wt_rec('create', 'a.b.c.d', 1, 'x'), 'archive.{table}');
SELECT pgconduit._write(wt_rec('create', '"unclosed', 1, 'x'), 'archive.{table}');
-- an error names the record and the table it resolved to
SELECT pgconduit._write(jsonb_build_array(
	wt_rec('create', 'public.orders', 70, 'ok'),
	wt_rec('create', 'public.orders', 71, NULL) || '{"payload": {"after": {"nosuch": 1}}}'),
	'archive.{table}');
SELECT count(*) FROM archive.orders WHERE id IN (70, 71);

-- templates that are not valid: errors naming the parameter
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), 'archive.{tabel}');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), 'archive.{table');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), 'archive.table}');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), 'archive.{{table}}');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), 'a.b.{table}');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), '.{table}');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), 'archive."{table}');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), 'archive.{table} x');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), 'archive.1{table}');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), 'archive.{table}"_V2"');
SELECT pgconduit._write(wt_rec('create', 'public.orders', 1, 'x'), 'archive.' || repeat('y', 60) || '{table}');

-- a fixed name works as before: every record goes to that table
CREATE TABLE wt_merged (id int PRIMARY KEY, v text);
SELECT pgconduit._write(jsonb_build_array(
	wt_rec('create', 'public.orders', 80, 'one'),
	wt_rec('create', '"Sales Dept"."Order Items"', 81, 'two')), 'wt_merged');
SELECT * FROM wt_merged ORDER BY id;

-- the pipeline's path: _apply_batch() with a template
SELECT applied, dead_letters, failed_position, err_message
  FROM pgconduit._apply_batch('wt-id', 'wt', jsonb_build_array(
	wt_rec('create', 'public.orders', 90, 'batch') || '{"position": "p1"}',
	wt_rec('create', '"Sales Dept"."Order Items"', 91, 'batch') || '{"position": "p2"}'),
	'archive.{table}', 'halt', 'cdc', 'p2');
SELECT * FROM archive.orders WHERE id = 90;
SELECT * FROM archive."Order Items" WHERE id = 91;
-- a record that resolves to no table: reported with its resolved name;
-- with halt nothing of the batch is applied, nor its progress
SELECT applied, failed_position, failed_table, err_message
  FROM pgconduit._apply_batch('wt-id', 'wt', jsonb_build_array(
	wt_rec('create', 'public.orders', 92, 'batch') || '{"position": "p3"}',
	wt_rec('create', 'public.nosuch', 93, 'batch') || '{"position": "p4"}'),
	'archive.{table}', 'halt', 'cdc', 'p4');
SELECT position FROM pgconduit.progress WHERE pipeline_id = 'wt-id';
-- the table reported: the template filled in, or the template itself when
-- the record's name cannot fill it in
SELECT pgconduit._target_table('archive.{table}', wt_rec('create', '"Sales Dept"."Order Items"', 1, 'x'));
SELECT pgconduit._target_table('{schema}_x."{table}"', '{"metadata": {"opencdc.collection": "A b"}}');
SELECT pgconduit._target_table('archive.{table}', wt_rec('create', 'a.b.c.d', 1, 'x'));
SELECT pgconduit._target_table('archive.{table}', '{"metadata": 1}');
SELECT pgconduit._target_table('archive.fixed', wt_rec('create', 'public.orders', 1, 'x'));
SELECT pgconduit._target_table(NULL, wt_rec('create', 'public.orders', 1, 'x'));
SELECT pgconduit._target_table(NULL, '{"metadata": {"opencdc.collection": "orders"}}');
SELECT pgconduit._target_table(NULL, '{}') IS NULL AS no_name;
DELETE FROM pgconduit.progress WHERE pipeline_id = 'wt-id';

-- destination connectors: the template is checked when stored
SELECT pgconduit.create_destination('wt_ok1', '{"url": "dbname=x", "table": "archive.{table}"}');
SELECT pgconduit.create_destination('wt_ok2', '{"url": "dbname=x", "table": "{schema}_copy.{table}"}');
SELECT pgconduit.create_destination('wt_ok3', '{"url": "dbname=x", "table": "{schema}.{table}_hist"}');
SELECT pgconduit.create_destination('wt_ok4', '{"url": "dbname=x", "table": "\"Archive\".\"{table} {{v2}}\""}');
SELECT pgconduit.create_destination('wt_bad', '{"url": "dbname=x", "table": "archive.{tabel}"}');
SELECT pgconduit.create_destination('wt_bad', '{"url": "dbname=x", "table": "archive.{table"}');
SELECT pgconduit.create_destination('wt_bad', '{"url": "dbname=x", "table": "archive.table}"}');
SELECT pgconduit.create_destination('wt_bad', '{"url": "dbname=x", "table": "a.b.{table}"}');
SELECT pgconduit.create_destination('wt_bad', '{"url": "dbname=x", "table": "{table}."}');
SELECT pgconduit.create_destination('wt_bad', '{"url": "dbname=x", "table": "archive.{table}-x"}');
SELECT pgconduit.create_destination('wt_bad', '{"url": "dbname=x", "table": "\"\".{table}"}');
SELECT pgconduit.create_destination('wt_bad', jsonb_build_object('url', 'dbname=x',
	'table', 'archive.' || repeat('z', 63) || '{table}'));
SELECT pgconduit.alter_connector('wt_ok1', '{"url": "dbname=x", "table": "{nope}"}');
SELECT name, config->>'table' AS "table" FROM pgconduit.connectors WHERE name LIKE 'wt%' ORDER BY name;
SELECT pgconduit.drop_connector(name) FROM pgconduit.connectors WHERE name LIKE 'wt%';

-- a pipeline of one table with a template: its records go to the
-- resolved table, the snapshot and the changes alike
CREATE TABLE wt_src (id int PRIMARY KEY, v text);
CREATE TABLE archive.wt_src (id int PRIMARY KEY, v text);
INSERT INTO wt_src SELECT g, 'row ' || g FROM generate_series(1, 100) g;
SELECT pgconduit.create_source('wt_s', jsonb_build_object('table', 'wt_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('wt_d', jsonb_build_object('table', 'archive.{table}',
	'url', 'dbname=' || current_database(), 'batch_size', 16));
SELECT pgconduit.create_pipeline('wt', 'wt_s', 'wt_d');
SELECT pgconduit.wait_for_pipeline('wt');
SELECT count(*) FROM archive.wt_src;
UPDATE wt_src SET v = 'changed' WHERE id <= 10;
DELETE FROM wt_src WHERE id > 90;
INSERT INTO wt_src VALUES (200, 'new');
SELECT pgconduit.wait_for_pipeline('wt');
SELECT count(*), count(*) FILTER (WHERE v = 'changed') AS changed FROM archive.wt_src;
SELECT * FROM archive.wt_src WHERE id = 200;
-- a renamed source table keeps writing where it wrote before
ALTER TABLE wt_src RENAME TO wt_src_renamed;
INSERT INTO wt_src_renamed VALUES (201, 'after rename');
SELECT pgconduit.wait_for_pipeline('wt');
SELECT * FROM archive.wt_src WHERE id = 201;
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'wt';
SELECT pgconduit.drop_pipeline('wt');
SELECT pgconduit.drop_connector('wt_s');
SELECT pgconduit.drop_connector('wt_d');
DROP TABLE wt_src_renamed;

DROP SCHEMA archive, "Archive", "Sales Dept", "Sales Dept_copy", public_copy, "we""ird.schema",
	wt_other, wt_other_copy CASCADE;
DROP TABLE public.orders_hist, public."Order Items_flat", wt_merged, wt_victim;
DROP FUNCTION wt_rec(text, text, int, text);
