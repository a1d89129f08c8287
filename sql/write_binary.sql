-- pgconduit._jsonb_from_bytes(): the binary batches a pipeline worker
-- sends are checked byte by byte before they are used; the worker's JSON
-- parser gives what jsonb_in gives
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

-- the worker's parser gives text::jsonb's bytes, or text::jsonb's error
CREATE TABLE wb_texts (t text);
INSERT INTO wb_texts VALUES
	('{}'), ('[]'), (' { "a" : 1 , "b" : [ ] } '), ('[1, -1, 0, -0, 10, 100, 10000, 123456789012345678,
	  -123456789012345678, 1234567890123456789, 99999999999999999999999, 1.0, 1.50, -0.0, 0.001,
	  1e3, 1E-3, 2.5e+10, 1e400]'),
	('{"b": 1, "a": 2, "b": 3, "aa": 4, "a": 5}'),
	('{"s": "plain", "e": "q\" b\\ s\/ \b\f\n\r\t \u0001\u001f\u0041", "u": "é € 𝄞", "x": "\u00e9\ud834\udd1e"}'),
	('[true, false, null, "true", {"n": null}, [[[]]], [{}]]'),
	('{"position":"0000000000000000/0000000000000001","operation":"create","metadata":{"table":"\"public\".\"t\""},"key":{"id":1},"payload":{"before":null,"after":{"id":1,"n":1.01,"ts":"2026-01-01T00:00:01+00:00","j":{"k":1,"tag":"x"},"b":true}}}'),
	((SELECT jsonb_agg(to_jsonb(v))::text FROM (VALUES (1::numeric), ('NaN'), (1e-20), (-5.5)) x(v))),
	((SELECT jsonb_object_agg('k' || g, repeat('v', g % 40))::text FROM generate_series(1, 100) g));
SELECT count(*) AS texts,
	   count(*) FILTER (WHERE pgconduit._jsonb_to_bytes(pgconduit._jsonb_parse(t)) =
							  pgconduit._jsonb_to_bytes(t::jsonb)) AS same_bytes
  FROM wb_texts;
-- what it cannot parse, jsonb_in refuses with its own error
SELECT pgconduit._jsonb_parse('{"a": 01}');
SELECT pgconduit._jsonb_parse('{"a": "\u0000"}');
SELECT pgconduit._jsonb_parse('[1, 2');
SELECT pgconduit._jsonb_parse(E'["tab\there"]');
DROP TABLE wb_texts;

DROP FUNCTION wb_try(bytea);
DROP TABLE wb_values;
