-- pgconduit_output: via_partition_root reports the changes of partitions
-- under the top-most ancestor the options select, with its name, columns
-- and key; a partition of another column order or with dropped columns is
-- mapped to the ancestor's columns
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- records without their volatile fields (positions, LSNs, xid, times)
CREATE FUNCTION pg_temp.changes(VARIADIC options text[] DEFAULT '{}')
RETURNS TABLE (op text, tbl text, key jsonb, before jsonb, after jsonb, extra jsonb)
LANGUAGE sql AS $$
  SELECT data::jsonb ->> 'operation', data::jsonb #>> '{metadata,table}',
         data::jsonb -> 'key', data::jsonb #> '{payload,before}',
         data::jsonb #> '{payload,after}',
         nullif((data::jsonb -> 'metadata') - '{table,opencdc.collection,postgres.schema,opencdc.readAt,postgres.xid,postgres.lsn,postgres.commit_lsn,postgres.commit_time}'::text[], '{}')
    FROM pg_logical_slot_get_changes('dec_parts', NULL, NULL, VARIADIC options)
$$;

-- a root, a plain partition, one with dropped columns and another column
-- order, and a sub-partitioned one
CREATE TABLE pt_root (id int NOT NULL, region text NOT NULL, v text, PRIMARY KEY (id, region))
	PARTITION BY LIST (region);
CREATE TABLE pt_eu PARTITION OF pt_root FOR VALUES IN ('eu');
CREATE TABLE pt_us (junk int, v text, region text NOT NULL, id int NOT NULL);
ALTER TABLE pt_us DROP COLUMN junk;
ALTER TABLE pt_root ATTACH PARTITION pt_us FOR VALUES IN ('us');
CREATE TABLE pt_asia PARTITION OF pt_root FOR VALUES IN ('asia', 'oceania')
	PARTITION BY LIST (region);
CREATE TABLE pt_asia_a PARTITION OF pt_asia FOR VALUES IN ('asia');
CREATE TABLE pt_asia_o (extra_dropped int, id int NOT NULL, region text NOT NULL, v text);
ALTER TABLE pt_asia_o DROP COLUMN extra_dropped;
ALTER TABLE pt_asia ATTACH PARTITION pt_asia_o FOR VALUES IN ('oceania');
CREATE TABLE pt_other (id int PRIMARY KEY);
SELECT 'init' FROM pg_create_logical_replication_slot('dec_parts', 'pgconduit_output');

-- rows in several partitions, an update in place, a row that moves to
-- another partition (a delete and a create), a delete
INSERT INTO pt_root VALUES (1, 'eu', 'a'), (2, 'us', 'b'), (3, 'asia', 'c'), (4, 'oceania', 'd');
UPDATE pt_root SET v = 'b2' WHERE id = 2;
UPDATE pt_root SET region = 'oceania', v = 'moved' WHERE id = 1;
DELETE FROM pt_root WHERE id = 3;

-- off (the default): each partition under its own name
SELECT op, tbl, key, after FROM pg_temp.changes('tables', 'pt_*');
-- on: under the root, in the root's column order
INSERT INTO pt_root VALUES (101, 'eu', 'a'), (102, 'us', 'b'), (103, 'asia', 'c'), (104, 'oceania', 'd');
UPDATE pt_root SET v = 'b2' WHERE id = 102;
UPDATE pt_root SET region = 'us', v = 'moved' WHERE id = 104;
DELETE FROM pt_root WHERE id = 103;
INSERT INTO pt_other VALUES (1);
SELECT op, tbl, key, before, after FROM pg_temp.changes('tables', 'pt_root', 'via_partition_root', 'on');

-- the record's columns are in the root's order
INSERT INTO pt_root VALUES (105, 'us', 'order');
SELECT substring(data from '"after":(\{[^}]*\})') AS after_text
  FROM pg_logical_slot_get_changes('dec_parts', NULL, NULL, 'tables', 'pt_root', 'via_partition_root', 'on');

-- under REPLICA IDENTITY FULL of a partition, payload.before is its old
-- row, mapped to the root's columns
ALTER TABLE pt_us REPLICA IDENTITY FULL;
UPDATE pt_root SET v = 'full' WHERE id = 2;
DELETE FROM pt_root WHERE id = 2;
SELECT op, tbl, key, before, after FROM pg_temp.changes('tables', 'pt_root', 'via_partition_root', 'on');
ALTER TABLE pt_us REPLICA IDENTITY DEFAULT;

-- columns and key are the root's names
INSERT INTO pt_root VALUES (5, 'oceania', 'e');
SELECT op, tbl, key, after FROM pg_temp.changes('tables', 'pt_root', 'via_partition_root', 'on',
                                              'columns', 'v', 'key', 'id');

-- the top-most selected ancestor: a partition named alone reports itself,
-- a sub-partitioned table its partitions; not selected, nothing
INSERT INTO pt_root VALUES (6, 'asia', 'f'), (7, 'eu', 'g');
SELECT op, tbl, key, after FROM pg_temp.changes('tables', 'pt_asia_a, pt_eu', 'via_partition_root', 'on');
INSERT INTO pt_root VALUES (8, 'asia', 'h'), (9, 'oceania', 'i'), (10, 'eu', 'j');
SELECT op, tbl, key, after FROM pg_temp.changes('tables', 'pt_asia, pt_asia_o', 'via_partition_root', 'on');
INSERT INTO pt_root VALUES (11, 'asia', 'k');
SELECT op, tbl, key, after FROM pg_temp.changes('tables', 'pt_root, pt_asia', 'via_partition_root', 'on');
INSERT INTO pt_root VALUES (12, 'asia', 'l');
SELECT count(*) FROM pg_temp.changes('tables', 'pt_other', 'via_partition_root', 'on');

-- through a publication of the root
CREATE PUBLICATION pt_pub FOR TABLE pt_root;
INSERT INTO pt_root VALUES (13, 'oceania', 'm');
SELECT op, tbl, key, after FROM pg_temp.changes('publication_names', 'pt_pub', 'via_partition_root', 'on');
DROP PUBLICATION pt_pub;

-- a partition attached later reports under the root from then on; one
-- detached no longer does; a root renamed is reported under its new name
CREATE TABLE pt_af (v text, id int NOT NULL, region text NOT NULL);
INSERT INTO pt_af VALUES ('before attach', 20, 'africa');
INSERT INTO pt_root VALUES (21, 'eu', 'first');
ALTER TABLE pt_root ATTACH PARTITION pt_af FOR VALUES IN ('africa');
INSERT INTO pt_root VALUES (22, 'africa', 'attached');
ALTER TABLE pt_root DETACH PARTITION pt_us;
INSERT INTO pt_us VALUES ('detached', 'us', 23);
INSERT INTO pt_root VALUES (24, 'eu', 'after detach');
ALTER TABLE pt_root RENAME TO pt_root2;
INSERT INTO pt_root2 VALUES (25, 'africa', 'renamed');
ALTER TABLE pt_root2 RENAME TO pt_root;
SELECT op, tbl, key, after FROM pg_temp.changes('tables', 'pt_root, pt_root2', 'via_partition_root', 'on');
ALTER TABLE pt_root ATTACH PARTITION pt_us FOR VALUES IN ('us');

-- a sub-partitioned table attached later: its partitions follow it
CREATE TABLE pt_am (id int NOT NULL, region text NOT NULL, v text) PARTITION BY LIST (region);
CREATE TABLE pt_am_n PARTITION OF pt_am FOR VALUES IN ('america');
INSERT INTO pt_am VALUES (30, 'america', 'not yet');
SELECT count(*) FROM pg_temp.changes('tables', 'pt_root', 'via_partition_root', 'on');
INSERT INTO pt_am VALUES (31, 'america', 'not yet');
ALTER TABLE pt_root ATTACH PARTITION pt_am FOR VALUES IN ('america');
INSERT INTO pt_am VALUES (32, 'america', 'attached');
ALTER TABLE pt_root DETACH PARTITION pt_am;
INSERT INTO pt_am VALUES (33, 'america', 'detached');
SELECT op, tbl, key, after FROM pg_temp.changes('tables', 'pt_root', 'via_partition_root', 'on');

-- the same, without indexes to attach, in separate transactions
CREATE TABLE pt_nk (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE pt_nk_sub (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE pt_nk_leaf PARTITION OF pt_nk_sub FOR VALUES FROM (0) TO (100);
INSERT INTO pt_nk_sub VALUES (1, 'not yet');
ALTER TABLE pt_nk ATTACH PARTITION pt_nk_sub FOR VALUES FROM (0) TO (100);
INSERT INTO pt_nk_sub VALUES (2, 'attached');
ALTER TABLE pt_nk DETACH PARTITION pt_nk_sub;
INSERT INTO pt_nk_sub VALUES (3, 'detached');
SELECT op, tbl, key, after FROM pg_temp.changes('tables', 'pt_nk', 'via_partition_root', 'on');
DROP TABLE pt_nk, pt_nk_sub;

-- TRUNCATE: of the root, one record; of partitions alone, a record under
-- the top-most truncated one's own name, naming its root
TRUNCATE pt_root;
TRUNCATE pt_eu;
TRUNCATE pt_asia;
TRUNCATE pt_eu, pt_us;
TRUNCATE pt_root, pt_eu;
SELECT op, tbl, extra FROM pg_temp.changes('tables', 'pt_root', 'via_partition_root', 'on');

-- the option's value
SELECT count(*) FROM pg_logical_slot_peek_changes('dec_parts', NULL, NULL, 'via_partition_root', 'maybe');

SELECT pg_drop_replication_slot('dec_parts');
DROP TABLE pt_root, pt_other, pt_am;
