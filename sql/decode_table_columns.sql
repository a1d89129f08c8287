-- pgconduit_output: items of "columns" and "key" qualified by a table's OID
-- (<oid>.<column>) apply to that table only, so that one consumer of many
-- tables gives each its own columns and key; unqualified items apply to
-- the tables that have no qualified ones
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.changes(VARIADIC options text[] DEFAULT '{}')
RETURNS TABLE (tbl text, key jsonb, after jsonb)
LANGUAGE sql AS $$
  SELECT data::jsonb #>> '{metadata,table}', data::jsonb -> 'key',
         data::jsonb #> '{payload,after}'
    FROM pg_logical_slot_peek_changes('dec_tcols', NULL, NULL, VARIADIC options)
$$;
-- the option's value: items, "%s" standing for the table's OID
CREATE FUNCTION pg_temp.qual(items text, tbl regclass)
RETURNS text LANGUAGE sql AS $$ SELECT replace(items, '%s', tbl::oid::text) $$;

CREATE TABLE tc_a (id int PRIMARY KEY, v text, "V a""l" text, code text UNIQUE NOT NULL);
CREATE TABLE tc_b (id int PRIMARY KEY, x text, y text);
CREATE TABLE "123.x" (id int PRIMARY KEY, "123.x" text, z text);
CREATE TABLE tc_root (id int PRIMARY KEY, r text, s text) PARTITION BY RANGE (id);
CREATE TABLE tc_part PARTITION OF tc_root FOR VALUES FROM (0) TO (100);
SELECT 'init' FROM pg_create_logical_replication_slot('dec_tcols', 'pgconduit_output');
INSERT INTO tc_a VALUES (1, 'v', 'q', 'c1');
INSERT INTO tc_b VALUES (1, 'x', 'y');
INSERT INTO "123.x" VALUES (1, 'dotted', 'z');
INSERT INTO tc_root VALUES (1, 'r', 's');

-- tc_a's own columns and key; the others take the unqualified ones, or
-- all columns and their primary key when there are none
SELECT * FROM pg_temp.changes('columns', pg_temp.qual('%s.id, %s."V a""l", x, "123.x"', 'tc_a'),
                              'key', pg_temp.qual('%s.code', 'tc_a'));
SELECT * FROM pg_temp.changes('columns', pg_temp.qual('%s.id,%s.y', 'tc_b'),
                              'key', pg_temp.qual('%s.x', 'tc_b'));
-- a quoted "123.x" is a column's name, not a qualified one
SELECT * FROM pg_temp.changes('columns', '"123.x",id', 'tables', '"123.x"');
-- under via_partition_root, the OID of the table reported under
SELECT * FROM pg_temp.changes('columns', pg_temp.qual('%s.s', 'tc_root'),
                              'key', pg_temp.qual('%s.r', 'tc_root'),
                              'tables', 'tc_root', 'via_partition_root', 'on');
SELECT * FROM pg_temp.changes('columns', pg_temp.qual('%s.s', 'tc_part'), 'tables', 'tc_*');

-- bad values
SELECT data FROM pg_logical_slot_peek_changes('dec_tcols', NULL, NULL, 'columns', '0.id');
SELECT data FROM pg_logical_slot_peek_changes('dec_tcols', NULL, NULL, 'key', '4294967296.id');
SELECT data FROM pg_logical_slot_peek_changes('dec_tcols', NULL, NULL, 'key', '16384.');
SELECT data FROM pg_logical_slot_peek_changes('dec_tcols', NULL, NULL, 'columns', '16384."id');
SELECT data FROM pg_logical_slot_peek_changes('dec_tcols', NULL, NULL, 'columns', 'id,,v');
SELECT data FROM pg_logical_slot_peek_changes('dec_tcols', NULL, NULL, 'columns', 'id v');
SELECT data FROM pg_logical_slot_peek_changes('dec_tcols', NULL, NULL, 'columns', '"a"b');

SELECT 'dropped' FROM pg_drop_replication_slot('dec_tcols');
DROP TABLE tc_a, tc_b, "123.x", tc_root;
