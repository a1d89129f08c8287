/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  State of one pipeline worker, shared by its modules: worker.c
 *	  (lifecycle and the destination's progress), batch.c (batches of
 *	  records for the destination), source.c (the source's tables, slot and
 *	  publication), snapshot.c (the snapshot) and stream.c (the change
 *	  stream).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_WORKER_H
#define PGC_WORKER_H

#include "lib/stringinfo.h"
#include "libpq-fe.h"

#include "config.h"
#include "pipeline.h"
#include "tables.h"

typedef struct PgcWorker
{
	PgcSlot    *slot;
	char	   *name;			/* the pipeline */
	char	   *pipeline_id;	/* its key in the destination's progress */
	PgcSourceConfig *src;
	PgcDestinationConfig *dst;
	bool		need_password;	/* owner is not a superuser */
	char		appname[NAMEDATALEN];

	PGconn	   *source;			/* normal connection to the source */
	PGconn	   *dest;			/* connection to the destination */
	PGconn	   *repl;			/* replication connection, during CDC */
	bool		dest_replica;	/* the destination applies with
								 * session_replication_role = replica */

	/* the source's tables (PgcTable *), as found on the source */
	List	   *tables;
	struct PgcRoute *route;		/* their records' routing, for a source of
								 * many tables (route.c); else NULL */
	TimestampTz table_checked;	/* when CDC last made sure they are there */
	bool		created_slot;	/* this run created the replication slot */

	/* progress, as recorded on the destination */
	char		phase[16];		/* "" (none yet), snapshot, cdc, done */
	char		position[PGC_POSITION_LEN + 1];
	char	   *started_relid;	/* the source table the pipeline follows,
								 * by OID (NULL until recorded) */
	char	   *started_table;	/* and its name when the pipeline started */

	/*
	 * The batch being filled: each record parsed into jsonb as it comes,
	 * its root container appended to batch at an int-aligned offset;
	 * sealed, the jsonb array of them all, once built.
	 */
	StringInfoData batch;
	uint32	   *batch_ends;		/* where each record's bytes end in batch */
	PgcTable  **batch_tables;	/* and each record's table */
	int			batch_ends_size;
	int			nbatch;
	int			batch_limit;	/* min(batch_size, buffer_size / 2) */
	int64		batch_bytes;	/* pgconduit.max_batch_memory */
	char		batch_first[PGC_POSITION_LEN + 1];
	char		batch_last[PGC_POSITION_LEN + 1];
	const char *batch_table;	/* the records' table, when they omit it */
	MemoryContext parse_cxt;	/* one record's parse */
	StringInfoData sealed;
	bool		is_sealed;
	int			sealed_count;	/* records sealed: the first ones */

	/*
	 * During CDC, a batch that continues the source transaction the open
	 * destination transaction holds part of (batch_continues) is cut at
	 * that transaction's commit: its first batch_cut records complete it
	 * (-1 until the commit is read).  The next call takes send_count
	 * records from the front (-1: all), the last at send_last.
	 */
	bool		batch_continues;
	int			batch_cut;
	int			send_count;
	char		send_last[PGC_POSITION_LEN + 1];

	/* the batch sent to the destination and not yet acknowledged */
	bool		batch_pending;
	bool		pending_snapshot;
	char		pending_first[PGC_POSITION_LEN + 1];
	char		pending_last[PGC_POSITION_LEN + 1];
	PgcTable  **pending_tables; /* its records' tables */
	int			pending_n;
	int			pending_size;

	/* the record the destination rejected, once it has (else NULL) */
	char	   *failed_position;
	char	   *failed_table;
	bool		pending_in_txn; /* sent inside dest_in_txn */
	bool		pending_commit; /* COMMIT dest_in_txn once it is applied */

	/*
	 * The destination transaction of the stream, opened by an explicit
	 * BEGIN for a source transaction larger than a batch: it ends only
	 * where that transaction ends.  What it applied counts once its COMMIT
	 * is answered.
	 */
	bool		dest_in_txn;
	bool		commit_sent;	/* its COMMIT is sent, not yet answered */
	int64		txn_written;	/* records applied in it */
	int64		txn_dead;		/* and set aside as dead letters */
} PgcWorker;

/*
 * Does the batch have room for n more records?  It is bounded by records
 * and by bytes; the bytes may be passed by the records of one read.
 */
static inline bool
pgc_batch_has_room(PgcWorker *w, int n)
{
	return w->nbatch + n <= w->batch_limit && w->batch.len < w->batch_bytes;
}

/* batch.c */
extern void pgc_batch_reset(PgcWorker *w);
extern void pgc_batch_add(PgcWorker *w, PgcTable *t, const char *record,
						  int len, const char *position);
extern void pgc_batch_seal(PgcWorker *w);
extern void pgc_batch_send(PgcWorker *w, const char *phase);
extern void pgc_batch_finish(PgcWorker *w);
extern void pgc_batch_count_committed(PgcWorker *w);

/* worker.c */
extern void pgc_set_progress(PgcWorker *w, const char *phase,
							 const char *position);
extern void pgc_record_source_table(PgcWorker *w);
extern void pgc_status_phase(PgcWorker *w, PgcState state, PgcPhase phase);

/* check.c */
extern void pgc_measure_slot(PGconn *conn, const char *slot_name,
							 XLogRecPtr *flush, XLogRecPtr *restart,
							 XLogRecPtr *confirmed);

/* source.c */
extern void pgc_source_prepare(PgcWorker *w);
extern void pgc_source_check_tables(PgcWorker *w);
extern void pgc_source_check_logged(PgcWorker *w, PgcTable *t);
extern void pgc_source_check_identity(PgcWorker *w, PgcTable *t);
extern void pgc_source_check_key(PgcWorker *w, PgcTable *t);
extern void pgc_source_ensure_slot(PgcWorker *w);
extern char *pgc_name_list(List *names);
extern bool pgc_name_in(List *list, const char *name);
extern char *pgc_array_literal(List *names);

/* snapshot.c */
extern XLogRecPtr pgc_snapshot_table(PgcWorker *w, PgcTable *t);
extern void pgc_snapshot_committed(PgcTable *t);
extern XLogRecPtr pgc_snapshot_run(PgcWorker *w);

/* tables.c */
extern void pgc_tables_resolve(PgcWorker *w);
extern PgcTable *pgc_tables_find(PgcWorker *w, Oid relid, bool *selected);
extern void pgc_tables_record(PgcWorker *w, PgcTable *t);
extern XLogRecPtr pgc_tables_snapshot_one(PgcWorker *w, PgcTable *t);
extern void pgc_tables_snapshot(PgcWorker *w);
extern void pgc_tables_publication(PgcWorker *w);
extern void pgc_tables_publish(PgcWorker *w, PgcTable *t);

/* route.c */
struct PgcProtoRecord;
extern void pgc_route_init(PgcWorker *w);
extern const char *pgc_route_record(PgcWorker *w, const struct PgcProtoRecord *r,
									const char *rec, int *len, PgcTable **table);
extern bool pgc_route_waiting(PgcWorker *w);
extern bool pgc_route_has_notes(PgcWorker *w);
extern void pgc_route_settle(PgcWorker *w);
extern void pgc_route_check_dropped(PgcWorker *w);
extern char *pgc_route_options(PgcWorker *w);

/* stream.c */
extern void pgc_stream_run(PgcWorker *w);

#endif							/* PGC_WORKER_H */
