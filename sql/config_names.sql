-- Names meet PostgreSQL's NAMEDATALEN limit in bytes, not in characters:
-- a name that fits in 63 characters but not in 63 bytes is an ERROR
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- a UTF8 database, where 'é' takes two bytes
SELECT current_database() AS orig_db \gset
CREATE DATABASE pgc_names ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c pgc_names
SET client_min_messages = warning;
CREATE EXTENSION pgconduit;

SELECT pgconduit.create_source('src', '{"table": "t", "url": "dbname=x"}');
SELECT pgconduit.create_destination('dst', '{"url": "dbname=y"}');

-- pipeline names: 32 characters of 64 bytes are too long; 31 of 62 fit
SELECT length(repeat('é', 32)) AS chars, octet_length(repeat('é', 32)) AS bytes;
SELECT pgconduit.create_pipeline(repeat('é', 32), 'src', 'dst', enabled => false);
SELECT pgconduit.create_pipeline(repeat('é', 31) || 'ab', 'src', 'dst', enabled => false);
SELECT pgconduit.create_pipeline(repeat('é', 31), 'src', 'dst', enabled => false);
SELECT octet_length(name) FROM pgconduit.pipeline;
SELECT pgconduit.drop_pipeline(repeat('é', 31), drop_slot => false);

-- nor can the catalog hold one, whichever way it is written
\set VERBOSITY terse
INSERT INTO pgconduit.pipeline (name, source, destination, enabled, owner)
	VALUES (repeat('é', 32), 'src', 'dst', false, current_user::regrole);
INSERT INTO pgconduit.connector (name, kind, config, owner)
	VALUES (repeat('é', 32), 'source', '{}', current_user::regrole);
\set VERBOSITY default

-- connector names
SELECT pgconduit.create_source(repeat('é', 32), '{"table": "t", "url": "dbname=x"}');
SELECT pgconduit.create_destination(repeat('é', 32), '{"url": "dbname=y"}');

-- publication and slot names
SELECT pgconduit.create_source('s2', jsonb_build_object('table', 't', 'url', 'dbname=x',
	'publication_name', repeat('é', 32)));
SELECT pgconduit.create_source('s2', jsonb_build_object('table', 't', 'url', 'dbname=x',
	'slot_name', repeat('e', 64)));
-- the derived names of a long multibyte connector name fit
SELECT pgconduit.create_source(repeat('é', 31), '{"table": "t", "url": "dbname=x"}');
SELECT octet_length(config->>'slot_name') < 64 AS slot_fits,
	   octet_length(config->>'publication_name') < 64 AS publication_fits
  FROM pgconduit.connector WHERE name = repeat('é', 31);
SELECT pgconduit.drop_connector(repeat('é', 31));

-- table names: each part is at most 63 bytes; PostgreSQL would cut them short
SELECT pgconduit.create_source('s2', jsonb_build_object('table', repeat('é', 32), 'url', 'dbname=x'));
SELECT pgconduit.create_source('s2', jsonb_build_object('table', 'public.' || repeat('t', 64), 'url', 'dbname=x'));
SELECT pgconduit.create_source('s2', jsonb_build_object('table', '"' || repeat('é', 32) || '".t', 'url', 'dbname=x'));
SELECT pgconduit.create_destination('d2', jsonb_build_object('table', repeat('é', 32), 'url', 'dbname=y'));
-- 63 bytes are fine
SELECT pgconduit.create_source('s2', jsonb_build_object('table', repeat('é', 31) || 'a', 'url', 'dbname=x'));
SELECT pgconduit.drop_connector('s2');

-- column names, as a list and as an array
SELECT pgconduit.create_source('s2', jsonb_build_object('table', 't', 'url', 'dbname=x',
	'columns', 'a, ' || repeat('é', 32)));
SELECT pgconduit.create_source('s2', jsonb_build_object('table', 't', 'url', 'dbname=x',
	'key', '"' || repeat('é', 32) || '"'));
SELECT pgconduit.create_source('s2', jsonb_build_object('table', 't', 'url', 'dbname=x',
	'key', jsonb_build_array(repeat('é', 32))));
SELECT count(*) AS connectors FROM pgconduit.connector;

SELECT pgconduit.drop_connector('src');
SELECT pgconduit.drop_connector('dst');
\c :orig_db
DROP DATABASE pgc_names;
