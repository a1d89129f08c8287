-- Pipelines from a partitioned table: the snapshot and every change of
-- every partition arrive under the root, into a partitioned destination
-- and into a plain one; rows moving between partitions arrive once
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- a root, a partition of another column order with a dropped column, a
-- sub-partitioned one
CREATE TABLE pp_src (id int, region text, v text, n numeric, PRIMARY KEY (id, region))
	PARTITION BY LIST (region);
CREATE TABLE pp_src_eu PARTITION OF pp_src FOR VALUES IN ('eu');
CREATE TABLE pp_src_us (junk int, n numeric, v text, region text NOT NULL, id int NOT NULL);
ALTER TABLE pp_src_us DROP COLUMN junk;
ALTER TABLE pp_src ATTACH PARTITION pp_src_us FOR VALUES IN ('us');
CREATE TABLE pp_src_asia PARTITION OF pp_src FOR VALUES IN ('asia', 'oceania')
	PARTITION BY LIST (region);
CREATE TABLE pp_src_asia_a PARTITION OF pp_src_asia FOR VALUES IN ('asia');
CREATE TABLE pp_src_asia_o PARTITION OF pp_src_asia FOR VALUES IN ('oceania');
INSERT INTO pp_src SELECT g, (ARRAY['eu', 'us', 'asia', 'oceania'])[g % 4 + 1], 'row ' || g, g
  FROM generate_series(1, 200) g;

-- destinations: partitioned (by another key) and plain
CREATE TABLE pp_dst_part (id int, region text, v text, n numeric, PRIMARY KEY (id, region))
	PARTITION BY HASH (id);
CREATE TABLE pp_dst_part0 PARTITION OF pp_dst_part FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE pp_dst_part1 PARTITION OF pp_dst_part FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE pp_dst_plain (id int, region text, v text, n numeric, PRIMARY KEY (id, region));

-- rows that differ between the source and a destination
CREATE FUNCTION pp_diff(dst regclass) RETURNS TABLE (side text, id int, region text, v text)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format(
		'(SELECT ''only in source'', s.id, s.region, s.v FROM (SELECT * FROM pp_src EXCEPT SELECT * FROM %1$s) s)
		 UNION ALL
		 (SELECT ''only in destination'', d.id, d.region, d.v FROM (SELECT * FROM %1$s EXCEPT SELECT * FROM pp_src) d)
		 ORDER BY 2, 1 LIMIT 10', dst);
END $$;

SELECT pgconduit.create_source('pp_s1', jsonb_build_object('table', 'pp_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_source('pp_s2', jsonb_build_object('table', 'pp_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('pp_d1', jsonb_build_object('table', 'pp_dst_part',
	'url', 'dbname=' || current_database(), 'batch_size', 16));
SELECT pgconduit.create_destination('pp_d2', jsonb_build_object('table', 'pp_dst_plain',
	'url', 'dbname=' || current_database(), 'batch_size', 16));
SELECT pgconduit.create_pipeline('pp_part', 'pp_s1', 'pp_d1');
SELECT pgconduit.create_pipeline('pp_plain', 'pp_s2', 'pp_d2');

-- the snapshot
SELECT pgconduit.wait_for_pipeline('pp_part'), pgconduit.wait_for_pipeline('pp_plain');
SELECT count(*) FROM pp_dst_part;
SELECT count(*) FROM pp_dst_plain;

-- changes in every partition; rows that move between partitions (their
-- key changes), several times in one transaction; a key change in place
INSERT INTO pp_src VALUES (201, 'eu', 'new', 1), (202, 'us', 'new', 2), (203, 'asia', 'new', 3),
	(204, 'oceania', 'new', 4);
UPDATE pp_src SET v = 'updated' WHERE id % 10 = 0;
DELETE FROM pp_src WHERE id % 7 = 0;
UPDATE pp_src SET region = 'us', v = 'moved' WHERE id IN (1, 2, 3, 4);
BEGIN;
UPDATE pp_src SET region = 'asia' WHERE id = 5;
UPDATE pp_src SET region = 'eu' WHERE id = 5;
UPDATE pp_src SET region = 'oceania', v = 'moved thrice' WHERE id = 5;
COMMIT;
UPDATE pp_src SET id = 1006 WHERE id = 6;
SELECT pgconduit.wait_for_pipeline('pp_part'), pgconduit.wait_for_pipeline('pp_plain');
SELECT * FROM pp_diff('pp_dst_part');
SELECT * FROM pp_diff('pp_dst_plain');
SELECT id, region, v FROM pp_dst_plain WHERE id IN (1, 2, 3, 4, 5, 6, 1006) ORDER BY id;

-- a partition attached while the pipelines run: its later changes arrive
CREATE TABLE pp_src_af (v text, id int NOT NULL, n numeric, region text NOT NULL);
ALTER TABLE pp_src ATTACH PARTITION pp_src_af FOR VALUES IN ('africa');
INSERT INTO pp_src VALUES (300, 'africa', 'attached', 0), (301, 'africa', 'attached', 0);
UPDATE pp_src SET region = 'africa' WHERE id = 8;
SELECT pgconduit.wait_for_pipeline('pp_part'), pgconduit.wait_for_pipeline('pp_plain');
SELECT * FROM pp_diff('pp_dst_part');
SELECT * FROM pp_diff('pp_dst_plain');

-- a partition detached: its rows stay at the destinations, and its later
-- changes are no longer the source table's
ALTER TABLE pp_src DETACH PARTITION pp_src_af;
UPDATE pp_src_af SET v = 'detached';
INSERT INTO pp_src_af VALUES ('detached', 302, 0, 'africa');
INSERT INTO pp_src VALUES (303, 'eu', 'after detach', 0);
SELECT pgconduit.wait_for_pipeline('pp_part'), pgconduit.wait_for_pipeline('pp_plain');
SELECT id, region, v FROM pp_dst_plain WHERE id IN (8, 300, 301, 302, 303) ORDER BY id;
SELECT count(*) FROM pp_dst_part WHERE v = 'detached';

-- the pipelines ran under the root's name throughout
SELECT pipeline, state, last_error FROM pgconduit.status ORDER BY pipeline;

-- a TRUNCATE of the root empties the destinations
TRUNCATE pp_src;
INSERT INTO pp_src VALUES (1, 'eu', 'after truncate', 0), (2, 'asia', 'after truncate', 0);
SELECT pgconduit.wait_for_pipeline('pp_part'), pgconduit.wait_for_pipeline('pp_plain');
SELECT * FROM pp_diff('pp_dst_part');
SELECT * FROM pp_diff('pp_dst_plain');

-- a TRUNCATE of one partition cannot be applied to the root's rows at the
-- destination: the pipeline fails and names it, nothing after it applied
TRUNCATE pp_src_eu;
INSERT INTO pp_src VALUES (3, 'us', 'after partial truncate', 0);
SELECT pgconduit.wait_for_pipeline('pp_plain', '10 s');
SELECT pipeline, state, error_table, substring(last_error from ': (cannot [^\n]*)') AS error
  FROM pgconduit.status WHERE pipeline = 'pp_plain';
SELECT id, region, v FROM pp_dst_plain ORDER BY id;

SELECT pgconduit.drop_pipeline('pp_part');
SELECT pgconduit.drop_pipeline('pp_plain');
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['pp_s1', 'pp_s2', 'pp_d1', 'pp_d2']) c;
DROP TABLE pp_src, pp_src_af, pp_dst_part, pp_dst_plain;
DROP FUNCTION pp_diff(regclass);
