-- pgconduit_output: pg_logical_emit_message() messages with "messages",
-- only the given prefixes with "message_prefixes"; transactional ones are
-- records of their transaction, the others are sent when decoded
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE msg_t (id int PRIMARY KEY);
-- a non-transactional message is decoded once WAL is flushed past it, which
-- the commit of a change does (to a table the tests leave out)
CREATE TABLE msg_flush (x int);
SELECT 'init' FROM pg_create_logical_replication_slot('dec_messages', 'pgconduit_output');

-- a message without volatile fields
CREATE FUNCTION pg_temp.msgs(VARIADIC options text[] DEFAULT '{}')
RETURNS TABLE (operation text, transactional text, prefix text, content jsonb, index text)
LANGUAGE sql AS $$
  SELECT data::jsonb ->> 'operation', data::jsonb #>> '{metadata,postgres.transactional}',
         data::jsonb #>> '{metadata,postgres.prefix}', data::jsonb #> '{payload,after,content}',
         right(data::jsonb ->> 'position', 16)
    FROM pg_logical_slot_get_changes('dec_messages', NULL, NULL,
                                     VARIADIC options || '{exclude_tables,"pgconduit.*,msg_flush"}')
$$;

BEGIN;
SELECT 'm' FROM pg_logical_emit_message(true, 'app', 'in the transaction');
INSERT INTO msg_t VALUES (1);
SELECT 'm' FROM pg_logical_emit_message(false, 'app', 'outside "it"');
SELECT 'm' FROM pg_logical_emit_message(true, 'App', E'\\xdeadbeef'::bytea);
COMMIT;
SELECT 'm' FROM pg_logical_emit_message(false, 'other', E'line\nbreak \u00e9');
BEGIN;
SELECT 'm' FROM pg_logical_emit_message(true, 'rolled back', 'never');
ROLLBACK;

-- not asked for: only the change
SELECT * FROM pg_temp.msgs();
-- asked for
BEGIN;
SELECT 'm' FROM pg_logical_emit_message(true, 'app', 'in the transaction');
INSERT INTO msg_t VALUES (2);
SELECT 'm' FROM pg_logical_emit_message(false, 'app', 'outside "it"');
SELECT 'm' FROM pg_logical_emit_message(true, 'App', E'\\xdeadbeef'::bytea);
COMMIT;
SELECT 'm' FROM pg_logical_emit_message(false, 'other', E'line\nbreak \u00e9');
SELECT 'm' FROM pg_logical_emit_message(true, 'alone', '');
SELECT 'm' FROM pg_logical_emit_message(true, 'binary', E'\\x00ff'::bytea);
INSERT INTO msg_flush VALUES (1);
SELECT * FROM pg_temp.msgs('messages', 'on', 'include_transaction', 'on');

-- the metadata of messages
SELECT 'm' FROM pg_logical_emit_message(false, 'app', 'x');
SELECT 'm' FROM pg_logical_emit_message(true, 'app', 'y');
INSERT INTO msg_flush VALUES (1);
SELECT array_agg(k ORDER BY k) AS metadata, data::jsonb -> 'key' AS key,
       data::jsonb #> '{payload,before}' AS before,
       data::jsonb #>> '{metadata,postgres.lsn}' = lsn::text AS lsn_ok
  FROM pg_logical_slot_get_changes('dec_messages', NULL, NULL, 'messages', 'true',
                                   'exclude_tables', 'msg_flush') c,
       jsonb_object_keys(c.data::jsonb -> 'metadata') k
 GROUP BY c.data, c.lsn ORDER BY c.lsn;

-- prefixes: exact, case kept, commas escaped
SELECT 'm' FROM pg_logical_emit_message(false, 'app', '1');
SELECT 'm' FROM pg_logical_emit_message(false, 'App', '2');
SELECT 'm' FROM pg_logical_emit_message(false, 'a,b', '3');
SELECT 'm' FROM pg_logical_emit_message(false, 'apple', '4');
SELECT 'm' FROM pg_logical_emit_message(false, ' spaced ', '5');
INSERT INTO msg_flush VALUES (1);
SELECT prefix, content FROM pg_temp.msgs('message_prefixes', 'App, a\,b');
SELECT 'm' FROM pg_logical_emit_message(false, 'app', '1');
SELECT 'm' FROM pg_logical_emit_message(false, ' spaced ', '5');
INSERT INTO msg_flush VALUES (1);
SELECT prefix, content FROM pg_temp.msgs('message_prefixes', 'app,\ spaced\ ');
-- message_prefixes implies messages; messages off with prefixes is off
SELECT 'm' FROM pg_logical_emit_message(false, 'app', '1');
INSERT INTO msg_flush VALUES (1);
SELECT count(*) FROM pg_temp.msgs('message_prefixes', 'app', 'messages', 'off');

-- positions: a non-transactional message sorts between the transactions
-- sent before and after it
BEGIN;
INSERT INTO msg_t VALUES (3);
SELECT 'm' FROM pg_logical_emit_message(false, 'between', 'x');
INSERT INTO msg_t VALUES (4);
COMMIT;
INSERT INTO msg_t VALUES (5);
SELECT bool_and(p > prev) AS ordered, count(*) AS records,
       string_agg(coalesce(data::jsonb #>> '{metadata,postgres.prefix}', data::jsonb ->> 'operation'), ', ' ORDER BY n) AS sequence
  FROM (SELECT data, n, data::jsonb ->> 'position' AS p,
               lag(data::jsonb ->> 'position', 1, '') OVER (ORDER BY n) AS prev
          FROM pg_logical_slot_get_changes('dec_messages', NULL, NULL, 'messages', 'on',
                                           'include_transaction', 'on', 'exclude_tables', 'msg_flush')
               WITH ORDINALITY AS c(lsn, xid, data, n)) s;

-- a non-transactional message just before its transaction's commit: its
-- WAL record ends where the commit record starts, yet its position is its
-- own, before the transaction's begin
BEGIN;
INSERT INTO msg_t VALUES (6);
SELECT 'm' FROM pg_logical_emit_message(false, 'p', 'x');
COMMIT;
BEGIN;
SELECT 'm' FROM pg_logical_emit_message(false, 'p', 'y');
COMMIT;
INSERT INTO msg_t VALUES (7);
SELECT 'm' FROM pg_logical_emit_message(false, 'p', 'z');
INSERT INTO msg_flush VALUES (1);
SELECT bool_and(p > prev) AS ordered, count(DISTINCT p) = count(*) AS unique,
       string_agg(coalesce(data::jsonb #>> '{payload,after,content}', data::jsonb ->> 'operation'), ', ' ORDER BY n) AS sequence
  FROM (SELECT data, n, data::jsonb ->> 'position' AS p,
               lag(data::jsonb ->> 'position', 1, '') OVER (ORDER BY n) AS prev
          FROM pg_logical_slot_get_changes('dec_messages', NULL, NULL, 'messages', 'on',
                                           'include_transaction', 'on', 'exclude_tables', 'msg_flush')
               WITH ORDINALITY AS c(lsn, xid, data, n)) s;

SELECT pg_drop_replication_slot('dec_messages');
DROP TABLE msg_t, msg_flush;
