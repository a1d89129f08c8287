-- Sources of many tables: tables linked by foreign keys are copied parents
-- first, each in its own destination transaction, so that a destination
-- with the same foreign keys accepts every snapshot.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SELECT current_database() AS regress_db \gset
CREATE DATABASE tfk_src;
\c tfk_src
SET client_min_messages = warning;
CREATE SCHEMA f;
CREATE TABLE f.customer (id int PRIMARY KEY, name text);
CREATE TABLE f.orders (id int PRIMARY KEY, customer int NOT NULL REFERENCES f.customer);
CREATE TABLE f.line (order_id int REFERENCES f.orders, n int, product int,
					 PRIMARY KEY (order_id, n));
CREATE TABLE f.product (id int PRIMARY KEY, parent int REFERENCES f.product);
ALTER TABLE f.line ADD FOREIGN KEY (product) REFERENCES f.product;
-- a partitioned child: its partitions hold the key too
CREATE TABLE f.shipment (id int, order_id int REFERENCES f.orders, PRIMARY KEY (id))
	PARTITION BY RANGE (id);
CREATE TABLE f.shipment_1 PARTITION OF f.shipment FOR VALUES FROM (0) TO (1000);
INSERT INTO f.customer SELECT g, 'c' || g FROM generate_series(1, 20) g;
INSERT INTO f.orders SELECT g, 1 + g % 20 FROM generate_series(1, 100) g;
INSERT INTO f.product VALUES (1, NULL), (2, 1), (3, 2);
INSERT INTO f.line SELECT 1 + g % 100, g, 1 + g % 3 FROM generate_series(1, 300) g;
INSERT INTO f.shipment SELECT g, g FROM generate_series(1, 50) g;

\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE SCHEMA f;
CREATE TABLE f.customer (id int PRIMARY KEY, name text);
CREATE TABLE f.orders (id int PRIMARY KEY, customer int NOT NULL REFERENCES f.customer);
CREATE TABLE f.product (id int PRIMARY KEY, parent int REFERENCES f.product);
CREATE TABLE f.line (order_id int REFERENCES f.orders, n int,
					 product int REFERENCES f.product, PRIMARY KEY (order_id, n));
CREATE TABLE f.shipment (id int PRIMARY KEY, order_id int REFERENCES f.orders);

-- children named before their parents
SELECT pgconduit.create_source('tfk_s', '{"tables": ["f.line", "f.shipment", "f.orders", "f.product", "f.customer"],
	"url": "dbname=tfk_src", "cdc": false}');
SELECT pgconduit.create_destination('tfk_d', jsonb_build_object('url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('tfk', 'tfk_s', 'tfk_d');
SELECT pgconduit.wait_for_pipeline('tfk');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'tfk';
SELECT (SELECT count(*) FROM f.customer) AS customers, (SELECT count(*) FROM f.orders) AS orders,
	   (SELECT count(*) FROM f.line) AS lines, (SELECT count(*) FROM f.product) AS products,
	   (SELECT count(*) FROM f.shipment) AS shipments;
-- each table committed after the tables it references
SELECT c.source_table AS child, p.source_table AS parent
  FROM pgconduit.progress_table c, pgconduit.progress_table p
 WHERE (c.source_table, p.source_table) IN (('f.orders', 'f.customer'), ('f.line', 'f.orders'),
		('f.line', 'f.product'), ('f.shipment', 'f.orders'))
   AND c.updated_at < p.updated_at;
SELECT pgconduit.drop_pipeline('tfk');

-- a cycle of foreign keys is copied all the same, in some order, when the
-- destination's keys let it
\c tfk_src
SET client_min_messages = warning;
CREATE TABLE f.x (id int PRIMARY KEY, y int);
CREATE TABLE f.y (id int PRIMARY KEY, x int REFERENCES f.x);
ALTER TABLE f.x ADD FOREIGN KEY (y) REFERENCES f.y;
INSERT INTO f.x VALUES (1, NULL);
INSERT INTO f.y VALUES (1, 1);
\c :regress_db
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE TABLE f.x (id int PRIMARY KEY, y int);
CREATE TABLE f.y (id int PRIMARY KEY, x int);
SELECT pgconduit.alter_connector('tfk_s', '{"tables": "f.x, f.y", "url": "dbname=tfk_src", "cdc": false}');
SELECT pgconduit.create_pipeline('tfk2', 'tfk_s', 'tfk_d');
SELECT pgconduit.wait_for_pipeline('tfk2');
SELECT pipeline, state, last_error FROM pgconduit.status WHERE pipeline = 'tfk2';
SELECT * FROM f.x UNION ALL SELECT * FROM f.y;
SELECT pgconduit.drop_pipeline('tfk2');

-- clean up
SELECT pgconduit.drop_connector(c) FROM unnest(ARRAY['tfk_s', 'tfk_d']) c;
DROP SCHEMA f CASCADE;
DROP DATABASE tfk_src;
