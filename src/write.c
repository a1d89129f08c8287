/*-------------------------------------------------------------------------
 *
 * write.c
 *	  pgconduit.write(): apply OpenCDC records to tables of this database.
 *
 * Each record names its table (metadata.table, parsed as regclass input
 * parses a name, or else metadata."opencdc.collection" taken as it is)
 * and its operation.  A table_override replaces that name: a fixed name,
 * or a template whose {schema} and {table} are filled in from it (see
 * template.c); each name is resolved once per call.  snapshot, create and
 * update records with a key are upserts (INSERT ... ON CONFLICT (key) DO UPDATE of the columns given),
 * without a key plain INSERTs; delete records delete by key (DELETE ...
 * USING the keys); truncate truncates (consecutive truncate records in one
 * statement, as tables that reference each other must be).  Key fields override payload fields of the same name, and
 * columns named in metadata."postgres.unchanged_toast" are left alone.
 * An update whose payload.before holds a different key updates the row of
 * the old key to the new one, as native logical replication does, so the
 * columns it does not carry keep their values; an update that leaves
 * columns unchanged updates the row of its key, and finding none is an
 * error, since it cannot be made from what the record carries.  An update
 * or delete without key, of a table with REPLICA IDENTITY FULL at the
 * source, changes one row equal to the whole old row of payload.before,
 * and finding none is an error.
 *
 * Records are applied in order, in the caller's transaction.  Consecutive
 * records for the same statement (table, operation, key columns, columns
 * given) are collected in a tuplestore and applied by one execution of a
 * prepared multi-row statement (see write_table.c), which reads them back
 * through pgconduit._write_rows().  An upsert group ends early when a key
 * repeats, since ON CONFLICT DO UPDATE cannot touch one row twice in a
 * statement; a delete group need not (a second delete of a row finds it
 * gone, as it would in a statement of its own).  An update that changes
 * the key, or leaves columns unchanged, runs on its own, after the group.
 * Each row passes pgconduit._write_at(), which counts them, so this
 * module knows which record the statement is at and every error - our own, a type's
 * input function, a constraint, a trigger - carries the context
 * "record N (table T[, column C])", N counting from 0 like jsonb's ->.
 *
 * Values are converted by write_convert.c.  Privileges are the caller's:
 * the statements run as the current user and the executor checks them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/regproc.h"
#include "utils/tuplestore.h"

#include "template.h"
#include "write.h"
#include "write_int.h"

/* rows one statement execution applies at most */
#define PGCW_GROUP_MAX 1000
/* slots of the repeated-key check, a power of two above 2 * PGCW_GROUP_MAX */
#define PGCW_DUP_SLOTS 2048

/* what a record asks for */
typedef enum RecordKind
{
	REC_WRITE,					/* snapshot, create, update */
	REC_UPDATE,					/* update: also look at payload.before */
	REC_DELETE,
	REC_TRUNCATE
} RecordKind;

/* a table name this call has resolved */
typedef struct NameEntry
{
	char	   *name;
	int			len;
	bool		exact;			/* opencdc.collection: not parsed */
	Oid			relid;
} NameEntry;

/* the state of one pgc_write_records() call */
typedef struct PgcwCall
{
	/* the record being applied, for the error context */
	int			index;			/* -1 before the first */
	const char *qualname;		/* its table once resolved */
	const char *column;			/* the column being converted */

	/* the group of rows in flight */
	PgcwTable  *gtable;
	PgcwPlan   *gplan;
	const char *gqualname;
	Tuplestorestate *gstore;
	int			gcount;
	int			gfirst;
	int			glast;
	uint32	   *dups;			/* key hashes in the group; 0 is empty */
	bool		gnew;			/* every row from a snapshot or create record */
	bool		executing;		/* the group's statement runs */
	int			seen;			/* rows it has read, end marker included */

	/* what pgconduit._write_rows() hands to the running statement */
	Tuplestorestate *handoff;
	TupleDesc	handoff_desc;
	int64		token;

	/* consecutive truncate records, applied together */
	List	   *truncs;			/* qualified names */
	int			trunc_last;		/* index of the last one */

	Oid			override_relid; /* table_override resolved, or InvalidOid */
	PgcTemplate *tmpl;			/* table_override, a template, or NULL */
	const char *tmpl_text;
	List	   *names;			/* NameEntry */
	NameEntry  *last_name;		/* the one found last */

	MemoryContext cxt;			/* the call */
	MemoryContext rowcxt;		/* reset for each record */

	/* scratch for one record, for tables of up to natts columns */
	int			natts;
	JsonbValue *vals;			/* by attnum - 1 */
	Datum	   *values;
	bool	   *nulls;
	Datum	   *pvalues;		/* row handed over, in plan column order */
	bool	   *pnulls;
	char	   *sig;			/* see PgcwPlan */
	char	   *delsig;
	char	   *toast;			/* bitmap of unchanged TOASTed columns */
	char	   *astext;			/* bitmap of json columns given as text */
	bool		has_astext;		/* the record names any */
} PgcwCall;

int			pgcw_depth = 0;
static PgcwCall *pgcw_current = NULL;
static int64 pgcw_token_counter = 0;

PG_FUNCTION_INFO_V1(pgconduit_write);
PG_FUNCTION_INFO_V1(pgconduit_write_override);
PG_FUNCTION_INFO_V1(pgconduit_write_rows);
PG_FUNCTION_INFO_V1(pgconduit_write_at);
PG_FUNCTION_INFO_V1(pgconduit_target_table);

static int64 write_all(PgcwCall *call, Jsonb *records, const char *table_override);

#define BIT_SET(bits, a)	((bits)[(a) / 8] |= (1 << ((a) % 8)))
#define BIT_IS_SET(bits, a) (((bits)[(a) / 8] & (1 << ((a) % 8))) != 0)

/* error context: which record, table and column */
static void
write_error_context(void *arg)
{
	PgcwCall   *call = (PgcwCall *) arg;

	if (call->executing)
	{
		/* at a row, or before the first, or after the last (AFTER triggers) */
		if (call->seen > 0 && call->seen <= call->gcount)
			errcontext("record %d (table %s)", call->gfirst + call->seen - 1,
					   call->gqualname);
		else if (call->gfirst == call->glast)
			errcontext("record %d (table %s)", call->gfirst, call->gqualname);
		else
			errcontext("records %d to %d (table %s)",
					   call->gfirst, call->glast, call->gqualname);
		return;
	}
	if (call->index < 0)
		return;
	if (call->qualname && call->column)
		errcontext("record %d (table %s, column %s)", call->index,
				   call->qualname, quote_identifier(call->column));
	else if (call->qualname)
		errcontext("record %d (table %s)", call->index, call->qualname);
	else
		errcontext("record %d", call->index);
}

/*
 * Apply records; see write.h.  Sets up the call, keeps track of nesting
 * (a trigger may call pgconduit.write() again) and runs write_all().
 */
int64
pgc_write_records(Jsonb *records, const char *table_override)
{
	PgcwCall   *saved = pgcw_current;
	PgcwCall	call;
	int64		n;

	memset(&call, 0, sizeof(call));
	call.index = -1;
	call.cxt = AllocSetContextCreate(CurrentMemoryContext, "pgconduit write",
									 ALLOCSET_DEFAULT_SIZES);
	call.rowcxt = AllocSetContextCreate(call.cxt, "pgconduit write record",
										ALLOCSET_DEFAULT_SIZES);

	pgcw_depth++;
	PG_TRY();
	{
		if (pgcw_depth == 1)
			pgcw_tables_cleanup();
		pgcw_current = &call;
		n = write_all(&call, records, table_override);
	}
	PG_FINALLY();
	{
		pgcw_depth--;
		pgcw_current = saved;
	}
	PG_END_TRY();

	MemoryContextDelete(call.cxt);
	return n;
}

/* make the scratch arrays fit a table of natts columns */
static void
ensure_scratch(PgcwCall *call, int natts)
{
	int			n;
	int			sigbytes;
	MemoryContext old;

	if (call->vals != NULL && natts <= call->natts)
		return;
	n = Max(natts, 16);
	sigbytes = n / 8 + 1;
	old = MemoryContextSwitchTo(call->cxt);
	call->vals = palloc(sizeof(JsonbValue) * n);
	call->values = palloc(sizeof(Datum) * n);
	call->nulls = palloc(sizeof(bool) * n);
	/* a MOVE passes the old key and every column */
	call->pvalues = palloc(sizeof(Datum) * (2 * n + 1));
	call->pnulls = palloc(sizeof(bool) * (2 * n + 1));
	/* the operations by old row have a third bitmap */
	call->sig = palloc(1 + 3 * sigbytes);
	call->delsig = palloc(1 + 3 * sigbytes);
	call->toast = palloc(sigbytes);
	call->astext = palloc(sigbytes);
	if (call->dups == NULL)
		call->dups = palloc0(sizeof(uint32) * PGCW_DUP_SLOTS);
	MemoryContextSwitchTo(old);
	call->natts = n;
}

/* Hand the group's rows to the next execution of p; returns its token */
static Datum
hand_over(PgcwCall *call, PgcwPlan *p)
{
	call->handoff = call->gstore;
	call->handoff_desc = p->rowdesc;
	call->token = ++pgcw_token_counter;
	call->seen = 0;
	return Int64GetDatum(call->token);
}

/*
 * Run the group's rows through ip, the plain INSERT twin of its upsert, in
 * a subtransaction.  Returns false, with nothing of it left, if a row's key
 * exists (a unique violation); any other error is raised.
 */
static bool
flush_as_insert(PgcwCall *call, PgcwPlan *ip)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;
	Datum		token = hand_over(call, ip);
	bool		isnull = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		call->executing = true;
		pgcw_plan_execute(ip, &token, &isnull);
		call->executing = false;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		call->executing = false;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			ReThrowError(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return ok;
}

/*
 * Apply the group of rows in flight with one execution of its statement.
 */
static void
flush_group(PgcwCall *call)
{
	PgcwPlan   *p = call->gplan;
	Datum		token;
	bool		isnull = false;
	int			i;

	if (call->gcount == 0)
		return;

	/*
	 * An end marker, which _write_at() rejects: once the statement read it,
	 * it has applied every row, and any error comes from AFTER triggers.
	 */
	for (i = 0; i < p->rowdesc->natts; i++)
		call->pnulls[i] = true;
	tuplestore_putvalues(call->gstore, p->rowdesc, call->pvalues, call->pnulls);

	/*
	 * Rows of snapshot and create records are mostly new: try them as a
	 * plain INSERT, cheaper than the upsert's conflict check, and only if
	 * one of them exists do the upsert.  After a conflict, upsert the next
	 * groups of the statement directly for a while.
	 */
	if (p->op == PGCW_OP_UPSERT && call->gnew && p->insert_twin != NULL)
	{
		if (p->twin_skip > 0)
			p->twin_skip--;
		else if (pgcw_insert_may_serve(call->gtable))
		{
			if (flush_as_insert(call, p->insert_twin))
				goto done;
			p->twin_skip = 64;
			tuplestore_rescan(call->gstore);
		}
	}

	token = hand_over(call, p);
	call->executing = true;
	pgcw_plan_execute(p, &token, &isnull);
	call->executing = false;

done:

	/* a rule may have kept the statement from reading its rows */
	if (call->handoff != NULL)
		tuplestore_end(call->handoff);
	call->handoff = NULL;
	call->gstore = NULL;
	call->gcount = 0;
	call->gplan = NULL;
	call->gtable = NULL;
}

/*
 * Apply the truncate records collected: one TRUNCATE of all their tables,
 * as one source TRUNCATE of several tables (or its CASCADE) truncated
 * them, so that foreign keys between them do not stop it.
 */
static void
flush_truncates(PgcwCall *call)
{
	int			index = call->index;

	if (call->truncs == NIL)
		return;
	call->index = call->trunc_last;
	call->qualname = llast(call->truncs);
	pgcw_truncate(call->truncs);
	call->truncs = NIL;
	call->index = index;
	call->qualname = NULL;
}

/* the cache entry of a table; what is in flight goes first if it is stale */
static PgcwTable *
get_table(PgcwCall *call, Oid relid)
{
	PgcwTable  *t = pgcw_table_peek(relid);

	if (t == NULL)
	{
		flush_group(call);
		t = pgcw_table_get(relid);
	}
	call->qualname = t->qualname;
	ensure_scratch(call, t->natts);
	return t;
}

/*
 * RangeVarGetRelidExtended() callback: before a table is locked, check that
 * the user holds at least one of the privileges in *arg on it, as LOCK
 * TABLE does, so that a role without rights on a table cannot make its
 * owner wait.  The privileges an operation needs are checked later.
 */
void
pgcw_table_callback(const RangeVar *rv, Oid relid, Oid oldrelid, void *arg)
{
	AclMode		mask = *(AclMode *) arg;
	char		relkind;

	if (!OidIsValid(relid))
		return;
	relkind = get_rel_relkind(relid);
	if (!relkind)
		return;					/* dropped meanwhile: not found later */
	if (pg_class_aclmask(relid, GetUserId(), mask, ACLMASK_ANY) == 0)
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(relkind), rv->relname);
}

/*
 * Find the table rv names, locking it as INSERT does once the user is
 * found to have a privilege to change it; ERROR if there is none.  name
 * and what say where the name comes from, for the error.
 */
static Oid
lookup_table(RangeVar *rv, const char *name, const char *what)
{
	AclMode		mask = ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE;
	Oid			relid;

	relid = RangeVarGetRelidExtended(rv, RowExclusiveLock, RVR_MISSING_OK,
									 pgcw_table_callback, &mask);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s\" does not exist", name),
				 errdetail_internal("%s", what)));
	return relid;
}

/*
 * Resolve a record's table name once per call: through the template of
 * table_override, if there is one, or as it is.  exact is for
 * metadata."opencdc.collection", an exact table name.
 */
static Oid
resolve_table(PgcwCall *call, const char *name, int len, bool exact)
{
	ListCell   *lc;
	NameEntry  *e = call->last_name;
	MemoryContext old;
	RangeVar   *rv;
	char	   *cname;
	char	   *what;
	const char *field = exact ? "metadata.\"opencdc.collection\"" : "metadata.table";

	if (e != NULL && e->len == len && e->exact == exact &&
		memcmp(e->name, name, len) == 0)
		return e->relid;
	foreach(lc, call->names)
	{
		e = lfirst(lc);
		if (e->len == len && e->exact == exact && memcmp(e->name, name, len) == 0)
		{
			call->last_name = e;
			return e->relid;
		}
	}

	old = MemoryContextSwitchTo(call->cxt);
	cname = pnstrdup(name, len);
	if (call->tmpl != NULL)
	{
		rv = exact ? pgc_template_rangevar_exact(call->tmpl, cname) :
			pgc_template_rangevar(call->tmpl, cname);
		what = psprintf("The template \"%s\" makes this name of the record's %s \"%s\".",
						call->tmpl_text, field, cname);
		e = palloc(sizeof(NameEntry));
		e->relid = lookup_table(rv, pgc_rangevar_sql(rv), what);
	}
	else
	{
		if (exact)
			rv = makeRangeVar(NULL, cname, -1);
		else
			rv = makeRangeVarFromNameList(pgc_qualified_name_list(cname));
		what = psprintf("The record's %s names a table that is not found in the search path.",
						field);
		e = palloc(sizeof(NameEntry));
		e->relid = lookup_table(rv, cname, what);
	}
	e->name = cname;
	e->len = len;
	e->exact = exact;
	call->names = lappend(call->names, e);
	call->last_name = e;
	MemoryContextSwitchTo(old);
	return e->relid;
}

/*
 * Resolve table_override: a fixed name, found now, or a template with
 * placeholders, kept for resolve_table().
 */
static void
resolve_override(PgcwCall *call, const char *override)
{
	PgcTemplate *t;
	RangeVar   *rv;

	if (!pgc_template_syntax(override))
	{
		rv = makeRangeVarFromNameList(pgc_qualified_name_list(pstrdup(override)));
		call->override_relid =
			lookup_table(rv, override,
						 "The table_override names a table that is not found in the search path.");
		return;
	}
	t = pgc_template_parse(override, "table_override");
	if (pgc_template_has_placeholders(t))
	{
		call->tmpl = t;
		call->tmpl_text = override;
		return;
	}
	rv = pgc_template_rangevar(t, NULL);
	call->override_relid =
		lookup_table(rv, pgc_rangevar_sql(rv),
					 "The table_override names a table that is not found in the search path.");
}

/* the parts of a record this module reads; absent parts are jbvNull */
typedef struct Record
{
	JsonbValue	operation;
	JsonbValue	metadata;
	JsonbValue	key;
	JsonbValue	payload;
	JsonbValue	table;			/* metadata.table */
	JsonbValue	collection;		/* metadata."opencdc.collection" */
	JsonbValue	toast;			/* metadata."postgres.unchanged_toast" */
	JsonbValue	partition_root; /* metadata."postgres.partition_root" */
	JsonbValue	json_text;		/* metadata."postgres.json_as_text" */
	JsonbValue	after;			/* payload.after */
	JsonbValue	before;			/* payload.before */
} Record;

#define NAME_IS(key, keylen, name) \
	((keylen) == sizeof(name) - 1 && memcmp((key), (name), sizeof(name) - 1) == 0)

/* the container of an object value, NULL for JSON null; else ERROR */
static JsonbContainer *
as_object(JsonbValue *v, const char *what)
{
	if (v->type == jbvNull)
		return NULL;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", what),
				 errdetail("It is a JSON %s.", pgcw_json_type_name(v))));
	return v->val.binary.data;
}

/*
 * Pick the parts of a record out of it, its metadata and its payload, one
 * pass over each, without allocating.
 */
static void
parse_record(JsonbContainer *rec, Record *r)
{
	PgcwWalk	w;
	const char *k;
	int			klen;
	JsonbValue	v;
	JsonbContainer *obj;

	r->operation.type = r->metadata.type = r->key.type = jbvNull;
	r->payload.type = r->table.type = r->collection.type = jbvNull;
	r->toast.type = r->after.type = r->before.type = jbvNull;
	r->partition_root.type = r->json_text.type = jbvNull;

	pgcw_walk_init(&w, rec);
	while (pgcw_walk_next(&w, &k, &klen, &v))
	{
		if (NAME_IS(k, klen, "operation"))
			r->operation = v;
		else if (NAME_IS(k, klen, "metadata"))
			r->metadata = v;
		else if (NAME_IS(k, klen, "key"))
			r->key = v;
		else if (NAME_IS(k, klen, "payload"))
			r->payload = v;
	}

	if ((obj = as_object(&r->metadata, "metadata")) != NULL)
	{
		pgcw_walk_init(&w, obj);
		while (pgcw_walk_next(&w, &k, &klen, &v))
		{
			if (NAME_IS(k, klen, "table"))
				r->table = v;
			else if (NAME_IS(k, klen, "opencdc.collection"))
				r->collection = v;
			else if (NAME_IS(k, klen, "postgres.unchanged_toast"))
				r->toast = v;
			else if (NAME_IS(k, klen, "postgres.partition_root"))
				r->partition_root = v;
			else if (NAME_IS(k, klen, "postgres.json_as_text"))
				r->json_text = v;
		}
	}

	if ((obj = as_object(&r->payload, "payload")) != NULL)
	{
		pgcw_walk_init(&w, obj);
		while (pgcw_walk_next(&w, &k, &klen, &v))
		{
			if (NAME_IS(k, klen, "after"))
				r->after = v;
			else if (NAME_IS(k, klen, "before"))
				r->before = v;
		}
	}
}

/* which table a record goes to */
static Oid
record_table(PgcwCall *call, Record *r)
{
	JsonbValue *v = &r->table;
	bool		exact = false;

	if (OidIsValid(call->override_relid))
		return call->override_relid;

	if (v->type == jbvNull)
	{
		v = &r->collection;
		exact = true;
	}
	if (v->type == jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record has no table name"),
				 errdetail("Neither metadata.table nor metadata.\"opencdc.collection\" is set."),
				 errhint("Set metadata.table to the name of the table to write to.")));
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON string",
						exact ? "metadata.\"opencdc.collection\"" : "metadata.table"),
				 errdetail("It is a JSON %s.", pgcw_json_type_name(v))));
	return resolve_table(call, v->val.string.val, v->val.string.len, exact);
}

/* ERROR for a record field that names no column */
static void
no_such_column(PgcwTable *t, const char *name, int len, const char *where)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column \"%s\" of relation %s does not exist",
					pnstrdup(name, len), t->qualname),
			 errdetail("The record's %s has a field that is not a column of the table.",
					   where)));
}

/*
 * Collect the fields of a JSON object (key or payload.after) into
 * call->vals by column, setting their bits in colbits (and keybits).
 * Fields of columns in skipbits, generated columns and, for the payload,
 * key columns are left out.  poscache remembers which column the field at
 * each position named last time: records of a table mostly have the same
 * fields, so the name hash is rarely needed.
 */
static void
collect_fields(PgcwCall *call, PgcwTable *t, JsonbContainer *obj, bool is_key,
			   char *keybits, char *colbits, const char *skipbits)
{
	int16	   *poscache = is_key ? t->keypos : t->afterpos;
	PgcwWalk	w;
	const char *k;
	int			klen;
	JsonbValue	v;

	pgcw_walk_init(&w, obj);
	while (pgcw_walk_next(&w, &k, &klen, &v))
	{
		int			pos = w.i - 1;
		PgcwColumn *c = NULL;

		if (pos < t->natts && poscache[pos] != 0)
		{
			c = &t->cols[poscache[pos] - 1];
			if (c->namelen != klen || memcmp(c->name, k, klen) != 0)
				c = NULL;
		}
		if (c == NULL)
		{
			c = pgcw_column_by_name(t, k, klen);
			if (c == NULL)
				no_such_column(t, k, klen, is_key ? "key" : "payload.after");
			if (pos < t->natts)
				poscache[pos] = c->attnum;
		}
		if (is_key)
			BIT_SET(keybits, c->attnum);
		else if (BIT_IS_SET(keybits, c->attnum) || c->generated ||
				 (skipbits && BIT_IS_SET(skipbits, c->attnum)))
			continue;
		BIT_SET(colbits, c->attnum);
		call->vals[c->attnum - 1] = v;
	}
}

/*
 * Mark in bits the columns that metadata.field (v) names: a JSON array of
 * column names, encoded as a string.  False when it is absent.
 */
static bool
collect_column_list(PgcwTable *t, JsonbValue *v, char *bits, const char *field)
{
	Jsonb	   *list = NULL;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	e;

	if (v->type == jbvNull)
		return false;
	if (v->type == jbvString)
		list = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												  CStringGetDatum(pnstrdup(v->val.string.val,
																		   v->val.string.len))));
	if (list == NULL || !JB_ROOT_IS_ARRAY(list) || JB_ROOT_IS_SCALAR(list))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metadata.\"%s\" must be a JSON array of column names in a string",
						field),
				 errdetail("It is %s.", list ? "not an array" : psprintf("a JSON %s", pgcw_json_type_name(v)))));

	memset(bits, 0, t->sigbytes);
	it = JsonbIteratorInit(&list->root);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		PgcwColumn *c;

		if (tok != WJB_ELEM)
			continue;
		if (e.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metadata.\"%s\" must be a JSON array of column names in a string",
							field),
					 errdetail("It holds a JSON %s.", pgcw_json_type_name(&e))));
		c = pgcw_column_by_name(t, e.val.string.val, e.val.string.len);
		if (c != NULL)
			BIT_SET(bits, c->attnum);
	}
	return true;
}

/* mark the columns of metadata."postgres.unchanged_toast" in call->toast */
static bool
collect_unchanged_toast(PgcwCall *call, PgcwTable *t, JsonbValue *v)
{
	return collect_column_list(t, v, call->toast, "postgres.unchanged_toast");
}

/*
 * Convert the collected value of a column into call->values.  A column of
 * metadata."postgres.json_as_text" gives a json or jsonb value's text in a
 * string (to_jsonb() has no exact form for a JSON null, or for json text
 * jsonb would change): the column type's input function reads it.
 */
static void
convert_column(PgcwCall *call, PgcwTable *t, int attnum, JsonbValue *v)
{
	PgcwColumn *c = &t->cols[attnum - 1];
	PgcwConverter *conv = pgcw_column_converter(t, c);

	call->column = c->name;
	if (call->has_astext && BIT_IS_SET(call->astext, attnum) &&
		v != NULL && v->type == jbvString)
	{
		call->values[attnum - 1] =
			InputFunctionCall(&conv->infunc,
							  pnstrdup(v->val.string.val, v->val.string.len),
							  conv->ioparam, conv->typmod);
		call->nulls[attnum - 1] = false;
	}
	else
		call->values[attnum - 1] = pgcw_convert(conv, v,
												&call->nulls[attnum - 1]);
	call->column = NULL;
}

/* are two JSON values equal? (scalars by value, containers by content) */
static bool
json_values_equal(JsonbValue *a, JsonbValue *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetBool(DirectFunctionCall2(numeric_eq,
													NumericGetDatum(a->val.numeric),
													NumericGetDatum(b->val.numeric)));
		case jbvBinary:
			return compareJsonbContainers(a->val.binary.data, b->val.binary.data) == 0;
		default:
			return false;
	}
}

/* UPDATE the row of the key in call->values with its other columns */
static uint64
update_by_key(PgcwCall *call, PgcwTable *t, PgcwPlan *up)
{
	char	   *sig = call->delsig;
	PgcwPlan   *p;
	int			n = 0;
	int			i;

	memcpy(sig, up->sig, 1 + 2 * t->sigbytes);
	sig[0] = (char) PGCW_OP_UPDATE;
	p = pgcw_plan_get(t, sig);
	for (i = 0; i < p->nkeys; i++, n++)
	{
		call->pvalues[n] = call->values[p->keyattnums[i] - 1];
		call->pnulls[n] = call->nulls[p->keyattnums[i] - 1];
	}
	for (i = 0; i < p->ncols; i++)
	{
		int			a = p->attnums[i];

		if (BIT_IS_SET(sig + 1, a))
			continue;
		call->pvalues[n] = call->values[a - 1];
		call->pnulls[n] = call->nulls[a - 1];
		n++;
	}
	return pgcw_plan_execute(p, call->pvalues, call->pnulls);
}

/* start a group of rows for statement p of table t at the current record */
static void
group_start(PgcwCall *call, PgcwTable *t, PgcwPlan *p)
{
	MemoryContext old = MemoryContextSwitchTo(call->cxt);

	Assert(call->gcount == 0);
	call->gstore = tuplestore_begin_heap(false, false, work_mem);
	MemoryContextSwitchTo(old);
	call->gplan = p;
	call->gtable = t;
	call->gqualname = t->qualname;
	call->gfirst = call->index;
	call->gnew = true;
}

/* add the row of the current record, in call->values, to the group */
static void
group_put(PgcwCall *call, PgcwPlan *p)
{
	int			j;

	Assert(call->gplan == p);
	for (j = 0; j < p->ncols; j++)
	{
		call->pvalues[j] = call->values[p->attnums[j] - 1];
		call->pnulls[j] = call->nulls[p->attnums[j] - 1];
	}
	if (p->ncols == 0)
		call->pnulls[0] = true;
	Assert(call->gcount == 0 || call->index == call->glast + 1);
	tuplestore_putvalues(call->gstore, p->rowdesc, call->pvalues, call->pnulls);
	call->gcount++;
	call->glast = call->index;
}

/*
 * Did the update change the key?  True if payload.before holds every key
 * column and one of them has another value than the key.
 */
static bool
key_changed(PgcwCall *call, PgcwTable *t, JsonbContainer *before,
			const char *keybits)
{
	bool		changed = false;
	int			a;

	for (a = 1; a <= t->natts; a++)
	{
		PgcwColumn *c = &t->cols[a - 1];
		JsonbValue *old;

		if (!BIT_IS_SET(keybits, a))
			continue;
		old = getKeyJsonValueFromContainer(before, c->name, c->namelen, NULL);
		if (old == NULL)
			return false;		/* before has no key: nothing to compare */
		if (!json_values_equal(old, &call->vals[a - 1]))
			changed = true;
	}
	return changed;
}

/*
 * Apply an update that changed the key as native logical replication
 * does: update the row found by the old key (payload.before) to the new
 * key and the columns given, so that the columns the record does not carry
 * (unchanged TOAST, or left out of the payload) keep their values; never a
 * delete and an insert.  Runs now, after the group in flight.  Returns the
 * rows updated, or -1 if finishing that group changed the table (the
 * record starts over).
 */
static int64
move_row(PgcwCall *call, PgcwTable *t, JsonbContainer *before)
{
	uint32		generation = t->generation;
	PgcwPlan   *p;
	int			n = 0;
	int			i;

	flush_group(call);
	if (!t->valid || t->generation != generation)
		return -1;

	memcpy(call->delsig, call->sig, 1 + 2 * t->sigbytes);
	call->delsig[0] = (char) PGCW_OP_MOVE;
	p = pgcw_plan_get(t, call->delsig);
	for (i = 0; i < p->nkeys; i++, n++)
	{
		int			a = p->keyattnums[i];
		PgcwColumn *c = &t->cols[a - 1];

		convert_column(call, t, a,
					   getKeyJsonValueFromContainer(before, c->name,
													c->namelen, NULL));
		call->pvalues[n] = call->values[a - 1];
		call->pnulls[n] = call->nulls[a - 1];
	}
	for (i = 0; i < p->ncols; i++, n++)
	{
		int			a = p->attnums[i];

		convert_column(call, t, a, &call->vals[a - 1]);
		call->pvalues[n] = call->values[a - 1];
		call->pnulls[n] = call->nulls[a - 1];
	}
	return (int64) pgcw_plan_execute(p, call->pvalues, call->pnulls);
}

/*
 * ERROR for an update that leaves columns as they are (unchanged TOAST)
 * and finds no row to take them from: inserting the row would set them to
 * NULL or their default, which is not the source's row.
 */
static void
missing_row(PgcwTable *t, bool key_moved)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("row to update in relation %s does not exist", t->qualname),
			 key_moved ?
			 errdetail("The update changes the key and leaves the columns named in metadata.\"postgres.unchanged_toast\" as they were, but no row has the old key of payload.before to keep them from.") :
			 errdetail("The update leaves the columns named in metadata.\"postgres.unchanged_toast\" as they were, but no row has its key to keep them from."),
			 errhint("The record does not carry those columns' values, so the row cannot be inserted in its place.")));
}

/* a hash of the key of the row in call->values, for the repeated-key check */
static uint32
key_hash(PgcwCall *call, PgcwPlan *p)
{
	uint32		h = 0;
	int			i;

	for (i = 0; i < p->nkeys; i++)
	{
		int			a = p->keyattnums[i];
		uint32		kh = 0;

		if (!call->nulls[a - 1])
			kh = DatumGetUInt32(FunctionCall1Coll(&p->keyhash[i], p->keycoll[i],
												  call->values[a - 1]));
		h = (h << 1 | h >> 31) ^ kh;
	}
	return h == 0 ? 1 : h;
}

/* is h in the group's key set?  Adds it if not. */
static bool
key_seen(PgcwCall *call, uint32 h)
{
	uint32		i;

	for (i = h;; i++)
	{
		uint32	   *slot = &call->dups[i & (PGCW_DUP_SLOTS - 1)];

		if (*slot == h)
			return true;
		if (*slot == 0)
		{
			*slot = h;
			return false;
		}
	}
}

/*
 * Apply a snapshot, create or update record: add it to the group in flight
 * (after finishing that group if the record needs another statement or
 * repeats one of its keys).  Returns false if the record must be started
 * over because finishing the group changed the table.
 */
static bool
apply_write(PgcwCall *call, PgcwTable *t, Record *r, JsonbContainer *key,
			RecordKind kind)
{
	uint32		generation = t->generation;
	int			sigbytes = t->sigbytes;
	char	   *keybits = call->sig + 1;
	char	   *colbits = call->sig + 1 + sigbytes;
	JsonbContainer *after;
	bool		has_toast;
	bool		keeps_columns = false;
	bool		must_update = false;
	PgcwPlan   *p;
	int			a;

	after = as_object(&r->after, "payload.after");
	if (key == NULL && after == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record has neither a key nor payload.after"),
				 errdetail("A snapshot, create or update record needs the row in payload.after.")));

	memset(call->sig, 0, 1 + 2 * sigbytes);
	if (key)
		collect_fields(call, t, key, true, keybits, colbits, NULL);
	has_toast = collect_unchanged_toast(call, t, &r->toast);
	if (after)
		collect_fields(call, t, after, false, keybits, colbits,
					   has_toast ? call->toast : NULL);
	for (a = 0; a < sigbytes && keybits[a] == 0; a++)
		;
	call->sig[0] = (char) (a < sigbytes ? PGCW_OP_UPSERT : PGCW_OP_INSERT);
	/* does it leave columns of the table as they are (unchanged TOAST)? */
	for (a = 0; has_toast && a < sigbytes; a++)
		if (call->toast[a] != 0)
			keeps_columns = true;

	/*
	 * An update that changes the key updates the row of the old key.  If
	 * there is none, a record that carries every column it sets is
	 * inserted (upserted) under the new key, as a create would be; one
	 * that leaves columns as they are cannot be, and is an error.  An
	 * update that leaves columns as they are updates the row of its key,
	 * and is an error without one.
	 */
	if (kind == REC_UPDATE && call->sig[0] == PGCW_OP_UPSERT)
	{
		JsonbContainer *before = as_object(&r->before, "payload.before");

		if (before && key_changed(call, t, before, keybits))
		{
			int64		moved = move_row(call, t, before);

			if (moved < 0)
				return false;
			if (moved > 0)
				return true;
			if (keeps_columns)
				missing_row(t, true);
		}
		else if (keeps_columns)
			must_update = true;
	}

	p = pgcw_plan_get(t, call->sig);
	if (p->op == PGCW_OP_UPSERT && kind == REC_WRITE && p->insert_twin == NULL &&
		!p->update_first)
	{
		/* the plain INSERT a group of new rows may try first */
		call->sig[0] = (char) PGCW_OP_INSERT;
		p->insert_twin = pgcw_plan_get(t, call->sig);
		call->sig[0] = (char) PGCW_OP_UPSERT;
	}
	if (call->gcount > 0 &&
		(call->gplan != p || call->gcount >= PGCW_GROUP_MAX || p->update_first ||
		 must_update))
	{
		flush_group(call);
		if (!t->valid || t->generation != generation)
			return false;
	}

	for (a = 1; a <= t->natts; a++)
		if (BIT_IS_SET(colbits, a))
			convert_column(call, t, a, &call->vals[a - 1]);

	/*
	 * The INSERT of an upsert checks NOT NULL before it looks for the row,
	 * so a record without some NOT NULL column updates the row first, and
	 * only where there is none tries the upsert (which then fails, rightly).
	 */
	if (p->update_first && update_by_key(call, t, p) > 0)
		return true;
	if (must_update)
	{
		if (update_by_key(call, t, p) == 0)
			missing_row(t, false);
		return true;
	}

	if (p->op == PGCW_OP_UPSERT && call->gcount > 0 &&
		(!p->key_hashable || key_seen(call, key_hash(call, p))))
	{
		flush_group(call);
		if (!t->valid || t->generation != generation)
			return false;
	}

	if (call->gcount == 0)
	{
		group_start(call, t, p);
		memset(call->dups, 0, sizeof(uint32) * PGCW_DUP_SLOTS);
		if (p->op == PGCW_OP_UPSERT && p->key_hashable)
			(void) key_seen(call, key_hash(call, p));
	}
	group_put(call, p);
	if (kind != REC_WRITE)
		call->gnew = false;
	return true;
}

/*
 * Apply a delete record: add its key to the group in flight (after
 * finishing that group if it is another statement's).  A key may repeat
 * in a group: deleting a row twice deletes it once.  Returns false if the
 * record must be started over because finishing the group changed the
 * table.
 */
static bool
apply_delete(PgcwCall *call, PgcwTable *t, JsonbContainer *key)
{
	uint32		generation = t->generation;
	int			sigbytes = t->sigbytes;
	char	   *keybits = call->sig + 1;
	char	   *colbits = call->sig + 1 + sigbytes;
	PgcwPlan   *p;
	int			a;

	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delete record has no key"),
				 errdetail("A delete removes the row with the key's values or, without key, one row equal to the old row in payload.before; the record has neither.")));
	memset(call->sig, 0, 1 + 2 * sigbytes);
	call->sig[0] = (char) PGCW_OP_DELETE;
	collect_fields(call, t, key, true, keybits, colbits, NULL);

	p = pgcw_plan_get(t, call->sig);
	if (call->gcount > 0 &&
		(call->gplan != p || call->gcount >= PGCW_GROUP_MAX))
	{
		flush_group(call);
		if (!t->valid || t->generation != generation)
			return false;
	}

	for (a = 1; a <= t->natts; a++)
		if (BIT_IS_SET(keybits, a))
			convert_column(call, t, a, &call->vals[a - 1]);

	if (call->gcount == 0)
		group_start(call, t, p);
	group_put(call, p);
	return true;
}

/*
 * Collect payload.before of a record without key into call->vals by
 * column: bits in valbits for the columns it gives a value, in nullbits
 * for those it gives as NULL.  Generated columns are the table's own and
 * left out.  False if it gives no column.
 */
static bool
collect_old_row(PgcwCall *call, PgcwTable *t, JsonbContainer *before,
				char *valbits, char *nullbits)
{
	PgcwWalk	w;
	const char *k;
	int			klen;
	JsonbValue	v;
	bool		any = false;

	pgcw_walk_init(&w, before);
	while (pgcw_walk_next(&w, &k, &klen, &v))
	{
		PgcwColumn *c = pgcw_column_by_name(t, k, klen);

		if (c == NULL)
			no_such_column(t, k, klen, "payload.before");
		if (c->generated)
			continue;
		BIT_SET(v.type == jbvNull ? nullbits : valbits, c->attnum);
		call->vals[c->attnum - 1] = v;
		any = true;
	}
	return any;
}

/* ERROR for an update or delete without key whose old row is not there */
static void
missing_old_row(PgcwTable *t, RecordKind kind)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("row to %s in relation %s does not exist",
					kind == REC_DELETE ? "delete" : "update", t->qualname),
			 errdetail("The record has no key, and no row of the table equals its old row in payload.before."),
			 errhint("The table no longer holds the rows of the source. Restore the row, set the record aside with on_error = dead_letter, or take a new snapshot.")));
}

/*
 * Apply an update or delete of a table without key (REPLICA IDENTITY
 * FULL at the source) as native logical replication does: change one row
 * equal to the old row of payload.before, NULLs equal to NULLs, even where
 * equal rows repeat.  A change whose old row is not there is an ERROR: a
 * table without key has nothing by which a later change could set it
 * right.  Runs now, after the group in flight.  Returns false if
 * finishing that group changed the table (the record starts over).
 */
static bool
apply_by_old_row(PgcwCall *call, PgcwTable *t, Record *r, RecordKind kind,
				 JsonbContainer *before)
{
	uint32		generation = t->generation;
	int			sigbytes = t->sigbytes;
	char	   *valbits = call->sig + 1;
	char	   *colbits = call->sig + 1 + sigbytes;
	char	   *nullbits = call->sig + 1 + 2 * sigbytes;
	JsonbContainer *after = NULL;
	PgcwPlan   *p;
	int			n = 0;
	int			i;

	flush_group(call);
	if (!t->valid || t->generation != generation)
		return false;

	memset(call->sig, 0, 1 + 3 * sigbytes);
	call->sig[0] = (char) (kind == REC_DELETE ? PGCW_OP_DELETE_ROW : PGCW_OP_UPDATE_ROW);
	if (!collect_old_row(call, t, before, valbits, nullbits))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payload.before of a record without key is empty"),
				 errdetail("An update or delete without key finds its row by the old row, so payload.before must hold its columns.")));
	/* the old row's values, converted while call->vals holds them */
	for (i = 1; i <= t->natts; i++)
		if (BIT_IS_SET(valbits, i))
		{
			convert_column(call, t, i, &call->vals[i - 1]);
			call->pvalues[n] = call->values[i - 1];
			call->pnulls[n] = call->nulls[i - 1];
			n++;
		}

	if (kind == REC_UPDATE)
	{
		bool		has_toast;
		char	   *nokey = call->delsig;	/* no key columns */
		int			a;

		memset(nokey, 0, sigbytes);
		after = as_object(&r->after, "payload.after");
		has_toast = collect_unchanged_toast(call, t, &r->toast);
		if (after)
			collect_fields(call, t, after, false, nokey, colbits,
						   has_toast ? call->toast : NULL);
		for (a = 0; a < sigbytes && colbits[a] == 0; a++)
			;
		if (a == sigbytes)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("update record without key has no columns in payload.after"),
					 errdetail("An update without key sets the columns of payload.after in the row equal to payload.before.")));
		for (i = 1; i <= t->natts; i++)
			if (BIT_IS_SET(colbits, i))
			{
				convert_column(call, t, i, &call->vals[i - 1]);
				call->pvalues[n] = call->values[i - 1];
				call->pnulls[n] = call->nulls[i - 1];
				n++;
			}
	}

	p = pgcw_plan_get(t, call->sig);
	Assert(n == p->nkeys + p->ncols);
	if (pgcw_plan_execute(p, call->pvalues, call->pnulls) == 0)
		missing_old_row(t, kind);
	return true;
}

/* which kind of record an operation name is; ERROR if none */
static RecordKind
record_kind(JsonbValue *v)
{
	const char *s;
	int			len;

	if (v->type == jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record has no operation"),
				 errhint("Set \"operation\" to snapshot, create, update, delete or truncate.")));
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("operation must be a JSON string"),
				 errdetail("It is a JSON %s.", pgcw_json_type_name(v))));
	s = v->val.string.val;
	len = v->val.string.len;
#define IS_OP(name) (len == strlen(name) && memcmp(s, name, len) == 0)
	if (IS_OP("create") || IS_OP("snapshot"))
		return REC_WRITE;
	if (IS_OP("update"))
		return REC_UPDATE;
	if (IS_OP("delete"))
		return REC_DELETE;
	if (IS_OP("truncate"))
		return REC_TRUNCATE;
#undef IS_OP
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown operation \"%s\"", pnstrdup(s, len)),
			 errhint("Valid operations are snapshot, create, update, delete and truncate.")));
	return REC_WRITE;			/* keep compiler quiet */
}

/* apply one record (v, a value of the records array or the single object) */
static void
apply_record(PgcwCall *call, JsonbValue *v)
{
	Record		r;
	JsonbContainer *key;
	RecordKind	kind;
	PgcwTable  *t;

	call->qualname = NULL;
	call->column = NULL;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record is not a JSON object"),
				 errdetail("It is a JSON %s.", pgcw_json_type_name(v))));
	parse_record(v->val.binary.data, &r);

	kind = record_kind(&r.operation);
	key = NULL;
	if (r.key.type != jbvNull)
	{
		if (r.key.type != jbvBinary || !JsonContainerIsObject(r.key.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key must be a JSON object"),
					 errdetail("It is a JSON %s.", pgcw_json_type_name(&r.key)),
					 errhint("A key has one field per key column, or is null.")));
		/* an empty key is no key */
		if (JsonContainerSize(r.key.val.binary.data) > 0)
			key = r.key.val.binary.data;
	}

	if (kind == REC_TRUNCATE)
	{
		Oid			relid;
		MemoryContext old;

		/*
		 * pgconduit_output reports the TRUNCATE of some partitions of a
		 * table sent under its root this way: the root's rows here do not
		 * say which partition they came from, and truncating the whole
		 * table would lose the others.
		 */
		if (r.partition_root.type != jbvNull)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot apply a truncate of partition %s of %s",
							r.table.type == jbvString ?
							pnstrdup(r.table.val.string.val, r.table.val.string.len) : "?",
							r.partition_root.type == jbvString ?
							pnstrdup(r.partition_root.val.string.val,
									 r.partition_root.val.string.len) : "?"),
					 errdetail("The source truncated a partition of a table whose changes arrive under its root, and the destination cannot tell which of its rows came from that partition."),
					 errhint("Remove the partition's rows here yourself and skip the record (on_error = dead_letter), or take a new snapshot; on the source, DELETE from a partition instead of truncating it.")));
		relid = record_table(call, &r);

		flush_group(call);
		t = get_table(call, relid);
		old = MemoryContextSwitchTo(call->cxt);
		call->truncs = lappend(call->truncs, pstrdup(t->qualname));
		MemoryContextSwitchTo(old);
		call->trunc_last = call->index;
		return;
	}
	flush_truncates(call);

	for (;;)
	{
		t = get_table(call, record_table(call, &r));
		call->has_astext = collect_column_list(t, &r.json_text, call->astext,
											   "postgres.json_as_text");
		if (key == NULL && (kind == REC_DELETE || kind == REC_UPDATE) &&
			r.before.type != jbvNull)
		{
			if (apply_by_old_row(call, t, &r, kind,
								 as_object(&r.before, "payload.before")))
				return;
			continue;
		}
		if (kind == REC_DELETE)
		{
			/* a group of other records goes first, as it always did */
			if (call->gcount > 0 &&
				(call->gtable != t || call->gplan->op != PGCW_OP_DELETE))
			{
				flush_group(call);
				if (!t->valid)
					continue;
			}
			if (apply_delete(call, t, key))
				return;
			continue;
		}
		if (apply_write(call, t, &r, key, kind))
			return;
		/* the table changed under the group in flight: start over */
	}
}

/* apply every record of the argument */
static int64
write_all(PgcwCall *call, Jsonb *records, const char *table_override)
{
	ErrorContextCallback errcb;
	MemoryContext old;
	int64		n = 0;

	errcb.callback = write_error_context;
	errcb.arg = call;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	if (table_override != NULL)
		resolve_override(call, table_override);

	if (JB_ROOT_IS_SCALAR(records))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("records must be a JSON object or an array of JSON objects"),
				 errdetail("The argument is a JSON scalar.")));

	old = MemoryContextSwitchTo(call->rowcxt);
	if (JB_ROOT_IS_OBJECT(records))
	{
		JsonbValue	v;

		v.type = jbvBinary;
		v.val.binary.data = &records->root;
		v.val.binary.len = VARSIZE(records) - VARHDRSZ;
		call->index = 0;
		apply_record(call, &v);
		n = 1;
	}
	else
	{
		PgcwWalk	w;
		JsonbValue	v;

		pgcw_walk_init(&w, &records->root);
		while (pgcw_walk_next(&w, NULL, NULL, &v))
		{
			call->index = (int) n;
			apply_record(call, &v);
			MemoryContextReset(call->rowcxt);
			n++;
		}
	}
	flush_group(call);
	flush_truncates(call);
	MemoryContextSwitchTo(old);

	error_context_stack = errcb.previous;
	return n;
}

/* SQL: pgconduit.write(records jsonb) returns bigint */
Datum
pgconduit_write(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(pgc_write_records(PG_GETARG_JSONB_P(0), NULL));
}

/* SQL: pgconduit._write(records jsonb, table_override text) returns bigint */
Datum
pgconduit_write_override(PG_FUNCTION_ARGS)
{
	char	   *override = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT64(0);
	if (!PG_ARGISNULL(1))
		override = text_to_cstring(PG_GETARG_TEXT_PP(1));
	PG_RETURN_INT64(pgc_write_records(PG_GETARG_JSONB_P(0), override));
}

/*
 * SQL: pgconduit._write_rows(token bigint) returns setof record.  Hands the
 * rows of the group in flight to the statement applying them; only that
 * statement knows the token.
 */
Datum
pgconduit_write_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PgcwCall   *call = pgcw_current;

	if (call == NULL || call->handoff == NULL ||
		PG_GETARG_INT64(0) != call->token)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgconduit._write_rows() can only be called by pgconduit.write()")));
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = call->handoff;
	rsinfo->setDesc = CreateTupleDescCopy(call->handoff_desc);
	call->handoff = NULL;		/* the executor ends it */
	PG_RETURN_NULL();
}

/*
 * SQL: pgconduit._write_at() returns boolean.  Counts the rows the running
 * statement reads, so the error context knows its record (a group holds
 * consecutive records); false for the end marker row.
 */
Datum
pgconduit_write_at(PG_FUNCTION_ARGS)
{
	PgcwCall   *call = pgcw_current;

	if (call == NULL || !call->executing)
		PG_RETURN_BOOL(false);
	call->seen++;
	PG_RETURN_BOOL(call->seen <= call->gcount);
}

/*
 * The destination table a record goes to under table_override (NULL, a
 * fixed name or a template), as an SQL name; may raise an ERROR.
 */
static char *
target_table(const char *override, Jsonb *record)
{
	Record		r;
	PgcTemplate *t;
	RangeVar   *rv;
	char	   *name;

	if (override != NULL && !pgc_template_syntax(override))
		return pstrdup(override);
	if (JB_ROOT_IS_SCALAR(record) || !JB_ROOT_IS_OBJECT(record))
		return override ? pstrdup(override) : NULL;
	parse_record(&record->root, &r);
	if (r.table.type == jbvString)
		name = pnstrdup(r.table.val.string.val, r.table.val.string.len);
	else if (r.collection.type == jbvString)
		name = pnstrdup(r.collection.val.string.val, r.collection.val.string.len);
	else
		return override ? pstrdup(override) : NULL;
	if (override == NULL)
		return name;
	t = pgc_template_parse(override, "table_override");
	if (r.table.type == jbvString)
		rv = pgc_template_rangevar(t, name);
	else
		rv = pgc_template_rangevar_exact(t, name);
	return pgc_rangevar_sql(rv);
}

/*
 * SQL: pgconduit._target_table(table_override text, record jsonb) returns
 * text.  The table a record goes to, for reports: a template filled in
 * with the record's table name; NULL without a name.  A name the template
 * cannot be filled in with is reported as the template itself: this runs
 * where an error is being reported, so it raises none of its own.
 */
Datum
pgconduit_target_table(PG_FUNCTION_ARGS)
{
	char	   *override = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *record = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile result = override;

	if (record == NULL && override == NULL)
		PG_RETURN_NULL();
	if (record == NULL || (override != NULL && !pgc_template_syntax(override)))
		PG_RETURN_TEXT_P(cstring_to_text(override));

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		result = target_table(override, record);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
