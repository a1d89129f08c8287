/*-------------------------------------------------------------------------
 *
 * check.c
 *	  The slot check: how much WAL the replication slot of a pipeline holds
 *	  on its source, and how far the pipeline is behind, while no worker
 *	  runs for it.
 *
 * A stopped or failed pipeline keeps its replication slot, and the slot
 * keeps the source's WAL from its restart_lsn on with nobody reading it.
 * A running worker measures its own slot every second (source.c); for the
 * pipelines without a worker the launcher runs this short-lived worker in
 * their database every pgconduit.slot_check_interval.  It connects to each
 * such pipeline's source -- which may be another server -- as the source's
 * url says, requiring the password that the owner's worker would need,
 * reads the source's flushed WAL position and the slot's restart_lsn and
 * confirmed_flush_lsn, and records them in the pipeline's status slot
 * (pgc_slot_note_retained), which warns in the server log past
 * pgconduit.max_retained_wal.  A source that cannot be reached keeps the
 * last measurement and is logged at LOG level.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "config.h"
#include "pgconduit.h"
#include "pipeline.h"
#include "pq.h"
#include "worker.h"

PGDLLEXPORT void pgconduit_check_main(Datum main_arg);

/* A pipeline to check: one without a worker */
typedef struct PgcCheckTarget
{
	char		name[NAMEDATALEN];
	Oid			owner;
	bool		need_password;	/* owner is not a superuser */
} PgcCheckTarget;

/* An LSN as the source prints it (%X/%X); invalid for NULL */
static XLogRecPtr
pgc_check_lsn(PGresult *res, int col)
{
	XLogRecPtr	lsn;

	if (PQgetisnull(res, 0, col) ||
		!pgc_proto_parse_lsn(PQgetvalue(res, 0, col), &lsn))
		return InvalidXLogRecPtr;
	return lsn;
}

/*
 * Measure replication slot slot_name over conn, a normal connection to the
 * source: the source's flushed WAL position, and the slot's restart_lsn
 * and confirmed_flush_lsn (invalid when the slot does not exist).  One
 * cheap query, so that running workers can afford it every second.
 */
void
pgc_measure_slot(PGconn *conn, const char *slot_name, XLogRecPtr *flush,
				 XLogRecPtr *restart, XLogRecPtr *confirmed)
{
	const char *params[1] = {slot_name};
	PGresult   *res;

	res = pgc_pq_exec(conn, "source",
					  "SELECT pg_catalog.pg_current_wal_flush_lsn(), s.restart_lsn,"
					  "       s.confirmed_flush_lsn"
					  "  FROM (SELECT) AS one"
					  "  LEFT JOIN pg_catalog.pg_replication_slots s"
					  "    ON s.slot_name OPERATOR(pg_catalog.=) $1::pg_catalog.name",
					  1, params);
	if (PQntuples(res) != 1 || PQnfields(res) != 3)
	{
		PQclear(res);
		elog(ERROR, "unexpected result measuring replication slot \"%s\"", slot_name);
	}
	*flush = pgc_check_lsn(res, 0);
	*restart = pgc_check_lsn(res, 1);
	*confirmed = pgc_check_lsn(res, 2);
	PQclear(res);
}

/*
 * The source config of pipeline t, or NULL if it is gone; also whether its
 * owner must use a password, which takes the catalog, so a transaction.
 */
static PgcSourceConfig *
pgc_check_source(PgcCheckTarget *t)
{
	const char *name = t->name;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	PgcSourceConfig *src = NULL;
	MemoryContext cxt = CurrentMemoryContext;

	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("pgconduit", true)))
	{
		args[0] = CStringGetTextDatum(name);
		if (SPI_execute_with_args("SELECT s.config FROM pgconduit.pipeline p"
								  "  JOIN pgconduit.connector s"
								  "    ON s.name OPERATOR(pg_catalog.=) p.source"
								  "   AND s.owner OPERATOR(pg_catalog.=) p.owner"
								  " WHERE p.name OPERATOR(pg_catalog.=) $1",
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read pipeline \"%s\"", name);
		if (SPI_processed == 1)
		{
			bool		isnull;
			Datum		config = SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull);
			MemoryContext old = MemoryContextSwitchTo(cxt);

			if (!isnull)
				src = pgc_source_config_parse(name, DatumGetJsonbPCopy(config));
			MemoryContextSwitchTo(old);
			t->need_password = !superuser_arg(t->owner);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return src;
}

/*
 * Check one pipeline: connect to its source, measure its slot, record it
 * in its status slot if that still has no worker.
 */
static void
pgc_check_one(Oid dboid, PgcCheckTarget *t, PgcSourceConfig *src)
{
	PGconn	   *conn;
	char	   *err = NULL;
	XLogRecPtr	flush = InvalidXLogRecPtr;
	XLogRecPtr	restart = InvalidXLogRecPtr;
	XLogRecPtr	confirmed = InvalidXLogRecPtr;
	PgcSlot    *slot;

	/* as the pipeline's worker would: its owner's rules, before and after */
	conn = pgc_pq_try_connect(src->url, false, "pgconduit slot check", "source",
							  t->need_password, &err, NULL);
	if (conn == NULL)
	{
		ereport(LOG,
				(errmsg("pgconduit could not check the replication slot of pipeline \"%s\": could not connect to the source",
						t->name),
				 errdetail_internal("%s", err)));
		return;
	}
	PG_TRY();
	{
		pgc_measure_slot(conn, src->slot_name, &flush, &restart, &confirmed);
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();

	LWLockAcquire(pgc_shared->lock, LW_SHARED);
	slot = pgc_slot_find(dboid, t->name);
	if (slot != NULL)
	{
		pid_t		pid;

		SpinLockAcquire(&slot->mutex);
		pid = slot->pid;
		SpinLockRelease(&slot->mutex);
		/* a worker that started meanwhile measures for itself */
		if (pid == 0 && flush != InvalidXLogRecPtr)
			pgc_slot_note_retained(slot, t->name, flush, restart, confirmed);
	}
	LWLockRelease(pgc_shared->lock);
}

/*
 * Check one pipeline; an error is logged, and must not keep the other
 * pipelines unchecked.  cxt is the check's memory context.
 */
static void
pgc_check_guarded(Oid dboid, PgcCheckTarget *t, MemoryContext cxt)
{
	pgstat_report_activity(STATE_RUNNING, "checking a replication slot");
	PG_TRY();
	{
		PgcSourceConfig *src = pgc_check_source(t);

		if (src != NULL && src->cdc)
			pgc_check_one(dboid, t, src);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (IsTransactionState())
			AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("pgconduit could not check the replication slot of pipeline \"%s\": %s",
						t->name, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/* Slot check worker: measure the slots of this database's idle pipelines */
void
pgconduit_check_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	List	   *targets = NIL;
	ListCell   *lc;
	MemoryContext cxt;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	/* as a superuser, in a database whose owner may plant objects */
	SetConfigOption("search_path", "", PGC_SUSET, PGC_S_OVERRIDE);
	cxt = AllocSetContextCreate(TopMemoryContext, "pgconduit slot check",
								ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);

	LWLockAcquire(pgc_shared->lock, LW_SHARED);
	for (int i = 0; i < pgc_shared->nslots; i++)
	{
		PgcSlot    *slot = &pgc_shared->slots[i];
		PgcCheckTarget *t;
		pid_t		pid;

		if (!slot->in_use || slot->dboid != dboid)
			continue;
		SpinLockAcquire(&slot->mutex);
		pid = slot->pid;
		SpinLockRelease(&slot->mutex);
		if (pid != 0)
			continue;
		t = palloc(sizeof(PgcCheckTarget));
		strlcpy(t->name, slot->name, NAMEDATALEN);
		t->owner = slot->owner;
		targets = lappend(targets, t);
	}
	LWLockRelease(pgc_shared->lock);

	foreach(lc, targets)
		pgc_check_guarded(dboid, lfirst(lc), cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
