-- Pipelines: a snapshot into an empty table goes by COPY; whatever COPY
-- cannot do exactly as the records would is done by the records
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE FUNCTION pc_failure(p text) RETURNS TABLE (state text, last_error text)
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..3000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pgconduit.status s
						   WHERE s.pipeline = p AND s.errors > 0);
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN QUERY SELECT s.state, regexp_replace(s.last_error, '[0-9A-F]{16}/[0-9A-F]{16}', 'POSITION')
				   FROM pgconduit.status s WHERE s.pipeline = p;
END
$$;

-- values of many types, with a source and a destination session that
-- write dates, intervals and floats differently
CREATE TABLE pc_types (id int PRIMARY KEY, n numeric, f float8, r real, b bytea,
	d date, ts timestamp, tz timestamptz, iv interval, u uuid, ip inet, bits bit varying,
	a int[], ta text[][], rg int4range, j json, jb jsonb, t text, vc varchar(5), x xml,
	bo boolean, c char(3), tm time, tmz timetz);
INSERT INTO pc_types VALUES
	(1, 'NaN', 'Infinity', '-Infinity', '\x00ff', '2026-03-04', '2026-03-04 05:06:07.123456',
	 '2026-03-04 05:06:07+02', '1 year 2 mons -3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
	 '10.1.2.3/8', B'10101', '{1,NULL,3}', '{{"a b","c\"d"},{NULL,"é"}}', '[1,5)',
	 '{"b": 1,  "a" : [1, 2]}', '{"b": 1, "a": [1, 2]}', E'tab\there\nnew line \\ back "q"', 'abcde',
	 '<a>x</a>', true, 'ab', '23:59:59.999999', '01:02:03+05:30'),
	(2, 123456789.000000001, 0.1, 3.14159, '', '0001-01-01 BC', 'infinity', '-infinity',
	 '-178000000 years', '00000000-0000-0000-0000-000000000000', '::1', B'', '{}', '{}', 'empty',
	 'null', 'null', '', '', NULL, false, NULL, NULL, NULL),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE pc_types_copy (LIKE pc_types INCLUDING ALL);
SELECT pgconduit.create_source('pc_types_s', jsonb_build_object('table', 'pc_types',
	'url', 'dbname=' || current_database()
		   || ' options=''-c datestyle=SQL,DMY -c intervalstyle=sql_standard -c extra_float_digits=-3 -c bytea_output=escape''',
	'cdc', 'off'));
SELECT pgconduit.create_destination('pc_types_d', jsonb_build_object('table', 'pc_types_copy',
	'url', 'dbname=' || current_database()
		   || ' options=''-c datestyle=SQL,MDY -c intervalstyle=iso_8601''',
	'on_error', 'dead_letter'));
SELECT pgconduit.create_pipeline('pc1', 'pc_types_s', 'pc_types_d');
SELECT pgconduit.wait_for_pipeline('pc1');
SELECT pipeline, state, snapshot_rows_done, records_written, dead_letters
  FROM pgconduit.status WHERE pipeline = 'pc1';
-- json keeps its text as the source has it, as native replication keeps it
SELECT sr.id, sr::text = dr::text AS same FROM pc_types sr JOIN pc_types_copy dr USING (id) ORDER BY id;
SELECT pgconduit.drop_pipeline('pc1');

-- a destination that already has rows: the snapshot's rows are upserts
CREATE TABLE pc_a (id int PRIMARY KEY, v text);
INSERT INTO pc_a SELECT g, 'v' || g FROM generate_series(1, 5) g;
CREATE TABLE pc_a_copy (id int PRIMARY KEY, v text, extra text DEFAULT 'default');
INSERT INTO pc_a_copy VALUES (2, 'old', 'kept'), (99, 'only here', 'kept');
SELECT pgconduit.create_source('pc_a_s', jsonb_build_object('table', 'pc_a',
	'url', 'dbname=' || current_database(), 'cdc', 'off'));
SELECT pgconduit.create_destination('pc_a_d', jsonb_build_object('table', 'pc_a_copy',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pc2', 'pc_a_s', 'pc_a_d');
SELECT pgconduit.wait_for_pipeline('pc2');
SELECT * FROM pc_a_copy ORDER BY id;
SELECT pgconduit.drop_pipeline('pc2');

-- a "key" that repeats on the source: COPY fails on the unique index, the
-- records apply as upserts, and the later row of a key wins
CREATE TABLE pc_dup (id int, code text, v text);
INSERT INTO pc_dup VALUES (1, 'x', 'first'), (2, 'y', 'only'), (3, 'x', 'second');
CREATE TABLE pc_dup_copy (code text PRIMARY KEY, v text);
SELECT pgconduit.create_source('pc_dup_s', jsonb_build_object('table', 'pc_dup',
	'url', 'dbname=' || current_database(), 'cdc', 'off', 'key', 'code', 'columns', 'v'));
SELECT pgconduit.create_destination('pc_dup_d', jsonb_build_object('table', 'pc_dup_copy',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pc3', 'pc_dup_s', 'pc_dup_d');
SELECT pgconduit.wait_for_pipeline('pc3');
SELECT * FROM pc_dup_copy ORDER BY code;
SELECT pipeline, state, snapshot_rows_done FROM pgconduit.status WHERE pipeline = 'pc3';
SELECT pgconduit.drop_pipeline('pc3');

-- a snapshot row the destination rejects halts the pipeline at that
-- record, with nothing of the snapshot applied
CREATE TABLE pc_strict (id int PRIMARY KEY, v text CHECK (v <> 'v3'));
SELECT pgconduit.create_destination('pc_strict_d', jsonb_build_object('table', 'pc_strict',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pc4', 'pc_a_s', 'pc_strict_d');
SELECT * FROM pc_failure('pc4');
SELECT error_table, error_position IS NOT NULL AS has_position FROM pgconduit.status WHERE pipeline = 'pc4';
SELECT count(*) AS applied FROM pc_strict;
SELECT pgconduit.drop_pipeline('pc4');
-- with dead_letter, that record is set aside and the others applied
SELECT pgconduit.alter_connector('pc_strict_d', jsonb_build_object('table', 'pc_strict',
	'url', 'dbname=' || current_database(), 'on_error', 'dead_letter'));
SELECT pgconduit.create_pipeline('pc5', 'pc_a_s', 'pc_strict_d');
SELECT pgconduit.wait_for_pipeline('pc5');
SELECT * FROM pc_strict ORDER BY id;
SELECT pipeline, record->'key' AS key, record->>'operation' AS op, message FROM pgconduit.dead_letter;
SELECT pgconduit.drop_pipeline('pc5');
DELETE FROM pgconduit.dead_letter;

-- columns whose type differs on the destination take the records' way:
-- a text holding JSON becomes a JSON string, an int a JSON number
CREATE TABLE pc_conv (id int PRIMARY KEY, doc text, num int);
INSERT INTO pc_conv VALUES (1, '{"a": 1}', 7);
CREATE TABLE pc_conv_copy (id bigint PRIMARY KEY, doc jsonb, num jsonb);
SELECT pgconduit.create_source('pc_conv_s', jsonb_build_object('table', 'pc_conv',
	'url', 'dbname=' || current_database(), 'cdc', 'off'));
SELECT pgconduit.create_destination('pc_conv_d', jsonb_build_object('table', 'pc_conv_copy',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pc6', 'pc_conv_s', 'pc_conv_d');
SELECT pgconduit.wait_for_pipeline('pc6');
SELECT id, doc, jsonb_typeof(doc) AS doc_type, num, jsonb_typeof(num) AS num_type FROM pc_conv_copy;
SELECT pgconduit.drop_pipeline('pc6');

-- an identity column GENERATED ALWAYS takes the source's values, as
-- records do (they insert with OVERRIDING SYSTEM VALUE)
CREATE TABLE pc_ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
SELECT pgconduit.create_destination('pc_ident_d', jsonb_build_object('table', 'pc_ident',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pc7', 'pc_a_s', 'pc_ident_d');
SELECT pgconduit.wait_for_pipeline('pc7');
SELECT * FROM pc_ident ORDER BY id;
SELECT pgconduit.drop_pipeline('pc7');

-- a table with inheritance children, and a partitioned table: the
-- snapshot has the table's own rows, not its children's (other tables, as
-- for CDC), and the rows of the partitions
CREATE TABLE pc_parent (id int PRIMARY KEY, v text);
CREATE TABLE pc_child (extra int) INHERITS (pc_parent);
INSERT INTO pc_parent VALUES (1, 'parent');
INSERT INTO pc_child VALUES (2, 'child', 0);
CREATE TABLE pc_part (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE pc_part_1 PARTITION OF pc_part FOR VALUES FROM (0) TO (10);
CREATE TABLE pc_part_2 PARTITION OF pc_part FOR VALUES FROM (10) TO (20);
INSERT INTO pc_part VALUES (1, 'first'), (15, 'second');
CREATE TABLE pc_flat (id int PRIMARY KEY, v text);
SELECT pgconduit.create_source('pc_parent_s', jsonb_build_object('table', 'pc_parent',
	'url', 'dbname=' || current_database(), 'cdc', 'off'));
SELECT pgconduit.create_source('pc_part_s', jsonb_build_object('table', 'pc_part',
	'url', 'dbname=' || current_database(), 'cdc', 'off'));
SELECT pgconduit.create_destination('pc_flat_d', jsonb_build_object('table', 'pc_flat',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pc8', 'pc_parent_s', 'pc_flat_d');
SELECT pgconduit.wait_for_pipeline('pc8');
SELECT * FROM pc_flat ORDER BY id;
SELECT pgconduit.drop_pipeline('pc8');
TRUNCATE pc_flat;
SELECT pgconduit.create_pipeline('pc9', 'pc_part_s', 'pc_flat_d');
SELECT pgconduit.wait_for_pipeline('pc9');
SELECT * FROM pc_flat ORDER BY id;
SELECT pgconduit.drop_pipeline('pc9');

-- clean up
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['pc_types_s', 'pc_types_d', 'pc_a_s',
	'pc_a_d', 'pc_dup_s', 'pc_dup_d', 'pc_strict_d', 'pc_conv_s', 'pc_conv_d', 'pc_ident_d',
	'pc_parent_s', 'pc_part_s', 'pc_flat_d']) c;
DROP TABLE pc_types, pc_types_copy, pc_a, pc_a_copy, pc_dup, pc_dup_copy, pc_strict,
	pc_conv, pc_conv_copy, pc_ident, pc_child, pc_parent, pc_part, pc_flat;
DROP FUNCTION pc_failure(text);
TRUNCATE pgconduit.progress;
