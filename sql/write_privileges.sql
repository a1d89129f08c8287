-- pgconduit.write() runs with the caller's privileges (SECURITY INVOKER)
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE priv (id int PRIMARY KEY, v text);
CREATE TABLE priv_log (msg text);
CREATE ROLE write_inserter;
CREATE ROLE write_upserter;
CREATE ROLE write_nobody;
GRANT SELECT, INSERT ON priv, priv_log TO write_inserter;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON priv TO write_upserter;

-- a role without UPDATE cannot upsert, neither a new row nor an existing one
SET ROLE write_inserter;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "priv"}, "key": {"id": 1}, "payload": {"after": {"v": "a"}}}');
SELECT pgconduit.write('{"operation": "snapshot", "metadata": {"table": "priv"}, "key": {"id": 1}}');
-- but it may insert records without key, and it may not delete or truncate
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "priv_log"}, "payload": {"after": {"msg": "insert only"}}}');
SELECT pgconduit.write('{"operation": "delete", "metadata": {"table": "priv"}, "key": {"id": 1}}');
SELECT pgconduit.write('{"operation": "truncate", "metadata": {"table": "priv"}}');
RESET ROLE;

-- a role with the privileges can
SET ROLE write_upserter;
SELECT pgconduit.write('[
	{"operation": "create", "metadata": {"table": "priv"}, "key": {"id": 1}, "payload": {"after": {"v": "a"}}},
	{"operation": "update", "metadata": {"table": "priv"}, "key": {"id": 1}, "payload": {"after": {"v": "b"}}},
	{"operation": "create", "metadata": {"table": "priv"}, "key": {"id": 2}, "payload": {"after": {"v": "c"}}},
	{"operation": "delete", "metadata": {"table": "priv"}, "key": {"id": 2}}
]');
-- and is still refused where it has none
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "priv_log"}, "payload": {"after": {"msg": "no"}}}');
RESET ROLE;

-- a role without any privilege; the statements prepared for others are
-- checked again for it
SET ROLE write_nobody;
SELECT pgconduit.write('{"operation": "update", "metadata": {"table": "priv"}, "key": {"id": 1}, "payload": {"after": {"v": "z"}}}');
RESET ROLE;

SELECT * FROM priv ORDER BY id;
SELECT * FROM priv_log;

-- row level security applies too
ALTER TABLE priv_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY priv_log_only_ok ON priv_log FOR INSERT WITH CHECK (msg LIKE 'ok%');
CREATE POLICY priv_log_read ON priv_log FOR SELECT USING (true);
SET ROLE write_inserter;
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "priv_log"}, "payload": {"after": {"msg": "ok, allowed"}}}');
SELECT pgconduit.write('{"operation": "create", "metadata": {"table": "priv_log"}, "payload": {"after": {"msg": "refused"}}}');
RESET ROLE;
SELECT * FROM priv_log ORDER BY msg;

-- the function is SECURITY INVOKER
SELECT proname, prosecdef FROM pg_proc
 WHERE pronamespace = 'pgconduit'::regnamespace AND proname IN ('write', '_write') ORDER BY 1;

DROP TABLE priv, priv_log;
DROP ROLE write_inserter, write_upserter, write_nobody;
