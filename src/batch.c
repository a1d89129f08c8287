/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Batches of records for the destination: filled by the snapshot and
 *	  the stream, sent as one call of pgconduit._apply_batch(), and
 *	  finished when the destination answers.
 *
 * The worker parses each record as it arrives (jsonb_parse.c) and lays the
 * batch out as jsonb's binary layout, which the destination checks
 * (write_binary.c) instead of parsing JSON again.  One batch is filled
 * while the one sent before is applied.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "pgconduit.h"
#include "pq.h"
#include "worker.h"

/* Start a new, empty batch */
void
pgc_batch_reset(PgcWorker *w)
{
	resetStringInfo(&w->batch);
	w->nbatch = 0;
	w->is_sealed = false;
	w->batch_last[0] = '\0';
	w->batch_continues = false;
	w->batch_cut = -1;
	w->send_count = -1;
}

/*
 * Keep only the batch's records from the n-th on, those not sent: they
 * move to the front.  Each record starts at an int-aligned offset, so
 * moving them by one keeps them aligned.
 */
static void
pgc_batch_keep_from(PgcWorker *w, int n)
{
	uint32		start = INTALIGN(w->batch_ends[n - 1]);

	memmove(w->batch.data, w->batch.data + start, w->batch.len - start);
	w->batch.len -= start;
	w->batch.data[w->batch.len] = '\0';
	for (int i = n; i < w->nbatch; i++)
	{
		w->batch_ends[i - n] = w->batch_ends[i] - start;
		w->batch_tables[i - n] = w->batch_tables[i];
	}
	w->nbatch -= n;
	/* a bound below the first record kept: the last one sent */
	strlcpy(w->batch_first, w->send_last, sizeof(w->batch_first));
	w->is_sealed = false;
	w->batch_continues = false;
	w->batch_cut = -1;
	w->send_count = -1;
}

/*
 * Add one record (JSON text of len bytes) of table t at position to the
 * batch.  It is parsed here, by the worker, as it arrives, so that the
 * destination -- the busier side -- need not parse it, and parsing
 * overlaps the reading.
 */
void
pgc_batch_add(PgcWorker *w, PgcTable *t, const char *record, int len,
			  const char *position)
{
	MemoryContext old;
	Jsonb	   *jb;

	if (w->parse_cxt == NULL)
		w->parse_cxt = AllocSetContextCreate(TopMemoryContext, "pgconduit record",
											 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(w->parse_cxt);
	if (record[len] != '\0')
		record = pnstrdup(record, len);
	jb = pgc_jsonb_parse(record, len);
	MemoryContextSwitchTo(old);
	if (!JB_ROOT_IS_OBJECT(jb))
		elog(ERROR, "record at position %s is not a JSON object", position);

	/* a container starts at an int-aligned offset, padding before it */
	while (w->batch.len % sizeof(uint32) != 0)
		appendStringInfoChar(&w->batch, '\0');
	appendBinaryStringInfo(&w->batch, VARDATA(jb), VARSIZE(jb) - VARHDRSZ);
	MemoryContextReset(w->parse_cxt);
	if (w->batch.len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("batch of pipeline \"%s\" exceeds the maximum jsonb size", w->name),
				 errhint("Lower the destination's \"batch_size\".")));

	if (w->nbatch == w->batch_ends_size)
	{
		w->batch_ends_size = Max(64, w->batch_ends_size * 2);
		w->batch_ends = w->batch_ends ?
			repalloc(w->batch_ends, w->batch_ends_size * sizeof(uint32)) :
			MemoryContextAlloc(TopMemoryContext, w->batch_ends_size * sizeof(uint32));
		w->batch_tables = w->batch_tables ?
			repalloc(w->batch_tables, w->batch_ends_size * sizeof(PgcTable *)) :
			MemoryContextAlloc(TopMemoryContext, w->batch_ends_size * sizeof(PgcTable *));
	}
	if (w->nbatch == 0)
		strlcpy(w->batch_first, position, sizeof(w->batch_first));
	w->batch_tables[w->nbatch] = t;
	w->batch_ends[w->nbatch++] = w->batch.len;
	memcpy(w->batch_last, position, PGC_POSITION_LEN);
	w->batch_last[PGC_POSITION_LEN] = '\0';
}

/*
 * Lay the batch's records out (or the first send_count of them) as the
 * root container of a jsonb array: header, one entry per element, the
 * elements.  Callers seal a batch before they wait for the one in flight.
 */
void
pgc_batch_seal(PgcWorker *w)
{
	int			n = w->send_count >= 0 ? w->send_count : w->nbatch;
	uint32		header = (uint32) n | JB_FARRAY;

	if (w->is_sealed)
		return;
	resetStringInfo(&w->sealed);
	appendBinaryStringInfo(&w->sealed, (char *) &header, sizeof(header));
	for (int i = 0; i < n; i++)
	{
		JEntry		e = JENTRY_ISCONTAINER;

		if (i % JB_OFFSET_STRIDE == 0)
			e |= JENTRY_HAS_OFF | w->batch_ends[i];
		else
			e |= w->batch_ends[i] - w->batch_ends[i - 1];
		appendBinaryStringInfo(&w->sealed, (char *) &e, sizeof(e));
	}
	appendBinaryStringInfo(&w->sealed, w->batch.data, n > 0 ? w->batch_ends[n - 1] : 0);
	w->sealed_count = n;
	w->is_sealed = true;
}

/*
 * Send the batch to the destination, to be applied with the pipeline's
 * progress in one call (and, outside an explicit transaction, one
 * transaction); pgc_batch_finish() reads the outcome.  The jsonb goes in
 * its binary layout, which pgconduit._jsonb_from_bytes() checks.  The
 * batch may be refilled at once: libpq has copied its bytes.  When only
 * the first send_count records were sealed, the others stay, as the start
 * of the next batch.
 */
void
pgc_batch_send(PgcWorker *w, const char *phase)
{
	const char *params[7];
	int			lengths[7] = {0};
	int			formats[7] = {0};

	Assert(!w->batch_pending);
	pgc_batch_seal(w);
	params[0] = w->pipeline_id;
	params[1] = w->name;
	params[2] = w->sealed.data;
	lengths[2] = w->sealed.len;
	formats[2] = 1;
	params[3] = w->dst->table ? w->dst->table : w->batch_table;
	params[4] = w->dst->on_error == PGC_ON_ERROR_DEAD_LETTER ? "dead_letter" : "halt";
	params[5] = phase;
	params[6] = w->sealed_count < w->nbatch ? w->send_last : w->batch_last;
	pgc_pq_send_prepared(w->dest, "destination", "pgconduit_apply",
						 7, params, lengths, formats);
	w->batch_pending = true;
	w->pending_snapshot = (strcmp(phase, "snapshot") == 0);
	w->pending_in_txn = w->dest_in_txn;
	w->pending_commit = false;
	strlcpy(w->pending_first, w->batch_first, sizeof(w->pending_first));
	strlcpy(w->pending_last, params[6], sizeof(w->pending_last));
	/* which table each record is of, to count what the destination applies */
	if (w->pending_size < w->nbatch)
	{
		w->pending_size = w->batch_ends_size;
		w->pending_tables = w->pending_tables ?
			repalloc(w->pending_tables, w->pending_size * sizeof(PgcTable *)) :
			MemoryContextAlloc(TopMemoryContext, w->pending_size * sizeof(PgcTable *));
	}
	memcpy(w->pending_tables, w->batch_tables, w->sealed_count * sizeof(PgcTable *));
	w->pending_n = w->sealed_count;
	if (w->sealed_count < w->nbatch)
		pgc_batch_keep_from(w, w->sealed_count);
	else
		pgc_batch_reset(w);
}

/*
 * Take off the tables' counts the dead letters of the batch in flight, in a
 * batch of records of several tables: which tables they are of, by the
 * "postgres.relid" of the latest dead letters in the batch's positions.
 */
static void
pgc_batch_uncount_dead(PgcWorker *w, int64 dead)
{
	const char *params[4];
	PGresult   *res;
	char		limit[32];

	snprintf(limit, sizeof(limit), INT64_FORMAT, dead);
	params[0] = w->name;
	params[1] = w->pending_first;
	params[2] = w->pending_last;
	params[3] = limit;
	res = pgc_pq_exec(w->dest, "destination",
					  "SELECT d.relid, pg_catalog.count(*) FROM ("
					  "  SELECT record OPERATOR(pg_catalog.->) 'metadata'"
					  "         OPERATOR(pg_catalog.->>) 'postgres.relid' AS relid"
					  "    FROM pgconduit.dead_letter"
					  "   WHERE pipeline OPERATOR(pg_catalog.=) $1"
					  "     AND position COLLATE pg_catalog.\"C\" OPERATOR(pg_catalog.>=) $2"
					  "     AND position COLLATE pg_catalog.\"C\" OPERATOR(pg_catalog.<=) $3"
					  "   ORDER BY id DESC LIMIT $4::pg_catalog.int8) d"
					  " WHERE d.relid IS NOT NULL GROUP BY d.relid",
					  4, params);
	for (int i = 0; i < PQntuples(res); i++)
	{
		Oid			relid;

		if (PQgetisnull(res, i, 0) || PQgetisnull(res, i, 1))
			continue;
		relid = (Oid) strtoul(PQgetvalue(res, i, 0), NULL, 10);
		for (int j = 0; j < w->pending_n; j++)
			if (w->pending_tables[j]->relid == relid)
			{
				w->pending_tables[j]->batch_applied -= strtoi64(PQgetvalue(res, i, 1), NULL, 10);
				break;
			}
	}
	PQclear(res);
}

/*
 * Count per table the records of the batch in flight that the destination
 * applied: the first applied + dead records (it applies them in order and
 * stops at a rejected one), less its dead letters.  A snapshot's count
 * waits for its transaction to commit (t->snapshot_rows); so does, without
 * flush, that of a batch inside a destination transaction (until
 * pgc_batch_count_committed()).
 */
static void
pgc_batch_count_tables(PgcWorker *w, int64 applied, int64 dead, bool flush)
{
	int			n = (int) Min((int64) w->pending_n, applied + dead);
	bool		mixed = false;

	for (int i = 0; i < n; i++)
	{
		w->pending_tables[i]->batch_applied++;
		if (w->pending_tables[i] != w->pending_tables[0])
			mixed = true;
	}
	if (dead > 0 && n > 0)
	{
		if (mixed)
			pgc_batch_uncount_dead(w, dead);
		else
			w->pending_tables[0]->batch_applied -= dead;
	}
	if (!flush)
		return;
	for (int i = 0; i < n; i++)
	{
		PgcTable   *t = w->pending_tables[i];

		if (t->batch_applied == 0)
			continue;
		if (w->pending_snapshot)
			t->snapshot_rows += t->batch_applied;
		else
			pgc_table_status_written(t, t->batch_applied);
		t->batch_applied = 0;
	}
}

/*
 * Count per table what a destination transaction applied, batch by batch,
 * once it has committed.
 */
void
pgc_batch_count_committed(PgcWorker *w)
{
	ListCell   *lc;

	foreach(lc, w->tables)
	{
		PgcTable   *t = lfirst(lc);

		if (t->batch_applied == 0)
			continue;
		pgc_table_status_written(t, t->batch_applied);
		t->batch_applied = 0;
	}
}

/*
 * Wait for the batch sent last.  A record the destination rejected raises
 * an ERROR naming its position and table, none of the batch applied,
 * unless on_error is dead_letter, in which case it went to
 * pgconduit.dead_letter and the others were applied.  What a batch sent
 * inside a destination transaction applied counts once that commits.
 */
void
pgc_batch_finish(PgcWorker *w)
{
	PGresult   *res = NULL;
	PGresult   *next;
	int64		applied;
	int64		dead;
	bool		rejected;

	if (!w->batch_pending)
		return;
	w->batch_pending = false;
	while ((next = pgc_pq_get_result(w->dest, "destination")) != NULL)
	{
		if (PQresultStatus(next) != PGRES_TUPLES_OK)
		{
			if (res)
				PQclear(res);
			pgc_pq_raise(w->dest, next, "destination");
		}
		if (res)
			PQclear(res);
		res = next;
	}
	if (res == NULL)
		pgc_pq_raise(w->dest, NULL, "destination");
	if (PQntuples(res) != 1 || PQnfields(res) < 8 ||
		PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1))
	{
		PQclear(res);
		elog(ERROR, "unexpected result of pgconduit._apply_batch() on the destination");
	}
	applied = strtoi64(PQgetvalue(res, 0, 0), NULL, 10);
	dead = strtoi64(PQgetvalue(res, 0, 1), NULL, 10);

	rejected = !PQgetisnull(res, 0, 2);

	/* inside a destination transaction they count once it commits */
	pgc_batch_count_tables(w, applied, dead, !w->pending_in_txn);
	if (w->pending_in_txn)
	{
		w->txn_written += applied;
		w->txn_dead += dead;
		applied = dead = 0;
	}
	SpinLockAcquire(&w->slot->mutex);
	w->slot->records_written += applied;
	w->slot->dead_letters += dead;
	w->slot->errors += dead;
	if (!rejected && !w->pending_snapshot && !w->pending_in_txn)
	{
		memcpy(w->slot->applied_position, w->pending_last, PGC_POSITION_LEN + 1);
		w->slot->failures = 0;
	}
	SpinLockRelease(&w->slot->mutex);

	if (rejected)
	{
		const char *state = PQgetisnull(res, 0, 4) ? "XX000" : PQgetvalue(res, 0, 4);
		char	   *position = pstrdup(PQgetvalue(res, 0, 2));
		char	   *table = pstrdup(PQgetisnull(res, 0, 3) ? "" : PQgetvalue(res, 0, 3));
		char	   *msg = pstrdup(PQgetisnull(res, 0, 5) ? "" : PQgetvalue(res, 0, 5));
		char	   *detail = PQgetisnull(res, 0, 6) ? NULL : pstrdup(PQgetvalue(res, 0, 6));
		char	   *hint = PQgetisnull(res, 0, 7) ? NULL : pstrdup(PQgetvalue(res, 0, 7));
		int			code = strlen(state) == 5 ?
			MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]) :
			ERRCODE_INTERNAL_ERROR;

		PQclear(res);
		if (code == ERRCODE_FOREIGN_KEY_VIOLATION && !w->dest_replica &&
			(hint == NULL || hint[0] == '\0'))
			hint = psprintf("The destination role may not set session_replication_role, so the destination checks foreign keys as each statement ends and rows of a table the snapshot copies later, or a change the source checked only at commit, can fail them. Grant it the parameter (GRANT SET ON PARAMETER session_replication_role TO %s) and start the pipeline again, to apply as native logical replication does.",
							quote_identifier(PQuser(w->dest)));
		/* pgconduit.status shows them with the error */
		w->failed_position = position;
		w->failed_table = table;

		/*
		 * Nothing of the batch is applied (_apply_batch keeps none of it);
		 * an open destination transaction, which holds the start of the
		 * record's source transaction, is rolled back as the worker exits
		 * and its connection closes, before anything commits it.
		 */
		ereport(ERROR,
				(errcode(code),
				 errmsg("destination rejected the record at position %s for table %s: %s",
						position, table, msg),
				 detail && detail[0] ? errdetail_internal("%s", detail) : 0,
				 hint && hint[0] ? errhint("%s", hint) : 0));
	}
	PQclear(res);
	strlcpy(w->position, w->pending_last, sizeof(w->position));
}
