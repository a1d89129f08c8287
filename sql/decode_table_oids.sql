-- pgconduit_output: "table_oids" selects tables by OID, so a table stays
-- selected under a new name (as a pipeline follows its source table)
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE to_a (id int PRIMARY KEY);
CREATE TABLE to_b (id int PRIMARY KEY);
SELECT 'init' FROM pg_create_logical_replication_slot('dec_oids', 'pgconduit_output');
INSERT INTO to_a VALUES (1);
INSERT INTO to_b VALUES (1);
ALTER TABLE to_a RENAME TO to_a2;
INSERT INTO to_a2 VALUES (2);
ALTER TABLE to_b RENAME TO to_a;
INSERT INTO to_a VALUES (3);
SELECT data::jsonb -> 'operation' AS op, data::jsonb -> 'metadata' AS metadata, data::jsonb -> 'key' AS key
  FROM pg_logical_slot_peek_changes('dec_oids', NULL, NULL,
		'table_oids', 'to_a2'::regclass::oid::text, 'metadata', 'table');
-- with "tables", both must select a table
SELECT data::jsonb -> 'key' AS key
  FROM pg_logical_slot_peek_changes('dec_oids', NULL, NULL,
		'table_oids', 'to_a2'::regclass::oid::text || ',' || 'to_a'::regclass::oid::text,
		'tables', 'to_a');

-- what is not a list of OIDs
SELECT data FROM pg_logical_slot_peek_changes('dec_oids', NULL, NULL, 'table_oids', 'to_a');
SELECT data FROM pg_logical_slot_peek_changes('dec_oids', NULL, NULL, 'table_oids', '0');
SELECT data FROM pg_logical_slot_peek_changes('dec_oids', NULL, NULL, 'table_oids', '-1');
SELECT data FROM pg_logical_slot_peek_changes('dec_oids', NULL, NULL, 'table_oids', '4294967296');
SELECT data FROM pg_logical_slot_peek_changes('dec_oids', NULL, NULL, 'table_oids', '');

SELECT 'dropped' FROM pg_drop_replication_slot('dec_oids');
DROP TABLE to_a, to_a2;
