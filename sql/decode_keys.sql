-- pgconduit_output: "key" is the primary key, or the replica identity
-- index of a table USING INDEX, or null when there is none; composite keys
-- have several fields; a delete's key comes from the old row
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

-- the key as the record spells it, fields in key order
CREATE FUNCTION pg_temp.raw_keys(slot name)
RETURNS TABLE (operation text, key text) LANGUAGE sql AS $$
  SELECT data::jsonb ->> 'operation', substring(data FROM '"key":(null|\{[^}]*\}),"payload"')
    FROM pg_logical_slot_get_changes(slot, NULL, NULL, 'exclude_tables', 'pgconduit.*')
$$;

CREATE TABLE k_none (a int, b text);
CREATE TABLE k_unique (a int UNIQUE, b text);
CREATE TABLE k_composite (region text, id bigint, note text, PRIMARY KEY (region, id));
CREATE TABLE k_reversed (a int, b int, c int, PRIMARY KEY (c, a));
CREATE TABLE k_index (a int NOT NULL, b uuid NOT NULL, c text);
CREATE UNIQUE INDEX k_index_ba ON k_index (b, a);
ALTER TABLE k_index REPLICA IDENTITY USING INDEX k_index_ba;
SELECT 'init' FROM pg_create_logical_replication_slot('dec_keys', 'pgconduit_output');

-- no key: null for every operation (a unique index that is not the identity is no key)
INSERT INTO k_none VALUES (1, 'x');
UPDATE k_none SET b = 'y';
DELETE FROM k_none;
INSERT INTO k_unique VALUES (1, 'x');
UPDATE k_unique SET b = 'y';
DELETE FROM k_unique;
SELECT r #>> '{metadata,opencdc.collection}' AS "table", r ->> 'operation' AS operation,
       r -> 'key' AS key, r #> '{payload,before}' AS before
  FROM pg_temp.changes('dec_keys') r;

-- composite keys: every key column, in the key's order
INSERT INTO k_composite VALUES ('eu', 1, 'x');
UPDATE k_composite SET note = 'y';
UPDATE k_composite SET id = 2;
DELETE FROM k_composite;
INSERT INTO k_reversed VALUES (1, 2, 3);
UPDATE k_reversed SET b = 20;
DELETE FROM k_reversed;
SELECT * FROM pg_temp.raw_keys('dec_keys');

-- the replica identity index of a table without primary key
INSERT INTO k_index VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'x');
UPDATE k_index SET c = 'y';
UPDATE k_index SET a = 2;
DELETE FROM k_index;
SELECT * FROM pg_temp.raw_keys('dec_keys');

-- adding and dropping a primary key between changes
INSERT INTO k_none VALUES (1, 'x');
ALTER TABLE k_none ADD PRIMARY KEY (a);
INSERT INTO k_none VALUES (2, 'y');
DELETE FROM k_none WHERE a = 1;
ALTER TABLE k_none DROP CONSTRAINT k_none_pkey;
DELETE FROM k_none WHERE a = 2;
SELECT r ->> 'operation' AS operation, r -> 'key' AS key, r #> '{payload,before}' AS before
  FROM pg_temp.changes('dec_keys') r;

SELECT pg_drop_replication_slot('dec_keys');
DROP TABLE k_none, k_unique, k_composite, k_reversed, k_index;
