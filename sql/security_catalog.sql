-- Security, what needs no password: the catalog changes only through the
-- API, owners control their own objects, secrets stay with their owner,
-- connection strings of non-superusers follow dblink's rules, internal
-- functions are not PUBLIC's.  Each attack is made as a hostile member of
-- pgconduit_admin or a plain role, and must fail and change nothing.
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE ROLE sec_admin1 IN ROLE pgconduit_admin;
CREATE ROLE sec_admin2 IN ROLE pgconduit_admin;
CREATE ROLE sec_member IN ROLE sec_admin1;
CREATE ROLE sec_plain;

-- the superuser's connectors and pipeline
SELECT pgconduit.create_source('su_src', '{"table": "public.t", "url": "host=db.example.com user=postgres password=supersecret dbname=prod"}');
SELECT pgconduit.create_destination('su_dst', '{"url": "postgresql://postgres:supersecret@db.example.com/warehouse"}');
SELECT pgconduit.create_pipeline('su_pipe', 'su_src', 'su_dst', false);

-- an admin's, with passwords
SET ROLE sec_admin1;
SELECT pgconduit.create_source('a1_src', '{"table": "public.t", "url": "host=h1 user=a1 password=a1secret dbname=d1"}');
SELECT pgconduit.create_destination('a1_dst', '{"url": "host=h1 user=a1 password=a1secret dbname=d2"}');
SELECT pgconduit.create_pipeline('a1_pipe', 'a1_src', 'a1_dst', false);
RESET ROLE;

SELECT name, kind, owner FROM pgconduit.connectors ORDER BY name;
SELECT name, owner FROM pgconduit.pipelines ORDER BY name;

-- attack: write the catalog directly, e.g. run a pipeline as a superuser
SET ROLE sec_admin1;
UPDATE pgconduit.pipeline SET owner = 'postgres' WHERE name = 'a1_pipe';
UPDATE pgconduit.connector SET config = config || '{"url": "dbname=postgres"}' WHERE name = 'su_src';
INSERT INTO pgconduit.pipeline (name, source, destination, enabled)
	VALUES ('forged', 'su_src', 'su_dst', false);
DELETE FROM pgconduit.pipeline WHERE name = 'su_pipe';
DELETE FROM pgconduit.connector WHERE name = 'a1_src';
RESET ROLE;
SELECT name, owner, enabled FROM pgconduit.pipelines ORDER BY name;

-- attack: another admin reads the superuser's and the other admin's secrets
SET ROLE sec_admin2;
SELECT name, config->>'url' AS url FROM pgconduit.connector ORDER BY name;
SELECT name, config->>'url' AS url FROM pgconduit.connectors ORDER BY name;
-- the owner, and a member of the owner, read their own in clear
SET ROLE sec_admin1;
SELECT name, config->>'url' AS url FROM pgconduit.connectors ORDER BY name;
SELECT name, config->>'url' AS url FROM pgconduit.connector ORDER BY name;
SET ROLE sec_member;
SELECT name, config->>'url' AS url FROM pgconduit.connectors ORDER BY name;
-- PUBLIC sees no connection strings: no hosts, users, databases
SET ROLE sec_plain;
SELECT name, config->>'url' AS url, config ? 'url' AS has_url FROM pgconduit.connectors ORDER BY name;
SELECT name, config->>'table' AS tab FROM pgconduit.connectors ORDER BY name;
RESET ROLE;
SELECT name, config->>'url' AS url FROM pgconduit.connectors ORDER BY name;

-- attack: another admin repoints, drops, starts or waits on what is not its own
SET ROLE sec_admin2;
SELECT pgconduit.alter_connector('su_src', '{"table": "public.t", "url": "dbname=postgres"}');
SELECT pgconduit.alter_connector('a1_dst', '{"url": "host=evil user=x password=y"}');
SELECT pgconduit.drop_connector('a1_dst');
SELECT pgconduit.start_pipeline('su_pipe');
SELECT pgconduit.stop_pipeline('a1_pipe');
SELECT pgconduit.drop_pipeline('a1_pipe', false);
SELECT pgconduit.wait_for_pipeline('su_pipe', '0 s');
-- nor may it build a pipeline from connectors it does not own
SELECT pgconduit.create_destination('a2_dst', '{"url": "host=h2 user=a2 password=a2secret dbname=d2"}');
SELECT pgconduit.create_pipeline('a2_steal', 'su_src', 'a2_dst', false);
SELECT pgconduit.create_pipeline('a2_steal', 'a1_src', 'a2_dst', false);
RESET ROLE;
SELECT name, config->>'url' AS url FROM pgconduit.connector ORDER BY name;
SELECT name, source, destination, enabled, owner FROM pgconduit.pipeline ORDER BY name;

-- a superuser cannot build a pipeline from an admin's connectors either:
-- their owner could repoint them to where only the superuser may go
SELECT pgconduit.create_pipeline('su_mixed', 'a1_src', 'su_dst', false);

-- a member of the owner may manage the owner's objects; they stay the owner's
SET ROLE sec_member;
SELECT pgconduit.alter_connector('a1_dst', '{"url": "host=h1 user=a1 password=a1new dbname=d2"}');
SELECT pgconduit.stop_pipeline('a1_pipe');
RESET ROLE;
SELECT name, owner, config->>'url' AS url FROM pgconduit.connector WHERE name = 'a1_dst';

-- attack: a non-superuser's connection that the server's own credentials
-- could authenticate: no password, or a keyword that reads the server's
-- files or environment
SET ROLE sec_admin2;
SELECT pgconduit.create_source('nopw', '{"table": "t", "url": "host=127.0.0.1 dbname=postgres user=postgres"}');
SELECT pgconduit.create_source('nopw', '{"table": "t", "url": "postgresql://postgres@127.0.0.1/postgres"}');
SELECT pgconduit.create_source('nopw', '{"table": "t", "url": "host=h user=u password='''' dbname=d"}');
SELECT pgconduit.create_source('nopw', '{"table": "t", "url": "host=h user=u password=p dbname=d", "replication_url": "host=h user=u dbname=d"}');
SELECT pgconduit.create_destination('nopw', '{"url": "dbname=postgres"}');
SELECT pgconduit.create_destination('kw', '{"url": "host=h user=u password=p passfile=/tmp/x"}');
SELECT pgconduit.create_destination('kw', '{"url": "service=s password=p"}');
SELECT pgconduit.create_destination('kw', '{"url": "host=h password=p sslmode=require sslkey=/var/lib/postgresql/.postgresql/postgresql.key"}');
SELECT pgconduit.create_destination('kw', '{"url": "host=h password=p sslcert=/tmp/c"}');
SELECT pgconduit.create_destination('kw', '{"url": "host=h password=p sslrootcert=/tmp/c"}');
SELECT pgconduit.create_destination('kw', '{"url": "host=h password=p sslcrl=/tmp/c"}');
SELECT pgconduit.create_destination('kw', '{"url": "host=h password=p sslcrldir=/tmp/c"}');
SELECT pgconduit.create_destination('kw', '{"url": "host=h password=p sslpassword=x"}');
SELECT pgconduit.create_destination('kw', '{"url": "host=h password=p krbsrvname=postgres"}');
SELECT pgconduit.create_destination('kw', '{"url": "host=h password=p gsslib=gssapi"}');
SELECT pgconduit.create_destination('kw', '{"url": "postgresql://u:p@h/d?passfile=/tmp/x"}');
-- with a password and harmless keywords it is accepted
SELECT pgconduit.create_destination('kw_ok', '{"url": "host=h port=5433 user=u password=p dbname=d sslmode=require application_name=x connect_timeout=5"}');
RESET ROLE;
-- superusers may use the server's credentials, as with dblink
SELECT pgconduit.create_destination('su_local', '{"url": "dbname=postgres"}');
SELECT name FROM pgconduit.connector WHERE name IN ('nopw', 'kw', 'kw_ok', 'su_local') ORDER BY name;

-- attack: a connection string that libpq cannot parse must not echo its
-- password in the error
SELECT pgconduit.create_source('leak', '{"table": "t", "url": "postgresql://u:sec%ZZret@h/d"}');
SELECT pgconduit.create_source('leak', '{"table": "t", "url": "host=h password=''unterminated"}');
SELECT pgconduit.create_source('leak', '{"table": "t", "url": "host=h password=secret bogus=1"}');

-- attack: names that are not valid SQL names are refused when stored
SELECT pgconduit.create_source('bad', '{"table": "a\"b", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"table": "public.a b", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"table": "1abc", "url": "dbname=x"}');
SELECT pgconduit.create_source('bad', '{"table": "t", "url": "dbname=x", "columns": "a\"b, c"}');
SELECT pgconduit.create_source('bad', '{"table": "t", "url": "dbname=x", "key": "a;b"}');
SELECT pgconduit.create_destination('bad', '{"url": "dbname=x", "table": "s.t\""}');
-- quoted names keep anything but must be closed
SELECT pgconduit.create_source('good', '{"table": "\"a\"\"b\".\"T t\"", "url": "dbname=x", "columns": "\"Id\", _x$1"}');
SELECT config->>'table' AS tab FROM pgconduit.connector WHERE name = 'good';
SELECT pgconduit.drop_connector('good');

-- a catalog row is always a JSON object, even for a superuser writing it
\set VERBOSITY terse
UPDATE pgconduit.connector SET config = '[]' WHERE name = 'su_src';
INSERT INTO pgconduit.connector (name, kind, config, owner)
	VALUES ('arr', 'source', '"x"', current_user::regrole);
\set VERBOSITY default

-- attack: internal functions are not PUBLIC's
SET ROLE sec_plain;
SELECT pgconduit._jsonb_parse('{"a": 1}');
SELECT pgconduit._jsonb_to_bytes('{}');
SELECT pgconduit._validate_config('source', 'x', '{}', 0);
SELECT pgconduit._write('[]', NULL);
RESET ROLE;
SELECT p.oid::regprocedure AS callable_by_public
  FROM pg_proc p
 WHERE p.pronamespace = 'pgconduit'::regnamespace AND p.proname LIKE '\_%'
   AND has_function_privilege('sec_plain', p.oid, 'EXECUTE')
 ORDER BY 1::text;

-- attack: another admin moves a pipeline's position on the destination, or
-- reads its dead letters; the destination's role of the pipeline sees its own
SET ROLE sec_admin1;
SELECT pgconduit._set_progress('p1', 'a1_pipe', 'cdc', '0000000000000001/0000000000000001');
INSERT INTO pgconduit.dead_letter (pipeline, record) VALUES ('a1_pipe', '{"payload": "salaries"}');
SELECT pipeline_id, position, writer FROM pgconduit.progress;
SET ROLE sec_admin2;
SELECT pipeline_id, position FROM pgconduit.progress;
SELECT pipeline, record FROM pgconduit.dead_letter;
UPDATE pgconduit.progress SET position = 'FFFFFFFFFFFFFFFF/0000000000000000' WHERE pipeline_id = 'p1';
SELECT pgconduit._set_progress('p1', 'a1_pipe', 'cdc', 'FFFFFFFFFFFFFFFF/0000000000000000');
INSERT INTO pgconduit.progress (pipeline_id, pipeline, phase, position, writer)
	VALUES ('p2', 'a1_pipe', 'cdc', 'x', 'sec_admin1');
DELETE FROM pgconduit.dead_letter;
RESET ROLE;
SELECT pipeline_id, position, writer FROM pgconduit.progress;
SELECT pipeline, record, writer FROM pgconduit.dead_letter;
DELETE FROM pgconduit.progress;
DELETE FROM pgconduit.dead_letter;
-- the same with the tables' progress of a pipeline of many tables: another
-- admin can neither read nor move a table's state or cut
SET ROLE sec_admin1;
SELECT pgconduit._set_progress_table('p1', 16384, 's.a', 'streaming', '0/10', 5, false);
SELECT source_table, state, cut, writer FROM pgconduit.progress_table;
SET ROLE sec_admin2;
SELECT source_table, cut FROM pgconduit.progress_table;
UPDATE pgconduit.progress_table SET cut = 'FF/0';
DELETE FROM pgconduit.progress_table;
SELECT pgconduit._set_progress_table('p1', 16384, 's.a', 'snapshot', 'FF/0', 0, false);
INSERT INTO pgconduit.progress_table (pipeline_id, source_relid, source_table, state, writer)
	VALUES ('p1', 16385, 's.b', 'streaming', 'sec_admin1');
SET ROLE sec_plain;
SELECT count(*) FROM pgconduit.progress_table;
RESET ROLE;
SELECT pipeline_id, source_relid, source_table, state, cut, writer FROM pgconduit.progress_table;
DELETE FROM pgconduit.progress_table;

-- a connector whose owner role was dropped: the views still work, its
-- connection string stays hidden from admins, and a superuser may drop it
CREATE ROLE sec_gone IN ROLE pgconduit_admin;
SET ROLE sec_gone;
SELECT pgconduit.create_destination('gone_dst', '{"url": "host=h user=g password=gonepw dbname=d"}');
RESET ROLE;
DROP ROLE sec_gone;
SELECT name, config->>'url' AS url FROM pgconduit.connectors WHERE name = 'gone_dst';
SET ROLE sec_admin2;
SELECT name, config->>'url' AS url FROM pgconduit.connectors WHERE name = 'gone_dst';
\set VERBOSITY terse
SELECT pgconduit.drop_connector('gone_dst');
\set VERBOSITY default
RESET ROLE;
SELECT pgconduit.drop_connector('gone_dst');

-- clean up
SELECT pgconduit.drop_pipeline('a1_pipe', false);
SELECT pgconduit.drop_pipeline('su_pipe', false);
SELECT pgconduit.drop_connector(name) FROM pgconduit.connector ORDER BY name;
DROP ROLE sec_member, sec_admin1, sec_admin2, sec_plain;
