-- pgconduit_output: every bad option is an ERROR that names it, and the
-- slot is left as it was
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE opt_t (id int PRIMARY KEY);
SELECT 'init' FROM pg_create_logical_replication_slot('dec_options', 'pgconduit_output');
INSERT INTO opt_t VALUES (1);

-- unknown options list the valid ones
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'include-xids', '1');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'Tables', 'opt_t');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'format-version', '2');
-- bad booleans
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'include_transaction', 'maybe');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'messages', '2');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'include_origin', '');
-- options that need a value
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'publication_names', '');
-- bad tables patterns
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'tables', 'a,,b');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'tables', 'a.b.c');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'tables', '"unclosed');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'tables', 'a.');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'tables', 'a b');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'exclude_tables', ',');
-- bad lists
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'publication_names', 'a,"b');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'actions', 'insert,upsert');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'message_prefixes', 'a,,b');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'origin', 'some');
-- an option twice
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'tables', 'a', 'tables', 'b');
-- a publication that does not exist, when the first change is decoded
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'publication_names', 'no_such_pub');
-- an error during decoding leaves no dangling cache: invalidations after it are fine
CREATE TABLE opt_after (id int);
ALTER TABLE opt_t ADD COLUMN v text;

-- after all that, the change is still there, once
SELECT data::jsonb -> 'key' AS key FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'tables', 'opt_t');
SELECT count(*) FROM pg_logical_slot_get_changes('dec_options', NULL, NULL);

-- records_per_message: several records per message, one per line, the
-- same records in the same order; a transaction's end or a message record
-- ends a message
INSERT INTO opt_t SELECT g FROM generate_series(10, 14) g;
SELECT pg_logical_emit_message(true, 'opt', 'in the transaction') IS NOT NULL AS emitted;
CREATE TEMP TABLE opt_one AS
  SELECT regexp_replace(data, '"opencdc.readAt":"[0-9]+"', '') AS rec
	FROM pg_logical_slot_peek_changes('dec_options', NULL, NULL, 'include_transaction', 'true',
									  'messages', 'true', 'tables', 'opt_t');
SELECT array_length(string_to_array(data, E'\n'), 1) AS records_in_message
  FROM pg_logical_slot_peek_changes('dec_options', NULL, NULL, 'include_transaction', 'true',
									'messages', 'true', 'tables', 'opt_t', 'records_per_message', '3');
SELECT (SELECT array_agg(rec) FROM opt_one) =
	   (SELECT array_agg(regexp_replace(r, '"opencdc.readAt":"[0-9]+"', '') ORDER BY m, l)
		  FROM pg_logical_slot_peek_changes('dec_options', NULL, NULL, 'include_transaction', 'true',
											'messages', 'true', 'tables', 'opt_t',
											'records_per_message', '3') WITH ORDINALITY c(lsn, xid, data, m),
			   unnest(string_to_array(data, E'\n')) WITH ORDINALITY u(r, l)) AS same_records;
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'records_per_message', '0');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'records_per_message', '10001');
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'records_per_message', 'many');
SELECT count(*) FROM pg_logical_slot_get_changes('dec_options', NULL, NULL);

-- options are checked when decoding starts, also when there is nothing to decode
SELECT data FROM pg_logical_slot_get_changes('dec_options', NULL, NULL, 'bogus', 'x');

SELECT pg_drop_replication_slot('dec_options');
DROP TABLE opt_t, opt_after;
