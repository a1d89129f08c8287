-- pgconduit.write(): a group of snapshot or create records is tried as a
-- plain INSERT; if a row of it exists, nothing of that INSERT stays and the
-- group is upserted, so the outcome is always the upsert's
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE FUNCTION wn_records(ids int[], v text, tab text DEFAULT 'public.wn') RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_agg(jsonb_build_object('operation', 'create',
		'metadata', jsonb_build_object('table', tab), 'key', jsonb_build_object('id', i),
		'payload', jsonb_build_object('before', NULL, 'after', jsonb_build_object('id', i, 'v', v)))
		ORDER BY o)
	FROM unnest(ids) WITH ORDINALITY u(i, o)
$$;
CREATE TABLE wn (id int PRIMARY KEY, v text, n int DEFAULT 0);
CREATE TABLE wn_audit (id int, event text);
CREATE FUNCTION wn_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO wn_audit VALUES (NEW.id, TG_WHEN || ' ' || TG_OP);
	RETURN NEW;
END $$;
CREATE TRIGGER wn_audit BEFORE INSERT OR UPDATE ON wn FOR EACH ROW EXECUTE FUNCTION wn_audit();

-- all new
SELECT pgconduit.write(wn_records('{1,2,3}', 'first'));
SELECT * FROM wn ORDER BY id;
SELECT event, count(*) FROM wn_audit GROUP BY event ORDER BY event;
TRUNCATE wn_audit;

-- one of them exists: its other columns keep their values, and the
-- triggers fired as an upsert fires them, once per row
INSERT INTO wn VALUES (10, 'old', 7);
TRUNCATE wn_audit;
SELECT pgconduit.write(wn_records('{4,10,5}', 'second'));
SELECT * FROM wn ORDER BY id;
SELECT event, count(*) FROM wn_audit GROUP BY event ORDER BY event;

-- a statement-level UPDATE trigger fires for an upsert even of a new row,
-- so such a table is never written with a plain INSERT
CREATE TABLE wn_s (id int PRIMARY KEY, v text);
CREATE TABLE wn_log (what text);
CREATE FUNCTION wn_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO wn_log VALUES (TG_OP);
	RETURN NULL;
END $$;
CREATE TRIGGER wn_upd AFTER UPDATE ON wn_s FOR EACH STATEMENT EXECUTE FUNCTION wn_log();
CREATE TRIGGER wn_ins AFTER INSERT ON wn_s FOR EACH STATEMENT EXECUTE FUNCTION wn_log();
SELECT pgconduit.write(wn_records('{20}', 'third', 'public.wn_s'));
SELECT what, count(*) FROM wn_log GROUP BY what ORDER BY what;

-- an error other than a duplicate key is the error the upsert gives
ALTER TABLE wn ADD CONSTRAINT wn_v_check CHECK (v <> 'bad');
SELECT pgconduit.write(wn_records('{30,31}', 'bad'));
SELECT count(*) AS rows_30_31 FROM wn WHERE id IN (30, 31);

DROP TABLE wn, wn_s, wn_audit, wn_log;
DROP FUNCTION wn_records(int[], text, text), wn_audit(), wn_log();
