-- pgconduit_output: values stored out of line or compressed, of the types
-- the plugin reads in their stored form (jsonb, numeric) and of those it
-- reads through their output function, arrive whole and exact
SET client_min_messages = warning;

CREATE TABLE tv (id int PRIMARY KEY, j jsonb, n numeric, a int[], t text, js json);
ALTER TABLE tv ALTER COLUMN j SET STORAGE EXTERNAL;
ALTER TABLE tv ALTER COLUMN n SET STORAGE EXTERNAL;
ALTER TABLE tv ALTER COLUMN a SET STORAGE EXTERNAL;
ALTER TABLE tv ALTER COLUMN js SET STORAGE EXTERNAL;
SELECT 'init' FROM pg_create_logical_replication_slot('dec_tv', 'pgconduit_output');

-- out of line (EXTERNAL: not compressed), then compressed in line (MAIN)
INSERT INTO tv
  SELECT 1, jsonb_build_object('k', string_agg(md5(g::text), '')),
         ('9' || repeat('8', 5000) || '.' || repeat('7', 3000))::numeric,
         array_agg(g), string_agg(md5(g::text), ''),
         json_build_array(string_agg(md5(g::text), ''), null)
    FROM generate_series(1, 1000) g;
INSERT INTO tv
  SELECT 2, jsonb_agg(g), -('1' || repeat('0', 4000))::numeric, array_agg(g % 3),
         repeat('x', 100000), json_agg(g)
    FROM generate_series(1, 1000) g;
ALTER TABLE tv ALTER COLUMN j SET STORAGE MAIN;
ALTER TABLE tv ALTER COLUMN n SET STORAGE MAIN;
INSERT INTO tv SELECT 3, jsonb_agg(g % 2), ('1' || repeat('123456789', 600))::numeric,
                      '{1,2}', 'x', '[null]'
    FROM generate_series(1, 2000) g;
-- some went out of line, some were compressed in line
SELECT pg_relation_size(reltoastrelid) > 0 AS out_of_line FROM pg_class WHERE oid = 'tv'::regclass;
SELECT id, pg_column_size(j) < length(j::text) AS j_compressed,
       pg_column_size(n) < length(n::text) / 2 AS n_compressed
  FROM tv ORDER BY id;

-- each decoded value equals the stored one
SELECT (r -> 'key' ->> 'id')::int AS id,
       (r #> '{payload,after,j}') = v.j AS j_ok,
       (r #> '{payload,after,n}')::text::numeric = v.n AS n_ok,
       (r #> '{payload,after,a}') = to_jsonb(v.a) AS a_ok,
       (r #>> '{payload,after,t}') IS NOT DISTINCT FROM v.t AS t_ok,
       (r #> '{payload,after,js}') IS NOT DISTINCT FROM v.js::jsonb AS js_ok
  FROM (SELECT data::jsonb AS r
          FROM pg_logical_slot_get_changes('dec_tv', NULL, NULL)) c
  JOIN tv v ON v.id = (r -> 'key' ->> 'id')::int
 ORDER BY 1;

SELECT 'drop' FROM pg_drop_replication_slot('dec_tv');
DROP TABLE tv;
