/*-------------------------------------------------------------------------
 *
 * pq.c
 *	  libpq from inside the server, with every wait on the process latch.
 *
 * Pipeline workers talk to their source and destination, and
 * wait_for_pipeline() and drop_pipeline() to a source, through libpq.  A
 * blocking libpq call would ignore SIGTERM, query cancel and the
 * postmaster's death, so connections are made with PQconnectStart and
 * PQconnectPoll and results read with PQconsumeInput, each wait going
 * through WaitLatchOrSocket followed by CHECK_FOR_INTERRUPTS, as
 * libpqwalreceiver does.  A remote error becomes a local ERROR that keeps
 * the remote SQLSTATE, message, detail and hint.  Connections are closed
 * by the caller; a worker's are closed by its exit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "pq.h"

/*
 * Wait until the socket of conn is ready for events (WL_SOCKET_*), the
 * latch is set, or timeout_ms passes (-1: no timeout); serve interrupts.
 */
void
pgc_pq_wait(PGconn *conn, int events, long timeout_ms)
{
	int			rc;
	int			flags = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | events;

	if (timeout_ms >= 0)
		flags |= WL_TIMEOUT;
	rc = WaitLatchOrSocket(MyLatch, flags, PQsocket(conn), timeout_ms,
						   PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
		ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * Connection options a connection string of a role that is not a superuser
 * may use.  Every other one (passfile, service, sslkey, sslcert,
 * sslrootcert, sslcrl, sslcrldir, sslpassword, krbsrvname, gsslib,
 * gssencmode and whatever newer libpq versions add) could make libpq read
 * the server's own files or use its own credentials on that role's behalf.
 */
static const char *const pgc_safe_options[] = {
	"host", "hostaddr", "port", "dbname", "user", "password",
	"connect_timeout", "client_encoding", "options", "application_name",
	"fallback_application_name", "keepalives", "keepalives_idle",
	"keepalives_interval", "keepalives_count", "tcp_user_timeout",
	"sslmode", "sslcompression", "sslsni", "ssl_min_protocol_version",
	"ssl_max_protocol_version", "requirepeer", "target_session_attrs",
	"channel_binding", "load_balance_hosts", "require_auth",
	NULL
};

/* Is s the name of a libpq connection option? */
static bool
pgc_pq_is_option(const char *s, int len)
{
	PQconninfoOption *defs = PQconndefaults();
	bool		found = false;

	if (defs == NULL)
		return false;
	for (PQconninfoOption *o = defs; o->keyword; o++)
		if (strlen(o->keyword) == len && strncmp(o->keyword, s, len) == 0)
			found = true;
	PQconninfoFree(defs);
	return found;
}

/*
 * libpq's message about a connection string it cannot parse, with every
 * quoted part that is not an option name or a single character replaced:
 * libpq quotes the text it stumbled on, which may be part of a password.
 */
static char *
pgc_pq_redact(const char *msg)
{
	StringInfoData buf;
	const char *p = msg;

	initStringInfo(&buf);
	while (*p)
	{
		const char *q;

		if (*p != '"' || (q = strchr(p + 1, '"')) == NULL)
		{
			appendStringInfoChar(&buf, *p++);
			continue;
		}
		if (q - p - 1 <= 1 || pgc_pq_is_option(p + 1, q - p - 1))
			appendBinaryStringInfo(&buf, p, q - p + 1);
		else
			appendStringInfoString(&buf, "\"********\"");
		p = q + 1;
	}
	/* libpq's message ends with a newline */
	if (buf.len > 0 && buf.data[buf.len - 1] == '\n')
		buf.data[--buf.len] = '\0';
	return buf.data;
}

/*
 * Parse a connection string, or raise an ERROR that does not show it.
 * where says where the string comes from, for the message.
 */
PQconninfoOption *
pgc_pq_parse(const char *url, const char *where)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	char	   *detail;

	if (opts != NULL)
		return opts;
	if (err == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	detail = pgc_pq_redact(err);
	PQfreemem(err);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid connection string in %s", where),
			 errdetail_internal("%s", detail)));
	return NULL;				/* keep compiler quiet */
}

/*
 * The rules of dblink for connections made on behalf of a role that is not
 * a superuser, checked before connecting: the connection string gives a
 * non-empty password and uses only options that cannot make libpq read the
 * server's files or use its credentials.  where completes the messages:
 * "to connect to the source", "in destination configuration key "url"".
 */
void
pgc_pq_check_conninfo(const char *url, const char *where)
{
	PQconninfoOption *opts = pgc_pq_parse(url, where);
	bool		has_password = false;

	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		bool		safe = false;

		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0)
			has_password = true;
		for (int i = 0; pgc_safe_options[i]; i++)
			if (strcmp(pgc_safe_options[i], o->keyword) == 0)
				safe = true;
		if (!safe)
		{
			char	   *kw = pstrdup(o->keyword);

			PQconninfoFree(opts);
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("connection option \"%s\" is not permitted %s", kw, where),
					 errdetail("Only superusers may use connection options that make the server read its own files or use its own credentials.")));
		}
	}
	PQconninfoFree(opts);
	if (!has_password)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required %s", where),
				 errdetail("Non-superusers must provide a password in the connection string."),
				 errhint("Put a password in the connection string, or have a superuser own the connector.")));
}

/*
 * Connect to url, as a replication connection (replication=database) if
 * asked.  what names the connection in errors ("source", "destination").
 * With require_password (the pipeline's owner is not a superuser) the
 * connection string is checked first, and a connection that did not use
 * its password is refused, as dblink refuses it.
 */
PGconn *
pgc_pq_connect(const char *url, bool replication, const char *appname,
			   const char *what, bool require_password)
{
	char	   *err = NULL;
	bool		refused = false;
	PGconn	   *conn = pgc_pq_try_connect(url, replication, appname, what,
										  require_password, &err, &refused);

	if (refused)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required to connect to the %s", what),
				 errdetail("The pipeline's owner is not a superuser, and the server did not ask for the password."),
				 errhint("Have the server ask for the password (pg_hba.conf), or have a superuser own the pipeline.")));
	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to the %s", what),
				 errdetail_internal("%s", err)));
	return conn;
}

/*
 * Connect to url; when the server cannot be reached, return NULL and set
 * *err to libpq's message; when it did not ask for the password that
 * require_password needs, return NULL and set *refused too.  A connection
 * string the owner may not use, or an interrupt, raises an ERROR.  The connection's search_path is emptied before it is
 * used, as libpqwalreceiver does, so that nothing a database owner put in
 * a schema of the search path runs with the connection's rights.
 */
PGconn *
pgc_pq_try_connect(const char *url, bool replication, const char *appname,
				   const char *what, bool require_password, char **err,
				   bool *refused)
{
	const char *keys[5];
	const char *vals[5];
	int			n = 0;
	PGconn	   *conn;
	volatile PostgresPollingStatusType status = PGRES_POLLING_WRITING;

	if (require_password)
		pgc_pq_check_conninfo(url, psprintf("to connect to the %s", what));
	else
		PQconninfoFree(pgc_pq_parse(url, psprintf("the connection string of the %s", what)));

	keys[n] = "dbname";
	vals[n++] = url;
	if (replication)
	{
		keys[n] = "replication";
		vals[n++] = "database";
	}
	keys[n] = "fallback_application_name";
	vals[n++] = appname;
	keys[n] = "client_encoding";
	vals[n++] = GetDatabaseEncodingName();
	keys[n] = NULL;
	vals[n] = NULL;

	conn = PQconnectStartParams(keys, vals, true);
	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	PG_TRY();
	{
		while (PQstatus(conn) != CONNECTION_BAD &&
			   status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED)
		{
			if (status == PGRES_POLLING_READING)
				pgc_pq_wait(conn, WL_SOCKET_READABLE, -1);
			else if (status == PGRES_POLLING_WRITING)
				pgc_pq_wait(conn, WL_SOCKET_WRITEABLE, -1);
			status = PQconnectPoll(conn);
		}
		if (PQstatus(conn) == CONNECTION_OK &&
			(!require_password || PQconnectionUsedPassword(conn)))
			pgc_pq_command(conn, what,
						   "SELECT pg_catalog.set_config('search_path', '', false)");

		/*
		 * The output plugin writes some values (intervals, ranges, text
		 * forms inside arrays and composites) by their output functions,
		 * in the walsender's settings: fix them as the snapshot fixes its
		 * own, over whatever the database, the role or the connection
		 * string set, so that the destination reads every value back as
		 * it was.
		 */
		if (replication && PQstatus(conn) == CONNECTION_OK &&
			(!require_password || PQconnectionUsedPassword(conn)))
			pgc_pq_command(conn, what,
						   "SET datestyle = ISO; SET intervalstyle = postgres;"
						   " SET extra_float_digits = 3; SET bytea_output = hex");
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (PQstatus(conn) != CONNECTION_OK)
	{
		*err = pchomp(PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	if (require_password && !PQconnectionUsedPassword(conn))
	{
		PQfinish(conn);
		*err = psprintf("password is required to connect to the %s", what);
		if (refused)
			*refused = true;
		return NULL;
	}
	return conn;
}

/*
 * Run one statement whose names of relations are looked up in the search
 * path the connection's role had when it logged in (its names of functions
 * and operators are qualified), for tables that a user named without their
 * schema.  The search path stays empty for everything else.
 */
PGresult *
pgc_pq_exec_user_path(PGconn *conn, const char *what, const char *sql,
					  int nparams, const char *const *params)
{
	PGresult   *res;

	/* an error ends the connection's user, so the path is never left set */
	pgc_pq_command(conn, what,
				   "SELECT pg_catalog.set_config('search_path', s.reset_val, false)"
				   "  FROM pg_catalog.pg_settings s"
				   " WHERE s.name OPERATOR(pg_catalog.=) 'search_path'");
	res = pgc_pq_exec(conn, what, sql, nparams, params);
	pgc_pq_command(conn, what,
				   "SELECT pg_catalog.set_config('search_path', '', false)");
	return res;
}

/* Close *conn if open */
void
pgc_pq_finish(PGconn **conn)
{
	if (*conn != NULL)
		PQfinish(*conn);
	*conn = NULL;
}

/*
 * Raise the error of res (or of conn when res is NULL) as a local ERROR
 * with the remote SQLSTATE, message, detail and hint.  Frees res.
 */
void
pgc_pq_raise(PGconn *conn, PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *det = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	int			code = ERRCODE_CONNECTION_FAILURE;
	char	   *m,
			   *d = det ? pstrdup(det) : NULL,
			   *h = hint ? pstrdup(hint) : NULL;

	if (state != NULL && strlen(state) == 5)
		code = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
	m = pchomp(msg ? msg : PQerrorMessage(conn));
	if (res)
		PQclear(res);
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", m),
			 d ? errdetail_internal("%s", d) : 0,
			 h ? errhint("%s", h) : 0,
			 errcontext("on the %s", what)));
}

/*
 * Send what libpq could not send at once, waiting on the latch; false if
 * the connection failed (PQerrorMessage says why).
 */
bool
pgc_pq_flush(PGconn *conn)
{
	int			r;

	while ((r = PQflush(conn)) == 1)
		pgc_pq_wait(conn, WL_SOCKET_WRITEABLE | WL_SOCKET_READABLE, -1);
	return r == 0;
}

/* Send a query (with text parameters) without waiting for its result */
void
pgc_pq_send(PGconn *conn, const char *what, const char *sql, int nparams,
			const char *const *params)
{
	int			ok;

	/* the simple protocol when there are no parameters: several commands */
	if (nparams == 0)
		ok = PQsendQuery(conn, sql);
	else
		ok = PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (!ok)
		pgc_pq_raise(conn, NULL, what);
	pgc_pq_flush(conn);
}

/*
 * The same for a statement prepared as stmt, whose parameters may be
 * binary (formats[i] = 1, of lengths[i] bytes)
 */
void
pgc_pq_send_prepared(PGconn *conn, const char *what, const char *stmt,
					 int nparams, const char *const *params,
					 const int *lengths, const int *formats)
{
	if (!PQsendQueryPrepared(conn, stmt, nparams, params, lengths, formats, 0))
		pgc_pq_raise(conn, NULL, what);
	pgc_pq_flush(conn);
}

/*
 * The next result of the query in progress, or NULL when there is none;
 * waits on the latch meanwhile.
 */
PGresult *
pgc_pq_get_result(PGconn *conn, const char *what)
{
	while (PQisBusy(conn))
	{
		pgc_pq_wait(conn, WL_SOCKET_READABLE, -1);
		if (!PQconsumeInput(conn))
			pgc_pq_raise(conn, NULL, what);
	}
	return PQgetResult(conn);
}

/*
 * Run one statement and return its result; an error result (or a lost
 * connection) raises an ERROR.  The caller PQclears the result.
 */
PGresult *
pgc_pq_exec(PGconn *conn, const char *what, const char *sql, int nparams,
			const char *const *params)
{
	PGresult   *res;
	PGresult   *last = NULL;

	pgc_pq_send(conn, what, sql, nparams, params);
	while ((res = pgc_pq_get_result(conn, what)) != NULL)
	{
		if (last)
			PQclear(last);
		last = res;
		if (PQresultStatus(res) == PGRES_COPY_BOTH ||
			PQresultStatus(res) == PGRES_COPY_OUT ||
			PQresultStatus(res) == PGRES_COPY_IN)
			return res;
	}
	if (last == NULL)
		pgc_pq_raise(conn, NULL, what);
	if (PQresultStatus(last) != PGRES_TUPLES_OK &&
		PQresultStatus(last) != PGRES_COMMAND_OK)
		pgc_pq_raise(conn, last, what);
	return last;
}

/* Run a statement whose result is not needed */
void
pgc_pq_command(PGconn *conn, const char *what, const char *sql)
{
	PQclear(pgc_pq_exec(conn, what, sql, 0, NULL));
}
