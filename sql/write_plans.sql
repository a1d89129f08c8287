-- pgconduit.write() prepares a statement once per table, operation and set of
-- columns, and notices when the table changes
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE p (id int PRIMARY KEY, a int, b text);
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 1}, "payload": {"after": {"a": 1, "b": "x"}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 2}, "payload": {"after": {"a": 2, "b": "y"}}}');

-- a new column
ALTER TABLE p ADD COLUMN c date DEFAULT '2024-01-01';
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 1}, "payload": {"after": {"a": 10, "b": "x"}}},
	{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 3}, "payload": {"after": {"a": 3, "c": "2025-05-05"}}}
]');
SELECT * FROM p ORDER BY id;

-- a dropped column is no column any more; a renamed one has its new name
ALTER TABLE p DROP COLUMN b;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 4}, "payload": {"after": {"a": 4, "b": "gone"}}}');
ALTER TABLE p RENAME COLUMN a TO "A";
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 4}, "payload": {"after": {"a": 4}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 4}, "payload": {"after": {"A": 4}}}');
SELECT * FROM p ORDER BY id;

-- a column of another type
ALTER TABLE p ALTER COLUMN "A" TYPE numeric(6, 2);
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "p"}, "key": {"id": 4}, "payload": {"after": {"A": 4.567}}}');
SELECT * FROM p WHERE id = 4;

-- the table renamed, and another one created under its old name
ALTER TABLE p RENAME TO p_old;
CREATE TABLE p (id text PRIMARY KEY, z boolean);
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "p"}, "key": {"id": "new"}, "payload": {"after": {"z": true}}},
	{"operation": "create", "metadata": {"table": "p_old"}, "key": {"id": 5}, "payload": {"after": {"A": 5}}}
]');
SELECT * FROM p;
SELECT id, "A" FROM p_old ORDER BY id;

-- dropped and created again with the same name
DROP TABLE p;
CREATE TABLE p (id int, w text, CONSTRAINT p3_key PRIMARY KEY (id));
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 1}, "payload": {"after": {"w": "third p"}}}');
SELECT pgconduit.write('{"operation": "delete", "metadata": {"table": "p"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 2}, "payload": {"after": {"w": "third p"}}}');
SELECT * FROM p;

-- the unique index dropped, then back
ALTER TABLE p DROP CONSTRAINT p3_key;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 2}, "payload": {"after": {"w": "no index"}}}');
ALTER TABLE p ADD PRIMARY KEY (id);
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 2}, "payload": {"after": {"w": "index again"}}}');
SELECT * FROM p;

-- changes inside the writing transaction
BEGIN;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 3}, "payload": {"after": {"w": "in tx"}}}');
ALTER TABLE p ADD COLUMN v int;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 3}, "payload": {"after": {"v": 33}}}');
ROLLBACK;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 3}, "payload": {"after": {"v": 33}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 3}, "payload": {"after": {"w": "after rollback"}}}');
SELECT * FROM p ORDER BY id;

-- a different search_path does not change what a prepared statement means
CREATE SCHEMA sp;
CREATE TABLE sp.p (id int PRIMARY KEY, w text);
SET search_path = sp, public;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "public.p"}, "key": {"id": 4}, "payload": {"after": {"w": "public"}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "p"}, "key": {"id": 4}, "payload": {"after": {"w": "sp"}}}');
RESET search_path;
SELECT 'public' AS s, * FROM public.p WHERE id = 4 UNION ALL SELECT 'sp', * FROM sp.p;

DROP TABLE p, p_old;
DROP SCHEMA sp CASCADE;
