-- Pipelines: creation, enabling, checks against connectors, dropping
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT pgconduit.create_source('src', '{"table": "t", "url": "dbname=x"}');
SELECT pgconduit.create_source('src2', '{"table": "t2", "url": "dbname=x"}');
SELECT pgconduit.create_destination('dst', '{"url": "dbname=y"}');

SELECT pgconduit.create_pipeline('p1', 'src', 'dst', enabled => false);
SELECT name, source, destination, enabled, owner = current_user::regrole AS mine
  FROM pgconduit.pipelines;
SELECT pgconduit.stop_pipeline('p1');
SELECT enabled FROM pgconduit.pipeline WHERE name = 'p1';

-- bad pipelines
SELECT pgconduit.create_pipeline('p1', 'src2', 'dst', false);
SELECT pgconduit.create_pipeline('p2', 'nosuch', 'dst', false);
SELECT pgconduit.create_pipeline('p2', 'src2', 'nosuch', false);
SELECT pgconduit.create_pipeline('p2', 'dst', 'dst', false);
SELECT pgconduit.create_pipeline('p2', 'src2', 'src', false);
SELECT pgconduit.create_pipeline('p2', 'src', 'dst', false);
SELECT pgconduit.create_pipeline('', 'src2', 'dst', false);
SELECT pgconduit.create_pipeline(repeat('p', 64), 'src2', 'dst', false);
SELECT pgconduit.start_pipeline('nosuch');
SELECT pgconduit.stop_pipeline('nosuch');
SELECT pgconduit.drop_pipeline('nosuch');
SELECT count(*) FROM pgconduit.pipeline;

-- a connector in use cannot be dropped, nor can its kind be confused
SELECT pgconduit.drop_connector('src');
SELECT pgconduit.drop_connector('dst');

-- dropping the pipeline frees the connectors
SELECT pgconduit.drop_pipeline('p1', drop_slot => false);
SELECT count(*) FROM pgconduit.pipeline;
SELECT pgconduit.drop_connector('src');
SELECT pgconduit.drop_connector('src2');
SELECT pgconduit.drop_connector('dst');
