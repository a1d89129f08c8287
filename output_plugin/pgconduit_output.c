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
 * This file holds the callbacks; pco_options.c reads the options,
 * pco_relation.c caches what is known of each table and pco_json.c encodes
 * values as to_jsonb() does.  All per-change memory lives in a context reset after each change.
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

/* State of one decoding session */
typedef struct PcoState
{
	MemoryContext context;		/* the plugin's, lives as long as the slot is
								 * being decoded */
	MemoryContext change_cxt;	/* reset after every change */
	PcoOptions	options;

	/* the transaction being sent */
	StringInfoData txn_meta;	/* ,"opencdc.readAt":…,"postgres.xid":…, … */
	XLogRecPtr	commit_lsn;		/* the first half of positions */
	uint64		index;			/* records of the transaction so far */
	bool		begin_sent;

	/* records in the output message being filled (records_per_message) */
	int			in_message;

	/* scratch space for deforming tuples, grown as needed */
	int			maxatts;
	Datum	   *new_values;
	bool	   *new_nulls;
	Datum	   *old_values;
	bool	   *old_nulls;
	Datum	   *part_values;	/* a partition's row, before it is mapped */
	bool	   *part_nulls;
	bool	   *unchanged;		/* per columns[] index */
	bool	   *as_text;		/* per columns[] index: json sent as text */
	int		   *enc_start;		/* per columns[] index: a key value's text */
	int		   *enc_len;		/* in the record, to copy into "after" */
} PcoState;

static int	pco_progress_count = 0;

static const char pco_hexdigits[] = "0123456789ABCDEF";

/* Append an LSN as PostgreSQL prints it (%X/%X) */
static void
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
static void
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

/* Tell the walsender of progress now and then, also for skipped changes */
static void
pco_progress(LogicalDecodingContext *ctx, bool skipped_xact)
{
	if (ctx->end_xact || ++pco_progress_count >= 100)
	{
		OutputPluginUpdateProgress(ctx, skipped_xact);
		pco_progress_count = 0;
	}
}

/*
 * Start a record: a new output message, or with records_per_message, the
 * next line of the message being filled.
 */
static void
pco_record_start(LogicalDecodingContext *ctx)
{
	PcoState   *state = ctx->output_plugin_private;

	if (state->in_message == 0)
		OutputPluginPrepareWrite(ctx, true);
	else
		appendStringInfoChar(ctx->out, '\n');
}

/*
 * End a record: send the message once it holds records_per_message
 * records or PCO_MESSAGE_BYTES, or when flush is asked (a transaction's
 * end, a message record), so nothing waits for the next transaction.
 */
static void
pco_record_end(LogicalDecodingContext *ctx, bool flush)
{
	PcoState   *state = ctx->output_plugin_private;

	if (++state->in_message >= state->options.records_per_message || flush ||
		ctx->out->len >= PCO_MESSAGE_BYTES)
	{
		OutputPluginWrite(ctx, true);
		state->in_message = 0;
	}
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
 * Before the transaction's first record: prepare its metadata and send the
 * begin record, if asked
 */
static inline void
pco_maybe_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PcoState   *state = ctx->output_plugin_private;

	if (state->begin_sent)
		return;
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

/* Make sure the scratch arrays hold natts columns */
static void
pco_ensure_scratch(PcoState *state, int natts)
{
	MemoryContext old;

	if (natts <= state->maxatts)
		return;
	old = MemoryContextSwitchTo(state->context);
	if (state->maxatts > 0)
	{
		pfree(state->new_values);
		pfree(state->new_nulls);
		pfree(state->old_values);
		pfree(state->old_nulls);
		pfree(state->part_values);
		pfree(state->part_nulls);
		pfree(state->unchanged);
		pfree(state->as_text);
		pfree(state->enc_start);
		pfree(state->enc_len);
	}
	state->maxatts = Max(natts, 64);
	state->new_values = palloc(sizeof(Datum) * state->maxatts);
	state->new_nulls = palloc(sizeof(bool) * state->maxatts);
	state->old_values = palloc(sizeof(Datum) * state->maxatts);
	state->old_nulls = palloc(sizeof(bool) * state->maxatts);
	state->part_values = palloc(sizeof(Datum) * state->maxatts);
	state->part_nulls = palloc(sizeof(bool) * state->maxatts);
	state->unchanged = palloc0(sizeof(bool) * state->maxatts);
	state->as_text = palloc0(sizeof(bool) * state->maxatts);
	state->enc_start = palloc(sizeof(int) * state->maxatts);
	state->enc_len = palloc(sizeof(int) * state->maxatts);
	MemoryContextSwitchTo(old);
}

/*
 * Deform a tuple of the changed relation into values/nulls, laid out as the
 * reported relation's attributes: through the attribute map when a
 * partition is reported under an ancestor of another layout.
 */
static void
pco_deform(PcoState *state, PcoRelation *rel, HeapTuple tuple, TupleDesc desc,
		   Datum *values, bool *nulls)
{
	if (rel->attrmap == NULL)
	{
		heap_deform_tuple(tuple, desc, values, nulls);
		return;
	}
	heap_deform_tuple(tuple, desc, state->part_values, state->part_nulls);
	for (int i = 0; i < rel->attrmap->maplen; i++)
	{
		AttrNumber	a = rel->attrmap->attnums[i];

		nulls[i] = (a == 0 || state->part_nulls[a - 1]);
		values[i] = a == 0 ? (Datum) 0 : state->part_values[a - 1];
	}
}

/* Append a column's value: null, its encoding, or (as_text) its text */
static inline void
pco_put_value(StringInfo buf, PcoColumn *col, Datum *values, bool *nulls,
			  bool as_text)
{
	int			a = col->attnum - 1;

	if (nulls[a])
		PCO_PUT_LIT(buf, "null");
	else if (unlikely(as_text))
		pco_encode_text(buf, col->encoder, values[a]);
	else
		pco_encode(buf, col->encoder, values[a]);
}

/*
 * Is a json or jsonb column's value in a row one that to_jsonb()'s form
 * would lose (JSON null, or json text that jsonb would change)?
 */
static bool
pco_row_json_lossy(PcoColumn *col, Datum *values, bool *nulls)
{
	int			a = col->attnum - 1;

	if (nulls[a] ||
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(values[a])))
		return false;
	return pco_json_lossy(col->encoder, values[a]);
}

/*
 * Append a JSON array of the names of the columns flagged (and, with
 * payload_only, in the payload), as a JSON string: a metadata value.
 */
static void
pco_put_name_list(StringInfo out, PcoRelation *rel, bool *flags,
				  bool payload_only)
{
	StringInfoData list;
	bool		first = true;

	initStringInfo(&list);
	pco_putc(&list, '[');
	for (int i = 0; i < rel->ncolumns; i++)
	{
		PcoColumn  *col = &rel->columns[i];

		if (!flags[i] || (payload_only && !col->in_payload))
			continue;
		if (!first)
			pco_putc(&list, ',');
		first = false;
		/* the escaped name without its colon */
		pco_put(&list, col->json_name, col->json_name_len - 1);
	}
	pco_putc(&list, ']');
	pco_json_escape(out, list.data, list.len);
}

/*
 * Append the key object from a row.  With remember, note where each key
 * value's text is, so that "after" can copy it instead of encoding again.
 * A key column whose value is an unchanged TOASTed one is left out.
 */
static void
pco_put_key(StringInfo out, PcoState *state, PcoRelation *rel, Datum *values,
			bool *nulls, bool *unchanged, bool remember)
{
	bool		first = true;

	pco_putc(out, '{');
	for (int k = 0; k < rel->nkeys; k++)
	{
		int			i = rel->key_index[k];
		PcoColumn  *col = &rel->columns[i];

		if (unchanged != NULL && unchanged[i])
		{
			if (remember)
				state->enc_len[i] = -1;
			continue;
		}
		if (!first)
			pco_putc(out, ',');
		first = false;
		pco_put(out, col->json_name, col->json_name_len);
		if (remember)
			state->enc_start[i] = out->len;
		pco_put_value(out, col, values, nulls, state->as_text[i]);
		if (remember)
			state->enc_len[i] = out->len - state->enc_start[i];
	}
	pco_putc(out, '}');
}

/*
 * Append a row as a JSON object: every column but those marked unchanged;
 * with reuse, the key columns' text is copied from the key object.
 */
static void
pco_put_row(StringInfo out, PcoState *state, PcoRelation *rel, Datum *values,
			bool *nulls, bool *unchanged, bool reuse)
{
	bool		first = true;

	pco_putc(out, '{');
	for (int i = 0; i < rel->ncolumns; i++)
	{
		PcoColumn  *col = &rel->columns[i];

		if (!col->in_payload || (unchanged != NULL && unchanged[i]))
			continue;
		if (!first)
			pco_putc(out, ',');
		first = false;
		pco_put(out, col->json_name, col->json_name_len);
		if (reuse && rel->column_is_key[i] && state->enc_len[i] >= 0)
		{
			int			len = state->enc_len[i];

			pco_reserve(out, len);
			memcpy(out->data + out->len, out->data + state->enc_start[i], len);
			out->len += len;
		}
		else
			pco_put_value(out, col, values, nulls, state->as_text[i]);
	}
	pco_putc(out, '}');
}

/* The first part of a record of each kind of change, up to the metadata */
#define PCO_OP_CREATE	PGC_PROTO_OPERATION PGC_OP_CREATE PGC_PROTO_METADATA
#define PCO_OP_UPDATE	PGC_PROTO_OPERATION PGC_OP_UPDATE PGC_PROTO_METADATA
#define PCO_OP_DELETE	PGC_PROTO_OPERATION PGC_OP_DELETE PGC_PROTO_METADATA

/* The rows of one change and what writing them needs to know */
typedef struct PcoRows
{
	HeapTuple	newtup;			/* NULL for a delete */
	HeapTuple	oldtup;			/* the old row or its key, if WAL has it */
	int			nunchanged;		/* payload columns marked unchanged */
	int			nastext;		/* json columns marked to go as text */
	bool		key_from_new;	/* the key object was written from newtup */
	int			key_start;		/* where the key object is in the record */
	int			key_len;
} PcoRows;

/* The PCO_ACT_* of a change; 0 for what is not an insert/update/delete */
static inline int
pco_change_action(ReorderBufferChange *change)
{
	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			return PCO_ACT_CREATE;
		case REORDER_BUFFER_CHANGE_UPDATE:
			return PCO_ACT_UPDATE;
		case REORDER_BUFFER_CHANGE_DELETE:
			return PCO_ACT_DELETE;
		default:
			return 0;
	}
}

/*
 * Unchanged TOASTed values are not in WAL: take them from the old row
 * (REPLICA IDENTITY FULL), else mark them unchanged, to be left out of
 * "after" and named.
 */
static void
pco_mark_unchanged_toast(PcoState *state, PcoRelation *rel, PcoRows *rows)
{
	rows->nunchanged = 0;
	if (rows->newtup == NULL)
		return;
	for (int i = 0; i < rel->ncolumns; i++)
	{
		PcoColumn  *col = &rel->columns[i];
		int			a = col->attnum - 1;

		state->unchanged[i] = false;
		if (!col->is_varlena || state->new_nulls[a] ||
			!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(state->new_values[a])))
			continue;
		if (rows->oldtup != NULL && !state->old_nulls[a] &&
			!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(state->old_values[a])))
			state->new_values[a] = state->old_values[a];
		else
		{
			state->unchanged[i] = true;
			if (col->in_payload)
				rows->nunchanged++;
		}
	}
}

/*
 * A json or jsonb column whose value to_jsonb() would lose, in the new or
 * the old row, is sent as its text wherever it appears, and named: mark it.
 */
static void
pco_mark_json_as_text(PcoState *state, PcoRelation *rel, PcoRows *rows)
{
	rows->nastext = 0;
	for (int i = 0; i < rel->ncolumns; i++)
	{
		PcoColumn  *col = &rel->columns[i];

		state->as_text[i] = false;
		if (!col->is_json)
			continue;
		if ((rows->newtup != NULL && !state->unchanged[i] &&
			 pco_row_json_lossy(col, state->new_values, state->new_nulls)) ||
			(rows->oldtup != NULL &&
			 pco_row_json_lossy(col, state->old_values, state->old_nulls)))
		{
			state->as_text[i] = true;
			rows->nastext++;
		}
	}
}

/*
 * Deform a change's rows into the scratch arrays, as the reported
 * relation's columns, and mark the values that need care.
 */
static void
pco_change_rows(PcoState *state, PcoRelation *rel, Relation relation,
				ReorderBufferChange *change, PcoRows *rows)
{
	TupleDesc	desc = RelationGetDescr(relation);

	pco_ensure_scratch(state, Max(desc->natts, rel->natts));
	rows->newtup = pgc_change_newtuple(change);
	if (rows->newtup != NULL)
		pco_deform(state, rel, rows->newtup, desc, state->new_values,
				   state->new_nulls);
	rows->oldtup = pgc_change_oldtuple(change);
	if (rows->oldtup != NULL)
		pco_deform(state, rel, rows->oldtup, desc, state->old_values,
				   state->old_nulls);
	pco_mark_unchanged_toast(state, rel, rows);
	pco_mark_json_as_text(state, rel, rows);
}

/*
 * Write a change record up to its metadata's end: position, operation,
 * the table's names (and relid), the transaction's fields, and the names
 * of the columns marked unchanged or sent as text.
 */
static void
pco_put_change_head(StringInfo out, PcoState *state, PcoRelation *rel,
					PcoRows *rows, int action, XLogRecPtr lsn)
{
	pco_reserve(out, 128 + rel->meta_table_len + state->txn_meta.len);
	pco_put_position(out, state->commit_lsn, ++state->index);
	if (action == PCO_ACT_CREATE)
		PCO_PUT_LIT(out, PCO_OP_CREATE);
	else if (action == PCO_ACT_UPDATE)
		PCO_PUT_LIT(out, PCO_OP_UPDATE);
	else
		PCO_PUT_LIT(out, PCO_OP_DELETE);
	if (state->options.metadata_table_only)
		pco_put(out, rel->meta_table, rel->meta_table_only_len);
	else
	{
		pco_put(out, rel->meta_table, rel->meta_table_len);
		pco_put(out, state->txn_meta.data, state->txn_meta.len);
		PCO_PUT_LIT(out, ",\"postgres.lsn\":\"");
		pco_put_lsn(out, lsn);
		pco_putc(out, '"');
	}
	if (rows->nunchanged > 0)
	{
		PCO_PUT_LIT(out, ",\"postgres.unchanged_toast\":");
		pco_put_name_list(out, rel, state->unchanged, true);
	}
	if (rows->nastext > 0)
	{
		PCO_PUT_LIT(out, ",\"postgres.json_as_text\":");
		pco_put_name_list(out, rel, state->as_text, false);
	}
	pco_putc(out, '}');
}

/*
 * Write "key": from the new row, or from the old one for a delete; null
 * when the relation has no key or the row is not in WAL.  Note where it is,
 * so that "before" of a delete can copy it.
 */
static void
pco_put_change_key(StringInfo out, PcoState *state, PcoRelation *rel,
				   PcoRows *rows)
{
	PCO_PUT_LIT(out, ",\"key\":");
	rows->key_start = out->len;
	rows->key_from_new = false;
	if (rel->nkeys == 0)
		PCO_PUT_LIT(out, "null");
	else if (rows->newtup != NULL)
	{
		pco_put_key(out, state, rel, state->new_values, state->new_nulls,
					state->unchanged, true);
		rows->key_from_new = true;
	}
	else if (rows->oldtup != NULL)
		pco_put_key(out, state, rel, state->old_values, state->old_nulls,
					NULL, false);
	else
		PCO_PUT_LIT(out, "null");
	rows->key_len = out->len - rows->key_start;
}

/*
 * Write "payload".  "before" is the old row as WAL has it: all columns
 * under REPLICA IDENTITY FULL, else the identity columns, which are the
 * key's (for a delete, the key object just written).  "after" is the new
 * row but its unchanged columns.
 */
static void
pco_put_change_payload(StringInfo out, PcoState *state, PcoRelation *rel,
					   PcoRows *rows)
{
	PCO_PUT_LIT(out, ",\"payload\":{\"before\":");
	if (rows->oldtup == NULL)
		PCO_PUT_LIT(out, "null");
	else if (rel->replident == REPLICA_IDENTITY_FULL)
		pco_put_row(out, state, rel, state->old_values, state->old_nulls,
					NULL, false);
	else if (rel->nkeys > 0 && rows->newtup == NULL)
	{
		pco_reserve(out, rows->key_len);
		memcpy(out->data + out->len, out->data + rows->key_start,
			   rows->key_len);
		out->len += rows->key_len;
	}
	else if (rel->nkeys > 0)
		pco_put_key(out, state, rel, state->old_values, state->old_nulls,
					NULL, false);
	else
		PCO_PUT_LIT(out, "null");

	PCO_PUT_LIT(out, ",\"after\":");
	if (rows->newtup != NULL)
		pco_put_row(out, state, rel, state->new_values, state->new_nulls,
					rows->nunchanged > 0 ? state->unchanged : NULL,
					rows->key_from_new);
	else
		PCO_PUT_LIT(out, "null");
	PCO_PUT_LIT(out, "}}");
}

/*
 * Write one insert, update or delete as a record.  A change of a relation
 * the options do not select costs the cache lookup and nothing more.
 */
static void
pco_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
		   Relation relation, ReorderBufferChange *change)
{
	PcoState   *state = ctx->output_plugin_private;
	int			action = pco_change_action(change);
	PcoRelation *rel;
	PcoRows		rows;
	MemoryContext old;

	if (action == 0)
		return;
	rel = pco_relation_get(relation);
	if (!(rel->actions & action))
	{
		pco_progress(ctx, false);
		return;
	}

	old = MemoryContextSwitchTo(state->change_cxt);
	pco_change_rows(state, rel, relation, change, &rows);
	pco_maybe_begin(ctx, txn);
	pco_record_start(ctx);
	pco_put_change_head(ctx->out, state, rel, &rows, action, change->lsn);
	pco_put_change_key(ctx->out, state, rel, &rows);
	pco_put_change_payload(ctx->out, state, rel, &rows);
	pco_terminate(ctx->out);
	pco_record_end(ctx, false);
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_cxt);
	pco_progress(ctx, false);
}

/* Is relid among the relations of a TRUNCATE? */
static bool
pco_truncated(Oid relid, int nrelations, Relation relations[])
{
	for (int i = 0; i < nrelations; i++)
		if (RelationGetRelid(relations[i]) == relid)
			return true;
	return false;
}

/*
 * Write one truncate record per selected table.  With via_partition_root,
 * a TRUNCATE of the reported ancestor, which lists its partitions too, is
 * one record of the ancestor; a TRUNCATE of a partition alone cannot be
 * told as one of the ancestor, which would empty all of it: it is sent
 * under the partition's own name with "postgres.partition_root" naming the
 * ancestor, once for the top-most truncated partition.
 */
static void
pco_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			 int nrelations, Relation relations[], ReorderBufferChange *change)
{
	PcoState   *state = ctx->output_plugin_private;
	MemoryContext old = MemoryContextSwitchTo(state->change_cxt);

	for (int i = 0; i < nrelations; i++)
	{
		PcoRelation *rel = pco_relation_get(relations[i]);
		bool		partial = false;
		StringInfo	out;

		if (!(rel->actions & PCO_ACT_TRUNCATE))
			continue;
		if (rel->report_relid != rel->relid)
		{
			bool		covered = false;

			/* an ancestor up to the reported one is truncated too? */
			for (int a = 0; a < rel->nancestors && !covered; a++)
			{
				covered = pco_truncated(rel->ancestors[a], nrelations, relations);
				if (rel->ancestors[a] == rel->report_relid)
					break;
			}
			if (covered)
				continue;
			partial = true;
		}
		pco_maybe_begin(ctx, txn);
		pco_record_start(ctx);
		out = ctx->out;
		pco_put_position(out, state->commit_lsn, ++state->index);
		PCO_PUT_LIT(out, PGC_PROTO_OPERATION PGC_OP_TRUNCATE PGC_PROTO_METADATA);
		if (partial)
		{
			pco_put(out, rel->own_meta_table, rel->own_meta_table_len);
			PCO_PUT_LIT(out, ",\"postgres.partition_root\":");
			/* the ancestor's "table" value, quoted and escaped already */
			pco_put(out, rel->meta_table + rel->table_value_start,
					rel->meta_table_only_len - rel->table_value_start);
		}
		else
			pco_put(out, rel->meta_table, rel->meta_table_len);
		pco_put(out, state->txn_meta.data, state->txn_meta.len);
		PCO_PUT_LIT(out, ",\"postgres.lsn\":\"");
		pco_put_lsn(out, change->lsn);
		pco_putc(out, '"');
		if (change->data.truncate.cascade)
			PCO_PUT_LIT(out, ",\"postgres.truncate_cascade\":\"true\"");
		if (change->data.truncate.restart_seqs)
			PCO_PUT_LIT(out, ",\"postgres.truncate_restart_identity\":\"true\"");
		PCO_PUT_LIT(out, "},\"key\":null,\"payload\":{\"before\":null,\"after\":null}}");
		pco_terminate(out);
		pco_record_end(ctx, false);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_cxt);
	pco_progress(ctx, false);
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
