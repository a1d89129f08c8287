-- pgconduit_output: an unchanged TOASTed value is not in WAL; it is left
-- out of "after" and named in metadata."postgres.unchanged_toast", or taken
-- from the old row under REPLICA IDENTITY FULL; never a null
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

-- a value stored out of line, the same each run
CREATE FUNCTION pg_temp.big(seed int) RETURNS text LANGUAGE sql AS
  $$ SELECT string_agg(md5((seed * 1000 + g)::text), '') FROM generate_series(1, 200) g $$;

-- a record's payload with big values shown as their length and md5
CREATE FUNCTION pg_temp.short(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT coalesce(jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'string' AND length(v #>> '{}') > 100
                                           THEN to_jsonb(length(v #>> '{}') || ' bytes, md5 ' || left(md5(v #>> '{}'), 8))
                                           ELSE v END), 'null')
    FROM jsonb_each(CASE WHEN jsonb_typeof(j) = 'object' THEN j ELSE '{}' END) AS e(k, v)
$$;

CREATE TABLE tt (id int PRIMARY KEY, big text, "Big ""2""" text, small text);
ALTER TABLE tt ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE tt ALTER COLUMN "Big ""2""" SET STORAGE EXTERNAL;
CREATE TABLE tt_full (LIKE tt INCLUDING ALL);
ALTER TABLE tt_full REPLICA IDENTITY FULL;
SELECT 'init' FROM pg_create_logical_replication_slot('dec_toast', 'pgconduit_output');

INSERT INTO tt VALUES (1, pg_temp.big(1), pg_temp.big(2), 'a');
UPDATE tt SET small = 'b';
UPDATE tt SET big = pg_temp.big(3);
UPDATE tt SET big = NULL;
UPDATE tt SET small = 'c';
DELETE FROM tt;
SELECT r ->> 'operation' AS operation,
       r #>> '{metadata,postgres.unchanged_toast}' AS unchanged_toast,
       pg_temp.short(r #> '{payload,after}') AS after,
       pg_temp.short(r #> '{payload,before}') AS before
  FROM pg_temp.changes('dec_toast') r;
-- the unchanged list is a JSON array of column names, as a string
INSERT INTO tt VALUES (2, pg_temp.big(1), pg_temp.big(2), 'a');
UPDATE tt SET small = 'z';
SELECT (r #>> '{metadata,postgres.unchanged_toast}')::jsonb AS unchanged_toast,
       jsonb_typeof(r #> '{metadata,postgres.unchanged_toast}') AS json_type,
       (SELECT array_agg(k) FROM jsonb_object_keys(r #> '{payload,after}') k) AS after_columns
  FROM pg_temp.changes('dec_toast') r WHERE r ->> 'operation' = 'update';

-- REPLICA IDENTITY FULL: the old row fills in the unchanged values
INSERT INTO tt_full VALUES (1, pg_temp.big(1), pg_temp.big(2), 'a');
UPDATE tt_full SET small = 'b';
DELETE FROM tt_full;
SELECT r ->> 'operation' AS operation,
       (r -> 'metadata') ? 'postgres.unchanged_toast' AS has_unchanged,
       pg_temp.short(r #> '{payload,after}') AS after,
       pg_temp.short(r #> '{payload,before}') AS before
  FROM pg_temp.changes('dec_toast') r;
-- and the values are the full ones
UPDATE tt_full SET small = 'c';
INSERT INTO tt_full VALUES (2, pg_temp.big(4), NULL, 'a');
UPDATE tt_full SET small = 'd';
SELECT r #>> '{payload,after,big}' = pg_temp.big(4) AS big_ok,
       r -> 'payload' -> 'after' -> 'Big "2"' AS big2
  FROM pg_temp.changes('dec_toast') r WHERE r ->> 'operation' = 'update';

-- a row inserted and updated in one transaction: the update's value is not
-- in WAL either
BEGIN;
INSERT INTO tt VALUES (3, pg_temp.big(5), NULL, 'a');
UPDATE tt SET small = 'b' WHERE id = 3;
COMMIT;
SELECT r ->> 'operation' AS operation,
       r #>> '{metadata,postgres.unchanged_toast}' AS unchanged_toast,
       r #>> '{payload,after,big}' = pg_temp.big(5) AS big_ok,
       pg_temp.short(r #> '{payload,after}') AS after
  FROM pg_temp.changes('dec_toast') r;

SELECT pg_drop_replication_slot('dec_toast');
DROP TABLE tt, tt_full;
