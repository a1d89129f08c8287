-- wait_for_pipeline and the stopping of workers sleep until a pipeline's
-- status changes, woken by whoever changes it.  Every wait here has a
-- timeout of an hour: a missing wakeup holds its statement until
-- statement_timeout, which fails the test.
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE pw_src (id int PRIMARY KEY, v text);
CREATE TABLE pw_dst (LIKE pw_src INCLUDING ALL);
INSERT INTO pw_src SELECT g, 'row ' || g FROM generate_series(1, 100) g;
SELECT pgconduit.create_source('pw_s', jsonb_build_object('table', 'pw_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('pw_d', jsonb_build_object('table', 'pw_dst',
	'url', 'dbname=' || current_database(), 'batch_size', 10));
SET statement_timeout = '120s';

-- woken as the launcher gives the new pipeline its slot, the worker
-- starts and its snapshot is applied
SELECT pgconduit.create_pipeline('pw', 'pw_s', 'pw_d');
SELECT pgconduit.wait_for_pipeline('pw', '1 hour');
SELECT count(*) FROM pw_dst;

-- woken as the worker applies changes, one transaction at a time
INSERT INTO pw_src VALUES (101, 'new');
SELECT pgconduit.wait_for_pipeline('pw', '1 hour');
SELECT v FROM pw_dst WHERE id = 101;
DO $$
BEGIN
	FOR i IN 1..20 LOOP
		UPDATE pw_src SET v = 'update ' || i WHERE id = 1;
		COMMIT;
		IF NOT pgconduit.wait_for_pipeline('pw', '1 hour') THEN
			RAISE 'update % not applied', i;
		END IF;
		IF (SELECT v FROM pw_dst WHERE id = 1) <> 'update ' || i THEN
			RAISE 'update % not at the destination', i;
		END IF;
	END LOOP;
END
$$;

-- woken by the failure of a pipeline that will not retry: false at once
SELECT pgconduit.create_source('pw_bad_s', jsonb_build_object('table', 'pw_nosuch',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pw_bad', 'pw_bad_s', 'pw_d');
SELECT pgconduit.wait_for_pipeline('pw_bad', '1 hour');
SELECT state, last_error FROM pgconduit.status WHERE pipeline = 'pw_bad';

-- a pipeline that does not run: false when the timeout argument passes
SELECT pgconduit.create_source('pw_off_s', jsonb_build_object('table', 'pw_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pw_off', 'pw_off_s', 'pw_d', enabled => false);
SELECT pgconduit.wait_for_pipeline('pw_off', '200 ms');
-- and statement_timeout (or a cancel) ends the wait
SET statement_timeout = '300ms';
SELECT pgconduit.wait_for_pipeline('pw_off', '1 hour');
SET statement_timeout = '120s';

-- drop_pipeline stops the worker and waits until it is gone, woken by its
-- exit; the pipeline's status goes with it
SELECT pgconduit.drop_pipeline('pw');
SELECT pgconduit.drop_pipeline('pw_bad');
SELECT pgconduit.drop_pipeline('pw_off');
SELECT count(*) FROM pgconduit.status WHERE pipeline LIKE 'pw%';
RESET statement_timeout;

SELECT pgconduit.drop_connector(name) FROM pgconduit.connectors
 WHERE name IN ('pw_s', 'pw_bad_s', 'pw_off_s', 'pw_d') ORDER BY name;
DROP TABLE pw_src, pw_dst;
