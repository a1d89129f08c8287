-- pgconduit_output: "follow_tables" adds tables by pattern to those
-- "table_oids" chose (tables created later included), "exclude_oids" drops
-- tables whatever selects them, and "include_relid" starts each change's
-- metadata with the OID of the table the record is reported under
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- records as (operation, table, key, relid's current name); the slot is
-- consumed, so each call sees the changes since the last one
CREATE FUNCTION pg_temp.changes(VARIADIC options text[] DEFAULT '{}')
RETURNS TABLE (op text, tbl text, key jsonb, relid regclass)
LANGUAGE sql AS $$
  SELECT data::jsonb ->> 'operation', data::jsonb #>> '{metadata,table}',
         data::jsonb -> 'key',
         (data::jsonb #>> '{metadata,postgres.relid}')::oid::regclass
    FROM pg_logical_slot_get_changes('dec_follow', NULL, NULL, VARIADIC options)
$$;
-- OIDs of tables, as an option's value
CREATE FUNCTION pg_temp.oids(VARIADIC tables regclass[])
RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(t::oid::text, ',') FROM unnest(tables) t
$$;

CREATE TABLE fo_a (id int PRIMARY KEY);
CREATE TABLE fo_b (id int PRIMARY KEY);
CREATE TABLE other_c (id int PRIMARY KEY);
SELECT 'init' FROM pg_create_logical_replication_slot('dec_follow', 'pgconduit_output');

-- a consumer chose fo_a by OID; tables named late_* are followed, also
-- those created after it chose and after the slot was made
INSERT INTO fo_a VALUES (1);
INSERT INTO fo_b VALUES (1);
CREATE TABLE late_1 (id int PRIMARY KEY);
INSERT INTO late_1 VALUES (1);
CREATE TABLE "late_Q" (id int PRIMARY KEY);
INSERT INTO "late_Q" VALUES (1);
CREATE SCHEMA fo_s;
CREATE TABLE fo_s.late_2 (id int PRIMARY KEY);
INSERT INTO fo_s.late_2 VALUES (1);
INSERT INTO other_c VALUES (1);
SELECT * FROM pg_temp.changes('table_oids', pg_temp.oids('fo_a'),
                              'follow_tables', 'public.late_*', 'include_relid', 'on');

-- renamed: a table chosen by OID stays selected; a followed table is
-- matched by its name at each change, so one renamed away is no longer,
-- and one renamed into the pattern is from then on (within one session:
-- the cached decision is dropped when the table changes)
INSERT INTO fo_a VALUES (2);
INSERT INTO late_1 VALUES (2);
INSERT INTO fo_b VALUES (2);
ALTER TABLE fo_a RENAME TO zz_fo_a;
ALTER TABLE late_1 RENAME TO gone_1;
ALTER TABLE fo_b RENAME TO late_b;
INSERT INTO zz_fo_a VALUES (22);
INSERT INTO gone_1 VALUES (22);
INSERT INTO late_b VALUES (22);
SELECT * FROM pg_temp.changes('table_oids', pg_temp.oids('zz_fo_a'),
                              'follow_tables', 'late_*', 'include_relid', 'on');
ALTER TABLE zz_fo_a RENAME TO fo_a;
ALTER TABLE gone_1 RENAME TO late_1;
ALTER TABLE late_b RENAME TO fo_b;

-- follow_tables alone selects only what it matches; quoted parts exactly
INSERT INTO fo_a VALUES (3);
INSERT INTO late_1 VALUES (3);
INSERT INTO "late_Q" VALUES (3);
INSERT INTO fo_s.late_2 VALUES (3);
SELECT * FROM pg_temp.changes('follow_tables', 'fo_s.*, "late_Q"');

-- exclude_oids wins over table_oids, over follow_tables, and over no
-- selection at all
INSERT INTO fo_a VALUES (4);
INSERT INTO fo_b VALUES (4);
INSERT INTO late_1 VALUES (4);
INSERT INTO fo_s.late_2 VALUES (4);
SELECT op, tbl, key FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL,
		'table_oids', pg_temp.oids('fo_a', 'fo_b'), 'follow_tables', '*.late_*',
		'exclude_oids', pg_temp.oids('fo_b', 'late_1')) AS c,
	LATERAL (SELECT c.data::jsonb ->> 'operation', c.data::jsonb #>> '{metadata,table}',
	                c.data::jsonb -> 'key') AS r(op, tbl, key);
SELECT * FROM pg_temp.changes('exclude_oids', pg_temp.oids('fo_a', 'fo_b', 'late_1', 'other_c'));

-- "tables", "exclude_tables" and "publication_names" still filter on top
CREATE PUBLICATION fo_pub FOR TABLE late_1;
INSERT INTO fo_a VALUES (5);
INSERT INTO late_1 VALUES (5);
INSERT INTO fo_s.late_2 VALUES (5);
SELECT op, tbl, key FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL,
		'table_oids', pg_temp.oids('fo_a'), 'follow_tables', '*.late_*',
		'tables', 'late_*, fo_a', 'exclude_tables', 'fo_s.*') AS c,
	LATERAL (SELECT c.data::jsonb ->> 'operation', c.data::jsonb #>> '{metadata,table}',
	                c.data::jsonb -> 'key') AS r(op, tbl, key);
SELECT * FROM pg_temp.changes('table_oids', pg_temp.oids('fo_a'), 'follow_tables', '*.late_*',
                              'publication_names', 'fo_pub');
DROP PUBLICATION fo_pub;

-- partitions under a root matched by a pattern (via_partition_root): the
-- top-most selected ancestor is chosen by the same predicate
CREATE TABLE fp_root (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE fp_eu PARTITION OF fp_root FOR VALUES IN ('eu');
CREATE TABLE fp_us PARTITION OF fp_root FOR VALUES IN ('us') PARTITION BY LIST (region);
CREATE TABLE fp_us_1 PARTITION OF fp_us FOR VALUES IN ('us');
INSERT INTO fp_root VALUES (1, 'eu'), (2, 'us');
SELECT * FROM pg_temp.changes('follow_tables', 'fp_root', 'via_partition_root', 'on',
                              'include_relid', 'on');
-- a partition chosen by OID is reported under the root that a pattern selects
INSERT INTO fp_root VALUES (3, 'eu'), (4, 'us');
SELECT * FROM pg_temp.changes('table_oids', pg_temp.oids('fp_eu'), 'follow_tables', 'fp_r*',
                              'via_partition_root', 'on', 'include_relid', 'on');
-- an excluded root leaves the partitions selected to report themselves
INSERT INTO fp_root VALUES (5, 'eu'), (6, 'us');
SELECT * FROM pg_temp.changes('follow_tables', 'fp_*', 'exclude_oids', pg_temp.oids('fp_root'),
                              'via_partition_root', 'on', 'include_relid', 'on');
-- a partition's changes reported under a selected root are the root's:
-- excluding the partition's OID does not hold them back
INSERT INTO fp_root VALUES (55, 'eu'), (56, 'us');
SELECT * FROM pg_temp.changes('follow_tables', 'fp_root', 'exclude_oids', pg_temp.oids('fp_eu'),
                              'via_partition_root', 'on', 'include_relid', 'on');
-- by OID: the sub-partitioned table is the top-most one chosen
INSERT INTO fp_root VALUES (7, 'eu'), (8, 'us');
SELECT * FROM pg_temp.changes('table_oids', pg_temp.oids('fp_us', 'fp_us_1'),
                              'via_partition_root', 'on', 'include_relid', 'on');
-- without via_partition_root, a partition is its own table
INSERT INTO fp_root VALUES (9, 'eu');
SELECT * FROM pg_temp.changes('follow_tables', 'fp_*', 'include_relid', 'on');

-- include_relid: "postgres.relid" is the first member of the metadata of
-- every change and truncate record, in both metadata modes; begin, commit
-- and message records do not carry it
CREATE FUNCTION pg_temp.relids(VARIADIC options text[] DEFAULT '{}')
RETURNS TABLE (op text, relid regclass, tbl text, first_member boolean)
LANGUAGE sql AS $$
  SELECT data::jsonb ->> 'operation',
         (data::jsonb #>> '{metadata,postgres.relid}')::oid::regclass,
         data::jsonb #>> '{metadata,table}',
         data ~ '^\{"position":"[0-9A-F]{16}/[0-9A-F]{16}","operation":"[a-z]+","metadata":\{"postgres\.relid":"[0-9]+","table":"'
    FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, VARIADIC options)
$$;
BEGIN;
INSERT INTO fo_a VALUES (10);
UPDATE fo_a SET id = 11 WHERE id = 10;
DELETE FROM fo_a WHERE id = 11;
INSERT INTO late_1 VALUES (10);
SELECT 'message' FROM pg_logical_emit_message(true, 'fo', 'hello');
TRUNCATE fo_a, late_1, other_c;
COMMIT;
TRUNCATE fp_root;
TRUNCATE fp_eu;
SELECT * FROM pg_temp.relids('include_relid', 'on', 'include_transaction', 'on',
                             'messages', 'on', 'tables', 'fo_a, late_1, fp_*');
SELECT * FROM pg_temp.relids('include_relid', 'on', 'metadata', 'table',
                             'tables', 'fo_a, late_1, fp_*', 'via_partition_root', 'on');
-- the whole metadata in table mode: relid, then table, nothing else
SELECT (data::jsonb -> 'metadata') - 'postgres.relid' AS metadata
  FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'include_relid', 'on',
                                    'metadata', 'table', 'tables', 'fo_a', 'actions', 'insert,update,delete');
-- off (the default) and without it: no "postgres.relid"
SELECT count(*) FILTER (WHERE data LIKE '%postgres.relid%') AS with_relid, count(*) AS records
  FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'include_relid', 'off');
SELECT count(*) FILTER (WHERE data LIKE '%postgres.relid%') AS with_relid, count(*) AS records
  FROM pg_logical_slot_get_changes('dec_follow', NULL, NULL);

-- bad values, each an error naming the option
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'follow_tables', '');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'follow_tables', 'a.b.c');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'follow_tables', 'a,,b');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'follow_tables', '"open');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', 'fo_a');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', '0');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', '1,-2');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', '4294967296');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', '');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', '1,,2');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', '1,');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', '+5');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', '"5"');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', '5 6');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'table_oids', '99999999999999999999');
-- spaces around OIDs are allowed
SELECT count(*) FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'exclude_oids', ' 5 , 6 ');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'include_relid', 'maybe');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL,
		'follow_tables', 'a', 'follow_tables', 'b');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL,
		'exclude_oids', '1', 'exclude_oids', '2');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL,
		'include_relid', 'on', 'include_relid', 'off');
SELECT data FROM pg_logical_slot_peek_changes('dec_follow', NULL, NULL, 'include_relids', 'on');

SELECT 'dropped' FROM pg_drop_replication_slot('dec_follow');
DROP TABLE fo_a, fo_b, other_c, late_1, "late_Q", fp_root;
DROP SCHEMA fo_s CASCADE;
