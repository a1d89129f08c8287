-- pgconduit._jsonb_from_bytes(): the binary batches a pipeline worker
-- sends are checked byte by byte before they are used
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgconduit;

-- values come back as they went
CREATE TABLE wb_values (v jsonb);
INSERT INTO wb_values VALUES
	('null'), ('true'), ('1.5'), ('"é"'), ('[]'), ('{}'),
	('{"position": "0000000000000000/0000000000000001", "operation": "create",
	  "metadata": {"table": "public.t"}, "key": {"id": 1},
	  "payload": {"before": null, "after": {"id": 1, "n": -12345678901234567890.0001,
	  "f": 1e-300, "a": [1, [2, [3, {"x": null}]], "s", false], "s": "tab\tquote\" é €"}}}'),
	((SELECT jsonb_agg(jsonb_build_object('k' || g, repeat('x', g), 'n', g * 1.5))
	    FROM generate_series(1, 100) g)),
	((SELECT jsonb_object_agg('key' || g, g) FROM generate_series(1, 70) g));
SELECT count(*) AS values,
	   count(*) FILTER (WHERE pgconduit._jsonb_from_bytes(pgconduit._jsonb_to_bytes(v)) = v
						  AND pgconduit._jsonb_from_bytes(pgconduit._jsonb_to_bytes(v))::text = v::text) AS same
  FROM wb_values;

-- damaged bytes are an error, whatever the damage
CREATE FUNCTION wb_try(b bytea) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pgconduit._jsonb_from_bytes(b);
	RETURN 'ok';
EXCEPTION WHEN invalid_binary_representation THEN
	RETURN SQLERRM;
END
$$;
SELECT wb_try('\x'::bytea) AS empty;
SELECT wb_try(substring(pgconduit._jsonb_to_bytes('{"a": [1, 2]}') FROM 1 FOR 10)) AS truncated;
SELECT wb_try(pgconduit._jsonb_to_bytes('[1]') || '\x00'::bytea) AS trailing_byte;
-- a string that is not valid in the database's encoding
SELECT wb_try(overlay(pgconduit._jsonb_to_bytes('["ab"]') PLACING '\xff'::bytea
		FROM length(pgconduit._jsonb_to_bytes('["ab"]')))) AS bad_string;
-- object keys out of jsonb's order: swap the one-byte keys "a" and "b"
SELECT wb_try(overlay(pgconduit._jsonb_to_bytes('{"a": 1, "b": 2}') PLACING 'ba'::bytea
		FROM position('ab'::bytea IN pgconduit._jsonb_to_bytes('{"a": 1, "b": 2}')))) AS key_order;
-- every single byte of a record set to each of a few values: an error or a
-- valid jsonb, never anything else
SELECT count(*) AS tries, count(*) FILTER (WHERE r = 'ok') > 0 AS some_still_valid,
	   count(*) FILTER (WHERE r LIKE 'invalid jsonb batch: %') > 0 AS some_refused,
	   count(*) FILTER (WHERE r <> 'ok' AND r NOT LIKE 'invalid jsonb batch: %') AS other
  FROM (SELECT wb_try(set_byte(b, i, x)) AS r
		  FROM (SELECT pgconduit._jsonb_to_bytes(v) AS b FROM wb_values
				 WHERE v ? 'position') s,
			   generate_series(0, length(b) - 1) i,
			   unnest(ARRAY[0, 1, 7, 16, 127, 128, 255]) x) t;

DROP FUNCTION wb_try(bytea);
DROP TABLE wb_values;
