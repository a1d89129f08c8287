-- pgconduit_output: which changes are sent: "tables" and "exclude_tables"
-- patterns, "publication_names" (with each publication's actions), the
-- "actions" option, and origin filtering
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

-- which tables had records, and which operations
CREATE FUNCTION pg_temp.tables(VARIADIC options text[] DEFAULT '{}')
RETURNS TABLE ("table" text, operations text) LANGUAGE sql AS $$
  SELECT r #>> '{metadata,table}', string_agg(r ->> 'operation', ',' ORDER BY n)
    FROM pg_temp.changes('dec_filters', VARIADIC options) WITH ORDINALITY AS c(r, n)
   GROUP BY 1 ORDER BY 1
$$;

CREATE SCHEMA sales;
CREATE SCHEMA "Sales Dept";
CREATE TABLE sales.orders (id int PRIMARY KEY);
CREATE TABLE sales.order_items (id int PRIMARY KEY);
CREATE TABLE sales.customers (id int PRIMARY KEY);
CREATE TABLE "Sales Dept"."Orders" (id int PRIMARY KEY);
CREATE TABLE "Sales Dept".orders (id int PRIMARY KEY);
CREATE TABLE public.orders (id int PRIMARY KEY);
CREATE TABLE public."order*star" (id int PRIMARY KEY);
CREATE TABLE public."a.b" (id int PRIMARY KEY);
SELECT 'init' FROM pg_create_logical_replication_slot('dec_filters', 'pgconduit_output');

-- one insert, update and delete in every table
CREATE FUNCTION pg_temp.work() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  t regclass;
BEGIN
  FOREACH t IN ARRAY ARRAY['sales.orders', 'sales.order_items', 'sales.customers',
                           '"Sales Dept"."Orders"', '"Sales Dept".orders', 'public.orders',
                           'public."order*star"', 'public."a.b"']::regclass[] LOOP
    EXECUTE format('INSERT INTO %s VALUES (1)', t);
    EXECUTE format('UPDATE %s SET id = 2', t);
    EXECUTE format('DELETE FROM %s', t);
  END LOOP;
END $$;

-- all tables
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables();
-- an unqualified name matches the table in any schema; unquoted folds to lower case
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('tables', 'ORDERS');
-- wildcards in schema and table names
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('tables', 'sales.order*');
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('tables', '*.orders, sales.*s');
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('tables', '*');
-- quoted names match exactly: case, spaces, dots and stars are literal
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('tables', '"Sales Dept"."Orders"');
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('tables', '"Sales Dept".*');
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('tables', 'public."order*star",  "a.b" ');
-- exclude_tables, alone and with tables
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('exclude_tables', 'sales.*,"Sales Dept".*,pgconduit.*');
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('tables', 'sales.*', 'exclude_tables', 'customers');
-- actions
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('tables', 'sales.orders', 'actions', 'create,delete');
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('tables', 'sales.orders', 'actions', 'insert, update');

-- publications: only their tables, only their actions
CREATE PUBLICATION pub_orders FOR TABLE sales.orders, public.orders;
CREATE PUBLICATION pub_inserts FOR TABLE sales.customers WITH (publish = 'insert');
CREATE PUBLICATION pub_schema FOR TABLES IN SCHEMA "Sales Dept" WITH (publish = 'update, delete');
CREATE PUBLICATION pub_all FOR ALL TABLES WITH (publish = 'delete');
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('publication_names', 'pub_orders');
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('publication_names', 'pub_inserts,pub_schema');
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('publication_names', 'pub_all', 'tables', 'sales.*');
-- several publications: the union of their actions for a table
SELECT pg_temp.work();
SELECT * FROM pg_temp.tables('publication_names', 'pub_orders,pub_all');
-- a table added to a publication between changes: from then on
INSERT INTO sales.order_items VALUES (10);
ALTER PUBLICATION pub_orders ADD TABLE sales.order_items;
INSERT INTO sales.order_items VALUES (11);
ALTER PUBLICATION pub_orders DROP TABLE sales.order_items;
INSERT INTO sales.order_items VALUES (12);
SELECT r -> 'key' AS key FROM pg_temp.changes('dec_filters', 'publication_names', 'pub_orders') r;
-- the publish option changed between changes
INSERT INTO sales.customers VALUES (20);
ALTER PUBLICATION pub_inserts SET (publish = 'delete');
INSERT INTO sales.customers VALUES (21);
DELETE FROM sales.customers;
SELECT r ->> 'operation' AS operation, r -> 'key' AS key
  FROM pg_temp.changes('dec_filters', 'publication_names', 'pub_inserts') r;
-- partitions are published through their partitioned table
CREATE TABLE sales.parted (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE sales.parted_1 PARTITION OF sales.parted FOR VALUES FROM (0) TO (100);
CREATE PUBLICATION pub_parted FOR TABLE sales.parted;
INSERT INTO sales.parted VALUES (1);
SELECT * FROM pg_temp.tables('publication_names', 'pub_parted');

-- origin: changes made under a replication origin are skipped with origin=none
SELECT 'o' FROM pg_replication_origin_create('dec_origin');
INSERT INTO sales.orders VALUES (30);
SELECT 's' FROM pg_replication_origin_session_setup('dec_origin');
INSERT INTO sales.orders VALUES (31);
SELECT 'r' FROM pg_replication_origin_session_reset();
INSERT INTO sales.orders VALUES (32);
SELECT r -> 'key' AS key, r #>> '{metadata,postgres.origin}' AS origin
  FROM pg_temp.changes('dec_filters', 'tables', 'sales.orders', 'origin', 'none') r;
INSERT INTO sales.orders VALUES (33);
SELECT 's' FROM pg_replication_origin_session_setup('dec_origin');
INSERT INTO sales.orders VALUES (34);
SELECT 'r' FROM pg_replication_origin_session_reset();
SELECT r -> 'key' AS key, r #>> '{metadata,postgres.origin}' AS origin
  FROM pg_temp.changes('dec_filters', 'tables', 'sales.orders', 'origin', 'any',
                       'include_origin', 'on') r;
SELECT 'd' FROM pg_replication_origin_drop('dec_origin');

SELECT pg_drop_replication_slot('dec_filters');
DROP PUBLICATION pub_orders, pub_inserts, pub_schema, pub_all, pub_parted;
DROP SCHEMA sales, "Sales Dept" CASCADE;
DROP TABLE public.orders, public."order*star", public."a.b";
