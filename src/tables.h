/*-------------------------------------------------------------------------
 *
 * tables.h
 *	  The source tables of a pipeline, as its worker knows them.
 *
 * A pipeline's worker holds a list of PgcTable (PgcWorker.tables): one for
 * a source with "table", one per table selected for a source with
 * "tables".  source.c finds and checks them, snapshot.c copies them,
 * stream.c routes their records.  Add fields; do not rename them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_TABLES_H
#define PGC_TABLES_H

#include "access/xlogdefs.h"
#include "nodes/pg_list.h"

typedef enum PgcTableState
{
	PGC_TABLE_SNAPSHOT,			/* waiting for or in its snapshot */
	PGC_TABLE_STREAMING,		/* snapshot applied (or none): its changes
								 * apply */
	PGC_TABLE_SKIPPED,			/* matched by a pattern, no replica identity:
								 * not replicated */
	PGC_TABLE_DROPPED			/* dropped at the source; its last changes
								 * applied */
} PgcTableState;

typedef struct PgcTable
{
	Oid			relid;			/* on the source */
	char		relkind;		/* 'r' (read without children) or 'p' */
	char	   *qualified;		/* schema.table now, quoted where needed */
	char	   *target;			/* its name when the pipeline first saw it:
								 * where its records go unless the
								 * destination names a table */
	List	   *columns;		/* payload columns (char *), NIL = all */
	List	   *key;			/* key columns (char *); NIL = keyless
								 * (REPLICA IDENTITY FULL) */
	XLogRecPtr	cut;			/* its changes committed before this are in
								 * its snapshot */
	PgcTableState state;
	bool		late;			/* appeared after the pipeline started */
	int64		rows_written;	/* for status_tables */
	char	   *meta;			/* "table":<target> for snapshot records */
	int64		snapshot_rows;	/* rows its snapshot applied, not yet
								 * committed */
	int64		batch_applied;	/* scratch of pgc_batch_finish() */
	struct PgcTableStatus *status;	/* its entry in shared memory, or NULL */
} PgcTable;

/* The OID of table t as text, into buf of at least 12 bytes */
static inline const char *
pgc_table_oid(const PgcTable *t, char *buf)
{
	snprintf(buf, 12, "%u", t->relid);
	return buf;
}

/*
 * table_status.c: each table's status in shared memory, for
 * pgconduit.status_tables.  A worker registers each table it replicates
 * (pgc_table_status_register) and then keeps its entry current.
 */
struct PgcWorker;
typedef struct PgcTableStatus PgcTableStatus;

extern int	pgc_max_tables;

extern Size pgc_table_status_shmem_size(void);
extern void pgc_table_status_shmem_init(void);
extern void pgc_table_status_register(struct PgcWorker *w, PgcTable *t);
extern void pgc_table_status_forget_others(struct PgcWorker *w);
extern void pgc_table_status_release(int slotno);
extern void pgc_table_set_state(PgcTable *t, PgcTableState state);
extern void pgc_table_status_snapshot(PgcTable *t, int64 done, int64 total);
extern void pgc_table_status_written(PgcTable *t, int64 rows);

#endif							/* PGC_TABLES_H */
