-- Keys that are not keys at the source are refused before anything is
-- published: a nullable key column (rows with NULL keys cannot be matched:
-- updates would insert, deletes do nothing), a key no unique, immediate,
-- non-partial index on plain columns covers (rows would collapse), and a
-- deferrable primary key as the replica identity (the application's own
-- UPDATE and DELETE would fail once the table is published)
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE pk_dst (id int, a int, b text, v text);
CREATE UNIQUE INDEX ON pk_dst (a);
CREATE UNIQUE INDEX ON pk_dst (a, b);
SELECT pgconduit.create_destination('pk_d', jsonb_build_object('table', 'pk_dst',
	'url', 'dbname=' || current_database()));

-- wait until the pipeline has failed (at most 30 s), then show why, and
-- whether its publication or slot was made
CREATE FUNCTION pk_failure(p text) RETURNS TABLE (state text, last_error text, published bool)
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pgconduit.status s
						   WHERE s.pipeline = p AND s.errors > 0);
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN QUERY SELECT s.state, s.last_error,
			EXISTS (SELECT 1 FROM pg_publication WHERE pubname LIKE 'pgconduit_pk%')
			OR EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE 'pgconduit_pk%')
		FROM pgconduit.status s WHERE s.pipeline = p;
END
$$;

-- a nullable unique column as the key, with REPLICA IDENTITY FULL
CREATE TABLE pk_null (a int UNIQUE, v text);
ALTER TABLE pk_null REPLICA IDENTITY FULL;
INSERT INTO pk_null VALUES (NULL, 'x'), (NULL, 'y'), (1, 'z');
SELECT pgconduit.create_source('pk_null_s', jsonb_build_object('table', 'pk_null',
	'url', 'dbname=' || current_database(), 'key', 'a'));
SELECT pgconduit.create_pipeline('pk1', 'pk_null_s', 'pk_d');
SELECT * FROM pk_failure('pk1');
SELECT pgconduit.drop_pipeline('pk1');

-- a key that is not unique at the source
CREATE TABLE pk_dup (id int PRIMARY KEY, a int NOT NULL, v text);
ALTER TABLE pk_dup REPLICA IDENTITY FULL;
INSERT INTO pk_dup VALUES (1, 10, 'x'), (2, 10, 'y'), (3, 30, 'z');
SELECT pgconduit.create_source('pk_dup_s', jsonb_build_object('table', 'pk_dup',
	'url', 'dbname=' || current_database(), 'key', 'a'));
SELECT pgconduit.create_pipeline('pk2', 'pk_dup_s', 'pk_d');
SELECT * FROM pk_failure('pk2');
SELECT pgconduit.drop_pipeline('pk2');
-- a partial or deferrable unique index does not make it a key either
CREATE UNIQUE INDEX pk_dup_partial ON pk_dup (a) WHERE id > 1;
ALTER TABLE pk_dup ADD CONSTRAINT pk_dup_deferred UNIQUE (a, v) DEFERRABLE;
SELECT pgconduit.alter_connector('pk_dup_s', jsonb_build_object('table', 'pk_dup',
	'url', 'dbname=' || current_database(), 'key', 'a,v'));
ALTER TABLE pk_dup ALTER v SET NOT NULL;
SELECT pgconduit.create_pipeline('pk3', 'pk_dup_s', 'pk_d');
SELECT * FROM pk_failure('pk3');
SELECT pgconduit.drop_pipeline('pk3');

-- a deferrable primary key as the replica identity (DEFAULT)
CREATE TABLE pk_def (a int, b text, v text, PRIMARY KEY (a, b) DEFERRABLE INITIALLY DEFERRED);
INSERT INTO pk_def VALUES (1, 'x', 'one'), (2, 'y', 'two');
SELECT pgconduit.create_source('pk_def_s', jsonb_build_object('table', 'pk_def',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pk4', 'pk_def_s', 'pk_d');
SELECT * FROM pk_failure('pk4');
-- the application's writes go on
UPDATE pk_def SET b = 'z' WHERE a = 1;
DELETE FROM pk_def WHERE a = 2;
TABLE pk_def;
SELECT pgconduit.drop_pipeline('pk4');
-- nor is it a key with REPLICA IDENTITY FULL: it is unique only at commit
ALTER TABLE pk_def REPLICA IDENTITY FULL;
SELECT pgconduit.create_pipeline('pk5', 'pk_def_s', 'pk_d');
SELECT * FROM pk_failure('pk5');
SELECT pgconduit.drop_pipeline('pk5');

-- nothing reached the destination
SELECT count(*) FROM pk_dst;

SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['pk_null_s', 'pk_dup_s', 'pk_def_s', 'pk_d']) c;
DROP TABLE pk_null, pk_dup, pk_def, pk_dst;
DROP FUNCTION pk_failure(text);
