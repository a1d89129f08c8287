-- pgconduit.write() converts values as jsonb_populate_record does, the
-- inverse of to_jsonb(): every row that to_jsonb() turns into a payload comes
-- back identical
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'très "content"');
CREATE TYPE pair AS (a int, b text);
CREATE TYPE nested AS (p pair, tags text[], m mood);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN short_text AS varchar(5) NOT NULL;
CREATE DOMAIN int_list AS int[] CHECK (cardinality(VALUE) < 5);
CREATE DOMAIN checked_pair AS pair CHECK ((VALUE).a IS NOT NULL);
CREATE TYPE floatrange AS RANGE (subtype = float8);

CREATE TABLE typed (
	id int PRIMARY KEY,
	c_bool boolean, c_int2 smallint, c_int4 int, c_int8 bigint,
	c_num numeric, c_num_typmod numeric(10, 3), c_float4 real, c_float8 double precision,
	c_money money, c_char char(5), c_varchar varchar(10), c_text text, c_name name,
	c_qchar "char", c_bytea bytea, c_date date, c_time time, c_timetz timetz,
	c_ts timestamp, c_tstz timestamptz, c_ts3 timestamp(3), c_interval interval,
	c_uuid uuid, c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
	c_bit bit(4), c_varbit varbit, c_point point, c_line line, c_lseg lseg, c_box box,
	c_path path, c_polygon polygon, c_circle circle,
	c_json json, c_jsonb jsonb, c_xml xml, c_tsvector tsvector, c_tsquery tsquery,
	c_pg_lsn pg_lsn, c_oid oid, c_regtype regtype,
	c_int4range int4range, c_numrange numrange, c_tstzrange tstzrange, c_daterange daterange,
	c_int4multirange int4multirange, c_floatrange floatrange,
	c_int_arr int[], c_int_arr2 int[][], c_text_arr text[], c_num_arr numeric[],
	c_ts_arr timestamptz[], c_jsonb_arr jsonb[], c_bool_arr boolean[], c_bytea_arr bytea[],
	c_mood mood, c_mood_arr mood[], c_pair pair, c_pair_arr pair[], c_nested nested,
	c_posint posint, c_short short_text, c_int_list int_list, c_checked_pair checked_pair
);

INSERT INTO typed VALUES (
	1, true, -32768, 2147483647, -9223372036854775808,
	123456789012345678901234567890.123456789, 3.142, 3.4028235e38, 1.7976931348623157e308,
	'$1,234.56', 'ab', 'hello', E'tab\tnewline\nquote" backslash\\ unicode ☃ 𝄞', 'a name',
	'x', '\x00ff10', '2024-02-29', '23:59:59.999999', '12:00+05:30',
	'2024-01-01 12:34:56.789012', '2024-01-01 12:34:56.789012+02', '1999-12-31 23:59:59.123',
	'1 year 2 mons 3 days 04:05:06.789',
	'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.1.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
	'08:00:2b:01:02:03:04:05', '1010', '10101', '(1.5,2.5)', '{1,2,3}', '[(0,0),(1,1)]',
	'(1,1),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(1,1),2>',
	'{"b": [1, 2.50, null], "a": "x"}', '{"nested": {"k": [true, false, null, 1e-3]}}',
	'<doc a="1">text &amp; more</doc>', 'a fat:1 cat', 'fat & (rat | cat)',
	'16/B374D848', 4294967295, 'integer',
	'[1,10)', '(1.5,2.5]', '[2024-01-01 00:00+00,2024-06-01 00:00+00)', '[2024-01-01,2024-02-01)',
	'{[1,3), [5,7)}', '[1.5,2.5)',
	'{1,NULL,3}', '{{1,2},{3,4}}', E'{"a b","c\\"d",NULL,"","NULL"}', '{1.10,NaN,Infinity,-Infinity}',
	'{"2024-01-01 00:00:00+00",infinity}', E'{"{\\"a\\": 1}",null,"[1, 2]"}', '{t,f,NULL}', '{"\\\\x01",NULL}',
	'très "content"', '{sad,happy}', '(1,"x, y")', '{"(1,a)","(2,)",NULL}',
	'("(7,""q"")","{a,b}",ok)', 7, 'five', '{1,2,3}', '(1,b)'
), (
	2, false, 0, 0, 0, 'NaN', -0.001, 'NaN', '-Infinity',
	'-$0.01', NULL, '', '', '', NULL, '\x', 'infinity', '00:00', '00:00+00',
	'-infinity', 'infinity', NULL, '-1 days -00:00:00.000001',
	NULL, '::1', '::/0', NULL, NULL, '0000', '', '(-1e+20,1e-20)', NULL, NULL, NULL,
	NULL, NULL, NULL,
	'"just a string"', '[]', NULL, '', NULL,
	'0/0', 0, NULL,
	'empty', '[,)', NULL, NULL, '{}', NULL,
	'{}', '{{NULL}}', '{}', '{-0.0,1e-30}', NULL, NULL, NULL, NULL,
	'sad', '{}', '(,)', '{}', '(,,)', 1, '', NULL, '(2,)'
), (
	3, NULL, NULL, NULL, NULL, 'Infinity', NULL, '-Infinity', 'NaN',
	NULL, NULL, NULL, E'\\x41 ''quoted'' $$ dollar $$ ; DROP TABLE typed; --', NULL, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL,
	'null', '"s"', NULL, NULL, NULL,
	NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL, NULL, 'x', NULL, '(3,"")'
);

-- an identical table, filled only through pgconduit.write(to_jsonb(row))
CREATE TABLE typed_copy (LIKE typed INCLUDING ALL);
SELECT pgconduit.write(jsonb_agg(jsonb_build_object(
	'operation', 'snapshot',
	'metadata', jsonb_build_object('table', 'public.typed_copy'),
	'key', jsonb_build_object('id', t.id),
	'payload', jsonb_build_object('before', NULL, 'after', to_jsonb(t))) ORDER BY t.id))
  FROM typed t;

-- row for row, column for column (json has no equality: compare its text)
SELECT a.id, col
  FROM typed a JOIN typed_copy b USING (id),
	   LATERAL (SELECT key AS col FROM jsonb_each(to_jsonb(a)) ja
				 WHERE ja.value IS DISTINCT FROM to_jsonb(b) -> ja.key) d
 ORDER BY 1, 2;
SELECT count(*) AS identical_rows
  FROM typed a JOIN typed_copy b
	ON a.id = b.id
   AND (a.c_bool, a.c_int2, a.c_int4, a.c_int8, a.c_num, a.c_num_typmod, a.c_float4, a.c_float8,
		a.c_money, a.c_char, a.c_varchar, a.c_text, a.c_name, a.c_qchar, a.c_bytea, a.c_date,
		a.c_time, a.c_timetz, a.c_ts, a.c_tstz, a.c_ts3, a.c_interval, a.c_uuid, a.c_inet, a.c_cidr,
		a.c_macaddr, a.c_macaddr8, a.c_bit, a.c_varbit, a.c_jsonb, a.c_tsvector, a.c_tsquery,
		a.c_pg_lsn, a.c_oid, a.c_regtype, a.c_int4range, a.c_numrange, a.c_tstzrange,
		a.c_daterange, a.c_int4multirange, a.c_floatrange, a.c_int_arr, a.c_int_arr2,
		a.c_text_arr, a.c_num_arr, a.c_ts_arr, a.c_jsonb_arr, a.c_bool_arr, a.c_bytea_arr,
		a.c_mood, a.c_mood_arr, a.c_pair, a.c_pair_arr, a.c_nested, a.c_posint, a.c_short,
		a.c_int_list, a.c_checked_pair)
	   IS NOT DISTINCT FROM
	   (b.c_bool, b.c_int2, b.c_int4, b.c_int8, b.c_num, b.c_num_typmod, b.c_float4, b.c_float8,
		b.c_money, b.c_char, b.c_varchar, b.c_text, b.c_name, b.c_qchar, b.c_bytea, b.c_date,
		b.c_time, b.c_timetz, b.c_ts, b.c_tstz, b.c_ts3, b.c_interval, b.c_uuid, b.c_inet, b.c_cidr,
		b.c_macaddr, b.c_macaddr8, b.c_bit, b.c_varbit, b.c_jsonb, b.c_tsvector, b.c_tsquery,
		b.c_pg_lsn, b.c_oid, b.c_regtype, b.c_int4range, b.c_numrange, b.c_tstzrange,
		b.c_daterange, b.c_int4multirange, b.c_floatrange, b.c_int_arr, b.c_int_arr2,
		b.c_text_arr, b.c_num_arr, b.c_ts_arr, b.c_jsonb_arr, b.c_bool_arr, b.c_bytea_arr,
		b.c_mood, b.c_mood_arr, b.c_pair, b.c_pair_arr, b.c_nested, b.c_posint, b.c_short,
		b.c_int_list, b.c_checked_pair);
-- json: to_jsonb normalizes its text (as jsonb does), and a JSON null is SQL
-- NULL, just as for jsonb_populate_record
SELECT a.id, a.c_json AS json_before, b.c_json AS json_after
  FROM typed a JOIN typed_copy b USING (id) ORDER BY 1;
-- the geometric types without equality and xml, compared as text
SELECT count(*) AS identical_text
  FROM typed a JOIN typed_copy b USING (id)
 WHERE (a.c_point::text, a.c_line::text, a.c_lseg::text, a.c_box::text, a.c_path::text,
		a.c_polygon::text, a.c_circle::text, a.c_xml::text)
	   IS NOT DISTINCT FROM
	   (b.c_point::text, b.c_line::text, b.c_lseg::text, b.c_box::text, b.c_path::text,
		b.c_polygon::text, b.c_circle::text, b.c_xml::text);

-- the same as jsonb_populate_record, for every row
SELECT count(*) AS as_populate_record
  FROM typed t, jsonb_populate_record(NULL::typed_copy, to_jsonb(t)) p
  JOIN typed_copy c USING (id)
 WHERE to_jsonb(p) = to_jsonb(c);

-- a value given as its text form (a JSON string) works for every type
CREATE FUNCTION col_text(r typed, col name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v text;
BEGIN
	EXECUTE format('SELECT ($1).%I::text', col) INTO v USING r;
	RETURN v;
END
$$;
TRUNCATE typed_copy;
SELECT pgconduit.write(jsonb_agg(jsonb_build_object('operation', 'create',
	'metadata', jsonb_build_object('table', 'typed_copy'), 'key', jsonb_build_object('id', t.id),
	'payload', jsonb_build_object('after',
		(SELECT jsonb_object_agg(attname, col_text(t, attname))
		   FROM pg_attribute
		  WHERE attrelid = 'typed'::regclass AND attnum > 0
			AND atttypid NOT IN ('json'::regtype, 'jsonb'::regtype))))))
  FROM typed t;
SELECT a.id, key FROM typed a JOIN typed_copy b USING (id), jsonb_each(to_jsonb(a)) ja
 WHERE key NOT IN ('c_json', 'c_jsonb') AND ja.value IS DISTINCT FROM to_jsonb(b) -> key;
DROP FUNCTION col_text(typed, name);

-- what to_jsonb cannot carry: array lower bounds, and a jsonb null (SQL NULL
-- comes back), as with jsonb_populate_record
CREATE TABLE lossy (id int PRIMARY KEY, a int[], j jsonb);
SELECT pgconduit.write(jsonb_build_object('operation', 'create', 'metadata', jsonb_build_object('table', 'lossy'),
	'key', jsonb_build_object('id', 1),
	'payload', jsonb_build_object('after', to_jsonb(r))))
  FROM (SELECT 1 AS id, '[0:1]={7,8}'::int[] AS a, 'null'::jsonb AS j) r;
SELECT a, j IS NULL AS j_is_sql_null FROM lossy;

-- domain constraints are checked, also for nulls and inside arrays and rows
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "typed_copy"}, "key": {"id": 9}, "payload": {"after": {"c_posint": 0}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "typed_copy"}, "key": {"id": 9}, "payload": {"after": {"c_short": null}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "typed_copy"}, "key": {"id": 9}, "payload": {"after": {"c_int_list": [1, 2, 3, 4, 5]}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "typed_copy"}, "key": {"id": 9}, "payload": {"after": {"c_checked_pair": {"b": "no a"}}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "typed_copy"}, "key": {"id": 9}, "payload": {"after": {"c_mood": "angry"}}}');
-- arrays must be rectangular, rows must be objects
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "typed_copy"}, "key": {"id": 9}, "payload": {"after": {"c_int_arr2": [[1, 2], [3]]}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "typed_copy"}, "key": {"id": 9}, "payload": {"after": {"c_int_arr": [[1], 2]}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "typed_copy"}, "key": {"id": 9}, "payload": {"after": {"c_int_arr": 5}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "typed_copy"}, "key": {"id": 9}, "payload": {"after": {"c_pair": [1, "x"]}}}');
-- extra fields of a row are ignored, missing ones are null, as populate does
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "typed_copy"}, "key": {"id": 9},
	"payload": {"after": {"c_short": "s", "c_checked_pair": {"a": 9}, "c_pair": {"b": "only b", "zzz": 1}, "c_pair_arr": [{"a": 1}, null]}}}');
SELECT c_pair, c_pair_arr FROM typed_copy WHERE id = 9;

-- a composite type altered between calls
ALTER TYPE pair ADD ATTRIBUTE c int;
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "typed_copy"}, "key": {"id": 9},
	"payload": {"after": {"c_short": "s", "c_pair": {"a": 1, "b": "x", "c": 3}}}}');
SELECT c_pair FROM typed_copy WHERE id = 9;

DROP TABLE typed, typed_copy, lossy;
DROP DOMAIN posint, short_text, int_list, checked_pair;
DROP TYPE nested, pair, mood, floatrange;
