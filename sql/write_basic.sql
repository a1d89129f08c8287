-- pgconduit.write(): each operation, keys, unchanged TOAST, several tables,
-- atomicity
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE orders (id int PRIMARY KEY, amount numeric, note text DEFAULT 'none',
					 created date DEFAULT '2000-01-01');

-- create with a key: an upsert; missing columns take their defaults
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "public.orders"},
	"key": {"id": 1}, "payload": {"before": null, "after": {"id": 1, "amount": 12.5}}}');
SELECT * FROM orders ORDER BY id;

-- an array of records, applied in order; snapshot and update upsert too
SELECT pgconduit.write('[
	{"operation": "snapshot", "metadata": {"table": "orders"}, "key": {"id": 2},
	 "payload": {"after": {"id": 2, "amount": 3, "note": "two"}}},
	{"operation": "update", "metadata": {"table": "orders"}, "key": {"id": 1},
	 "payload": {"after": {"id": 1, "note": "updated"}}},
	{"operation": "create", "metadata": {"table": "orders"}, "key": {"id": 3},
	 "payload": {"after": {"id": 3, "amount": null}}}
]');
-- an update leaves the columns it does not name as they are
SELECT * FROM orders ORDER BY id;

-- a later record for the same key overwrites an earlier one, also in one call
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "orders"}, "key": {"id": 4}, "payload": {"after": {"amount": 1}}},
	{"operation": "update", "metadata": {"table": "orders"}, "key": {"id": 4}, "payload": {"after": {"amount": 2}}},
	{"operation": "update", "metadata": {"table": "orders"}, "key": {"id": 4}, "payload": {"after": {"amount": 3}}}
]');
SELECT * FROM orders WHERE id = 4;

-- an update that is not there yet is inserted
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "orders"},
	"key": {"id": 5}, "payload": {"after": {"id": 5, "note": "five"}}}');
SELECT * FROM orders WHERE id = 5;

-- key fields override payload fields of the same name
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "orders"},
	"key": {"id": 6}, "payload": {"after": {"id": 999, "note": "key wins"}}}');
SELECT * FROM orders WHERE id IN (6, 999);

-- a record with only its key: inserted with defaults, or left as it is
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "orders"}, "key": {"id": 7}},
	{"operation": "update", "metadata": {"table": "orders"}, "key": {"id": 2}, "payload": {"after": {"id": 2}}}
]');
SELECT * FROM orders WHERE id IN (2, 7) ORDER BY id;

-- delete by key; a key that is not there is no error
SELECT pgconduit.write('[
	{"operation": "delete", "metadata": {"table": "orders"}, "key": {"id": 3},
	 "payload": {"before": {"id": 3}, "after": null}},
	{"operation": "delete", "metadata": {"table": "orders"}, "key": {"id": 12345}}
]');
SELECT id FROM orders ORDER BY id;

-- an update whose payload.before has another key moves the row
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "orders"},
	"key": {"id": 70}, "payload": {"before": {"id": 7}, "after": {"id": 70, "note": "moved"}}}');
SELECT * FROM orders WHERE id IN (7, 70) ORDER BY id;
-- ... and one whose before has the same key does not
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "orders"},
	"key": {"id": 70}, "payload": {"before": {"id": 70, "note": "moved"}, "after": {"id": 70, "note": "again"}}}');
SELECT * FROM orders WHERE id = 70;

-- opencdc.collection names the table when metadata.table is absent
SELECT pgconduit.write('{"operation": "create", "metadata": {"opencdc.collection": "orders"},
	"key": {"id": 8}, "payload": {"after": {"note": "by collection"}}}');
SELECT * FROM orders WHERE id = 8;

-- pgconduit._write() replaces metadata.table; a null override does not
CREATE TABLE orders_copy (LIKE orders INCLUDING ALL);
SELECT pgconduit._write('{"operation": "create", "metadata": {"table": "orders"},
	"key": {"id": 1}, "payload": {"after": {"note": "copy"}}}', 'public.orders_copy');
SELECT pgconduit._write('{"operation": "create", "metadata": {"table": "orders_copy"},
	"key": {"id": 2}, "payload": {"after": {"note": "copy"}}}', NULL);
SELECT * FROM orders_copy ORDER BY id;
SELECT pgconduit._write(NULL, NULL);
SELECT pgconduit.write(NULL);

-- truncate
SELECT pgconduit.write('{"operation": "truncate", "metadata": {"table": "orders_copy"}}');
SELECT count(*) FROM orders_copy;

-- composite keys
CREATE TABLE lines (order_id int, line int, qty int, PRIMARY KEY (order_id, line));
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "lines"}, "key": {"order_id": 1, "line": 1}, "payload": {"after": {"qty": 1}}},
	{"operation": "create", "metadata": {"table": "lines"}, "key": {"order_id": 1, "line": 2}, "payload": {"after": {"qty": 2}}},
	{"operation": "create", "metadata": {"table": "lines"}, "key": {"line": 1, "order_id": 2}, "payload": {"after": {"qty": 3}}},
	{"operation": "update", "metadata": {"table": "lines"}, "key": {"order_id": 1, "line": 1}, "payload": {"after": {"qty": 10}}},
	{"operation": "delete", "metadata": {"table": "lines"}, "key": {"order_id": 1, "line": 2}}
]');
SELECT * FROM lines ORDER BY order_id, line;

-- no key (null, absent or empty): plain INSERT, duplicates and all
CREATE TABLE events (msg text, at int DEFAULT 0);
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "events"}, "key": null, "payload": {"after": {"msg": "a"}}},
	{"operation": "snapshot", "metadata": {"table": "events"}, "payload": {"after": {"msg": "a", "at": 1}}},
	{"operation": "update", "metadata": {"table": "events"}, "key": {}, "payload": {"after": {"msg": "b"}}},
	{"operation": "create", "metadata": {"table": "events"}, "payload": {"after": {}}}
]');
SELECT * FROM events ORDER BY msg, at;

-- columns in postgres.unchanged_toast are not touched, even if given
CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
INSERT INTO docs VALUES (1, 'old title', repeat('long body ', 1000));
SELECT pgconduit.write('{"operation": "update",
	"metadata": {"table": "public.docs", "postgres.unchanged_toast": "[\"body\"]"},
	"key": {"id": 1}, "payload": {"after": {"id": 1, "title": "new title"}}}');
SELECT pgconduit.write('{"operation": "update",
	"metadata": {"table": "public.docs", "postgres.unchanged_toast": "[\"body\", \"nosuchcolumn\"]"},
	"key": {"id": 1}, "payload": {"after": {"id": 1, "title": "newer title", "body": null}}}');
SELECT id, title, length(body) FROM docs;
SELECT pgconduit.write('{"operation": "update",
	"metadata": {"table": "public.docs", "postgres.unchanged_toast": "[]"},
	"key": {"id": 1}, "payload": {"after": {"id": 1, "body": "short"}}}');
SELECT * FROM docs;

-- ... also when they are NOT NULL: the row is updated, not first inserted
CREATE TABLE docs_nn (id int PRIMARY KEY, title text NOT NULL, body text NOT NULL CHECK (body <> ''));
INSERT INTO docs_nn VALUES (1, 'old title', repeat('long body ', 1000));
SELECT pgconduit.write('[
	{"operation": "update", "metadata": {"table": "docs_nn", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"id": 1}, "payload": {"after": {"id": 1, "title": "new title"}}},
	{"operation": "update", "metadata": {"table": "docs_nn", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"id": 1}, "payload": {"after": {"id": 1, "title": "newer title"}}}
]');
SELECT id, title, length(body) FROM docs_nn;
-- where there is no row, the update fails: the body cannot be supplied
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "docs_nn", "postgres.unchanged_toast": "[\"body\"]"},
	"key": {"id": 2}, "payload": {"after": {"id": 2, "title": "new"}}}');

-- generated columns are computed here, whatever the payload says
CREATE TABLE gen (id int PRIMARY KEY, a int, twice int GENERATED ALWAYS AS (a * 2) STORED);
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "gen"},
	"key": {"id": 1}, "payload": {"after": {"id": 1, "a": 21, "twice": 0}}}');
SELECT * FROM gen;

-- identity columns take the record's value, also GENERATED ALWAYS ones
CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "ident"}, "key": {"id": 42}, "payload": {"after": {"v": "x"}}},
	{"operation": "create", "metadata": {"table": "ident"}, "key": {"id": 42}}
]');
SELECT * FROM ident;

-- several tables in one call, in order
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "events"}, "payload": {"after": {"msg": "multi"}}},
	{"operation": "create", "metadata": {"table": "lines"}, "key": {"order_id": 9, "line": 1}, "payload": {"after": {"qty": 9}}},
	{"operation": "create", "metadata": {"table": "events"}, "payload": {"after": {"msg": "multi"}}},
	{"operation": "truncate", "metadata": {"table": "events"}},
	{"operation": "create", "metadata": {"table": "events"}, "payload": {"after": {"msg": "after truncate"}}}
]');
SELECT * FROM events;
SELECT * FROM lines WHERE order_id = 9;

-- all or nothing: an error in the last record leaves the first ones unapplied
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "events"}, "payload": {"after": {"msg": "lost 1"}}},
	{"operation": "create", "metadata": {"table": "lines"}, "key": {"order_id": 10, "line": 1}, "payload": {"after": {"qty": 1}}},
	{"operation": "create", "metadata": {"table": "lines"}, "key": {"order_id": 10, "line": 2}, "payload": {"after": {"qty": "many"}}}
]');
SELECT * FROM events;
SELECT * FROM lines WHERE order_id = 10;

-- the caller's transaction: a rollback undoes a write
BEGIN;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "events"}, "payload": {"after": {"msg": "rolled back"}}}');
ROLLBACK;
SELECT * FROM events;

-- a foreign key checked at the end of a group
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "parent"}, "key": {"id": 1}},
	{"operation": "create", "metadata": {"table": "child"}, "key": {"id": 1}, "payload": {"after": {"parent_id": 1}}},
	{"operation": "delete", "metadata": {"table": "child"}, "key": {"id": 1}},
	{"operation": "delete", "metadata": {"table": "parent"}, "key": {"id": 1}}
]');
SELECT (SELECT count(*) FROM parent) AS parents, (SELECT count(*) FROM child) AS children;

-- many records: more than one statement execution per table
CREATE TABLE big (id int PRIMARY KEY, v int);
SELECT pgconduit.write(jsonb_agg(jsonb_build_object('operation', 'create',
	'metadata', jsonb_build_object('table', 'big'), 'key', jsonb_build_object('id', i % 1500),
	'payload', jsonb_build_object('after', jsonb_build_object('v', i)))))
  FROM generate_series(1, 5000) i;
SELECT count(*), sum(v), min(v), max(v) FROM big;

-- a trigger that writes records itself
CREATE TABLE audit (msg text);
CREATE FUNCTION events_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pgconduit.write(jsonb_build_object('operation', 'create',
		'metadata', jsonb_build_object('table', 'audit'),
		'payload', jsonb_build_object('after', jsonb_build_object('msg', 'saw ' || NEW.msg))));
	RETURN NEW;
END
$$;
CREATE TRIGGER events_audit AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_audit();
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "events"}, "payload": {"after": {"msg": "t1"}}},
	{"operation": "create", "metadata": {"table": "events"}, "payload": {"after": {"msg": "t2"}}}
]');
SELECT * FROM audit ORDER BY msg;

-- deletes: consecutive ones of a table and key are applied together
CREATE TABLE dl (id int PRIMARY KEY, v int);
INSERT INTO dl SELECT i, i FROM generate_series(1, 2605) i;
-- many in one call (more than one statement execution), with repeated and
-- missing keys
SELECT pgconduit.write(jsonb_agg(jsonb_build_object('operation', 'delete',
	'metadata', jsonb_build_object('table', 'dl'), 'key', jsonb_build_object('id', i % 2600))))
  FROM generate_series(1, 2800) i;
SELECT count(*), min(id), max(id) FROM dl;
-- delete then create again, create then delete, and a delete between two
-- upserts of the same key, all in one call
SELECT pgconduit.write('[
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 2600}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 2601}},
	{"operation": "create", "metadata": {"table": "dl"}, "key": {"id": 2600}, "payload": {"after": {"v": -1}}},
	{"operation": "create", "metadata": {"table": "dl"}, "key": {"id": 1}, "payload": {"after": {"v": -2}}},
	{"operation": "create", "metadata": {"table": "dl"}, "key": {"id": 2}, "payload": {"after": {"v": -3}}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 1}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 2}},
	{"operation": "create", "metadata": {"table": "dl"}, "key": {"id": 2}, "payload": {"after": {"v": -4}}},
	{"operation": "create", "metadata": {"table": "dl"}, "key": {"id": 3}, "payload": {"after": {"v": -5}}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 3}},
	{"operation": "create", "metadata": {"table": "dl"}, "key": {"id": 3}, "payload": {"after": {"v": -6}}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 3}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 2602}}
]');
SELECT * FROM dl WHERE id < 10 OR id > 2590 ORDER BY id;
-- only missing rows
SELECT pgconduit.write('[
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 1}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": -7}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": null}}
]');
SELECT count(*) FROM dl;
-- composite keys; a NULL key value matches nothing
CREATE TABLE dl2 (a int, b text, n int);
INSERT INTO dl2 VALUES (1, 'x', 1), (1, 'y', 2), (2, 'x', 3), (2, NULL, 4), (3, 'z', 5), (3, 'z', 6);
SELECT pgconduit.write('[
	{"operation": "delete", "metadata": {"table": "dl2"}, "key": {"a": 1, "b": "y"}},
	{"operation": "delete", "metadata": {"table": "dl2"}, "key": {"b": "x", "a": 2}},
	{"operation": "delete", "metadata": {"table": "dl2"}, "key": {"a": 2, "b": null}},
	{"operation": "delete", "metadata": {"table": "dl2"}, "key": {"a": 3, "b": "z"}},
	{"operation": "delete", "metadata": {"table": "dl2"}, "key": {"a": 1}},
	{"operation": "delete", "metadata": {"table": "dl2"}, "key": {"a": 9, "b": "x"}}
]');
SELECT * FROM dl2 ORDER BY n;
-- deletes mixed across two tables, and with other records between them
INSERT INTO dl SELECT i, i FROM generate_series(10, 14) i;
INSERT INTO dl2 VALUES (5, 'a', 7), (6, 'b', 8), (7, 'c', 9);
SELECT pgconduit.write('[
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 10}},
	{"operation": "delete", "metadata": {"table": "dl2"}, "key": {"a": 5, "b": "a"}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 11}},
	{"operation": "delete", "metadata": {"table": "dl2"}, "key": {"a": 6, "b": "b"}},
	{"operation": "delete", "metadata": {"table": "dl2"}, "key": {"a": 7, "b": "c"}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 12}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 13}},
	{"operation": "create", "metadata": {"table": "dl2"}, "payload": {"after": {"a": 5, "b": "a", "n": 10}}},
	{"operation": "delete", "metadata": {"table": "dl2"}, "key": {"a": 5, "b": "a"}},
	{"operation": "create", "metadata": {"table": "dl2"}, "payload": {"after": {"a": 5, "b": "a", "n": 11}}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 14}}
]');
SELECT * FROM dl WHERE id BETWEEN 9 AND 15 ORDER BY id;
SELECT * FROM dl2 ORDER BY n;
-- an error names its record, and nothing of the call is applied
\set SHOW_CONTEXT errors
INSERT INTO dl SELECT i, i FROM generate_series(20, 23) i;
CREATE FUNCTION dl_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.id = 22 THEN
		RAISE EXCEPTION 'row 22 is kept';
	END IF;
	RETURN OLD;
END
$$;
CREATE TRIGGER dl_guard BEFORE DELETE ON dl FOR EACH ROW EXECUTE FUNCTION dl_guard();
SELECT pgconduit.write('[
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 20}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 21}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 22}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 23}}
]');
SELECT pgconduit.write('[
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": 20}},
	{"operation": "delete", "metadata": {"table": "dl"}, "key": {"id": "x"}}
]');
\set SHOW_CONTEXT never
SELECT count(*) FROM dl WHERE id BETWEEN 20 AND 23;

DROP TABLE orders, orders_copy, lines, events, docs, docs_nn, gen, ident, child, parent, big, audit, dl, dl2;
DROP FUNCTION events_audit(), dl_guard();
