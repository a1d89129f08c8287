/*-------------------------------------------------------------------------
 *
 * pq.h
 *	  libpq from inside the server: connections and queries whose waits go
 *	  through the latch, so a worker or backend serves interrupts while it
 *	  waits for a remote server.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_PQ_H
#define PGC_PQ_H

#include "libpq-fe.h"

#include "compat.h"

extern PGconn *pgc_pq_connect(const char *url, bool replication,
							  const char *appname, const char *what,
							  bool require_password);
extern PGconn *pgc_pq_try_connect(const char *url, bool replication,
								  const char *appname, const char *what,
								  bool require_password, char **err,
								  bool *refused);
extern PQconninfoOption *pgc_pq_parse(const char *url, const char *where);
extern void pgc_pq_check_conninfo(const char *url, const char *where);
extern PGresult *pgc_pq_exec_user_path(PGconn *conn, const char *what,
									   const char *sql, int nparams,
									   const char *const *params);
extern void pgc_pq_finish(PGconn **conn);
extern PGresult *pgc_pq_exec(PGconn *conn, const char *what, const char *sql,
							 int nparams, const char *const *params);
extern void pgc_pq_command(PGconn *conn, const char *what, const char *sql);
extern void pgc_pq_send(PGconn *conn, const char *what, const char *sql,
						int nparams, const char *const *params);
extern void pgc_pq_send_prepared(PGconn *conn, const char *what,
								 const char *stmt, int nparams,
								 const char *const *params,
								 const int *lengths, const int *formats);
extern PGresult *pgc_pq_get_result(PGconn *conn, const char *what);
extern void pgc_pq_wait(PGconn *conn, int events, long timeout_ms);
extern bool pgc_pq_flush(PGconn *conn);
pgc_noreturn extern void pgc_pq_raise(PGconn *conn, PGresult *res, const char *what);

#endif							/* PGC_PQ_H */
