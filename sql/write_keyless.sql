-- Tables without key (REPLICA IDENTITY FULL at the source): an update or a
-- delete finds its row by the whole old row of payload.before, one row per
-- change, NULLs equal, types without equality compared by their text
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE wk (a int, b text, c numeric);
-- a record of table wk without key
CREATE FUNCTION wk_rec(op text, old jsonb, new jsonb, t text DEFAULT 'public.wk') RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_build_object('operation', op, 'metadata', jsonb_build_object('table', t),
		'key', NULL, 'payload', jsonb_build_object('before', old, 'after', new))
$$;

-- repeated rows: each change touches one of them
INSERT INTO wk VALUES (1, 'x', 1.5), (1, 'x', 1.5), (1, 'x', 1.5), (2, NULL, NULL), (2, NULL, NULL);
SELECT pgconduit.write(wk_rec('update', '{"a": 1, "b": "x", "c": 1.5}', '{"a": 1, "b": "y", "c": 1.5}'));
SELECT a, b, c, count(*) FROM wk GROUP BY a, b, c ORDER BY a, b;
SELECT pgconduit.write(wk_rec('delete', '{"a": 1, "b": "x", "c": 1.5}', NULL));
SELECT a, b, c, count(*) FROM wk GROUP BY a, b, c ORDER BY a, b;
-- NULLs match NULLs
SELECT pgconduit.write(wk_rec('update', '{"a": 2, "b": null, "c": null}', '{"a": 2, "b": "was null", "c": null}'));
SELECT pgconduit.write(wk_rec('delete', '{"a": 2, "b": null, "c": null}', NULL));
SELECT a, b, c, count(*) FROM wk GROUP BY a, b, c ORDER BY a, b;
-- several changes of repeated rows in one call, in order
INSERT INTO wk SELECT 3, 'r', 0 FROM generate_series(1, 4);
SELECT pgconduit.write(jsonb_build_array(
	wk_rec('update', '{"a": 3, "b": "r", "c": 0}', '{"a": 3, "b": "r", "c": 1}'),
	wk_rec('update', '{"a": 3, "b": "r", "c": 0}', '{"a": 3, "b": "r", "c": 1}'),
	wk_rec('update', '{"a": 3, "b": "r", "c": 1}', '{"a": 3, "b": "r", "c": 2}'),
	wk_rec('delete', '{"a": 3, "b": "r", "c": 0}', NULL),
	wk_rec('create', NULL, '{"a": 3, "b": "r", "c": 9}'),
	wk_rec('delete', '{"a": 3, "b": "r", "c": 9}', NULL)));
SELECT a, b, c, count(*) FROM wk WHERE a = 3 GROUP BY a, b, c ORDER BY c;

-- an old row that is not there: an error naming the table, nothing applied
SELECT pgconduit.write(jsonb_build_array(
	wk_rec('delete', '{"a": 1, "b": "y", "c": 1.5}', NULL),
	wk_rec('update', '{"a": 1, "b": "nope", "c": 1.5}', '{"a": 1, "b": "z", "c": 1.5}')));
SELECT pgconduit.write(wk_rec('delete', '{"a": 99, "b": "x", "c": 1}', NULL));
SELECT a, b, c, count(*) FROM wk WHERE a = 1 GROUP BY a, b, c ORDER BY b;
-- an old row that is a different value of an equal one (numeric 1.50 = 1.5)
SELECT pgconduit.write(wk_rec('update', '{"a": 1, "b": "y", "c": 1.50}', '{"a": 1, "b": "y", "c": 7}'));
SELECT a, b, c FROM wk WHERE a = 1 ORDER BY b, c;

-- records that cannot be applied
SELECT pgconduit.write(wk_rec('delete', NULL, NULL));
SELECT pgconduit.write(wk_rec('delete', '{}', NULL));
SELECT pgconduit.write(wk_rec('update', '{}', '{"a": 1}'));
SELECT pgconduit.write(wk_rec('update', '{"a": 1, "b": "y", "c": 7}', NULL));
SELECT pgconduit.write(wk_rec('update', '{"a": 1, "b": "y", "c": 7}', '{}'));
SELECT pgconduit.write(wk_rec('delete', '{"a": 1, "nosuch": 1}', NULL));
SELECT pgconduit.write(wk_rec('delete', '{"a": "not a number"}', NULL));
SELECT pgconduit.write(wk_rec('delete', '[1]', NULL));
-- an update without key and without old row is a plain insert, as before
SELECT pgconduit.write(wk_rec('update', NULL, '{"a": 5, "b": "insert", "c": 0}'));
SELECT a, b, c FROM wk WHERE a = 5;

-- types without an equality operator (json, point, xml) compare by their
-- text; json values as the output plugin sends them, exactly
CREATE TABLE wk_types (j json, p point, x xml, n int, arr json[]);
INSERT INTO wk_types VALUES ('{"b": 1,  "a": [1, 2]}', '(1,2)', '<a>1</a>', 1, ARRAY['{"k": 1}']::json[]),
	('{"b": 1,  "a": [1, 2]}', '(1,2)', '<a>1</a>', 1, ARRAY['{"k": 1}']::json[]),
	('{"a": [1, 2], "b": 1}', '(1,2)', '<a>1</a>', 1, ARRAY['{"k": 1}']::json[]);
SELECT pgconduit.write(jsonb_build_object('operation', 'update',
	'metadata', jsonb_build_object('table', 'public.wk_types', 'postgres.json_as_text', '["j"]'),
	'key', NULL, 'payload', jsonb_build_object(
		'before', jsonb_build_object('j', '{"b": 1,  "a": [1, 2]}', 'p', '(1,2)', 'x', '<a>1</a>', 'n', 1, 'arr', '{"{\"k\": 1}"}'),
		'after', jsonb_build_object('j', '{"b": 1,  "a": [1, 2]}', 'p', '(1,2)', 'x', '<a>1</a>', 'n', 2, 'arr', '{"{\"k\": 1}"}'))));
SELECT j::text, p::text, x::text, n, arr::text FROM wk_types ORDER BY n, j::text;
SELECT pgconduit.write(jsonb_build_object('operation', 'delete',
	'metadata', jsonb_build_object('table', 'public.wk_types', 'postgres.json_as_text', '["j"]'),
	'key', NULL, 'payload', jsonb_build_object(
		'before', jsonb_build_object('j', '{"a": [1, 2], "b": 1}', 'p', '(1,2)', 'x', '<a>1</a>', 'n', 1, 'arr', '{"{\"k\": 1}"}'))));
SELECT j::text, p::text, x::text, n FROM wk_types ORDER BY n, j::text;
-- json as jsonb would print it matches no row that keeps other spacing
SELECT pgconduit.write(jsonb_build_object('operation', 'delete',
	'metadata', jsonb_build_object('table', 'public.wk_types'),
	'key', NULL, 'payload', jsonb_build_object(
		'before', jsonb_build_object('j', '{"b": 1,  "a": [1, 2]}'::jsonb, 'n', 1))));

-- a partitioned table: the row in its partition, not a row of another
-- partition at the same place
CREATE TABLE wk_parted (k int, v text) PARTITION BY LIST (k);
CREATE TABLE wk_parted_1 PARTITION OF wk_parted FOR VALUES IN (1);
CREATE TABLE wk_parted_2 PARTITION OF wk_parted FOR VALUES IN (2);
INSERT INTO wk_parted VALUES (1, 'same'), (2, 'same');
SELECT ctid, tableoid::regclass FROM wk_parted ORDER BY k;
SELECT pgconduit.write(wk_rec('delete', '{"k": 2, "v": "same"}', NULL, 'public.wk_parted'));
SELECT pgconduit.write(wk_rec('update', '{"k": 1, "v": "same"}', '{"k": 2, "v": "moved"}', 'public.wk_parted'));
SELECT tableoid::regclass, * FROM wk_parted ORDER BY k;

-- unchanged TOAST columns are kept; columns the record leaves out too
CREATE TABLE wk_toast (id int, big text, extra text DEFAULT 'kept');
INSERT INTO wk_toast (id, big) VALUES (1, repeat('b', 10000));
SELECT pgconduit.write(jsonb_build_object('operation', 'update',
	'metadata', jsonb_build_object('table', 'public.wk_toast', 'postgres.unchanged_toast', '["big"]'),
	'key', NULL, 'payload', jsonb_build_object(
		'before', jsonb_build_object('id', 1, 'big', repeat('b', 10000)),
		'after', jsonb_build_object('id', 2))));
SELECT id, length(big), extra FROM wk_toast;

-- generated columns are the table's own: not matched, not set
CREATE TABLE wk_gen (a int, twice int GENERATED ALWAYS AS (a * 2) STORED);
INSERT INTO wk_gen (a) VALUES (1), (1);
SELECT pgconduit.write(wk_rec('update', '{"a": 1, "twice": 99}', '{"a": 5, "twice": 99}', 'public.wk_gen'));
SELECT * FROM wk_gen ORDER BY a;

-- privileges: UPDATE or DELETE, and SELECT to find the row, as for any
-- UPDATE or DELETE with a WHERE clause
CREATE ROLE wk_role;
GRANT DELETE ON wk TO wk_role;
SET ROLE wk_role;
SELECT pgconduit.write(wk_rec('delete', '{"a": 5, "b": "insert", "c": 0}', NULL));
RESET ROLE;
GRANT SELECT ON wk TO wk_role;
SET ROLE wk_role;
SELECT pgconduit.write(wk_rec('delete', '{"a": 5, "b": "insert", "c": 0}', NULL));
SELECT pgconduit.write(wk_rec('update', '{"a": 1, "b": "y", "c": 7}', '{"a": 1, "b": "y", "c": 8}'));
RESET ROLE;
SELECT count(*) FROM wk WHERE a = 5;

-- a keyed update or delete is not affected by payload.before
CREATE TABLE wk_keyed (id int PRIMARY KEY, v text);
INSERT INTO wk_keyed VALUES (1, 'a'), (2, 'b');
SELECT pgconduit.write(jsonb_build_array(
	jsonb_build_object('operation', 'update', 'metadata', jsonb_build_object('table', 'public.wk_keyed'),
		'key', jsonb_build_object('id', 1),
		'payload', jsonb_build_object('before', jsonb_build_object('id', 1, 'v', 'stale'),
									  'after', jsonb_build_object('id', 1, 'v', 'a2'))),
	jsonb_build_object('operation', 'delete', 'metadata', jsonb_build_object('table', 'public.wk_keyed'),
		'key', jsonb_build_object('id', 2),
		'payload', jsonb_build_object('before', jsonb_build_object('id', 2, 'v', 'stale')))));
SELECT * FROM wk_keyed;

-- the pipeline's path with on_error = dead_letter: the change whose row is
-- missing is set aside, the others applied
SELECT applied, dead_letters, failed_position
  FROM pgconduit._apply_batch('wk-id', 'wk', jsonb_build_array(
	wk_rec('delete', '{"a": 404, "b": "x", "c": 1}', NULL) || '{"position": "p1"}',
	wk_rec('create', NULL, '{"a": 6, "b": "after", "c": 0}') || '{"position": "p2"}'),
	NULL, 'dead_letter', 'cdc', 'p2');
SELECT position, message FROM pgconduit.dead_letter WHERE pipeline = 'wk';
SELECT a, b FROM wk WHERE a = 6;
DELETE FROM pgconduit.dead_letter WHERE pipeline = 'wk';
DELETE FROM pgconduit.progress WHERE pipeline_id = 'wk-id';

-- a snapshot into an empty table without key may go by COPY: its
-- records would be plain INSERTs; into a table with rows it may not
CREATE TABLE wk_copy (a int, b text);
BEGIN;
SELECT pgconduit._copy_target('public.wk_copy', '{a,b}', '{integer,text}', '{}');
ROLLBACK;
INSERT INTO wk_copy VALUES (1, 'x');
SELECT pgconduit._copy_target('public.wk_copy', '{a,b}', '{integer,text}', '{}') IS NULL AS by_records;

DROP TABLE wk_copy, wk, wk_types, wk_parted, wk_toast, wk_gen, wk_keyed;
DROP FUNCTION wk_rec(text, jsonb, jsonb, text);
DROP ROLE wk_role;
