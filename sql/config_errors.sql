-- Every bad connector configuration is an ERROR that names what is wrong
-- and stores nothing
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- not an object
SELECT pgconduit.create_source('s', '[]');
SELECT pgconduit.create_source('s', '"table"');
-- unknown keys, for each kind
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "tabel": "t"}');
SELECT pgconduit.create_destination('d', '{"url": "dbname=x", "snapshot": "off"}');
-- missing required keys
SELECT pgconduit.create_source('s', '{"url": "dbname=x"}');
SELECT pgconduit.create_source('s', '{"table": "t"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": null}');
SELECT pgconduit.create_destination('d', '{}');
-- wrong types
SELECT pgconduit.create_source('s', '{"table": ["t"], "url": "dbname=x"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": {"host": "x"}}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "snapshot": "maybe"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "cdc": 1}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "snapshot": [true]}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "columns": 5}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "columns": ["a", 1]}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "columns": []}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "columns": "a,,b"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "key": "id,id"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "buffer_size": 0}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "buffer_size": "ten"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "buffer_size": 1.5}');
SELECT pgconduit.create_destination('d', '{"url": "dbname=x", "batch_size": -1}');
SELECT pgconduit.create_destination('d', '{"url": "dbname=x", "batch_size": true}');
SELECT pgconduit.create_destination('d', '{"url": "dbname=x", "on_error": "ignore"}');
-- empty values
SELECT pgconduit.create_source('s', '{"table": "", "url": "dbname=x"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": ""}');
-- a table name that does not parse
SELECT pgconduit.create_source('s', '{"table": "a.b.c.d", "url": "dbname=x"}');
SELECT pgconduit.create_source('s', '{"table": "\"unterminated", "url": "dbname=x"}');
-- neither snapshot nor cdc
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "snapshot": "off", "cdc": "off"}');
-- connection strings libpq cannot parse (no connection is attempted)
SELECT pgconduit.create_source('s', '{"table": "t", "url": "host=x bogus_option=1"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "postgres://[::1"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "replication_url": "dbname=''x"}');
SELECT pgconduit.create_destination('d', '{"url": "user"}');
-- slot and publication names PostgreSQL would reject
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "slot_name": "My-Slot"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "slot_name": "a234567890123456789012345678901234567890123456789012345678901234"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x", "publication_name": "a234567890123456789012345678901234567890123456789012345678901234"}');
-- connector names: empty, too long, taken
SELECT pgconduit.create_source('', '{"table": "t", "url": "dbname=x"}');
SELECT pgconduit.create_destination(repeat('n', 64), '{"url": "dbname=x"}');
SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x"}');
SELECT pgconduit.create_source('s', '{"table": "u", "url": "dbname=x"}');
SELECT pgconduit.create_destination('s', '{"url": "dbname=x"}');
-- two sources cannot share a slot
SELECT pgconduit.create_source('s2', '{"table": "t", "url": "dbname=x", "slot_name": "pgconduit_s"}');
-- alter validates too, and unknown connectors are errors
SELECT pgconduit.alter_connector('s', '{"table": "t"}');
SELECT pgconduit.alter_connector('nope', '{"url": "dbname=x"}');
SELECT pgconduit.drop_connector('nope');
SELECT config FROM pgconduit.connector WHERE name = 's';
-- only the one good source was stored
SELECT name FROM pgconduit.connector ORDER BY name;
SELECT pgconduit.drop_connector('s');
