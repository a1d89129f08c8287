-- Unlogged tables write no WAL, so CDC cannot see their changes: an
-- unlogged source table is refused at start, and a partition that is or
-- becomes unlogged while the pipeline streams (attached, or SET UNLOGGED)
-- fails the pipeline rather than lose its changes without a word
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- wait until the pipeline has failed (at most 30 s), then show why
CREATE FUNCTION ul_failure(p text) RETURNS TABLE (state text, last_error text)
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

CREATE TABLE ul_dst (id int PRIMARY KEY, v text);
SELECT pgconduit.create_destination('ul_d', jsonb_build_object('table', 'ul_dst',
	'url', 'dbname=' || current_database()));

-- an unlogged source table: refused before anything is published
CREATE UNLOGGED TABLE ul_plain (id int PRIMARY KEY, v text);
INSERT INTO ul_plain VALUES (1, 'a');
SELECT pgconduit.create_source('ul_plain_s', jsonb_build_object('table', 'ul_plain',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('ul1', 'ul_plain_s', 'ul_d');
SELECT * FROM ul_failure('ul1');
SELECT count(*) AS published FROM pg_publication WHERE pubname = 'pgconduit_ul_plain_s';
SELECT pgconduit.drop_pipeline('ul1');

-- an unlogged partition attached while the pipeline streams
CREATE TABLE ul_part (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE ul_part_a PARTITION OF ul_part FOR VALUES FROM (0) TO (100);
INSERT INTO ul_part VALUES (1, 'a');
SELECT pgconduit.create_source('ul_part_s', jsonb_build_object('table', 'ul_part',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('ul2', 'ul_part_s', 'ul_d');
SELECT pgconduit.wait_for_pipeline('ul2');
CREATE UNLOGGED TABLE ul_part_b (id int PRIMARY KEY, v text);
ALTER TABLE ul_part ATTACH PARTITION ul_part_b FOR VALUES FROM (100) TO (200);
INSERT INTO ul_part VALUES (150, 'in the unlogged partition');
SELECT * FROM ul_failure('ul2');
SELECT pgconduit.drop_pipeline('ul2');
TRUNCATE ul_dst;

-- a partition set unlogged while the pipeline streams
ALTER TABLE ul_part DETACH PARTITION ul_part_b;
SELECT pgconduit.create_pipeline('ul3', 'ul_part_s', 'ul_d');
SELECT pgconduit.wait_for_pipeline('ul3');
ALTER TABLE ul_part_a SET UNLOGGED;
INSERT INTO ul_part VALUES (2, 'after SET UNLOGGED');
SELECT * FROM ul_failure('ul3');
SELECT pgconduit.drop_pipeline('ul3');

SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['ul_plain_s', 'ul_part_s', 'ul_d']) c;
DROP TABLE ul_plain, ul_part, ul_part_b, ul_dst;
DROP FUNCTION ul_failure(text);
