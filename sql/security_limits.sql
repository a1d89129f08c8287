-- Work over unbounded input is O(n log n) and answers cancels; memory is
-- bounded in bytes by pgconduit.max_batch_memory
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- many keys sort as jsonb sorts them, the last of repeated keys winning
CREATE TEMP TABLE many AS
	SELECT '{' || string_agg(format('"k%s": %s', i % 150000, i), ', ') || '}' AS j
	  FROM generate_series(1, 200000) i;
SELECT pgconduit._jsonb_parse(j) = j::jsonb AS same,
	   (SELECT count(*) FROM jsonb_object_keys(pgconduit._jsonb_parse(j))) AS keys,
	   pgconduit._jsonb_parse(j)->>'k7' AS k7
  FROM many;

-- a cancel (here a statement timeout) stops the parse of a huge object
CREATE TEMP TABLE huge AS
	SELECT '{' || string_agg(format('"k%s": [%s]', i, i), ',') || '}' AS j
	  FROM generate_series(1, 3000000) i;
SET statement_timeout = '100ms';
SELECT pgconduit._jsonb_parse(j) IS NULL FROM huge;
RESET statement_timeout;

-- the bound of a batch in bytes
SHOW pgconduit.max_batch_memory;
SET pgconduit.max_batch_memory = '64MB';
