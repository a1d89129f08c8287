-- Pipelines: an update that changes the key of a row whose large value is
-- unchanged (not in WAL) keeps that value at the destination, with a
-- composite key and with several key changes of a row in one transaction;
-- where the destination has no row under the old key, the pipeline fails
-- instead of writing a row without the value
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- a value stored out of line, the same each run
CREATE FUNCTION pk_big(seed int) RETURNS text LANGUAGE sql AS
  $$ SELECT string_agg(md5((seed * 1000 + g)::text), '') FROM generate_series(1, 200) g $$;

CREATE TABLE pk_src (a int, b int, body text, note text, PRIMARY KEY (a, b));
ALTER TABLE pk_src ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE pk_dst (LIKE pk_src INCLUDING ALL);
INSERT INTO pk_src VALUES (1, 1, pk_big(1), 'one'), (2, 1, pk_big(2), 'two'), (3, 1, pk_big(3), 'three');

-- the rows that differ, bodies shown by their md5
CREATE FUNCTION pk_diff() RETURNS TABLE (side text, a int, b int, body text, note text)
LANGUAGE sql AS $$
	(SELECT 'only in source', s.a, s.b, md5(s.body), s.note
	   FROM (SELECT * FROM pk_src EXCEPT SELECT * FROM pk_dst) s)
	UNION ALL
	(SELECT 'only in destination', d.a, d.b, md5(d.body), d.note
	   FROM (SELECT * FROM pk_dst EXCEPT SELECT * FROM pk_src) d)
	ORDER BY 2, 3, 1
$$;

SELECT pgconduit.create_source('pk_s', jsonb_build_object('table', 'pk_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('pk_d', jsonb_build_object('table', 'pk_dst',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pk', 'pk_s', 'pk_d');
SELECT pgconduit.wait_for_pipeline('pk');
SELECT * FROM pk_diff();

-- one key column changes, the body is not in WAL
UPDATE pk_src SET a = 10 WHERE a = 1;
SELECT pgconduit.wait_for_pipeline('pk');
SELECT * FROM pk_diff();
SELECT a, b, length(body), note FROM pk_dst ORDER BY a, b;

-- several key changes of one row in one transaction, between other rows
BEGIN;
UPDATE pk_src SET a = 20 WHERE a = 2;
INSERT INTO pk_src VALUES (4, 1, pk_big(4), 'four');
UPDATE pk_src SET b = 5 WHERE a = 20;
UPDATE pk_src SET note = 'three, updated' WHERE a = 3;
UPDATE pk_src SET a = 21, note = 'moved three times' WHERE a = 20;
COMMIT;
SELECT pgconduit.wait_for_pipeline('pk');
SELECT * FROM pk_diff();
SELECT a, b, length(body), note FROM pk_dst ORDER BY a, b;

-- the row of the old key is not at the destination (removed there): the
-- body cannot be supplied, so the pipeline fails, and nothing is written
DELETE FROM pk_dst WHERE a = 10;
UPDATE pk_src SET a = 11 WHERE a = 10;
DO $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pgconduit.status s
						   WHERE s.pipeline = 'pk' AND s.state = 'failed');
		PERFORM pg_sleep(0.01);
	END LOOP;
END
$$;
SELECT state, regexp_replace(last_error, '[0-9A-F]{16}/[0-9A-F]{16}', 'POSITION') AS last_error
  FROM pgconduit.status WHERE pipeline = 'pk';
SELECT count(*) FROM pk_dst WHERE a IN (10, 11);

SELECT pgconduit.drop_pipeline('pk');
SELECT pgconduit.drop_connector('pk_s');
SELECT pgconduit.drop_connector('pk_d');
DROP FUNCTION pk_diff();
DROP FUNCTION pk_big(int);
DROP TABLE pk_src, pk_dst;
