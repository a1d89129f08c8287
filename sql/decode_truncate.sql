-- pgconduit_output: TRUNCATE gives one "truncate" record per table, also
-- for several tables at once and through CASCADE; unselected tables none
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

CREATE TABLE tr_a (id int PRIMARY KEY);
CREATE TABLE tr_b (id int PRIMARY KEY, a int REFERENCES tr_a);
CREATE TABLE tr_c (id serial PRIMARY KEY);
CREATE TABLE tr_parted (id int, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE tr_part1 PARTITION OF tr_parted FOR VALUES FROM (0) TO (10);
CREATE TABLE tr_part2 PARTITION OF tr_parted FOR VALUES FROM (10) TO (20);
SELECT 'init' FROM pg_create_logical_replication_slot('dec_truncate', 'pgconduit_output');

INSERT INTO tr_a VALUES (1);
TRUNCATE tr_a CASCADE;
TRUNCATE tr_c RESTART IDENTITY;
TRUNCATE tr_c, tr_b;
TRUNCATE tr_parted;
SELECT r ->> 'operation' AS operation, r #>> '{metadata,table}' AS "table",
       r #>> '{metadata,postgres.truncate_cascade}' AS cascade,
       r #>> '{metadata,postgres.truncate_restart_identity}' AS restart_identity,
       r -> 'key' AS key, r -> 'payload' AS payload
  FROM pg_temp.changes('dec_truncate') r;

-- one transaction, one position each, with begin and commit around them
BEGIN;
TRUNCATE tr_a, tr_b, tr_c;
INSERT INTO tr_c DEFAULT VALUES;
COMMIT;
SELECT data::jsonb ->> 'operation' AS operation, data::jsonb #>> '{metadata,table}' AS "table",
       right(data::jsonb ->> 'position', 16) AS index
  FROM pg_logical_slot_get_changes('dec_truncate', NULL, NULL, 'include_transaction', 'on');

-- only the selected tables; a truncate of nothing selected sends nothing
TRUNCATE tr_a, tr_b, tr_c;
TRUNCATE tr_c;
SELECT r ->> 'operation' AS operation, r #>> '{metadata,table}' AS "table"
  FROM pg_temp.changes('dec_truncate', 'tables', 'tr_b', 'include_transaction', 'on') r;
-- and only when truncates are among the actions
TRUNCATE tr_a CASCADE;
SELECT count(*) FROM pg_temp.changes('dec_truncate', 'actions', 'create,update,delete');

SELECT pg_drop_replication_slot('dec_truncate');
DROP TABLE tr_b, tr_a, tr_c, tr_parted;
