-- pgconduit.write(): an update that changes the key is applied as an
-- update of the row found by the old key (payload.before), as native
-- logical replication applies it, never as a delete and an insert, so the
-- columns it does not carry (unchanged TOAST) keep their values
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- a composite key beside a large value; every row event is logged
CREATE TABLE ku (a int, b int, body text, note text, PRIMARY KEY (a, b));
CREATE TABLE ku_log (n serial, op text, old_key text, new_key text, body_len int);
CREATE FUNCTION ku_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ku_log (op, old_key, new_key, body_len)
	VALUES (TG_OP,
			CASE WHEN TG_OP <> 'INSERT' THEN OLD.a || ',' || OLD.b END,
			CASE WHEN TG_OP <> 'DELETE' THEN NEW.a || ',' || NEW.b END,
			CASE WHEN TG_OP <> 'DELETE' THEN length(NEW.body) END);
	RETURN NULL;
END
$$;
CREATE TRIGGER ku_log AFTER INSERT OR UPDATE OR DELETE ON ku
	FOR EACH ROW EXECUTE FUNCTION ku_log();
INSERT INTO ku VALUES (1, 1, repeat('long body ', 1000), 'first');
TRUNCATE ku_log;

-- the key changes, the body is unchanged TOAST and not in the record
SELECT pgconduit.write('{"operation": "update",
	"metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	"key": {"a": 2, "b": 1},
	"payload": {"before": {"a": 1, "b": 1}, "after": {"a": 2, "b": 1, "note": "moved"}}}');
SELECT a, b, length(body), note FROM ku ORDER BY a, b;
SELECT op, old_key, new_key, body_len FROM ku_log ORDER BY n;
TRUNCATE ku_log;

-- several key changes of one row in one call, one key column at a time
SELECT pgconduit.write('[
	{"operation": "update", "metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"a": 3, "b": 1}, "payload": {"before": {"a": 2, "b": 1}, "after": {"a": 3, "b": 1, "note": "3,1"}}},
	{"operation": "update", "metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"a": 3, "b": 5}, "payload": {"before": {"a": 3, "b": 1}, "after": {"a": 3, "b": 5}}},
	{"operation": "update", "metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"a": 4, "b": 5}, "payload": {"before": {"a": 3, "b": 5}, "after": {"a": 4, "b": 5, "note": "4,5"}}}
]');
SELECT a, b, length(body), note FROM ku ORDER BY a, b;
SELECT op, old_key, new_key, body_len FROM ku_log ORDER BY n;
TRUNCATE ku_log;

-- ... and in one transaction of several calls, with other rows between
BEGIN;
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "ku"}, "key": {"a": 9, "b": 9},
	 "payload": {"after": {"a": 9, "b": 9, "body": "nine", "note": "new"}}},
	{"operation": "update", "metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"a": 5, "b": 5}, "payload": {"before": {"a": 4, "b": 5}, "after": {"a": 5, "b": 5}}}
]');
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"a": 6, "b": 6}, "payload": {"before": {"a": 5, "b": 5}, "after": {"a": 6, "b": 6, "note": "6,6"}}}');
COMMIT;
SELECT a, b, length(body), note FROM ku ORDER BY a, b;
SELECT op, old_key, new_key, body_len FROM ku_log ORDER BY n;
TRUNCATE ku_log;

-- no row under the old key: a record that carries every column it sets is
-- inserted under the new key, as a create would be ...
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "ku"},
	"key": {"a": 21, "b": 1}, "payload": {"before": {"a": 20, "b": 1}, "after": {"a": 21, "b": 1, "body": "carried", "note": "inserted"}}}');
SELECT a, b, body, note FROM ku WHERE a IN (20, 21);
-- ... one that leaves columns as they are cannot be, and fails, with
-- nothing of the call applied
SELECT pgconduit.write('[
	{"operation": "update", "metadata": {"table": "ku"}, "key": {"a": 21, "b": 1},
	 "payload": {"after": {"a": 21, "b": 1, "note": "applied?"}}},
	{"operation": "update", "metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"a": 31, "b": 1}, "payload": {"before": {"a": 30, "b": 1}, "after": {"a": 31, "b": 1, "note": "lost body"}}}
]');
SELECT a, b, body, note FROM ku WHERE a IN (21, 30, 31);
-- the same for an update that keeps its key and finds no row
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"a": 40, "b": 1}, "payload": {"before": {"a": 40, "b": 1}, "after": {"a": 40, "b": 1, "note": "lost body"}}}');
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"a": 40, "b": 1}, "payload": {"after": {"a": 40, "b": 1, "note": "lost body"}}}');
SELECT count(*) FROM ku WHERE a = 40;
-- where the row is there, it keeps the body
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"a": 6, "b": 6}, "payload": {"after": {"a": 6, "b": 6, "note": "kept"}}}');
SELECT a, b, length(body), note FROM ku WHERE a = 6;

-- the new key taken by another row: the unique index says no
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "ku", "postgres.unchanged_toast": "[\"body\"]"},
	 "key": {"a": 9, "b": 9}, "payload": {"before": {"a": 6, "b": 6}, "after": {"a": 9, "b": 9}}}');
SELECT a, b, length(body), note FROM ku ORDER BY a, b;

-- a key change with only the key in the record, through _write()'s
-- table override
SELECT pgconduit._write('{"operation": "update", "metadata": {"table": "elsewhere", "postgres.unchanged_toast": "[\"body\", \"note\"]"},
	 "key": {"a": 7, "b": 7}, "payload": {"before": {"a": 6, "b": 6}, "after": {"a": 7, "b": 7}}}', 'public.ku');
SELECT a, b, length(body), note FROM ku ORDER BY a, b;
SELECT op, old_key, new_key, body_len FROM ku_log ORDER BY n;

DROP TABLE ku, ku_log;
DROP FUNCTION ku_log();
