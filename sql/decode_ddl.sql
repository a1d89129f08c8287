-- pgconduit_output: schema changes between changes; each record describes
-- the row as it was when it changed
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

CREATE TABLE ddl (id int PRIMARY KEY, a text, b int);
SELECT 'init' FROM pg_create_logical_replication_slot('dec_ddl', 'pgconduit_output');

-- between transactions
INSERT INTO ddl VALUES (1, 'one', 1);
ALTER TABLE ddl ADD COLUMN c numeric DEFAULT 1.5;
INSERT INTO ddl VALUES (2, 'two', 2, 2.5);
UPDATE ddl SET b = 10 WHERE id = 1;
ALTER TABLE ddl DROP COLUMN a;
INSERT INTO ddl VALUES (3, 3, 3.5);
ALTER TABLE ddl RENAME COLUMN b TO bee;
INSERT INTO ddl VALUES (4, 4, 4.5);
ALTER TABLE ddl RENAME TO ddl_renamed;
INSERT INTO ddl_renamed VALUES (5, 5, 5.5);
ALTER TABLE ddl_renamed ALTER COLUMN bee TYPE text USING 'b' || bee;
INSERT INTO ddl_renamed VALUES (6, 'b6', 6.5);
ALTER TABLE ddl_renamed ALTER COLUMN c TYPE int USING c::int;
UPDATE ddl_renamed SET c = c + 1 WHERE id = 6;
CREATE SCHEMA ddl_s;
ALTER TABLE ddl_renamed SET SCHEMA ddl_s;
DELETE FROM ddl_s.ddl_renamed WHERE id = 1;
ALTER TABLE ddl_s.ddl_renamed DROP CONSTRAINT ddl_pkey;
DELETE FROM ddl_s.ddl_renamed WHERE id = 2;
SELECT r ->> 'operation' AS operation, r #>> '{metadata,table}' AS "table",
       r -> 'key' AS key, r #> '{payload,after}' AS after
  FROM pg_temp.changes('dec_ddl') r;

-- inside one transaction
CREATE TABLE ddl_tx (id int PRIMARY KEY, a int);
BEGIN;
INSERT INTO ddl_tx VALUES (1, 1);
ALTER TABLE ddl_tx ADD COLUMN b text;
INSERT INTO ddl_tx VALUES (2, 2, 'x');
ALTER TABLE ddl_tx RENAME COLUMN a TO aa;
UPDATE ddl_tx SET b = 'y' WHERE id = 1;
ALTER TABLE ddl_tx ALTER COLUMN aa TYPE bigint;
INSERT INTO ddl_tx VALUES (3, 3000000000, 'z');
ALTER TABLE ddl_tx DROP COLUMN b;
DELETE FROM ddl_tx WHERE id = 2;
COMMIT;
SELECT r ->> 'operation' AS operation, r -> 'key' AS key, r #> '{payload,after}' AS after,
       r #> '{payload,before}' AS before
  FROM pg_temp.changes('dec_ddl') r;

-- a table dropped after its changes, and one re-created under the same name
CREATE TABLE ddl_gone (id int PRIMARY KEY, v text);
INSERT INTO ddl_gone VALUES (1, 'first');
DROP TABLE ddl_gone;
CREATE TABLE ddl_gone (id text PRIMARY KEY, w int);
INSERT INTO ddl_gone VALUES ('x', 2);
SELECT r #>> '{metadata,table}' AS "table", r -> 'key' AS key, r #> '{payload,after}' AS after
  FROM pg_temp.changes('dec_ddl') r;

SELECT pg_drop_replication_slot('dec_ddl');
DROP TABLE ddl_s.ddl_renamed, ddl_tx, ddl_gone;
DROP SCHEMA ddl_s;
