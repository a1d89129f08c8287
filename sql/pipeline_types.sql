-- Every built-in type arrives byte for byte (::text of each column) by each
-- path: the snapshot by COPY, the snapshot by records, and CDC; also the
-- values to_jsonb() cannot express (a float's -0, a JSON null in a json or
-- jsonb column or array, json text that jsonb would change, array bounds)
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE ty_src (
	id int PRIMARY KEY,
	bo bool, i2 int2, i4 int4, i8 int8, nu numeric, ns numeric(12,4), f4 float4, f8 float8,
	tx text, vc varchar(20), bc char(6), nm name, ch "char", by bytea,
	dt date, tm time, tz timetz, ts timestamp, tt timestamptz, iv interval,
	uu uuid, ip inet, cd cidr, ma macaddr, m8 macaddr8, bt bit(4), vb varbit,
	js json, jb jsonb, jp jsonpath, xm xml, tv tsvector, tq tsquery,
	po point, li line, ls lseg, bx box, pa path, pg polygon, ci circle,
	r4 int4range, r8 int8range, rn numrange, rd daterange, rs tsrange, rt tstzrange,
	m4 int4multirange, mn nummultirange, md datemultirange,
	oi oid, rc regclass, ry regtype, rp regproc, rs2 regnamespace, rf regconfig,
	ro regoperator, rpp regprocedure, rco regcollation, rd2 regdictionary, rx refcursor,
	lsn pg_lsn, xs txid_snapshot, ps pg_snapshot, x8 xid8, xi xid, cx cid, ti tid,
	i2v int2vector, ov oidvector,
	ai int4[], at text[], af float8[], an numeric[], ajb jsonb[], ajs json[], ad date[],
	att timestamptz[], ab bool[], aby bytea[], ain inet[], au uuid[], apo point[],
	ar4 int4range[], aiv interval[]);
ALTER TABLE ty_src REPLICA IDENTITY FULL;

-- ordinary values, edge values, NULLs, more edge values
INSERT INTO ty_src VALUES
(1, true, 1, 2, 3, 1.5, 2.5000, 1.1, 2.2, 'text', 'varchar', 'char', 'name', 'c', '\xdeadbeef',
 '2024-02-29', '12:34:56.789', '12:34:56+02', '2024-02-29 12:34:56.123456',
 '2024-02-29 12:34:56.123456+00', '1 year 2 mons 3 days 04:05:06.5',
 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
 '08:00:2b:01:02:03:04:05', B'1010', B'101',
 '{"b": 1, "a": [1, 2]}', '{"b": 1, "a": [1, 2]}', '$.a[*] ? (@ > 1)', '<a>x</a>',
 'a:1 fat:2B cat', 'fat & (rat | cat)',
 '(1,2)', '{1,2,3}', '[(1,2),(3,4)]', '(1,2),(3,4)', '((1,2),(3,4))', '((1,2),(3,4),(5,6))',
 '<(1,2),3>', '[1,10)', '[1,10)', '(1.5,2.5]', '[2024-01-01,2024-02-01)',
 '[2024-01-01 00:00,2024-01-02 00:00)', '[2024-01-01 00:00+00,2024-01-02 00:00+00)',
 '{[1,3),[5,7)}', '{[1.5,2)}', '{[2024-01-01,2024-01-05)}',
 '12345', 'pg_class', 'int4', 'int4in', 'pg_catalog', 'english',
 '+(integer,integer)', 'int4in(cstring)', '"C"', 'simple', 'cursor 1',
 '16/B374D848', '10:20:10,14,15', '10:20:10,14,15', '123456789', '42', '7', '(1,2)', '1 2', '1 2',
 '{1,2,3}', '{a,"b c","NULL",NULL,""}', '{1.5,-2.5}', '{1.1,2}', '{"{\"a\": 1}",NULL}',
 '{"[1, 2]"}', '{2024-01-01,2024-12-31}', '{"2024-01-01 00:00+00"}', '{t,f}', '{"\\x00ff"}',
 '{10.0.0.1}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{"(1,2)"}', '{"[1,2)"}', '{"1 day"}'),
(2, false, -32768, -2147483648, -9223372036854775808, 'NaN', -0.0000, '-0', '-0',
 E'quote" backslash\\ newline\n tab\t \u00e9 NULL', '', ' ', '', '"', '\x00ff00',
 'infinity', '24:00:00', '00:00:00-15:59', '-infinity', 'infinity', '-178000000 years',
 '00000000-0000-0000-0000-000000000000', '::ffff:1.2.3.4', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff',
 '00:00:00:00:00:00:00:00', B'0000', B'',
 'null', 'null', '$', '<r a="1">&amp;</r>', '', '!a',
 '(-0,-0)', '{1,-1,0}', '[(0,0),(0,0)]', '(0,0),(0,0)', '[(0,0)]', '((0,0))', '<(0,0),0>',
 'empty', '(,)', '[-Infinity,Infinity]', '[-infinity,infinity]', '(,)', 'empty',
 '{}', '{(,)}', '{}',
 '0', '-', '-', '-', '-', 'simple', '0', '0', '0', '0', '',
 '0/0', '1:1:', '1:1:', '0', '0', '0', '(0,0)', '', '',
 '[0:2]={1,2,3}', '{"NULL",NULL,"","\""}', '{-0,NaN,Infinity,-Infinity}', '{NaN,Infinity}',
 '{"null",NULL,"{\"a\": null}"}', '{"null","{\"b\":1,  \"a\":2}"}', '[-1:0]={2024-01-01,infinity}',
 '{infinity,NULL}', '{{t,f},{f,t}}', '{"\\x"}', '{}', '{NULL}', '{"(-0,1)"}', '{empty,"[1,2)"}',
 '[2:2][3:4]={{"1 day","2 days"}}'),
(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(4, true, 32767, 2147483647, 9223372036854775807, '-Infinity', 99999999.9999, 'Infinity', '4.9e-324',
 repeat('long ', 1000), 'x', 'abcdef', repeat('n', 63), 'z', '\x',
 '4713-01-01 BC', '00:00:00', '23:59:59.999999+15:59', '0044-03-15 12:00:00 BC',
 '10000-01-01 00:00:00+00', '1 mon -1 day -00:00:00.000001',
 'ffffffff-ffff-ffff-ffff-ffffffffffff', '::1', '::/0', '00:00:00:00:00:00',
 'ff:ff:ff:ff:ff:ff:ff:ff', B'1111', repeat('1', 100)::varbit,
 '{"b":1,  "a":2, "a":3, "c":"\u0000"}', '{"a": null, "b": [null, {"c": null}], "n": -0.0}',
 'strict $.a', '<?xml version="1.0" standalone="yes"?><r/>', 'b:2A,3 a:1', 'a <-> b',
 '(1e-300,1e300)', '{0,1,-0}', '[(1.5,2.5),(-1,-1)]', '(1e10,1e10),(-1e10,-1e10)',
 '((1,1),(2,2),(3,1))', '((0,0),(1e-10,1e-10))', '<(0,0),1e-300>',
 '[-2147483648,2147483647)', '[-9223372036854775808,9223372036854775807)',
 '[0.000000001,1e20)', '[4713-01-01 BC,5874897-12-30]', '[-infinity,infinity)', '(,infinity]',
 '{[1,2),[3,4),[5,6)}', '{[NaN,NaN]}', '{(,2024-01-01),[2024-06-01,)}',
 '4294967295', 'pg_catalog.pg_type', 'double precision[]', 'pg_catalog.float8in', 'public', 'english',
 '||/(NONE,double precision)', 'pg_catalog.float8in(cstring)', 'pg_catalog."default"', 'english_stem', E'\\x',
 'FFFFFFFF/FFFFFFFF', '1:100:3,5,99', '1:100:3,5,99', '18446744073709551615', '4294967295',
 '4294967295', '(4294967295,65535)', '-1 0 32767', '0 4294967295',
 '{{1,2},{3,4}}', '{"a,b","{c}","\\\\","[0:1]={x}"}', '{1e-300,1.7976931348623157e308,1.1}',
 '{-0.0,1.000}', '{"\"null\"","[null]",NULL}', '{"{\"b\" : null}"}', '{}', '{-infinity}',
 '{{{t}}}', '{"\\xdead",NULL}', '{::1,NULL}', '{}', '{NULL,"(1e300,-1e-300)"}',
 '[-5:-5]={"(,)"}', '{"-1 years"}');

-- types of this database: enums, composites, domains, a range over float8,
-- money (which COPY leaves to records)
CREATE TYPE ty_mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE ty_comp AS (f float8, j jsonb, a int[], t text);
CREATE DOMAIN ty_pos AS int CHECK (VALUE > 0);
CREATE DOMAIN ty_djb AS jsonb;
CREATE DOMAIN ty_dfa AS float8[];
CREATE TYPE ty_frange AS RANGE (subtype = float8);
CREATE TABLE ty_usr (id int PRIMARY KEY, mo money, e ty_mood, ea ty_mood[], c ty_comp,
	ca ty_comp[], dp ty_pos, dj ty_djb, dfa ty_dfa, fr ty_frange);
ALTER TABLE ty_usr REPLICA IDENTITY FULL;
INSERT INTO ty_usr VALUES
(1, 12.34, 'ok', '{sad,happy}', '(1.5,"{\"a\": 1}","{1,2}",x)', '{"(1,,,)"}', 1, '{"k": 1}',
 '{1.5}', '[1.5,2.5)'),
(2, -0.01, 'sad', '[0:1]={ok,sad}', '(-0,null,"[0:1]={1,2}","")', '{"(-0,null,,)",NULL}',
 2147483647, 'null', '{-0}', '[-0,0]'),
(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(4, '-92233720368547758.08', 'happy', '{}', '(NaN,"{\"a\": [null]}",,"NULL")', '{}', 5, '[null]',
 '[5:5]={2}', 'empty'),
(5, 0, 'ok', '{ok}', '(1,"{\"a\": 1}","{{1},{2}}",y)', '{"(2,\"{\\\"b\\\": 2}\",{3},z)"}', 6,
 '"text"', '{}', '(,1e-300]');

-- the destinations: empty (its snapshot by COPY), not empty (by records)
CREATE TABLE ty_dst_copy (LIKE ty_src INCLUDING ALL);
CREATE TABLE ty_dst_rec (LIKE ty_src INCLUDING ALL);
INSERT INTO ty_dst_rec (id) VALUES (-1);
CREATE TABLE ty_usr_dst (LIKE ty_usr INCLUDING ALL);

-- which path each snapshot takes
CREATE FUNCTION ty_copy_target(src regclass, dst text) RETURNS boolean LANGUAGE sql AS $$
	SELECT pgconduit._copy_target(dst, array_agg(attname::text ORDER BY attnum),
		array_agg(format_type(atttypid, atttypmod) ORDER BY attnum), '{id}') IS NOT NULL
	  FROM pg_attribute WHERE attrelid = src AND attnum > 0 AND NOT attisdropped
$$;
BEGIN;
SELECT ty_copy_target('ty_src', 'ty_dst_copy') AS copy, ty_copy_target('ty_src', 'ty_dst_rec') AS rec_copy,
	   ty_copy_target('ty_usr', 'ty_usr_dst') AS usr_copy;
ROLLBACK;

-- columns whose text differs between source and destination, by id
CREATE FUNCTION ty_diff(src regclass, dst regclass)
RETURNS TABLE (id int, col name, source text, destination text) LANGUAGE plpgsql AS $$
DECLARE
	a name;
BEGIN
	FOR a IN SELECT attname FROM pg_attribute WHERE attrelid = src AND attnum > 0
			   AND NOT attisdropped ORDER BY attnum
	LOOP
		RETURN QUERY EXECUTE format(
			'SELECT coalesce(s.id, d.id), %L::name, left(s.%I::text, 60), left(d.%I::text, 60)
			   FROM %s s FULL JOIN %s d ON s.id = d.id
			  WHERE coalesce(d.id, 0) <> -1
			    AND (s.id IS NULL OR d.id IS NULL OR s.%I::text IS DISTINCT FROM d.%I::text)',
			a, a, a, src, dst, a, a);
	END LOOP;
END $$;

-- a slot to show the forms pgconduit_output sends
SELECT 'init' FROM pg_create_logical_replication_slot('ty_forms', 'pgconduit_output');

SELECT pgconduit.create_source(n, jsonb_build_object('table', t, 'url', 'dbname=' || current_database()))
  FROM (VALUES ('ty_s1', 'ty_src'), ('ty_s2', 'ty_src'), ('ty_s3', 'ty_usr')) v(n, t);
SELECT pgconduit.create_destination(n, jsonb_build_object('table', t, 'url', 'dbname=' || current_database()))
  FROM (VALUES ('ty_d1', 'ty_dst_copy'), ('ty_d2', 'ty_dst_rec'), ('ty_d3', 'ty_usr_dst')) v(n, t);
SELECT pgconduit.create_pipeline('ty_copy', 'ty_s1', 'ty_d1');
SELECT pgconduit.create_pipeline('ty_rec', 'ty_s2', 'ty_d2');
SELECT pgconduit.create_pipeline('ty_usr', 'ty_s3', 'ty_d3');

-- the snapshots
SELECT pgconduit.wait_for_pipeline('ty_copy'), pgconduit.wait_for_pipeline('ty_rec'),
	   pgconduit.wait_for_pipeline('ty_usr');
SELECT count(*) FROM ty_dst_copy;
SELECT * FROM ty_diff('ty_src', 'ty_dst_copy');
SELECT * FROM ty_diff('ty_src', 'ty_dst_rec');
SELECT * FROM ty_diff('ty_usr', 'ty_usr_dst');

-- CDC: the same rows again, then updates to values to_jsonb() would lose,
-- and away from them, and a delete
CREATE TEMP TABLE ty_again AS SELECT * FROM ty_src;
UPDATE ty_again SET id = id + 10;
INSERT INTO ty_src SELECT * FROM ty_again ORDER BY id;
CREATE TEMP TABLE ty_usr_again AS SELECT * FROM ty_usr;
UPDATE ty_usr_again SET id = id + 10;
INSERT INTO ty_usr SELECT * FROM ty_usr_again ORDER BY id;
UPDATE ty_src SET js = 'null', jb = 'null', ai = '[5:6]={1,2}', f8 = '-0', ajb = '{"null"}'
 WHERE id = 11;
UPDATE ty_src SET js = '{"x" :1}', jb = '{"x": null}', ai = '{1}', f8 = 0 WHERE id = 12;
DELETE FROM ty_src WHERE id = 13;
UPDATE ty_usr SET c = '(-0,null,{1},)', dj = 'null' WHERE id = 11;
UPDATE ty_usr SET dj = '{}' WHERE id = 12;
SELECT pgconduit.wait_for_pipeline('ty_copy'), pgconduit.wait_for_pipeline('ty_rec'),
	   pgconduit.wait_for_pipeline('ty_usr');
SELECT count(*) FROM ty_dst_copy;
SELECT * FROM ty_diff('ty_src', 'ty_dst_copy');
SELECT * FROM ty_diff('ty_src', 'ty_dst_rec');
SELECT * FROM ty_diff('ty_usr', 'ty_usr_dst');
SELECT pipeline, state, last_error FROM pgconduit.status ORDER BY pipeline;

-- a jsonb key that is JSON null, in creates, updates and deletes
CREATE TABLE ty_jk (k jsonb PRIMARY KEY, v int);
CREATE TABLE ty_jk_dst (LIKE ty_jk INCLUDING ALL);
INSERT INTO ty_jk VALUES ('null', 1), ('"null"', 2), ('[1]', 3), ('{"a": null}', 4);
SELECT pgconduit.create_source('ty_s4', jsonb_build_object('table', 'ty_jk', 'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('ty_d4', jsonb_build_object('table', 'ty_jk_dst', 'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('ty_jk', 'ty_s4', 'ty_d4');
SELECT pgconduit.wait_for_pipeline('ty_jk');
INSERT INTO ty_jk VALUES ('[null]', 5);
UPDATE ty_jk SET v = 10 WHERE k = 'null';
DELETE FROM ty_jk WHERE k = 'null';
UPDATE ty_jk SET k = 'null', v = 30 WHERE k = '"null"';
DELETE FROM ty_jk WHERE k = '[1]';
SELECT pgconduit.wait_for_pipeline('ty_jk');
SELECT k, v FROM ty_jk_dst ORDER BY v;
SELECT (SELECT array_agg(k::text || '=' || v ORDER BY v) FROM ty_jk) IS NOT DISTINCT FROM
       (SELECT array_agg(k::text || '=' || v ORDER BY v) FROM ty_jk_dst) AS same;

-- the forms: "-0", text forms of arrays and composites, json and jsonb
-- text named in postgres.json_as_text
SELECT data::jsonb ->> 'operation' AS op, data::jsonb #> '{key,id}' AS id,
	   data::jsonb #> '{metadata,postgres.json_as_text}' AS json_as_text,
	   data::jsonb #> '{payload,after,f8}' AS f8, data::jsonb #> '{payload,after,js}' AS js,
	   data::jsonb #> '{payload,after,jb}' AS jb, data::jsonb #> '{payload,after,ai}' AS ai,
	   data::jsonb #> '{payload,after,ajb}' AS ajb, data::jsonb #> '{payload,before,jb}' AS before_jb
  FROM pg_logical_slot_peek_changes('ty_forms', NULL, NULL, 'tables', 'ty_src')
 WHERE data::jsonb #>> '{key,id}' IN ('11', '12', '13', '14');
SELECT data::jsonb #> '{key,id}' AS id,
	   data::jsonb #> '{metadata,postgres.json_as_text}' AS json_as_text,
	   data::jsonb #> '{payload,after,c}' AS c, data::jsonb #> '{payload,after,ca}' AS ca,
	   data::jsonb #> '{payload,after,dj}' AS dj, data::jsonb #> '{payload,after,dfa}' AS dfa
  FROM pg_logical_slot_peek_changes('ty_forms', NULL, NULL, 'tables', 'ty_usr')
 WHERE data::jsonb ->> 'operation' = 'create';
SELECT data::jsonb ->> 'operation' AS op, data::jsonb -> 'key' AS key,
	   data::jsonb #> '{metadata,postgres.json_as_text}' AS json_as_text
  FROM pg_logical_slot_peek_changes('ty_forms', NULL, NULL, 'tables', 'ty_jk');
SELECT pg_drop_replication_slot('ty_forms');

-- pgconduit.write() reads the same forms
CREATE TABLE ty_w (id int PRIMARY KEY, j json, jb jsonb, dj ty_djb, f float8, a int[], c ty_comp);
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "ty_w",
	"postgres.json_as_text": "[\"j\", \"jb\", \"dj\"]"}, "key": {"id": 1},
	"payload": {"after": {"id": 1, "j": "{\"b\":1,  \"a\":2}", "jb": "null", "dj": "null",
	"f": "-0", "a": "[0:1]={1,2}", "c": "(-0,null,,)"}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "ty_w"}, "key": {"id": 2},
	"payload": {"after": {"id": 2, "j": "null", "jb": "null", "dj": null}}}');
SELECT id, j, jb, jb IS NULL AS jb_null, dj, dj IS NULL AS dj_null, f, a, c FROM ty_w ORDER BY id;
-- a column named there takes only its text
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "ty_w",
	"postgres.json_as_text": "[\"jb\"]"}, "key": {"id": 3}, "payload": {"after": {"id": 3, "jb": "{x"}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "ty_w",
	"postgres.json_as_text": "\"jb\""}, "key": {"id": 3}, "payload": {"after": {"id": 3}}}');

SELECT pgconduit.drop_pipeline(p) FROM unnest(ARRAY['ty_copy', 'ty_rec', 'ty_usr', 'ty_jk']) p;
SELECT pgconduit.drop_connector(c)
  FROM unnest(ARRAY['ty_s1', 'ty_s2', 'ty_s3', 'ty_s4', 'ty_d1', 'ty_d2', 'ty_d3', 'ty_d4']) c;
DROP TABLE ty_src, ty_dst_copy, ty_dst_rec, ty_usr, ty_usr_dst, ty_w, ty_again, ty_usr_again,
	ty_jk, ty_jk_dst;
DROP FUNCTION ty_diff(regclass, regclass);
DROP FUNCTION ty_copy_target(regclass, text);
DROP TYPE ty_mood, ty_comp, ty_frange;
DROP DOMAIN ty_pos, ty_djb, ty_dfa;
