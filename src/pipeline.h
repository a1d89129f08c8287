/*-------------------------------------------------------------------------
 *
 * pipeline.h
 *	  Pipelines at run time: the shared-memory slot of each running
 *	  pipeline, the launcher, the worker and its source and destination.
 *
 * Locking: PgcShared->lock (an LWLock) guards which slots are in use and
 * for which pipeline, and the launcher's request fields.  Each slot's
 * mutex (a spinlock) guards its status fields, which only the slot's
 * worker writes while it runs (the slot check, check.c, while none runs);
 * readers copy them under the mutex.  Nothing but assignments and copies
 * happens under a mutex: values are computed and texts formatted before.
 *
 * Waiting for a slot to change (wait_for_pipeline, stopping a worker)
 * sleeps on PgcShared->status_cv, which is broadcast, after the mutex is
 * released, whenever a slot's worker comes or goes, its state or phase
 * changes, its marker_lsn advances, or the slot is given to a pipeline.
 *
 * There are more slots than pgconduit.max_pipelines: a slot also keeps the
 * status of a pipeline that is stopped, failed or done, so that its last
 * error and the WAL its replication slot holds stay visible.  Only slots
 * with a worker (pid != 0) count against pgconduit.max_pipelines.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_PIPELINE_H
#define PGC_PIPELINE_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"

#include "config.h"
#include "protocol.h"

#define PGC_ERROR_LEN		1024
#define PGC_MAX_RESCAN		64

/* status slots: every running pipeline, and room for the others */
#define PGC_NSLOTS(max_pipelines)	((max_pipelines) * 4 + 32)

typedef enum PgcState
{
	PGC_STATE_STARTING,
	PGC_STATE_RUNNING,
	PGC_STATE_FAILED,
	PGC_STATE_DONE,
	PGC_STATE_STOPPED,
	PGC_STATE_WAITING			/* enabled; every worker is busy */
} PgcState;

typedef enum PgcPhase
{
	PGC_PHASE_CONNECT,
	PGC_PHASE_SNAPSHOT,
	PGC_PHASE_CDC,
	PGC_PHASE_DONE
} PgcPhase;

/* One running (or failed) pipeline */
typedef struct PgcSlot
{
	/* identity: set and cleared under PgcShared->lock */
	bool		in_use;
	Oid			dboid;
	Oid			owner;
	char		name[NAMEDATALEN];
	char		slot_name[NAMEDATALEN];

	/* status: under mutex */
	slock_t		mutex;
	pid_t		pid;			/* 0: no worker, -1: being started */
	TimestampTz launched_at;
	PgcState	state;
	PgcPhase	phase;
	bool		stop_requested; /* stopped on purpose: do not restart */
	bool		retry;			/* failed, and retrying may help */
	int			failures;		/* consecutive failures, for backoff */
	TimestampTz retry_at;
	TimestampTz started_at;
	int64		snapshot_done;
	int64		snapshot_total;
	int64		records_read;
	int64		records_written;
	int64		errors;
	int64		dead_letters;
	XLogRecPtr	received_lsn;	/* commit LSN of the last record received */
	XLogRecPtr	applied_lsn;	/* commit LSN of the last record applied */
	XLogRecPtr	source_lsn;		/* the source's flushed WAL, last learned */
	TimestampTz source_lsn_at;	/* when it was measured */
	XLogRecPtr	marker_lsn;		/* all source WAL before it is applied */
	TimestampTz unapplied_commit_time;	/* oldest commit read, not applied */
	TimestampTz caught_up_at;	/* source_lsn_at when nothing was unapplied */
	int64		retained_bytes; /* WAL the replication slot holds, or -1 */
	int64		retained_warned;	/* retained_bytes when last warned, or 0 */
	char		received_position[PGC_POSITION_LEN + 1];
	char		applied_position[PGC_POSITION_LEN + 1];
	char		error_position[PGC_POSITION_LEN + 1];
	char		error_table[2 * NAMEDATALEN + 8];
	char		last_error[PGC_ERROR_LEN];
	TimestampTz last_error_at;	/* kept once the pipeline runs again */
} PgcSlot;

typedef struct PgcShared
{
	LWLock	   *lock;
	ConditionVariable status_cv;	/* a slot changed: see above */
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	int			max_workers;	/* pgconduit.max_pipelines */
	bool		rescan_all;
	int			nrescan;
	Oid			rescan[PGC_MAX_RESCAN];
	int			nslots;
	PgcSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} PgcShared;

extern PgcShared *pgc_shared;

/* shmem.c */
extern void pgc_shmem_init(void);
extern PgcSlot *pgc_slot_find(Oid dboid, const char *name);
extern void pgc_request_rescan(Oid dboid);
extern void pgc_rescan_at_commit(void);
extern void pgc_restart_at_commit(const char *name);
extern void pgc_stop_workers(Oid dboid, const char *name, bool wait,
							 bool mark_stop);
extern void pgc_stop_at_commit(const char *name);
extern void pgc_slot_fail(PgcSlot *slot, const char *message, bool retry,
						  const char *position, const char *table);
extern void pgc_status_changed(void);
extern bool pgc_status_sleep(TimestampTz deadline, const char *wait_event);
extern int	pgc_running_workers(void);
extern void pgc_slot_note_retained(PgcSlot *slot, const char *name,
								   XLogRecPtr flush, XLogRecPtr restart,
								   XLogRecPtr confirmed);

/* launcher.c */
extern void pgc_launcher_register(void);
extern void pgc_start_worker(PgcSlot *slot);

/* worker.c */
extern char *pgc_pipeline_id(const char *name, const char *created);

#endif							/* PGC_PIPELINE_H */
