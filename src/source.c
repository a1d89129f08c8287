/*-------------------------------------------------------------------------
 *
 * source.c
 *	  The source side of a pipeline worker: the table, the slot and
 *	  publication, the snapshot, and the stream of changes.
 *
 * Everything happens over libpq, so the source may be this database,
 * another one, or another server.  The snapshot follows the handoff of
 * DESIGN.md: the slot exists first; a transaction takes the table's SHARE
 * lock, reads the cut LSN and exports its snapshot; a second connection
 * imports the snapshot and reads the rows while the first commits at once.
 * The snapshot's rows are applied in one destination transaction, so a
 * crash during it leaves nothing behind and it starts over: by COPY from
 * source to destination where that gives what the records would
 * (write_copy.c decides), else as records.  The stream then reads
 * pgconduit_output's records, several per message, and drops those at or
 * before the recorded position, which starts at the cut; the slot is
 * confirmed only up to what the destination has committed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlogdefs.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/logicalproto.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pgconduit.h"
#include "pq.h"
#include "worker.h"

/* How often the worker reports its position to the walsender anyway */
#define PGC_FEEDBACK_INTERVAL_MS	1000

/* How often it measures the source's WAL position and its slot */
#define PGC_MEASURE_INTERVAL_MS		1000

/* How many measurements it remembers, to know when it had caught up */
#define PGC_MEASURES	16

/* Snapshot rows fetched at a time, at most */
#define PGC_SNAPSHOT_FETCH	1000

/* How long the worker lets records gather while the destination is busy */
#define PGC_GATHER_MS	1

static char *pgc_array_literal(List *names);
static char *pgc_name_list(List *names);

/* Quote a string as an SQL literal for a replication command */
static char *
pgc_literal(const char *s)
{
	return quote_literal_cstr(s);
}

/* Column names as a comma-separated list of quoted identifiers */
static char *
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
static bool
pgc_name_in(List *list, const char *name)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
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

static void pgc_source_check_identity(PgcWorker *w);

/*
 * Raise an ERROR if the table, or any of its partitions, is unlogged: its
 * changes are not in WAL, so change data capture would lose them without
 * a word.  Checked at start and, since a partition can be attached or set
 * unlogged at any time, now and then during CDC.
 */
static void
pgc_source_check_logged(PgcWorker *w)
{
	const char *params[1];
	PGresult   *res;
	char	   *unlogged;

	params[0] = w->relid;
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
		elog(ERROR, "could not read the persistence of source table %s", w->qualified);
	}
	unlogged = PQgetisnull(res, 0, 0) ? NULL : pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (unlogged != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source table %s of pipeline \"%s\" is or has an unlogged table: %s",
						w->qualified, w->name, unlogged),
				 errdetail("Changes of an unlogged table or partition are not written to WAL, so change data capture cannot see them."),
				 errhint("Run ALTER TABLE ... SET LOGGED on the source, then drop and re-create the pipeline if it had already streamed changes; or set \"cdc\" to off.")));
}

/*
 * During CDC, make sure now and then that the table the pipeline follows
 * is still there and still the one its name names: a dropped or replaced
 * table sends no more changes, so only the catalog tells.  Its replica
 * identity is checked again too: one changed so that it no longer holds
 * the key would let a changed key go without its old value; and that no
 * partition has become unlogged, whose changes WAL does not carry.
 */
void
pgc_source_check_table(PgcWorker *w)
{
	PGresult   *res = pgc_source_find(w);

	pgc_source_verify(w, res);
	PQclear(res);
	pgc_source_check_logged(w);
	pgc_source_check_identity(w);
	w->table_checked = GetCurrentTimestamp();
}

/*
 * Check that WAL carries what the pipeline needs of the table, and that
 * publishing it cannot break the application's writes: a table published
 * for updates and deletes must have a replica identity, or its UPDATE and
 * DELETE fail; and the identity must hold the key's columns, or an update
 * that changes the key would not carry the old key.  Checked for the
 * table, or for a partitioned one, for each of its partitions.
 */
static void
pgc_source_check_identity(PgcWorker *w)
{
	const char *params[2];
	PGresult   *res;

	params[0] = w->relid;
	params[1] = pgc_array_literal(w->key);
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
							table, pgc_name_list(w->key));
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
						table, pgc_name_list(w->key)),
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
static void
pgc_source_check_key(PgcWorker *w)
{
	const char *params[2];
	PGresult   *res;
	char	   *nullable;
	bool		unique;
	bool		deferrable;

	params[0] = w->relid;
	params[1] = pgc_array_literal(w->key);
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
		elog(ERROR, "could not read the indexes of source table %s", w->qualified);
	}
	nullable = PQgetisnull(res, 0, 0) ? NULL : pstrdup(PQgetvalue(res, 0, 0));
	unique = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	deferrable = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	if (!unique && deferrable && w->src->key == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("the primary key of source table %s is deferrable", w->qualified),
				 errdetail("A deferrable primary key is unique only at commit, so it is no key for the pipeline."),
				 errhint("Make the primary key NOT DEFERRABLE on the source, or name in the source's \"key\" columns with a unique, immediate index.")));
	if (nullable != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("key column(s) %s of source table %s may be null", nullable,
						w->qualified),
				 errdetail("A row whose key is null matches no row at the destination: its updates would insert new rows and its deletes would do nothing."),
				 errhint("Run ALTER TABLE %s ALTER COLUMN ... SET NOT NULL on the source, or name other key columns in the source's \"key\".",
						 w->qualified)));
	if (!unique)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("key (%s) of source table %s is not unique", pgc_name_list(w->key),
						w->qualified),
				 errdetail("No unique index of the source table that is immediate (not deferrable), not partial and on plain columns covers the key, so rows sharing a key would become one row at the destination."),
				 errhint("Create a unique index on the key columns on the source, or name the columns of the primary key or of such an index in the source's \"key\".")));
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
	PgcSourceConfig *src = w->src;
	const char *params[1];
	PGresult   *res;
	List	   *all = NIL;
	ListCell   *lc;
	StringInfoData buf;

	res = pgc_source_find(w);
	pgc_source_verify(w, res);
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1) ||
		PQgetisnull(res, 0, 2) || PQgetisnull(res, 0, 3))
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source table \"%s\" does not exist", src->table),
				 errhint("Create the table, then run pgconduit.start_pipeline('%s').", w->name)));
	}
	w->relid = pstrdup(PQgetvalue(res, 0, 0));
	w->relkind = PQgetvalue(res, 0, 3)[0];
	w->qualified = pstrdup(quote_qualified_identifier(PQgetvalue(res, 0, 1),
													  PQgetvalue(res, 0, 2)));
	w->target = w->started_table ? w->started_table : w->qualified;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "\"table\":");
	escape_json(&buf, w->target);
	w->meta = buf.data;
	PQclear(res);
	w->table_checked = GetCurrentTimestamp();

	/* columns: the live, stored ones, or those configured */
	params[0] = w->relid;
	res = pgc_pq_exec(w->source, "source",
					  "SELECT attname FROM pg_catalog.pg_attribute"
					  " WHERE attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					  "   AND attnum OPERATOR(pg_catalog.>) 0 AND NOT attisdropped"
					  "   AND attgenerated OPERATOR(pg_catalog.=) '' ORDER BY attnum", 1, params);
	for (int i = 0; i < PQntuples(res); i++)
		if (!PQgetisnull(res, i, 0))
			all = lappend(all, pstrdup(PQgetvalue(res, i, 0)));
	PQclear(res);
	w->columns = src->columns ? src->columns : all;
	foreach(lc, w->columns)
		if (!pgc_name_in(all, lfirst(lc)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of \"columns\" does not exist in source table %s",
							(char *) lfirst(lc), w->qualified)));

	/* key: configured, or the primary key */
	if (src->key)
	{
		w->key = src->key;
		foreach(lc, w->key)
			if (!pgc_name_in(all, lfirst(lc)))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("key column \"%s\" does not exist in source table %s",
								(char *) lfirst(lc), w->qualified)));
	}
	else
	{
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
				w->key = lappend(w->key, pstrdup(PQgetvalue(res, i, 0)));
		PQclear(res);
		if (w->key == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("source table %s has no primary key", w->qualified),
					 errdetail("Records need a key so that the destination can apply updates and deletes."),
					 errhint("Add a primary key to the table, or name its key columns in the source's \"key\".")));
	}

	if (!src->cdc)
		return;
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

	/* before the publication is touched: it must not break the table */
	pgc_source_check_logged(w);
	pgc_source_check_identity(w);
	pgc_source_check_key(w);
}

/*
 * Make sure the publication and the logical slot exist: create them when
 * missing, check them when present.  A slot of another plugin or database,
 * or a publication without the table, is an error, not a guess; a slot
 * that vanished after changes were streamed is an error too, since
 * changes made meanwhile are lost to it.
 */
void
pgc_source_ensure_slot(PgcWorker *w)
{
	PgcSourceConfig *src = w->src;
	const char *params[3];
	PGresult   *res;

	/*
	 * publication: without the table's inheritance children (ONLY), which
	 * the pipeline does not read, so that it asks nothing of them.  The
	 * table is looked for in the publication's own catalogs, by OID:
	 * pg_publication_tables lists a partitioned table's leaf partitions,
	 * not the table, and would have it added again on every start.
	 */
	params[0] = src->publication_name;
	params[1] = w->relid;
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
								w->relkind == 'r' ? "ONLY " : "", w->qualified,
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
									w->relkind == 'r' ? "ONLY " : "", w->qualified));
		}
		else if (!has)
			pgc_source_error(psprintf("publication \"%s\" does not include table %s",
									  src->publication_name, w->qualified),
							 "The source's publication exists but does not publish the table.",
							 psprintf("Run ALTER PUBLICATION %s ADD TABLE %s on the source, or name another publication in \"publication_name\".",
									  quote_identifier(src->publication_name), w->qualified));
		if (!all_actions)
			pgc_source_error(psprintf("publication \"%s\" does not publish every kind of change",
									  src->publication_name),
							 "The pipeline needs inserts, updates, deletes and truncates; changes the publication leaves out would be lost.",
							 psprintf("Run ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate') on the source, or name another publication in \"publication_name\".",
									  quote_identifier(src->publication_name)));
	}

	/*
	 * slot; a failover slot, which standbys keep in sync so that it
	 * survives a promotion, exists from PostgreSQL 17 on -- the source's
	 * version counts, not this server's
	 */
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

/* Append a hex position for snapshot row n: it sorts before any change */
static void
pgc_snapshot_position(char *out, uint64 n)
{
	snprintf(out, PGC_POSITION_LEN + 1, "0000000000000000/%08X%08X",
			 (uint32) (n >> 32), (uint32) n);
}

/*
 * The table changed between finding it and locking it for the snapshot
 * (dropped, renamed or replaced).  Nothing is applied yet, so the worker
 * starts over and finds it again.
 */
static void
pgc_snapshot_changed(PgcWorker *w, PGresult *res)
{
	if (res)
		PQclear(res);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("source table %s changed while pipeline \"%s\" began its snapshot",
					w->qualified, w->name),
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
pgc_snapshot_begin(PgcWorker *w, XLogRecPtr *cut)
{
	PGconn	   *reader;
	PGresult   *res;
	const char *params[2];
	char	   *locked;
	const char *only = w->relkind == 'r' ? "ONLY " : "";
	char	   *snapname;
	uint32		hi,
				lo;
	int64		total;

	params[0] = w->relid;
	res = pgc_pq_exec(w->source, "source",
					  "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)"
					  "  FROM pg_catalog.pg_class c"
					  "  JOIN pg_catalog.pg_namespace n"
					  "    ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					  " WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid", 1, params);
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		pgc_snapshot_changed(w, res);
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
			pgc_snapshot_changed(w, res);
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
		pgc_snapshot_changed(w, res);
	if (sscanf(PQgetvalue(res, 0, 0), "%X/%X", &hi, &lo) != 2)
		elog(ERROR, "could not parse LSN \"%s\"", PQgetvalue(res, 0, 0));
	*cut = ((uint64) hi << 32) | lo;
	snapname = pstrdup(PQgetvalue(res, 0, 1));
	total = strtoi64(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	w->qualified = locked;

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
	return reader;
}

/* Count rows more snapshot rows read, done in all so far */
static void
pgc_snapshot_count(PgcWorker *w, int64 done, int rows)
{
	SpinLockAcquire(&w->slot->mutex);
	w->slot->records_read += rows;
	w->slot->snapshot_done = done;
	SpinLockRelease(&w->slot->mutex);
}

/* A text[] literal of names */
static char *
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
 * The columns a snapshot row carries: the payload columns and the key
 * columns that are not among them.
 */
static List *
pgc_snapshot_columns(PgcWorker *w)
{
	List	   *cols = list_copy(w->columns);
	ListCell   *lc;

	foreach(lc, w->key)
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
pgc_snapshot_copy_target(PgcWorker *w, PGconn *reader, List *cols)
{
	PGresult   *res;
	const char *params[4];
	List	   *types = NIL;
	char	   *target = NULL;

	params[0] = w->relid;
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

	params[0] = w->dst->table ? w->dst->table : w->target;
	params[2] = pgc_array_literal(types);
	params[3] = pgc_array_literal(w->key);
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
pgc_snapshot_by_copy(PgcWorker *w, PGconn *reader, List *cols,
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
	plain = (w->relkind == 'r');
	initStringInfo(&sql);
	appendStringInfoString(&sql, plain ? "COPY " : "COPY (SELECT ");
	if (plain)
		appendStringInfo(&sql, "%s (", w->qualified);
	foreach(lc, cols)
		appendStringInfo(&sql, "%s%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 plain ? "" : "s.", quote_identifier(lfirst(lc)));
	if (plain)
		appendStringInfoString(&sql, ") TO STDOUT");
	else
		appendStringInfo(&sql, " FROM %s s) TO STDOUT", w->qualified);
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
				pgc_snapshot_count(w, n, unreported);
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
	pgc_snapshot_count(w, n, unreported);
	SpinLockAcquire(&w->slot->mutex);
	w->slot->records_written += n;
	SpinLockRelease(&w->slot->mutex);
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
 * Read the snapshot's rows as records through a cursor and apply them in
 * batches with pgconduit._apply_batch(), each batch applied while the next
 * is read.  The source builds each row's key and payload with to_jsonb(),
 * except for values it would lose, which take the exact forms of
 * pgconduit_output's records: a float's -0, and an array or composite
 * holding anything to_jsonb() loses, as their text in a string; a json or
 * jsonb value as its text, named in "postgres.json_as_text".
 */
static void
pgc_snapshot_by_records(PgcWorker *w, PGconn *reader)
{
	PGresult   *res;
	StringInfoData sql;
	StringInfoData rec;
	ListCell   *lc;
	bool		first;
	int64		n = 0;
	char		position[PGC_POSITION_LEN + 1];
	char		fetch[64];
	int			chunk;
	List	   *cols = pgc_snapshot_columns(w);
	PgcValueKind *kinds = palloc0(sizeof(PgcValueKind) * (list_length(cols) + 1));
	const char *params[2];
	bool		any_json = false;

	/* text forms as the destination reads them whatever its settings */
	pgc_pq_command(reader, "source",
				   "SET datestyle = ISO; SET intervalstyle = postgres");

	/* the kind of each column's type */
	params[0] = w->relid;
	foreach(lc, cols)
	{
		PgcValueKind *k = &kinds[foreach_current_index(lc)];

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
			any_json = true;
	}

	/*
	 * Key and payload of each row as JSON, built by the source: l holds
	 * whether each value is one to_jsonb() would lose.
	 */
	initStringInfo(&sql);
	appendStringInfoString(&sql, "DECLARE pgconduit_snapshot NO SCROLL CURSOR FOR SELECT pg_catalog.to_jsonb(k.*)::pg_catalog.text, pg_catalog.to_jsonb(r.*)::pg_catalog.text, ");
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
					 w->relkind == 'r' ? "ONLY " : "", w->qualified);
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
	for (int part = 0; part < 2; part++)
	{
		appendStringInfoString(&sql, ", LATERAL (SELECT ");
		first = true;
		foreach(lc, part == 0 ? w->key : w->columns)
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
	pgc_pq_command(reader, "source", sql.data);

	pgc_batch_reset(w);
	w->batch_table = w->target;
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
		/*
		 * Snapshot records carry only the table in their metadata: the
		 * destination has less to parse.
		 */
		for (int i = 0; i < rows; i++)
		{
			pgc_snapshot_position(position, ++n);
			resetStringInfo(&rec);
			appendStringInfoString(&rec, "{\"position\":\"");
			appendBinaryStringInfo(&rec, position, PGC_POSITION_LEN);
			appendStringInfoString(&rec, "\",\"operation\":\"snapshot\",\"metadata\":{");
			appendStringInfoString(&rec, w->meta);
			if (!PQgetisnull(res, i, 2) && strcmp(PQgetvalue(res, i, 2), "[]") != 0)
			{
				appendStringInfoString(&rec, ",\"postgres.json_as_text\":");
				escape_json(&rec, PQgetvalue(res, i, 2));
			}
			appendStringInfoString(&rec, "},\"key\":");
			appendBinaryStringInfo(&rec, PQgetvalue(res, i, 0), PQgetlength(res, i, 0));
			appendStringInfoString(&rec, ",\"payload\":{\"before\":null,\"after\":");
			appendBinaryStringInfo(&rec, PQgetvalue(res, i, 1), PQgetlength(res, i, 1));
			appendStringInfoString(&rec, "}}");
			pgc_batch_add(w, rec.data, rec.len, position);
		}
		PQclear(res);
		CHECK_FOR_INTERRUPTS();
		if (rows == chunk && pgc_batch_has_room(w, chunk))
			continue;

		/* the destination applies this batch while the next is read */
		nbatch = w->nbatch;
		pgc_batch_seal(w);
		pgc_batch_finish(w);
		pgc_snapshot_count(w, n - nbatch, nbatch);
		pgc_batch_send(w, "snapshot");
		if (rows < chunk)
			break;
	}
	pgc_batch_finish(w);
	w->batch_table = NULL;
	pgc_snapshot_count(w, n, 0);
}

/*
 * Take the snapshot and apply it in one destination transaction that ends
 * by recording the cut as the position.  Returns the cut LSN.
 */
XLogRecPtr
pgc_source_snapshot(PgcWorker *w)
{
	PGconn	   *reader;
	XLogRecPtr	cut;
	bool		try_copy = true;
	char		cutpos[PGC_POSITION_LEN + 1];

	pgstat_report_activity(STATE_RUNNING, "snapshot");
	for (;;)
	{
		List	   *cols = pgc_snapshot_columns(w);
		char	   *copy_in;

		reader = pgc_snapshot_begin(w, &cut);
		pgc_pq_command(w->dest, "destination", "BEGIN");
		copy_in = try_copy ? pgc_snapshot_copy_target(w, reader, cols) : NULL;
		if (copy_in == NULL)
		{
			pgc_snapshot_by_records(w, reader);
			break;
		}
		if (pgc_snapshot_by_copy(w, reader, cols, copy_in))
			break;
		/* start over, in a new snapshot, record by record */
		pgc_pq_finish(&reader);
		pgc_pq_command(w->dest, "destination", "ROLLBACK");
		try_copy = false;
	}
	pgc_pq_command(reader, "source", "COMMIT");
	pgc_pq_finish(&reader);

	snprintf(cutpos, sizeof(cutpos), "%08X%08X/0000000000000000", LSN_FORMAT_ARGS(cut));
	pgc_set_progress(w, w->src->cdc ? "cdc" : "done", cutpos);
	pgc_pq_command(w->dest, "destination", "COMMIT");
	pgstat_report_activity(STATE_RUNNING, w->src->cdc ? "streaming changes" : NULL);
	return cut;
}

/* Parse 16 hex digits */
static XLogRecPtr
pgc_parse_hex16(const char *s)
{
	uint64		v = 0;

	for (int i = 0; i < 16; i++)
	{
		char		c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return InvalidXLogRecPtr;
	}
	return v;
}

/* Send the walsender our position: everything before flush is applied */
static void
pgc_send_feedback(PgcWorker *w, XLogRecPtr flush, bool reply)
{
	char		msg[1 + 8 * 4 + 1];
	int			len = 0;
	TimestampTz now = GetCurrentTimestamp();

	msg[len++] = 'r';
	for (int part = 0; part < 3; part++)
	{
		uint64		v = pg_hton64(flush);

		memcpy(msg + len, &v, 8);
		len += 8;
	}
	{
		uint64		v = pg_hton64((uint64) now);

		memcpy(msg + len, &v, 8);
		len += 8;
	}
	msg[len++] = reply ? 1 : 0;
	if (PQputCopyData(w->repl, msg, len) <= 0 || PQflush(w->repl) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not send feedback to the source: %s",
						pchomp(PQerrorMessage(w->repl)))));
}

/* Find "key":"value" in a record and copy the value (at most len-1) */
static bool
pgc_record_field(const char *rec, const char *key, char *out, int len)
{
	const char *p = strstr(rec, key);
	int			i = 0;

	if (p == NULL)
		return false;
	p += strlen(key);
	while (*p && *p != '"' && i < len - 1)
		out[i++] = *p++;
	out[i] = '\0';
	return true;
}

/* The stream's bookkeeping of what is applied and confirmed */
typedef struct PgcStream
{
	XLogRecPtr	confirmed;		/* told the walsender: applied before this */
	XLogRecPtr	pending_complete;	/* what the batch in flight completes */
	XLogRecPtr	pending_lsn;	/* commit LSN of its last record */
	TimestampTz last_feedback;
	/* what the records read so far say */
	XLogRecPtr	complete;		/* end of the last whole transaction */
	XLogRecPtr	pending_marker; /* LSN of a wait marker read */
	bool		in_txn;			/* inside a transaction's records */
	TimestampTz commit_time;	/* of the transaction being read */
	/* for the lag: where the source is, and the oldest commit not applied */
	XLogRecPtr	source_lsn;		/* measured, or read in the stream */
	TimestampTz next_measure;
	XLogRecPtr	measured_lsn[PGC_MEASURES]; /* the last measurements */
	TimestampTz measured_at[PGC_MEASURES];
	int			nmeasured;
	TimestampTz fill_first_time;	/* commit time of the batch's first record */
	TimestampTz pending_first_time; /* the same of the batch in flight */
} PgcStream;

/*
 * Measure the source's flushed WAL and the pipeline's slot (which warns in
 * the server log when the slot holds too much WAL), once a second.
 */
static void
pgc_stream_measure(PgcWorker *w, PgcStream *st)
{
	TimestampTz now = GetCurrentTimestamp();
	XLogRecPtr	flush;
	XLogRecPtr	restart;
	XLogRecPtr	confirmed;

	if (now < st->next_measure)
		return;
	pgc_measure_slot(w->source, w->src->slot_name, &flush, &restart, &confirmed);
	st->source_lsn = Max(st->source_lsn, flush);
	st->next_measure = now + PGC_MEASURE_INTERVAL_MS * 1000;
	st->measured_lsn[st->nmeasured % PGC_MEASURES] = flush;
	st->measured_at[st->nmeasured % PGC_MEASURES] = now;
	st->nmeasured++;
	pgc_slot_note_retained(w->slot, w->name, flush, restart, InvalidXLogRecPtr);
}

/*
 * Show how far the pipeline is behind: the source's position; the commit
 * time of the oldest transaction read and not applied (the batch in
 * flight, else the one being filled, else the transaction being read);
 * and when it was last caught up: the time of the latest measurement of
 * the source that everything applied has reached.  (The walsender reads
 * the source's WAL some time after it is flushed, so that is often not
 * the latest measurement.)  Only this worker writes marker_lsn.
 */
static void
pgc_stream_publish(PgcWorker *w, PgcStream *st)
{
	TimestampTz oldest = 0;
	TimestampTz caught = 0;
	XLogRecPtr	marker;

	if (w->batch_pending)
		oldest = st->pending_first_time;
	else if (w->nbatch > 0)
		oldest = st->fill_first_time;
	else if (st->in_txn)
		oldest = st->commit_time;

	SpinLockAcquire(&w->slot->mutex);
	marker = w->slot->marker_lsn;
	SpinLockRelease(&w->slot->mutex);
	for (int i = 0; i < Min(st->nmeasured, PGC_MEASURES); i++)
		if (marker >= st->measured_lsn[i])
			caught = Max(caught, st->measured_at[i]);

	SpinLockAcquire(&w->slot->mutex);
	w->slot->unapplied_commit_time = oldest;
	w->slot->source_lsn = Max(w->slot->source_lsn, st->source_lsn);
	w->slot->caught_up_at = Max(w->slot->caught_up_at, caught);
	SpinLockRelease(&w->slot->mutex);
}

/*
 * Has the destination answered the batch in flight (or is there none)?
 * Its socket is read only when the last wait found it readable.
 */
static bool
pgc_stream_dest_idle(PgcWorker *w, bool readable)
{
	if (readable && !PQconsumeInput(w->dest))
		pgc_pq_raise(w->dest, NULL, "destination");
	return !PQisBusy(w->dest) || !w->batch_pending;
}

/*
 * Wait for the batch in flight, if any; then everything it completes is
 * applied, and the slot may be confirmed up to there.
 */
static void
pgc_stream_finish(PgcWorker *w, PgcStream *st)
{
	if (!w->batch_pending)
		return;

	/*
	 * While the destination works (or waits for a lock), go on measuring
	 * the source, so the lag grows as it should, and keep the walsender
	 * from timing out.
	 */
	while (PQisBusy(w->dest))
	{
		long		wait_ms = Max((st->next_measure - GetCurrentTimestamp()) / 1000, 1);

		pgc_pq_wait(w->dest, WL_SOCKET_READABLE, wait_ms);
		if (!PQconsumeInput(w->dest))
			pgc_pq_raise(w->dest, NULL, "destination");
		if (PQisBusy(w->dest) && GetCurrentTimestamp() >= st->next_measure)
		{
			pgc_stream_measure(w, st);
			pgc_stream_publish(w, st);
			pgc_send_feedback(w, st->confirmed, false);
			st->last_feedback = GetCurrentTimestamp();
		}
	}
	pgc_batch_finish(w);
	SpinLockAcquire(&w->slot->mutex);
	w->slot->applied_lsn = Max(w->slot->applied_lsn, st->pending_lsn);
	/* every transaction the batch completes is applied */
	w->slot->marker_lsn = Max(w->slot->marker_lsn, st->pending_complete);
	SpinLockRelease(&w->slot->mutex);
	if (st->pending_complete > st->confirmed)
	{
		st->confirmed = st->pending_complete;
		pgc_send_feedback(w, st->confirmed, false);
		st->last_feedback = GetCurrentTimestamp();
	}
}

/*
 * Take in one record of the stream (NUL-terminated, len bytes): a begin,
 * commit or wait marker updates the stream's state; a change after the
 * recorded position joins the batch.
 */
static void
pgc_stream_record(PgcWorker *w, PgcStream *st, char *rec, int len)
{
	const char *pos = rec + 13;
	const char *op = rec + 13 + PGC_POSITION_LEN + 15;
	XLogRecPtr	commit;

	if (len < 13 + PGC_POSITION_LEN + 20)
		elog(ERROR, "unexpected record from pgconduit_output: %.*s", len, rec);
	commit = pgc_parse_hex16(pos);
	st->source_lsn = Max(st->source_lsn, commit + 1);
	SpinLockAcquire(&w->slot->mutex);
	w->slot->received_lsn = commit;
	memcpy(w->slot->received_position, pos, PGC_POSITION_LEN);
	SpinLockRelease(&w->slot->mutex);

	if (strncmp(op, "begin", 5) == 0)
	{
		char		ts[64];

		st->in_txn = true;
		if (pgc_record_field(rec, "\"postgres.commit_time\":\"", ts, sizeof(ts)))
			st->commit_time = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																  CStringGetDatum(ts),
																  ObjectIdGetDatum(InvalidOid),
																  Int32GetDatum(-1)));
	}
	else if (strncmp(op, "commit", 6) == 0)
	{
		char		lsn[32];
		uint32		hi,
					lo;

		st->in_txn = false;
		st->complete = commit + 1;
		/* the end of the commit record, where the next WAL begins */
		if (pgc_record_field(rec, "\"postgres.lsn\":\"", lsn, sizeof(lsn)) &&
			sscanf(lsn, "%X/%X", &hi, &lo) == 2)
			st->complete = Max(st->complete, ((uint64) hi << 32) | lo);
		st->source_lsn = Max(st->source_lsn, st->complete);
	}
	else if (strncmp(op, "message", 7) == 0)
	{
		char		lsn[32];
		uint32		hi,
					lo;

		if (pgc_record_field(rec, "\"postgres.lsn\":\"", lsn, sizeof(lsn)) &&
			sscanf(lsn, "%X/%X", &hi, &lo) == 2)
			st->pending_marker = Max(st->pending_marker, ((uint64) hi << 32) | lo);
	}
	else if (strncmp(pos, w->position, PGC_POSITION_LEN) > 0)
	{
		if (w->nbatch == 0)
			st->fill_first_time = st->commit_time;
		pgc_batch_add(w, rec, len, pos);
		SpinLockAcquire(&w->slot->mutex);
		w->slot->records_read++;
		SpinLockRelease(&w->slot->mutex);
	}
}

/*
 * Stream the slot's changes to the destination.  Records are read while
 * they are there, up to the batch limit; then the batch is sent to the
 * destination, and the next one read while it is applied.  At most two
 * batches are held (the buffer); when both wait, so does the walsender.
 * The slot is confirmed up to the last transaction an applied batch
 * completed.  Records at or before the recorded position were applied
 * before (or by the snapshot) and are dropped.
 */
void
pgc_source_stream(PgcWorker *w)
{
	StringInfoData cmd;
	PGresult   *res;
	PgcStream	st = {0};
	XLogRecPtr	wal_end = InvalidXLogRecPtr;
	WaitEventSet *ws;
	WaitEventSet *ws_dest;
	/* records per message: a message never splits, so batches stay in bounds */
	int			per_message = Min(64, Max(1, w->batch_limit / 16));
	WaitEvent	events[4];
	int			nevents;
	bool		dest_readable = false;

	w->repl = pgc_pq_connect(w->src->replication_url, true, w->appname,
							 "source", w->need_password);

	/* where the slot stands: nothing before it concerns us */
	{
		const char *params[1] = {w->src->slot_name};

		res = pgc_pq_exec(w->source, "source",
						  "SELECT confirmed_flush_lsn::pg_catalog.text FROM pg_catalog.pg_replication_slots"
						  " WHERE slot_name OPERATOR(pg_catalog.=) $1",
						  1, params);
		if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		{
			uint32		hi,
						lo;

			if (sscanf(PQgetvalue(res, 0, 0), "%X/%X", &hi, &lo) == 2)
				st.confirmed = ((uint64) hi << 32) | lo;
		}
		PQclear(res);
	}
	SpinLockAcquire(&w->slot->mutex);
	w->slot->marker_lsn = Max(w->slot->marker_lsn, st.confirmed);
	SpinLockRelease(&w->slot->mutex);

	/*
	 * The changes of a partitioned table's partitions arrive under the
	 * table's own name, in its columns (via_partition_root).  The table is
	 * selected by OID alone: the publication is not a filter on the stream
	 * ("publication_names"), since a publication altered while the
	 * pipeline runs (its actions, its tables) would have the plugin leave
	 * changes out, and the slot confirmed past them; it exists so that the
	 * source enforces the replica identity on UPDATE and DELETE.
	 */
	initStringInfo(&cmd);
	appendStringInfo(&cmd,
					 "START_REPLICATION SLOT %s LOGICAL 0/0 (\"table_oids\" %s, \"key\" %s, \"include_transaction\" 'true', \"message_prefixes\" 'pgconduit.wait', \"metadata\" 'table', \"via_partition_root\" 'true', \"records_per_message\" '%d'",
					 quote_identifier(w->src->slot_name),
					 pgc_literal(w->relid),
					 pgc_literal(pgc_name_list(w->key)),
					 per_message);
	/* without "columns", every column, also those added later */
	if (w->src->columns != NIL)
		appendStringInfo(&cmd, ", \"columns\" %s", pgc_literal(pgc_name_list(w->columns)));
	appendStringInfoChar(&cmd, ')');
	res = pgc_pq_exec(w->repl, "source", cmd.data, 0, NULL);
	if (PQresultStatus(res) != PGRES_COPY_BOTH)
		pgc_pq_raise(w->repl, res, "source");
	PQclear(res);
	pgc_batch_reset(w);
	/* records go to the table the pipeline writes to, whatever the name */
	w->batch_table = w->target;

	/* one wait set for the stream: the latch, the source, the destination */
	ws = pgc_create_wait_event_set(4);
	AddWaitEventToSet(ws, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(ws, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(ws, WL_SOCKET_READABLE, PQsocket(w->repl), NULL, NULL);
	AddWaitEventToSet(ws, WL_SOCKET_READABLE, PQsocket(w->dest), NULL, NULL);
	/* and one without the source, to let the stream gather */
	ws_dest = pgc_create_wait_event_set(3);
	AddWaitEventToSet(ws_dest, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(ws_dest, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(ws_dest, WL_SOCKET_READABLE, PQsocket(w->dest), NULL, NULL);

	for (;;)
	{
		char	   *buf = NULL;
		int			r;
		bool		got = false;
		bool		consumed = false;
		bool		dest_idle;

		CHECK_FOR_INTERRUPTS();
		while (pgc_batch_has_room(w, per_message))
		{
			r = PQgetCopyData(w->repl, &buf, 1);
			if (r == 0)
			{
				/* take in what the socket holds, without waiting */
				if (consumed)
					break;
				if (!PQconsumeInput(w->repl))
					pgc_pq_raise(w->repl, NULL, "source");
				consumed = true;
				continue;
			}
			consumed = false;
			if (r == -1)
			{
				res = PQgetResult(w->repl);
				pgc_pq_raise(w->repl, res && PQresultStatus(res) == PGRES_FATAL_ERROR ? res : NULL,
							 "source");
			}
			if (r == -2)
				pgc_pq_raise(w->repl, NULL, "source");
			got = true;
			if (buf[0] == 'k' && r >= 18)
			{
				uint64		end;

				memcpy(&end, buf + 1, 8);
				wal_end = Max(wal_end, pg_ntoh64(end));
				if (buf[17])
					pgc_send_feedback(w, st.confirmed, false);
			}
			else if (buf[0] == 'w' && r > 25)
			{
				/* one record per line: records_per_message may send several */
				char	   *next = buf + 25;
				char	   *bufend = buf + r;

				while (next < bufend)
				{
					char	   *rec = next;
					char	   *nl = memchr(rec, '\n', bufend - rec);

					if (nl != NULL)
						*nl = '\0';
					next = nl != NULL ? nl + 1 : bufend;
					pgc_stream_record(w, &st, rec, (nl != NULL ? nl : bufend) - rec);
				}
			}
			PQfreemem(buf);
		}

		/*
		 * Hand the batch to the destination once the destination is done
		 * with the one before, and read on meanwhile; wait for it only with
		 * a full batch, so at most two are in flight.  What a batch
		 * completes is known when it is sent: every transaction whose
		 * commit was read by then.
		 */
		dest_idle = pgc_stream_dest_idle(w, dest_readable);
		if (w->nbatch > 0 && (dest_idle || !pgc_batch_has_room(w, per_message)))
		{
			pgc_batch_seal(w);
			pgc_stream_finish(w, &st);
			st.pending_complete = st.complete;
			st.pending_first_time = st.fill_first_time;
			st.pending_lsn = pgc_parse_hex16(w->batch_last);
			pgc_batch_send(w, "cdc");
			dest_idle = false;
		}
		else if (dest_idle)
			pgc_stream_finish(w, &st);

		/* with nothing buffered or in flight, whole transactions are done */
		if (w->nbatch == 0 && !w->batch_pending)
		{
			XLogRecPtr	done = st.complete;

			if (!st.in_txn && wal_end > done)
				done = wal_end;
			SpinLockAcquire(&w->slot->mutex);
			if (st.pending_marker != InvalidXLogRecPtr && !st.in_txn)
				w->slot->marker_lsn = Max(w->slot->marker_lsn, st.pending_marker);
			if (!st.in_txn)
			{
				/* all the source's WAL up to here is dealt with */
				w->slot->marker_lsn = Max(w->slot->marker_lsn, wal_end);
				w->slot->applied_lsn = Max(w->slot->applied_lsn, done);
			}
			w->slot->source_lsn = Max(w->slot->source_lsn, wal_end);
			SpinLockRelease(&w->slot->mutex);
			if (!st.in_txn)
				st.pending_marker = InvalidXLogRecPtr;
			if (done > st.confirmed)
			{
				st.confirmed = done;
				pgc_send_feedback(w, st.confirmed, false);
				st.last_feedback = GetCurrentTimestamp();
			}
		}

		/* a dropped or replaced table sends nothing: ask the catalog */
		if (TimestampDifferenceExceeds(w->table_checked, GetCurrentTimestamp(),
									   PGC_FEEDBACK_INTERVAL_MS))
			pgc_source_check_table(w);

		if (TimestampDifferenceExceeds(st.last_feedback, GetCurrentTimestamp(),
									   PGC_FEEDBACK_INTERVAL_MS))
		{
			/* ask for a keepalive too, to learn where the walsender is */
			pgc_send_feedback(w, st.confirmed, true);
			st.last_feedback = GetCurrentTimestamp();
		}
		pgc_stream_measure(w, &st);
		pgc_stream_publish(w, &st);

		/*
		 * Learn which sockets have something.  With nothing read, wait for
		 * either.  While the destination is busy and the batch has room,
		 * let the stream gather for a moment rather than wake for every
		 * record: only the destination's answer ends that wait early.
		 * Else just look.
		 */
		dest_readable = false;
		if (got && !dest_idle && pgc_batch_has_room(w, per_message))
			nevents = WaitEventSetWait(ws_dest, PGC_GATHER_MS, events,
									   lengthof(events), PG_WAIT_EXTENSION);
		else
			nevents = WaitEventSetWait(ws, got ? 0 : PGC_FEEDBACK_INTERVAL_MS,
									   events, lengthof(events), PG_WAIT_EXTENSION);
		for (int i = 0; i < nevents; i++)
		{
			if (events[i].events & WL_LATCH_SET)
				ResetLatch(MyLatch);
			if (events[i].events & WL_SOCKET_READABLE &&
				events[i].fd == PQsocket(w->dest))
				dest_readable = true;
		}
	}
}
