-- Partitioned tables among the other tables of a many-table source: every
-- change of every partition arrives under the root only, also when the
-- pattern matches the partitions too, for partitions attached or created
-- later, and for a partitioned table created later with its partitions.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db \gset

-- the destination has the roots and the plain table, no partition: a
-- record under a partition's name would fail the pipeline
CREATE DATABASE tp_dst;
\c tp_dst
SET client_min_messages = warning;
CREATE EXTENSION pgconduit;
CREATE SCHEMA tp;
CREATE TABLE tp.m (id int, region text, v text, PRIMARY KEY (id, region));
CREATE TABLE tp.plain (id int PRIMARY KEY, v text);
CREATE TABLE tp.n (id int PRIMARY KEY, v text);
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE SCHEMA tp;
CREATE TABLE tp.m (id int, region text, v text, PRIMARY KEY (id, region))
	PARTITION BY LIST (region);
CREATE TABLE tp.m_eu PARTITION OF tp.m FOR VALUES IN ('eu');
-- another column order, a dropped column
CREATE TABLE tp.m_us (junk int, v text, region text NOT NULL, id int NOT NULL);
ALTER TABLE tp.m_us DROP COLUMN junk;
ALTER TABLE tp.m ATTACH PARTITION tp.m_us FOR VALUES IN ('us');
-- sub-partitioned
CREATE TABLE tp.m_asia PARTITION OF tp.m FOR VALUES IN ('asia', 'oceania')
	PARTITION BY LIST (region);
CREATE TABLE tp.m_asia_a PARTITION OF tp.m_asia FOR VALUES IN ('asia');
CREATE TABLE tp.m_asia_o PARTITION OF tp.m_asia FOR VALUES IN ('oceania');
CREATE TABLE tp.plain (id int PRIMARY KEY, v text);
INSERT INTO tp.m SELECT g, (ARRAY['eu', 'us', 'asia', 'oceania'])[g % 4 + 1], 'row ' || g
  FROM generate_series(1, 40) g;
INSERT INTO tp.plain VALUES (1, 'plain');

-- "tp.*" matches the root and its partitions alike
SELECT pgconduit.create_source('tp_s', jsonb_build_object('tables', 'tp.*',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('tp_d', '{"url": "dbname=tp_dst", "batch_size": 8}');
SELECT pgconduit.create_pipeline('tp', 'tp_s', 'tp_d');
SELECT pgconduit.wait_for_pipeline('tp');

-- changes in every partition, rows moving between partitions, in one
-- transaction with the plain table
BEGIN;
INSERT INTO tp.m VALUES (41, 'eu', 'new'), (42, 'us', 'new'), (43, 'asia', 'new'),
	(44, 'oceania', 'new');
UPDATE tp.m SET v = 'updated' WHERE id % 5 = 0;
DELETE FROM tp.m WHERE id % 7 = 0;
UPDATE tp.m SET region = 'us', v = 'moved' WHERE id IN (1, 2);
INSERT INTO tp.plain VALUES (2, 'with the partitions');
COMMIT;
-- a partition created and one attached later: their changes arrive under the root
CREATE TABLE tp.m_af PARTITION OF tp.m FOR VALUES IN ('africa');
CREATE TABLE tp.m_sa (v text, id int NOT NULL, region text NOT NULL);
INSERT INTO tp.m_sa VALUES ('held before attach', 50, 'sa');
ALTER TABLE tp.m ATTACH PARTITION tp.m_sa FOR VALUES IN ('sa');
INSERT INTO tp.m VALUES (51, 'africa', 'late partition'), (52, 'sa', 'attached partition');
UPDATE tp.m SET region = 'africa' WHERE id = 3;
SELECT pgconduit.wait_for_pipeline('tp');

-- a partitioned table created later, with its partitions
CREATE TABLE tp.n (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE tp.n_1 PARTITION OF tp.n FOR VALUES FROM (0) TO (100);
CREATE TABLE tp.n_2 PARTITION OF tp.n FOR VALUES FROM (100) TO (200);
INSERT INTO tp.n VALUES (1, 'late root'), (150, 'late root');
UPDATE tp.n SET id = 101 WHERE id = 1;
SELECT pgconduit.wait_for_pipeline('tp');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'tp';
SELECT md5(string_agg(format('%s/%s/%s', id, region, v), ',' ORDER BY id, region)) AS m_src
  FROM tp.m WHERE id <> 50 \gset

\c tp_dst
SELECT count(*) AS m_rows,
       md5(string_agg(format('%s/%s/%s', id, region, v), ',' ORDER BY id, region))
         = :'m_src' AS same_as_source
  FROM tp.m WHERE id <> 50;
-- the rows an attached table held are not sent (README, Limits)
SELECT * FROM tp.m WHERE id IN (1, 2, 3, 50, 51, 52) ORDER BY id;
SELECT * FROM tp.plain ORDER BY id;
SELECT * FROM tp.n ORDER BY id;
SELECT count(*) AS partitions_at_destination FROM pg_class
 WHERE relnamespace = 'tp'::regnamespace AND relkind IN ('r', 'p') AND relname LIKE '%\_%';
SELECT source_table, state, late FROM pgconduit.progress_table ORDER BY source_table;
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- a TRUNCATE of one partition cannot be applied to the root's rows at the
-- destination: the pipeline fails and names the partition and its root
TRUNCATE tp.m_eu;
SELECT pgconduit.wait_for_pipeline('tp', '10 s');
SELECT pipeline, state, error_table, substring(last_error from ': (cannot [^\n]*)') AS error
  FROM pgconduit.status WHERE pipeline = 'tp';
SELECT pgconduit.drop_pipeline('tp');
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['tp_s', 'tp_d']) c;
DROP SCHEMA tp CASCADE;
DROP DATABASE tp_dst;
