/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared state of the pipelines: one slot per running pipeline, the
 *	  launcher's requests, and the hooks that keep both current.
 *
 * A slot (PgcSlot, see pipeline.h for the locking rules) holds a
 * pipeline's identity and status; pgconduit.status reads it.  Changes to
 * pgconduit.pipeline (a trigger), DROP EXTENSION and DROP DATABASE (an
 * object access hook) ask the launcher to rescan a database once the
 * transaction ends, and stop the workers a drop would otherwise wait for.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/slot.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "pgconduit.h"
#include "pipeline.h"
#include "tables.h"

PgcShared  *pgc_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

/* what this backend asks for when its transaction ends */
static bool pgc_xact_callback_registered = false;
static bool pgc_pending_rescan = false;
static List *pgc_pending_restarts = NIL;	/* pipeline names, in
											 * TopMemoryContext */
static List *pgc_pending_stops = NIL;	/* likewise */

PG_FUNCTION_INFO_V1(pgconduit_pipeline_trigger);
PG_FUNCTION_INFO_V1(pgconduit_status);
PG_FUNCTION_INFO_V1(pgconduit_stop_worker);

/* Size of the shared state */
static Size
pgc_shmem_size(void)
{
	return add_size(offsetof(PgcShared, slots),
					mul_size(sizeof(PgcSlot), PGC_NSLOTS(pgc_max_pipelines)));
}

/* shmem_request_hook: reserve the shared state and its lock */
static void
pgc_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(pgc_shmem_size());
	RequestNamedLWLockTranche("pgconduit", 1);
	RequestAddinShmemSpace(pgc_table_status_shmem_size());
	RequestNamedLWLockTranche("pgconduit tables", 1);
}

/* shmem_startup_hook: create or attach to the shared state */
static void
pgc_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgc_shared = ShmemInitStruct("pgconduit", pgc_shmem_size(), &found);
	if (!found)
	{
		memset(pgc_shared, 0, pgc_shmem_size());
		pgc_shared->lock = &(GetNamedLWLockTranche("pgconduit"))->lock;
		ConditionVariableInit(&pgc_shared->status_cv);
		pgc_shared->nslots = PGC_NSLOTS(pgc_max_pipelines);
		pgc_shared->max_workers = pgc_max_pipelines;
		for (int i = 0; i < pgc_shared->nslots; i++)
			SpinLockInit(&pgc_shared->slots[i].mutex);
	}
	pgc_table_status_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The slot of pipeline name in database dboid, or NULL.  Caller holds
 * pgc_shared->lock.
 */
PgcSlot *
pgc_slot_find(Oid dboid, const char *name)
{
	for (int i = 0; i < pgc_shared->nslots; i++)
	{
		PgcSlot    *slot = &pgc_shared->slots[i];

		if (slot->in_use && slot->dboid == dboid &&
			strcmp(slot->name, name) == 0)
			return slot;
	}
	return NULL;
}

/*
 * How many pipeline workers run or are being started, in all databases:
 * what pgconduit.max_pipelines bounds.  Caller holds pgc_shared->lock.
 */
int
pgc_running_workers(void)
{
	int			running = 0;

	for (int i = 0; i < pgc_shared->nslots; i++)
	{
		PgcSlot    *slot = &pgc_shared->slots[i];
		pid_t		pid;

		if (!slot->in_use)
			continue;
		SpinLockAcquire(&slot->mutex);
		pid = slot->pid;
		SpinLockRelease(&slot->mutex);
		if (pid != 0)
			running++;
	}
	return running;
}

/* Ask the launcher to reconcile database dboid's workers with its catalog */
void
pgc_request_rescan(Oid dboid)
{
	bool		queued = false;

	if (pgc_shared == NULL)
		return;
	LWLockAcquire(pgc_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < pgc_shared->nrescan; i++)
		if (pgc_shared->rescan[i] == dboid)
			queued = true;
	if (!queued)
	{
		if (pgc_shared->nrescan < PGC_MAX_RESCAN)
			pgc_shared->rescan[pgc_shared->nrescan++] = dboid;
		else
			pgc_shared->rescan_all = true;
	}
	if (pgc_shared->launcher_latch)
		SetLatch(pgc_shared->launcher_latch);
	LWLockRelease(pgc_shared->lock);
}

/*
 * At the end of the transaction: signal the workers of pipelines that were
 * stopped or dropped, at once, so that a start that follows cannot find
 * the old worker still running with the old configuration; then clear the
 * failure of pipelines that start_pipeline() (re)enabled, so they start at
 * once, and wake the launcher.  A pipeline both stopped and started gets a
 * new worker.  On abort the rescan still happens: a worker that a rolled
 * back drop stopped is started again.
 */
static void
pgc_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	if (event == XACT_EVENT_COMMIT && pgc_shared != NULL)
	{
		foreach(lc, pgc_pending_stops)
			pgc_stop_workers(MyDatabaseId, lfirst(lc), false, true);
		LWLockAcquire(pgc_shared->lock, LW_SHARED);
		foreach(lc, pgc_pending_restarts)
		{
			PgcSlot    *slot = pgc_slot_find(MyDatabaseId, lfirst(lc));

			if (slot == NULL)
				continue;
			SpinLockAcquire(&slot->mutex);
			if (slot->state == PGC_STATE_FAILED || slot->state == PGC_STATE_STOPPED)
				slot->state = PGC_STATE_STARTING;
			slot->retry = true;
			slot->retry_at = 0;
			slot->failures = 0;
			slot->stop_requested = false;
			SpinLockRelease(&slot->mutex);
		}
		LWLockRelease(pgc_shared->lock);
	}
	list_free_deep(pgc_pending_restarts);
	pgc_pending_restarts = NIL;
	list_free_deep(pgc_pending_stops);
	pgc_pending_stops = NIL;
	if (pgc_pending_rescan)
		pgc_request_rescan(MyDatabaseId);
	pgc_pending_rescan = false;
}

/* Rescan this database when the current transaction ends */
void
pgc_rescan_at_commit(void)
{
	if (!pgc_xact_callback_registered)
	{
		RegisterXactCallback(pgc_xact_callback, NULL);
		pgc_xact_callback_registered = true;
	}
	pgc_pending_rescan = true;
}

/* Start pipeline name at once, failed or not, if the transaction commits */
void
pgc_restart_at_commit(const char *name)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	pgc_pending_restarts = lappend(pgc_pending_restarts, pstrdup(name));
	MemoryContextSwitchTo(old);
	pgc_rescan_at_commit();
}

/* Stop pipeline name's worker at once if the transaction commits */
void
pgc_stop_at_commit(const char *name)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	pgc_pending_stops = lappend(pgc_pending_stops, pstrdup(name));
	MemoryContextSwitchTo(old);
	pgc_rescan_at_commit();
}

/*
 * Wake every backend waiting for a slot to change: the caller changed a
 * slot's worker, state, phase or marker_lsn, and released its mutex.
 */
void
pgc_status_changed(void)
{
	if (pgc_shared != NULL)
		ConditionVariableBroadcast(&pgc_shared->status_cv);
}

/*
 * Sleep until a slot changes or deadline passes; false once it has passed.
 * The caller has called ConditionVariablePrepareToSleep() on status_cv
 * before checking what it waits for, so that no change is missed, and calls
 * ConditionVariableCancelSleep() when done.  Interrupts (a cancel,
 * statement_timeout, a terminate) are served while sleeping.
 */
bool
pgc_status_sleep(TimestampTz deadline, const char *wait_event)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		ms;

	if (now >= deadline)
		return false;
	/* a WaitLatch timeout is an int of milliseconds */
	ms = Min((deadline - now + 999) / 1000, (int64) PG_INT32_MAX);
	(void) ConditionVariableTimedSleep(&pgc_shared->status_cv, (long) ms,
									   pgc_wait_event(wait_event));
	return true;
}

/*
 * Signal the workers of database dboid (only pipeline name's, if given) to
 * stop; with wait, wait until they are gone, woken as each one exits.
 * With mark_stop, the launcher does not start them again until the catalog
 * says so; without, it does after the usual pause.
 */
void
pgc_stop_workers(Oid dboid, const char *name, bool wait, bool mark_stop)
{
	TimestampTz deadline = GetCurrentTimestamp() + 30 * USECS_PER_SEC;
	List	   *signalled = NIL;

	if (pgc_shared == NULL)
		return;
	if (wait)
		ConditionVariablePrepareToSleep(&pgc_shared->status_cv);
	for (;;)
	{
		bool		running = false;
		List	   *pids = NIL;
		ListCell   *lc;

		LWLockAcquire(pgc_shared->lock, LW_SHARED);
		for (int i = 0; i < pgc_shared->nslots; i++)
		{
			PgcSlot    *slot = &pgc_shared->slots[i];
			pid_t		pid;

			if (!slot->in_use || slot->dboid != dboid ||
				(name != NULL && strcmp(slot->name, name) != 0))
				continue;
			SpinLockAcquire(&slot->mutex);
			if (mark_stop)
				slot->stop_requested = true;
			pid = slot->pid;
			SpinLockRelease(&slot->mutex);
			/* one being started is signalled once it has come up */
			if (pid != 0)
				running = true;
			if (pid > 0 && !list_member_int(signalled, pid))
				pids = lappend_int(pids, pid);
		}
		LWLockRelease(pgc_shared->lock);
		foreach(lc, pids)
		{
			kill(lfirst_int(lc), SIGTERM);
			signalled = lappend_int(signalled, lfirst_int(lc));
		}
		list_free(pids);
		if (!wait || !running)
			break;
		if (!pgc_status_sleep(deadline, "PgconduitStopWorker"))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("pipeline worker did not stop within 30 seconds")));
	}
	if (wait)
		ConditionVariableCancelSleep();
	list_free(signalled);
}

/*
 * Record a failure of slot's pipeline, for pgconduit.status and the
 * launcher: state failed, message as its last error (clipped to a whole
 * character), the time, the position and table of the record at fault if
 * known (else left as they are), and whether retrying can help and when
 * (exponential backoff, 1 s doubling to 60 s).  The one place a failure is
 * recorded; values are computed before the mutex is taken.
 */
void
pgc_slot_fail(PgcSlot *slot, const char *message, bool retry,
			  const char *position, const char *table)
{
	TimestampTz now = GetCurrentTimestamp();
	char		text[PGC_ERROR_LEN];
	char		pos[PGC_POSITION_LEN + 1];
	char		tab[sizeof(slot->error_table)];
	int			len;
	int			failures;
	int			delay;

	len = pg_mbcliplen(message, strlen(message), PGC_ERROR_LEN - 1);
	memcpy(text, message, len);
	text[len] = '\0';
	if (position != NULL)
		strlcpy(pos, position, sizeof(pos));
	if (table != NULL)
		strlcpy(tab, table, sizeof(tab));

	SpinLockAcquire(&slot->mutex);
	failures = slot->failures;
	SpinLockRelease(&slot->mutex);
	delay = 1 << Min(failures, 6);

	SpinLockAcquire(&slot->mutex);
	slot->state = PGC_STATE_FAILED;
	slot->retry = retry;
	slot->errors++;
	slot->failures = failures + 1;
	slot->retry_at = now + (int64) Min(delay, 60) * USECS_PER_SEC;
	slot->last_error_at = now;
	memcpy(slot->last_error, text, len + 1);
	if (position != NULL)
		memcpy(slot->error_position, pos, sizeof(pos));
	if (table != NULL)
		memcpy(slot->error_table, tab, sizeof(tab));
	SpinLockRelease(&slot->mutex);
	pgc_status_changed();
}

/*
 * Record a measurement of a pipeline's replication slot on its source: the
 * source's flushed WAL, the slot's restart_lsn (invalid if the slot is
 * missing) and confirmed_flush_lsn (invalid if unknown).  The WAL the slot
 * holds is flush - restart_lsn.  Warn in the server log when that passes
 * pgconduit.max_retained_wal, and again each time it has doubled since.
 */
void
pgc_slot_note_retained(PgcSlot *slot, const char *name, XLogRecPtr flush,
					   XLogRecPtr restart, XLogRecPtr confirmed)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		limit = (int64) pgc_max_retained_wal * 1024 * 1024;
	int64		retained = -1;
	bool		warn = false;
	char		slot_name[NAMEDATALEN];

	if (restart != InvalidXLogRecPtr)
		retained = flush > restart ? (int64) (flush - restart) : 0;

	SpinLockAcquire(&slot->mutex);
	slot->source_lsn = Max(slot->source_lsn, flush);
	slot->source_lsn_at = now;
	slot->marker_lsn = Max(slot->marker_lsn, confirmed);
	if (slot->marker_lsn >= flush)
		slot->caught_up_at = now;
	slot->retained_bytes = retained;
	if (pgc_max_retained_wal >= 0 && retained > limit)
	{
		if (slot->retained_warned == 0 || retained >= 2 * slot->retained_warned)
		{
			slot->retained_warned = retained;
			warn = true;
		}
	}
	else
		slot->retained_warned = 0;
	SpinLockRelease(&slot->mutex);

	if (!warn)
		return;
	strlcpy(slot_name, slot->slot_name, NAMEDATALEN);
	ereport(WARNING,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("replication slot \"%s\" of pgconduit pipeline \"%s\" retains %s of WAL on its source",
					slot_name, name,
					text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty,
																	   Int64GetDatum(retained))))),
			 errdetail("The source keeps its WAL from the slot's restart_lsn on; pgconduit.max_retained_wal is %d MB.",
					   pgc_max_retained_wal),
			 errhint("Start the pipeline so that it catches up, or drop it with pgconduit.drop_pipeline() to release the WAL.")));
}

/*
 * Wait (at most 10 seconds) until no process uses a replication slot of
 * database dboid: the walsenders of stopped workers are going away.  Each
 * slot's active_cv wakes us as its user lets go, as it does the backends
 * that wait to drop a slot.
 */
static void
pgc_wait_db_slots_inactive(Oid dboid)
{
	TimestampTz deadline = GetCurrentTimestamp() + 10 * USECS_PER_SEC;

	for (;;)
	{
		ReplicationSlot *busy = NULL;
		pid_t		pid = 0;

		LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
		for (int i = 0; i < max_replication_slots && busy == NULL; i++)
		{
			ReplicationSlot *s = &ReplicationSlotCtl->replication_slots[i];

			if (!s->in_use)
				continue;
			SpinLockAcquire(&s->mutex);
			if (s->data.database == dboid && s->active_pid != 0)
				busy = s;
			SpinLockRelease(&s->mutex);
		}
		LWLockRelease(ReplicationSlotControlLock);
		if (busy == NULL)
			break;

		/* sleep unless it let go between the look and the sleep */
		ConditionVariablePrepareToSleep(&busy->active_cv);
		SpinLockAcquire(&busy->mutex);
		if (busy->in_use && busy->data.database == dboid)
			pid = busy->active_pid;
		SpinLockRelease(&busy->mutex);
		if (pid != 0)
		{
			TimestampTz now = GetCurrentTimestamp();

			if (now >= deadline)
				break;
			(void) ConditionVariableTimedSleep(&busy->active_cv,
											   (long) ((deadline - now + 999) / 1000),
											   WAIT_EVENT_REPLICATION_SLOT_DROP);
		}
		ConditionVariableCancelSleep();
	}
	ConditionVariableCancelSleep();
}

/*
 * object_access_hook: before DROP DATABASE counts the sessions in the
 * database, and while DROP EXTENSION pgconduit runs, stop the workers it
 * would otherwise wait for or leave behind; a rescan at the end of the
 * transaction starts them again if the drop rolled back.
 */
static void
pgc_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				  int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access != OAT_DROP || pgc_shared == NULL)
		return;
	if (classId == DatabaseRelationId)
	{
		/*
		 * DROP DATABASE refuses a database with sessions or active logical
		 * slots: stop the workers connected to it and wait until their
		 * walsenders let go of its slots.  If the drop fails, the launcher
		 * starts them again.
		 */
		pgc_stop_workers(objectId, NULL, true, false);
		pgc_wait_db_slots_inactive(objectId);
	}
	else if (classId == ExtensionRelationId &&
			 objectId == get_extension_oid("pgconduit", true))
	{
		pgc_stop_workers(MyDatabaseId, NULL, false, true);
		pgc_rescan_at_commit();
	}
}

/* Install the hooks; called from _PG_init when preloaded */
void
pgc_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgc_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgc_shmem_startup;
	prev_object_access_hook = object_access_hook;
	object_access_hook = pgc_object_access;
}

/*
 * Trigger on pgconduit.pipeline: any change (by the SQL API, a restore, or
 * by hand) makes the launcher reconcile this database's workers when the
 * transaction ends; enabling a pipeline also clears its failure.
 */
/*
 * Before a pipeline row is inserted other than by the API, as by a
 * restored dump: make it stopped.  A dump restored into a second database
 * would otherwise run a second copy of the pipeline, with the same slot
 * and destination as the first, whose snapshot would bring older rows
 * back over newer ones.  pg_dump restores subscriptions disabled for the
 * same reason.
 */
static HeapTuple
pgc_pipeline_restored(TriggerData *trigdata)
{
	HeapTuple	tuple = trigdata->tg_trigtuple;
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	int			attnum = SPI_fnumber(desc, "enabled");
	Datum		enabled;
	bool		isnull;
	Datum		stopped = BoolGetDatum(false);
	bool		notnull = false;
	char	   *name;

	if (pgc_api_writing || !TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		attnum <= 0)
		return tuple;
	enabled = heap_getattr(tuple, attnum, desc, &isnull);
	if (isnull || !DatumGetBool(enabled))
		return tuple;

	name = SPI_getvalue(tuple, desc, SPI_fnumber(desc, "name"));
	ereport(WARNING,
			(errmsg("pipeline \"%s\" is stored stopped", name),
			 errdetail("A pipeline written into pgconduit.pipeline other than by pgconduit's functions, as by a restored dump, does not start by itself, as restored subscriptions do not."),
			 errhint("Run pgconduit.start_pipeline(%s) once no other copy of the pipeline runs against its source and destination.",
					 quote_literal_cstr(name))));
	return heap_modify_tuple_by_cols(tuple, desc, 1, &attnum, &stopped, &notnull);
}

Datum
pgconduit_pipeline_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "pgconduit._pipeline_trigger() must be called as a trigger");
	if (TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		return PointerGetDatum(pgc_pipeline_restored(trigdata));
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	if (pgc_shared != NULL)
	{
		TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
		bool		isnull;
		Datum		enabled;

		enabled = heap_getattr(tuple, SPI_fnumber(desc, "enabled"), desc, &isnull);
		if (!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) && !isnull &&
			DatumGetBool(enabled))
			pgc_restart_at_commit(SPI_getvalue(tuple, desc, SPI_fnumber(desc, "name")));
		else if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
			pgc_stop_at_commit(SPI_getvalue(trigdata->tg_trigtuple, desc,
											SPI_fnumber(desc, "name")));
		else
			pgc_rescan_at_commit();
	}
	return PointerGetDatum(tuple);
}

/* Text of a state and a phase, as pgconduit.status shows them */
static const char *
pgc_state_name(PgcState state)
{
	switch (state)
	{
		case PGC_STATE_STARTING:
			return "starting";
		case PGC_STATE_RUNNING:
			return "running";
		case PGC_STATE_FAILED:
			return "failed";
		case PGC_STATE_DONE:
			return "done";
		case PGC_STATE_STOPPED:
			return "stopped";
		case PGC_STATE_WAITING:
			return "waiting";
	}
	return "unknown";
}

static const char *
pgc_phase_name(PgcPhase phase)
{
	switch (phase)
	{
		case PGC_PHASE_CONNECT:
			return "connect";
		case PGC_PHASE_SNAPSHOT:
			return "snapshot";
		case PGC_PHASE_CDC:
			return "cdc";
		case PGC_PHASE_DONE:
			return "done";
	}
	return "unknown";
}

/*
 * How far slot c is behind its source: *lag_bytes from what it has applied
 * to the source's flushed WAL, and *lag_seconds, the age of the oldest
 * source commit not applied -- of the oldest one read, or while none is
 * read yet, the time since the pipeline was last caught up (an upper
 * bound).  False when unknown: no position measured yet.
 */
static bool
pgc_slot_lag(PgcSlot *c, TimestampTz now, int64 *lag_bytes,
			 double *lag_seconds, bool *seconds_null)
{
	TimestampTz since = 0;

	if (c->source_lsn == InvalidXLogRecPtr || c->marker_lsn == InvalidXLogRecPtr)
		return false;
	*lag_bytes = c->source_lsn > c->marker_lsn ? (int64) (c->source_lsn - c->marker_lsn) : 0;
	*lag_seconds = 0;
	*seconds_null = false;
	if (*lag_bytes == 0)
		return true;
	if (c->unapplied_commit_time != 0)
		since = c->unapplied_commit_time;
	else if (c->caught_up_at != 0)
		since = c->caught_up_at;
	if (since == 0)
		*seconds_null = true;
	else
		*lag_seconds = Max(now - since, 0) / (double) USECS_PER_SEC;
	return true;
}

/*
 * SQL: pgconduit._status(): the shared status of this database's pipeline
 * slots; the view pgconduit.status joins it with the catalog.
 */
Datum
pgconduit_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);
	if (pgc_shared == NULL)
		PG_RETURN_VOID();

	LWLockAcquire(pgc_shared->lock, LW_SHARED);
	for (int i = 0; i < pgc_shared->nslots; i++)
	{
		PgcSlot    *s = &pgc_shared->slots[i];
		PgcSlot		c;
		Datum		v[24];
		bool		n[24];
		int			k = 0;
		int64		lag_bytes = 0;
		double		lag_seconds = 0;
		bool		seconds_null = true;
		bool		lag_known;

		if (!s->in_use || s->dboid != MyDatabaseId)
			continue;
		SpinLockAcquire(&s->mutex);
		memcpy(&c, s, sizeof(PgcSlot));
		SpinLockRelease(&s->mutex);
		lag_known = pgc_slot_lag(&c, now, &lag_bytes, &lag_seconds, &seconds_null);

		memset(n, 0, sizeof(n));
		v[k++] = CStringGetTextDatum(c.name);
		v[k++] = CStringGetTextDatum(pgc_state_name(c.state));
		v[k++] = CStringGetTextDatum(pgc_phase_name(c.phase));
		v[k++] = Int64GetDatum(c.snapshot_done);
		v[k++] = Int64GetDatum(c.snapshot_total);
		n[k] = (c.received_position[0] == '\0');
		v[k++] = CStringGetTextDatum(c.received_position);
		n[k] = (c.applied_position[0] == '\0');
		v[k++] = CStringGetTextDatum(c.applied_position);
		n[k] = (c.received_lsn == InvalidXLogRecPtr);
		v[k++] = LSNGetDatum(c.received_lsn);
		n[k] = (c.applied_lsn == InvalidXLogRecPtr);
		v[k++] = LSNGetDatum(c.applied_lsn);
		n[k] = (c.source_lsn == InvalidXLogRecPtr);
		v[k++] = LSNGetDatum(c.source_lsn);
		n[k] = !lag_known;
		v[k++] = Int64GetDatum(lag_bytes);
		n[k] = !lag_known || seconds_null;
		v[k++] = Float8GetDatum(lag_seconds);
		n[k] = (c.retained_bytes < 0 || c.source_lsn_at == 0);
		v[k++] = Int64GetDatum(c.retained_bytes);
		v[k++] = Int64GetDatum(c.records_read);
		v[k++] = Int64GetDatum(c.records_written);
		v[k++] = Int64GetDatum(c.errors);
		v[k++] = Int64GetDatum(c.dead_letters);
		n[k] = (c.last_error[0] == '\0');
		v[k++] = CStringGetTextDatum(c.last_error);
		n[k] = (c.last_error_at == 0);
		v[k++] = TimestampTzGetDatum(c.last_error_at);
		n[k] = (c.error_position[0] == '\0');
		v[k++] = CStringGetTextDatum(c.error_position);
		n[k] = (c.error_table[0] == '\0');
		v[k++] = CStringGetTextDatum(c.error_table);
		n[k] = (c.pid <= 0);
		v[k++] = Int32GetDatum(c.pid);
		v[k++] = CStringGetTextDatum(c.slot_name);
		n[k] = (c.started_at == 0);
		v[k++] = TimestampTzGetDatum(c.started_at);
		Assert(k == 24);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	LWLockRelease(pgc_shared->lock);
	PG_RETURN_VOID();
}

/* SQL: pgconduit._stop_worker(name): stop a pipeline's worker and wait */
Datum
pgconduit_stop_worker(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));

	pgc_check_admin();
	/* the worker is stopped now, not at commit: drop_pipeline's first step */
	pgc_prevent_drop_in_block();
	pgc_stop_workers(MyDatabaseId, name, true, true);
	PG_RETURN_VOID();
}
