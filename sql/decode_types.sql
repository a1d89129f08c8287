-- pgconduit_output: every value is what to_jsonb() makes of it in the same
-- session, as jsonb and as text, for built-in and user-defined types; where
-- to_jsonb() would lose something (exact_form), a form that gives the value
-- back exactly: its text as a string (a float's -0, an array with other
-- bounds or holding such a value, a json or jsonb column named in
-- postgres.json_as_text)
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- user-defined types
CREATE TYPE dec_mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE dec_pair AS (a int, b text, c jsonb, d dec_mood[]);
CREATE TYPE dec_outer AS (p dec_pair, q int[], "Zz ""q""" text);
CREATE TYPE dec_order AS (zz int, a int, bb int, "B" int, ab int);
CREATE TYPE dec_dropped AS (a int, b int, c text);
ALTER TYPE dec_dropped DROP ATTRIBUTE b;
CREATE DOMAIN dec_posint AS int CHECK (VALUE > 0);
CREATE DOMAIN dec_text AS text;
CREATE DOMAIN dec_num AS numeric(6,2);
CREATE DOMAIN dec_dpair AS dec_pair;
CREATE DOMAIN dec_intarr AS int[];
CREATE DOMAIN dec_doc AS jsonb;
CREATE DOMAIN dec_ts AS timestamptz;
CREATE TYPE dec_floatrange AS RANGE (subtype = float8);
-- an enum with a cast to json goes through the cast; a composite ignores it
CREATE TYPE dec_jmood AS ENUM ('low', 'high');
CREATE FUNCTION dec_jmood_json(dec_jmood) RETURNS json LANGUAGE sql IMMUTABLE
  AS $$ SELECT json_build_object('level', $1::text, 'z', 1, 'a', 2) $$;
CREATE CAST (dec_jmood AS json) WITH FUNCTION dec_jmood_json(dec_jmood);
CREATE TYPE dec_cpair AS (x int, y int);
CREATE FUNCTION dec_cpair_json(dec_cpair) RETURNS json LANGUAGE sql IMMUTABLE
  AS $$ SELECT '"cast used"'::json $$;
CREATE CAST (dec_cpair AS json) WITH FUNCTION dec_cpair_json(dec_cpair);

-- the cases: a type and values in its input syntax
CREATE TEMP TABLE cases (typ text, val text);
INSERT INTO cases VALUES
  ('boolean', 't'),
  ('boolean', 'f'),
  ('smallint', '0'),
  ('smallint', '32767'),
  ('smallint', '-32768'),
  ('integer', '2147483647'),
  ('integer', '-2147483648'),
  ('integer', '0'),
  ('bigint', '9223372036854775807'),
  ('bigint', '-9223372036854775808'),
  ('real', '0'),
  ('real', '-0'),
  ('real', '1.5'),
  ('real', '0.1'),
  ('real', '3.4028235e38'),
  ('real', '1e-45'),
  ('real', '1e-7'),
  ('real', 'NaN'),
  ('real', 'Infinity'),
  ('real', '-Infinity'),
  ('double precision', '0'),
  ('double precision', '-0'),
  ('double precision', '0.1'),
  ('double precision', '123456.789'),
  ('double precision', '1e30'),
  ('double precision', '1e-7'),
  ('double precision', '1.7976931348623157e308'),
  ('double precision', '5e-324'),
  ('double precision', '-2.5e-10'),
  ('double precision', 'NaN'),
  ('double precision', 'Infinity'),
  ('double precision', '-Infinity'),
  ('numeric', '0'),
  ('numeric', '0.00'),
  ('numeric', '1.50'),
  ('numeric', '-0.0001'),
  ('numeric', '1e30'),
  ('numeric', '1e-20'),
  ('numeric', '123456789012345678901234567890.123456789'),
  ('numeric', '-99999.9999'),
  ('numeric', '10000'),
  ('numeric', '0.1000'),
  ('numeric', '9999.9999e10'),
  ('numeric', 'NaN'),
  ('numeric', 'Infinity'),
  ('numeric', '-Infinity'),
  ('numeric(10,3)', '1.5'),
  ('numeric(10,3)', '-7'),
  ('money', '12.34'),
  ('money', '-1000000.5'),
  ('bytea', '\x'),
  ('bytea', '\x00ff41'),
  ('bytea', 'abc'),
  ('character(5)', 'ab'),
  ('character(5)', 'a"b'),
  ('character varying(10)', 'x"y'),
  ('character varying(10)', ''),
  ('text', NULL),
  ('name', 'some name'),
  ('"char"', 'x'),
  ('oid', '4294967295'),
  ('date', '2024-02-29'),
  ('date', 'infinity'),
  ('date', '-infinity'),
  ('date', '0001-01-01 BC'),
  ('date', '5874897-12-31'),
  ('time', '00:00'),
  ('time', '23:59:59.999999'),
  ('time', '24:00'),
  ('timetz', '12:00+05:30'),
  ('timetz', '01:02:03.5-08'),
  ('timestamp', '2024-01-01 00:00:00'),
  ('timestamp', '2024-01-01 12:34:56.789'),
  ('timestamp', 'infinity'),
  ('timestamp', '-infinity'),
  ('timestamp', '4713-01-01 00:00 BC'),
  ('timestamp', '294276-12-31 23:59:59.999999'),
  ('timestamptz', '2024-01-01 00:00:00+00'),
  ('timestamptz', '2024-03-10 06:59:59+00'),
  ('timestamptz', '2024-03-10 07:00:00+00'),
  ('timestamptz', '2024-11-03 06:30:00.123+00'),
  ('timestamptz', '1850-01-01 00:00:00+00'),
  ('timestamptz', '1901-12-13 20:45:52+00'),
  ('timestamptz', '2024-06-01 12:00:00.5+02'),
  ('timestamptz', 'infinity'),
  ('timestamptz', '-infinity'),
  ('timestamptz', '0044-03-15 12:00:00+00 BC'),
  ('timestamptz', '294276-12-30 23:59:59.999999+00'),
  ('timestamptz', '4714-11-25 00:00:00+00 BC'),
  ('interval', '1 year 2 mons 3 days 04:05:06.789'),
  ('interval', '-1 day'),
  ('interval', '0'),
  ('interval', '-178956970 years -8 mons'),
  ('uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
  ('inet', '192.168.0.1/24'),
  ('inet', '::1'),
  ('inet', '2001:db8::1/64'),
  ('cidr', '10.0.0.0/8'),
  ('macaddr', '08:00:2b:01:02:03'),
  ('macaddr8', '08:00:2b:01:02:03:04:05'),
  ('bit(4)', '1010'),
  ('bit varying', '10101'),
  ('bit varying', ''),
  ('point', '(1,2)'),
  ('box', '(1,2),(3,4)'),
  ('circle', '<(1,2),3>'),
  ('tsvector', 'a fat cat'),
  ('tsquery', 'fat & cat'),
  ('pg_lsn', '16/B374D848'),
  ('xml', '<a x="1">t&amp;</a>'),
  ('json', '{"b": 1, "a": [1, 2.50, "x"], "b": 2}'),
  ('json', '"str"'),
  ('json', '1e3'),
  ('json', 'null'),
  ('json', '[]'),
  ('json', '  {"n": {"k": "v\u00e9"}}  '),
  ('jsonb', '{"b": 1, "a": [1, 2.50, {"c": null}]}'),
  ('jsonb', '"str"'),
  ('jsonb', '1.0e2'),
  ('jsonb', 'true'),
  ('jsonb', 'null'),
  ('jsonb', '[]'),
  ('jsonb', '{}'),
  ('jsonb', '{"k": "a\"b\\c\n\u0001"}'),
  ('jsonb', '[[], {}, [[1]], -0.5e-3]'),
  ('jsonb', '{"aaa": 1, "b": 2, "cc": {"é": "日本", "a": false}}'),
  ('integer[]', '{1,NULL,3}'),
  ('integer[]', '{}'),
  ('integer[]', '{{1,2},{3,4}}'),
  ('integer[]', '[0:1]={5,6}'),
  ('integer[]', '{{{1},{2}},{{3},{4}}}'),
  ('text[]', '{"a\"b",NULL,"c d",""}'),
  ('text[]', '{}'),
  ('numeric[]', '{1.50,NaN,Infinity}'),
  ('double precision[]', '{1e30,-0,NaN}'),
  ('timestamptz[]', '{"2024-01-01 00:00:00+00",infinity}'),
  ('date[]', '{2024-01-01,NULL}'),
  ('jsonb[]', '{"{\"b\": 1, \"a\": 2}","[1, 2]","\"s\"",NULL}'),
  ('json[]', '{"{\"b\": 1, \"b\": 2}","3"}'),
  ('boolean[]', '{t,f}'),
  ('bytea[]', '{"\\x0102"}'),
  ('uuid[]', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'),
  ('int4range', '[1,10)'),
  ('int4range', 'empty'),
  ('int4range', '(,5]'),
  ('numrange', '[1.5,2.50]'),
  ('daterange', '[2024-01-01,2024-02-01)'),
  ('tstzrange', '[2024-01-01 00:00+00,2024-01-02 00:00+00)'),
  ('int4multirange', '{[1,3), [5,7)}'),
  ('dec_mood', 'ok'),
  ('dec_mood[]', '{sad,happy}'),
  ('dec_pair', '(1,"x y","{""k"": 1}",{ok})'),
  ('dec_pair', '(,,,)'),
  ('dec_pair[]', '{"(1,x,,)","(2,y,,{sad})"}'),
  ('dec_outer', '("(1,x,,)","{1,2}",q)'),
  ('dec_order', '(1,2,3,4,5)'),
  ('dec_dropped', '(1,c)'),
  ('dec_posint', '5'),
  ('dec_text', 'dom "text"'),
  ('dec_num', '1.5'),
  ('dec_dpair', '(1,x,,)'),
  ('dec_intarr', '{1,2}'),
  ('dec_doc', '{"z": 1, "a": 2}'),
  ('dec_ts', '2024-01-01 12:00:00+00'),
  ('dec_floatrange', '[1.5,2.5)'),
  ('dec_jmood', 'high'),
  ('dec_jmood[]', '{low,high}'),
  ('dec_cpair', '(1,2)');
-- text with every kind of character JSON must escape
DELETE FROM cases WHERE typ = 'text';
INSERT INTO cases
  SELECT 'text', unnest(ARRAY[E'quote " backslash \\ slash / tab \t newline \n cr \r bs \b ff \f',
                              E'controls \x01\x02\x1f del \x7f',
                              E'non-ASCII \u00e9 \u65e5\u672c \U0001F600 nbsp \u00a0',
                              '', ' ', 'null', '"quoted"', E'\\u0000']);
CREATE TEMP TABLE types AS
  SELECT row_number() OVER (ORDER BY min(ctid)) AS n, typ FROM cases GROUP BY typ;

-- one table per type, every value and a null
DO $$
DECLARE
  c record;
  i int;
BEGIN
  FOR c IN SELECT * FROM types ORDER BY n LOOP
    EXECUTE format('CREATE TABLE dec_typ_%s (id int PRIMARY KEY, v %s)', c.n, c.typ);
  END LOOP;
END $$;
SELECT 'init' FROM pg_create_logical_replication_slot('dec_types', 'pgconduit_output');
DO $$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT * FROM types ORDER BY n LOOP
    EXECUTE format('INSERT INTO dec_typ_%s SELECT row_number() OVER (ORDER BY ctid), val::%s
                      FROM cases WHERE typ = $1', c.n, c.typ) USING c.typ;
    EXECUTE format('INSERT INTO dec_typ_%s VALUES (0, NULL)', c.n);
  END LOOP;
END $$;

-- The oracle: the value in each record against to_jsonb() of the row the
-- record describes, as jsonb and as the exact text the record holds; where
-- they differ, whether the record's value gives the row's value back, as
-- the type's input function reads a string (or, for a value that is not a
-- string, as jsonb_populate_record() reads it).
CREATE FUNCTION pg_temp.oracle()
RETURNS TABLE (typ text, n bigint, vals int, jsonb_same int, text_same int, exact_form int)
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  want jsonb;
  back boolean;
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS got (n int, id int, v jsonb, raw text, expected jsonb,
                                       as_text boolean, restored boolean);
  DELETE FROM got;
  INSERT INTO got
    SELECT substring(d ->> 'table' FROM 'dec_typ_(\d+)')::int, (d ->> 'id')::int,
           d -> 'v', d ->> 'raw', NULL, (d ->> 'as_text') IS NOT NULL, NULL
      FROM (SELECT jsonb_build_object('table', data::jsonb #>> '{metadata,table}',
                                      'id', data::jsonb #> '{key,id}',
                                      'v', data::jsonb #> '{payload,after,v}',
                                      'as_text', data::jsonb #> '{metadata,postgres.json_as_text}',
                                      'raw', substring(data FROM ',"v":(.*)\}\}\}$')) AS d
              FROM pg_logical_slot_peek_changes('dec_types', NULL, NULL,
                                                'tables', 'dec_typ_*')) s;
  FOR r IN SELECT g.*, c.typ FROM got g JOIN types c USING (n) LOOP
    EXECUTE format('SELECT coalesce(to_jsonb(v), ''null'') FROM dec_typ_%s WHERE id = $1', r.n)
      INTO want USING r.id;
    back := NULL;
    IF r.v IS DISTINCT FROM want THEN
      BEGIN
        IF r.as_text OR jsonb_typeof(r.v) = 'string' THEN
          EXECUTE format('SELECT (%L::%s)::text IS NOT DISTINCT FROM v::text FROM dec_typ_%s WHERE id = $1',
                         r.v #>> '{}', r.typ, r.n) INTO back USING r.id;
        ELSE
          EXECUTE format('SELECT (jsonb_populate_record(NULL::dec_typ_%s, %L)).v::text IS NOT DISTINCT FROM v::text
                            FROM dec_typ_%s WHERE id = $1',
                         r.n, jsonb_build_object('v', r.v), r.n) INTO back USING r.id;
        END IF;
      EXCEPTION WHEN others THEN
        back := false;
      END;
    END IF;
    UPDATE got SET expected = want, restored = back WHERE got.n = r.n AND got.id = r.id;
  END LOOP;
  RETURN QUERY
    SELECT c.typ, c.n, count(g.id)::int, count(*) FILTER (WHERE g.v = g.expected)::int,
           count(*) FILTER (WHERE g.raw = g.expected::text)::int,
           count(*) FILTER (WHERE g.restored)::int
      FROM types c LEFT JOIN got g ON g.n = c.n
     GROUP BY c.typ, c.n ORDER BY c.n;
END $$;

-- every type, in a zone with a fixed offset
SET TimeZone = 'UTC';
SELECT typ, vals, jsonb_same, text_same, exact_form FROM pg_temp.oracle();
SELECT g.n, c.typ, g.id, g.raw AS plugin, g.expected::text AS to_jsonb, g.as_text, g.restored
  FROM got g JOIN types c USING (n) WHERE g.raw IS DISTINCT FROM g.expected::text
 ORDER BY g.n, g.id;

-- other zones, float and interval settings: still the same
CREATE FUNCTION pg_temp.mismatches() RETURNS bigint LANGUAGE sql AS $$
  SELECT sum(vals - text_same - exact_form) + sum(vals - jsonb_same - exact_form)
    FROM pg_temp.oracle()
$$;
SET TimeZone = 'America/New_York';
SELECT pg_temp.mismatches();
SET TimeZone = 'Asia/Kathmandu';
SELECT pg_temp.mismatches();
SET TIME ZONE INTERVAL '-03:30' HOUR TO MINUTE;
SELECT pg_temp.mismatches();
SET TimeZone = 'Europe/Amsterdam';
SELECT pg_temp.mismatches();
SET extra_float_digits = 0;
SET IntervalStyle = 'iso_8601';
SET DateStyle = 'SQL, DMY';
SELECT pg_temp.mismatches();
SELECT g.n, c.typ, g.id, g.raw AS plugin, g.expected::text AS to_jsonb, g.as_text, g.restored
  FROM got g JOIN types c USING (n) WHERE g.raw IS DISTINCT FROM g.expected::text
 ORDER BY g.n, g.id;
SELECT count(*) AS values, count(*) FILTER (WHERE restored) AS exact_form FROM got;
RESET extra_float_digits;
RESET IntervalStyle;
RESET DateStyle;
RESET TimeZone;

-- a composite type altered between changes: each value as its row was
CREATE TYPE dec_grow AS (a int);
CREATE TABLE dec_grow_t (id int PRIMARY KEY, v dec_grow);
SELECT count(*) >= 0 AS skipped FROM pg_logical_slot_get_changes('dec_types', NULL, NULL);
INSERT INTO dec_grow_t VALUES (1, ROW(1));
ALTER TYPE dec_grow ADD ATTRIBUTE b text CASCADE;
INSERT INTO dec_grow_t VALUES (2, ROW(2, 'two'));
ALTER TYPE dec_grow RENAME ATTRIBUTE a TO aa CASCADE;
INSERT INTO dec_grow_t VALUES (3, ROW(3, 'three'));
SELECT data::jsonb #> '{payload,after,v}' AS v
  FROM pg_logical_slot_get_changes('dec_types', NULL, NULL, 'tables', 'dec_grow_t');

-- a cast to json created between changes applies from then on
CREATE TYPE dec_later AS ENUM ('a', 'b');
CREATE TABLE dec_later_t (id int PRIMARY KEY, v dec_later);
INSERT INTO dec_later_t VALUES (1, 'a');
CREATE FUNCTION dec_later_json(dec_later) RETURNS json LANGUAGE sql IMMUTABLE
  AS $$ SELECT json_build_object('v', $1::text) $$;
CREATE CAST (dec_later AS json) WITH FUNCTION dec_later_json(dec_later);
INSERT INTO dec_later_t VALUES (2, 'b');
SELECT data::jsonb #> '{payload,after,v}' AS v, to_jsonb(t.v) AS to_jsonb_now
  FROM pg_logical_slot_get_changes('dec_types', NULL, NULL, 'tables', 'dec_later_t') c
  JOIN dec_later_t t ON t.id = (c.data::jsonb #>> '{key,id}')::int;

-- numerics of many weights and scales, in columns and inside jsonb
CREATE TABLE dec_num_sweep (id int PRIMARY KEY, v numeric, j jsonb);
INSERT INTO dec_num_sweep
  SELECT g, x, jsonb_build_array(x, -x)
    FROM (SELECT g, round(((g * 7919) % 1000003 - 500000)::numeric
                          * 10::numeric ^ ((g % 61) - 30), g % 40) AS x
            FROM generate_series(1, 3000) g) s;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE substring(c.data FROM '"v":(.*),"j":') = to_jsonb(t.v)::text) AS v_same,
       count(*) FILTER (WHERE substring(c.data FROM '"j":(.*)\}\}\}$') = t.j::text) AS j_same
  FROM pg_logical_slot_get_changes('dec_types', NULL, NULL, 'tables', 'dec_num_sweep') c
  JOIN dec_num_sweep t ON t.id = (c.data::jsonb #>> '{key,id}')::int;

SELECT pg_drop_replication_slot('dec_types');
DO $$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT * FROM types ORDER BY n LOOP
    EXECUTE format('DROP TABLE dec_typ_%s', c.n);
  END LOOP;
END $$;
DROP TABLE dec_grow_t, dec_num_sweep, dec_later_t;
DROP TYPE dec_later CASCADE;
DROP TYPE dec_grow, dec_outer, dec_pair, dec_order, dec_dropped, dec_dpair, dec_floatrange,
  dec_cpair, dec_jmood, dec_mood CASCADE;
DROP DOMAIN dec_posint, dec_text, dec_num, dec_intarr, dec_doc, dec_ts;
