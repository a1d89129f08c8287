-- pgconduit_output: "before" is the old row as WAL has it, per replica
-- identity: the key columns (DEFAULT, INDEX) of deletes and of updates that
-- change the key, the whole row (FULL), nothing (NOTHING)
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

CREATE TABLE ri_default (id int PRIMARY KEY, code text NOT NULL, note text);
CREATE TABLE ri_full (id int PRIMARY KEY, code text NOT NULL, note text);
ALTER TABLE ri_full REPLICA IDENTITY FULL;
CREATE TABLE ri_index (id int PRIMARY KEY, code text NOT NULL, note text);
CREATE UNIQUE INDEX ri_index_code ON ri_index (code);
ALTER TABLE ri_index REPLICA IDENTITY USING INDEX ri_index_code;
CREATE TABLE ri_nothing (id int PRIMARY KEY, code text NOT NULL, note text);
ALTER TABLE ri_nothing REPLICA IDENTITY NOTHING;
CREATE TABLE ri_full_nokey (code text, note text);
ALTER TABLE ri_full_nokey REPLICA IDENTITY FULL;
SELECT 'init' FROM pg_create_logical_replication_slot('dec_identity', 'pgconduit_output');

INSERT INTO ri_default VALUES (1, 'a', 'x');
UPDATE ri_default SET note = 'y' WHERE id = 1;
UPDATE ri_default SET id = 2 WHERE id = 1;
UPDATE ri_default SET code = 'b', note = NULL WHERE id = 2;
DELETE FROM ri_default;

INSERT INTO ri_full VALUES (1, 'a', 'x');
UPDATE ri_full SET note = 'y' WHERE id = 1;
UPDATE ri_full SET id = 2, note = NULL WHERE id = 1;
DELETE FROM ri_full;

INSERT INTO ri_index VALUES (1, 'a', 'x');
UPDATE ri_index SET note = 'y' WHERE id = 1;
UPDATE ri_index SET code = 'b' WHERE id = 1;
UPDATE ri_index SET id = 2 WHERE id = 1;
DELETE FROM ri_index;

INSERT INTO ri_nothing VALUES (1, 'a', 'x');
UPDATE ri_nothing SET id = 2 WHERE id = 1;
DELETE FROM ri_nothing;

INSERT INTO ri_full_nokey VALUES ('a', 'x');
UPDATE ri_full_nokey SET note = 'y';
DELETE FROM ri_full_nokey;

SELECT r #>> '{metadata,opencdc.collection}' AS "table", r ->> 'operation' AS operation,
       r -> 'key' AS key, r #> '{payload,before}' AS before, r #> '{payload,after}' AS after
  FROM pg_temp.changes('dec_identity') r;

-- changing the identity between changes: each record as WAL had it
INSERT INTO ri_default VALUES (5, 'e', 'x');
ALTER TABLE ri_default REPLICA IDENTITY FULL;
DELETE FROM ri_default WHERE id = 5;
INSERT INTO ri_default VALUES (6, 'f', 'x');
ALTER TABLE ri_default REPLICA IDENTITY DEFAULT;
DELETE FROM ri_default WHERE id = 6;
SELECT r ->> 'operation' AS operation, r -> 'key' AS key, r #> '{payload,before}' AS before
  FROM pg_temp.changes('dec_identity') r;

SELECT pg_drop_replication_slot('dec_identity');
DROP TABLE ri_default, ri_full, ri_index, ri_nothing, ri_full_nokey;
