-- pgconduit_output: identifiers and values that need quoting or escaping:
-- quotes, backslashes, control characters, non-ASCII, spaces, dots, upper
-- case, keywords; "table" is quoted as regclass output quotes it
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

-- schemas and tables with every kind of awkward name
CREATE TEMP TABLE names (schema text, name text, col text);
INSERT INTO names VALUES
  ('public', 'plain', 'id'),
  ('public', 'Upper', 'Id'),
  ('public', 'with space', 'a column'),
  ('public', 'dot.ted', 'a.b'),
  ('public', 'select', 'from'),
  ('public', 'quo"te', 'x"y'),
  ('public', 'back\slash', 'c\d'),
  ('public', E'tab\there', E'new\nline'),
  ('public', 'ünïcødé 日本', 'ключ'),
  ('public', '123start', '1col'),
  ('Odd "Schema".x', 'T', 'user'),
  ('odd\schema', 'table', 'end');
DO $$
DECLARE
  n record;
BEGIN
  FOR n IN SELECT DISTINCT schema FROM names WHERE schema <> 'public' LOOP
    EXECUTE format('CREATE SCHEMA %I', n.schema);
  END LOOP;
  FOR n IN SELECT * FROM names LOOP
    EXECUTE format('CREATE TABLE %I.%I (%I int PRIMARY KEY, v text)', n.schema, n.name, n.col);
  END LOOP;
END $$;
SELECT 'init' FROM pg_create_logical_replication_slot('dec_hostile', 'pgconduit_output');
DO $$
DECLARE
  n record;
BEGIN
  FOR n IN SELECT * FROM names LOOP
    EXECUTE format('INSERT INTO %I.%I VALUES (1, %L)', n.schema, n.name,
                   E'"\\\b\f\n\r\t\x01\x1f\x7f é 😀 \\u0000 </script>');
  END LOOP;
END $$;

-- every record is valid JSON; names come back exactly, "table" reads back
-- as the same regclass, the value unchanged
SELECT n.schema, n.name,
       c.data::json IS NOT NULL AS valid_json,
       c.data::jsonb #>> '{metadata,table}' AS "table",
       (c.data::jsonb #>> '{metadata,table}')::regclass = format('%I.%I', n.schema, n.name)::regclass AS regclass_same,
       c.data::jsonb #>> '{metadata,table}' = quote_ident(n.schema) || '.' || quote_ident(n.name) AS quoted_qualified,
       c.data::jsonb #>> '{metadata,opencdc.collection}' = n.name AS collection_same,
       c.data::jsonb #>> '{metadata,postgres.schema}' = n.schema AS schema_same,
       c.data::jsonb -> 'key' = jsonb_build_object(n.col, 1) AS key_same,
       c.data::jsonb #>> '{payload,after,v}' = E'"\\\b\f\n\r\t\x01\x1f\x7f é 😀 \\u0000 </script>' AS value_same
  FROM pg_logical_slot_peek_changes('dec_hostile', NULL, NULL, 'exclude_tables', 'pgconduit.*') c
  JOIN names n ON (c.data::jsonb #>> '{metadata,opencdc.collection}') = n.name
 ORDER BY c.lsn;
-- and as the record spells them
SELECT c.data::jsonb #>> '{metadata,table}' AS "table",
       substring(c.data FROM '"table":("(?:[^"\\]|\\.)*")') AS raw_table,
       substring(c.data FROM '"after":(.*)\}\}$') AS raw_after
  FROM pg_logical_slot_peek_changes('dec_hostile', NULL, NULL, 'exclude_tables', 'pgconduit.*') c
 ORDER BY c.lsn;

-- the tables option finds them by their quoted names
SELECT c.data::jsonb #>> '{metadata,table}' AS "table"
  FROM pg_logical_slot_peek_changes('dec_hostile', NULL, NULL, 'tables',
         '"Upper", "with space", public."dot.ted", "SELECT", "select", "quo""te", "ünïcødé 日本", "Odd ""Schema"".x"."T", "odd\schema".*') c
 ORDER BY c.lsn;

SELECT pg_drop_replication_slot('dec_hostile');
DO $$
DECLARE
  n record;
BEGIN
  FOR n IN SELECT * FROM names LOOP
    EXECUTE format('DROP TABLE %I.%I', n.schema, n.name);
  END LOOP;
  FOR n IN SELECT DISTINCT schema FROM names WHERE schema <> 'public' LOOP
    EXECUTE format('DROP SCHEMA %I', n.schema);
  END LOOP;
END $$;
