-- start_pipeline right after stop_pipeline gives a worker that runs with
-- the connectors as they are now, never the old worker with the old ones
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE pr_src (id int PRIMARY KEY, v text);
CREATE TABLE pr_old (LIKE pr_src INCLUDING ALL);
CREATE TABLE pr_new (LIKE pr_src INCLUDING ALL);
INSERT INTO pr_src VALUES (1, 'one');
SELECT pgconduit.create_source('pr_s', jsonb_build_object('table', 'pr_src',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_destination('pr_d', jsonb_build_object('table', 'pr_old',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.create_pipeline('pr', 'pr_s', 'pr_d');
SELECT pgconduit.wait_for_pipeline('pr');
SELECT * FROM pr_old;

-- stopped, altered and started in one transaction
BEGIN;
SELECT pgconduit.stop_pipeline('pr');
SELECT pgconduit.alter_connector('pr_d', jsonb_build_object('table', 'pr_new',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.start_pipeline('pr');
COMMIT;
INSERT INTO pr_src VALUES (2, 'two');
SELECT pgconduit.wait_for_pipeline('pr');
SELECT 'old' AS dst, * FROM pr_old UNION ALL SELECT 'new', * FROM pr_new ORDER BY 1, 2;

-- one statement after the other, as fast as they come
SELECT pgconduit.stop_pipeline('pr');
SELECT pgconduit.alter_connector('pr_d', jsonb_build_object('table', 'pr_old',
	'url', 'dbname=' || current_database()));
SELECT pgconduit.start_pipeline('pr');
INSERT INTO pr_src VALUES (3, 'three');
SELECT pgconduit.wait_for_pipeline('pr');
SELECT 'old' AS dst, * FROM pr_old UNION ALL SELECT 'new', * FROM pr_new ORDER BY 1, 2;

-- the worker was started again: one worker, which runs
SELECT state, phase FROM pgconduit.status WHERE pipeline = 'pr';
SELECT count(*) AS workers FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline pr';

SELECT pgconduit.drop_pipeline('pr');
SELECT pgconduit.drop_connector('pr_s');
SELECT pgconduit.drop_connector('pr_d');
DROP TABLE pr_src, pr_old, pr_new;
