-- pgconduit_output: one record per insert, update and delete, with the
-- fields of "The record"; begin and commit records on request; transactions
-- that change nothing selected send nothing
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- records without their volatile fields (positions, LSNs, xid, times)
CREATE FUNCTION pg_temp.changes(slot name, VARIADIC options text[] DEFAULT '{}')
RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT data::jsonb - 'position'
      #- '{metadata,opencdc.readAt}' #- '{metadata,postgres.xid}'
      #- '{metadata,postgres.lsn}' #- '{metadata,postgres.commit_lsn}'
      #- '{metadata,postgres.commit_time}'
    FROM pg_logical_slot_get_changes(slot, NULL, NULL, VARIADIC
           CASE WHEN 'exclude_tables' = ANY (options) THEN options
                ELSE options || '{exclude_tables,pgconduit.*}' END)
$$;

CREATE TABLE ops (id int PRIMARY KEY, name text, price numeric(8,2));
SELECT 'init' FROM pg_create_logical_replication_slot('dec_ops', 'pgconduit_output');

-- create, update, delete
BEGIN;
INSERT INTO ops VALUES (1, 'apple', 1.50), (2, 'pear', NULL);
COMMIT;
UPDATE ops SET price = 2.00 WHERE id = 1;
DELETE FROM ops WHERE id = 2;
SELECT * FROM pg_temp.changes('dec_ops');

-- the record's fields: exactly these, all metadata values strings
INSERT INTO ops VALUES (3, 'plum', 0.5);
SELECT data FROM pg_logical_slot_peek_changes('dec_ops', NULL, NULL) \gset
SELECT array_agg(k ORDER BY k) AS fields FROM jsonb_object_keys(:'data'::jsonb) k;
SELECT array_agg(k ORDER BY k) AS metadata FROM jsonb_object_keys(:'data'::jsonb -> 'metadata') k;
SELECT bool_and(jsonb_typeof(v) = 'string') AS all_strings
  FROM jsonb_each(:'data'::jsonb -> 'metadata') AS m(k, v);
-- the volatile fields have their documented forms
SELECT (:'data'::jsonb ->> 'position') ~ '^[0-9A-F]{16}/[0-9A-F]{16}$' AS position_form,
       (:'data'::jsonb #>> '{metadata,postgres.lsn}')::pg_lsn = c.lsn AS lsn_is_change,
       (:'data'::jsonb #>> '{metadata,postgres.xid}')::xid = c.xid AS xid_is_xid,
       (:'data'::jsonb #>> '{metadata,postgres.commit_lsn}')::pg_lsn
         = (substr(:'data'::jsonb ->> 'position', 1, 8) || '/' ||
            substr(:'data'::jsonb ->> 'position', 9, 8))::pg_lsn AS position_is_commit_lsn,
       (:'data'::jsonb #>> '{metadata,postgres.commit_time}')::timestamptz
         BETWEEN now() - interval '1 hour' AND clock_timestamp() AS commit_time_ok,
       (:'data'::jsonb #>> '{metadata,opencdc.readAt}')::numeric
         BETWEEN extract(epoch FROM now() - interval '1 hour') * 1e9
             AND extract(epoch FROM clock_timestamp()) * 1e9 AS read_at_ns
  FROM pg_logical_slot_get_changes('dec_ops', NULL, NULL) c;

-- begin and commit records with include_transaction
BEGIN;
INSERT INTO ops VALUES (4, 'fig', 3);
UPDATE ops SET name = 'figs' WHERE id = 4;
SELECT pg_current_xact_id()::text AS xid \gset
COMMIT;
SELECT r ->> 'operation' AS operation, r -> 'key' AS key, r -> 'payload' AS payload
  FROM pg_temp.changes('dec_ops', 'include_transaction', 'on') r;
BEGIN;
INSERT INTO ops VALUES (5, 'kiwi', 1);
SELECT pg_current_xact_id()::text AS xid \gset
COMMIT;
SELECT data::jsonb ->> 'operation' AS operation,
       right(data::jsonb ->> 'position', 16) AS index,
       data::jsonb #>> '{metadata,postgres.xid}' = :'xid' AS xid_ok,
       data::jsonb #>> '{metadata,postgres.lsn}' = lsn::text AS lsn_ok,
       (data::jsonb -> 'metadata') ? 'table' AS has_table,
       data::jsonb #> '{metadata,postgres.commit_lsn}' IS NOT NULL AS has_commit_lsn,
       data::jsonb #> '{metadata,postgres.commit_time}' IS NOT NULL AS has_commit_time
  FROM pg_logical_slot_get_changes('dec_ops', NULL, NULL, 'include_transaction', 'true');

-- nothing for transactions that change no selected row
BEGIN;
COMMIT;
BEGIN;
INSERT INTO ops VALUES (6, 'lime', 1);
ROLLBACK;
CREATE TABLE ops_other (id int);
INSERT INTO ops_other VALUES (1);
UPDATE ops SET price = price WHERE false;
SELECT count(*) AS records
  FROM pg_logical_slot_get_changes('dec_ops', NULL, NULL, 'include_transaction', 'on',
                                   'tables', 'ops');
-- a subtransaction's changes are part of its transaction; an aborted one's are not
BEGIN;
INSERT INTO ops VALUES (7, 'date', 1);
SAVEPOINT s;
INSERT INTO ops VALUES (8, 'lost', 1);
ROLLBACK TO s;
SAVEPOINT s2;
INSERT INTO ops VALUES (9, 'kept', 1);
RELEASE s2;
COMMIT;
SELECT r ->> 'operation' AS operation, r -> 'key' AS key
  FROM pg_temp.changes('dec_ops', 'include_transaction', 'on') r;

-- peek leaves the records, get consumes them
INSERT INTO ops VALUES (10, 'cherry', 1);
SELECT count(*) FROM pg_logical_slot_peek_changes('dec_ops', NULL, NULL);
SELECT count(*) FROM pg_logical_slot_peek_changes('dec_ops', NULL, NULL);
SELECT count(*) FROM pg_logical_slot_get_changes('dec_ops', NULL, NULL);
SELECT count(*) FROM pg_logical_slot_get_changes('dec_ops', NULL, NULL);

-- a large transaction: one record per row, positions unique and in order
INSERT INTO ops SELECT g, 'bulk', g FROM generate_series(100, 2099) g;
SELECT count(*) AS records,
       count(DISTINCT data::jsonb ->> 'position') AS positions,
       bool_and(data::jsonb ->> 'position' > prev) AS ordered,
       min(right(data::jsonb ->> 'position', 16)) AS first_index,
       max(right(data::jsonb ->> 'position', 16)) AS last_index
  FROM (SELECT data, lag(data::jsonb ->> 'position', 1, '') OVER (ORDER BY n) AS prev
          FROM pg_logical_slot_get_changes('dec_ops', NULL, NULL) WITH ORDINALITY AS c(lsn, xid, data, n)) s;

SELECT pg_drop_replication_slot('dec_ops');
DROP TABLE ops, ops_other;
