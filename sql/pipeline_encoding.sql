-- A source database in another encoding than the destination's and the
-- pipeline's: its text would arrive corrupted (the output plugin writes
-- in the source's encoding), so the pipeline fails before reading anything
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT current_database() AS regdb \gset
CREATE DATABASE pgconduit_latin1 ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C';
\c pgconduit_latin1
SET client_min_messages = warning;
CREATE TABLE enc_src (id int PRIMARY KEY, v text);
INSERT INTO enc_src VALUES (1, chr(233));
\c :regdb
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT getdatabaseencoding() <> 'LATIN1' AS other_encoding;

CREATE TABLE enc_dst (id int PRIMARY KEY, v text);
SELECT pgconduit.create_source('enc_s', jsonb_build_object('table', 'enc_src',
	'url', 'dbname=pgconduit_latin1'));
SELECT pgconduit.create_destination('enc_d', jsonb_build_object('table', 'enc_dst',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('enc', 'enc_s', 'enc_d');
DO $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pgconduit.status s
						   WHERE s.pipeline = 'enc' AND s.errors > 0);
		PERFORM pg_sleep(0.01);
	END LOOP;
END $$;
SELECT state, regexp_replace(last_error, '(destination database''s|the pipeline) is [A-Z_0-9]+', '\1 is ENCODING', 'g') AS last_error
  FROM pgconduit.status WHERE pipeline = 'enc';
-- nothing read, nothing written, no slot made
SELECT count(*) FROM enc_dst;
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'pgconduit_enc_s';

SELECT pgconduit.drop_pipeline('enc');
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['enc_s', 'enc_d']) c;
DROP TABLE enc_dst;
DROP DATABASE pgconduit_latin1;
