-- pgconduit.write(): hostile table and column names work and inject nothing
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Order ""Items"".v2" (
	"select" int,
	"Key; DROP TABLE victim; --" text,
	"a.b" int,
	"Größe" text,
	"  " text,
	"x'y" text,
	PRIMARY KEY ("select", "Key; DROP TABLE victim; --")
);
CREATE TABLE victim (id int);

-- metadata.table as the output plugin writes it: quoted where needed
SELECT pgconduit.write(jsonb_build_array(
	jsonb_build_object('operation', 'create',
		'metadata', jsonb_build_object('table', '"Odd Schema"."Order ""Items"".v2"'),
		'key', jsonb_build_object('select', 1, 'Key; DROP TABLE victim; --', 'k''1'),
		'payload', jsonb_build_object('after', jsonb_build_object(
			'a.b', 2, 'Größe', 'groß', '  ', 'spaces', 'x''y', '"); DROP TABLE victim; --'))),
	jsonb_build_object('operation', 'update',
		'metadata', jsonb_build_object('table', '"Odd Schema"."Order ""Items"".v2"'),
		'key', jsonb_build_object('select', 1, 'Key; DROP TABLE victim; --', 'k''1'),
		'payload', jsonb_build_object('after', jsonb_build_object('a.b', 3)))));
SELECT * FROM "Odd Schema"."Order ""Items"".v2";
SELECT pgconduit.write(jsonb_build_object('operation', 'delete',
	'metadata', jsonb_build_object('table', '"Odd Schema"."Order ""Items"".v2"'),
	'key', jsonb_build_object('select', 1, 'Key; DROP TABLE victim; --', 'k''1')));
SELECT count(*) FROM "Odd Schema"."Order ""Items"".v2";
SELECT pgconduit.write(jsonb_build_object('operation', 'truncate',
	'metadata', jsonb_build_object('table', '"Odd Schema"."Order ""Items"".v2"')));

-- unquoted names fold to lower case, as in SQL
CREATE TABLE "MixedCase" (id int PRIMARY KEY, "Val" text);
CREATE TABLE mixedcase (id int PRIMARY KEY, "Val" text);
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "\"MixedCase\""}, "key": {"id": 1}, "payload": {"after": {"Val": "quoted"}}},
	{"operation": "create", "metadata": {"table": "MixedCase"}, "key": {"id": 1}, "payload": {"after": {"Val": "folded"}}},
	{"operation": "create", "metadata": {"opencdc.collection": "MixedCase"}, "key": {"id": 2}, "payload": {"after": {"Val": "collection, as is"}}}
]');
SELECT * FROM "MixedCase" ORDER BY id;
SELECT * FROM mixedcase ORDER BY id;
-- column names are matched exactly
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "mixedcase"}, "key": {"id": 3}, "payload": {"after": {"val": "x"}}}');

-- names that try to break out of the generated SQL are just unknown names
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "victim; DROP TABLE victim"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"opencdc.collection": "victim\"; DROP TABLE victim; --"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "victim"}, "payload": {"after": {"id) VALUES (1); DROP TABLE victim; --": 1}}}');
SELECT count(*) FROM victim;

-- the search path decides unqualified names, like regclass
CREATE SCHEMA other;
CREATE TABLE other.victim (id int, note text);
SET search_path = other, public;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "victim"}, "payload": {"after": {"id": 1, "note": "other"}}}');
RESET search_path;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "victim"}, "payload": {"after": {"id": 2}}}');
SELECT * FROM other.victim;
SELECT * FROM public.victim;

DROP SCHEMA "Odd Schema" CASCADE;
DROP SCHEMA other CASCADE;
DROP TABLE "MixedCase", mixedcase, victim;
