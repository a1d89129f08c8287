/*-------------------------------------------------------------------------
 *
 * stream.c
 *	  The change stream of a pipeline: START_REPLICATION on the slot,
 *	  pgconduit_output's records read and batched for the destination,
 *	  feedback to the walsender, and the lag measured and published.
 *
 * The stream reads pgconduit_output's records, several per message,
 * through protocol.h, and drops those at or before the recorded position,
 * which starts at the snapshot's cut; the slot is confirmed only up to
 * what the destination has committed.  Batches go to the destination
 * through batch.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlogdefs.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bswap.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pq.h"
#include "protocol.h"
#include "worker.h"

/* How often the worker reports its position to the walsender anyway */
#define PGC_FEEDBACK_INTERVAL_MS	1000

/* How often it measures the source's WAL position and its slot */
#define PGC_MEASURE_INTERVAL_MS		1000

/* How many measurements it remembers, to know when it had caught up */
#define PGC_MEASURES	16

/* How long the worker lets records gather while the destination is busy */
#define PGC_GATHER_MS	1

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
	/* what the open destination transaction holds, once it commits */
	XLogRecPtr	open_complete;	/* end of the last whole transaction */
	XLogRecPtr	open_lsn;		/* commit LSN of its last record */
	char		open_last[PGC_POSITION_LEN + 1];	/* that record's position */
	TimestampTz open_first_time;	/* commit time of its first record */
	XLogRecPtr	cut_complete;	/* complete at the cut of the batch filled */
	char		cut_last[PGC_POSITION_LEN + 1]; /* its last record before the cut */
	char		done_last[PGC_POSITION_LEN + 1];	/* its last record of a whole
													 * transaction */
	TimestampTz last_feedback;
	/* what the records read so far say */
	XLogRecPtr	complete;		/* end of the last whole transaction */
	XLogRecPtr	pending_marker; /* LSN of a wait marker read */
	bool		in_txn;			/* inside a transaction's records */
	int64		txn_batched;	/* its changes batched so far */
	TimestampTz commit_time;	/* of the transaction being read */
	/* for the lag: where the source is, and the oldest commit not applied */
	XLogRecPtr	source_lsn;		/* measured, or read in the stream */
	TimestampTz next_measure;
	XLogRecPtr	measured_lsn[PGC_MEASURES]; /* the last measurements */
	TimestampTz measured_at[PGC_MEASURES];
	int			nmeasured;
	TimestampTz fill_first_time;	/* commit time of the batch's first record */
	TimestampTz pending_first_time; /* the same of the batch in flight */
	/* the walsender's WAL end, from its keepalives */
	XLogRecPtr	wal_end;
	/* records per message: a message never splits, so batches stay in bounds */
	int			per_message;
	/* waits: the latch, the source, the destination; and without the source */
	WaitEventSet *ws;
	WaitEventSet *ws_dest;
	bool		dest_readable;	/* the last wait found the destination's
								 * socket readable */
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

	if (w->dest_in_txn)
		oldest = st->open_first_time;
	else if (w->batch_pending)
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
 * Has the destination answered the batch or COMMIT in flight (or is there
 * none)?  Its socket is read only when the last wait found it readable.
 */
static bool
pgc_stream_dest_idle(PgcWorker *w, bool readable)
{
	if (readable && !PQconsumeInput(w->dest))
		pgc_pq_raise(w->dest, NULL, "destination");
	return !PQisBusy(w->dest) || (!w->batch_pending && !w->commit_sent);
}

/*
 * What the destination has made durable -- every transaction before
 * complete, records up to commit LSN lsn -- is applied: the slot may be
 * confirmed up to there, and wait_for_pipeline() may return.
 */
static void
pgc_stream_durable(PgcWorker *w, PgcStream *st, XLogRecPtr complete, XLogRecPtr lsn)
{
	SpinLockAcquire(&w->slot->mutex);
	w->slot->applied_lsn = Max(w->slot->applied_lsn, lsn);
	w->slot->marker_lsn = Max(w->slot->marker_lsn, complete);
	SpinLockRelease(&w->slot->mutex);
	pgc_status_changed();
	if (complete > st->confirmed)
	{
		st->confirmed = complete;
		pgc_send_feedback(w, st->confirmed, false);
		st->last_feedback = GetCurrentTimestamp();
	}
}

/* Send the COMMIT of the destination transaction; it is answered later */
static void
pgc_stream_commit(PgcWorker *w)
{
	Assert(w->dest_in_txn && !w->batch_pending && !w->commit_sent);
	pgc_pq_send(w->dest, "destination", "COMMIT", 0, NULL);
	w->commit_sent = true;
}

/*
 * Read the answer to the COMMIT of the destination transaction: what it
 * holds is applied now, and counts.
 */
static void
pgc_stream_committed(PgcWorker *w, PgcStream *st)
{
	PGresult   *res;

	while ((res = pgc_pq_get_result(w->dest, "destination")) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			pgc_pq_raise(w->dest, res, "destination");
		/* an aborted transaction answers COMMIT with ROLLBACK */
		if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_TRANSACTION_ROLLBACK),
					 errmsg("the destination rolled back the transaction of pipeline \"%s\"",
							w->name)));
		PQclear(res);
	}
	w->commit_sent = false;
	w->dest_in_txn = false;
	SpinLockAcquire(&w->slot->mutex);
	w->slot->records_written += w->txn_written;
	w->slot->dead_letters += w->txn_dead;
	w->slot->errors += w->txn_dead;
	strlcpy(w->slot->applied_position, st->open_last, PGC_POSITION_LEN + 1);
	w->slot->failures = 0;
	SpinLockRelease(&w->slot->mutex);
	w->txn_written = 0;
	w->txn_dead = 0;
	pgc_batch_count_committed(w);
	pgc_stream_durable(w, st, st->open_complete, st->open_lsn);
}

/*
 * Wait for the batch or COMMIT in flight, if any, and take in its answer.
 * A batch sent outside a destination transaction is applied now; one
 * sent inside it is applied when the transaction commits, which is sent
 * at once after the batch that completes its source transaction.
 */
static void
pgc_stream_finish(PgcWorker *w, PgcStream *st)
{
	bool		in_txn = w->pending_in_txn;
	bool		commit = w->pending_commit;

	if (!w->batch_pending && !w->commit_sent)
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
	if (w->commit_sent)
	{
		pgc_stream_committed(w, st);
		return;
	}
	pgc_batch_finish(w);
	if (!in_txn)
	{
		/* every transaction the batch completes is applied */
		pgc_stream_durable(w, st, st->pending_complete, st->pending_lsn);
		return;
	}
	st->open_complete = Max(st->open_complete, st->pending_complete);
	st->open_lsn = Max(st->open_lsn, st->pending_lsn);
	strlcpy(st->open_last, w->pending_last, sizeof(st->open_last));
	if (commit)
		pgc_stream_commit(w);
}

/*
 * What the destination gets next: how many records from the front of the
 * batch (*n), and whether they open a destination transaction (*begin);
 * false while nothing is to go yet.  A batch outside a destination
 * transaction sends its whole transactions, keeping the start of the one
 * being read for the next batch, so a transaction that fits in a batch is
 * never split; only one that fills a batch alone opens a destination
 * transaction (BEGIN).  The batches after it continue that transaction up
 * to its commit, where the batch is cut: the part before the cut goes,
 * and the transaction's COMMIT after it (*n = 0: the COMMIT alone).  So a
 * destination transaction ends only where a source transaction ends, and
 * holds only that transaction.
 */
static bool
pgc_stream_next(PgcWorker *w, PgcStream *st, int *n, bool *begin)
{
	*begin = false;
	if (w->batch_continues)
	{
		*n = w->batch_cut >= 0 ? w->batch_cut : w->nbatch;
		strlcpy(w->send_last, st->cut_last, sizeof(w->send_last));
		return w->batch_cut >= 0 || w->nbatch > 0;
	}
	*n = st->in_txn ? w->nbatch - st->txn_batched : w->nbatch;
	strlcpy(w->send_last, st->done_last, sizeof(w->send_last));
	if (*n > 0)
		return true;
	if (w->nbatch > 0 && !pgc_batch_has_room(w, st->per_message))
	{
		*n = w->nbatch;
		*begin = true;
		return true;
	}
	return false;
}

/* Hand the destination, idle now, what pgc_stream_next() chose */
static void
pgc_stream_send(PgcWorker *w, PgcStream *st, int n, bool begin)
{
	bool		continues = w->batch_continues;
	int			cut = w->batch_cut;

	Assert(!w->batch_pending && !w->commit_sent);
	if (continues && n == 0)
	{
		/* the transaction's last change went in the batch before */
		pgc_stream_commit(w);
		w->batch_continues = false;
		w->batch_cut = -1;
		w->send_count = -1;
		w->is_sealed = false;
		return;
	}
	if (begin)
	{
		pgc_pq_command(w->dest, "destination", "BEGIN");
		w->dest_in_txn = true;
		st->open_first_time = st->fill_first_time;
	}
	st->pending_complete = continues && cut > 0 ? st->cut_complete : st->complete;
	st->pending_first_time = st->fill_first_time;
	if (!pgc_proto_position_commit(n < w->nbatch ? w->send_last : w->batch_last,
								   &st->pending_lsn))
		st->pending_lsn = InvalidXLogRecPtr;
	pgc_batch_send(w, "cdc");
	if (w->nbatch > 0)
		st->fill_first_time = st->commit_time;
	w->pending_commit = continues && cut > 0;
	/* the batch filled next goes on with the same source transaction */
	w->batch_continues = begin || (continues && cut < 0);
	w->batch_cut = -1;
}

/*
 * Take in one record of the stream (NUL-terminated, len bytes), read
 * through protocol.h: a begin, commit or wait marker updates the stream's
 * state; a change after the recorded position joins the batch.
 */
static void
pgc_stream_record(PgcWorker *w, PgcStream *st, char *rec, int len)
{
	PgcProtoRecord r;
	PgcTable   *table;
	char		lsn[32];
	XLogRecPtr	end;

	if (!pgc_proto_read(rec, len, &r))
		elog(ERROR, "unexpected record from pgconduit_output: %.*s", len, rec);
	st->source_lsn = Max(st->source_lsn, r.commit + 1);
	SpinLockAcquire(&w->slot->mutex);
	w->slot->received_lsn = r.commit;
	memcpy(w->slot->received_position, r.position, PGC_POSITION_LEN);
	SpinLockRelease(&w->slot->mutex);

	switch (r.op)
	{
		case PGC_PROTO_BEGIN:
			{
				char		ts[64];

				st->in_txn = true;
				st->txn_batched = 0;
				if (pgc_record_field(rec, "\"postgres.commit_time\":\"", ts, sizeof(ts)))
					st->commit_time = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																		  CStringGetDatum(ts),
																		  ObjectIdGetDatum(InvalidOid),
																		  Int32GetDatum(-1)));
				break;
			}
		case PGC_PROTO_COMMIT:
			st->in_txn = false;
			st->complete = r.commit + 1;
			/* the end of the commit record, where the next WAL begins */
			if (pgc_record_field(rec, "\"postgres.lsn\":\"", lsn, sizeof(lsn)) &&
				pgc_proto_parse_lsn(lsn, &end))
				st->complete = Max(st->complete, end);
			st->source_lsn = Max(st->source_lsn, st->complete);
			/* a batch continuing this transaction ends here */
			if (w->batch_continues && w->batch_cut < 0)
			{
				w->batch_cut = w->nbatch;
				st->cut_complete = st->complete;
				memcpy(st->cut_last, w->batch_last, sizeof(st->cut_last));
			}
			memcpy(st->done_last, w->batch_last, sizeof(st->done_last));
			break;
		case PGC_PROTO_MESSAGE:
			if (pgc_record_field(rec, "\"postgres.lsn\":\"", lsn, sizeof(lsn)) &&
				pgc_proto_parse_lsn(lsn, &end))
				st->pending_marker = Max(st->pending_marker, end);
			break;
		default:
			if (strncmp(r.position, w->position, PGC_POSITION_LEN) <= 0)
				break;
			/* its table; of many tables, maybe renamed, or none */
			rec = (char *) pgc_route_record(w, &r, rec, &len, &table);
			if (rec == NULL)
				break;
			if (w->nbatch == 0)
				st->fill_first_time = st->commit_time;
			pgc_batch_add(w, table, rec, len, r.position);
			st->txn_batched++;
			SpinLockAcquire(&w->slot->mutex);
			w->slot->records_read++;
			SpinLockRelease(&w->slot->mutex);
			break;
	}
}

/* The slot's confirmed_flush_lsn: nothing before it concerns the stream */
static XLogRecPtr
pgc_stream_slot_confirmed(PgcWorker *w)
{
	const char *params[1] = {w->src->slot_name};
	PGresult   *res;
	XLogRecPtr	confirmed = InvalidXLogRecPtr;

	res = pgc_pq_exec(w->source, "source",
					  "SELECT confirmed_flush_lsn::pg_catalog.text FROM pg_catalog.pg_replication_slots"
					  " WHERE slot_name OPERATOR(pg_catalog.=) $1",
					  1, params);
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
		!pgc_proto_parse_lsn(PQgetvalue(res, 0, 0), &confirmed))
		confirmed = InvalidXLogRecPtr;
	PQclear(res);
	return confirmed;
}

/*
 * The START_REPLICATION command.  The changes of a partitioned table's
 * partitions arrive under the table's own name, in its columns
 * (via_partition_root).  The table is selected by OID alone: the
 * publication is not a filter on the stream ("publication_names"), since a
 * publication altered while the pipeline runs (its actions, its tables)
 * would have the plugin leave changes out, and the slot confirmed past
 * them; it exists so that the source enforces the replica identity on
 * UPDATE and DELETE.
 */
static char *
pgc_stream_command(PgcWorker *w, int per_message)
{
	PgcTable   *t = linitial(w->tables);
	StringInfoData cmd;
	char		oid[12];

	initStringInfo(&cmd);
	if (w->route != NULL)
	{
		/* many tables: by OID, by pattern for those to come, per table */
		appendStringInfo(&cmd,
						 "START_REPLICATION SLOT %s LOGICAL 0/0 (\"include_transaction\" 'true', \"message_prefixes\" 'pgconduit.wait', \"metadata\" 'table', \"via_partition_root\" 'true', \"records_per_message\" '%d'%s)",
						 quote_identifier(w->src->slot_name), per_message,
						 pgc_route_options(w));
		return cmd.data;
	}
	appendStringInfo(&cmd,
					 "START_REPLICATION SLOT %s LOGICAL 0/0 (\"table_oids\" %s, \"key\" %s, \"include_transaction\" 'true', \"message_prefixes\" 'pgconduit.wait', \"metadata\" 'table', \"via_partition_root\" 'true', \"records_per_message\" '%d'",
					 quote_identifier(w->src->slot_name),
					 quote_literal_cstr(pgc_table_oid(t, oid)),
					 quote_literal_cstr(pgc_name_list(t->key)),
					 per_message);
	/* without "columns", every column, also those added later */
	if (w->src->columns != NIL)
		appendStringInfo(&cmd, ", \"columns\" %s",
						 quote_literal_cstr(pgc_name_list(t->columns)));
	appendStringInfoChar(&cmd, ')');
	return cmd.data;
}

/*
 * Connect for replication and start streaming from the slot; set up the
 * stream's bookkeeping and its waits.
 */
static void
pgc_stream_start(PgcWorker *w, PgcStream *st)
{
	PGresult   *res;

	if (w->repl == NULL)
		w->repl = pgc_pq_connect(w->src->replication_url, true, w->appname,
								 "source", w->need_password);
	st->confirmed = pgc_stream_slot_confirmed(w);
	SpinLockAcquire(&w->slot->mutex);
	w->slot->marker_lsn = Max(w->slot->marker_lsn, st->confirmed);
	SpinLockRelease(&w->slot->mutex);
	pgc_status_changed();

	st->per_message = Min(64, Max(1, w->batch_limit / 16));
	res = pgc_pq_exec(w->repl, "source", pgc_stream_command(w, st->per_message),
					  0, NULL);
	if (PQresultStatus(res) != PGRES_COPY_BOTH)
		pgc_pq_raise(w->repl, res, "source");
	PQclear(res);
	pgc_batch_reset(w);

	/*
	 * Records go to the table the pipeline writes to, whatever the name;
	 * those of many tables carry it, the name first seen (route.c).
	 */
	w->batch_table = w->route != NULL ? NULL :
		((PgcTable *) linitial(w->tables))->target;

	/* one wait set for the stream: the latch, the source, the destination */
	st->ws = pgc_create_wait_event_set(4);
	AddWaitEventToSet(st->ws, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(st->ws, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(st->ws, WL_SOCKET_READABLE, PQsocket(w->repl), NULL, NULL);
	AddWaitEventToSet(st->ws, WL_SOCKET_READABLE, PQsocket(w->dest), NULL, NULL);
	/* and one without the source, to let the stream gather */
	st->ws_dest = pgc_create_wait_event_set(3);
	AddWaitEventToSet(st->ws_dest, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(st->ws_dest, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(st->ws_dest, WL_SOCKET_READABLE, PQsocket(w->dest), NULL, NULL);
}

/*
 * Take in one message of the walsender (r bytes): a keepalive tells where
 * its WAL ends and may ask for a reply; XLogData holds records, one per
 * line, since records_per_message may send several.
 */
static void
pgc_stream_message(PgcWorker *w, PgcStream *st, char *buf, int r)
{
	if (buf[0] == 'k' && r >= 18)
	{
		uint64		end;

		memcpy(&end, buf + 1, 8);
		st->wal_end = Max(st->wal_end, pg_ntoh64(end));
		if (buf[17])
			pgc_send_feedback(w, st->confirmed, false);
	}
	else if (buf[0] == 'w' && r > 25)
	{
		char	   *next = buf + 25;
		char	   *bufend = buf + r;

		while (next < bufend)
		{
			char	   *rec = next;
			char	   *nl = memchr(rec, '\n', bufend - rec);

			if (nl != NULL)
				*nl = '\0';
			next = nl != NULL ? nl + 1 : bufend;
			pgc_stream_record(w, st, rec, (nl != NULL ? nl : bufend) - rec);
		}
	}
}

/*
 * Read the messages the source has sent, without waiting, while the batch
 * has room.  Returns whether any was read.
 */
static bool
pgc_stream_read(PgcWorker *w, PgcStream *st)
{
	bool		got = false;
	bool		consumed = false;

	while (pgc_batch_has_room(w, st->per_message))
	{
		char	   *buf = NULL;
		int			r;

		/* a late table is copied at the next boundary: read no further */
		if (!st->in_txn && pgc_route_waiting(w))
			break;
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
			PGresult   *res = PQgetResult(w->repl);

			pgc_pq_raise(w->repl, res && PQresultStatus(res) == PGRES_FATAL_ERROR ? res : NULL,
						 "source");
		}
		if (r == -2)
			pgc_pq_raise(w->repl, NULL, "source");
		got = true;
		pgc_stream_message(w, st, buf, r);
		PQfreemem(buf);
	}
	return got;
}

/*
 * Hand the batch (what pgc_stream_next() chooses of it) to the destination
 * once the destination is done with the one before, and read on meanwhile;
 * wait for it only with a full batch, so at most two are in flight.  What
 * a batch completes is known when it is sent: every transaction whose
 * commit was read by then.  Returns whether the destination is idle now.
 */
static bool
pgc_stream_hand_over(PgcWorker *w, PgcStream *st)
{
	bool		dest_idle = pgc_stream_dest_idle(w, st->dest_readable);
	int			n;
	bool		begin;

	if (pgc_stream_next(w, st, &n, &begin) &&
		(dest_idle || !pgc_batch_has_room(w, st->per_message)))
	{
		w->send_count = n;
		pgc_batch_seal(w);
		while (w->batch_pending || w->commit_sent)
			pgc_stream_finish(w, st);
		pgc_stream_send(w, st, n, begin);
		return false;
	}
	if (dest_idle)
		pgc_stream_finish(w, st);
	return dest_idle;
}

/*
 * Stop streaming, so that the stream can start again from the slot's
 * confirmed position: end the COPY (what the walsender sent meanwhile is
 * sent again), which releases the slot before this returns, so that the
 * next START_REPLICATION does not find it active; then close the
 * connection (a walsender does not stream a second time on one) and the
 * waits on it.
 */
static void
pgc_stream_stop(PgcWorker *w, PgcStream *st)
{
	PGresult   *res;

	FreeWaitEventSet(st->ws);
	FreeWaitEventSet(st->ws_dest);
	st->ws = st->ws_dest = NULL;
	if (PQputCopyEnd(w->repl, NULL) <= 0 || PQflush(w->repl) < 0)
		pgc_pq_raise(w->repl, NULL, "source");
	for (;;)
	{
		char	   *buf = NULL;
		int			r = PQgetCopyData(w->repl, &buf, 1);

		if (r > 0)
			PQfreemem(buf);
		else if (r == -1)
			break;				/* the walsender ended the COPY too */
		else if (r == -2)
			pgc_pq_raise(w->repl, NULL, "source");
		else
		{
			pgc_pq_wait(w->repl, WL_SOCKET_READABLE, PGC_FEEDBACK_INTERVAL_MS);
			if (!PQconsumeInput(w->repl))
				pgc_pq_raise(w->repl, NULL, "source");
		}
	}
	while ((res = pgc_pq_get_result(w->repl, "source")) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			pgc_pq_raise(w->repl, res, "source");
		PQclear(res);
	}
	pgc_pq_finish(&w->repl);
	st->in_txn = false;
}

/*
 * With nothing buffered or in flight, and no destination transaction
 * open, whole transactions are done: all the source's WAL up to the
 * walsender's end is dealt with, unless a transaction is being read, and
 * the slot may be confirmed up to there.
 */
static void
pgc_stream_settle(PgcWorker *w, PgcStream *st)
{
	XLogRecPtr	done;

	if (w->nbatch > 0 || w->batch_pending || w->commit_sent || w->dest_in_txn)
		return;
	/* tables taken up or noted since: at a boundary, before the markers */
	if (!st->in_txn && pgc_route_waiting(w))
	{
		pgc_stream_stop(w, st);
		pgc_route_settle(w);
		pgc_stream_start(w, st);
	}
	else if (!st->in_txn && pgc_route_has_notes(w))
		pgc_route_settle(w);
	done = st->complete;
	if (!st->in_txn && st->wal_end > done)
		done = st->wal_end;
	SpinLockAcquire(&w->slot->mutex);
	if (st->pending_marker != InvalidXLogRecPtr && !st->in_txn)
		w->slot->marker_lsn = Max(w->slot->marker_lsn, st->pending_marker);
	if (!st->in_txn)
	{
		w->slot->marker_lsn = Max(w->slot->marker_lsn, st->wal_end);
		w->slot->applied_lsn = Max(w->slot->applied_lsn, done);
	}
	w->slot->source_lsn = Max(w->slot->source_lsn, st->wal_end);
	SpinLockRelease(&w->slot->mutex);
	pgc_status_changed();
	if (!st->in_txn)
		st->pending_marker = InvalidXLogRecPtr;
	if (done > st->confirmed)
	{
		st->confirmed = done;
		pgc_send_feedback(w, st->confirmed, false);
		st->last_feedback = GetCurrentTimestamp();
	}
}

/*
 * What the stream does now and then, whatever it reads: check the tables
 * (a dropped or replaced table sends nothing, so only the catalog tells),
 * report the position to the walsender, measure and publish the lag.
 */
static void
pgc_stream_keep_up(PgcWorker *w, PgcStream *st)
{
	if (TimestampDifferenceExceeds(w->table_checked, GetCurrentTimestamp(),
								   PGC_FEEDBACK_INTERVAL_MS))
		pgc_source_check_tables(w);

	if (TimestampDifferenceExceeds(st->last_feedback, GetCurrentTimestamp(),
								   PGC_FEEDBACK_INTERVAL_MS))
	{
		/* ask for a keepalive too, to learn where the walsender is */
		pgc_send_feedback(w, st->confirmed, true);
		st->last_feedback = GetCurrentTimestamp();
	}
	pgc_stream_measure(w, st);
	pgc_stream_publish(w, st);
}

/*
 * Learn which sockets have something.  With nothing read, wait for either.
 * While the destination is busy and the batch has room, let the stream
 * gather for a moment rather than wake for every record: only the
 * destination's answer ends that wait early.  Else just look.
 */
static void
pgc_stream_wait(PgcWorker *w, PgcStream *st, bool got, bool dest_idle)
{
	WaitEvent	events[4];
	int			nevents;

	st->dest_readable = false;
	if (!st->in_txn && pgc_route_waiting(w) && !dest_idle)
		/* the stream stops for a late table: wait for the destination */
		nevents = WaitEventSetWait(st->ws_dest, PGC_FEEDBACK_INTERVAL_MS, events,
								   lengthof(events), PG_WAIT_EXTENSION);
	else if (got && !dest_idle && pgc_batch_has_room(w, st->per_message))
		nevents = WaitEventSetWait(st->ws_dest, PGC_GATHER_MS, events,
								   lengthof(events), PG_WAIT_EXTENSION);
	else
		nevents = WaitEventSetWait(st->ws, got ? 0 : PGC_FEEDBACK_INTERVAL_MS,
								   events, lengthof(events), PG_WAIT_EXTENSION);
	for (int i = 0; i < nevents; i++)
	{
		if (events[i].events & WL_LATCH_SET)
			ResetLatch(MyLatch);
		if (events[i].events & WL_SOCKET_READABLE &&
			events[i].fd == PQsocket(w->dest))
			st->dest_readable = true;
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
pgc_stream_run(PgcWorker *w)
{
	PgcStream	st = {0};

	pgc_route_init(w);
	pgc_stream_start(w, &st);
	for (;;)
	{
		bool		got;
		bool		dest_idle;

		CHECK_FOR_INTERRUPTS();
		got = pgc_stream_read(w, &st);
		dest_idle = pgc_stream_hand_over(w, &st);
		pgc_stream_settle(w, &st);
		pgc_stream_keep_up(w, &st);
		pgc_stream_wait(w, &st, got, dest_idle);
	}
}
