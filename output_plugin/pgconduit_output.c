/*-------------------------------------------------------------------------
 *
 * pgconduit_output.c
 *		Logical decoding output plugin that writes one OpenCDC JSON record
 *		per change.
 *
 * Each insert, update, delete and truncate becomes one JSON object with
 * position, operation, metadata, key and payload (before/after), written
 * while the change is decoded: the plugin never holds a transaction.
 * Positions are the commit LSN of the transaction and the index of the
 * record in it, both as fixed-width hex, so they sort as text in the order
 * the records are sent and a consumer can resume after any of them.
 *
 * This file holds the callbacks, the records' framing (position, output
 * messages, the transaction's metadata, begin and commit records) and the
 * message records; pco_change.c writes change and truncate records,
 * pco_options.c reads the options, pco_relation.c caches what is known of
 * each table and pco_json.c encodes values as to_jsonb() does.  All
 * per-change memory lives in a context reset after each change.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/output_plugin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pco.h"
#include "protocol.h"

PG_MODULE_MAGIC;

extern void _PG_output_plugin_init(OutputPluginCallbacks *cb);

/* Index of the commit record of a transaction, after all its changes */
#define PCO_COMMIT_INDEX	PG_UINT64_MAX

static const char pco_hexdigits[] = "0123456789ABCDEF";

/* Append an LSN as PostgreSQL prints it (%X/%X) */
void
pco_put_lsn(StringInfo buf, XLogRecPtr lsn)
{
	char		tmp[17];
	char	   *p = tmp + sizeof(tmp);
	uint32		hi = (uint32) (lsn >> 32);
	uint32		lo = (uint32) lsn;

	do
	{
		*--p = pco_hexdigits[lo & 0xF];
		lo >>= 4;
	} while (lo != 0);
	*--p = '/';
	do
	{
		*--p = pco_hexdigits[hi & 0xF];
		hi >>= 4;
	} while (hi != 0);
	pco_put(buf, p, tmp + sizeof(tmp) - p);
}

/*
 * Start a record: {"position":"<commit lsn>/<index>, the layout of
 * protocol.h, which the operation's PGC_PROTO_OPERATION continues.
 */
void
pco_put_position(StringInfo buf, XLogRecPtr commit_lsn, uint64 index)
{
	char	   *p;

	/* and the position's NUL, which the next append overwrites */
	pco_reserve(buf, PGC_PROTO_PREFIX_LEN + PGC_POSITION_LEN + 1);
	p = buf->data + buf->len;
	memcpy(p, PGC_PROTO_PREFIX, PGC_PROTO_PREFIX_LEN);
	pgc_proto_position(p + PGC_PROTO_PREFIX_LEN, commit_lsn, index);
	buf->len += PGC_PROTO_PREFIX_LEN + PGC_POSITION_LEN;
}

/* Startup: parse the options and set up the caches */
static void
pco_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
			bool is_init)
{
	PcoState   *state;
	MemoryContext old;

	state = MemoryContextAllocZero(ctx->context, sizeof(PcoState));
	state->context = AllocSetContextCreate(ctx->context, "pgconduit_output",
										   ALLOCSET_DEFAULT_SIZES);
	state->change_cxt = AllocSetContextCreate(state->context,
											  "pgconduit_output change",
											  ALLOCSET_DEFAULT_SIZES);
	ctx->output_plugin_private = state;
	opt->output_type = OUTPUT_PLUGIN_TEXTUAL_OUTPUT;
	opt->receive_rewrites = false;

	old = MemoryContextSwitchTo(state->context);
	pco_options_parse(ctx->output_plugin_options, &state->options);
	initStringInfo(&state->txn_meta);
	MemoryContextSwitchTo(old);

	/* creating the slot decodes nothing: no cache needed */
	if (!is_init)
		pco_relation_init(state->context, &state->options);
}

/* Shutdown: the plugin's memory goes with the decoding context */
static void
pco_shutdown(LogicalDecodingContext *ctx)
{
	pco_relation_shutdown();
}

/* Skip changes applied by a replication origin when origin = none */
static bool
pco_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	PcoState   *state = ctx->output_plugin_private;

	return state->options.skip_origin && origin_id != InvalidRepOriginId;
}

/* Send the message being filled, if any */
static void
pco_record_flush(LogicalDecodingContext *ctx)
{
	PcoState   *state = ctx->output_plugin_private;

	if (state->in_message > 0)
	{
		OutputPluginWrite(ctx, true);
		state->in_message = 0;
	}
}

/*
 * Begin: start counting the transaction's records.  Nothing is written, and
 * its metadata is not prepared, until its first selected change: a
 * transaction that touches nothing selected costs nothing more.
 */
static void
pco_begin_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PcoState   *state = ctx->output_plugin_private;

	state->commit_lsn = txn->final_lsn;
	state->index = 0;
	state->begin_sent = false;
}

/*
 * Prepare the transaction's metadata, which every record of it repeats;
 * "opencdc.readAt" is when its first record is written.
 */
static void
pco_txn_meta(PcoState *state, ReorderBufferTXN *txn)
{
	StringInfo	m = &state->txn_meta;
	TimestampTz now = GetCurrentTimestamp();
	int64		unix_ns;
	char		num[MAXINT8LEN + 1];

	pco_datetime_setup();
	unix_ns = (now + ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
					  SECS_PER_DAY * USECS_PER_SEC)) * 1000;
	resetStringInfo(m);
	PCO_PUT_LIT(m, ",\"opencdc.readAt\":\"");
	pco_put(m, num, pg_lltoa(unix_ns, num));
	PCO_PUT_LIT(m, "\",\"postgres.xid\":\"");
	pco_put(m, num, pg_ultoa_n(txn->xid, num));
	PCO_PUT_LIT(m, "\",\"postgres.commit_lsn\":\"");
	pco_put_lsn(m, txn->final_lsn);
	PCO_PUT_LIT(m, "\",\"postgres.commit_time\":");
	pco_append_timestamptz(m, txn->xact_time.commit_time);
	if (state->options.include_origin && txn->origin_id != InvalidRepOriginId)
	{
		char	   *origin;

		if (replorigin_by_oid(txn->origin_id, true, &origin))
		{
			PCO_PUT_LIT(m, ",\"postgres.origin\":");
			pco_json_escape(m, origin, -1);
		}
	}
	pco_terminate(m);
}

/*
 * Write a begin or commit record of the current transaction.  Its
 * "postgres.lsn" is where the walsender reports the record: the start of
 * the transaction for begin, the end of its commit record for commit.
 */
static void
pco_write_txn_record(LogicalDecodingContext *ctx, const char *operation,
					 uint64 index, XLogRecPtr lsn)
{
	PcoState   *state = ctx->output_plugin_private;
	StringInfo	out;

	pco_record_start(ctx);
	out = ctx->out;
	pco_put_position(out, state->commit_lsn, index);
	PCO_PUT_LIT(out, PGC_PROTO_OPERATION);
	pco_put(out, operation, strlen(operation));
	PCO_PUT_LIT(out, PGC_PROTO_METADATA);
	/* skip the leading comma of the transaction's metadata */
	pco_put(out, state->txn_meta.data + 1, state->txn_meta.len - 1);
	PCO_PUT_LIT(out, ",\"postgres.lsn\":\"");
	pco_put_lsn(out, lsn);
	PCO_PUT_LIT(out, "\"},\"key\":null,\"payload\":{\"before\":null,\"after\":null}}");
	pco_terminate(out);
	pco_record_end(ctx, index == PCO_COMMIT_INDEX);
}

/*
 * Before the transaction's first record (see pco_maybe_begin): prepare its
 * metadata and send the begin record, if asked
 */
void
pco_begin_first(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PcoState   *state = ctx->output_plugin_private;

	state->begin_sent = true;
	pco_txn_meta(state, txn);
	if (state->options.include_transaction)
		pco_write_txn_record(ctx, PGC_OP_BEGIN, 0, txn->first_lsn);
}

/* Commit: the commit record, if a begin was sent */
static void
pco_commit_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   XLogRecPtr commit_lsn)
{
	PcoState   *state = ctx->output_plugin_private;

	pco_progress(ctx, !state->begin_sent);
	if (state->begin_sent && state->options.include_transaction)
		pco_write_txn_record(ctx, PGC_OP_COMMIT, PCO_COMMIT_INDEX, txn->end_lsn);
	pco_record_flush(ctx);
}

/* Is a message with this prefix wanted? */
static bool
pco_message_wanted(PcoState *state, const char *prefix)
{
	ListCell   *lc;

	if (!state->options.messages)
		return false;
	if (state->options.message_prefixes == NIL)
		return true;
	foreach(lc, state->options.message_prefixes)
	{
		if (strcmp(lfirst(lc), prefix) == 0)
			return true;
	}
	return false;
}

/*
 * Write a pg_logical_emit_message() message.  A transactional one is a
 * record of its transaction; a non-transactional one is sent when decoded,
 * positioned at the start of its own WAL record with index 0.  No commit
 * record starts there, every transaction sent before it committed before
 * that point and every one sent after it commits after the message's
 * record, so positions stay unique and increasing.  (message_lsn is the end
 * of the record, which is where the next record, maybe a commit, starts.)
 * The content is a string when it is valid in the database encoding, else
 * its bytea text form (\x…).
 */
static void
pco_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			XLogRecPtr message_lsn, bool transactional, const char *prefix,
			Size message_size, const char *message)
{
	PcoState   *state = ctx->output_plugin_private;
	MemoryContext old;
	StringInfo	out;

	if (!pco_message_wanted(state, prefix))
		return;
	old = MemoryContextSwitchTo(state->change_cxt);
	if (transactional)
		pco_maybe_begin(ctx, txn);
	else
		pco_record_flush(ctx);
	pco_record_start(ctx);
	out = ctx->out;
	if (transactional)
		pco_put_position(out, state->commit_lsn, ++state->index);
	else
	{
		XLogRecPtr	start = ctx->reader->ReadRecPtr;

		/*
		 * The callback runs while the message's record is decoded, so the
		 * reader is at its start; anything else would be a bug.
		 */
		if (ctx->reader->EndRecPtr != message_lsn || start >= message_lsn)
			elog(ERROR, "non-transactional message at %X/%X decoded outside its record",
				 LSN_FORMAT_ARGS(message_lsn));
		pco_put_position(out, start, 0);
	}
	PCO_PUT_LIT(out, PGC_PROTO_OPERATION PGC_OP_MESSAGE PGC_PROTO_METADATA "\"postgres.prefix\":");
	pco_json_escape(out, prefix, -1);
	if (transactional)
	{
		PCO_PUT_LIT(out, ",\"postgres.transactional\":\"true\"");
		pco_put(out, state->txn_meta.data, state->txn_meta.len);
	}
	else
		PCO_PUT_LIT(out, ",\"postgres.transactional\":\"false\"");
	PCO_PUT_LIT(out, ",\"postgres.lsn\":\"");
	pco_put_lsn(out, message_lsn);
	PCO_PUT_LIT(out, "\"},\"key\":null,\"payload\":{\"before\":null,\"after\":{\"content\":");
	if (pg_verifymbstr(message, message_size, true) &&
		memchr(message, '\0', message_size) == NULL)
		pco_json_escape(out, message, message_size);
	else
	{
		bytea	   *b = palloc(message_size + VARHDRSZ);

		SET_VARSIZE(b, message_size + VARHDRSZ);
		memcpy(VARDATA(b), message, message_size);
		pco_json_escape(out, DatumGetCString(DirectFunctionCall1(byteaout,
																 PointerGetDatum(b))),
						-1);
	}
	PCO_PUT_LIT(out, "}}}");
	pco_terminate(out);
	/* a message may be a marker someone waits for: send it at once */
	pco_record_end(ctx, true);
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_cxt);
}

/* Register the callbacks of pgconduit_output */
void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = pco_startup;
	cb->begin_cb = pco_begin_txn;
	cb->change_cb = pco_change;
	cb->truncate_cb = pco_truncate;
	cb->commit_cb = pco_commit_txn;
	cb->message_cb = pco_message;
	cb->filter_by_origin_cb = pco_filter_by_origin;
	cb->shutdown_cb = pco_shutdown;
}
