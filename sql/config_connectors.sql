-- Connectors: creation, normalization, alteration, masking and dropping
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- a source with only the required keys gets derived slot and publication names
SELECT pgconduit.create_source('orders_src', '{"table": "public.orders", "url": "dbname=shop"}');
SELECT name, kind, config FROM pgconduit.connectors ORDER BY name;

-- Conduit-style strings and JSON scalars are both accepted
SELECT pgconduit.create_source('orders2', '{
    "table": "orders", "url": "postgres://app@db.example.com:5433/shop",
    "columns": "id,amount,\"Note\"", "key": "id",
    "snapshot": "off", "cdc": "true",
    "publication_name": "orders_pub", "slot_name": "orders_slot",
    "replication_url": "host=db.example.com dbname=shop replication=database",
    "buffer_size": "500"}');
SELECT pgconduit.create_source('orders3', '{
    "table": "\"Sales\".\"Order Items\"", "url": "dbname=shop",
    "columns": ["id", "Amount"], "key": ["id", "line"],
    "snapshot": true, "cdc": false, "buffer_size": 20}');
SELECT name, config FROM pgconduit.connectors WHERE name LIKE 'orders_' ORDER BY name;

-- names that are not valid slot names get a sanitized name plus a hash
SELECT pgconduit.create_source('Orders Ünïcode-1', '{"table": "t", "url": "dbname=x"}');
SELECT config->>'slot_name' AS slot_name, config->>'publication_name' AS publication_name
  FROM pgconduit.connector WHERE name = 'Orders Ünïcode-1';
SELECT config->>'slot_name' ~ '^pgconduit_orders_+n_+code_1_[0-9a-f]{8}$' AS sanitized,
       length(config->>'slot_name') < 64 AS fits
  FROM pgconduit.connector WHERE name = 'Orders Ünïcode-1';
SELECT pgconduit.create_source(repeat('x', 63), '{"table": "t", "url": "dbname=x"}');
SELECT length(config->>'slot_name') AS slot_name_length,
       config->>'slot_name' ~ '^pgconduit_x+_[0-9a-f]{8}$' AS hashed
  FROM pgconduit.connector WHERE name = repeat('x', 63);

-- destinations
SELECT pgconduit.create_destination('wh', '{"url": "dbname=warehouse"}');
SELECT pgconduit.create_destination('wh2', '{"url": "dbname=warehouse", "table": "archive.orders",
    "batch_size": 250, "on_error": "dead_letter"}');
SELECT name, kind, config FROM pgconduit.connectors WHERE kind = 'destination' ORDER BY name;

-- passwords never show in the view, in either connection string form
SELECT pgconduit.create_destination('secret1', '{"url": "postgresql://app:s3cr%40t@db.example.com/shop"}');
SELECT pgconduit.create_destination('secret2', '{"url": "host=db port=5433 password=''hunter 2'' dbname=shop"}');
SELECT pgconduit.create_source('secret3', '{"table": "t", "url": "dbname=shop",
    "replication_url": "dbname=shop password=topsecret replication=database"}');
-- another admin sees them masked (the owner, here a superuser, in clear)
CREATE ROLE cc_other_admin IN ROLE pgconduit_admin;
SET ROLE cc_other_admin;
SELECT name, config->>'url' AS url, config->>'replication_url' AS replication_url
  FROM pgconduit.connectors WHERE name LIKE 'secret%' ORDER BY name;
SELECT count(*) AS leaks FROM pgconduit.connectors
 WHERE config::text ~ '(s3cr|hunter|topsecret)';
RESET ROLE;
DROP ROLE cc_other_admin;
-- the catalog keeps the real value for the workers
SELECT config->>'url' AS url FROM pgconduit.connector WHERE name = 'secret1';
SELECT pgconduit.mask_url('dbname=x'), pgconduit.mask_url('postgres://u:p@h/d');

-- alter_connector replaces the config and validates it like create
SELECT pgconduit.alter_connector('wh', '{"url": "dbname=warehouse2", "batch_size": "10"}');
SELECT config FROM pgconduit.connectors WHERE name = 'wh';
SELECT pgconduit.alter_connector('orders_src', '{"table": "public.orders", "url": "dbname=shop", "snapshot": "off"}');
SELECT config FROM pgconduit.connectors WHERE name = 'orders_src';
SELECT updated_at >= created_at AS touched FROM pgconduit.connector WHERE name = 'orders_src';

-- drop_connector
SELECT pgconduit.drop_connector('wh2');
SELECT count(*) FROM pgconduit.connector WHERE name = 'wh2';

-- clean up
SELECT pgconduit.drop_connector(name) FROM pgconduit.connector ORDER BY name;
SELECT count(*) FROM pgconduit.connector;
