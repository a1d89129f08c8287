-- The pipeline's publication is never a filter on the stream: changing
-- it while the pipeline runs (its actions, its tables, or which
-- publication the source names) loses no change
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- the publication changed while the pipeline streams: no change is lost
CREATE TABLE pub_src (id int PRIMARY KEY, v text);
CREATE TABLE pub_dst (id int PRIMARY KEY, v text);
INSERT INTO pub_src VALUES (1, 'a'), (2, 'b'), (3, 'c');
SELECT pgconduit.create_source('pub_s', jsonb_build_object('table', 'pub_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('pub_d', jsonb_build_object('table', 'pub_dst',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pub', 'pub_s', 'pub_d');
SELECT pgconduit.wait_for_pipeline('pub');
ALTER PUBLICATION pgconduit_pub_s SET (publish = 'insert');
UPDATE pub_src SET v = 'updated' WHERE id = 1;
DELETE FROM pub_src WHERE id = 2;
ALTER PUBLICATION pgconduit_pub_s DROP TABLE pub_src;
INSERT INTO pub_src VALUES (4, 'not published');
UPDATE pub_src SET v = 'not published' WHERE id = 3;
SELECT pgconduit.wait_for_pipeline('pub', '30 s');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'pub';
SELECT * FROM pub_dst ORDER BY id;

-- another publication named for the running pipeline's slot
SELECT pgconduit.stop_pipeline('pub');
ALTER PUBLICATION pgconduit_pub_s ADD TABLE pub_src;
ALTER PUBLICATION pgconduit_pub_s SET (publish = 'insert, update, delete, truncate');
SELECT pgconduit.alter_connector('pub_s', jsonb_build_object('table', 'pub_src',
	'url', 'dbname=' || current_database(), 'publication_name', 'pub_other'));
SELECT pgconduit.start_pipeline('pub');
INSERT INTO pub_src VALUES (5, 'after new publication');
DELETE FROM pub_src WHERE id = 1;
SELECT pgconduit.wait_for_pipeline('pub', '30 s');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'pub';
SELECT * FROM pub_dst ORDER BY id;
SELECT pubname FROM pg_publication_tables WHERE tablename = 'pub_src' ORDER BY 1;

SELECT pgconduit.drop_pipeline('pub');
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['pub_s', 'pub_d']) c;
DROP PUBLICATION IF EXISTS pub_other, pgconduit_pub_s;
DROP TABLE pub_src, pub_dst;
