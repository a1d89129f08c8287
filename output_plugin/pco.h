/*-------------------------------------------------------------------------
 *
 * pco.h
 *		Shared declarations of pgconduit_output, the logical decoding output
 *		plugin that writes one OpenCDC JSON record per change.
 *
 * pgconduit_output.c holds the plugin callbacks and the records' framing,
 * pco_change.c writes change and truncate records, pco_options.c reads the
 * options, pco_relation.c the per-relation cache (names, key columns, value
 * encoders, table and publication filters), pco_json.c the encoding of
 * values exactly as to_jsonb() encodes them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PCO_H
#define PCO_H

#include "access/attmap.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "replication/logical.h"
#include "utils/rel.h"

#include "../src/compat.h"
#include "../src/pattern.h"

/*
 * How a value becomes JSON.  These mirror the categories of to_jsonb()
 * (jsonb_categorize_type), split further where a faster exact path exists.
 */
typedef enum PcoValueKind
{
	PCO_VALUE_BOOL,				/* true / false */
	PCO_VALUE_INT2,				/* integers: always a JSON number */
	PCO_VALUE_INT4,
	PCO_VALUE_INT8,
	PCO_VALUE_FLOAT,			/* number as numeric prints it, or a string */
	PCO_VALUE_NUMERIC,			/* number, or NaN/Infinity as a string */
	PCO_VALUE_DATE,				/* ISO 8601 strings, as to_jsonb() */
	PCO_VALUE_TIMESTAMP,
	PCO_VALUE_TIMESTAMPTZ,
	PCO_VALUE_JSONB,			/* embedded */
	PCO_VALUE_JSON,				/* embedded after jsonb normalisation */
	PCO_VALUE_JSONCAST,			/* user type with a cast to json */
	PCO_VALUE_TEXT,				/* text, varchar, bpchar: string, no copy */
	PCO_VALUE_STRING,			/* output function's text as a string */
	PCO_VALUE_ARRAY,			/* JSON array, nested per dimension */
	PCO_VALUE_COMPOSITE			/* JSON object, keys in jsonb order */
} PcoValueKind;

typedef struct PcoEncoder PcoEncoder;

/* One attribute of a composite type, in the order to_jsonb() prints it */
typedef struct PcoField
{
	int			index;			/* 0-based attribute index */
	char	   *json_key;		/* "name": , escaped */
	int			json_key_len;
	PcoEncoder *encoder;
} PcoField;

/* How to encode the values of one type; built once, used per value */
struct PcoEncoder
{
	PcoValueKind kind;
	Oid			typid;			/* the type (maybe a domain) */
	Oid			basetypid;		/* after looking through domains */
	FmgrInfo	func;			/* output function, or cast to json */
	MemoryContext cxt;			/* where this encoder lives */

	/* arrays */
	PcoEncoder *element;
	Oid			elemtype;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;

	/* composites: rebuilt when the type's row descriptor changes */
	MemoryContext row_cxt;
	uint64		row_identifier;
	TupleDesc	row_desc;
	int			nfields;
	PcoField   *fields;
	Datum	   *row_values;
	bool	   *row_nulls;
};

/* One column of a cached relation */
typedef struct PcoColumn
{
	AttrNumber	attnum;
	char	   *json_name;		/* "name": already escaped, with colon */
	int			json_name_len;
	bool		is_varlena;
	bool		in_payload;		/* selected by the "columns" option */
	bool		is_json;		/* json or jsonb (or a domain over them) */
	PcoEncoder *encoder;
} PcoColumn;

/* Actions a relation's changes may be published for */
#define PCO_ACT_CREATE		0x01
#define PCO_ACT_UPDATE		0x02
#define PCO_ACT_DELETE		0x04
#define PCO_ACT_TRUNCATE	0x08
#define PCO_ACT_ALL			0x0F

/*
 * An item of the "columns" or "key" option: a column name, for every table
 * or, qualified by a table's OID (<oid>.<name>), for that table only
 */
typedef struct PcoColumnName
{
	Oid			relid;			/* InvalidOid: every table */
	char	   *name;
} PcoColumnName;

/* Options of one decoding session */
typedef struct PcoOptions
{
	List	   *table_patterns; /* PgcTablePattern *, NIL = all tables */
	List	   *exclude_patterns;	/* PgcTablePattern *, NIL = none */
	List	   *table_oids;		/* Oid: "table_oids" */
	List	   *follow_patterns;	/* PgcTablePattern *: "follow_tables";
									 * with table_oids NIL, any table */
	List	   *exclude_oids;	/* Oid: "exclude_oids", never sent */
	List	   *publication_names;	/* char *, NIL = no publication filter */
	int			actions;		/* PCO_ACT_* bits */
	bool		include_transaction;
	bool		messages;
	List	   *message_prefixes;	/* char *, NIL = every prefix */
	List	   *columns;		/* PcoColumnName *: "columns", NIL = every
								 * column */
	List	   *key_columns;	/* PcoColumnName *: "key", NIL = from the
								 * indexes */
	bool		metadata_table_only;	/* metadata = table */
	bool		skip_origin;	/* origin = none */
	bool		include_origin;
	int			records_per_message;	/* at most, 1 by default */
	bool		via_partition_root; /* report partitions under their root */
	bool		include_relid;	/* "postgres.relid" first in metadata */
} PcoOptions;

/* a message of several records is sent once it holds this many bytes */
#define PCO_MESSAGE_BYTES	65536

/*
 * What the plugin caches about one relation.  With via_partition_root, a
 * partition's changes are reported under an ancestor (the report
 * relation): names, columns and key are then the ancestor's, and attrmap
 * maps the partition's attributes to the ancestor's.
 */
typedef struct PcoRelation
{
	Oid			relid;			/* hash key */
	bool		valid;
	int			actions;		/* PCO_ACT_* this relation is published for */
	char		replident;		/* relreplident when built (of relid: what
								 * its WAL carries) */
	char	   *meta_table;		/* ("postgres.relid":"…",)"table":"…",
								 * "opencdc.collection":"…",
								 * "postgres.schema":"…", escaped */
	int			meta_table_len;
	int			meta_table_only_len;	/* up to the end of "table":"…" */
	int			table_value_start;	/* where "table"'s quoted value starts */
	Oid			report_relid;	/* relid, or the ancestor reported under */
	AttrMap    *attrmap;		/* NULL: relid's attributes are report's */
	char	   *own_meta_table; /* like meta_table, of relid itself, when
								 * reported under an ancestor */
	int			own_meta_table_len;
	int			nancestors;		/* partitioned ancestors when built, */
	Oid		   *ancestors;		/* parent first */
	int			natts;			/* attributes of the tuple descriptor */
	int			ncolumns;
	PcoColumn  *columns;		/* live columns in attnum order */
	int			nkeys;			/* 0: the relation has no key */
	int		   *key_index;		/* indexes into columns[] */
	bool	   *column_is_key;	/* per columns[] index */
} PcoRelation;

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
	int			progress_count; /* changes since progress was last told */

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

/* pgconduit_output.c: the records' framing */
extern void pco_put_lsn(StringInfo buf, XLogRecPtr lsn);
extern void pco_put_position(StringInfo buf, XLogRecPtr commit_lsn, uint64 index);
extern void pco_begin_first(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);

/*
 * The framing every record goes through, inline: it runs once per record
 * (or per skipped change), where a call would cost more than its work.
 */

/* Tell the walsender of progress now and then, also for skipped changes */
static inline void
pco_progress(LogicalDecodingContext *ctx, bool skipped_xact)
{
	PcoState   *state = ctx->output_plugin_private;

	if (ctx->end_xact || ++state->progress_count >= 100)
	{
		OutputPluginUpdateProgress(ctx, skipped_xact);
		state->progress_count = 0;
	}
}

/*
 * Start a record: a new output message, or with records_per_message, the
 * next line of the message being filled.
 */
static inline void
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
static inline void
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

/* Before the transaction's first record, its metadata and begin record */
static inline void
pco_maybe_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PcoState   *state = ctx->output_plugin_private;

	if (likely(state->begin_sent))
		return;
	pco_begin_first(ctx, txn);
}

/* pco_change.c: the change and truncate callbacks */
extern void pco_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					   Relation relation, ReorderBufferChange *change);
extern void pco_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						 int nrelations, Relation relations[],
						 ReorderBufferChange *change);

/* pco_options.c */
extern void pco_options_parse(List *options, PcoOptions *opts);

/* pco_relation.c */
extern void pco_relation_init(MemoryContext cxt, PcoOptions *options);
extern PcoRelation *pco_relation_get(Relation relation);
extern void pco_relation_shutdown(void);
extern List *pco_parse_table_patterns(const char *value, const char *option);

/* pco_json.c */
extern void pco_json_escape(StringInfo buf, const char *str, int len);
extern PcoEncoder *pco_encoder_create(Oid typid, MemoryContext cxt);
extern void pco_encode(StringInfo buf, PcoEncoder *encoder, Datum value);
extern bool pco_json_lossy(PcoEncoder *encoder, Datum value);
extern void pco_encode_text(StringInfo buf, PcoEncoder *encoder, Datum value);
extern void pco_datetime_setup(void);
extern void pco_append_timestamptz(StringInfo buf, TimestampTz ts);

/*
 * Append n bytes to buf.  The hot path writes records with this instead of
 * appendBinaryStringInfo(): one comparison, then a copy; the terminating
 * zero is written once per record by pco_terminate().
 */
static inline void
pco_put(StringInfo buf, const char *s, int n)
{
	if (unlikely(buf->len + n >= buf->maxlen))
		enlargeStringInfo(buf, n);
	memcpy(buf->data + buf->len, s, n);
	buf->len += n;
}

/* Make room for n more bytes and a terminating zero */
static inline void
pco_reserve(StringInfo buf, int n)
{
	if (unlikely(buf->len + n >= buf->maxlen))
		enlargeStringInfo(buf, n);
}

/* Append a string literal */
#define PCO_PUT_LIT(buf, lit)	pco_put((buf), (lit), sizeof(lit) - 1)

/* Append one character */
static inline void
pco_putc(StringInfo buf, char c)
{
	if (unlikely(buf->len + 1 >= buf->maxlen))
		enlargeStringInfo(buf, 1);
	buf->data[buf->len++] = c;
}

/* Restore the terminating zero a StringInfo promises */
static inline void
pco_terminate(StringInfo buf)
{
	buf->data[buf->len] = '\0';
}

#endif							/* PCO_H */
