-- Privileges: only superusers and pgconduit_admin members manage pipelines;
-- the catalog is hidden from PUBLIC, the views mask passwords
SET client_min_messages = warning;
\set SHOW_CONTEXT never

SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'pgconduit_admin';
CREATE ROLE conduit_user;
CREATE ROLE conduit_admin_member IN ROLE pgconduit_admin;
SELECT pgconduit.create_source('sec_src', '{"table": "t", "url": "postgres://u:pw@h/d"}');
SELECT pgconduit.create_destination('sec_dst', '{"url": "dbname=d"}');

-- a plain role can read the views, without connection strings, but not the
-- tables, and changes nothing
SET ROLE conduit_user;
SELECT name, config->>'url' AS url FROM pgconduit.connectors ORDER BY name;
SELECT * FROM pgconduit.connector;
SELECT * FROM pgconduit.pipeline;
SELECT pgconduit.create_source('x', '{"table": "t", "url": "dbname=x"}');
SELECT pgconduit.create_destination('x', '{"url": "dbname=x"}');
SELECT pgconduit.alter_connector('sec_dst', '{"url": "dbname=evil"}');
SELECT pgconduit.drop_connector('sec_dst');
SELECT pgconduit.create_pipeline('x', 'sec_src', 'sec_dst', false);
SELECT pgconduit.start_pipeline('x');
SELECT pgconduit.stop_pipeline('x');
SELECT pgconduit.drop_pipeline('x');
UPDATE pgconduit.connector SET config = '{}';
RESET ROLE;
SELECT name, config->>'url' AS url FROM pgconduit.connector ORDER BY name;

-- a member of pgconduit_admin may manage them, and owns what it creates
SET ROLE conduit_admin_member;
SELECT pgconduit.create_source('member_src', '{"table": "t", "url": "host=h user=m password=pw dbname=d"}');
SELECT pgconduit.create_destination('member_dst', '{"url": "host=h user=m password=pw dbname=d"}');
SELECT pgconduit.create_pipeline('member_p', 'member_src', 'member_dst', false);
SELECT name, owner FROM pgconduit.pipelines;
SELECT name, owner FROM pgconduit.connectors ORDER BY name;
SELECT pgconduit.drop_pipeline('member_p', drop_slot => false);
SELECT pgconduit.drop_connector('member_dst');
SELECT pgconduit.drop_connector('member_src');
RESET ROLE;

-- clean up
SELECT pgconduit.drop_connector('sec_src');
SELECT pgconduit.drop_connector('sec_dst');
DROP ROLE conduit_user;
DROP ROLE conduit_admin_member;
