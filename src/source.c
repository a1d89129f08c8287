/*-------------------------------------------------------------------------
 *
 * source.c
 *	  The source side of a pipeline worker before any row is read: its
 *	  table found and checked, its payload and key columns settled, what
 *	  change data capture needs of the source checked, and the publication
 *	  and logical slot made sure of.
 *
 * Everything happens over libpq, so the source may be this database,
 * another one, or another server.  snapshot.c copies the table and
 * stream.c streams its changes; both follow the tables found here
 * (PgcWorker.tables, tables.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "pq.h"
#include "worker.h"

/* Column names as a comma-separated list of quoted identifiers */
char *
pgc_name_list(List *names)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, names)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? "," : "",
						 quote_identifier(lfirst(lc)));
	return buf.data;
}

/* Raise an ERROR that retrying cannot fix, about the source */
static void
pgc_source_error(const char *msg, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg_internal("%s", msg),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/* Is name in list (of char *)? */
bool
pgc_name_in(List *list, const char *name)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

/* A text[] literal of names */
char *
pgc_array_literal(List *names)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, names)
	{
		if (buf.len > 1)
			appendStringInfoChar(&buf, ',');
		appendStringInfoChar(&buf, '"');
		for (const char *p = lfirst(lc); *p; p++)
		{
			if (*p == '"' || *p == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
		appendStringInfoChar(&buf, '"');
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * The source table the pipeline follows, by OID once the destination has
 * recorded it, else by the configured name, with that name's table now:
 * columns oid, schema, name, relkind, and the OID the configured name
 * resolves to (NULL if none).  No row if the table is gone.
 */
static PGresult *
pgc_source_find(PgcWorker *w)
{
	const char *params[2];

	params[0] = w->src->table;
	params[1] = w->started_relid;
	/* a name without schema: where the source's role finds it */
	return pgc_pq_exec_user_path(w->source, "source",
								 "SELECT c.oid, n.nspname, c.relname, c.relkind,"
								 "       pg_catalog.to_regclass($1)::pg_catalog.oid"
								 "  FROM pg_catalog.pg_class c"
								 "  JOIN pg_catalog.pg_namespace n"
								 "    ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
								 " WHERE c.oid OPERATOR(pg_catalog.=)"
								 "       coalesce($2::pg_catalog.oid, pg_catalog.to_regclass($1))"
								 "   AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog.\"char\"[])",
								 2, params);
}

/*
 * Raise an ERROR if the table the pipeline follows is gone, or if the
 * configured name now names another table (the table was replaced, or the
 * source's "table" altered): the pipeline cannot go on with either.  A
 * rename alone is followed.  res is a result of pgc_source_find() and is
 * freed on error.
 */
static void
pgc_source_verify(PgcWorker *w, PGresult *res)
{
	if (w->started_relid == NULL)
		return;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source table %s of pipeline \"%s\" was dropped",
						w->started_table, w->name),
				 errdetail("The pipeline follows the table it started with (OID %s), which no longer exists; a table created under its name since is another table.",
						   w->started_relid),
				 errhint("Drop and re-create the pipeline to start over with a new snapshot.")));
	}
	if (!PQgetisnull(res, 0, 4) && strcmp(PQgetvalue(res, 0, 4), w->started_relid) != 0 &&
		!PQgetisnull(res, 0, 1) && !PQgetisnull(res, 0, 2))
	{
		char	   *now = pstrdup(quote_qualified_identifier(PQgetvalue(res, 0, 1),
															 PQgetvalue(res, 0, 2)));

		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source table \"%s\" of pipeline \"%s\" is no longer the table the pipeline started with",
						w->src->table, w->name),
				 errdetail("The pipeline follows the table with OID %s, now named %s; the name \"%s\" now names another table.",
						   w->started_relid, now, w->src->table),
				 errhint("Drop and re-create the pipeline to start over with the new table.")));
	}
}

/*
 * Raise an ERROR if the table, or any of its partitions, is unlogged: its
 * changes are not in WAL, so change data capture would lose them without
 * a word.  Checked at start and, since a partition can be attached or set
 * unlogged at any time, now and then during CDC.
 */
void
pgc_source_check_logged(PgcWorker *w, PgcTable *t)
{
	const char *params[1];
	PGresult   *res;
	char	   *unlogged;
	char		oid[12];

	params[0] = pgc_table_oid(t, oid);
	res = pgc_pq_exec(w->source, "source",
					  "SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', n.nspname, c.relname), ', '"
					  "                             ORDER BY n.nspname, c.relname)"
					  "  FROM pg_catalog.pg_class c"
					  "  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					  " WHERE c.relpersistence OPERATOR(pg_catalog.=) 'u'"
					  "   AND (c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					  "        OR c.oid OPERATOR(pg_catalog.=) ANY (ARRAY("
					  "         SELECT t.relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid) t)))",
					  1, params);
	if (PQntuples(res) != 1)
	{
		PQclear(res);
		elog(ERROR, "could not read the persistence of source table %s", t->qualified);
	}
	unlogged = PQgetisnull(res, 0, 0) ? NULL : pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (unlogged != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source table %s of pipeline \"%s\" is or has an unlogged table: %s",
						t->qualified, w->name, unlogged),
				 errdetail("Changes of an unlogged table or partition are not written to WAL, so change data capture cannot see them."),
				 errhint("Run ALTER TABLE ... SET LOGGED on the source, then drop and re-create the pipeline if it had already streamed changes; or set \"cdc\" to off.")));
}

/*
 * Check that WAL carries what the pipeline needs of the table, and that
 * publishing it cannot break the application's writes: a table published
 * for updates and deletes must have a replica identity, or its UPDATE and
 * DELETE fail; and the identity must hold the key's columns, or an update
 * that changes the key would not carry the old key.  Checked for the
 * table, or for a partitioned one, for each of its partitions.
 */
void
pgc_source_check_identity(PgcWorker *w, PgcTable *t)
{
	const char *params[2];
	PGresult   *res;
	char		oid[12];

	params[0] = pgc_table_oid(t, oid);
	params[1] = pgc_array_literal(t->key);
	res = pgc_pq_exec(w->source, "source",
					  "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),"
					  "       c.relreplident OPERATOR(pg_catalog.=) 'f'"
					  "       OR (c.relreplident OPERATOR(pg_catalog.<>) 'n' AND EXISTS ("
					  "         SELECT 1 FROM pg_catalog.pg_index i"
					  "          WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid"
					  "            AND CASE WHEN c.relreplident OPERATOR(pg_catalog.=) 'i'"
					  "                     THEN i.indisreplident ELSE i.indisprimary AND i.indimmediate END)),"
					  "       c.relreplident OPERATOR(pg_catalog.=) 'f'"
					  "       OR $2::pg_catalog.text[] OPERATOR(pg_catalog.<@) ARRAY("
					  "         SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_index i,"
					  "                pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord),"
					  "                pg_catalog.pg_attribute a"
					  "          WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid"
					  "            AND k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts"
					  "            AND a.attrelid OPERATOR(pg_catalog.=) c.oid"
					  "            AND a.attnum OPERATOR(pg_catalog.=) k.attnum"
					  "            AND CASE WHEN c.relreplident OPERATOR(pg_catalog.=) 'i' THEN i.indisreplident"
					  "                     WHEN c.relreplident OPERATOR(pg_catalog.=) 'd' THEN i.indisprimary"
					  "                     ELSE false END),"
					  "       (SELECT pg_catalog.quote_ident(x.relname)"
					  "          FROM pg_catalog.pg_index i"
					  "          JOIN pg_catalog.pg_class x ON x.oid OPERATOR(pg_catalog.=) i.indexrelid"
					  "         WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid"
					  "           AND i.indisunique AND i.indimmediate"
					  "           AND i.indpred IS NULL AND i.indexprs IS NULL"
					  "           AND i.indnkeyatts OPERATOR(pg_catalog.=) pg_catalog.cardinality($2::pg_catalog.text[])"
					  "           AND NOT EXISTS ("
					  "                 SELECT 1 FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord)"
					  "                   JOIN pg_catalog.pg_attribute a"
					  "                     ON a.attrelid OPERATOR(pg_catalog.=) c.oid"
					  "                    AND a.attnum OPERATOR(pg_catalog.=) k.attnum"
					  "                  WHERE k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts"
					  "                    AND (NOT a.attnotnull"
					  "                         OR a.attname::pg_catalog.text OPERATOR(pg_catalog.<>) ALL ($2::pg_catalog.text[])))"
					  "         ORDER BY i.indexrelid LIMIT 1),"
					  "       c.relreplident OPERATOR(pg_catalog.=) 'd' AND EXISTS ("
					  "         SELECT 1 FROM pg_catalog.pg_index i"
					  "          WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid"
					  "            AND i.indisprimary AND NOT i.indimmediate)"
					  "  FROM pg_catalog.pg_class c"
					  "  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					  " WHERE c.relkind OPERATOR(pg_catalog.=) 'r'"
					  "   AND (c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					  "        OR c.oid OPERATOR(pg_catalog.=) ANY ("
					  "         SELECT t.relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid) t))"
					  " ORDER BY c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid DESC, 1", 2, params);
	for (int i = 0; i < PQntuples(res); i++)
	{
		bool		has_identity;
		bool		covers_key;
		bool		deferrable;
		char	   *table;
		char	   *hint;

		if (PQgetisnull(res, i, 0) || PQgetisnull(res, i, 1) || PQgetisnull(res, i, 2))
			continue;
		has_identity = strcmp(PQgetvalue(res, i, 1), "t") == 0;
		covers_key = strcmp(PQgetvalue(res, i, 2), "t") == 0;
		if (has_identity && covers_key)
			continue;
		table = pstrdup(PQgetvalue(res, i, 0));
		if (!PQgetisnull(res, i, 3))
			hint = psprintf("Run ALTER TABLE %s REPLICA IDENTITY USING INDEX %s on the source, or give the table REPLICA IDENTITY FULL.",
							table, PQgetvalue(res, i, 3));
		else
			hint = psprintf("Give %s a primary key on the key columns (%s), or a unique index on them with REPLICA IDENTITY USING INDEX, or REPLICA IDENTITY FULL.",
							table, pgc_name_list(t->key));
		deferrable = !PQgetisnull(res, i, 4) && strcmp(PQgetvalue(res, i, 4), "t") == 0;
		PQclear(res);
		if (!has_identity && deferrable)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the primary key of source table %s is deferrable", table),
					 errdetail("A deferrable primary key gives the table no replica identity: once the table is published, its UPDATE and DELETE would fail."),
					 errhint("Make the primary key NOT DEFERRABLE on the source, or give the table REPLICA IDENTITY USING INDEX on a unique, immediate index of the key columns, or REPLICA IDENTITY FULL.")));
		if (!has_identity)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("source table %s has no replica identity", table),
					 errdetail("Publishing a table without one makes UPDATE and DELETE on it fail, and its changes would not carry the old key."),
					 errhint("%s", hint)));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the replica identity of source table %s does not include the key columns (%s)",
						table, pgc_name_list(t->key)),
				 errdetail("WAL carries the old values of the replica identity's columns only, so an update that changes the key would lose the old key."),
				 errhint("%s", hint)));
	}
	PQclear(res);
}

/*
 * Check that the key is a key at the source: its columns NOT NULL (a row
 * with a NULL key matches no row at the destination, so its updates would
 * insert and its deletes do nothing) and covered by a unique index that is
 * immediate, not partial and on plain columns (else rows sharing a key
 * collapse into one at the destination).  A primary key qualifies when it
 * is immediate.
 */
void
pgc_source_check_key(PgcWorker *w, PgcTable *t)
{
	const char *params[2];
	PGresult   *res;
	char	   *nullable;
	bool		unique;
	bool		deferrable;
	char		oid[12];

	params[0] = pgc_table_oid(t, oid);
	params[1] = pgc_array_literal(t->key);
	res = pgc_pq_exec(w->source, "source",
					  "SELECT (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', '"
					  "                                     ORDER BY a.attnum)"
					  "          FROM pg_catalog.pg_attribute a"
					  "         WHERE a.attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					  "           AND a.attname::pg_catalog.text OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[])"
					  "           AND NOT a.attnotnull),"
					  "       EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
					  "                WHERE i.indrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					  "                  AND i.indisunique AND i.indimmediate AND i.indisvalid"
					  "                  AND i.indpred IS NULL AND i.indexprs IS NULL"
					  "                  AND NOT EXISTS ("
					  "                        SELECT 1 FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord)"
					  "                          LEFT JOIN pg_catalog.pg_attribute a"
					  "                            ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid"
					  "                           AND a.attnum OPERATOR(pg_catalog.=) k.attnum"
					  "                         WHERE k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts"
					  "                           AND (a.attname IS NULL"
					  "                                OR a.attname::pg_catalog.text OPERATOR(pg_catalog.<>) ALL ($2::pg_catalog.text[])))),"
					  "       EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
					  "                WHERE i.indrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					  "                  AND i.indisprimary AND NOT i.indimmediate)",
					  2, params);
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1) || PQgetisnull(res, 0, 2))
	{
		PQclear(res);
		elog(ERROR, "could not read the indexes of source table %s", t->qualified);
	}
	nullable = PQgetisnull(res, 0, 0) ? NULL : pstrdup(PQgetvalue(res, 0, 0));
	unique = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	deferrable = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	if (!unique && deferrable && w->src->key == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("the primary key of source table %s is deferrable", t->qualified),
				 errdetail("A deferrable primary key is unique only at commit, so it is no key for the pipeline."),
				 errhint("Make the primary key NOT DEFERRABLE on the source, or name in the source's \"key\" columns with a unique, immediate index.")));
	if (nullable != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("key column(s) %s of source table %s may be null", nullable,
						t->qualified),
				 errdetail("A row whose key is null matches no row at the destination: its updates would insert new rows and its deletes would do nothing."),
				 errhint("Run ALTER TABLE %s ALTER COLUMN ... SET NOT NULL on the source, or name other key columns in the source's \"key\".",
						 t->qualified)));
	if (!unique)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("key (%s) of source table %s is not unique", pgc_name_list(t->key),
						t->qualified),
				 errdetail("No unique index of the source table that is immediate (not deferrable), not partial and on plain columns covers the key, so rows sharing a key would become one row at the destination."),
				 errhint("Create a unique index on the key columns on the source, or name the columns of the primary key or of such an index in the source's \"key\".")));
}

/*
 * During CDC, make sure now and then that the table the pipeline follows
 * is still there and still the one its name names: a dropped or replaced
 * table sends no more changes, so only the catalog tells.  (A source of
 * many tables notes a dropped table and goes on: route.c.)  Its replica
 * identity is checked again too: one changed so that it no longer holds
 * the key would let a changed key go without its old value; and that no
 * partition has become unlogged, whose changes WAL does not carry.
 */
void
pgc_source_check_tables(PgcWorker *w)
{
	ListCell   *lc;

	if (w->src->tables != NIL)
	{
		/* many tables: one dropped is noted, and the others go on */
		pgc_route_check_dropped(w);
	}
	else
	{
		PGresult   *res = pgc_source_find(w);

		pgc_source_verify(w, res);
		PQclear(res);
	}
	foreach(lc, w->tables)
	{
		PgcTable   *t = lfirst(lc);

		if (t->state != PGC_TABLE_SNAPSHOT && t->state != PGC_TABLE_STREAMING)
			continue;
		pgc_source_check_logged(w, t);
		pgc_source_check_identity(w, t);
	}
	w->table_checked = GetCurrentTimestamp();
}

/*
 * Find the table the pipeline follows on the source, as a PgcTable: by the
 * OID recorded on the destination once the pipeline has started, also
 * under another name, else by the configured name.
 */
static PgcTable *
pgc_source_find_table(PgcWorker *w)
{
	PGresult   *res;
	PgcTable   *t;
	StringInfoData buf;

	res = pgc_source_find(w);
	pgc_source_verify(w, res);
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1) ||
		PQgetisnull(res, 0, 2) || PQgetisnull(res, 0, 3))
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source table \"%s\" does not exist", w->src->table),
				 errhint("Create the table, then run pgconduit.start_pipeline('%s').", w->name)));
	}
	t = palloc0(sizeof(PgcTable));
	t->relid = (Oid) strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	t->relkind = PQgetvalue(res, 0, 3)[0];
	t->qualified = pstrdup(quote_qualified_identifier(PQgetvalue(res, 0, 1),
													  PQgetvalue(res, 0, 2)));
	t->target = w->started_table ? w->started_table : t->qualified;
	t->state = PGC_TABLE_SNAPSHOT;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "\"table\":");
	escape_json(&buf, t->target);
	t->meta = buf.data;
	PQclear(res);
	return t;
}

/* Settle the table's payload columns: the live, stored ones, or those configured */
static void
pgc_source_columns(PgcWorker *w, PgcTable *t, List **all)
{
	const char *params[1];
	PGresult   *res;
	ListCell   *lc;
	char		oid[12];

	params[0] = pgc_table_oid(t, oid);
	res = pgc_pq_exec(w->source, "source",
					  "SELECT attname FROM pg_catalog.pg_attribute"
					  " WHERE attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					  "   AND attnum OPERATOR(pg_catalog.>) 0 AND NOT attisdropped"
					  "   AND attgenerated OPERATOR(pg_catalog.=) '' ORDER BY attnum", 1, params);
	*all = NIL;
	for (int i = 0; i < PQntuples(res); i++)
		if (!PQgetisnull(res, i, 0))
			*all = lappend(*all, pstrdup(PQgetvalue(res, i, 0)));
	PQclear(res);
	t->columns = w->src->columns ? w->src->columns : *all;
	foreach(lc, t->columns)
		if (!pgc_name_in(*all, lfirst(lc)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of \"columns\" does not exist in source table %s",
							(char *) lfirst(lc), t->qualified)));
}

/* Settle the table's key columns: those configured, or its primary key */
static void
pgc_source_key(PgcWorker *w, PgcTable *t, List *all)
{
	const char *params[1];
	PGresult   *res;
	ListCell   *lc;
	char		oid[12];

	if (w->src->key)
	{
		t->key = w->src->key;
		foreach(lc, t->key)
			if (!pgc_name_in(all, lfirst(lc)))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("key column \"%s\" does not exist in source table %s",
								(char *) lfirst(lc), t->qualified)));
		return;
	}
	params[0] = pgc_table_oid(t, oid);
	res = pgc_pq_exec(w->source, "source",
					  "SELECT a.attname"
					  "  FROM pg_catalog.pg_index i,"
					  "       pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord)"
					  "  JOIN pg_catalog.pg_attribute a ON a.attnum OPERATOR(pg_catalog.=) k.attnum"
					  " WHERE i.indrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid AND i.indisprimary"
					  "   AND k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts"
					  "   AND a.attrelid OPERATOR(pg_catalog.=) i.indrelid ORDER BY k.ord", 1, params);
	for (int i = 0; i < PQntuples(res); i++)
		if (!PQgetisnull(res, i, 0))
			t->key = lappend(t->key, pstrdup(PQgetvalue(res, i, 0)));
	PQclear(res);
	if (t->key == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("source table %s has no primary key", t->qualified),
				 errdetail("Records need a key so that the destination can apply updates and deletes."),
				 errhint("Add a primary key to the table, or name its key columns in the source's \"key\".")));
}

/* Check what change data capture needs of the source: wal_level, REPLICATION */
static void
pgc_source_check_cdc(PgcWorker *w)
{
	PGresult   *res;

	res = pgc_pq_exec(w->source, "source",
					  "SELECT pg_catalog.current_setting('wal_level'),"
					  "       (SELECT rolreplication OR rolsuper FROM pg_catalog.pg_roles"
					  "         WHERE rolname OPERATOR(pg_catalog.=) CURRENT_USER)", 0, NULL);
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		elog(ERROR, "could not read wal_level from the source");
	}
	if (strcmp(PQgetvalue(res, 0, 0), "logical") != 0)
	{
		char	   *level = pstrdup(PQgetvalue(res, 0, 0));

		PQclear(res);
		pgc_source_error("wal_level must be \"logical\" on the source for change data capture",
						 psprintf("The source's wal_level is \"%s\".", level),
						 "Set wal_level = logical in the source's postgresql.conf and restart it, or set \"cdc\" to off.");
	}
	if (PQgetisnull(res, 0, 1) || strcmp(PQgetvalue(res, 0, 1), "t") != 0)
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the source's role must have the REPLICATION attribute for change data capture"),
				 errhint("Run ALTER ROLE ... REPLICATION on the source, or set \"cdc\" to off.")));
	}
	PQclear(res);
}

/*
 * Find the table on the source and settle its payload and key columns;
 * check what CDC needs (wal_level, REPLICATION, a replica identity that
 * holds the key).  A pipeline that has started follows its table by the
 * OID recorded on the destination, also under another name.
 */
void
pgc_source_prepare(PgcWorker *w)
{
	PgcTable   *t;
	List	   *all;

	if (w->src->tables != NIL)
	{
		/* CDC's needs first: a table is checked against them */
		if (w->src->cdc)
			pgc_source_check_cdc(w);
		pgc_tables_resolve(w);
		w->table_checked = GetCurrentTimestamp();
		return;
	}
	t = pgc_source_find_table(w);
	w->tables = list_make1(t);
	w->table_checked = GetCurrentTimestamp();
	pgc_source_columns(w, t, &all);
	pgc_source_key(w, t, all);

	if (!w->src->cdc)
		return;
	pgc_source_check_cdc(w);

	/* before the publication is touched: it must not break the table */
	pgc_source_check_logged(w, t);
	pgc_source_check_identity(w, t);
	pgc_source_check_key(w, t);
}

/*
 * Make sure the publication exists and publishes the table and every kind
 * of change: create it when missing, check it when present.  A
 * publication without the table is an error, not a guess, unless
 * pgconduit made it.
 */
static void
pgc_source_ensure_publication(PgcWorker *w, PgcTable *t)
{
	PgcSourceConfig *src = w->src;
	const char *params[3];
	PGresult   *res;
	char		oid[12];

	/*
	 * publication: without the table's inheritance children (ONLY), which
	 * the pipeline does not read, so that it asks nothing of them.  The
	 * table is looked for in the publication's own catalogs, by OID:
	 * pg_publication_tables lists a partitioned table's leaf partitions,
	 * not the table, and would have it added again on every start.
	 */
	params[0] = src->publication_name;
	params[1] = pgc_table_oid(t, oid);
	params[2] = psprintf("created by pgconduit for pipeline %s", w->name);
	res = pgc_pq_exec(w->source, "source",
					  "SELECT p.puballtables OR EXISTS ("
					  "         SELECT 1 FROM pg_catalog.pg_publication_rel r"
					  "          WHERE r.prpubid OPERATOR(pg_catalog.=) p.oid"
					  "            AND r.prrelid OPERATOR(pg_catalog.=) $2::pg_catalog.oid)"
					  "       OR EXISTS ("
					  "         SELECT 1 FROM pg_catalog.pg_publication_namespace s,"
					  "                pg_catalog.pg_class c"
					  "          WHERE c.oid OPERATOR(pg_catalog.=) $2::pg_catalog.oid"
					  "            AND s.pnpubid OPERATOR(pg_catalog.=) p.oid"
					  "            AND s.pnnspid OPERATOR(pg_catalog.=) c.relnamespace),"
					  "       p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate,"
					  "       pg_catalog.obj_description(p.oid, 'pg_publication') IS NOT DISTINCT FROM $3"
					  "  FROM pg_catalog.pg_publication p"
					  " WHERE p.pubname OPERATOR(pg_catalog.=) $1", 3, params);
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		pgc_pq_command(w->source, "source",
					   psprintf("CREATE PUBLICATION %s FOR TABLE %s%s;"
								"COMMENT ON PUBLICATION %s IS %s",
								quote_identifier(src->publication_name),
								t->relkind == 'r' ? "ONLY " : "", t->qualified,
								quote_identifier(src->publication_name),
								quote_literal_cstr(params[2])));
	}
	else if (PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1) || PQgetisnull(res, 0, 2))
	{
		PQclear(res);
		elog(ERROR, "could not read publication \"%s\" on the source",
			 src->publication_name);
	}
	else
	{
		bool		has = (strcmp(PQgetvalue(res, 0, 0), "t") == 0);
		bool		all_actions = (strcmp(PQgetvalue(res, 0, 1), "t") == 0);
		bool		ours = (strcmp(PQgetvalue(res, 0, 2), "t") == 0);

		PQclear(res);
		if (!has && ours)
		{
			/* its table was dropped and made again before the first snapshot */
			pgc_pq_command(w->source, "source",
						   psprintf("ALTER PUBLICATION %s ADD TABLE %s%s",
									quote_identifier(src->publication_name),
									t->relkind == 'r' ? "ONLY " : "", t->qualified));
		}
		else if (!has)
			pgc_source_error(psprintf("publication \"%s\" does not include table %s",
									  src->publication_name, t->qualified),
							 "The source's publication exists but does not publish the table.",
							 psprintf("Run ALTER PUBLICATION %s ADD TABLE %s on the source, or name another publication in \"publication_name\".",
									  quote_identifier(src->publication_name), t->qualified));
		if (!all_actions)
			pgc_source_error(psprintf("publication \"%s\" does not publish every kind of change",
									  src->publication_name),
							 "The pipeline needs inserts, updates, deletes and truncates; changes the publication leaves out would be lost.",
							 psprintf("Run ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate') on the source, or name another publication in \"publication_name\".",
									  quote_identifier(src->publication_name)));
	}
}

/*
 * Make sure the logical slot exists: create it when missing, check it when
 * present.  A slot of another plugin or database is an error, not a guess;
 * a slot that vanished after changes were streamed is an error too, since
 * changes made meanwhile are lost to it.  A failover slot, which standbys
 * keep in sync so that it survives a promotion, exists from PostgreSQL 17
 * on -- the source's version counts, not this server's.
 */
static void
pgc_source_ensure_replication_slot(PgcWorker *w)
{
	PgcSourceConfig *src = w->src;
	const char *params[1];
	PGresult   *res;

	if (src->failover && PQserverVersion(w->source) < 170000)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source \"failover\" needs PostgreSQL 17 or later on the source"),
				 errdetail("The source server runs PostgreSQL %d, whose replication slots cannot fail over.",
						   PQserverVersion(w->source) / 10000),
				 errhint("Set \"failover\" to off, or upgrade the source server.")));
	params[0] = src->slot_name;
	res = pgc_pq_exec(w->source, "source",
					  PQserverVersion(w->source) >= 170000 ?
					  "SELECT s.plugin, s.slot_type,"
					  "       s.database OPERATOR(pg_catalog.=) pg_catalog.current_database(),"
					  "       s.failover"
					  "  FROM pg_catalog.pg_replication_slots s"
					  " WHERE s.slot_name OPERATOR(pg_catalog.=) $1" :
					  "SELECT s.plugin, s.slot_type,"
					  "       s.database OPERATOR(pg_catalog.=) pg_catalog.current_database(),"
					  "       false"
					  "  FROM pg_catalog.pg_replication_slots s"
					  " WHERE s.slot_name OPERATOR(pg_catalog.=) $1",
					  1, params);
	if (PQntuples(res) == 1)
	{
		bool		ok_plugin = !PQgetisnull(res, 0, 0) &&
			strcmp(PQgetvalue(res, 0, 0), "pgconduit_output") == 0;
		bool		ok_type = !PQgetisnull(res, 0, 1) &&
			strcmp(PQgetvalue(res, 0, 1), "logical") == 0;
		bool		ok_db = !PQgetisnull(res, 0, 2) &&
			strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		bool		ok_failover = !src->failover ||
			(!PQgetisnull(res, 0, 3) && strcmp(PQgetvalue(res, 0, 3), "t") == 0);
		char	   *plugin = pstrdup(PQgetvalue(res, 0, 0));

		PQclear(res);
		if (!ok_type || !ok_plugin)
			pgc_source_error(psprintf("replication slot \"%s\" does not use plugin pgconduit_output",
									  src->slot_name),
							 psprintf("The slot is a %s slot with plugin \"%s\".",
									  ok_type ? "logical" : "physical", plugin),
							 "Drop the slot or name another one in the source's \"slot_name\".");
		if (!ok_db)
			pgc_source_error(psprintf("replication slot \"%s\" belongs to another database",
									  src->slot_name),
							 NULL,
							 "Drop the slot or name another one in the source's \"slot_name\".");
		if (!ok_failover)
			pgc_source_error(psprintf("replication slot \"%s\" is not a failover slot", src->slot_name),
							 "The source sets \"failover\", but the slot was created without it.",
							 psprintf("Run ALTER_REPLICATION_SLOT %s (FAILOVER true) on a replication connection to the source, or name another slot in \"slot_name\".",
									  quote_identifier(src->slot_name)));
		return;
	}
	PQclear(res);
	if (strcmp(w->phase, "cdc") == 0)
		pgc_source_error(psprintf("replication slot \"%s\" of pipeline \"%s\" no longer exists on the source",
								  src->slot_name, w->name),
						 "The slot was dropped after the pipeline had started streaming; changes made since then cannot be read.",
						 "Drop and re-create the pipeline to take a new snapshot.");
	PQclear(pgc_pq_exec(w->source, "source",
						src->failover ?
						"SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgconduit_output', failover => true)" :
						"SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgconduit_output')",
						1, params));
	w->created_slot = true;
}

/*
 * Make sure the publication and the logical slot exist: create them when
 * missing, check them when present.
 */
void
pgc_source_ensure_slot(PgcWorker *w)
{
	if (w->src->tables != NIL)
		pgc_tables_publication(w);
	else
		pgc_source_ensure_publication(w, linitial(w->tables));
	pgc_source_ensure_replication_slot(w);
}
