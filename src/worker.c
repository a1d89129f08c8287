/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The background worker that runs one pipeline: its lifecycle, its
 *	  errors, and the destination side.
 *
 * The worker connects to its database as the pipeline's owner, reads the
 * pipeline's connectors, and leaves the rest to libpq: source.c finds and
 * checks the source's table, snapshot.c copies it and stream.c streams its
 * changes; every batch of records goes to the destination (batch.c) as one
 * call of pgconduit._apply_batch(), which applies them with
 * pgconduit._write() -- the code behind pgconduit.write() -- and records
 * the pipeline's progress in the same transaction.  That progress is where
 * a restarted worker resumes, so no record is lost or applied twice.  An error ends the worker; its message goes to the slot that
 * pgconduit.status shows, and the launcher restarts the worker with
 * backoff when retrying can help (a lost connection), not otherwise.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pgconduit.h"
#include "pipeline.h"
#include "pq.h"
#include "template.h"
#include "worker.h"

PGDLLEXPORT void pgconduit_worker_main(Datum main_arg);

static PgcSlot *pgc_my_slot = NULL;

/* Set the state and phase that pgconduit.status shows */
void
pgc_status_phase(PgcWorker *w, PgcState state, PgcPhase phase)
{
	SpinLockAcquire(&w->slot->mutex);
	w->slot->state = state;
	w->slot->phase = phase;
	SpinLockRelease(&w->slot->mutex);
	pgc_status_changed();
}

/*
 * On exit: the slot has no worker any more.  A worker stopped on purpose
 * is stopped; one that ends without recording why (killed, or the server
 * stopping) is started again soon.  The launcher hears of the exit, and
 * may start a pipeline that waits for a worker.
 */
static void
pgc_worker_exit(int code, Datum arg)
{
	PgcSlot    *slot = pgc_my_slot;
	TimestampTz now = GetCurrentTimestamp();

	if (slot == NULL)
		return;
	SpinLockAcquire(&slot->mutex);
	slot->pid = 0;
	if (slot->stop_requested)
		slot->state = PGC_STATE_STOPPED;
	else if (slot->state == PGC_STATE_RUNNING || slot->state == PGC_STATE_STARTING)
	{
		slot->state = PGC_STATE_STARTING;
		slot->retry_at = now + USECS_PER_SEC;
	}
	SpinLockRelease(&slot->mutex);
	/* those stopping the worker wait for this */
	pgc_status_changed();
}

/*
 * The pipeline's key in the destination's pgconduit.progress: this server,
 * this database, the name and the creation time (created, the epoch as
 * text), so that a pipeline created again under the same name starts over.
 */
char *
pgc_pipeline_id(const char *name, const char *created)
{
	return psprintf(UINT64_FORMAT ":%u:%s:%s", GetSystemIdentifier(),
					MyDatabaseId, name, created);
}

/* Load the pipeline's connectors; false if it is gone or disabled */
static bool
pgc_load_pipeline(PgcWorker *w)
{
	bool		found = false;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	PgcSavedUser saved;

	StartTransactionCommand();
	/* read as the catalog's owner: the pipeline's owner is checked later */
	pgc_as_extension_owner(&saved);
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	args[0] = CStringGetTextDatum(w->name);
	if (SPI_execute_with_args("SELECT s.config, d.config,"
							  "       extract(epoch FROM p.created_at)::pg_catalog.numeric::pg_catalog.text"
							  "  FROM pgconduit.pipeline p"
							  "  JOIN pgconduit.connector s ON s.name OPERATOR(pg_catalog.=) p.source"
							  "   AND s.owner OPERATOR(pg_catalog.=) p.owner"
							  "  JOIN pgconduit.connector d ON d.name OPERATOR(pg_catalog.=) p.destination"
							  "   AND d.owner OPERATOR(pg_catalog.=) p.owner"
							  " WHERE p.name OPERATOR(pg_catalog.=) $1 AND p.enabled",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline \"%s\"", w->name);
	if (SPI_processed == 1)
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HeapTuple	tup = SPI_tuptable->vals[0];
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		w->src = pgc_source_config_parse(w->name,
										 DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 1, &isnull)));
		w->dst = pgc_destination_config_parse(w->name,
											  DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 2, &isnull)));
		w->pipeline_id = pgc_pipeline_id(w->name, SPI_getvalue(tup, desc, 3));
		MemoryContextSwitchTo(old);
		found = true;
	}
	SPI_finish();
	pgc_as_caller(&saved);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return found;
}

/*
 * Record the phase and position on the destination, in its transaction,
 * and with them the source table the pipeline follows from now on: its
 * OID, and its name, which stays the table records go to.
 */
void
pgc_set_progress(PgcWorker *w, const char *phase, const char *position)
{
	const char *params[4];

	params[0] = w->pipeline_id;
	params[1] = w->name;
	params[2] = phase;
	params[3] = position;
	PQclear(pgc_pq_exec(w->dest, "destination",
						"SELECT pgconduit._set_progress($1, $2, $3, $4)",
						4, params));
	pgc_record_source_table(w);
	strlcpy(w->phase, phase, sizeof(w->phase));
	strlcpy(w->position, position, sizeof(w->position));
}

/*
 * Record on the destination which source table the pipeline follows, once:
 * it follows that table by OID from then on, across restarts.
 */
void
pgc_record_source_table(PgcWorker *w)
{
	const char *params[3];
	PgcTable   *t = linitial(w->tables);
	char		oid[12];

	/* a source of "tables" keeps its tables in pgconduit.progress_table */
	if (w->started_relid != NULL || w->src->tables != NIL)
		return;
	params[0] = w->pipeline_id;
	params[1] = pgc_table_oid(t, oid);
	params[2] = t->target;
	PQclear(pgc_pq_exec(w->dest, "destination",
						"UPDATE pgconduit.progress"
						"   SET source_relid = $2::pg_catalog.oid, source_table = $3"
						" WHERE pipeline_id OPERATOR(pg_catalog.=) $1",
						3, params));
	w->started_relid = pstrdup(oid);
	w->started_table = t->target;
}

/* Read the pipeline's progress back from the destination */
static void
pgc_read_progress(PgcWorker *w)
{
	const char *params[1] = {w->pipeline_id};
	PGresult   *res;

	res = pgc_pq_exec(w->dest, "destination",
					  "SELECT phase, position, source_relid, source_table"
					  "  FROM pgconduit.progress WHERE pipeline_id OPERATOR(pg_catalog.=) $1",
					  1, params);
	w->phase[0] = '\0';
	w->position[0] = '\0';
	w->started_relid = NULL;
	w->started_table = NULL;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && !PQgetisnull(res, 0, 1))
	{
		strlcpy(w->phase, PQgetvalue(res, 0, 0), sizeof(w->phase));
		strlcpy(w->position, PQgetvalue(res, 0, 1), sizeof(w->position));
		if (!PQgetisnull(res, 0, 2) && !PQgetisnull(res, 0, 3))
		{
			w->started_relid = pstrdup(PQgetvalue(res, 0, 2));
			w->started_table = pstrdup(PQgetvalue(res, 0, 3));
		}
	}
	PQclear(res);
}

/*
 * Settle the destination's "table": a template is filled in with the
 * source table's name when the pipeline started (renames followed, as for
 * a plain name), except for a source of many tables, whose records each
 * fill it in with their table's name (write.c); a table named without its
 * schema is pinned to the one the destination's role finds in its search
 * path.
 */
static void
pgc_destination_table(PgcWorker *w)
{
	const char *params[1];
	PGresult   *res;

	if (w->dst->table == NULL)
		return;
	/* a source of many tables fills the template in for each record */
	if (w->src->tables != NIL && pgc_template_syntax(w->dst->table))
		return;
	params[0] = w->dst->table;
	if (pgc_template_syntax(w->dst->table))
	{
		PgcTemplate *t = pgc_template_parse(w->dst->table,
											"destination configuration key \"table\"");

		params[0] = pgc_rangevar_sql(pgc_template_rangevar(t,
														   ((PgcTable *) linitial(w->tables))->target));
		w->dst->table = pgc_template_escape(params[0]);
	}
	res = pgc_pq_exec_user_path(w->dest, "destination",
								"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)"
								"  FROM pg_catalog.pg_class c"
								"  JOIN pg_catalog.pg_namespace n"
								"    ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
								" WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)",
								1, params);
	/* braces of the name found are doubled: "table" is read as a template */
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		w->dst->table = pgc_template_escape(PQgetvalue(res, 0, 0));
	PQclear(res);
}

/* Connect to the destination and check that pgconduit is installed there */
static void
pgc_connect_destination(PgcWorker *w)
{
	PGresult   *res;

	w->dest = pgc_pq_connect(w->dst->url, false, w->appname, "destination",
							 w->need_password);
	res = pgc_pq_exec(w->dest, "destination",
					  "SELECT extversion FROM pg_catalog.pg_extension"
					  " WHERE extname OPERATOR(pg_catalog.=) 'pgconduit'",
					  0, NULL);
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"pgconduit\" is not installed in the destination database"),
				 errhint("Run CREATE EXTENSION pgconduit in the destination database.")));
	}
	pgc_check_catalog_version(pstrdup(PQgetvalue(res, 0, 0)),
							  psprintf("the destination database \"%s\"", PQdb(w->dest)));
	PQclear(res);

	/*
	 * Apply as native logical replication does, with session_replication_role
	 * = replica, where the destination role may set it (a superuser, or a
	 * role granted SET ON PARAMETER): foreign keys between the tables are
	 * not checked again, whatever order the snapshot copies them in, and
	 * triggers and rules fire only if enabled REPLICA or ALWAYS.  Else the
	 * destination checks foreign keys as rows arrive.
	 */
	res = pgc_pq_exec(w->dest, "destination",
					  "SELECT pg_catalog.has_parameter_privilege('session_replication_role', 'SET')",
					  0, NULL);
	w->dest_replica = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
		strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (w->dest_replica)
		pgc_pq_command(w->dest, "destination", "SET session_replication_role = replica");
	/* planned once per connection, not once per batch */
	pgc_pq_command(w->dest, "destination",
				   "PREPARE pgconduit_apply (text, text, bytea, text, text, text, text) AS"
				   " SELECT applied, dead_letters, failed_position, failed_table,"
				   "        err_sqlstate, err_message, err_detail, err_hint"
				   "   FROM pgconduit._apply_batch($1, $2, pgconduit._jsonb_from_bytes($3),"
				   "        $4, $5, $6, $7)");
}

/*
 * Check that the source, the destination and this database share one
 * encoding: values travel as text in it, and the output plugin writes its
 * records in the source's encoding without conversion, so a source in
 * another encoding would have its text arrive corrupted.  Checked before
 * anything is read.
 */
static void
pgc_check_encodings(PgcWorker *w)
{
	const char *src = PQparameterStatus(w->source, "server_encoding");
	const char *dst = PQparameterStatus(w->dest, "server_encoding");
	const char *own = GetDatabaseEncodingName();

	if (src == NULL || dst == NULL)
		elog(ERROR, "could not read the server encoding of the source or the destination");
	if (strcmp(src, own) != 0 || strcmp(dst, own) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the source, the destination and the database of pipeline \"%s\" do not share one encoding",
						w->name),
				 errdetail("The source database's encoding is %s, the destination database's is %s, and that of the database running the pipeline is %s; text would arrive corrupted.",
						   src, dst, own),
				 errhint("Use one encoding, such as UTF8, for all three databases.")));
}

/*
 * Show the source's tables in pgconduit.status_tables: in their snapshot,
 * or streaming once the recorded progress is past it.
 */
static void
pgc_register_tables(PgcWorker *w)
{
	bool		past_snapshot = (strcmp(w->phase, "cdc") == 0 ||
								 strcmp(w->phase, "done") == 0);
	ListCell   *lc;

	foreach(lc, w->tables)
	{
		PgcTable   *t = lfirst(lc);

		/* a source of "tables" knows each table's own state */
		if (past_snapshot && w->src->tables == NIL)
			t->state = PGC_TABLE_STREAMING;
		pgc_table_status_register(w, t);
	}
	pgc_table_status_forget_others(w);
}

/* The pipeline's work: snapshot, then changes, from where it left off */
static void
pgc_run(PgcWorker *w)
{
	PgcSourceConfig *src = w->src;
	XLogRecPtr	cut;
	char		position[PGC_POSITION_LEN + 1];

	pgc_status_phase(w, PGC_STATE_STARTING, PGC_PHASE_CONNECT);
	/* the owner may have lost the right to run pipelines since */
	StartTransactionCommand();
	pgc_check_admin();
	CommitTransactionCommand();
	w->source = pgc_pq_connect(src->url, false, w->appname, "source",
							   w->need_password);
	pgc_pq_command(w->source, "source", "SELECT 1");	/* ping */
	pgc_connect_destination(w);
	pgc_check_encodings(w);
	pgc_read_progress(w);
	/* what the destination holds is applied, whatever was shown before */
	if (strcmp(w->phase, "cdc") == 0)
	{
		SpinLockAcquire(&w->slot->mutex);
		strlcpy(w->slot->applied_position, w->position, PGC_POSITION_LEN + 1);
		SpinLockRelease(&w->slot->mutex);
	}
	pgc_source_prepare(w);
	pgc_destination_table(w);
	pgc_register_tables(w);
	/* progress recorded before the source table was (pgconduit 0.1) */
	if (w->phase[0] != '\0' && src->tables == NIL)
		pgc_record_source_table(w);

	if (strcmp(w->phase, "done") == 0)
	{
		pgc_status_phase(w, PGC_STATE_DONE, PGC_PHASE_DONE);
		return;
	}
	if (src->cdc)
		pgc_source_ensure_slot(w);
	pgc_status_phase(w, PGC_STATE_RUNNING, PGC_PHASE_CONNECT);

	if (src->tables != NIL)
	{
		/* each table its own snapshot, also one met again later */
		if (src->snapshot)
			pgc_status_phase(w, PGC_STATE_RUNNING, PGC_PHASE_SNAPSHOT);
		pgc_tables_snapshot(w);
	}
	else if (w->phase[0] == '\0' || strcmp(w->phase, "snapshot") == 0)
	{
		if (src->snapshot)
		{
			pgc_status_phase(w, PGC_STATE_RUNNING, PGC_PHASE_SNAPSHOT);
			cut = pgc_snapshot_run(w);
		}
		else
		{
			cut = InvalidXLogRecPtr;
			pgc_proto_position(position, cut, 0);
			pgc_set_progress(w, src->cdc ? "cdc" : "done", position);
			pgc_table_set_state(linitial(w->tables), PGC_TABLE_STREAMING);
		}
		pgc_proto_position(position, cut, 0);
		strlcpy(w->position, position, sizeof(w->position));
		SpinLockAcquire(&w->slot->mutex);
		w->slot->marker_lsn = Max(w->slot->marker_lsn, cut);
		memcpy(w->slot->applied_position, position, PGC_POSITION_LEN + 1);
		SpinLockRelease(&w->slot->mutex);
		pgc_status_changed();
	}

	if (!src->cdc)
	{
		pgc_status_phase(w, PGC_STATE_DONE, PGC_PHASE_DONE);
		return;
	}
	pgc_status_phase(w, PGC_STATE_RUNNING, PGC_PHASE_CDC);
	pgc_stream_run(w);
}

/*
 * Record an error in the slot: state failed, the message with its detail
 * and hint, the record at fault if the destination rejected one, and
 * whether retrying can help (lost connections, a server shutting down,
 * resources that may free up), so the launcher knows.
 */
static void
pgc_record_error(PgcWorker *w, ErrorData *edata)
{
	StringInfoData buf;
	int			class = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
	bool		retry;

	retry = (class == ERRCODE_CONNECTION_EXCEPTION ||
			 class == ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION ||
			 class == ERRCODE_OPERATOR_INTERVENTION ||
			 class == ERRCODE_INSUFFICIENT_RESOURCES ||
			 edata->sqlerrcode == ERRCODE_OBJECT_IN_USE ||
			 edata->sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
			 edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED);
	/* a connection refused for lack of a password will not heal */
	if (edata->sqlerrcode == ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED)
		retry = false;
	/* an old catalog will be updated: try again until it is */
	if (pgc_catalog_mismatch)
		retry = true;

	initStringInfo(&buf);
	appendStringInfoString(&buf, edata->message ? edata->message : "unknown error");
	if (edata->detail)
		appendStringInfo(&buf, "\nDETAIL: %s", edata->detail);
	if (edata->hint)
		appendStringInfo(&buf, "\nHINT: %s", edata->hint);
	if (edata->context)
		appendStringInfo(&buf, "\nCONTEXT: %s", edata->context);

	pgc_slot_fail(w->slot, buf.data, retry, w->failed_position, w->failed_table);
}

/* Entry point of a pipeline worker; main_arg is its slot's index */
void
pgconduit_worker_main(Datum main_arg)
{
	PgcWorker  *w;
	PgcSlot    *slot = &pgc_shared->slots[DatumGetInt32(main_arg)];
	MemoryContext cxt;
	TimestampTz now = GetCurrentTimestamp();

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/*
	 * What was applied stays applied: marker_lsn is kept, so the lag stays
	 * known while the worker starts.  The last error stays as history.
	 */
	SpinLockAcquire(&slot->mutex);
	slot->pid = MyProcPid;
	slot->started_at = now;
	slot->error_position[0] = '\0';
	slot->error_table[0] = '\0';
	SpinLockRelease(&slot->mutex);
	/* one stopping the pipeline signals the worker once it is up */
	pgc_status_changed();
	pgc_my_slot = slot;
	before_shmem_exit(pgc_worker_exit, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(slot->dboid, slot->owner, 0);
	/* nothing a database owner put in the search path runs as the owner */
	SetConfigOption("search_path", "", PGC_USERSET, PGC_S_OVERRIDE);

	cxt = AllocSetContextCreate(TopMemoryContext, "pgconduit worker",
								ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	w = palloc0(sizeof(PgcWorker));
	w->slot = slot;
	w->name = pstrdup(slot->name);
	w->need_password = !superuser_arg(slot->owner);
	snprintf(w->appname, sizeof(w->appname), "pgconduit %s", w->name);
	SetConfigOption("application_name", w->appname, PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname(w->appname);
	initStringInfo(&w->batch);
	initStringInfo(&w->sealed);
	pgc_batch_reset(w);

	if (!pgc_load_pipeline(w))
	{
		/* dropped or stopped meanwhile */
		SpinLockAcquire(&slot->mutex);
		slot->state = PGC_STATE_STOPPED;
		slot->stop_requested = true;
		SpinLockRelease(&slot->mutex);
		pgc_status_changed();
		proc_exit(0);
	}
	/* two batches may be held at once: one applied, one being read */
	w->batch_limit = Min(w->dst->batch_size,
						 (w->src->buffer_size > 0 ? w->src->buffer_size : pgc_buffer_size) / 2);
	w->batch_limit = Max(w->batch_limit, 1);
	w->batch_bytes = (int64) pgc_max_batch_memory * 1024;

	PG_TRY();
	{
		pgc_run(w);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		pgc_record_error(w, edata);
		PG_RE_THROW();
	}
	PG_END_TRY();

	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
