/*-------------------------------------------------------------------------
 *
 * wait.c
 *	  SQL functions that reach a pipeline's source or destination from a
 *	  session: wait_for_pipeline(), and the cleanup of drop_pipeline() --
 *	  the slot and publication on the source, the progress row on the
 *	  destination.
 *
 * wait_for_pipeline() commits a logical decoding message on the source
 * (prefix pgconduit.wait) and waits until the worker reports, through its
 * shared slot, that everything committed before that message is applied
 * at the destination.  The worker learns it from the message itself, from
 * the snapshot's cut, or from the walsender's keepalives.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "config.h"
#include "pgconduit.h"
#include "pipeline.h"
#include "pq.h"

PG_FUNCTION_INFO_V1(pgconduit_wait_for_pipeline);
PG_FUNCTION_INFO_V1(pgconduit_drop_source_objects);
PG_FUNCTION_INFO_V1(pgconduit_drop_destination_progress);

/*
 * The source config and owner of pipeline name, read as the extension's
 * owner; ERROR if there is no such pipeline, or if the current user may
 * not manage it (has not the privileges of its owner).
 */
static PgcSourceConfig *
pgc_pipeline_source(const char *name, Oid *owner)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	MemoryContext cxt = CurrentMemoryContext;
	Jsonb	   *config = NULL;
	PgcSavedUser saved;

	pgc_as_extension_owner(&saved);
	SPI_connect();
	args[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT s.config, p.owner::pg_catalog.oid"
							  "  FROM pgconduit.pipeline p"
							  "  JOIN pgconduit.connector s ON s.name OPERATOR(pg_catalog.=) p.source"
							  " WHERE p.name OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline \"%s\"", name);
	if (SPI_processed == 1)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		config = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));
		*owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 2, &isnull));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	pgc_as_caller(&saved);
	if (config == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline \"%s\" does not exist", name)));
	if (!has_privs_of_role(GetUserId(), *owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of pipeline \"%s\"", name),
				 errdetail("Only its owner and roles with the owner's privileges may manage it.")));
	return pgc_source_config_parse(name, config);
}

/* Parse an LSN printed as %X/%X */
static XLogRecPtr
pgc_parse_lsn(const char *s)
{
	XLogRecPtr	lsn;

	if (!pgc_proto_parse_lsn(s, &lsn))
		elog(ERROR, "could not parse LSN \"%s\"", s);
	return lsn;
}

/*
 * SQL: pgconduit.wait_for_pipeline(name, timeout): true once the snapshot
 * is applied and every source change committed before the call is
 * applied; false at the timeout, or as soon as the pipeline has failed.
 */
Datum
pgconduit_wait_for_pipeline(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Interval   *timeout = PG_GETARG_INTERVAL_P(1);
	PgcSourceConfig *src;
	XLogRecPtr	target = InvalidXLogRecPtr;
	TimestampTz deadline;
	int64		usecs;
	Oid			owner;
	bool		done = false;

	pgc_check_admin();
	/* it reads the catalog, which must be this library's version */
	pgc_require_catalog_version();
	src = pgc_pipeline_source(name, &owner);
	usecs = timeout->time + (int64) timeout->day * USECS_PER_DAY +
		(int64) timeout->month * DAYS_PER_MONTH * USECS_PER_DAY;
	deadline = GetCurrentTimestamp() + Max(usecs, 0);

	if (src->cdc)
	{
		PGconn	   *conn;
		PGresult   *res;

		char	   *err;

		conn = pgc_pq_try_connect(src->url, false, "pgconduit wait_for_pipeline",
								  "source", !superuser_arg(owner), &err, NULL);
		if (conn == NULL)
		{
			/* a source that is down has changes the pipeline cannot have */
			ereport(NOTICE,
					(errmsg("could not connect to the source of pipeline \"%s\"", name),
					 errdetail_internal("%s", err)));
			PG_RETURN_BOOL(false);
		}
		PG_TRY();
		{
			res = pgc_pq_exec(conn, "source",
							  "SELECT pg_catalog.pg_logical_emit_message(true, 'pgconduit.wait', '')::pg_catalog.text",
							  0, NULL);
			if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
				elog(ERROR, "pg_logical_emit_message() returned no LSN on the source");
			target = pgc_parse_lsn(PQgetvalue(res, 0, 0));
			PQclear(res);
		}
		PG_CATCH();
		{
			PQfinish(conn);
			PG_RE_THROW();
		}
		PG_END_TRY();
		PQfinish(conn);
	}

	if (pgc_shared == NULL)
		PG_RETURN_BOOL(false);

	/*
	 * Sleep until the pipeline's slot changes -- its worker broadcasts as
	 * it applies, fails or ends, the launcher as it gives the slot -- and
	 * look again.  Preparing to sleep before looking loses no wakeup.
	 */
	ConditionVariablePrepareToSleep(&pgc_shared->status_cv);
	for (;;)
	{
		bool		failed = false;
		PgcSlot    *slot;

		LWLockAcquire(pgc_shared->lock, LW_SHARED);
		slot = pgc_slot_find(MyDatabaseId, name);
		if (slot != NULL)
		{
			SpinLockAcquire(&slot->mutex);
			if (slot->state == PGC_STATE_DONE)
				done = true;
			else if (src->cdc && slot->phase == PGC_PHASE_CDC &&
					 slot->pid > 0 && slot->marker_lsn >= target)
				done = true;
			failed = (slot->state == PGC_STATE_FAILED && !slot->retry);
			SpinLockRelease(&slot->mutex);
		}
		LWLockRelease(pgc_shared->lock);
		if (done || failed ||
			!pgc_status_sleep(deadline, "PgconduitWaitForPipeline"))
			break;
	}
	ConditionVariableCancelSleep();
	PG_RETURN_BOOL(done);
}

/*
 * SQL: pgconduit._drop_source_objects(pipeline): drop the pipeline's slot
 * on its source (waiting for the walsender to let go of it), and its
 * publication if pgconduit created it.  Missing objects are not an error.
 */
/*
 * What drop_pipeline drops on the source (the slot) and in the destination
 * (the progress row) no rollback can restore: like DROP SUBSCRIPTION with
 * a slot, it may not run inside a transaction block, where a rollback
 * would keep a pipeline whose slot or position is gone and whose next
 * start would take a snapshot over rows it had already deleted.
 */
void
pgc_prevent_drop_in_block(void)
{
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("pgconduit.drop_pipeline cannot run inside a transaction block"),
				 errdetail("It drops the replication slot on the source and the pipeline's position in the destination, which a rollback could not restore."),
				 errhint("Run it on its own, outside BEGIN and COMMIT.")));
}

Datum
pgconduit_drop_source_objects(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PgcSourceConfig *src;
	PGconn	   *conn;
	char	   *err = NULL;
	Oid			owner;

	pgc_check_admin();
	pgc_prevent_drop_in_block();
	src = pgc_pipeline_source(name, &owner);
	if (!src->cdc)
		PG_RETURN_VOID();

	conn = pgc_pq_try_connect(src->url, false, "pgconduit drop_pipeline",
							  "source", !superuser_arg(owner), &err, NULL);
	if (conn == NULL)
	{
		/* an unreachable source must not keep a pipeline from being dropped */
		ereport(WARNING,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to the source of pipeline \"%s\" to drop replication slot \"%s\"",
						name, src->slot_name),
				 errdetail_internal("%s", err),
				 errhint("Drop the slot on the source by hand with pg_drop_replication_slot('%s') once it is reachable.",
						 src->slot_name)));
		PG_RETURN_VOID();
	}
	PG_TRY();
	{
		const char *params[2];
		PGresult   *res;
		int			tries = 0;

		params[0] = src->slot_name;
		params[1] = psprintf("created by pgconduit for pipeline %s", name);
		for (;;)
		{
			bool		active;

			res = pgc_pq_exec(conn, "source",
							  "SELECT active FROM pg_catalog.pg_replication_slots"
							  " WHERE slot_name OPERATOR(pg_catalog.=) $1",
							  1, params);
			if (PQntuples(res) == 0)
			{
				PQclear(res);
				break;
			}
			active = !PQgetisnull(res, 0, 0) &&
				strcmp(PQgetvalue(res, 0, 0), "t") == 0;
			PQclear(res);
			if (!active || ++tries > 1000)
			{
				PQclear(pgc_pq_exec(conn, "source",
									"SELECT pg_catalog.pg_drop_replication_slot($1)",
									1, params));
				break;
			}
			/* the walsender of the stopped worker is still going away */
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		params[0] = src->publication_name;
		res = pgc_pq_exec(conn, "source",
						  "SELECT 1 FROM pg_catalog.pg_publication p"
						  " WHERE p.pubname OPERATOR(pg_catalog.=) $1"
						  "   AND pg_catalog.obj_description(p.oid, 'pg_publication')"
						  "       OPERATOR(pg_catalog.=) $2",
						  2, params);
		if (PQntuples(res) == 1)
			pgc_pq_command(conn, "source",
						   psprintf("DROP PUBLICATION %s",
									quote_identifier(src->publication_name)));
		PQclear(res);
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();
	PQfinish(conn);
	PG_RETURN_VOID();
}

/*
 * SQL: pgconduit._drop_destination_progress(pipeline): delete the
 * pipeline's rows of pgconduit.progress and pgconduit.progress_table in
 * its destination database, which nothing else would ever read again.  A destination that cannot be
 * reached, or refuses, only gives a NOTICE with the statement to run
 * there later: it must not keep the pipeline from being dropped, and a
 * pipeline that never ran has no row there.
 */
Datum
pgconduit_drop_destination_progress(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	PgcDestinationConfig *dst = NULL;
	char	   *id = NULL;
	char	   *by_hand;
	PGconn	   *conn;
	char	   *err = NULL;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			owner = InvalidOid;
	PgcSavedUser saved;

	pgc_check_admin();
	pgc_prevent_drop_in_block();
	pgc_as_extension_owner(&saved);
	SPI_connect();
	args[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT d.config,"
							  "       extract(epoch FROM p.created_at)::pg_catalog.numeric::pg_catalog.text,"
							  "       p.owner::pg_catalog.oid"
							  "  FROM pgconduit.pipeline p"
							  "  JOIN pgconduit.connector d ON d.name OPERATOR(pg_catalog.=) p.destination"
							  " WHERE p.name OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline \"%s\"", name);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		config = SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull);
		char	   *created = SPI_getvalue(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 2);
		MemoryContext old = MemoryContextSwitchTo(cxt);

		owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 3, &isnull));
		if (created != NULL)
		{
			dst = pgc_destination_config_parse(name, DatumGetJsonbPCopy(config));
			id = pgc_pipeline_id(name, created);
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	pgc_as_caller(&saved);
	if (dst != NULL && !has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of pipeline \"%s\"", name)));
	if (dst == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline \"%s\" does not exist", name)));

	by_hand = psprintf("DELETE FROM pgconduit.progress_table WHERE pipeline_id = %s; DELETE FROM pgconduit.progress WHERE pipeline_id = %s",
					   quote_literal_cstr(id), quote_literal_cstr(id));
	conn = pgc_pq_try_connect(dst->url, false, "pgconduit drop_pipeline",
							  "destination", !superuser_arg(owner), &err, NULL);
	if (conn == NULL)
	{
		ereport(NOTICE,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to the destination of pipeline \"%s\" to delete its progress",
						name),
				 errdetail_internal("%s", err),
				 errhint("Run %s in the destination database once it is reachable.", by_hand)));
		PG_RETURN_VOID();
	}
	PG_TRY();
	{
		const char *params[1] = {id};
		PGresult   *res;
		PGresult   *next;

		/* waits on the latch, so the drop can be cancelled meanwhile */
		pgc_pq_send(conn, "destination",
					"WITH t AS (DELETE FROM pgconduit.progress_table"
					"            WHERE pipeline_id OPERATOR(pg_catalog.=) $1)"
					"DELETE FROM pgconduit.progress"
					" WHERE pipeline_id OPERATOR(pg_catalog.=) $1",
					1, params);
		res = pgc_pq_get_result(conn, "destination");
		while ((next = pgc_pq_get_result(conn, "destination")) != NULL)
			PQclear(next);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			ereport(NOTICE,
					(errmsg("could not delete the progress of pipeline \"%s\" in its destination: %s",
							name, pchomp(PQresultErrorMessage(res))),
					 errhint("Run %s in the destination database.", by_hand)));
		PQclear(res);
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}
