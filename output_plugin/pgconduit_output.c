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
 * This file holds the callbacks and the options; pco_relation.c caches
 * what is known of each table and pco_json.c encodes values as to_jsonb()
 * does.  All per-change memory lives in a context reset after each change.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "mb/pg_wchar.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/output_plugin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "pco.h"

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
	char		commit_lsn[17]; /* fixed-width hex, first half of position */
	uint64		index;			/* records of the transaction so far */
	bool		begin_sent;

	/* scratch space for deforming tuples, grown as needed */
	int			maxatts;
	Datum	   *new_values;
	bool	   *new_nulls;
	Datum	   *old_values;
	bool	   *old_nulls;
	bool	   *unchanged;
} PcoState;

static int	pco_progress_count = 0;

/* Format an LSN as PostgreSQL prints it: %X/%X */
static void
pco_append_lsn(StringInfo buf, XLogRecPtr lsn)
{
	appendStringInfo(buf, "%X/%X", LSN_FORMAT_ARGS(lsn));
}

/* Fixed-width upper-case hex of v into out (len digits, terminated) */
static void
pco_hex(char *out, uint64 v, int len)
{
	static const char digits[] = "0123456789ABCDEF";

	out[len] = '\0';
	while (len-- > 0)
	{
		out[len] = digits[v & 0xF];
		v >>= 4;
	}
}

/* Append "position":"<commit lsn>/<index>" */
static void
pco_append_position(StringInfo buf, const char *commit_lsn, uint64 index)
{
	char		idx[17];

	pco_hex(idx, index, 16);
	appendBinaryStringInfo(buf, "{\"position\":\"", 13);
	appendBinaryStringInfo(buf, commit_lsn, 16);
	appendStringInfoChar(buf, '/');
	appendBinaryStringInfo(buf, idx, 16);
	appendStringInfoChar(buf, '"');
}

/* Parse a boolean option; an option given without a value means true */
static bool
pco_bool_option(DefElem *elem)
{
	bool		result;

	if (elem->arg == NULL)
		return true;
	if (!parse_bool(strVal(elem->arg), &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						elem->defname, strVal(elem->arg)),
				 errhint("Use a Boolean value such as true or false.")));
	return result;
}

/* The value of an option that needs one */
static char *
pco_string_option(DefElem *elem)
{
	if (elem->arg == NULL || strVal(elem->arg)[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" requires a value", elem->defname)));
	return strVal(elem->arg);
}

/* Split a comma-separated list of names (identifier syntax) */
static List *
pco_name_list(DefElem *elem)
{
	char	   *raw = pstrdup(pco_string_option(elem));
	List	   *names;

	if (!SplitIdentifierString(raw, ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						elem->defname, strVal(elem->arg)),
				 errdetail("The value must be a comma-separated list of names.")));
	return names;
}

/* Parse the "actions" option: a list of create, update, delete, truncate */
static int
pco_actions_option(DefElem *elem)
{
	List	   *names = pco_name_list(elem);
	int			actions = 0;
	ListCell   *lc;

	foreach(lc, names)
	{
		char	   *a = lfirst(lc);

		if (strcmp(a, "create") == 0 || strcmp(a, "insert") == 0)
			actions |= PCO_ACT_CREATE;
		else if (strcmp(a, "update") == 0)
			actions |= PCO_ACT_UPDATE;
		else if (strcmp(a, "delete") == 0)
			actions |= PCO_ACT_DELETE;
		else if (strcmp(a, "truncate") == 0)
			actions |= PCO_ACT_TRUNCATE;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"",
							elem->defname, a),
					 errhint("Valid actions are create, update, delete and truncate.")));
	}
	return actions;
}

/* Read the options given to the slot's consumer into opts */
static void
pco_parse_options(List *options, PcoOptions *opts)
{
	ListCell   *lc;

	memset(opts, 0, sizeof(PcoOptions));
	opts->actions = PCO_ACT_ALL;

	foreach(lc, options)
	{
		DefElem    *elem = lfirst(lc);

		if (strcmp(elem->defname, "tables") == 0)
			opts->table_patterns =
				pco_parse_table_patterns(pco_string_option(elem), elem->defname);
		else if (strcmp(elem->defname, "publication_names") == 0)
			opts->publication_names = pco_name_list(elem);
		else if (strcmp(elem->defname, "actions") == 0)
			opts->actions = pco_actions_option(elem);
		else if (strcmp(elem->defname, "include_transaction") == 0)
			opts->include_transaction = pco_bool_option(elem);
		else if (strcmp(elem->defname, "messages") == 0)
			opts->messages = pco_bool_option(elem);
		else if (strcmp(elem->defname, "message_prefixes") == 0)
		{
			opts->message_prefixes = pco_name_list(elem);
			opts->messages = true;
		}
		else if (strcmp(elem->defname, "columns") == 0)
			opts->columns = pco_name_list(elem);
		else if (strcmp(elem->defname, "key") == 0)
			opts->key_columns = pco_name_list(elem);
		else if (strcmp(elem->defname, "include_origin") == 0)
			opts->include_origin = pco_bool_option(elem);
		else if (strcmp(elem->defname, "origin") == 0)
		{
			char	   *v = pco_string_option(elem);

			if (pg_strcasecmp(v, "any") == 0)
				opts->skip_origin = false;
			else if (pg_strcasecmp(v, "none") == 0)
				opts->skip_origin = true;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								elem->defname, v),
						 errhint("Valid values are \"any\" and \"none\".")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" is not recognized by pgconduit_output",
							elem->defname),
					 errhint("Valid options are: tables, publication_names, actions, columns, key, include_transaction, messages, message_prefixes, origin, include_origin.")));
	}
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
	pco_parse_options(ctx->output_plugin_options, &state->options);
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
 * Begin: prepare the transaction's metadata, which every record of it
 * repeats.  The begin record itself is sent with the first change, so
 * transactions that touch nothing selected send nothing.
 */
static void
pco_begin_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PcoState   *state = ctx->output_plugin_private;
	StringInfo	m = &state->txn_meta;
	char		ts[MAXDATELEN + 1];
	TimestampTz now = GetCurrentTimestamp();
	int64		unix_ns;

	pco_hex(state->commit_lsn, txn->final_lsn, 16);
	state->index = 0;
	state->begin_sent = false;

	unix_ns = (now + ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
					  SECS_PER_DAY * USECS_PER_SEC)) * 1000;
	resetStringInfo(m);
	appendStringInfo(m, ",\"opencdc.readAt\":\"" INT64_FORMAT "\",\"postgres.xid\":\"%u\",\"postgres.commit_lsn\":\"",
					 unix_ns, txn->xid);
	pco_append_lsn(m, txn->final_lsn);
	JsonEncodeDateTime(ts, TimestampTzGetDatum(txn->xact_time.commit_time),
					   TIMESTAMPTZOID, NULL);
	appendStringInfo(m, "\",\"postgres.commit_time\":\"%s\"", ts);
	if (state->options.include_origin && txn->origin_id != InvalidRepOriginId)
	{
		char	   *origin;

		if (replorigin_by_oid(txn->origin_id, true, &origin))
		{
			appendStringInfoString(m, ",\"postgres.origin\":");
			pco_json_escape(m, origin, -1);
		}
	}
}

/* Write a begin or commit record of the current transaction */
static void
pco_write_txn_record(LogicalDecodingContext *ctx, const char *operation,
					 uint64 index)
{
	PcoState   *state = ctx->output_plugin_private;

	OutputPluginPrepareWrite(ctx, true);
	pco_append_position(ctx->out, state->commit_lsn, index);
	appendStringInfo(ctx->out, ",\"operation\":\"%s\",\"metadata\":{", operation);
	/* skip the leading comma of the transaction's metadata */
	appendBinaryStringInfo(ctx->out, state->txn_meta.data + 1,
						   state->txn_meta.len - 1);
	appendStringInfoString(ctx->out,
						   "},\"key\":null,\"payload\":{\"before\":null,\"after\":null}}");
	OutputPluginWrite(ctx, true);
}

/* Send the begin record before the transaction's first record, if asked */
static void
pco_maybe_begin(LogicalDecodingContext *ctx)
{
	PcoState   *state = ctx->output_plugin_private;

	if (state->begin_sent)
		return;
	state->begin_sent = true;
	if (state->options.include_transaction)
		pco_write_txn_record(ctx, "begin", 0);
}

/* Commit: the commit record, if a begin was sent */
static void
pco_commit_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   XLogRecPtr commit_lsn)
{
	PcoState   *state = ctx->output_plugin_private;

	pco_progress(ctx, !state->begin_sent);
	if (state->begin_sent && state->options.include_transaction)
		pco_write_txn_record(ctx, "commit", PCO_COMMIT_INDEX);
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
		pfree(state->unchanged);
	}
	state->maxatts = Max(natts, 64);
	state->new_values = palloc(sizeof(Datum) * state->maxatts);
	state->new_nulls = palloc(sizeof(bool) * state->maxatts);
	state->old_values = palloc(sizeof(Datum) * state->maxatts);
	state->old_nulls = palloc(sizeof(bool) * state->maxatts);
	state->unchanged = palloc(sizeof(bool) * state->maxatts);
	MemoryContextSwitchTo(old);
}

/* Append one column as "name":value */
static void
pco_append_column(StringInfo buf, PcoColumn *col, Datum value, bool isnull)
{
	appendBinaryStringInfo(buf, col->json_name, col->json_name_len);
	if (isnull)
		appendBinaryStringInfo(buf, "null", 4);
	else
		pco_json_value(buf, col, value);
}

/*
 * Append a row as a JSON object: all columns, or only the key (or replica
 * identity) columns, leaving out those marked unchanged.
 */
static void
pco_append_row(StringInfo buf, PcoRelation *rel, Datum *values, bool *nulls,
			   bool *unchanged, bool key_only)
{
	bool		first = true;

	appendStringInfoChar(buf, '{');
	if (key_only)
	{
		for (int k = 0; k < rel->nkeys; k++)
		{
			PcoColumn  *col = &rel->columns[rel->key_index[k]];

			if (!first)
				appendStringInfoChar(buf, ',');
			first = false;
			pco_append_column(buf, col, values[col->attnum - 1],
							  nulls[col->attnum - 1]);
		}
	}
	else
	{
		for (int i = 0; i < rel->ncolumns; i++)
		{
			PcoColumn  *col = &rel->columns[i];
			int			a = col->attnum - 1;

			if (!col->in_payload || (unchanged != NULL && unchanged[a]))
				continue;
			if (!first)
				appendStringInfoChar(buf, ',');
			first = false;
			pco_append_column(buf, col, values[a], nulls[a]);
		}
	}
	appendStringInfoChar(buf, '}');
}

/*
 * Append the old row as WAL has it: every column under REPLICA IDENTITY
 * FULL, else the identity columns, which are the ones not null.
 */
static void
pco_append_old_row(StringInfo buf, PcoRelation *rel, Relation relation,
				   Datum *values, bool *nulls)
{
	bool		first = true;
	bool		full = (relation->rd_rel->relreplident == REPLICA_IDENTITY_FULL);

	appendStringInfoChar(buf, '{');
	for (int i = 0; i < rel->ncolumns; i++)
	{
		PcoColumn  *col = &rel->columns[i];
		int			a = col->attnum - 1;

		if ((!full && nulls[a]) || !col->in_payload)
			continue;
		if (!first)
			appendStringInfoChar(buf, ',');
		first = false;
		pco_append_column(buf, col, values[a], nulls[a]);
	}
	appendStringInfoChar(buf, '}');
}

/* Write one insert, update or delete as a record */
static void
pco_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
		   Relation relation, ReorderBufferChange *change)
{
	PcoState   *state = ctx->output_plugin_private;
	PcoRelation *rel;
	TupleDesc	desc = RelationGetDescr(relation);
	HeapTuple	newtup = NULL;
	HeapTuple	oldtup = NULL;
	const char *operation;
	int			action;
	int			nunchanged = 0;
	StringInfo	out;
	MemoryContext old;

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			operation = "create";
			action = PCO_ACT_CREATE;
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			operation = "update";
			action = PCO_ACT_UPDATE;
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			operation = "delete";
			action = PCO_ACT_DELETE;
			break;
		default:
			return;
	}

	rel = pco_relation_get(relation);
	if (!(rel->actions & action))
	{
		pco_progress(ctx, false);
		return;
	}

	old = MemoryContextSwitchTo(state->change_cxt);
	pco_ensure_scratch(state, desc->natts);
	if (change->data.tp.newtuple != NULL)
	{
		newtup = &change->data.tp.newtuple->tuple;
		heap_deform_tuple(newtup, desc, state->new_values, state->new_nulls);
	}
	if (change->data.tp.oldtuple != NULL)
	{
		oldtup = &change->data.tp.oldtuple->tuple;
		heap_deform_tuple(oldtup, desc, state->old_values, state->old_nulls);
	}

	/* unchanged TOASTed values: take them from the old row, or leave out */
	if (newtup != NULL)
	{
		for (int i = 0; i < rel->ncolumns; i++)
		{
			PcoColumn  *col = &rel->columns[i];
			int			a = col->attnum - 1;

			state->unchanged[a] = false;
			if (!col->is_varlena || state->new_nulls[a] ||
				!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(state->new_values[a])))
				continue;
			if (oldtup != NULL && !state->old_nulls[a] &&
				!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(state->old_values[a])))
				state->new_values[a] = state->old_values[a];
			else
			{
				state->unchanged[a] = true;
				if (col->in_payload)
					nunchanged++;
			}
		}
	}

	pco_maybe_begin(ctx);
	OutputPluginPrepareWrite(ctx, true);
	out = ctx->out;
	pco_append_position(out, state->commit_lsn, ++state->index);
	appendStringInfo(out, ",\"operation\":\"%s\",\"metadata\":{", operation);
	appendBinaryStringInfo(out, rel->meta_table, rel->meta_table_len);
	appendBinaryStringInfo(out, state->txn_meta.data, state->txn_meta.len);
	appendStringInfoString(out, ",\"postgres.lsn\":\"");
	pco_append_lsn(out, change->lsn);
	appendStringInfoChar(out, '"');
	if (nunchanged > 0)
	{
		StringInfoData list;
		bool		first = true;

		initStringInfo(&list);
		appendStringInfoChar(&list, '[');
		for (int i = 0; i < rel->ncolumns; i++)
		{
			PcoColumn  *col = &rel->columns[i];

			if (!state->unchanged[col->attnum - 1] || !col->in_payload)
				continue;
			if (!first)
				appendStringInfoChar(&list, ',');
			first = false;
			/* the escaped name without its colon */
			appendBinaryStringInfo(&list, col->json_name, col->json_name_len - 1);
		}
		appendStringInfoChar(&list, ']');
		appendStringInfoString(out, ",\"postgres.unchanged_toast\":");
		pco_json_escape(out, list.data, list.len);
	}

	/* the key, from the new row, or from the old one for a delete */
	appendStringInfoString(out, "},\"key\":");
	if (rel->nkeys == 0)
		appendBinaryStringInfo(out, "null", 4);
	else if (newtup != NULL)
		pco_append_row(out, rel, state->new_values, state->new_nulls, NULL, true);
	else if (oldtup != NULL)
		pco_append_row(out, rel, state->old_values, state->old_nulls, NULL, true);
	else
		appendBinaryStringInfo(out, "null", 4);

	appendStringInfoString(out, ",\"payload\":{\"before\":");
	if (oldtup != NULL)
		pco_append_old_row(out, rel, relation, state->old_values, state->old_nulls);
	else
		appendBinaryStringInfo(out, "null", 4);
	appendStringInfoString(out, ",\"after\":");
	if (newtup != NULL)
		pco_append_row(out, rel, state->new_values, state->new_nulls,
					   nunchanged > 0 ? state->unchanged : NULL, false);
	else
		appendBinaryStringInfo(out, "null", 4);
	appendBinaryStringInfo(out, "}}", 2);

	OutputPluginWrite(ctx, true);
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_cxt);
	pco_progress(ctx, false);
}

/* Write one truncate record per selected table */
static void
pco_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			 int nrelations, Relation relations[], ReorderBufferChange *change)
{
	PcoState   *state = ctx->output_plugin_private;
	MemoryContext old = MemoryContextSwitchTo(state->change_cxt);

	for (int i = 0; i < nrelations; i++)
	{
		PcoRelation *rel = pco_relation_get(relations[i]);
		StringInfo	out;

		if (!(rel->actions & PCO_ACT_TRUNCATE))
			continue;
		pco_maybe_begin(ctx);
		OutputPluginPrepareWrite(ctx, true);
		out = ctx->out;
		pco_append_position(out, state->commit_lsn, ++state->index);
		appendStringInfoString(out, ",\"operation\":\"truncate\",\"metadata\":{");
		appendBinaryStringInfo(out, rel->meta_table, rel->meta_table_len);
		appendBinaryStringInfo(out, state->txn_meta.data, state->txn_meta.len);
		appendStringInfoString(out, ",\"postgres.lsn\":\"");
		pco_append_lsn(out, change->lsn);
		appendStringInfoString(out, "\"},\"key\":null,\"payload\":{\"before\":null,\"after\":null}}");
		OutputPluginWrite(ctx, true);
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
 * positioned at its own LSN.  The content is a string when it is valid in
 * the database encoding, else its bytea text form (\x…).
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
		pco_maybe_begin(ctx);
	OutputPluginPrepareWrite(ctx, true);
	out = ctx->out;
	if (transactional)
		pco_append_position(out, state->commit_lsn, ++state->index);
	else
	{
		char		lsn[17];

		pco_hex(lsn, message_lsn, 16);
		pco_append_position(out, lsn, 0);
	}
	appendStringInfoString(out, ",\"operation\":\"message\",\"metadata\":{\"postgres.prefix\":");
	pco_json_escape(out, prefix, -1);
	appendStringInfo(out, ",\"postgres.transactional\":\"%s\"",
					 transactional ? "true" : "false");
	if (transactional)
		appendBinaryStringInfo(out, state->txn_meta.data, state->txn_meta.len);
	appendStringInfoString(out, ",\"postgres.lsn\":\"");
	pco_append_lsn(out, message_lsn);
	appendStringInfoString(out, "\"},\"key\":null,\"payload\":{\"before\":null,\"after\":{\"content\":");
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
	appendBinaryStringInfo(out, "}}}", 3);
	OutputPluginWrite(ctx, true);
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
