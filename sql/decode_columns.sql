-- pgconduit_output: the "columns" and "key" options, which a pipeline uses
-- for its source's columns and key
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE col_t (id int PRIMARY KEY, code text NOT NULL, v text, secret text);
SELECT 'init' FROM pg_create_logical_replication_slot('dec_columns', 'pgconduit_output');
INSERT INTO col_t VALUES (1, 'a', 'one', 'hidden');
UPDATE col_t SET v = 'uno', secret = 'still hidden' WHERE id = 1;
DELETE FROM col_t WHERE id = 1;

-- every column and the primary key, by default
SELECT data::jsonb -> 'operation' AS op, data::jsonb -> 'key' AS key, data::jsonb -> 'payload' AS payload
  FROM pg_logical_slot_peek_changes('dec_columns', NULL, NULL);

-- only the columns asked for, and another key
SELECT data::jsonb -> 'operation' AS op, data::jsonb -> 'key' AS key, data::jsonb -> 'payload' AS payload
  FROM pg_logical_slot_peek_changes('dec_columns', NULL, NULL, 'columns', 'id,v', 'key', 'code');

-- quoted names; a key column that does not exist leaves no key
ALTER TABLE col_t RENAME COLUMN v TO "V a""l";
INSERT INTO col_t VALUES (2, 'b', 'two', 'x');
SELECT data::jsonb -> 'key' AS key, data::jsonb -> 'payload' -> 'after' AS after
  FROM pg_logical_slot_get_changes('dec_columns', NULL, NULL, 'columns', '"V a""l",id', 'key', 'nosuch')
 WHERE data::jsonb ->> 'operation' = 'create' AND data::jsonb -> 'key' IS NOT NULL
   AND (data::jsonb #>> '{payload,after,id}')::int = 2;

-- metadata = table keeps only the table in a change's metadata
INSERT INTO col_t VALUES (3, 'c', 'three', 'y');
SELECT data::jsonb -> 'metadata' AS metadata
  FROM pg_logical_slot_peek_changes('dec_columns', NULL, NULL, 'metadata', 'table');
SELECT data FROM pg_logical_slot_peek_changes('dec_columns', NULL, NULL, 'metadata', 'none');

SELECT pg_drop_replication_slot('dec_columns');
DROP TABLE col_t;
