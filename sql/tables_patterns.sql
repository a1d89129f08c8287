-- Sources of many tables: "tables" patterns select tables on the source
-- by OID, never a partition (its root instead), a system schema, or (for
-- a pattern of schemas) the schema of pgconduit there.  Snapshot-only
-- pipelines show what was selected in pgconduit.progress_table.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db \gset
CREATE DATABASE tpt_src;
\c tpt_src
SET client_min_messages = warning;
CREATE EXTENSION pgconduit;
CREATE SCHEMA sales;
CREATE SCHEMA "Sales Dept";
CREATE SCHEMA hr;
CREATE TABLE sales.orders (id int PRIMARY KEY);
CREATE TABLE sales.order_items (id int PRIMARY KEY);
CREATE TABLE sales.customers (id int PRIMARY KEY);
CREATE TABLE sales."Order_X" (id int PRIMARY KEY);
CREATE TABLE sales.orderxitems (id int PRIMARY KEY);
CREATE TABLE "Sales Dept"."Orders" (id int PRIMARY KEY);
CREATE TABLE "Sales Dept".orders (id int PRIMARY KEY);
CREATE TABLE hr.staff (id int PRIMARY KEY);
CREATE TABLE hr.orders (id int PRIMARY KEY);
CREATE TABLE public.tpt_audit (id int PRIMARY KEY);
-- partitions, also matched by the pattern, are selected through their root
CREATE TABLE sales.events (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE sales.events_1 PARTITION OF sales.events FOR VALUES FROM (0) TO (10)
	PARTITION BY RANGE (id);
CREATE TABLE sales.events_1a PARTITION OF sales.events_1 FOR VALUES FROM (0) TO (5);
CREATE TABLE hr.events_2 PARTITION OF sales.events FOR VALUES FROM (10) TO (20);
-- neither views nor sequences nor temporary tables are tables to copy
CREATE VIEW sales.orders_view AS SELECT * FROM sales.orders;
CREATE SEQUENCE sales.order_seq;
CREATE MATERIALIZED VIEW sales.orders_mv AS SELECT * FROM sales.orders;

\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
-- run the source once (snapshot only) and show what it selected, or why
-- it failed
CREATE FUNCTION tpt_selected() RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pgconduit.wait_for_pipeline('tpt');
	FOR i IN 1..3000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pgconduit.status s
						   WHERE s.pipeline = 'tpt' AND s.state IN ('done', 'failed'));
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN QUERY SELECT coalesce(s.last_error, t.source_table || ' ' || t.state)
				   FROM pgconduit.status s
				   LEFT JOIN pgconduit.progress_table t ON s.last_error IS NULL
				  WHERE s.pipeline = 'tpt'
				  ORDER BY 1;
END
$$;
\set run 'SELECT pgconduit.create_source(''tpt_s'', jsonb_build_object(''tables'', :''items''::jsonb, ''url'', ''dbname=tpt_src'', ''cdc'', false)); SELECT pgconduit.create_pipeline(''tpt'', ''tpt_s'', ''tpt_d''); SELECT * FROM tpt_selected(); SELECT pgconduit.drop_pipeline(''tpt''); SELECT pgconduit.drop_connector(''tpt_s'');'
SELECT pgconduit.create_destination('tpt_d', jsonb_build_object('url', 'dbname=' || current_database()));
-- the destination has every table, empty
CREATE SCHEMA sales;
CREATE SCHEMA "Sales Dept";
CREATE SCHEMA hr;
CREATE TABLE sales.orders (id int PRIMARY KEY);
CREATE TABLE sales.order_items (id int PRIMARY KEY);
CREATE TABLE sales.customers (id int PRIMARY KEY);
CREATE TABLE sales."Order_X" (id int PRIMARY KEY);
CREATE TABLE sales.orderxitems (id int PRIMARY KEY);
CREATE TABLE "Sales Dept"."Orders" (id int PRIMARY KEY);
CREATE TABLE "Sales Dept".orders (id int PRIMARY KEY);
CREATE TABLE hr.staff (id int PRIMARY KEY);
CREATE TABLE hr.orders (id int PRIMARY KEY);
CREATE TABLE sales.events (id int PRIMARY KEY);
CREATE TABLE public.tpt_audit (id int PRIMARY KEY);

-- a schema's tables; the partitioned table, not its partitions
\set items '"sales.*"'
:run
-- a pattern in the table part: unquoted, it folds to lower case; "_" is
-- no wildcard
\set items '"sales.ORDER_*"'
:run
-- a name in every schema, and quoted names matched exactly
\set items '"orders"'
:run
\set items '["\\"Sales Dept\\".\\"Orders\\"", "\\"Sales Dept\\".*s"]'
:run
-- a pattern in the schema part
\set items '"*s.*orders"'
:run
-- a partition matched alone selects its root
\set items '"hr.events_2"'
:run
-- "*": every schema but the system ones and pgconduit's own
\set items '"*"'
:run
-- a pattern that matches nothing selects nothing, and is no error
\set items '"nowhere.*"'
:run
-- a named table must exist; a view is not a table
\set items '"sales.*, sales.orders_view"'
:run

-- clean up
SELECT pgconduit.drop_connector('tpt_d');
DROP FUNCTION tpt_selected();
DROP SCHEMA sales, "Sales Dept", hr CASCADE;
DROP TABLE public.tpt_audit;
DROP DATABASE tpt_src;
