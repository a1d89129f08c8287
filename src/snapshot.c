/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *	  The snapshot of a pipeline's source table: the handoff to the change
 *	  stream, and the copy of its rows into the destination.
 *
 * The snapshot follows the handoff of DESIGN.md: the slot exists first
 * (source.c); a transaction takes the table's SHARE lock, reads the cut
 * LSN and exports its snapshot; a second connection imports the snapshot
 * and reads the rows while the first commits at once.  The snapshot's rows
 * are applied in one destination transaction, so a crash during it leaves
 * nothing behind and it starts over: by COPY from source to destination
 * where that gives what the records would (write_copy.c decides), else as
 * records built by the source in the layout of protocol.h.  The stream
 * (stream.c) then drops the changes at or before the cut.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlogdefs.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "pq.h"
#include "protocol.h"
#include "template.h"
#include "worker.h"

/* Snapshot rows fetched at a time, at most */
#define PGC_SNAPSHOT_FETCH	1000

/*
 * The table changed between finding it and locking it for the snapshot
 * (dropped, renamed or replaced).  Nothing is applied yet, so the worker
 * starts over and finds it again.
 */
static void
pgc_snapshot_changed(PgcWorker *w, PgcTable *t, PGresult *res)
{
	if (res)
		PQclear(res);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("source table %s changed while pipeline \"%s\" began its snapshot",
					t->qualified, w->name),
			 errdetail("The table was dropped, renamed or replaced after the pipeline found it and before it was locked."),
			 errhint("The pipeline starts over by itself.")));
}

/*
 * Lock the table by its OID, read the cut LSN and export the snapshot;
 * return a second connection reading in that snapshot, which holds the
 * table against DROP and ALTER until it is read, once the first lock is
 * released.  LOCK takes a name: the name the OID has now is locked, then
 * the name is checked to still be that OID.  The table's own rows only:
 * inheritance children are other tables (ONLY), partitions are part of a
 * partitioned table.
 */
static PGconn *
pgc_snapshot_begin(PgcWorker *w, PgcTable *t, XLogRecPtr *cut)
{
	PGconn	   *reader;
	PGresult   *res;
	const char *params[2];
	char	   *locked;
	const char *only = t->relkind == 'r' ? "ONLY " : "";
	char	   *snapname;
	int64		total;
	char		oid[12];

	params[0] = pgc_table_oid(t, oid);
	res = pgc_pq_exec(w->source, "source",
					  "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)"
					  "  FROM pg_catalog.pg_class c"
					  "  JOIN pg_catalog.pg_namespace n"
					  "    ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					  " WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid", 1, params);
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		pgc_snapshot_changed(w, t, res);
	locked = pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);

	/* lock, cut, export: writers wait only for these statements */
	pgc_pq_command(w->source, "source", "BEGIN ISOLATION LEVEL REPEATABLE READ");
	pgc_pq_send(w->source, "source",
				psprintf("LOCK TABLE %s%s IN SHARE MODE", only, locked), 0, NULL);
	while ((res = pgc_pq_get_result(w->source, "source")) != NULL)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (PQresultStatus(res) == PGRES_COMMAND_OK)
		{
			PQclear(res);
			continue;
		}
		/* renamed or dropped since its name was read */
		if (state != NULL && strcmp(state, "42P01") == 0)
			pgc_snapshot_changed(w, t, res);
		pgc_pq_raise(w->source, res, "source");
	}
	params[1] = locked;
	res = pgc_pq_exec(w->source, "source",
					  "SELECT pg_catalog.pg_current_wal_insert_lsn()::pg_catalog.text,"
					  "       pg_catalog.pg_export_snapshot(),"
					  "       greatest(c.reltuples, 0)::pg_catalog.int8,"
					  "       pg_catalog.to_regclass($2)::pg_catalog.oid OPERATOR(pg_catalog.=) c.oid"
					  "  FROM pg_catalog.pg_class c"
					  " WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid", 2, params);
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1) ||
		PQgetisnull(res, 0, 2) || PQgetisnull(res, 0, 3) ||
		strcmp(PQgetvalue(res, 0, 3), "t") != 0)
		pgc_snapshot_changed(w, t, res);
	if (!pgc_proto_parse_lsn(PQgetvalue(res, 0, 0), cut))
		elog(ERROR, "could not parse LSN \"%s\"", PQgetvalue(res, 0, 0));
	snapname = pstrdup(PQgetvalue(res, 0, 1));
	total = strtoi64(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	t->qualified = locked;

	/* the reader holds the table until it has read it */
	reader = pgc_pq_connect(w->src->url, false, w->appname, "source",
							w->need_password);
	pgc_pq_command(reader, "source",
				   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	pgc_pq_command(reader, "source",
				   psprintf("SET TRANSACTION SNAPSHOT %s", quote_literal_cstr(snapname)));
	pgc_pq_command(reader, "source",
				   psprintf("LOCK TABLE %s%s IN ACCESS SHARE MODE", only, locked));
	pgc_pq_command(w->source, "source", "COMMIT");

	SpinLockAcquire(&w->slot->mutex);
	w->slot->snapshot_total = total;
	w->slot->snapshot_done = 0;
	SpinLockRelease(&w->slot->mutex);
	pgc_table_status_snapshot(t, 0, total);
	return reader;
}

/* Count rows more snapshot rows of table t read, done in all so far */
static void
pgc_snapshot_count(PgcWorker *w, PgcTable *t, int64 done, int rows)
{
	SpinLockAcquire(&w->slot->mutex);
	w->slot->records_read += rows;
	w->slot->snapshot_done = done;
	SpinLockRelease(&w->slot->mutex);
	pgc_table_status_snapshot(t, done, -1);
}

/*
 * The columns a snapshot row carries: the payload columns and the key
 * columns that are not among them.
 */
static List *
pgc_snapshot_columns(PgcTable *t)
{
	List	   *cols = list_copy(t->columns);
	ListCell   *lc;

	foreach(lc, t->key)
		if (!pgc_name_in(cols, lfirst(lc)))
			cols = lappend(cols, lfirst(lc));
	return cols;
}

/*
 * The COPY statement that takes the snapshot into the destination table,
 * if the destination says COPY gives what the records would (see
 * write_copy.c); else NULL.  In the destination's transaction.
 */
static char *
pgc_snapshot_copy_target(PgcWorker *w, PgcTable *t, PGconn *reader, List *cols)
{
	PGresult   *res;
	const char *params[4];
	List	   *types = NIL;
	char	   *target = NULL;
	char		oid[12];

	params[0] = pgc_table_oid(t, oid);
	params[1] = pgc_array_literal(cols);
	res = pgc_pq_exec(reader, "source",
					  "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod)"
					  "  FROM pg_catalog.unnest($2::pg_catalog.text[]) WITH ORDINALITY c(name, ord)"
					  "  JOIN pg_catalog.pg_attribute a"
					  "    ON a.attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					  "   AND a.attname OPERATOR(pg_catalog.=) c.name"
					  " ORDER BY c.ord", 2, params);
	for (int i = 0; i < PQntuples(res); i++)
		if (!PQgetisnull(res, i, 0))
			types = lappend(types, pstrdup(PQgetvalue(res, i, 0)));
	PQclear(res);
	/* a column dropped since: the records will say so */
	if (list_length(types) != list_length(cols))
		return NULL;

	params[0] = w->dst->table ? w->dst->table : t->target;
	/* a template left for each record (many tables): this table's name */
	if (w->dst->table && pgc_template_syntax(w->dst->table))
		params[0] = pgc_template_escape(pgc_rangevar_sql(pgc_template_rangevar(pgc_template_parse(w->dst->table,
																								  "destination configuration key \"table\""),
																			   t->target)));
	params[2] = pgc_array_literal(types);
	params[3] = pgc_array_literal(t->key);
	res = pgc_pq_exec(w->dest, "destination",
					  "SELECT pgconduit._copy_target($1, $2, $3, $4)", 4, params);
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		target = pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return target;
}

/* Send the destination a COPY row (or the end, row NULL), waiting on the latch */
static bool
pgc_copy_put(PgcWorker *w, const char *row, int len)
{
	int			r;

	while ((r = row ? PQputCopyData(w->dest, row, len) :
			PQputCopyEnd(w->dest, NULL)) == 0)
		pgc_pq_wait(w->dest, WL_SOCKET_WRITEABLE, -1);
	if (r < 0)
		return false;
	return row != NULL || pgc_pq_flush(w->dest);
}

/*
 * Copy the snapshot's rows from the source into the destination table with
 * COPY, row by row as the source sends them.  Returns false, with the
 * destination's transaction failed, when the destination rejected the
 * COPY; a source error or a lost connection raises an ERROR.
 */
static bool
pgc_snapshot_by_copy(PgcWorker *w, PgcTable *t, PGconn *reader, List *cols,
					 const char *copy_in)
{
	PGresult   *res;
	StringInfoData sql;
	ListCell   *lc;
	bool		plain;
	int64		n = 0;
	int			unreported = 0;
	bool		ok = true;
	char	   *err = NULL;

	/* both sides agree on the text form of values and on the encoding */
	pgc_pq_command(reader, "source",
				   psprintf("SET datestyle = ISO; SET intervalstyle = postgres;"
							" SET extra_float_digits = 3; SET bytea_output = hex;"
							" SET client_encoding = %s",
							quote_literal_cstr(PQparameterStatus(w->dest, "client_encoding"))));
	pgc_pq_command(w->dest, "destination",
				   "SET LOCAL datestyle = ISO; SET LOCAL intervalstyle = postgres");

	/*
	 * COPY of the table itself reads its own rows only, as the pipeline
	 * does, and is faster than of a query; a partitioned table needs the
	 * query.
	 */
	plain = (t->relkind == 'r');
	initStringInfo(&sql);
	appendStringInfoString(&sql, plain ? "COPY " : "COPY (SELECT ");
	if (plain)
		appendStringInfo(&sql, "%s (", t->qualified);
	foreach(lc, cols)
		appendStringInfo(&sql, "%s%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 plain ? "" : "s.", quote_identifier(lfirst(lc)));
	if (plain)
		appendStringInfoString(&sql, ") TO STDOUT");
	else
		appendStringInfo(&sql, " FROM %s s) TO STDOUT", t->qualified);
	PQclear(pgc_pq_exec(reader, "source", sql.data, 0, NULL));

	res = pgc_pq_exec(w->dest, "destination", copy_in, 0, NULL);
	PQclear(res);
	if (PQsetnonblocking(w->dest, 1) != 0)
		pgc_pq_raise(w->dest, NULL, "destination");

	for (;;)
	{
		char	   *row;
		int			len = PQgetCopyData(reader, &row, 1);

		if (len > 0)
		{
			ok = pgc_copy_put(w, row, len);
			PQfreemem(row);
			if (!ok)
				break;
			n++;
			if (++unreported == 1000)
			{
				pgc_snapshot_count(w, t, n, unreported);
				unreported = 0;
				/* notice an error the destination sent meanwhile */
				if (!PQconsumeInput(w->dest))
					pgc_pq_raise(w->dest, NULL, "destination");
				CHECK_FOR_INTERRUPTS();
			}
		}
		else if (len == 0)
		{
			if (PQflush(w->dest) < 0)
				pgc_pq_raise(w->dest, NULL, "destination");
			pgc_pq_wait(reader, WL_SOCKET_READABLE, -1);
			if (!PQconsumeInput(reader))
				pgc_pq_raise(reader, NULL, "source");
		}
		else if (len == -1)
		{
			res = pgc_pq_get_result(reader, "source");
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				pgc_pq_raise(reader, res, "source");
			PQclear(res);
			while ((res = pgc_pq_get_result(reader, "source")) != NULL)
				PQclear(res);
			ok = pgc_copy_put(w, NULL, 0);
			break;
		}
		else
			pgc_pq_raise(reader, NULL, "source");
	}

	if (PQstatus(w->dest) != CONNECTION_OK)
		pgc_pq_raise(w->dest, NULL, "destination");
	if (PQsetnonblocking(w->dest, 0) != 0)
		pgc_pq_raise(w->dest, NULL, "destination");
	/* the COPY's result, or the error that ended it */
	while ((res = pgc_pq_get_result(w->dest, "destination")) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK && err == NULL)
			err = pstrdup(PQresultErrorMessage(res));
		PQclear(res);
	}
	if (PQstatus(w->dest) != CONNECTION_OK)
		pgc_pq_raise(w->dest, NULL, "destination");
	if (err != NULL || !ok)
	{
		ereport(LOG,
				(errmsg("pipeline \"%s\" takes its snapshot again record by record, as COPY into the destination failed",
						w->name),
				 errdetail_internal("%s", err ? pchomp(err) : "The COPY ended early.")));
		return false;
	}
	pgc_snapshot_count(w, t, n, unreported);
	SpinLockAcquire(&w->slot->mutex);
	w->slot->records_written += n;
	SpinLockRelease(&w->slot->mutex);
	t->snapshot_rows += n;
	return true;
}

/* The index of name in list (of char *), or -1 */
static int
pgc_name_index(List *list, const char *name)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(lfirst(lc), name) == 0)
			return foreach_current_index(lc);
	return -1;
}

/*
 * How a snapshot column's values need checking for what to_jsonb() loses:
 * its base type is float4/float8 ('f', -0), json ('j', JSON null or text
 * that jsonb changes), jsonb ('b', JSON null), composite ('c'), an array
 * ('a', of elemkind), or none of these (0).
 */
typedef struct PgcValueKind
{
	char		kind;
	char		elemkind;		/* arrays: the elements' kind */
	char	   *typname;		/* composites (also array elements): the type */
} PgcValueKind;

/* The kind of the base type of type typid (text), asking the source */
static void
pgc_value_kind(PGconn *reader, const char *typid, PgcValueKind *k, bool elem)
{
	const char *params[1] = {typid};
	PGresult   *res;
	char	   *elemtype = NULL;

	res = pgc_pq_exec(reader, "source",
					  "WITH RECURSIVE d(oid) AS (SELECT $1::pg_catalog.oid"
					  "   UNION ALL SELECT t.typbasetype FROM d JOIN pg_catalog.pg_type t"
					  "     ON t.oid OPERATOR(pg_catalog.=) d.oid"
					  "  WHERE t.typtype OPERATOR(pg_catalog.=) 'd')"
					  " SELECT CASE WHEN t.oid OPERATOR(pg_catalog.=) ANY ('{700,701}'::pg_catalog.oid[]) THEN 'f'"
					  "             WHEN t.oid OPERATOR(pg_catalog.=) 114 THEN 'j'"
					  "             WHEN t.oid OPERATOR(pg_catalog.=) 3802 THEN 'b'"
					  "             WHEN t.typtype OPERATOR(pg_catalog.=) 'c' THEN 'c'"
					  "             WHEN t.typelem OPERATOR(pg_catalog.<>) 0 AND t.typsubscript"
					  "                  OPERATOR(pg_catalog.=) 'pg_catalog.array_subscript_handler'::pg_catalog.regproc THEN 'a'"
					  "             ELSE '' END,"
					  "        t.typelem, pg_catalog.format_type(t.oid, NULL)"
					  "   FROM d JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) d.oid"
					  "  WHERE t.typtype OPERATOR(pg_catalog.<>) 'd'",
					  1, params);
	k->kind = 0;
	k->elemkind = 0;
	k->typname = NULL;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
	{
		k->kind = PQgetvalue(res, 0, 0)[0];
		elemtype = pstrdup(PQgetvalue(res, 0, 1));
		k->typname = pstrdup(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	if (k->kind == 'a' && !elem)
	{
		PgcValueKind ek;

		pgc_value_kind(reader, elemtype, &ek, true);
		k->elemkind = ek.kind == 'a' ? 0 : ek.kind;
		k->typname = ek.typname;
	}
}

/*
 * Append an SQL condition: is value v (an SQL expression) of kind k one
 * that to_jsonb() loses?  NULL counts as no.  (The rules of pco_json.c.)
 */
static void
pgc_lossy_condition(StringInfo sql, const char *v, char kind, char elemkind,
					const char *typname)
{
	switch (kind)
	{
		case 'f':
			appendStringInfo(sql, "(%s)::pg_catalog.text OPERATOR(pg_catalog.=) '-0'", v);
			break;
		case 'j':
			appendStringInfo(sql,
							 "CASE WHEN pg_catalog.strpos((%s)::pg_catalog.text, E'\\\\u0000') OPERATOR(pg_catalog.>) 0 THEN true"
							 " WHEN pg_catalog.json_typeof((%s)::pg_catalog.json) OPERATOR(pg_catalog.=) 'null' THEN true"
							 " ELSE (%s)::pg_catalog.json::pg_catalog.jsonb::pg_catalog.text OPERATOR(pg_catalog.<>) (%s)::pg_catalog.text END",
							 v, v, v, v);
			break;
		case 'b':
			appendStringInfo(sql, "pg_catalog.jsonb_typeof((%s)::pg_catalog.jsonb) OPERATOR(pg_catalog.=) 'null'", v);
			break;
		case 'c':
			/* what the destination would make of its object */
			appendStringInfo(sql,
							 "NOT pg_catalog.texteq((%s)::pg_catalog.text,"
							 " pg_catalog.jsonb_populate_record(NULL::%s, pg_catalog.to_jsonb(%s))::pg_catalog.text)",
							 v, typname, v);
			break;
		case 'a':
			/* a lower bound other than 1, or an empty dimension */
			appendStringInfo(sql, "(pg_catalog.array_dims(%s) OPERATOR(pg_catalog.~) '\\[(?!1:)|:0\\]'", v);
			if (elemkind != 0)
			{
				/* e.* is the element, never a column of the table */
				appendStringInfo(sql, " OR EXISTS (SELECT 1 FROM pg_catalog.unnest(%s) pgconduit_e WHERE CASE WHEN ", v);
				pgc_lossy_condition(sql, "pgconduit_e.*", elemkind, 0, typname);
				/* a json array in an array reads back as a dimension */
				if (elemkind == 'j' || elemkind == 'b')
					appendStringInfoString(sql, " THEN true ELSE pg_catalog.left((pgconduit_e.*)::pg_catalog.text, 1) OPERATOR(pg_catalog.=) '[' END)");
				else
					appendStringInfoString(sql, " THEN true ELSE false END)");
			}
			appendStringInfoChar(sql, ')');
			break;
	}
}

/*
 * The kind of each of the snapshot's columns (cols), from the source's
 * catalog; *any_json is set when one is json or jsonb.
 */
static PgcValueKind *
pgc_snapshot_kinds(PgcTable *t, PGconn *reader, List *cols, bool *any_json)
{
	PgcValueKind *kinds = palloc0(sizeof(PgcValueKind) * (list_length(cols) + 1));
	const char *params[2];
	ListCell   *lc;
	char		oid[12];

	*any_json = false;
	params[0] = pgc_table_oid(t, oid);
	foreach(lc, cols)
	{
		PgcValueKind *k = &kinds[foreach_current_index(lc)];
		PGresult   *res;

		params[1] = lfirst(lc);
		res = pgc_pq_exec(reader, "source",
						  "SELECT atttypid FROM pg_catalog.pg_attribute"
						  " WHERE attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
						  "   AND attname OPERATOR(pg_catalog.=) $2",
						  2, params);
		if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		{
			char	   *typid = pstrdup(PQgetvalue(res, 0, 0));

			PQclear(res);
			pgc_value_kind(reader, typid, k, false);
		}
		else
			PQclear(res);
		if (k->kind == 'j' || k->kind == 'b')
			*any_json = true;
	}
	return kinds;
}

/*
 * The cursor pgconduit_snapshot over the table's rows: key and payload of
 * each row as JSON, built by the source (l holds whether each value is one
 * to_jsonb() would lose), and the json columns sent as text.
 */
static char *
pgc_snapshot_cursor(PgcTable *t, List *cols, PgcValueKind *kinds, bool any_json)
{
	StringInfoData sql;
	ListCell   *lc;
	bool		first;

	initStringInfo(&sql);
	/* a keyless table's records carry a null key, as its changes do */
	appendStringInfo(&sql, "DECLARE pgconduit_snapshot NO SCROLL CURSOR FOR SELECT %s, pg_catalog.to_jsonb(r.*)::pg_catalog.text, ",
					 t->key != NIL ? "pg_catalog.to_jsonb(k.*)::pg_catalog.text" : "NULL::pg_catalog.text");
	if (any_json)
	{
		appendStringInfoString(&sql, "pg_catalog.array_to_json(pg_catalog.array_remove(ARRAY[");
		foreach(lc, cols)
		{
			PgcValueKind *k = &kinds[foreach_current_index(lc)];

			if (k->kind == 'j' || k->kind == 'b')
				appendStringInfo(&sql, "CASE WHEN l.x%d THEN %s END, ",
								 foreach_current_index(lc),
								 quote_literal_cstr(lfirst(lc)));
		}
		appendStringInfoString(&sql, "NULL]::pg_catalog.text[], NULL))::pg_catalog.text");
	}
	else
		appendStringInfoString(&sql, "NULL::pg_catalog.text");
	appendStringInfo(&sql, " FROM %s%s s, LATERAL (SELECT true",
					 t->relkind == 'r' ? "ONLY " : "", t->qualified);
	foreach(lc, cols)
	{
		PgcValueKind *k = &kinds[foreach_current_index(lc)];
		char	   *v;

		if (k->kind == 0)
			continue;
		v = psprintf("s.%s", quote_identifier(lfirst(lc)));
		appendStringInfo(&sql, ", CASE WHEN %s IS NULL THEN false ELSE ", v);
		pgc_lossy_condition(&sql, v, k->kind, k->elemkind, k->typname);
		appendStringInfo(&sql, " END AS x%d", foreach_current_index(lc));
	}
	appendStringInfoString(&sql, ") l");
	for (int part = t->key != NIL ? 0 : 1; part < 2; part++)
	{
		appendStringInfoString(&sql, ", LATERAL (SELECT ");
		first = true;
		foreach(lc, part == 0 ? t->key : t->columns)
		{
			char	   *name = lfirst(lc);
			int			i = pgc_name_index(cols, name);
			char	   *v = psprintf("s.%s", quote_identifier(name));

			if (!first)
				appendStringInfoString(&sql, ", ");
			first = false;
			if (i < 0 || kinds[i].kind == 0)
				appendStringInfoString(&sql, v);
			else
				appendStringInfo(&sql,
								 "CASE WHEN l.x%d THEN pg_catalog.to_jsonb((%s)::pg_catalog.text)"
								 " ELSE pg_catalog.to_jsonb(%s) END",
								 i, v, v);
			appendStringInfo(&sql, " AS %s", quote_identifier(name));
		}
		appendStringInfoString(&sql, part == 0 ? ") k" : ") r");
	}
	return sql.data;
}

/*
 * Append row i of a FETCH of the cursor to the batch as snapshot record n.
 * Snapshot records carry only the table in their metadata: the
 * destination has less to parse.
 */
static void
pgc_snapshot_add_row(PgcWorker *w, PgcTable *t, PGresult *res, int i,
					 uint64 n, StringInfo rec)
{
	char		position[PGC_POSITION_LEN + 1];

	pgc_proto_position(position, InvalidXLogRecPtr, n);
	resetStringInfo(rec);
	appendStringInfoString(rec, PGC_PROTO_PREFIX);
	appendBinaryStringInfo(rec, position, PGC_POSITION_LEN);
	appendStringInfoString(rec, PGC_PROTO_OPERATION PGC_OP_SNAPSHOT PGC_PROTO_METADATA);
	appendStringInfoString(rec, t->meta);
	if (!PQgetisnull(res, i, 2) && strcmp(PQgetvalue(res, i, 2), "[]") != 0)
	{
		appendStringInfoString(rec, ",\"postgres.json_as_text\":");
		escape_json(rec, PQgetvalue(res, i, 2));
	}
	appendStringInfoString(rec, "},\"key\":");
	if (PQgetisnull(res, i, 0))
		appendStringInfoString(rec, "null");
	else
		appendBinaryStringInfo(rec, PQgetvalue(res, i, 0), PQgetlength(res, i, 0));
	appendStringInfoString(rec, ",\"payload\":{\"before\":null,\"after\":");
	appendBinaryStringInfo(rec, PQgetvalue(res, i, 1), PQgetlength(res, i, 1));
	appendStringInfoString(rec, "}}");
	pgc_batch_add(w, t, rec->data, rec->len, position);
}

/*
 * Read the snapshot's rows as records through a cursor and apply them in
 * batches with pgconduit._apply_batch(), each batch applied while the next
 * is read.  The source builds each row's key and payload with to_jsonb(),
 * except for values it would lose, which take the exact forms of
 * pgconduit_output's records: a float's -0, and an array or composite
 * holding anything to_jsonb() loses, as their text in a string; a json or
 * jsonb value as its text, named in "postgres.json_as_text".
 */
static void
pgc_snapshot_by_records(PgcWorker *w, PgcTable *t, PGconn *reader)
{
	PGresult   *res;
	StringInfoData rec;
	int64		n = 0;
	char		fetch[64];
	int			chunk;
	List	   *cols = pgc_snapshot_columns(t);
	PgcValueKind *kinds;
	bool		any_json;

	/* text forms as the destination reads them whatever its settings */
	pgc_pq_command(reader, "source",
				   "SET datestyle = ISO; SET intervalstyle = postgres");
	kinds = pgc_snapshot_kinds(t, reader, cols, &any_json);
	pgc_pq_command(reader, "source", pgc_snapshot_cursor(t, cols, kinds, any_json));

	pgc_batch_reset(w);
	w->batch_table = t->target;
	initStringInfo(&rec);
	/* a batch is read in steps, so that it stays within its bytes too */
	chunk = Min(w->batch_limit, PGC_SNAPSHOT_FETCH);
	snprintf(fetch, sizeof(fetch), "FETCH %d FROM pgconduit_snapshot", chunk);
	for (;;)
	{
		int			rows;
		int			nbatch;

		res = pgc_pq_exec(reader, "source", fetch, 0, NULL);
		rows = PQntuples(res);
		if (rows == 0 && w->nbatch == 0)
		{
			PQclear(res);
			break;
		}
		for (int i = 0; i < rows; i++)
			pgc_snapshot_add_row(w, t, res, i, ++n, &rec);
		PQclear(res);
		CHECK_FOR_INTERRUPTS();
		if (rows == chunk && pgc_batch_has_room(w, chunk))
			continue;

		/* the destination applies this batch while the next is read */
		nbatch = w->nbatch;
		pgc_batch_seal(w);
		pgc_batch_finish(w);
		pgc_snapshot_count(w, t, n - nbatch, nbatch);
		pgc_batch_send(w, "snapshot");
		if (rows < chunk)
			break;
	}
	pgc_batch_finish(w);
	w->batch_table = NULL;
	pgc_snapshot_count(w, t, n, 0);
}

/*
 * Take the snapshot of table t into the destination transaction the caller
 * has begun: lock it briefly, read its cut, and copy its rows, by COPY
 * where the destination says that gives what the records would, else as
 * records.  A COPY the destination rejects is undone to a savepoint and
 * the table is taken again, in a new snapshot, record by record.  Sets and
 * returns t->cut: the table's changes committed before it are in the rows.
 * Once the caller has committed, pgc_snapshot_committed() says so.
 */
XLogRecPtr
pgc_snapshot_table(PgcWorker *w, PgcTable *t)
{
	PGconn	   *reader;
	XLogRecPtr	cut;
	bool		try_copy = true;

	for (;;)
	{
		List	   *cols = pgc_snapshot_columns(t);
		char	   *copy_in;

		t->snapshot_rows = 0;
		reader = pgc_snapshot_begin(w, t, &cut);
		copy_in = try_copy ? pgc_snapshot_copy_target(w, t, reader, cols) : NULL;
		if (copy_in == NULL)
		{
			pgc_snapshot_by_records(w, t, reader);
			break;
		}
		pgc_pq_command(w->dest, "destination", "SAVEPOINT pgconduit_copy");
		if (pgc_snapshot_by_copy(w, t, reader, cols, copy_in))
		{
			pgc_pq_command(w->dest, "destination", "RELEASE SAVEPOINT pgconduit_copy");
			break;
		}
		/* start over, in a new snapshot, record by record */
		pgc_pq_finish(&reader);
		pgc_pq_command(w->dest, "destination", "ROLLBACK TO SAVEPOINT pgconduit_copy");
		try_copy = false;
	}
	pgc_pq_command(reader, "source", "COMMIT");
	pgc_pq_finish(&reader);
	t->cut = cut;
	return cut;
}

/*
 * The destination has committed table t's snapshot: count its rows as
 * written, and stream its changes from now on.
 */
void
pgc_snapshot_committed(PgcTable *t)
{
	pgc_table_status_written(t, t->snapshot_rows);
	t->snapshot_rows = 0;
	pgc_table_set_state(t, PGC_TABLE_STREAMING);
}

/*
 * Take the snapshot of the source's table and apply it in one destination
 * transaction that ends by recording the cut as the position.  Returns the
 * cut LSN.
 */
XLogRecPtr
pgc_snapshot_run(PgcWorker *w)
{
	PgcTable   *t = linitial(w->tables);
	XLogRecPtr	cut;
	char		cutpos[PGC_POSITION_LEN + 1];

	pgstat_report_activity(STATE_RUNNING, "snapshot");
	pgc_pq_command(w->dest, "destination", "BEGIN");
	cut = pgc_snapshot_table(w, t);
	pgc_proto_position(cutpos, cut, 0);
	pgc_set_progress(w, w->src->cdc ? "cdc" : "done", cutpos);
	pgc_pq_command(w->dest, "destination", "COMMIT");
	pgc_snapshot_committed(t);
	pgstat_report_activity(STATE_RUNNING, w->src->cdc ? "streaming changes" : NULL);
	return cut;
}
