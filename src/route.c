/*-------------------------------------------------------------------------
 *
 * route.c
 *	  The stream side of a source of many tables: every change record goes
 *	  to its table, found by the OID the output plugin writes first in the
 *	  record's metadata ("include_relid"); tables that come to match the
 *	  source's patterns while the pipeline runs are taken up, and tables
 *	  dropped at the source are noted while the others go on.
 *
 * A record of a table is applied when the table streams (or was dropped:
 * what was decoded before the drop still applies) and the record's
 * transaction committed at or after the table's cut; earlier ones are in
 * the table's snapshot.
 *
 * A table first seen in the stream (the plugin sent it because it matched
 * "follow_tables") is looked up on the source by OID.  Without a replica
 * identity it is skipped with a WARNING that names it: its records are
 * dropped, and it is recorded so that later runs exclude it.  Otherwise it
 * waits for its snapshot, its records dropped meanwhile: at the next
 * source-transaction boundary with nothing buffered or in flight the
 * stream stops, the table is copied with its own cut -- later than every
 * record read so far, so the records dropped are in the copy -- and the
 * stream starts again from the slot's confirmed position.  The copy also
 * brings the rows a table held before it came to match (renamed or moved
 * into a pattern), which the stream alone could not; and a destination
 * that lacks the table fails in it, loudly, before anything of the table
 * is confirmed.
 *
 * Renamed tables keep sending to the name the pipeline first saw
 * (PgcTable.target), as a one-table source does: the record's
 * metadata.table is rewritten to it, so the destination's templates
 * resolve from it too.
 *
 * A one-table source routes nothing here: its records go to its target,
 * and its table dropped fails the pipeline (source.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlogdefs.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"

#include "pq.h"
#include "protocol.h"
#include "worker.h"

/* The member of a record's metadata that names its table */
#define PGC_ROUTE_TABLE		"\"table\":"
#define PGC_ROUTE_TABLE_LEN 8

/* and the truncate of some partitions of a table, their root */
#define PGC_ROUTE_PARTITION_ROOT	"\"postgres.partition_root\":"

/* One entry of the hash by relid */
typedef struct PgcRouteEntry
{
	Oid			relid;			/* the key */
	PgcTable   *table;			/* NULL: ignored (selected by no item) */
} PgcRouteEntry;

/* The routing state of a worker */
typedef struct PgcRoute
{
	HTAB	   *by_relid;		/* PgcRouteEntry by relid */
	bool		waiting;		/* a late table waits for its snapshot */
	List	   *notes;			/* PgcTable * whose state the destination
								 * is to record */
	StringInfoData rewritten;	/* a record whose table is renamed */
} PgcRoute;

static PgcTable *pgc_route_late(PgcWorker *w, Oid relid);

/* Is this a source of many tables ("tables"), whose records are routed? */
static inline bool
pgc_route_many(PgcWorker *w)
{
	return w->src->tables != NIL;
}

/* Enter table t in the hash by relid */
static void
pgc_route_enter(PgcRoute *rt, Oid relid, PgcTable *t)
{
	PgcRouteEntry *e;
	bool		found;

	e = hash_search(rt->by_relid, &relid, HASH_ENTER, &found);
	e->table = t;
}

/*
 * Set up routing for the tables the worker found at its start: a hash by
 * relid, so that finding a record's table costs one lookup however many
 * tables the source has.
 */
void
pgc_route_init(PgcWorker *w)
{
	PgcRoute   *rt;
	HASHCTL		ctl;
	ListCell   *lc;

	if (!pgc_route_many(w))
		return;
	rt = palloc0(sizeof(PgcRoute));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(PgcRouteEntry);
	ctl.hcxt = CurrentMemoryContext;
	rt->by_relid = hash_create("pgconduit tables by relid",
							   Max(64, list_length(w->tables) * 2), &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	foreach(lc, w->tables)
	{
		PgcTable   *t = lfirst(lc);

		pgc_route_enter(rt, t->relid, t);
	}
	initStringInfo(&rt->rewritten);
	w->route = rt;
}

/*
 * If t's records are renamed since the pipeline first saw the table, give
 * rec (len bytes, its metadata.table at *table) the name first seen; else
 * return it unchanged.  The name is compared as the plugin writes it:
 * t->meta holds "table":<target> escaped the same way.
 */
static const char *
pgc_route_rename(PgcRoute *rt, PgcTable *t, const char *rec, int *len,
				 const char *table)
{
	int			meta_len = strlen(t->meta);
	const char *end = rec + *len;
	const char *p;

	if (end - table > meta_len && memcmp(table, t->meta, meta_len) == 0 &&
		(table[meta_len] == ',' || table[meta_len] == '}'))
		return rec;
	if (end - table < PGC_ROUTE_TABLE_LEN + 2 ||
		memcmp(table, PGC_ROUTE_TABLE "\"", PGC_ROUTE_TABLE_LEN + 1) != 0)
		elog(ERROR, "record from pgconduit_output has no table after its relid: %.*s",
			 *len, rec);
	/* the end of the quoted name */
	for (p = table + PGC_ROUTE_TABLE_LEN + 1; p < end && *p != '"'; p++)
		if (*p == '\\')
			p++;
	if (p >= end)
		elog(ERROR, "record from pgconduit_output has an unterminated table name: %.*s",
			 *len, rec);
	resetStringInfo(&rt->rewritten);
	appendBinaryStringInfo(&rt->rewritten, rec, table - rec);
	appendBinaryStringInfo(&rt->rewritten, t->meta, meta_len);
	appendBinaryStringInfo(&rt->rewritten, p + 1, end - (p + 1));
	*len = rt->rewritten.len;
	return rt->rewritten.data;
}

/*
 * Where the member "table" of a change record read into r starts: after
 * the relid, which pgc_proto_relid() found valid.
 */
static const char *
pgc_route_table_member(const char *rec, int len, const PgcProtoRecord *r)
{
	const char *p = r->op_end + PGC_PROTO_RELID_LEN;
	const char *end = rec + len;

	while (p < end && *p >= '0' && *p <= '9')
		p++;
	/* the relid's closing quote, then a comma */
	if (end - p < 2 || p[0] != '"' || p[1] != ',')
		elog(ERROR, "record from pgconduit_output has no metadata after its relid: %.*s",
			 len, rec);
	return p + 2;
}

/*
 * Route one change or truncate record (rec, *len bytes, read into r): the
 * record to add to the batch -- rec itself, or rec with its table renamed
 * to the name the pipeline first saw -- and its table (*table), or NULL if
 * it is not to be applied (its table is skipped or waits for its
 * snapshot, or its transaction committed before the table's cut).  A
 * one-table source's records pass unchanged.
 */
const char *
pgc_route_record(PgcWorker *w, const PgcProtoRecord *r, const char *rec, int *len,
				 PgcTable **table)
{
	PgcRoute   *rt = w->route;
	PgcRouteEntry *e;
	PgcTable   *t;
	Oid			relid;
	bool		found;

	if (rt == NULL)
	{
		*table = linitial(w->tables);
		return rec;
	}
	relid = pgc_proto_relid(rec, *len, r);
	if (!OidIsValid(relid))
		elog(ERROR, "record from pgconduit_output carries no relid: %.*s", *len, rec);
	e = hash_search(rt->by_relid, &relid, HASH_FIND, &found);
	if (found)
		t = e->table;
	else
	{
		t = pgc_route_late(w, relid);
		pgc_route_enter(rt, relid, t);
	}
	if (t == NULL || t->state == PGC_TABLE_SNAPSHOT || t->state == PGC_TABLE_SKIPPED)
		return NULL;
	/* streaming, or dropped: what was decoded before the drop applies */
	if (r->commit < t->cut)
		return NULL;
	*table = t;

	/*
	 * The truncate of some partitions of a table only names the partition
	 * and its root, which the destination refuses by name: left as it is.
	 */
	if (t->meta == NULL ||
		(r->op == PGC_PROTO_TRUNCATE && strstr(rec, PGC_ROUTE_PARTITION_ROOT) != NULL))
		return rec;
	return pgc_route_rename(rt, t, rec, len, pgc_route_table_member(rec, *len, r));
}

/*
 * A late table skipped because it is gone: it was dropped before the
 * pipeline could copy it, so none of its changes apply rather than some.
 */
static PgcTable *
pgc_route_gone(PgcWorker *w, Oid relid)
{
	PgcTable   *t = palloc0(sizeof(PgcTable));

	t->relid = relid;
	t->late = true;
	t->state = PGC_TABLE_SKIPPED;
	t->qualified = t->target = psprintf("OID %u", relid);
	pgc_table_status_register(w, t);
	ereport(WARNING,
			(errcode(ERRCODE_UNDEFINED_TABLE),
			 errmsg("pipeline \"%s\" skips the table with OID %u, which was dropped before it could be copied",
					w->name, relid),
			 errdetail("The table came to match the source's \"tables\" while the pipeline ran; none of its changes are applied.")));
	w->tables = lappend(w->tables, t);
	w->route->notes = lappend(w->route->notes, t);
	return t;
}

/*
 * A table first seen in the stream (relid): the plugin sent it because it
 * matched an item of the source's "tables" when it was decoded.  It is
 * looked up on the source by OID and checked as the tables found at the
 * start are (tables.c): it waits for its snapshot, its columns and key as
 * the source configures them; or it is skipped with a WARNING naming it,
 * when a pattern matches it and it has no replica identity; a table the
 * source names without one is refused.  A table gone already is skipped
 * too.  Returns NULL for a table no item selects now (a schema that "*"
 * leaves out, or renamed away since), whose records are ignored.
 */
static PgcTable *
pgc_route_late(PgcWorker *w, Oid relid)
{
	PgcRoute   *rt = w->route;
	PgcTable   *t;
	bool		selected;

	t = pgc_tables_find(w, relid, &selected);
	if (t == NULL)
		return pgc_route_gone(w, relid);
	if (!selected)
		return NULL;
	t->late = true;
	pgc_table_status_register(w, t);
	w->tables = lappend(w->tables, t);
	if (t->state != PGC_TABLE_SNAPSHOT)
	{
		rt->notes = lappend(rt->notes, t);
		return t;
	}
	ereport(LOG,
			(errmsg("pipeline \"%s\" takes up source table %s, which came to match its \"tables\"",
					w->name, t->qualified),
			 errdetail("The table is copied at the end of the source transaction in which it was first seen; its changes apply from there on.")));
	rt->waiting = true;
	return t;
}

/*
 * Does the stream have to stop at the next source-transaction boundary,
 * for a late table to be copied?
 */
bool
pgc_route_waiting(PgcWorker *w)
{
	return w->route != NULL && w->route->waiting;
}

/* Has the destination states to record, at the next boundary? */
bool
pgc_route_has_notes(PgcWorker *w)
{
	return w->route != NULL && w->route->notes != NIL;
}

/*
 * At a source-transaction boundary with nothing buffered or in flight:
 * add each late table that waits for its snapshot to the publication
 * pgconduit made, and copy it -- with the stream
 * stopped, so that the walsender does not time out meanwhile -- with its
 * own cut, which its snapshot's transaction records on the destination;
 * and record there the tables skipped or dropped since.
 */
void
pgc_route_settle(PgcWorker *w)
{
	PgcRoute   *rt = w->route;
	ListCell   *lc;

	if (rt == NULL)
		return;
	if (rt->waiting)
	{
		foreach(lc, w->tables)
		{
			PgcTable   *t = lfirst(lc);

			if (t->late && t->state == PGC_TABLE_SNAPSHOT)
			{
				/* published first, so its identity is kept from now on */
				pgc_tables_publish(w, t);
				pgc_tables_snapshot_one(w, t);
			}
		}
		rt->waiting = false;
	}
	foreach(lc, rt->notes)
		pgc_tables_record(w, lfirst(lc));
	list_free(rt->notes);
	rt->notes = NIL;
}

/*
 * During CDC, note the tables dropped at the source: a dropped table sends
 * nothing more, so only the catalog tells.  Each is named in a WARNING and
 * its state becomes dropped; its changes decoded before the drop still
 * arrive and apply, and the pipeline goes on with the others.  A late
 * table dropped before it was copied is skipped: none of its changes
 * apply, rather than some.
 */
void
pgc_route_check_dropped(PgcWorker *w)
{
	PgcRoute   *rt = w->route;
	StringInfoData oids;
	const char *params[1];
	PGresult   *res;
	ListCell   *lc;

	if (rt == NULL)
		return;
	initStringInfo(&oids);
	appendStringInfoChar(&oids, '{');
	foreach(lc, w->tables)
	{
		PgcTable   *t = lfirst(lc);

		if (t->state == PGC_TABLE_STREAMING || t->state == PGC_TABLE_SNAPSHOT)
			appendStringInfo(&oids, "%s%u", oids.len > 1 ? "," : "", t->relid);
	}
	appendStringInfoChar(&oids, '}');
	if (oids.len == 2)
		return;
	params[0] = oids.data;
	res = pgc_pq_exec(w->source, "source",
					  "SELECT o::pg_catalog.text FROM pg_catalog.unnest($1::pg_catalog.oid[]) o"
					  " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
					  "                    WHERE c.oid OPERATOR(pg_catalog.=) o)",
					  1, params);
	for (int i = 0; i < PQntuples(res); i++)
	{
		Oid			relid;
		PgcRouteEntry *e;
		PgcTable   *t;

		if (PQgetisnull(res, i, 0))
			continue;
		relid = (Oid) strtoul(PQgetvalue(res, i, 0), NULL, 10);
		e = hash_search(rt->by_relid, &relid, HASH_FIND, NULL);
		if (e == NULL || e->table == NULL)
			continue;
		t = e->table;
		if (t->state == PGC_TABLE_SNAPSHOT)
		{
			pgc_table_set_state(t, PGC_TABLE_SKIPPED);
			ereport(WARNING,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("pipeline \"%s\" skips source table %s, which was dropped before it could be copied",
							w->name, t->qualified),
					 errdetail("The table came to match the source's \"tables\" while the pipeline ran; none of its changes are applied.")));
		}
		else
		{
			pgc_table_set_state(t, PGC_TABLE_DROPPED);
			ereport(WARNING,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("source table %s of pipeline \"%s\" was dropped",
							t->qualified, w->name),
					 errdetail("Its changes made before the drop are applied; the pipeline goes on with its other tables.")));
		}
		rt->notes = lappend(rt->notes, t);
	}
	PQclear(res);
}

/*
 * Are names the list an object entry of "columns" (by_table) gives a
 * table?  tables.c hands the entry's own list to the table, so a table
 * with all its columns (which must include columns added later) is told
 * from one that names them.
 */
static bool
pgc_route_by_table(List *by_table, List *names)
{
	ListCell   *lc;

	foreach(lc, by_table)
		if (((PgcTableList *) lfirst(lc))->names == names)
			return true;
	return false;
}

/*
 * The options of START_REPLICATION that select a source's many tables:
 * the tables it follows by OID (those dropped too, whose last changes may
 * still come), the source's items as patterns for tables that come to
 * match them, the skipped ones left out, the relid in every record; and
 * "columns" and "key": those given for every table unqualified, those
 * given by table and the key each table settled on qualified by its OID.
 */
char *
pgc_route_options(PgcWorker *w)
{
	StringInfoData oids;
	StringInfoData skip;
	StringInfoData follow;
	StringInfoData columns;
	StringInfoData key;
	StringInfoData cmd;
	ListCell   *lc;

	initStringInfo(&oids);
	initStringInfo(&skip);
	initStringInfo(&follow);
	initStringInfo(&columns);
	initStringInfo(&key);
	if (w->src->columns != NIL)
		appendStringInfoString(&columns, pgc_name_list(w->src->columns));
	if (w->src->key != NIL)
		appendStringInfoString(&key, pgc_name_list(w->src->key));
	foreach(lc, w->tables)
	{
		PgcTable   *t = lfirst(lc);
		StringInfo	list = t->state == PGC_TABLE_SKIPPED ? &skip : &oids;
		ListCell   *lc2;

		appendStringInfo(list, "%s%u", list->len > 0 ? "," : "", t->relid);
		if (t->state == PGC_TABLE_SKIPPED)
			continue;
		if (pgc_route_by_table(w->src->columns_by_table, t->columns))
			foreach(lc2, t->columns)
				appendStringInfo(&columns, "%s%u.%s", columns.len > 0 ? "," : "",
								 t->relid, quote_identifier(lfirst(lc2)));
		/* the key the worker settled, also where the plugin would choose another */
		if (t->key != w->src->key)
			foreach(lc2, t->key)
				appendStringInfo(&key, "%s%u.%s", key.len > 0 ? "," : "",
								 t->relid, quote_identifier(lfirst(lc2)));
	}
	foreach(lc, w->src->tables)
		appendStringInfo(&follow, "%s%s", follow.len > 0 ? "," : "",
						 (char *) lfirst(lc));

	initStringInfo(&cmd);
	appendStringInfo(&cmd, ", \"include_relid\" 'on', \"follow_tables\" %s",
					 quote_literal_cstr(follow.data));
	if (oids.len > 0)
		appendStringInfo(&cmd, ", \"table_oids\" %s", quote_literal_cstr(oids.data));
	if (skip.len > 0)
		appendStringInfo(&cmd, ", \"exclude_oids\" %s", quote_literal_cstr(skip.data));
	if (columns.len > 0)
		appendStringInfo(&cmd, ", \"columns\" %s", quote_literal_cstr(columns.data));
	if (key.len > 0)
		appendStringInfo(&cmd, ", \"key\" %s", quote_literal_cstr(key.data));
	return cmd.data;
}
