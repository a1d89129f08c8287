/*-------------------------------------------------------------------------
 *
 * pco_change.c
 *		Change and truncate records of pgconduit_output: a change's rows,
 *		deformed as the reported table's columns, written as one OpenCDC
 *		record with its key and payload.
 *
 * Each phase of a change is a function of its own: the rows are deformed
 * and the values that need care are marked (unchanged TOAST, json that
 * to_jsonb() would lose), then the record is written: position and
 * metadata, key, payload.  A change of a table the options do not select
 * stops at the relation cache's lookup.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "replication/logical.h"
#include "utils/memutils.h"

#include "pco.h"
#include "protocol.h"

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
void
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
void
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
