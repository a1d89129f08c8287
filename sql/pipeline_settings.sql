-- The text forms of values do not depend on the source's settings: a
-- source whose sessions start with other DateStyle, IntervalStyle,
-- TimeZone and extra_float_digits (as ALTER DATABASE or ALTER ROLE ...
-- SET would give them, here by the connection's options) sends every
-- value as it is, by the snapshot and by CDC
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TYPE ps_pair AS (d date, i interval);
CREATE TABLE ps_src (id int PRIMARY KEY, iv interval, ivs interval[], tr tsrange,
	dr daterange, tzr tstzrange, mr datemultirange, da date[], pair ps_pair,
	f float8[]);
CREATE TABLE ps_dst (LIKE ps_src);
ALTER TABLE ps_dst ADD PRIMARY KEY (id);
INSERT INTO ps_src VALUES (1, '-1 day -02:03:04', '{"1 year -2 months 3 days -04:05:06"}',
	'[2001-02-03 04:05,2001-12-04)', '[2001-02-03,2001-12-04)',
	'[2024-01-15 12:00:00+00,2024-01-16 00:00:00+00)', '{[2001-02-03,2001-03-04)}',
	'{2001-02-03}', ROW('2001-02-03', '-1 day +02:00'), '{0.1,1e-300}');

-- the source's sessions begin in other styles, in Havana
SELECT pgconduit.create_source('ps_s', jsonb_build_object('table', 'ps_src',
	'url', 'dbname=' || current_database() || ' options=''-c intervalstyle=sql_standard'
	|| ' -c datestyle=Postgres,DMY -c timezone=America/Havana -c extra_float_digits=-3'''));
SELECT pgconduit.create_destination('ps_d', jsonb_build_object('table', 'ps_dst',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('ps', 'ps_s', 'ps_d');
SELECT pgconduit.wait_for_pipeline('ps');

-- changes by CDC, in Havana's winter (CST, as "Postgres" writes it) and summer
INSERT INTO ps_src SELECT id + 1, iv, ivs, tr, dr, tzr, mr, da, pair, f FROM ps_src WHERE id = 1;
INSERT INTO ps_src VALUES (3, '1 year -2 months 3 days -04:05:06', '{"-1 day -02:03:04"}',
	'[2001-07-03 04:05,2001-12-04)', '[2001-12-03,2002-01-04)',
	'[2024-07-15 12:00:00+00,2024-07-16 00:00:00+00)', '{[2001-02-13,2001-03-04),[2001-05-01,)}',
	'{2001-12-03,NULL}', ROW('2001-12-03', '3 mons -1 sec'), '{3.141592653589793}');
UPDATE ps_src SET pair = ROW('2001-02-13', '-1 day -00:00:01') WHERE id = 1;
SELECT pgconduit.wait_for_pipeline('ps');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'ps';

-- what differs, compared as text in one fixed style
SET datestyle = ISO; SET intervalstyle = postgres; SET timezone = UTC; SET extra_float_digits = 3;
SELECT 'only in source' AS side, s::text FROM (SELECT * FROM ps_src EXCEPT SELECT * FROM ps_dst) s
UNION ALL
SELECT 'only in destination', d::text FROM (SELECT * FROM ps_dst EXCEPT SELECT * FROM ps_src) d
ORDER BY 1, 2;
SELECT count(*) FROM ps_dst;

SELECT pgconduit.drop_pipeline('ps');
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['ps_s', 'ps_d']) c;
DROP TABLE ps_src, ps_dst;
DROP TYPE ps_pair;
