/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  What differs between the PostgreSQL major versions pgconduit builds
 *	  against -- 15, 17 and 18 -- kept in this one header, so that no .c
 *	  file tests PG_VERSION_NUM.  The code calls the pgc_ names below; each
 *	  maps to the API of the server being built against.
 *
 * Shared by the extension (src/) and the output plugin (output_plugin/).
 * Macros only, so it needs no header of its own beyond postgres.h: each
 * caller includes the headers of the functions it uses.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_COMPAT_H
#define PGC_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "pgconduit needs PostgreSQL 15 or later"
#endif

/*
 * pgc_noreturn: a function that does not return.  18 replaced
 * pg_attribute_noreturn(), which followed the declaration, by pg_noreturn,
 * which precedes it; the GCC attribute may stand in either place.
 */
#if PG_VERSION_NUM >= 180000
#define pgc_noreturn pg_noreturn
#else
#define pgc_noreturn pg_attribute_noreturn()
#endif

/*
 * pgc_qualified_name_list(string): a possibly qualified SQL name split into
 * a List of String; errors are thrown.  16 added a soft-error context.
 */
#if PG_VERSION_NUM >= 160000
#define pgc_qualified_name_list(string) stringToQualifiedNameList((string), NULL)
#else
#define pgc_qualified_name_list(string) stringToQualifiedNameList(string)
#endif

/*
 * pgc_executor_run(queryDesc, direction, count): run a plan to completion,
 * once.  18 dropped the execute_once argument (it is always once now).
 */
#if PG_VERSION_NUM >= 180000
#define pgc_executor_run(qd, dir, count) ExecutorRun((qd), (dir), (count))
#else
#define pgc_executor_run(qd, dir, count) ExecutorRun((qd), (dir), (count), true)
#endif

/*
 * pgc_primary_key_index(relation): the relation's primary key index, if it
 * is not deferrable (a deferrable one cannot identify rows), else
 * InvalidOid.  Until 17 the relcache ignored deferrable primary keys; 18
 * records them and lets the caller choose.
 */
#if PG_VERSION_NUM >= 180000
#define pgc_primary_key_index(rel) RelationGetPrimaryKeyIndex((rel), false)
#else
#define pgc_primary_key_index(rel) RelationGetPrimaryKeyIndex(rel)
#endif

/*
 * pgc_change_newtuple(change), pgc_change_oldtuple(change): the HeapTuple
 * of a decoded insert/update/delete, or NULL.  17 stores a HeapTuple in the
 * change instead of a ReorderBufferTupleBuf wrapping one.
 */
#if PG_VERSION_NUM >= 170000
#define pgc_change_newtuple(change) ((change)->data.tp.newtuple)
#define pgc_change_oldtuple(change) ((change)->data.tp.oldtuple)
#else
#define pgc_change_newtuple(change) \
	((change)->data.tp.newtuple ? &(change)->data.tp.newtuple->tuple : NULL)
#define pgc_change_oldtuple(change) \
	((change)->data.tp.oldtuple ? &(change)->data.tp.oldtuple->tuple : NULL)
#endif

/*
 * pgc_create_wait_event_set(nevents): a wait set that lives until
 * FreeWaitEventSet() or the end of the process.  Until 16 it is allocated
 * in a memory context; 17 tracks it by a resource owner instead, none here.
 */
#if PG_VERSION_NUM >= 170000
#define pgc_create_wait_event_set(nevents) CreateWaitEventSet(NULL, (nevents))
#else
#define pgc_create_wait_event_set(nevents) CreateWaitEventSet(TopMemoryContext, (nevents))
#endif

/*
 * pgc_wait_event(name): the wait event of one of pgconduit's waits, as
 * pg_stat_activity shows it.  17 lets an extension name its own (the name
 * is registered once, then looked up); until then all are "Extension".
 * The caller includes utils/wait_event.h.
 */
#if PG_VERSION_NUM >= 170000
#define pgc_wait_event(name) WaitEventExtensionNew(name)
#else
#define pgc_wait_event(name) PG_WAIT_EXTENSION
#endif

#endif							/* PGC_COMPAT_H */
