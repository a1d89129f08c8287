/*-------------------------------------------------------------------------
 *
 * write_table.c
 *	  The destination's per-table cache: columns, converters and prepared
 *	  statements, and the execution of those statements.
 *
 * For each destination table the session keeps its columns (found by name
 * through a small open-addressing hash), a converter per column, and one
 * prepared statement per (operation, key columns, columns given): a
 * multi-row INSERT or INSERT ... ON CONFLICT DO UPDATE that reads its rows
 * from pgconduit._write_rows() (and passes each through the row counter
 * pgconduit._write_at()), a multi-row DELETE ... USING of the keys read
 * the same way, or a one-row UPDATE by key.  The SQL is
 * generated once, with every identifier quoted and every name qualified,
 * prepared with SPI_prepare_cursor() and kept with SPI_keepplan(); the
 * plan cache replans it when the table changes.
 *
 * A relcache invalidation marks the table's entry stale; it is rebuilt at
 * its next use.  When the columns are unchanged the statements survive (an
 * index built, a VACUUM), otherwise they are freed and prepared anew.  An
 * entry is only rebuilt between statements of the outermost write; in a
 * nested write (a trigger or a domain check calling pgconduit.write()) the
 * old statements and memory are parked and freed by the next outermost
 * call, since the outer call may still be using them.
 *
 * Statements run through the plan cache and the executor directly rather
 * than through SPI_execute_plan(), so that an error's context names the
 * record, not the generated SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "write_int.h"

static HTAB *pgcw_tables = NULL;
static MemoryContext pgcw_cache_cxt = NULL;
static bool pgcw_stale_entries = false;

/* statements and memory waiting for the outermost call to free them */
static List *pgcw_parked_plans = NIL;
static List *pgcw_parked_cxts = NIL;

static void pgcw_relcache_callback(Datum arg, Oid relid);
static void table_build(PgcwTable *t);
static void table_drop_plans(PgcwTable *t);
static void park_or_free_cxt(MemoryContext cxt);

/* set up the cache and its invalidation callback on first use */
static void
cache_init(void)
{
	HASHCTL		ctl;

	pgcw_cache_cxt = AllocSetContextCreate(CacheMemoryContext,
										   "pgconduit write cache",
										   ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(PgcwTable);
	ctl.hcxt = pgcw_cache_cxt;
	pgcw_tables = hash_create("pgconduit write tables", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(pgcw_relcache_callback, (Datum) 0);
}

/* relcache invalidation: mark the table (or all tables) stale */
static void
pgcw_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	PgcwTable  *t;

	if (pgcw_tables == NULL)
		return;
	if (OidIsValid(relid))
	{
		t = hash_search(pgcw_tables, &relid, HASH_FIND, NULL);
		if (t)
			t->valid = false;
	}
	else
	{
		hash_seq_init(&seq, pgcw_tables);
		while ((t = hash_seq_search(&seq)) != NULL)
			t->valid = false;
	}
	pgcw_stale_entries = true;
}

/*
 * The entry of a table if it is cached and current, else NULL; the caller
 * then finishes what it has in flight before pgcw_table_get() rebuilds it.
 */
PgcwTable *
pgcw_table_peek(Oid relid)
{
	PgcwTable  *t;

	if (pgcw_tables == NULL)
		return NULL;
	t = hash_search(pgcw_tables, &relid, HASH_FIND, NULL);
	return (t && t->valid) ? t : NULL;
}

/*
 * The cache entry of a table the caller has locked, built or rebuilt as
 * needed.
 */
PgcwTable *
pgcw_table_get(Oid relid)
{
	PgcwTable  *t;
	bool		found;

	if (pgcw_tables == NULL)
		cache_init();
	t = hash_search(pgcw_tables, &relid, HASH_ENTER, &found);
	if (!found)
	{
		t->valid = false;
		t->mcxt = NULL;
		t->plans_cxt = NULL;
		t->plans = NIL;
		t->last_plan = NULL;
		t->generation = 0;
	}
	if (!t->valid)
		table_build(t);
	return t;
}

/* is a type a domain (over domains) that does not allow nulls? */
static bool
type_is_not_null(Oid typid)
{
	for (;;)
	{
		HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
		Form_pg_type typ;
		bool		notnull;
		Oid			base;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for type %u", typid);
		typ = (Form_pg_type) GETSTRUCT(tup);
		notnull = typ->typtype == TYPTYPE_DOMAIN && typ->typnotnull;
		base = typ->typtype == TYPTYPE_DOMAIN ? typ->typbasetype : InvalidOid;
		ReleaseSysCache(tup);
		if (notnull)
			return true;
		if (!OidIsValid(base))
			return false;
		typid = base;
	}
}

/* do two column lists describe the same columns, types and names? */
static bool
columns_equal(PgcwColumn *a, PgcwColumn *b, int natts)
{
	int			i;

	for (i = 0; i < natts; i++)
	{
		if (a[i].dropped != b[i].dropped)
			return false;
		if (a[i].dropped)
			continue;
		if (strcmp(a[i].name, b[i].name) != 0 ||
			a[i].typid != b[i].typid || a[i].typmod != b[i].typmod ||
			a[i].collation != b[i].collation ||
			a[i].generated != b[i].generated ||
			a[i].identity != b[i].identity ||
			a[i].notnull != b[i].notnull ||
			a[i].hasdefault != b[i].hasdefault)
			return false;
	}
	return true;
}

/*
 * (Re)build a table's entry from its relcache entry.  Statements survive
 * when the name and the columns are unchanged.
 */
static void
table_build(PgcwTable *t)
{
	Relation	rel;
	TupleDesc	desc;
	MemoryContext cxt;
	MemoryContext old;
	PgcwColumn *cols;
	char	   *qualname;
	int			natts;
	int			size;
	int			i;
	bool		keep;
	bool		has_checks;

	rel = relation_open(t->relid, NoLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
	{
		char	   *name = pstrdup(RelationGetRelationName(rel));

		relation_close(rel, NoLock);
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", name),
				 errdetail("pgconduit.write() writes to tables and partitioned tables only.")));
	}

	cxt = AllocSetContextCreate(pgcw_cache_cxt, "pgconduit write table",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);

	desc = RelationGetDescr(rel);
	natts = desc->natts;
	qualname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										  RelationGetRelationName(rel));
	cols = palloc0(sizeof(PgcwColumn) * Max(natts, 1));
	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		PgcwColumn *c = &cols[i];

		c->attnum = att->attnum;
		c->dropped = att->attisdropped;
		if (c->dropped)
			continue;
		c->name = pstrdup(NameStr(att->attname));
		c->namelen = strlen(c->name);
		c->typid = att->atttypid;
		c->typmod = att->atttypmod;
		c->collation = att->attcollation;
		c->generated = att->attgenerated;
		c->identity = att->attidentity;
		c->hasdefault = att->atthasdef;
		c->notnull = att->attnotnull || type_is_not_null(c->typid) ||
			DomainHasConstraints(c->typid);
	}
	has_checks = desc->constr != NULL && desc->constr->num_check > 0;
	relation_close(rel, NoLock);

	/* the name hash: at least twice as many slots as columns */
	for (size = 16; size < natts * 2; size <<= 1)
		;
	t->byname = palloc0(sizeof(int16) * size);
	t->keypos = palloc0(sizeof(int16) * Max(natts, 1));
	t->afterpos = palloc0(sizeof(int16) * Max(natts, 1));
	t->hashmask = size - 1;
	for (i = 0; i < natts; i++)
	{
		uint32		h;

		if (cols[i].dropped)
			continue;
		h = hash_bytes((const unsigned char *) cols[i].name, cols[i].namelen);
		while (t->byname[h & t->hashmask] != 0)
			h++;
		t->byname[h & t->hashmask] = cols[i].attnum;
	}
	MemoryContextSwitchTo(old);

	keep = t->mcxt != NULL && t->natts == natts && t->has_checks == has_checks &&
		strcmp(t->qualname, qualname) == 0 &&
		columns_equal(t->cols, cols, natts);
	if (keep)
	{
		ListCell   *lc;

		/* indexes may have changed: look for the unique index again */
		foreach(lc, t->plans)
			((PgcwPlan *) lfirst(lc))->index_checked = false;
	}
	else
		table_drop_plans(t);
	if (t->mcxt)
		park_or_free_cxt(t->mcxt);

	t->mcxt = cxt;
	t->qualname = qualname;
	t->natts = natts;
	t->has_checks = has_checks;
	t->cols = cols;
	t->sigbytes = natts / 8 + 1;
	t->generation++;
	t->valid = true;
}

/* free a memory context now, or park it while a nested write runs */
static void
park_or_free_cxt(MemoryContext cxt)
{
	if (pgcw_depth > 1)
	{
		MemoryContext old = MemoryContextSwitchTo(pgcw_cache_cxt);

		pgcw_parked_cxts = lappend(pgcw_parked_cxts, cxt);
		MemoryContextSwitchTo(old);
	}
	else
		MemoryContextDelete(cxt);
}

/* forget a table's statements (freed now or parked) */
static void
table_drop_plans(PgcwTable *t)
{
	ListCell   *lc;

	foreach(lc, t->plans)
	{
		PgcwPlan   *p = lfirst(lc);

		if (pgcw_depth > 1)
		{
			MemoryContext old = MemoryContextSwitchTo(pgcw_cache_cxt);

			pgcw_parked_plans = lappend(pgcw_parked_plans, p->plan);
			MemoryContextSwitchTo(old);
		}
		else
			SPI_freeplan(p->plan);
	}
	t->plans = NIL;
	t->last_plan = NULL;
	if (t->plans_cxt)
		park_or_free_cxt(t->plans_cxt);
	t->plans_cxt = NULL;
}

/*
 * At the start of an outermost write: free what nested writes parked, and
 * forget tables that no longer exist.
 */
void
pgcw_tables_cleanup(void)
{
	ListCell   *lc;

	Assert(pgcw_depth == 1);
	foreach(lc, pgcw_parked_plans)
		SPI_freeplan((SPIPlanPtr) lfirst(lc));
	list_free(pgcw_parked_plans);
	pgcw_parked_plans = NIL;
	foreach(lc, pgcw_parked_cxts)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(pgcw_parked_cxts);
	pgcw_parked_cxts = NIL;

	if (pgcw_stale_entries && pgcw_tables != NULL)
	{
		HASH_SEQ_STATUS seq;
		PgcwTable  *t;

		pgcw_stale_entries = false;
		hash_seq_init(&seq, pgcw_tables);
		while ((t = hash_seq_search(&seq)) != NULL)
		{
			if (t->valid ||
				SearchSysCacheExists1(RELOID, ObjectIdGetDatum(t->relid)))
				continue;
			table_drop_plans(t);
			if (t->mcxt)
				MemoryContextDelete(t->mcxt);
			hash_search(pgcw_tables, &t->relid, HASH_REMOVE, NULL);
		}
	}
}

/* the column called name (len bytes, not terminated), or NULL */
PgcwColumn *
pgcw_column_by_name(PgcwTable *t, const char *name, int len)
{
	uint32		h = hash_bytes((const unsigned char *) name, len);

	for (;; h++)
	{
		int16		attnum = t->byname[h & t->hashmask];
		PgcwColumn *c;

		if (attnum == 0)
			return NULL;
		c = &t->cols[attnum - 1];
		if (c->namelen == len && memcmp(c->name, name, len) == 0)
			return c;
	}
}

/* a column's converter, set up on first use */
PgcwConverter *
pgcw_column_converter(PgcwTable *t, PgcwColumn *c)
{
	if (!c->conv_ready)
	{
		pgcw_converter_init(&c->conv, c->typid, c->typmod, t->mcxt);
		c->conv_ready = true;
	}
	return &c->conv;
}

/* "a, b" of the columns in attnums, quoted */
static char *
column_list(PgcwTable *t, AttrNumber *attnums, int n, const char *prefix)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s%s", i > 0 ? ", " : "", prefix,
						 quote_identifier(t->cols[attnums[i] - 1].name));
	return buf.data;
}

/*
 * Is there a unique index or constraint on exactly the columns keys[] that
 * can serve as ON CONFLICT arbiter?
 */
bool
pgcw_has_unique_index(Oid relid, const AttrNumber *keys, int nkeys)
{
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	bool		found = false;

	rel = relation_open(relid, NoLock);
	indexes = RelationGetIndexList(rel);
	relation_close(rel, NoLock);

	foreach(lc, indexes)
	{
		HeapTuple	tup;
		Form_pg_index idx;
		bool		match;

		tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		if (!HeapTupleIsValid(tup))
			continue;
		idx = (Form_pg_index) GETSTRUCT(tup);
		match = idx->indisunique && idx->indimmediate && idx->indisvalid &&
			idx->indnkeyatts == nkeys &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL);
		for (int i = 0; match && i < nkeys; i++)
		{
			bool		in_key = false;

			for (int j = 0; j < nkeys; j++)
				if (idx->indkey.values[i] == keys[j])
					in_key = true;
			match = in_key;
		}
		ReleaseSysCache(tup);
		if (match)
		{
			found = true;
			break;
		}
	}
	list_free(indexes);
	return found;
}

/*
 * May a group of upserts of new rows into t run as a plain INSERT, falling
 * back to the upsert on a unique violation?  Only where nothing but the
 * outcome for existing rows tells the two apart: no rules, no row
 * security, no statement-level UPDATE triggers or transition tables (an
 * upsert fires those), and the privileges an upsert needs.
 */
bool
pgcw_insert_may_serve(PgcwTable *t)
{
	Relation	rel = relation_open(t->relid, NoLock);
	TriggerDesc *trig = rel->trigdesc;
	bool		ok;

	ok = !rel->rd_rel->relhasrules && !rel->rd_rel->relrowsecurity &&
		(trig == NULL ||
		 !(trig->trig_update_before_statement || trig->trig_update_after_statement ||
		   trig->trig_update_old_table || trig->trig_update_new_table ||
		   trig->trig_insert_new_table)) &&
		pgcw_upsert_allowed(t->relid);
	relation_close(rel, NoLock);
	return ok;
}

/* Has the current user the table privileges an upsert needs? */
bool
pgcw_upsert_allowed(Oid relid)
{
	Oid			user = GetUserId();

	return pg_class_aclcheck(relid, user, ACL_INSERT) == ACLCHECK_OK &&
		pg_class_aclcheck(relid, user, ACL_UPDATE) == ACLCHECK_OK &&
		pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK;
}

/*
 * Raise an ERROR unless a unique index or constraint covers exactly the key
 * columns and can serve as ON CONFLICT arbiter.
 */
static void
check_unique_index(PgcwTable *t, PgcwPlan *p)
{
	bool		found = pgcw_has_unique_index(t->relid, p->keyattnums, p->nkeys);

	if (!found)
	{
		char	   *cols = column_list(t, p->keyattnums, p->nkeys, "");

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("table %s has no unique index on the key columns (%s)",
						t->qualname, cols),
				 errdetail("An upsert needs a unique index or constraint on exactly the columns of the record's key, not deferrable and without WHERE clause or expressions."),
				 errhint("Create one with: CREATE UNIQUE INDEX ON %s (%s);",
						 t->qualname, cols)));
	}
	p->index_checked = true;
}

/* OPERATOR(schema.name) of the equality operator of a column's type */
static char *
equality_operator(PgcwColumn *c)
{
	TypeCacheEntry *tce = lookup_type_cache(c->typid, TYPECACHE_EQ_OPR);
	HeapTuple	tup;
	Form_pg_operator op;
	char	   *res;

	if (!OidIsValid(tce->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an equality operator for type %s",
						format_type_be(c->typid)),
				 errdetail("Deleting by key compares the key column \"%s\" with =.",
						   c->name)));
	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(tce->eq_opr));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", tce->eq_opr);
	op = (Form_pg_operator) GETSTRUCT(tup);
	res = psprintf("OPERATOR(%s.%s)",
				   quote_identifier(get_namespace_name(op->oprnamespace)),
				   NameStr(op->oprname));
	ReleaseSysCache(tup);
	return res;
}

/* is attnum one of the n in attnums? */
static bool
attnum_in(AttrNumber *attnums, int n, AttrNumber attnum)
{
	int			i;

	for (i = 0; i < n; i++)
		if (attnums[i] == attnum)
			return true;
	return false;
}

/* the SQL type of a column, qualified, with its typmod */
static char *
column_type(PgcwColumn *c)
{
	return format_type_extended(c->typid, c->typmod,
								FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
}

/*
 * The condition that column c of pgc_s equals parameter $n: by the
 * equality operator of its type, or, for a type without one (json, point,
 * xml), by their text forms, which are equal for equal values.
 */
static char *
equal_condition(PgcwColumn *c, int n)
{
	TypeCacheEntry *tce = lookup_type_cache(c->typid, TYPECACHE_EQ_OPR);

	if (!OidIsValid(tce->eq_opr))
		return psprintf("pgc_s.%s::pg_catalog.text OPERATOR(pg_catalog.=) $%d::pg_catalog.text",
						quote_identifier(c->name), n);
	return psprintf("pgc_s.%s %s $%d", quote_identifier(c->name),
					equality_operator(c), n);
}

/*
 * The SQL of an UPDATE or DELETE of one row equal to an old row, for a
 * table without key: the first such row is found by its table and tuple
 * id, so that repeated rows change one at a time.  Parameters are the old
 * row's non-NULL values, then for an UPDATE the columns set, each in
 * attnum order.
 */
static char *
plan_sql_by_row(PgcwTable *t, PgcwPlan *p)
{
	StringInfoData sql;
	int			n = 0;
	int			i;

	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH pgc_o AS MATERIALIZED (SELECT pgc_s.tableoid AS o, pgc_s.ctid AS c FROM %s AS pgc_s WHERE ",
					 t->qualname);
	for (i = 0; i < p->nkeys; i++, n++)
		appendStringInfo(&sql, "%s%s", n > 0 ? " AND " : "",
						 equal_condition(&t->cols[p->keyattnums[i] - 1], n + 1));
	for (i = 0; i < p->nnulls; i++)
		appendStringInfo(&sql, "%spgc_s.%s IS NULL", n + i > 0 ? " AND " : "",
						 quote_identifier(t->cols[p->nullattnums[i] - 1].name));
	appendStringInfoString(&sql, " LIMIT 1) ");
	if (p->op == PGCW_OP_DELETE_ROW)
		appendStringInfo(&sql, "DELETE FROM %s AS pgc_t USING pgc_o", t->qualname);
	else
	{
		appendStringInfo(&sql, "UPDATE %s AS pgc_t SET ", t->qualname);
		for (i = 0; i < p->ncols; i++, n++)
			appendStringInfo(&sql, "%s%s = $%d", i > 0 ? ", " : "",
							 quote_identifier(t->cols[p->attnums[i] - 1].name), n + 1);
		appendStringInfoString(&sql, " FROM pgc_o");
	}
	appendStringInfoString(&sql, " WHERE pgc_t.tableoid OPERATOR(pg_catalog.=) pgc_o.o AND pgc_t.ctid OPERATOR(pg_catalog.=) pgc_o.c");
	return sql.data;
}

/* the SQL text of a statement */
static char *
plan_sql(PgcwTable *t, PgcwPlan *p)
{
	StringInfoData sql;
	int			i;

	initStringInfo(&sql);
	if (p->op == PGCW_OP_DELETE)
	{
		/*
		 * The keys come through a MATERIALIZED CTE, so that each is read
		 * (and counted by _write_at()) exactly once, whichever side of the
		 * join the planner puts it on.
		 */
		appendStringInfoString(&sql, "WITH pgc_k AS MATERIALIZED (SELECT ");
		for (i = 0; i < p->nkeys; i++)
			appendStringInfo(&sql, "%sr.c%d", i > 0 ? ", " : "", i + 1);
		appendStringInfoString(&sql, " FROM pgconduit._write_rows($1) AS r(");
		for (i = 0; i < p->nkeys; i++)
			appendStringInfo(&sql, "%sc%d %s", i > 0 ? ", " : "", i + 1,
							 column_type(&t->cols[p->keyattnums[i] - 1]));
		appendStringInfo(&sql, ") WHERE pgconduit._write_at()) DELETE FROM %s AS pgc_t USING pgc_k WHERE ",
						 t->qualname);
		for (i = 0; i < p->nkeys; i++)
		{
			PgcwColumn *c = &t->cols[p->keyattnums[i] - 1];

			appendStringInfo(&sql, "%spgc_t.%s %s pgc_k.c%d", i > 0 ? " AND " : "",
							 quote_identifier(c->name), equality_operator(c),
							 i + 1);
		}
		return sql.data;
	}

	if (PGCW_OP_BY_ROW(p->op))
		return plan_sql_by_row(t, p);

	if (p->op == PGCW_OP_UPDATE || p->op == PGCW_OP_MOVE)
	{
		int			n = p->nkeys;

		/*
		 * UPDATE: parameters are the key columns, then the others, in
		 * attnum order; with no others, the first key column is set to
		 * itself, so the row is still locked and its triggers fire.  MOVE:
		 * the old key's columns, then every column given (the new key's
		 * among them).
		 */
		appendStringInfo(&sql, "UPDATE %s SET ", t->qualname);
		for (i = 0; i < p->ncols; i++)
		{
			PgcwColumn *c = &t->cols[p->attnums[i] - 1];

			if (p->op == PGCW_OP_UPDATE &&
				attnum_in(p->keyattnums, p->nkeys, c->attnum))
				continue;
			appendStringInfo(&sql, "%s%s = $%d", n > p->nkeys ? ", " : "",
							 quote_identifier(c->name), n + 1);
			n++;
		}
		if (n == p->nkeys)
			appendStringInfo(&sql, "%s = $1",
							 quote_identifier(t->cols[p->keyattnums[0] - 1].name));
		appendStringInfoString(&sql, " WHERE ");
		for (i = 0; i < p->nkeys; i++)
		{
			PgcwColumn *c = &t->cols[p->keyattnums[i] - 1];

			appendStringInfo(&sql, "%s%s %s $%d", i > 0 ? " AND " : "",
							 quote_identifier(c->name), equality_operator(c),
							 i + 1);
		}
		return sql.data;
	}

	appendStringInfo(&sql, "INSERT INTO %s ", t->qualname);
	if (p->ncols > 0)
		appendStringInfo(&sql, "(%s) ", column_list(t, p->attnums, p->ncols, ""));
	appendStringInfoString(&sql, "OVERRIDING SYSTEM VALUE SELECT ");
	for (i = 0; i < p->ncols; i++)
		appendStringInfo(&sql, "%sr.c%d", i > 0 ? ", " : "", i + 1);
	appendStringInfoString(&sql, " FROM pgconduit._write_rows($1) AS r(");
	for (i = 0; i < p->ncols; i++)
		appendStringInfo(&sql, "%sc%d %s", i > 0 ? ", " : "", i + 1,
						 column_type(&t->cols[p->attnums[i] - 1]));
	if (p->ncols == 0)
		appendStringInfoString(&sql, "c0 pg_catalog.bool");	/* all defaults */
	appendStringInfoString(&sql, ") WHERE pgconduit._write_at()");

	if (p->op == PGCW_OP_UPSERT)
	{
		int			nset = 0;

		appendStringInfo(&sql, " ON CONFLICT (%s) DO UPDATE SET ",
						 column_list(t, p->keyattnums, p->nkeys, ""));
		for (i = 0; i < p->ncols; i++)
		{
			PgcwColumn *c = &t->cols[p->attnums[i] - 1];
			bool		is_key = false;
			int			j;

			for (j = 0; j < p->nkeys; j++)
				if (p->keyattnums[j] == c->attnum)
					is_key = true;
			if (is_key)
				continue;
			appendStringInfo(&sql, "%s%s = EXCLUDED.%s", nset++ > 0 ? ", " : "",
							 quote_identifier(c->name), quote_identifier(c->name));
		}

		/*
		 * Only key columns given: the row is as the record says once it
		 * exists, but it is still an upsert, so set the key to itself (an
		 * UPDATE, with its privilege, lock and triggers).  A key that is
		 * GENERATED ALWAYS can't be set; then do nothing.
		 */
		for (i = 0; nset == 0 && i < p->nkeys; i++)
		{
			PgcwColumn *c = &t->cols[p->keyattnums[i] - 1];

			if (c->identity == ATTRIBUTE_IDENTITY_ALWAYS || c->generated)
				continue;
			appendStringInfo(&sql, "%s = EXCLUDED.%s",
							 quote_identifier(c->name), quote_identifier(c->name));
			nset++;
		}
		if (nset == 0)
		{
			sql.len -= strlen(" DO UPDATE SET ");
			sql.data[sql.len] = '\0';
			appendStringInfoString(&sql, " DO NOTHING");
		}
	}
	return sql.data;
}

/* prepare and keep the statement of a plan */
static void
plan_prepare(PgcwTable *t, PgcwPlan *p)
{
	char	   *sql = plan_sql(t, p);
	Oid		   *argtypes;
	int			nargs;
	int			i;
	SPIPlanPtr	plan;

	if (p->op == PGCW_OP_UPDATE)
	{
		int			n = 0;

		nargs = p->ncols;
		argtypes = palloc(sizeof(Oid) * nargs);
		for (i = 0; i < p->nkeys; i++)
			argtypes[n++] = t->cols[p->keyattnums[i] - 1].typid;
		for (i = 0; n < nargs && i < p->ncols; i++)
			if (!attnum_in(p->keyattnums, p->nkeys, p->attnums[i]))
				argtypes[n++] = t->cols[p->attnums[i] - 1].typid;
	}
	else if (p->op == PGCW_OP_MOVE || PGCW_OP_BY_ROW(p->op))
	{
		int			n = 0;

		/* MOVE: old key, then columns; by row: old values, columns set */
		nargs = p->nkeys + p->ncols;
		argtypes = palloc(sizeof(Oid) * nargs);
		for (i = 0; i < p->nkeys; i++)
			argtypes[n++] = t->cols[p->keyattnums[i] - 1].typid;
		for (i = 0; i < p->ncols; i++)
			argtypes[n++] = t->cols[p->attnums[i] - 1].typid;
	}
	else
	{
		nargs = 1;
		argtypes = palloc(sizeof(Oid));
		argtypes[0] = INT8OID;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	SPI_finish();

	p->plan = plan;
	p->source = linitial(SPI_plan_get_plan_sources(plan));
}

/*
 * The statement for a signature (see PgcwPlan), found or prepared.
 */
PgcwPlan *
pgcw_plan_get(PgcwTable *t, const char *sig)
{
	int			siglen = PGCW_SIG_LEN(sig[0], t->sigbytes);
	const char *keybits = sig + 1;
	const char *colbits = sig + 1 + t->sigbytes;
	const char *nullbits = sig + 1 + 2 * t->sigbytes;
	PgcwPlan   *p = t->last_plan;
	ListCell   *lc;
	MemoryContext old;
	int			a;

	/* the operation first: signatures of other operations may be shorter */
	if (p == NULL || p->sig[0] != sig[0] || memcmp(p->sig, sig, siglen) != 0)
	{
		p = NULL;
		foreach(lc, t->plans)
		{
			PgcwPlan   *q = lfirst(lc);

			if (q->sig[0] == sig[0] && memcmp(q->sig, sig, siglen) == 0)
			{
				p = q;
				break;
			}
		}
	}

	if (p == NULL)
	{
		if (t->plans_cxt == NULL)
			t->plans_cxt = AllocSetContextCreate(pgcw_cache_cxt,
												 "pgconduit write plans",
												 ALLOCSET_SMALL_SIZES);
		old = MemoryContextSwitchTo(t->plans_cxt);
		p = palloc0(sizeof(PgcwPlan));
		p->sig = palloc(siglen);
		memcpy(p->sig, sig, siglen);
		p->op = (PgcwOp) sig[0];
		p->attnums = palloc(sizeof(AttrNumber) * (t->natts + 1));
		p->keyattnums = palloc(sizeof(AttrNumber) * (t->natts + 1));
		if (PGCW_OP_BY_ROW(p->op))
			p->nullattnums = palloc(sizeof(AttrNumber) * (t->natts + 1));
		for (a = 1; a <= t->natts; a++)
		{
			if (keybits[a / 8] & (1 << (a % 8)))
				p->keyattnums[p->nkeys++] = a;
			if (colbits[a / 8] & (1 << (a % 8)))
				p->attnums[p->ncols++] = a;
			if (PGCW_OP_BY_ROW(p->op) && (nullbits[a / 8] & (1 << (a % 8))))
				p->nullattnums[p->nnulls++] = a;
		}

		if (p->op == PGCW_OP_UPSERT)
		{
			/*
			 * A missing column whose NULL may fail a constraint: NOT NULL or
			 * a domain's without default, or any under a CHECK constraint.
			 */
			for (a = 1; a <= t->natts; a++)
			{
				PgcwColumn *c = &t->cols[a - 1];

				if (!c->dropped && !c->generated && !c->identity &&
					!(colbits[a / 8] & (1 << (a % 8))) &&
					((c->notnull && !c->hasdefault) || t->has_checks))
					p->update_first = true;
			}
			/* with only key columns there is nothing to UPDATE */
			if (p->ncols == p->nkeys)
				p->update_first = false;
		}
		if (p->op == PGCW_OP_INSERT || p->op == PGCW_OP_UPSERT ||
			p->op == PGCW_OP_DELETE)
		{
			/* no columns given: rows of one unused column */
			p->rowdesc = CreateTemplateTupleDesc(Max(p->ncols, 1));
			for (a = 0; a < p->ncols; a++)
			{
				PgcwColumn *c = &t->cols[p->attnums[a] - 1];

				TupleDescInitEntry(p->rowdesc, a + 1, NULL, c->typid, c->typmod, 0);
			}
			if (p->ncols == 0)
				TupleDescInitEntry(p->rowdesc, 1, NULL, BOOLOID, -1, 0);
		}
		if (p->op == PGCW_OP_UPSERT)
		{
			p->key_hashable = true;
			p->keyhash = palloc0(sizeof(FmgrInfo) * p->nkeys);
			p->keycoll = palloc0(sizeof(Oid) * p->nkeys);
			for (a = 0; a < p->nkeys; a++)
			{
				PgcwColumn *c = &t->cols[p->keyattnums[a] - 1];
				TypeCacheEntry *tce;

				tce = lookup_type_cache(getBaseType(c->typid),
										TYPECACHE_HASH_PROC_FINFO);
				if (!OidIsValid(tce->hash_proc))
					p->key_hashable = false;
				else
					fmgr_info_copy(&p->keyhash[a], &tce->hash_proc_finfo,
								   t->plans_cxt);
				p->keycoll[a] = c->collation;
			}
		}
		MemoryContextSwitchTo(old);

		if (p->op == PGCW_OP_UPSERT)
			check_unique_index(t, p);
		plan_prepare(t, p);
		p->index_checked = true;

		old = MemoryContextSwitchTo(t->plans_cxt);
		t->plans = lappend(t->plans, p);
		MemoryContextSwitchTo(old);
	}
	else if (p->op == PGCW_OP_UPSERT && !p->index_checked)
		check_unique_index(t, p);

	t->last_plan = p;
	return p;
}

/*
 * Run a prepared statement with the given parameters, as SPI would with
 * read_only = false: in a new command, with a fresh snapshot in READ
 * COMMITTED.  Returns the rows it processed.
 */
uint64
pgcw_plan_execute(PgcwPlan *p, Datum *values, bool *nulls)
{
	CachedPlanSource *src = p->source;
	ParamListInfo params;
	CachedPlan *cplan;
	ListCell   *lc;
	uint64		processed = 0;
	int			i;

	params = makeParamList(src->num_params);
	for (i = 0; i < src->num_params; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = nulls[i];
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = src->param_types[i];
	}

	PushActiveSnapshot(GetTransactionSnapshot());
	cplan = GetCachedPlan(src, params, CurrentResourceOwner, NULL);
	foreach(lc, cplan->stmt_list)
	{
		PlannedStmt *stmt = lfirst_node(PlannedStmt, lc);
		QueryDesc  *qd;

		CommandCounterIncrement();
		UpdateActiveSnapshotCommandId();
		if (stmt->utilityStmt)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("rules that add utility statements are not supported by pgconduit.write()")));
		qd = CreateQueryDesc(stmt, src->query_string, GetActiveSnapshot(),
							 InvalidSnapshot, None_Receiver, params, NULL, 0);
		ExecutorStart(qd, 0);
		pgc_executor_run(qd, ForwardScanDirection, 0);
		ExecutorFinish(qd);
		processed += qd->estate->es_processed;
		ExecutorEnd(qd);
		FreeQueryDesc(qd);
	}
	ReleaseCachedPlan(cplan, CurrentResourceOwner);
	PopActiveSnapshot();
	return processed;
}

/*
 * TRUNCATE tables (qualified names) in one statement, with the caller's
 * privileges: tables that reference each other by foreign keys can only
 * be truncated together.
 */
void
pgcw_truncate(List *qualnames)
{
	StringInfoData buf;
	ListCell   *lc;
	char	   *sql;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "TRUNCATE ");
	foreach(lc, qualnames)
		appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 (char *) lfirst(lc));
	sql = buf.data;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not run \"%s\"", sql);
	SPI_finish();
}
