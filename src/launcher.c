/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The pgconduit launcher, and the scans that reconcile a database's
 *	  pipeline workers with its catalog.
 *
 * The launcher is a static background worker connected to no database.
 * When asked (see shmem.c: a change to pgconduit.pipeline, DROP EXTENSION,
 * a worker that ended) and once after the server starts for every
 * database, it runs a short-lived scan worker in that database.  The scan
 * reads pgconduit.pipeline, if the extension is there, and starts a
 * dynamic pipeline worker (worker.c) for each enabled pipeline that has
 * none, and stops those whose pipeline was disabled or dropped.  Failed
 * workers are retried with backoff when retrying can help.  At most
 * pgconduit.max_pipelines workers run at once; a pipeline past that waits
 * (state waiting) and starts when a worker ends, which wakes the launcher.
 * Every pgconduit.slot_check_interval the launcher also runs a slot check
 * (check.c) in each database with a pipeline that has no worker, without
 * waiting for it.  The launcher sleeps on its latch in between.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pgconduit.h"
#include "pipeline.h"
#include "tables.h"

PGDLLEXPORT void pgconduit_launcher_main(Datum main_arg);
PGDLLEXPORT void pgconduit_scan_main(Datum main_arg);

/* the launcher's slot checks: the one running, and the databases queued */
static BackgroundWorkerHandle *pgc_check_handle = NULL;
static List *pgc_check_queue = NIL;
static TimestampTz pgc_next_check = 0;

/* A pipeline as a scan reads it from the catalog */
typedef struct PgcCatalogPipeline
{
	char		name[NAMEDATALEN];
	char		slot_name[NAMEDATALEN];
	bool		enabled;
	Oid			owner;
	bool		owner_can_login;
} PgcCatalogPipeline;

/* Fill w for one of pgconduit's workers: function, type (and name) */
static void
pgc_worker_init(BackgroundWorker *w, const char *function, const char *type)
{
	memset(w, 0, sizeof(*w));
	w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w->bgw_start_time = BgWorkerStart_RecoveryFinished;
	w->bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w->bgw_library_name, BGW_MAXLEN, "pgconduit");
	snprintf(w->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(w->bgw_name, BGW_MAXLEN, "%s", type);
	snprintf(w->bgw_type, BGW_MAXLEN, "%s", type);
}

/* Register the launcher; called from _PG_init when preloaded */
void
pgc_launcher_register(void)
{
	BackgroundWorker w;

	pgc_worker_init(&w, "pgconduit_launcher_main", "pgconduit launcher");
	w.bgw_restart_time = 5;
	RegisterBackgroundWorker(&w);
}

/* The databases that accept connections, read from pg_database */
static List *
pgc_database_list(void)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext cxt = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn)
			continue;
		old = MemoryContextSwitchTo(cxt);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

/*
 * Run a scan worker in database dboid and wait for it to end.  Returns
 * false if it could not be started (no free worker process).
 */
static bool
pgc_run_scan(Oid dboid)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;

	pgc_worker_init(&w, "pgconduit_scan_main", "pgconduit scan");
	snprintf(w.bgw_name, BGW_MAXLEN, "pgconduit scan of database %u", dboid);
	w.bgw_main_arg = ObjectIdGetDatum(dboid);
	w.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&w, &handle))
		return false;
	(void) WaitForBackgroundWorkerShutdown(handle);
	pfree(handle);
	return true;
}

/*
 * The databases the launcher should scan now: those asked for, those with
 * a pipeline whose worker ended and is due to start again, and those with
 * a pipeline waiting for a worker, while one is free.  Marks the slots of
 * workers that were stopped on purpose as stopped.  *timeout_ms is lowered
 * to the next retry that is not yet due.
 */
static List *
pgc_launcher_due(bool *all, long *timeout_ms)
{
	List	   *dbs = NIL;
	TimestampTz now = GetCurrentTimestamp();
	int			free_workers;

	LWLockAcquire(pgc_shared->lock, LW_EXCLUSIVE);
	*all = pgc_shared->rescan_all;
	pgc_shared->rescan_all = false;
	for (int i = 0; i < pgc_shared->nrescan; i++)
		dbs = list_append_unique_oid(dbs, pgc_shared->rescan[i]);
	pgc_shared->nrescan = 0;

	free_workers = pgc_shared->max_workers - pgc_running_workers();
	for (int i = 0; i < pgc_shared->nslots; i++)
	{
		PgcSlot    *slot = &pgc_shared->slots[i];
		bool		due = false;
		bool		changed = false;
		TimestampTz retry_at = 0;

		if (!slot->in_use)
			continue;
		SpinLockAcquire(&slot->mutex);
		/* a worker that never came up (in 10 s) */
		if (slot->pid == -1 && now - slot->launched_at >= 10 * USECS_PER_SEC)
		{
			slot->pid = 0;
			changed = true;
		}
		if (slot->pid == 0)
		{
			if (slot->stop_requested)
			{
				changed = changed || slot->state != PGC_STATE_STOPPED;
				slot->state = PGC_STATE_STOPPED;
			}
			else if (slot->state == PGC_STATE_DONE ||
					 (slot->state == PGC_STATE_FAILED && !slot->retry))
				 /* waits for start_pipeline */ ;
			else if (slot->state == PGC_STATE_WAITING)
				due = (free_workers-- > 0);
			else if (slot->retry_at <= now)
				due = true;
			else
				retry_at = slot->retry_at;
		}
		SpinLockRelease(&slot->mutex);
		if (changed)
			pgc_status_changed();
		if (retry_at != 0)
		{
			long		secs;
			int			usecs;

			TimestampDifference(now, retry_at, &secs, &usecs);
			*timeout_ms = Min(*timeout_ms, secs * 1000 + usecs / 1000 + 1);
		}
		if (due)
			dbs = list_append_unique_oid(dbs, slot->dboid);
	}
	LWLockRelease(pgc_shared->lock);
	return dbs;
}

/*
 * Every pgconduit.slot_check_interval, queue a slot check of each database
 * with a pipeline that has no worker; run the queued checks one at a time,
 * without waiting for them (a source that does not answer must not hold up
 * the launcher).  *timeout_ms is lowered to the next check.
 */
static void
pgc_launcher_checks(long *timeout_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	long		secs;
	int			usecs;

	if (now >= pgc_next_check)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		LWLockAcquire(pgc_shared->lock, LW_SHARED);
		for (int i = 0; i < pgc_shared->nslots; i++)
		{
			PgcSlot    *slot = &pgc_shared->slots[i];
			pid_t		pid;

			if (!slot->in_use)
				continue;
			SpinLockAcquire(&slot->mutex);
			pid = slot->pid;
			SpinLockRelease(&slot->mutex);
			if (pid == 0)
				pgc_check_queue = list_append_unique_oid(pgc_check_queue, slot->dboid);
		}
		LWLockRelease(pgc_shared->lock);
		MemoryContextSwitchTo(old);
		pgc_next_check = now + (int64) pgc_slot_check_interval * USECS_PER_SEC;
	}
	TimestampDifference(now, pgc_next_check, &secs, &usecs);
	*timeout_ms = Min(*timeout_ms, secs * 1000 + usecs / 1000 + 1);

	if (pgc_check_handle != NULL)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(pgc_check_handle, &pid) != BGWH_STOPPED)
			return;
		pfree(pgc_check_handle);
		pgc_check_handle = NULL;
	}
	while (pgc_check_queue != NIL && pgc_check_handle == NULL)
	{
		BackgroundWorker w;
		Oid			dboid = linitial_oid(pgc_check_queue);

		pgc_check_queue = list_delete_first(pgc_check_queue);
		pgc_worker_init(&w, "pgconduit_check_main", "pgconduit slot check");
		snprintf(w.bgw_name, BGW_MAXLEN, "pgconduit slot check of database %u", dboid);
		w.bgw_main_arg = ObjectIdGetDatum(dboid);
		w.bgw_notify_pid = MyProcPid;
		if (!RegisterDynamicBackgroundWorker(&w, &pgc_check_handle))
		{
			/* no worker process free: try at the next interval */
			pgc_check_handle = NULL;
			list_free(pgc_check_queue);
			pgc_check_queue = NIL;
		}
	}
}

/* Free the slots of pipelines whose database is gone */
static void
pgc_forget_databases(List *existing)
{
	LWLockAcquire(pgc_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < pgc_shared->nslots; i++)
	{
		PgcSlot    *slot = &pgc_shared->slots[i];

		if (slot->in_use && slot->pid == 0 &&
			!list_member_oid(existing, slot->dboid))
		{
			slot->in_use = false;
			pgc_table_status_release(i);
		}
	}
	LWLockRelease(pgc_shared->lock);
}

/* Launcher: scan every database once, then whenever asked */
void
pgconduit_launcher_main(Datum main_arg)
{
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	LWLockAcquire(pgc_shared->lock, LW_EXCLUSIVE);
	pgc_shared->launcher_pid = MyProcPid;
	pgc_shared->launcher_latch = MyLatch;
	pgc_shared->rescan_all = true;
	LWLockRelease(pgc_shared->lock);

	while (!ShutdownRequestPending)
	{
		bool		all;
		long		timeout_ms = 10000;
		List	   *dbs;
		ListCell   *lc;

		ResetLatch(MyLatch);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		dbs = pgc_launcher_due(&all, &timeout_ms);
		if (all || dbs != NIL)
		{
			List	   *existing = pgc_database_list();

			pgc_forget_databases(existing);
			if (all)
				dbs = list_concat_unique_oid(dbs, existing);
			else
			{
				List	   *keep = NIL;

				foreach(lc, dbs)
					if (list_member_oid(existing, lfirst_oid(lc)))
						keep = lappend_oid(keep, lfirst_oid(lc));
				dbs = keep;
			}
		}
		foreach(lc, dbs)
		{
			if (ShutdownRequestPending)
				break;
			if (!pgc_run_scan(lfirst_oid(lc)))
			{
				/* no worker process free: try again soon */
				pgc_request_rescan(lfirst_oid(lc));
				timeout_ms = Min(timeout_ms, 1000);
				break;
			}
		}
		/*
		 * Waiting for a scan resets the latch, which may have swallowed a
		 * request that came meanwhile: look again before sleeping.
		 */
		if (dbs != NIL)
			SetLatch(MyLatch);
		list_free(dbs);

		pgc_launcher_checks(&timeout_ms);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout_ms, PG_WAIT_EXTENSION);
		/* absorb ProcSignalBarriers, which DROP DATABASE waits for */
		CHECK_FOR_INTERRUPTS();
	}

	LWLockAcquire(pgc_shared->lock, LW_EXCLUSIVE);
	pgc_shared->launcher_pid = 0;
	pgc_shared->launcher_latch = NULL;
	LWLockRelease(pgc_shared->lock);
	proc_exit(0);
}

/* Start the worker of slot; caller holds pgc_shared->lock exclusively */
void
pgc_start_worker(PgcSlot *slot)
{
	BackgroundWorker w;
	int			index = slot - pgc_shared->slots;
	TimestampTz now = GetCurrentTimestamp();

	pgc_worker_init(&w, "pgconduit_worker_main", "pgconduit pipeline");
	snprintf(w.bgw_name, BGW_MAXLEN, "pgconduit pipeline %s", slot->name);
	snprintf(w.bgw_type, BGW_MAXLEN, "pgconduit pipeline %s", slot->name);
	w.bgw_main_arg = Int32GetDatum(index);
	w.bgw_notify_pid = pgc_shared->launcher_pid;

	SpinLockAcquire(&slot->mutex);
	slot->pid = -1;
	slot->launched_at = now;
	slot->stop_requested = false;
	if (slot->state != PGC_STATE_FAILED)
		slot->state = PGC_STATE_STARTING;
	SpinLockRelease(&slot->mutex);

	if (!RegisterDynamicBackgroundWorker(&w, NULL))
	{
		SpinLockAcquire(&slot->mutex);
		slot->pid = 0;
		SpinLockRelease(&slot->mutex);
		pgc_slot_fail(slot,
					  "could not start a background worker: max_worker_processes is too low",
					  true, NULL, NULL);
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the worker of pgconduit pipeline \"%s\"",
						slot->name),
				 errhint("Raise max_worker_processes.")));
	}
}

/* Read this database's pipelines (none without the extension) */
static List *
pgc_scan_catalog(void)
{
	List	   *result = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	char	   *version;

	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "reading pgconduit.pipeline");
	version = pgc_catalog_version();
	if (version != NULL && strcmp(version, PGC_CATALOG_VERSION) != 0)
	{
		/* its pipelines run once the catalog is updated (which rescans) */
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgconduit's catalog in database \"%s\" is version %s, but the pgconduit library is version %s",
						get_database_name(MyDatabaseId), version, PGC_CATALOG_VERSION),
				 errdetail("The pipelines of that database do not run until the catalog is updated."),
				 errhint("Run ALTER EXTENSION pgconduit UPDATE in database \"%s\".",
						 get_database_name(MyDatabaseId))));
	}
	else if (version != NULL)
	{
		if (SPI_execute("SELECT p.name, p.enabled, r.oid,"
						"       s.config OPERATOR(pg_catalog.->>) 'slot_name', r.rolcanlogin"
						"  FROM pgconduit.pipeline p"
						"  JOIN pgconduit.connector s ON s.name OPERATOR(pg_catalog.=) p.source"
						"  LEFT JOIN pg_catalog.pg_roles r"
						"    ON r.oid OPERATOR(pg_catalog.=) p.owner::pg_catalog.oid",
						true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read pgconduit.pipeline");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			PgcCatalogPipeline *p;
			bool		isnull;
			char	   *slot_name;
			char	   *name = SPI_getvalue(tup, desc, 1);

			/* cut short, it would match no slot: never start it */
			if (strlen(name) >= NAMEDATALEN)
			{
				ereport(WARNING,
						(errcode(ERRCODE_NAME_TOO_LONG),
						 errmsg("pgconduit pipeline \"%s\" cannot run: its name is longer than %d bytes",
								name, NAMEDATALEN - 1),
						 errhint("Drop the pipeline and create it again with a shorter name.")));
				continue;
			}
			p = MemoryContextAllocZero(cxt, sizeof(PgcCatalogPipeline));
			strlcpy(p->name, name, NAMEDATALEN);
			p->enabled = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
			p->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
			if (isnull)
				p->owner = InvalidOid;
			p->owner_can_login = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull)) && !isnull;
			slot_name = SPI_getvalue(tup, desc, 4);
			if (slot_name)
				strlcpy(p->slot_name, slot_name, NAMEDATALEN);
			result = lappend(result, p);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

/*
 * A free slot for a pipeline's status; for an enabled pipeline, if none is
 * free, the slot of a stopped pipeline, whose status is only history.
 * Caller holds pgc_shared->lock exclusively.
 */
static PgcSlot *
pgc_slot_claim(bool enabled)
{
	PgcSlot    *victim = NULL;

	for (int i = 0; i < pgc_shared->nslots; i++)
	{
		PgcSlot    *slot = &pgc_shared->slots[i];
		bool		stopped;

		if (!slot->in_use)
			return slot;
		if (!enabled || victim != NULL)
			continue;
		SpinLockAcquire(&slot->mutex);
		stopped = (slot->pid == 0 && slot->stop_requested);
		SpinLockRelease(&slot->mutex);
		if (stopped)
			victim = slot;
	}
	return victim;
}

/*
 * Scan worker: make the running workers of this database match its
 * enabled pipelines, and give every pipeline a status slot.
 */
void
pgconduit_scan_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	List	   *pipelines;
	ListCell   *lc;
	TimestampTz now;
	bool		warned = false;
	int			running;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	/* as a superuser, in a database whose owner may plant objects */
	SetConfigOption("search_path", "", PGC_SUSET, PGC_S_OVERRIDE);

	pipelines = pgc_scan_catalog();
	now = GetCurrentTimestamp();

	LWLockAcquire(pgc_shared->lock, LW_EXCLUSIVE);

	/* stop what is no longer wanted; forget what is gone */
	for (int i = 0; i < pgc_shared->nslots; i++)
	{
		PgcSlot    *slot = &pgc_shared->slots[i];
		PgcCatalogPipeline *found = NULL;
		pid_t		pid;

		if (!slot->in_use || slot->dboid != dboid)
			continue;
		foreach(lc, pipelines)
		{
			PgcCatalogPipeline *p = lfirst(lc);

			if (strcmp(p->name, slot->name) == 0)
				found = p;
		}
		if (found != NULL && found->enabled)
			continue;
		SpinLockAcquire(&slot->mutex);
		slot->stop_requested = true;
		pid = slot->pid;
		if (pid == 0)
			slot->state = PGC_STATE_STOPPED;
		SpinLockRelease(&slot->mutex);
		if (pid > 0)
			kill(pid, SIGTERM);
		else if (pid == 0 && found == NULL)
		{
			slot->in_use = false;
			pgc_table_status_release(slot - pgc_shared->slots);
		}
		pgc_status_changed();
	}

	/* a status slot for every pipeline; start the enabled ones */
	running = pgc_running_workers();
	foreach(lc, pipelines)
	{
		PgcCatalogPipeline *p = lfirst(lc);
		PgcSlot    *slot;
		bool		start;
		bool		waiting = false;

		slot = pgc_slot_find(dboid, p->name);
		if (slot == NULL)
		{
			slot = pgc_slot_claim(p->enabled);
			if (slot == NULL)
			{
				if (p->enabled && !warned)
					ereport(WARNING,
							(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
							 errmsg("pgconduit pipeline \"%s\" cannot start: all %d pipeline slots are in use by enabled pipelines",
									p->name, pgc_shared->nslots),
							 errhint("Stop or drop other pipelines, or raise pgconduit.max_pipelines and restart the server.")));
				warned = warned || p->enabled;
				continue;
			}
			/* a slot given to another pipeline shows none of the old tables */
			pgc_table_status_release(slot - pgc_shared->slots);
			SpinLockAcquire(&slot->mutex);
			memset((char *) slot + offsetof(PgcSlot, pid), 0,
				   sizeof(PgcSlot) - offsetof(PgcSlot, pid));
			slot->state = p->enabled ? PGC_STATE_STARTING : PGC_STATE_STOPPED;
			slot->stop_requested = !p->enabled;
			slot->retained_bytes = -1;
			SpinLockRelease(&slot->mutex);
			slot->in_use = true;
			slot->dboid = dboid;
			strlcpy(slot->name, p->name, NAMEDATALEN);
			/* wait_for_pipeline may wait for the slot to appear */
			pgc_status_changed();
		}
		strlcpy(slot->slot_name, p->slot_name, NAMEDATALEN);
		slot->owner = p->owner;
		if (!p->enabled)
			continue;

		SpinLockAcquire(&slot->mutex);
		start = (slot->pid == 0 &&
				 slot->state != PGC_STATE_DONE &&
				 !(slot->state == PGC_STATE_FAILED && !slot->retry) &&
				 slot->retry_at <= now);
		SpinLockRelease(&slot->mutex);
		if (start && !OidIsValid(p->owner))
		{
			pgc_slot_fail(slot,
						  psprintf("the owner of pipeline \"%s\" does not exist", p->name),
						  false, NULL, NULL);
			start = false;
		}
		else if (start && !p->owner_can_login)
		{
			/* the worker logs in as the owner, which would fail over and over */
			pgc_slot_fail(slot,
						  psprintf("the owner of pipeline \"%s\" is not permitted to log in\n"
								   "HINT: The pipeline's worker runs as its owner: grant the role LOGIN, then run pgconduit.start_pipeline('%s').",
								   p->name, p->name),
						  false, NULL, NULL);
			start = false;
		}
		else if (start && running >= pgc_shared->max_workers)
		{
			/* only running workers count; one ending wakes the launcher */
			SpinLockAcquire(&slot->mutex);
			slot->state = PGC_STATE_WAITING;
			SpinLockRelease(&slot->mutex);
			waiting = true;
			start = false;
		}
		if (waiting && !warned)
		{
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("pgconduit pipeline \"%s\" waits: all %d pipeline workers are running",
							p->name, pgc_shared->max_workers),
					 errhint("It starts when another pipeline's worker ends. Raise pgconduit.max_pipelines and restart the server to run more at once.")));
			warned = true;
		}
		if (start)
		{
			pgc_start_worker(slot);
			running++;
		}
	}
	LWLockRelease(pgc_shared->lock);
	proc_exit(0);
}
