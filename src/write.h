/*-------------------------------------------------------------------------
 *
 * write.h
 *	  The destination: applying OpenCDC records to tables of this database.
 *
 * pgconduit.write() and pgconduit._write() are thin SQL wrappers around
 * pgc_write_records(), which the pipeline worker may also call directly
 * (inside a transaction) to apply a batch it received.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_WRITE_H
#define PGC_WRITE_H

#include "utils/jsonb.h"

/*
 * Apply one record (a JSON object) or an array of records, in order, in the
 * current transaction, and return how many records were applied.  When
 * table_override is not NULL it replaces metadata.table of every record.
 * Any error aborts the (sub)transaction, so nothing of the call stays
 * applied; its context names the record ("record 3 (table public.t)").
 */
extern int64 pgc_write_records(Jsonb *records, const char *table_override);

#endif							/* PGC_WRITE_H */
