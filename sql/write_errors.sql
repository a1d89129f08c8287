-- pgconduit.write(): every bad input is an ERROR that names the record (its
-- index, counted from 0), the table and the column, and applies nothing
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- the context line is what names the record
\set SHOW_CONTEXT errors

CREATE TABLE t (id int PRIMARY KEY, n int CHECK (n >= 0), s varchar(3), d date);
CREATE TABLE nokey (id int, v text);
INSERT INTO t VALUES (100, 1, 'old', NULL);

-- not records
SELECT pgconduit.write('5');
SELECT pgconduit.write('"create"');
SELECT pgconduit.write('[{"operation": "truncate", "metadata": {"table": "t"}}, 7]');
SELECT pgconduit.write('[[]]');
-- no operation, a bad one, an unknown one
SELECT pgconduit.write('{"metadata": {"table": "t"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": 1, "metadata": {"table": "t"}}');
SELECT pgconduit.write('[{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}},
						 {"operation": "upsert", "metadata": {"table": "t"}, "key": {"id": 2}}]');
-- no table name, a bad one, a missing table
SELECT pgconduit.write('{"operation": "create", "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": "t", "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": ["t"]}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "no_such_table"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "no_such_schema.t"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "a.b.c.d"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "\"unterminated"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"opencdc.collection": "T"}, "key": {"id": 1}}');
SELECT pgconduit._write('{"operation": "create", "key": {"id": 1}}', 'no_such_table');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "pg_catalog.pg_tables"}, "key": {"id": 1}}');
-- a key that is not an object
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": 1}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": "{\"id\": 1}"}');
SELECT pgconduit.write('{"operation": "delete", "metadata": {"table": "t"}, "key": [1]}');
-- a payload that is not an object; no row at all
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": "x"}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": {"after": [1]}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "nokey"}, "payload": {"after": null}}');
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": {"before": 1, "after": {}}}');
-- a delete without key, and without the old row to find its row by
SELECT pgconduit.write('{"operation": "delete", "metadata": {"table": "t"}, "payload": {"before": null}}');
SELECT pgconduit.write('{"operation": "delete", "metadata": {"table": "t"}, "key": {}}');
-- fields that are not columns, in the key and in the payload
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"ID": 1}}');
SELECT pgconduit.write('[{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": {"after": {"n": 1}}},
						 {"operation": "create", "metadata": {"table": "t"}, "key": {"id": 2}, "payload": {"after": {"n": 1, "x y": 2}}}]');
SELECT pgconduit.write('{"operation": "delete", "metadata": {"table": "t"}, "key": {"nope": 1}}');
-- values the column type rejects
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": "one"}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": {"after": {"n": 1.5}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": {"after": {"n": 99999999999}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": {"after": {"s": "long"}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": {"after": {"d": "2024-02-30"}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": {"after": {"d": true}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": {"after": {"n": {"a": 1}}}}');
SELECT pgconduit.write('{"operation": "delete", "metadata": {"table": "t"}, "key": {"id": "x"}}');
-- constraints, at the record that breaks them
SELECT pgconduit.write('[{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1}, "payload": {"after": {"n": 1}}},
						 {"operation": "create", "metadata": {"table": "t"}, "key": {"id": 2}, "payload": {"after": {"n": -1}}},
						 {"operation": "create", "metadata": {"table": "t"}, "key": {"id": 3}, "payload": {"after": {"n": 1}}}]');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": null}}');
-- a bad postgres.unchanged_toast
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "t", "postgres.unchanged_toast": ["n"]}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "t", "postgres.unchanged_toast": "n"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "t", "postgres.unchanged_toast": "{\"n\": 1}"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "t", "postgres.unchanged_toast": "[1]"}, "key": {"id": 1}}');
-- an upsert needs a unique index on exactly the key columns
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "nokey"}, "key": {"id": 1}, "payload": {"after": {"v": "x"}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "t"}, "key": {"id": 1, "n": 1}}');
CREATE UNIQUE INDEX nokey_partial ON nokey (id) WHERE id > 0;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "nokey"}, "key": {"id": 1}, "payload": {"after": {"v": "x"}}}');
CREATE TABLE deferred (id int, CONSTRAINT deferred_id UNIQUE (id) DEFERRABLE);
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "deferred"}, "key": {"id": 1}}');
-- ... and once there is one, it works
CREATE UNIQUE INDEX ON nokey (id);
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "nokey"}, "key": {"id": 1}, "payload": {"after": {"v": "x"}}}');
-- the internal helpers only serve pgconduit.write()
SELECT * FROM pgconduit._write_rows(1) AS r(a int);
SELECT pgconduit._write_at();

-- nothing of the above was applied
SELECT * FROM t;
SELECT * FROM nokey;

DROP TABLE t, nokey, deferred;
