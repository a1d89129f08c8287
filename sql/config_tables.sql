-- Source configuration of many tables: "tables" (names and patterns),
-- "columns" and "key" by table.  Every bad value is an ERROR naming the
-- key, and stores nothing.
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- the forms that are accepted, stored as given
SELECT pgconduit.create_source('t_str', '{"tables": "public.orders, sales.order_*, \"Sales Dept\".*, Customers", "url": "dbname=x"}');
SELECT pgconduit.create_source('t_arr', '{"tables": ["public.*", "\"My Table\"", "\"a.b\".\"c,d\"", "*.audit"], "url": "dbname=x"}');
SELECT pgconduit.create_source('t_all', '{"tables": "*", "url": "dbname=x"}');
SELECT pgconduit.create_source('t_cols', '{"tables": "public.*", "url": "dbname=x",
	"columns": {"public.orders": ["id", "Amount"], "customers": "id, name, \"E-Mail\""},
	"key": {"\"Order Items\"": "order_id, line"}}');
SELECT pgconduit.create_source('t_flat', '{"tables": ["a", "b"], "url": "dbname=x", "columns": "id, v", "key": ["id"]}');
-- a quoted * is a name, not a pattern
SELECT pgconduit.create_source('t_star', '{"tables": "\"*\"", "url": "dbname=x", "key": {"\"*\"": "id"}}');
SELECT name, config FROM pgconduit.connectors WHERE name LIKE 't\_%' ORDER BY name;
-- the one-table form is unchanged
SELECT pgconduit.create_source('t_one', '{"table": "public.orders", "url": "dbname=x", "columns": "id,amount", "key": "id"}');
SELECT config FROM pgconduit.connectors WHERE name = 't_one';

-- exactly one of "table" and "tables"
SELECT pgconduit.create_source('bad', '{"table": "orders", "tables": "orders", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"table": null, "tables": null, "url": "dbname=x"}');
-- alter_connector checks the same, and changes nothing when it refuses
SELECT pgconduit.alter_connector('t_one', '{"table": "orders", "tables": "orders", "url": "dbname=x"}');
SELECT pgconduit.alter_connector('t_str', '{"tables": "a,,b", "url": "dbname=x"}');
SELECT pgconduit.alter_connector('t_one', '{"table": "orders", "url": "dbname=x", "key": {"orders": "id"}}');
SELECT name, config FROM pgconduit.connectors WHERE name IN ('t_one', 't_str') ORDER BY name;
-- alter_connector may switch between the two forms
SELECT pgconduit.alter_connector('t_one', '{"tables": "public.orders, public.lines", "url": "dbname=x"}');
SELECT config FROM pgconduit.connectors WHERE name = 't_one';
SELECT pgconduit.alter_connector('t_one', '{"table": "public.orders", "url": "dbname=x"}');
SELECT config FROM pgconduit.connectors WHERE name = 't_one';

-- "tables": wrong types and empty lists
SELECT pgconduit.create_source('bad', '{"tables": 5, "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": {"a": "b"}, "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "  ", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": [], "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": ["a", 1], "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": ["a", ""], "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": ["a", null], "url": "dbname=x"}');
-- empty items, malformed names and patterns
SELECT pgconduit.create_source('bad', '{"tables": "a,,b", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "a,", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": ",a", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "a.b.c", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "a.", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": ".a", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "public.\"orders", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "public.\"\"", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "order-items", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "sales.orders x", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "1abc", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "sales.order?", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": ["a, b"], "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": ["a.b.c"], "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": ["sales.*", "  "], "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', jsonb_build_object('tables', 'public.' || repeat('x', 64), 'url', 'dbname=x'));
SELECT pgconduit.create_source('bad', jsonb_build_object('tables', repeat('x', 30) || '*' || repeat('y', 34), 'url', 'dbname=x'));
-- the same table or pattern twice
SELECT pgconduit.create_source('bad', '{"tables": "Orders, orders", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": ["sales.*", "SALES.*"], "url": "dbname=x"}');

-- "columns" and "key" by table: only with "tables"
SELECT pgconduit.create_source('bad', '{"table": "orders", "url": "dbname=x", "columns": {"orders": "id"}}');
SELECT pgconduit.create_source('bad', '{"table": "orders", "url": "dbname=x", "key": {"orders": "id"}}');
-- object keys: table names, not patterns, each once
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "key": {"sales.*": "id"}}');
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "key": {"": "id"}}');
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "key": {"a.b.c": "id"}}');
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "key": {"\"open": "id"}}');
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "columns": {"Orders": "id", "orders": "id"}}');
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "columns": {}}');
-- object values: the string and array forms, checked as before; the
-- context names the table
\set SHOW_CONTEXT errors
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "columns": {"orders": 5}}');
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "columns": {"orders": []}}');
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "columns": {"orders": "a,,b"}}');
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "key": {"orders": ["id", "id"]}}');
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "key": {"orders": null}}');
\set SHOW_CONTEXT never
-- pgconduit's own catalog and system schemas cannot be a source's tables
-- (a destination would receive connections and pipelines to run)
SELECT pgconduit.create_source('bad', '{"tables": "pgconduit.*", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "n1, pgconduit.connector", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": ["public.a", "\"pgconduit\".pipeline"], "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"table": "pgconduit.connector", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "n1, pg_catalog.pg_class", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"table": "information_schema.tables", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"tables": "*", "url": "dbname=x", "key": {"pgconduit.progress": "id"}}');
-- nothing bad was stored
SELECT name FROM pgconduit.connectors WHERE name = 'bad';

-- a pipeline of a "tables" source runs (sql/tables_*.sql test what it does)
CREATE TABLE ct_dst (id int PRIMARY KEY);
SELECT pgconduit.create_destination('ct_d', jsonb_build_object('url', 'dbname=' || current_database()));
SELECT pgconduit.alter_connector('t_str', jsonb_build_object('tables', 'public.ct_*',
	'url', 'dbname=' || current_database(), 'cdc', false));
SELECT pgconduit.create_pipeline('ct_p', 't_str', 'ct_d');
SELECT pgconduit.wait_for_pipeline('ct_p', '30s');
SELECT state, last_error FROM pgconduit.status WHERE pipeline = 'ct_p';
SELECT pgconduit.drop_pipeline('ct_p');
SELECT count(*) FROM ct_dst;
DROP TABLE ct_dst;

SELECT pgconduit.drop_connector(name) FROM pgconduit.connectors
 WHERE name LIKE 't\_%' OR name = 'ct_d' ORDER BY name;
