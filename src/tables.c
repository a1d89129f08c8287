/*-------------------------------------------------------------------------
 *
 * tables.c
 *	  The table set of a source with "tables": which tables its items
 *	  select on the source, their keys and checks, the publication of
 *	  them all, the order of their snapshots, and each table's progress
 *	  as the destination records it.
 *
 * The items (names and '*' patterns, the syntax of pattern.h) are
 * resolved on the source by one catalog query, to tables by OID: ordinary
 * and partitioned tables, never a partition (its root is selected in its
 * place, and reports its changes), never a system schema, and with a
 * pattern for the schema never pgconduit's own schema there.  A table the
 * pipeline has recorded in the destination's pgconduit.progress_table is
 * followed by that OID, also under another name.
 *
 * A table that cannot be replicated exactly (no key, no replica identity,
 * unlogged, ...) is refused, by an ERROR, when an item names it; when only
 * patterns match it, it is skipped with a WARNING naming it and why, and
 * recorded as skipped.  A table without any replica identity is never put
 * in the publication, whose UPDATE and DELETE would then fail.
 *
 * Each table gets its own snapshot, with its own cut (snapshot.c takes
 * it), in its own destination transaction that also records the table's
 * state and cut: a crash redoes the tables not yet committed, only.  The
 * stream drops a table's changes committed before its cut.  Tables linked
 * by foreign keys are copied parents first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlogdefs.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "pattern.h"
#include "pq.h"
#include "tables.h"
#include "worker.h"

/* A table as the resolution query finds it, before its checks */
typedef struct PgcFound
{
	PgcTable   *table;
	char	   *schema;
	char	   *name;
	bool		named;			/* an item names it (not only patterns) */
	char		replident;		/* 'd', 'n', 'f' or 'i' */
	List	   *all;			/* its live, stored columns */
	List	   *pkey;			/* its primary key's columns */
	List	   *identkey;		/* its identity index's columns */
	char	   *recorded_state; /* in progress_table, or NULL */
	XLogRecPtr	recorded_cut;
	char	   *recorded_name;	/* progress_table.source_table */
} PgcFound;

/*
 * A LIKE pattern for one part of an item: a glob's '*' becomes '%', and
 * every character LIKE would read as special is escaped.
 */
static char *
pgc_tables_like(const char *part, bool glob)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *p = part; *p; p++)
	{
		if (glob && *p == '*')
			appendStringInfoChar(&buf, '%');
		else
		{
			if (*p == '%' || *p == '_' || *p == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
	}
	return buf.data;
}

/* A text[] (or bool[]) literal of strings, NULL entries as NULL */
static char *
pgc_tables_array(List *values)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, values)
	{
		const char *v = lfirst(lc);

		if (foreach_current_index(lc) > 0)
			appendStringInfoChar(&buf, ',');
		if (v == NULL)
		{
			appendStringInfoString(&buf, "NULL");
			continue;
		}
		appendStringInfoChar(&buf, '"');
		for (; *v; v++)
		{
			if (*v == '"' || *v == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *v);
		}
		appendStringInfoChar(&buf, '"');
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* An LSN as the destination records it ("X/X"); 0 if unreadable */
static XLogRecPtr
pgc_tables_lsn(const char *text)
{
	XLogRecPtr	lsn;

	if (text == NULL || !pgc_proto_parse_lsn(text, &lsn))
		return InvalidXLogRecPtr;
	return lsn;
}

/* The metadata of table t's snapshot records: "table":<target> */
static void
pgc_tables_meta(PgcTable *t)
{
	StringInfoData meta;

	initStringInfo(&meta);
	appendStringInfoString(&meta, "\"table\":");
	escape_json(&meta, t->target);
	t->meta = meta.data;
}

/* Strings joined by ", " */
static char *
pgc_tables_join(List *names)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, names)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", (char *) lfirst(lc));
	return buf.data;
}

/* Names from a list of quoted identifiers ("a, \"B\""), NIL for NULL */
static List *
pgc_tables_split(PGresult *res, int row, int col)
{
	List	   *names = NIL;
	char	   *raw;

	if (PQgetisnull(res, row, col))
		return NIL;
	raw = pstrdup(PQgetvalue(res, row, col));
	if (!SplitIdentifierString(raw, ',', &names))
		elog(ERROR, "could not read column names \"%s\" from the source", raw);
	return names;
}

/* Parse a table name in "tables" syntax, as written in the config */
static PgcTablePattern *
pgc_tables_parse(const char *item)
{
	const char *p = item;
	const char *detail = NULL;
	PgcTablePattern *pat = pgc_pattern_parse_item(&p, &detail);

	if (pat == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid table name or pattern in \"tables\": \"%s\"", item),
				 errdetail_internal("%s", detail ? detail : "")));
	return pat;
}

/*
 * The per-table value of "columns" or "key" for a table: the object entry
 * that names it with its schema, else one that names it without, else the
 * list given for every table (NIL if none).
 */
static List *
pgc_tables_config_list(List *by_table, List *every, const char *schema,
					   const char *name)
{
	ListCell   *lc;
	List	   *unqualified = NIL;

	foreach(lc, by_table)
	{
		PgcTableList *tl = lfirst(lc);
		PgcTablePattern *pat = pgc_tables_parse(tl->table);

		if (!pgc_pattern_match(pat, schema, name))
			continue;
		if (pat->schema != NULL)
			return tl->names;
		unqualified = tl->names;
	}
	return unqualified ? unqualified : every;
}

/* Read the destination's record of each table of the pipeline */
static PGresult *
pgc_tables_recorded(PgcWorker *w)
{
	const char *params[1] = {w->pipeline_id};

	return pgc_pq_exec(w->dest, "destination",
					   "SELECT source_relid, source_table, state,"
					   "       coalesce(cut, '0/0')::pg_catalog.text, late"
					   "  FROM pgconduit.progress_table"
					   " WHERE pipeline_id OPERATOR(pg_catalog.=) $1"
					   " ORDER BY source_relid",
					   1, params);
}

/*
 * Run the resolution query: every table the items select now, and every
 * table recorded before that still exists (or only the table of OID only,
 * if not NULL), with what the checks need.
 */
static PGresult *
pgc_tables_query(PgcWorker *w, List *patterns, const char *recorded,
				 const char *only)
{
	List	   *schemas = NIL;
	List	   *names = NIL;
	List	   *globs = NIL;
	ListCell   *lc;
	const char *params[5];

	foreach(lc, patterns)
	{
		PgcTablePattern *pat = lfirst(lc);

		schemas = lappend(schemas, pat->schema ?
						  pgc_tables_like(pat->schema, pat->schema_glob) : NULL);
		names = lappend(names, pgc_tables_like(pat->table, pat->table_glob));
		/* pgconduit's schema only where an item names it */
		globs = lappend(globs, (pat->schema == NULL || pat->schema_glob) ?
						"t" : "f");
	}
	params[0] = pgc_tables_array(schemas);
	params[1] = pgc_tables_array(names);
	params[2] = pgc_tables_array(globs);
	params[3] = recorded;
	params[4] = only;
	return pgc_pq_exec(w->source, "source",
					   "WITH item AS ("
					   "  SELECT i.nsp, i.rel, i.anyschema, i.ord"
					   "    FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]),"
					   "                    pg_catalog.unnest($2::pg_catalog.text[]),"
					   "                    pg_catalog.unnest($3::pg_catalog.bool[]))"
					   "         WITH ORDINALITY i(nsp, rel, anyschema, ord)),"
					   " matched AS ("
					   "  SELECT coalesce(CASE WHEN c.relispartition"
					   "                       THEN pg_catalog.pg_partition_root(c.oid)::pg_catalog.oid END,"
					   "                  c.oid) AS oid, i.ord"
					   "    FROM item i"
					   "    JOIN pg_catalog.pg_namespace n"
					   "      ON (i.nsp IS NULL OR n.nspname::pg_catalog.text COLLATE pg_catalog.\"C\""
					   "          OPERATOR(pg_catalog.~~) i.nsp)"
					   "    JOIN pg_catalog.pg_class c"
					   "      ON c.relnamespace OPERATOR(pg_catalog.=) n.oid"
					   "     AND c.relname::pg_catalog.text COLLATE pg_catalog.\"C\""
					   "         OPERATOR(pg_catalog.~~) i.rel"
					   "   WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog.\"char\"[])"
					   "     AND n.nspname::pg_catalog.text OPERATOR(pg_catalog.<>) 'information_schema'"
					   "     AND NOT n.nspname::pg_catalog.text OPERATOR(pg_catalog.~~) 'pg\\_%'"
					   "     AND NOT (i.anyschema AND n.oid OPERATOR(pg_catalog.=) ANY (ARRAY("
					   "           SELECT e.extnamespace FROM pg_catalog.pg_extension e"
					   "            WHERE e.extname OPERATOR(pg_catalog.=) 'pgconduit')))"
					   "  UNION ALL"
					   "  SELECT r.oid, NULL FROM pg_catalog.unnest($4::pg_catalog.oid[]) r(oid)),"
					   " picked AS ("
					   "  SELECT m.oid, pg_catalog.array_agg(m.ord ORDER BY m.ord)"
					   "                FILTER (WHERE m.ord IS NOT NULL) AS items"
					   "    FROM matched m"
					   "   WHERE $5::pg_catalog.oid IS NULL OR m.oid OPERATOR(pg_catalog.=) $5::pg_catalog.oid"
					   "   GROUP BY m.oid)"
					   "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relreplident,"
					   "       p.items::pg_catalog.text,"
					   "       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ','"
					   "                                     ORDER BY a.attnum)"
					   "          FROM pg_catalog.pg_attribute a"
					   "         WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid"
					   "           AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped"
					   "           AND a.attgenerated OPERATOR(pg_catalog.=) ''),"
					   "       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ','"
					   "                                     ORDER BY k.ord)"
					   "          FROM pg_catalog.pg_index i,"
					   "               pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord),"
					   "               pg_catalog.pg_attribute a"
					   "         WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisprimary"
					   "           AND k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts"
					   "           AND a.attrelid OPERATOR(pg_catalog.=) c.oid"
					   "           AND a.attnum OPERATOR(pg_catalog.=) k.attnum),"
					   "       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ','"
					   "                                     ORDER BY k.ord)"
					   "          FROM pg_catalog.pg_index i,"
					   "               pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord),"
					   "               pg_catalog.pg_attribute a"
					   "         WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisreplident"
					   "           AND k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts"
					   "           AND a.attrelid OPERATOR(pg_catalog.=) c.oid"
					   "           AND a.attnum OPERATOR(pg_catalog.=) k.attnum)"
					   "  FROM picked p"
					   "  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.oid"
					   "  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					   " ORDER BY p.items[1], n.nspname, c.relname",
					   5, params);
}

/*
 * Settle a found table's payload and key columns: configured ("columns",
 * "key", for every table or by table), else all columns and the primary
 * key, else the replica identity index, else none if the table has
 * REPLICA IDENTITY FULL (keyless: its rows are matched whole).  Raises an
 * ERROR when there is no key at all, or a configured column is missing.
 */
static void
pgc_tables_settle(PgcWorker *w, PgcFound *f)
{
	PgcSourceConfig *src = w->src;
	PgcTable   *t = f->table;
	List	   *columns;
	List	   *key;
	ListCell   *lc;

	columns = pgc_tables_config_list(src->columns_by_table, src->columns,
									 f->schema, f->name);
	key = pgc_tables_config_list(src->key_by_table, src->key,
								 f->schema, f->name);
	t->columns = columns ? columns : f->all;
	foreach(lc, t->columns)
		if (!pgc_name_in(f->all, lfirst(lc)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of \"columns\" does not exist in source table %s",
							(char *) lfirst(lc), t->qualified)));
	if (key != NIL)
	{
		t->key = key;
		foreach(lc, t->key)
			if (!pgc_name_in(f->all, lfirst(lc)))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("key column \"%s\" does not exist in source table %s",
								(char *) lfirst(lc), t->qualified)));
		return;
	}
	if (f->pkey != NIL)
		t->key = f->pkey;
	else if (f->replident == 'i' && f->identkey != NIL)
		t->key = f->identkey;
	else if (f->replident == 'f')
		t->key = NIL;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("source table %s has no primary key and no replica identity", t->qualified),
				 errdetail("Records need a key, or the whole old row (REPLICA IDENTITY FULL), so that the destination can apply updates and deletes; publishing the table as it is would make its UPDATE and DELETE fail."),
				 errhint("Add a primary key to the table, or run ALTER TABLE %s REPLICA IDENTITY FULL on the source, or name its key columns in the source's \"key\".",
						 t->qualified)));
}

/*
 * Check that the table can be replicated exactly, as a one-table source's
 * table is checked: logged, a replica identity that holds the key, the key
 * a key at the source.  A keyless table has REPLICA IDENTITY FULL, which
 * is all its checks need.
 */
static void
pgc_tables_check(PgcWorker *w, PgcFound *f)
{
	pgc_tables_settle(w, f);
	if (!w->src->cdc)
		return;
	pgc_source_check_logged(w, f->table);
	pgc_source_check_identity(w, f->table);
	if (f->table->key != NIL)
		pgc_source_check_key(w, f->table);
}

/*
 * Run the checks of a table that only patterns select: an error that says
 * the table cannot be replicated skips it, with a WARNING that names it
 * and says why; other errors (a lost connection) end the worker.  Returns
 * false if skipped.
 */
static bool
pgc_tables_check_matched(PgcWorker *w, PgcFound *f)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		pgc_tables_check(w, f);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			code;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		code = edata->sqlerrcode;
		if (code != ERRCODE_INVALID_TABLE_DEFINITION &&
			code != ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE &&
			code != ERRCODE_UNDEFINED_COLUMN)
			PG_RE_THROW();
		FlushErrorState();
		ereport(WARNING,
				(errcode(code),
				 errmsg("pipeline \"%s\" skips source table %s: %s",
						w->name, f->table->qualified, edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 edata->hint ? errhint("%s", edata->hint) : 0));
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * Order the tables so that a table comes after the tables its foreign keys
 * reference, where both are selected (a partitioned table's keys count for
 * it whichever partition holds them): a destination with the same keys
 * then never sees a child row before its parent.  Tables in a cycle keep
 * the order they had.
 */
static List *
pgc_tables_order(PgcWorker *w, List *found)
{
	List	   *oids = NIL;
	List	   *ordered = NIL;
	ListCell   *lc;
	PGresult   *res;
	const char *params[1];
	int			n = list_length(found);
	int		   *parents;		/* per table: selected parents not yet placed */
	bool	   *placed;
	int		   *edge_child;
	int		   *edge_parent;
	int			nedges = 0;

	if (n < 2)
		return found;
	foreach(lc, found)
		oids = lappend(oids, psprintf("%u", ((PgcFound *) lfirst(lc))->table->relid));
	params[0] = pgc_tables_array(oids);
	res = pgc_pq_exec(w->source, "source",
					  "SELECT DISTINCT s.ord, r.ord"
					  "  FROM pg_catalog.pg_constraint k,"
					  "       pg_catalog.unnest($1::pg_catalog.oid[]) WITH ORDINALITY s(oid, ord),"
					  "       pg_catalog.unnest($1::pg_catalog.oid[]) WITH ORDINALITY r(oid, ord)"
					  " WHERE k.contype OPERATOR(pg_catalog.=) 'f'"
					  "   AND coalesce(pg_catalog.pg_partition_root(k.conrelid)::pg_catalog.oid, k.conrelid)"
					  "       OPERATOR(pg_catalog.=) s.oid"
					  "   AND coalesce(pg_catalog.pg_partition_root(k.confrelid)::pg_catalog.oid, k.confrelid)"
					  "       OPERATOR(pg_catalog.=) r.oid"
					  "   AND s.oid OPERATOR(pg_catalog.<>) r.oid",
					  1, params);
	parents = palloc0(sizeof(int) * n);
	placed = palloc0(sizeof(bool) * n);
	edge_child = palloc(sizeof(int) * (PQntuples(res) + 1));
	edge_parent = palloc(sizeof(int) * (PQntuples(res) + 1));
	for (int i = 0; i < PQntuples(res); i++)
	{
		if (PQgetisnull(res, i, 0) || PQgetisnull(res, i, 1))
			continue;
		edge_child[nedges] = atoi(PQgetvalue(res, i, 0)) - 1;
		edge_parent[nedges] = atoi(PQgetvalue(res, i, 1)) - 1;
		if (edge_child[nedges] < 0 || edge_child[nedges] >= n ||
			edge_parent[nedges] < 0 || edge_parent[nedges] >= n)
			continue;
		parents[edge_child[nedges]]++;
		nedges++;
	}
	PQclear(res);

	/* place, in the tables' order, the first one whose parents are placed */
	while (list_length(ordered) < n)
	{
		int			next = -1;

		for (int i = 0; i < n && next < 0; i++)
			if (!placed[i] && parents[i] == 0)
				next = i;
		/* a cycle: the first one left */
		for (int i = 0; i < n && next < 0; i++)
			if (!placed[i])
				next = i;
		placed[next] = true;
		ordered = lappend(ordered, list_nth(found, next));
		for (int e = 0; e < nedges; e++)
			if (edge_parent[e] == next && !placed[edge_child[e]])
				parents[edge_child[e]]--;
	}
	return ordered;
}

/*
 * Did a table the pipeline recorded under name (its name when first seen,
 * quoted where needed) answer to the item pat?  Then the item named it.
 */
static bool
pgc_tables_recorded_as(const char *name, const PgcTablePattern *pat)
{
	PgcTablePattern *was;
	const char *p = name;
	const char *detail;

	if (name == NULL)
		return false;
	was = pgc_pattern_parse_item(&p, &detail);
	return was != NULL && was->schema != NULL &&
		pgc_pattern_match(pat, was->schema, was->table);
}

/*
 * A found table from row i of the resolution query, with what the
 * destination recorded of it (rec, a result of pgc_tables_recorded(), or
 * NULL); item_found marks the items that select it.
 */
static PgcFound *
pgc_tables_found(PGresult *res, int i, PGresult *rec, List *patterns,
				 bool *item_found)
{
	PgcFound   *f = palloc0(sizeof(PgcFound));
	PgcTable   *t = palloc0(sizeof(PgcTable));

	f->table = t;
	t->relid = (Oid) strtoul(PQgetvalue(res, i, 0), NULL, 10);
	f->schema = pstrdup(PQgetvalue(res, i, 1));
	f->name = pstrdup(PQgetvalue(res, i, 2));
	t->relkind = PQgetvalue(res, i, 3)[0];
	f->replident = PQgetvalue(res, i, 4)[0];
	t->qualified = pstrdup(quote_qualified_identifier(f->schema, f->name));
	t->target = t->qualified;
	t->state = PGC_TABLE_SNAPSHOT;
	if (!PQgetisnull(res, i, 5))
	{
		/* {1,3}: the items that select it */
		char	   *p = PQgetvalue(res, i, 5);

		while (*p)
		{
			if (*p >= '0' && *p <= '9')
			{
				long		item = strtol(p, &p, 10);

				if (item >= 1 && item <= list_length(patterns))
				{
					PgcTablePattern *pat = list_nth(patterns, item - 1);

					item_found[item - 1] = true;
					if (!pat->schema_glob && !pat->table_glob)
						f->named = true;
				}
			}
			else
				p++;
		}
	}
	f->all = pgc_tables_split(res, i, 6);
	f->pkey = pgc_tables_split(res, i, 7);
	f->identkey = pgc_tables_split(res, i, 8);

	for (int r = 0; rec != NULL && r < PQntuples(rec); r++)
	{
		if (PQgetisnull(rec, r, 0) ||
			strtoul(PQgetvalue(rec, r, 0), NULL, 10) != t->relid)
			continue;
		f->recorded_name = PQgetisnull(rec, r, 1) ? NULL : pstrdup(PQgetvalue(rec, r, 1));
		f->recorded_state = PQgetisnull(rec, r, 2) ? NULL : pstrdup(PQgetvalue(rec, r, 2));
		if (!PQgetisnull(rec, r, 3))
			f->recorded_cut = pgc_tables_lsn(PQgetvalue(rec, r, 3));
		t->late = !PQgetisnull(rec, r, 4) && strcmp(PQgetvalue(rec, r, 4), "t") == 0;
	}
	if (f->recorded_name != NULL)
		t->target = f->recorded_name;
	pgc_tables_meta(t);
	return f;
}

/*
 * Look one table up on the source by OID, for a table the stream meets
 * that the pipeline does not know yet (a late table): whether the items
 * select it now (*selected), its key and columns settled and its checks
 * run.  A table an item names that cannot be replicated is an ERROR; one
 * only patterns select is SKIPPED, with a WARNING.  A table no item
 * selects is returned SKIPPED, unchecked and unwarned.  NULL if the table
 * is gone.
 */
PgcTable *
pgc_tables_find(PgcWorker *w, Oid relid, bool *selected)
{
	List	   *patterns = NIL;
	ListCell   *lc;
	PGresult   *res;
	PgcFound   *f = NULL;
	bool	   *item_found;
	char	   *only = psprintf("%u", relid);

	foreach(lc, w->src->tables)
		patterns = lappend(patterns, pgc_tables_parse(lfirst(lc)));
	item_found = palloc0(sizeof(bool) * (list_length(patterns) + 1));
	res = pgc_tables_query(w, patterns, psprintf("{%u}", relid), only);
	for (int i = 0; i < PQntuples(res) && f == NULL; i++)
		if (!PQgetisnull(res, i, 0) && !PQgetisnull(res, i, 1) &&
			!PQgetisnull(res, i, 2) && !PQgetisnull(res, i, 3) &&
			!PQgetisnull(res, i, 4) && strcmp(PQgetvalue(res, i, 0), only) == 0)
			f = pgc_tables_found(res, i, NULL, patterns, item_found);
	PQclear(res);
	*selected = false;
	if (f == NULL)
		return NULL;
	for (int i = 0; i < list_length(patterns); i++)
		*selected |= item_found[i];
	if (!*selected)
		f->table->state = PGC_TABLE_SKIPPED;
	else if (f->named)
		pgc_tables_check(w, f);
	else if (!pgc_tables_check_matched(w, f))
		f->table->state = PGC_TABLE_SKIPPED;
	return f->table;
}

/*
 * Resolve the source's "tables" into w->tables: every table its items
 * select now, and every table it recorded before (followed by OID, also
 * renamed), each with its key and columns and its state: to snapshot,
 * streaming (its snapshot applied), skipped, or dropped (recorded, and no
 * longer on the source).  A table an item names that does not exist (and
 * was not followed), or that cannot be replicated, is an ERROR.  Tables
 * come parents first.
 */
void
pgc_tables_resolve(PgcWorker *w)
{
	List	   *patterns = NIL;
	List	   *found = NIL;
	List	   *recorded_oids = NIL;
	List	   *dropped = NIL;
	List	   *pending_drops = NIL;
	PGresult   *rec;
	PGresult   *res;
	ListCell   *lc;
	bool	   *item_found;

	foreach(lc, w->src->tables)
		patterns = lappend(patterns, pgc_tables_parse(lfirst(lc)));
	item_found = palloc0(sizeof(bool) * (list_length(patterns) + 1));

	rec = pgc_tables_recorded(w);
	for (int i = 0; i < PQntuples(rec); i++)
		if (!PQgetisnull(rec, i, 0))
			recorded_oids = lappend(recorded_oids, PQgetvalue(rec, i, 0));
	res = pgc_tables_query(w, patterns, pgc_tables_array(recorded_oids), NULL);
	for (int i = 0; i < PQntuples(res); i++)
	{
		if (PQgetisnull(res, i, 0) || PQgetisnull(res, i, 1) ||
			PQgetisnull(res, i, 2) || PQgetisnull(res, i, 3) || PQgetisnull(res, i, 4))
			continue;
		found = lappend(found, pgc_tables_found(res, i, rec, patterns, item_found));
	}

	/* recorded, and gone from the source: dropped */
	for (int r = 0; r < PQntuples(rec); r++)
	{
		Oid			relid;
		bool		there = false;
		PgcTable   *t;

		if (PQgetisnull(rec, r, 0) || PQgetisnull(rec, r, 1))
			continue;
		relid = (Oid) strtoul(PQgetvalue(rec, r, 0), NULL, 10);
		foreach(lc, found)
			there |= ((PgcFound *) lfirst(lc))->table->relid == relid;
		if (there || strcmp(PQgetvalue(rec, r, 2), "skipped") == 0)
			continue;
		t = palloc0(sizeof(PgcTable));
		t->relid = relid;
		t->qualified = pstrdup(PQgetvalue(rec, r, 1));
		t->target = t->qualified;
		t->relkind = 'r';
		t->state = PGC_TABLE_DROPPED;
		t->cut = pgc_tables_lsn(PQgetvalue(rec, r, 3));
		t->late = strcmp(PQgetvalue(rec, r, 4), "t") == 0;
		pgc_tables_meta(t);
		dropped = lappend(dropped, t);
		if (strcmp(PQgetvalue(rec, r, 2), "dropped") != 0)
			pending_drops = lappend(pending_drops, t);
	}
	PQclear(res);

	/* a table an item names must exist, or have been followed */
	foreach(lc, patterns)
	{
		PgcTablePattern *pat = lfirst(lc);
		bool		followed = false;

		if (pat->schema_glob || pat->table_glob || item_found[foreach_current_index(lc)])
			continue;
		for (int r = 0; r < PQntuples(rec) && !followed; r++)
			followed = pgc_tables_recorded_as(PQgetisnull(rec, r, 1) ? NULL :
											  PQgetvalue(rec, r, 1), pat);
		if (!followed)
		{
			PQclear(rec);
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("source table \"%s\" does not exist", pat->text),
					 errdetail("The source's \"tables\" names it."),
					 errhint("Create the table, or leave it out of \"tables\", then run pgconduit.start_pipeline('%s').",
							 w->name)));
		}
	}
	PQclear(rec);

	/* checks: a named table must pass them, a matched one is skipped */
	w->tables = NIL;
	foreach(lc, pgc_tables_order(w, found))
	{
		PgcFound   *f = lfirst(lc);
		PgcTable   *t = f->table;
		bool		applied = f->recorded_state != NULL &&
			(strcmp(f->recorded_state, "streaming") == 0 ||
			 strcmp(f->recorded_state, "done") == 0);

		if (f->named || applied)
			pgc_tables_check(w, f);
		else if (!pgc_tables_check_matched(w, f))
			t->state = PGC_TABLE_SKIPPED;
		if (applied)
		{
			/* its snapshot is applied: its changes from its cut on apply */
			t->state = PGC_TABLE_STREAMING;
			t->cut = f->recorded_cut;
		}
		w->tables = lappend(w->tables, t);
	}
	w->tables = list_concat(w->tables, dropped);

	/* dropped while no worker ran: said once, and recorded */
	foreach(lc, pending_drops)
	{
		PgcTable   *t = lfirst(lc);

		ereport(WARNING,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source table %s of pipeline \"%s\" was dropped", t->target, w->name),
				 errdetail("The table with OID %u no longer exists on the source; the pipeline goes on with its other tables.",
						   t->relid)));
		pgc_tables_record(w, t);
	}
}

/*
 * Record table t's state and cut, and the rows of a snapshot just taken
 * (rows, or -1 to keep those recorded), in the destination's
 * pgconduit.progress_table, in the destination's current transaction.
 */
static void
pgc_tables_record_rows(PgcWorker *w, PgcTable *t, int64 rows_copied)
{
	const char *params[7];
	char		relid[12];
	char		cut[32];
	char		rows[32];

	params[0] = w->pipeline_id;
	params[1] = pgc_table_oid(t, relid);
	params[2] = t->target;
	switch (t->state)
	{
		case PGC_TABLE_SNAPSHOT:
			params[3] = "snapshot";
			break;
		case PGC_TABLE_STREAMING:
			params[3] = w->src->cdc ? "streaming" : "done";
			break;
		case PGC_TABLE_SKIPPED:
			params[3] = "skipped";
			break;
		case PGC_TABLE_DROPPED:
			params[3] = "dropped";
			break;
	}
	snprintf(cut, sizeof(cut), "%X/%X", LSN_FORMAT_ARGS(t->cut));
	params[4] = t->state == PGC_TABLE_SKIPPED ? NULL : cut;
	snprintf(rows, sizeof(rows), INT64_FORMAT, rows_copied);
	params[5] = rows_copied >= 0 ? rows : NULL;
	params[6] = t->late ? "true" : "false";
	PQclear(pgc_pq_exec(w->dest, "destination",
						"SELECT pgconduit._set_progress_table($1, $2::pg_catalog.oid, $3, $4,"
						"       $5::pg_catalog.pg_lsn, $6::pg_catalog.int8, $7::pg_catalog.bool)",
						7, params));
}

/*
 * Record table t's state and cut in the destination's
 * pgconduit.progress_table, in the destination's current transaction.
 */
void
pgc_tables_record(PgcWorker *w, PgcTable *t)
{
	pgc_tables_record_rows(w, t, -1);
}

/*
 * Take table t's snapshot and apply it in a destination transaction of its
 * own, which ends by recording the table as applied, with its cut: a crash
 * before that commit leaves nothing of the table behind, and it is copied
 * again; after it, never again.  The destination connection must be idle.
 * Returns the cut.
 */
XLogRecPtr
pgc_tables_snapshot_one(PgcWorker *w, PgcTable *t)
{
	char		phase[sizeof(w->phase)];
	char		position[sizeof(w->position)];

	/* snapshot records move the position; the stream's must stay */
	strlcpy(phase, w->phase, sizeof(phase));
	strlcpy(position, w->position, sizeof(position));
	pgstat_report_activity(STATE_RUNNING, psprintf("snapshot of %s", t->qualified));
	pgc_pq_command(w->dest, "destination", "BEGIN");
	t->cut = pgc_snapshot_table(w, t);
	t->state = PGC_TABLE_STREAMING;
	pgc_tables_record_rows(w, t, t->snapshot_rows);
	if (strcmp(phase, "cdc") == 0)
		pgc_set_progress(w, phase, position);
	pgc_pq_command(w->dest, "destination", "COMMIT");
	pgc_snapshot_committed(t);
	strlcpy(w->phase, phase, sizeof(w->phase));
	strlcpy(w->position, position, sizeof(w->position));
	return t->cut;
}

/*
 * The snapshot phase of a source with "tables": every table still to copy
 * is copied on its own, each with its own brief lock, cut and destination
 * transaction, parents first; the tables skipped are recorded.  Then the
 * pipeline's position becomes the earliest cut of all its tables, so that
 * the stream starts before every change a table's snapshot lacks (the
 * stream drops a table's changes committed before its own cut).  With
 * "snapshot" off, no table is copied and every change from the slot's
 * start applies.  Tables recorded already are not copied again.
 */
void
pgc_tables_snapshot(PgcWorker *w)
{
	ListCell   *lc;
	XLogRecPtr	earliest = InvalidXLogRecPtr;
	bool		first_run = (w->phase[0] == '\0' || strcmp(w->phase, "snapshot") == 0);
	bool		unrecorded = false;
	char		position[PGC_POSITION_LEN + 1];

	/* tables without a snapshot, and tables skipped: recorded at once */
	foreach(lc, w->tables)
	{
		PgcTable   *t = lfirst(lc);

		if (t->state == PGC_TABLE_SKIPPED ||
			(t->state == PGC_TABLE_SNAPSHOT && !w->src->snapshot))
			unrecorded = true;
	}
	if (unrecorded)
	{
		pgc_pq_command(w->dest, "destination", "BEGIN");
		foreach(lc, w->tables)
		{
			PgcTable   *t = lfirst(lc);

			if (t->state == PGC_TABLE_SNAPSHOT && !w->src->snapshot)
			{
				pgc_table_set_state(t, PGC_TABLE_STREAMING);
				t->cut = InvalidXLogRecPtr;
			}
			else if (t->state != PGC_TABLE_SKIPPED)
				continue;
			pgc_tables_record(w, t);
		}
		pgc_pq_command(w->dest, "destination", "COMMIT");
	}

	foreach(lc, w->tables)
	{
		PgcTable   *t = lfirst(lc);

		if (t->state == PGC_TABLE_SNAPSHOT)
			pgc_tables_snapshot_one(w, t);
	}

	if (!first_run)
		return;
	foreach(lc, w->tables)
	{
		PgcTable   *t = lfirst(lc);

		if ((t->state == PGC_TABLE_STREAMING || t->state == PGC_TABLE_DROPPED) &&
			(earliest == InvalidXLogRecPtr || t->cut < earliest))
			earliest = t->cut;
	}
	pgc_proto_position(position, earliest, 0);
	pgc_set_progress(w, w->src->cdc ? "cdc" : "done", position);
	SpinLockAcquire(&w->slot->mutex);
	w->slot->marker_lsn = Max(w->slot->marker_lsn, earliest);
	strlcpy(w->slot->applied_position, position, PGC_POSITION_LEN + 1);
	SpinLockRelease(&w->slot->mutex);
	pgc_status_changed();
	pgstat_report_activity(STATE_RUNNING, w->src->cdc ? "streaming changes" : NULL);
}

/*
 * Keep the publication of a source with "tables" in step with its tables:
 * every table it replicates, FOR TABLE ONLY (a partitioned table with its
 * partitions), and no other, when pgconduit made it; a table skipped, and
 * so one without a replica identity, is never in it, since its UPDATE and
 * DELETE would then fail.  A publication the user made is not altered: it
 * must publish every table and every kind of change.  The publication is
 * no filter of the stream; it makes the source enforce the tables'
 * replica identities.
 */
void
pgc_tables_publication(PgcWorker *w)
{
	PgcSourceConfig *src = w->src;
	const char *params[3];
	PGresult   *res;
	List	   *oids = NIL;
	List	   *missing = NIL;
	List	   *extra = NIL;
	ListCell   *lc;
	bool		ours;
	bool		all_actions;
	char	   *comment = psprintf("created by pgconduit for pipeline %s", w->name);

	foreach(lc, w->tables)
	{
		PgcTable   *t = lfirst(lc);

		if (t->state == PGC_TABLE_SNAPSHOT || t->state == PGC_TABLE_STREAMING)
			oids = lappend(oids, psprintf("%u", t->relid));
	}
	params[0] = src->publication_name;
	params[1] = pgc_tables_array(oids);
	params[2] = comment;
	/* each wanted table it lacks, then each table it has and should not */
	res = pgc_pq_exec(w->source, "source",
					  "SELECT p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate,"
					  "       pg_catalog.obj_description(p.oid, 'pg_publication') IS NOT DISTINCT FROM $3,"
					  "       x.missing, x.oid, x.qualified, x.relkind"
					  "  FROM pg_catalog.pg_publication p"
					  "  LEFT JOIN LATERAL ("
					  "    SELECT true AS missing, c.oid, c.relkind,"
					  "           pg_catalog.format('%I.%I', n.nspname, c.relname) AS qualified"
					  "      FROM pg_catalog.unnest($2::pg_catalog.oid[]) w(oid)"
					  "      JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) w.oid"
					  "      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					  "     WHERE NOT p.puballtables"
					  "       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel r"
					  "                        WHERE r.prpubid OPERATOR(pg_catalog.=) p.oid"
					  "                          AND r.prrelid OPERATOR(pg_catalog.=) c.oid)"
					  "       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace s"
					  "                        WHERE s.pnpubid OPERATOR(pg_catalog.=) p.oid"
					  "                          AND s.pnnspid OPERATOR(pg_catalog.=) c.relnamespace)"
					  "    UNION ALL"
					  "    SELECT false, c.oid, c.relkind,"
					  "           pg_catalog.format('%I.%I', n.nspname, c.relname)"
					  "      FROM pg_catalog.pg_publication_rel r"
					  "      JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.prrelid"
					  "      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					  "     WHERE r.prpubid OPERATOR(pg_catalog.=) p.oid"
					  "       AND r.prrelid OPERATOR(pg_catalog.<>) ALL ($2::pg_catalog.oid[])"
					  "    ORDER BY 1 DESC, 4) x ON true"
					  " WHERE p.pubname OPERATOR(pg_catalog.=) $1", 3, params);
	if (PQntuples(res) == 0)
	{
		StringInfoData sql;
		bool		first = true;

		PQclear(res);
		/* with no table yet, a publication that names none */
		initStringInfo(&sql);
		appendStringInfo(&sql, "CREATE PUBLICATION %s", quote_identifier(src->publication_name));
		foreach(lc, w->tables)
		{
			PgcTable   *t = lfirst(lc);

			if (t->state != PGC_TABLE_SNAPSHOT && t->state != PGC_TABLE_STREAMING)
				continue;
			appendStringInfo(&sql, "%s%s%s", first ? " FOR TABLE " : ", ",
							 t->relkind == 'r' ? "ONLY " : "", t->qualified);
			first = false;
		}
		appendStringInfo(&sql, "; COMMENT ON PUBLICATION %s IS %s",
						 quote_identifier(src->publication_name), quote_literal_cstr(comment));
		pgc_pq_command(w->source, "source", sql.data);
		return;
	}
	if (PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1))
	{
		PQclear(res);
		elog(ERROR, "could not read publication \"%s\" on the source", src->publication_name);
	}
	all_actions = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	ours = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	for (int i = 0; i < PQntuples(res); i++)
	{
		char	   *name;

		if (PQgetisnull(res, i, 2) || PQgetisnull(res, i, 4) || PQgetisnull(res, i, 5))
			continue;
		name = psprintf("%s%s", PQgetvalue(res, i, 5)[0] == 'r' ? "ONLY " : "",
						PQgetvalue(res, i, 4));
		if (strcmp(PQgetvalue(res, i, 2), "t") == 0)
			missing = lappend(missing, name);
		else
			extra = lappend(extra, name);
	}
	PQclear(res);
	if (!all_actions)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("publication \"%s\" does not publish every kind of change",
						src->publication_name),
				 errdetail("The pipeline needs inserts, updates, deletes and truncates; changes the publication leaves out would be lost."),
				 errhint("Run ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate') on the source, or name another publication in \"publication_name\".",
						 quote_identifier(src->publication_name))));
	if (!ours)
	{
		if (missing != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("publication \"%s\" does not include table %s",
							src->publication_name,
							strncmp(linitial(missing), "ONLY ", 5) == 0 ?
							(char *) linitial(missing) + 5 : (char *) linitial(missing)),
					 errdetail("The source's publication exists but does not publish every table of the source's \"tables\"."),
					 errhint("Run ALTER PUBLICATION %s ADD TABLE %s on the source, or name another publication in \"publication_name\".",
							 quote_identifier(src->publication_name),
							 pgc_tables_join(missing))));
		return;
	}
	if (missing != NIL)
		pgc_pq_command(w->source, "source",
					   psprintf("ALTER PUBLICATION %s ADD TABLE %s",
								quote_identifier(src->publication_name),
								pgc_tables_join(missing)));
	if (extra != NIL)
		pgc_pq_command(w->source, "source",
					   psprintf("ALTER PUBLICATION %s DROP TABLE %s",
								quote_identifier(src->publication_name),
								pgc_tables_join(extra)));
}

/*
 * Add one table to the publication pgconduit made for the pipeline (a
 * table that appeared while it streams); a table skipped never is.  A
 * publication the user made must have it already.
 */
void
pgc_tables_publish(PgcWorker *w, PgcTable *t)
{
	if (t->state != PGC_TABLE_SNAPSHOT && t->state != PGC_TABLE_STREAMING)
		return;
	pgc_tables_publication(w);
}
