/*-------------------------------------------------------------------------
 *
 * table_status.c
 *	  The status of each table of each pipeline, in shared memory:
 *	  pgconduit.status_tables.
 *
 * A fixed-size shared hash, sized by pgconduit.max_tables, holds one entry
 * per (pipeline slot, source table OID).  A worker registers its tables
 * when it starts (which also forgets tables its pipeline no longer has),
 * and then alone writes their entries: state, snapshot progress, rows
 * written.  An entry lives as long as its pipeline's slot: the launcher
 * forgets a slot's tables when it frees or reuses the slot.  When the hash
 * is full, the worker logs a WARNING once and goes on; status_tables then
 * lacks the tables it could not register.
 *
 * Locking: PgcTableStatusShared->lock (an LWLock) guards which entries
 * exist; it is taken after pgc_shared->lock when both are held.  Each
 * entry's mutex (a spinlock) guards its counters, written by the slot's
 * worker through the pointer it keeps in PgcTable.status, and copied by
 * readers.  An entry is removed only by its worker or while its slot has
 * no worker, so the pointer stays valid while the worker runs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "pgconduit.h"
#include "pipeline.h"
#include "worker.h"

int			pgc_max_tables = 1024;

/* The hash key: a table of the pipeline in a slot */
typedef struct PgcTableStatusKey
{
	int32		slotno;			/* index in pgc_shared->slots */
	Oid			relid;			/* the table's OID on the source */
} PgcTableStatusKey;

/* A table's status; names as the pipeline knows them */
struct PgcTableStatus
{
	PgcTableStatusKey key;		/* first: the hash's key */
	slock_t		mutex;
	/* under mutex */
	char		table[4 * NAMEDATALEN + 8];	/* schema.table, quoted */
	PgcTableState state;
	int64		snapshot_done;
	int64		snapshot_total;
	int64		rows_written;
	TimestampTz last_applied_at;	/* 0 if never */
};

typedef struct PgcTableStatusShared
{
	LWLock	   *lock;
} PgcTableStatusShared;

static PgcTableStatusShared *pgc_tstat = NULL;
static HTAB *pgc_tstat_hash = NULL;

/* whether this worker has warned that the hash is full */
static bool pgc_tstat_warned = false;

PG_FUNCTION_INFO_V1(pgconduit_status_tables);

/* Shared memory the table status needs: for pgc_shmem_request() */
Size
pgc_table_status_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(PgcTableStatusShared)),
					hash_estimate_size(pgc_max_tables, sizeof(PgcTableStatus)));
}

/* Create or attach to the table status; caller holds AddinShmemInitLock */
void
pgc_table_status_shmem_init(void)
{
	bool		found;
	HASHCTL		info;

	pgc_tstat = ShmemInitStruct("pgconduit tables", sizeof(PgcTableStatusShared),
								&found);
	if (!found)
		pgc_tstat->lock = &(GetNamedLWLockTranche("pgconduit tables"))->lock;
	info.keysize = sizeof(PgcTableStatusKey);
	info.entrysize = sizeof(PgcTableStatus);
	pgc_tstat_hash = ShmemInitHash("pgconduit table status",
								   pgc_max_tables, pgc_max_tables,
								   &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* The index of the worker's slot */
static int32
pgc_table_status_slotno(PgcWorker *w)
{
	return (int32) (w->slot - pgc_shared->slots);
}

/*
 * Register table t of worker w: find or make its entry (kept, with its
 * counts, from an earlier run of the pipeline), name it and set its state.
 * When the hash is full, warn once and leave t without status.
 */
void
pgc_table_status_register(PgcWorker *w, PgcTable *t)
{
	PgcTableStatusKey key;
	PgcTableStatus *e;
	bool		found;

	t->status = NULL;
	if (pgc_tstat_hash == NULL)
		return;
	memset(&key, 0, sizeof(key));
	key.slotno = pgc_table_status_slotno(w);
	key.relid = t->relid;
	LWLockAcquire(pgc_tstat->lock, LW_EXCLUSIVE);
	e = hash_search(pgc_tstat_hash, &key, HASH_ENTER_NULL, &found);
	if (e != NULL && !found)
	{
		SpinLockInit(&e->mutex);
		e->snapshot_done = 0;
		e->snapshot_total = 0;
		e->rows_written = 0;
		e->last_applied_at = 0;
	}
	if (e != NULL)
	{
		SpinLockAcquire(&e->mutex);
		strlcpy(e->table, t->target, sizeof(e->table));
		e->state = t->state;
		SpinLockRelease(&e->mutex);
	}
	LWLockRelease(pgc_tstat->lock);

	if (e == NULL)
	{
		if (!pgc_tstat_warned)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("pipeline \"%s\" cannot show table %s in pgconduit.status_tables: all %d entries are in use",
							w->name, t->qualified, pgc_max_tables),
					 errdetail("The pipeline replicates the table all the same."),
					 errhint("Raise pgconduit.max_tables and restart the server.")));
		pgc_tstat_warned = true;
		return;
	}
	t->status = e;
}

/*
 * Forget the entries of worker w's slot whose table is not in w->tables:
 * tables an earlier run of the pipeline had.  Called once the worker has
 * registered its tables.
 */
void
pgc_table_status_forget_others(PgcWorker *w)
{
	HASH_SEQ_STATUS scan;
	PgcTableStatus *e;
	int32		slotno = pgc_table_status_slotno(w);

	if (pgc_tstat_hash == NULL)
		return;
	LWLockAcquire(pgc_tstat->lock, LW_EXCLUSIVE);
	hash_seq_init(&scan, pgc_tstat_hash);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		ListCell   *lc;
		bool		keep = false;

		if (e->key.slotno != slotno)
			continue;
		foreach(lc, w->tables)
			if (((PgcTable *) lfirst(lc))->status == e)
				keep = true;
		if (!keep)
			hash_search(pgc_tstat_hash, &e->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(pgc_tstat->lock);
}

/*
 * Forget every table of slot slotno: its pipeline is gone, or the slot is
 * given to another pipeline.  Its worker, if any, has exited.
 */
void
pgc_table_status_release(int slotno)
{
	HASH_SEQ_STATUS scan;
	PgcTableStatus *e;

	if (pgc_tstat_hash == NULL)
		return;
	LWLockAcquire(pgc_tstat->lock, LW_EXCLUSIVE);
	hash_seq_init(&scan, pgc_tstat_hash);
	while ((e = hash_seq_search(&scan)) != NULL)
		if (e->key.slotno == slotno)
			hash_search(pgc_tstat_hash, &e->key, HASH_REMOVE, NULL);
	LWLockRelease(pgc_tstat->lock);
}

/* Set table t's state, as the worker and status_tables see it */
void
pgc_table_set_state(PgcTable *t, PgcTableState state)
{
	t->state = state;
	if (t->status == NULL)
		return;
	SpinLockAcquire(&t->status->mutex);
	t->status->state = state;
	SpinLockRelease(&t->status->mutex);
}

/*
 * Show table t's snapshot progress: rows read and sent so far (done) and
 * the estimated total; total < 0 keeps the total.
 */
void
pgc_table_status_snapshot(PgcTable *t, int64 done, int64 total)
{
	if (t->status == NULL)
		return;
	SpinLockAcquire(&t->status->mutex);
	t->status->snapshot_done = done;
	if (total >= 0)
		t->status->snapshot_total = total;
	SpinLockRelease(&t->status->mutex);
}

/*
 * Count rows of table t that the destination has applied: a committed
 * snapshot's rows, or the records of an acknowledged batch.
 */
void
pgc_table_status_written(PgcTable *t, int64 rows)
{
	TimestampTz now;

	t->rows_written += rows;
	if (t->status == NULL || rows <= 0)
		return;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&t->status->mutex);
	t->status->rows_written += rows;
	t->status->last_applied_at = now;
	SpinLockRelease(&t->status->mutex);
}

/* The name status_tables shows for a state */
static const char *
pgc_table_state_name(PgcTableState state)
{
	switch (state)
	{
		case PGC_TABLE_SNAPSHOT:
			return "snapshot";
		case PGC_TABLE_STREAMING:
			return "streaming";
		case PGC_TABLE_SKIPPED:
			return "skipped";
		case PGC_TABLE_DROPPED:
			return "dropped";
	}
	return "unknown";
}

/*
 * SQL: pgconduit._status_tables(): one row per table of each pipeline of
 * this database that has a status slot.  The view pgconduit.status_tables
 * shows the caller the rows of the pipelines it may see.
 */
Datum
pgconduit_status_tables(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS scan;
	PgcTableStatus *e;

	InitMaterializedSRF(fcinfo, 0);
	if (pgc_shared == NULL || pgc_tstat_hash == NULL)
		PG_RETURN_VOID();

	LWLockAcquire(pgc_shared->lock, LW_SHARED);
	LWLockAcquire(pgc_tstat->lock, LW_SHARED);
	hash_seq_init(&scan, pgc_tstat_hash);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		PgcSlot    *slot;
		PgcTableStatus c;
		Datum		v[8];
		bool		n[8];

		if (e->key.slotno < 0 || e->key.slotno >= pgc_shared->nslots)
			continue;
		slot = &pgc_shared->slots[e->key.slotno];
		if (!slot->in_use || slot->dboid != MyDatabaseId)
			continue;
		SpinLockAcquire(&e->mutex);
		memcpy(&c, e, sizeof(c));
		SpinLockRelease(&e->mutex);

		memset(n, 0, sizeof(n));
		v[0] = CStringGetTextDatum(slot->name);
		v[1] = ObjectIdGetDatum(c.key.relid);
		v[2] = CStringGetTextDatum(c.table);
		v[3] = CStringGetTextDatum(pgc_table_state_name(c.state));
		v[4] = Int64GetDatum(c.snapshot_done);
		v[5] = Int64GetDatum(c.snapshot_total);
		v[6] = Int64GetDatum(c.rows_written);
		v[7] = TimestampTzGetDatum(c.last_applied_at);
		n[7] = (c.last_applied_at == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	LWLockRelease(pgc_tstat->lock);
	LWLockRelease(pgc_shared->lock);
	PG_RETURN_VOID();
}
