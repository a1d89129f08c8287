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
} PgcTable;

/* The OID of table t as text, into buf of at least 12 bytes */
static inline const char *
pgc_table_oid(const PgcTable *t, char *buf)
{
	snprintf(buf, 12, "%u", t->relid);
	return buf;
}

#endif							/* PGC_TABLES_H */
