-- A pipeline on a partitioned table restarts: its publication holds the
-- table, not its partitions (which pg_publication_tables lists), and
-- every start finds it there
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- a partitioned source table: the publication holds the table, not its
-- partitions, and a restart finds it there
CREATE TABLE pub_part (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE pub_part1 PARTITION OF pub_part FOR VALUES FROM (0) TO (1000);
CREATE TABLE pub_part2 PARTITION OF pub_part FOR VALUES FROM (1000) TO (2000);
CREATE TABLE pub_part_dst (id int PRIMARY KEY, v text);
INSERT INTO pub_part SELECT g, 'x' FROM generate_series(1, 1999, 10) g;
SELECT pgconduit.create_source('pub_ps', jsonb_build_object('table', 'pub_part',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('pub_pd', jsonb_build_object('table', 'pub_part_dst',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pub_p', 'pub_ps', 'pub_pd');
SELECT pgconduit.wait_for_pipeline('pub_p');
SELECT pgconduit.stop_pipeline('pub_p');
SELECT pgconduit.start_pipeline('pub_p');
INSERT INTO pub_part VALUES (5, 'after restart'), (1005, 'after restart');
SELECT pgconduit.wait_for_pipeline('pub_p', '30 s');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'pub_p';
SELECT count(*), count(*) FILTER (WHERE v = 'after restart') AS after FROM pub_part_dst;
-- again, with a publication of the user's that holds the partitioned table
SELECT pgconduit.stop_pipeline('pub_p');
CREATE PUBLICATION pub_users FOR TABLE pub_part;
SELECT pgconduit.alter_connector('pub_ps', jsonb_build_object('table', 'pub_part',
	'url', 'dbname=' || current_database(), 'publication_name', 'pub_users'));
SELECT pgconduit.start_pipeline('pub_p');
INSERT INTO pub_part VALUES (6, 'user''s publication');
SELECT pgconduit.wait_for_pipeline('pub_p', '30 s');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'pub_p';
SELECT * FROM pub_part_dst WHERE id = 6;
SELECT pgconduit.drop_pipeline('pub_p');

SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['pub_ps', 'pub_pd']) c;
DROP PUBLICATION pub_users;
DROP TABLE pub_part, pub_part_dst;
