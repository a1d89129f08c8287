/*-------------------------------------------------------------------------
 *
 * pco.h
 *		Shared declarations of pgconduit_output, the logical decoding output
 *		plugin that writes one OpenCDC JSON record per change.
 *
 * pgconduit_output.c holds the plugin callbacks and its options,
 * pco_relation.c the per-relation cache (names, key columns, value
 * encoders, table and publication filters), pco_json.c the encoding of
 * values exactly as to_jsonb() encodes them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PCO_H
#define PCO_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/rel.h"

/* How a column's value becomes JSON (mirrors to_jsonb's categories) */
typedef enum PcoValueKind
{
	PCO_VALUE_BOOL,				/* true / false */
	PCO_VALUE_INTEGER,			/* output text is always a JSON number */
	PCO_VALUE_FLOAT,			/* number, or "NaN"/"Infinity" as a string */
	PCO_VALUE_NUMERIC,			/* number, or NaN/Infinity as a string */
	PCO_VALUE_DATETIME,			/* date, timestamp, timestamptz: ISO */
	PCO_VALUE_JSONB,			/* embedded as is */
	PCO_VALUE_STRING,			/* output function text as a JSON string */
	PCO_VALUE_GENERAL			/* anything else: through to_jsonb() */
} PcoValueKind;

/* One column of a cached relation */
typedef struct PcoColumn
{
	AttrNumber	attnum;
	char	   *json_name;		/* "name": already escaped, with colon */
	int			json_name_len;
	Oid			typid;			/* the column's type (maybe a domain) */
	Oid			basetypid;		/* after looking through domains */
	PcoValueKind kind;
	bool		is_key;
	bool		in_payload;		/* selected by the "columns" option */
	bool		is_varlena;
	FmgrInfo	outfunc;		/* type output function */
	FmgrInfo	tojsonb;		/* to_jsonb() bound to typid (GENERAL) */
} PcoColumn;

/* Actions a relation's changes may be published for */
#define PCO_ACT_CREATE		0x01
#define PCO_ACT_UPDATE		0x02
#define PCO_ACT_DELETE		0x04
#define PCO_ACT_TRUNCATE	0x08
#define PCO_ACT_ALL			0x0F

/* Options of one decoding session */
typedef struct PcoOptions
{
	List	   *table_patterns; /* PcoTablePattern *, NIL = all tables */
	List	   *publication_names;	/* char *, NIL = no publication filter */
	int			actions;		/* PCO_ACT_* bits */
	bool		include_transaction;
	bool		messages;
	List	   *message_prefixes;	/* char *, NIL = every prefix */
	List	   *columns;		/* char *, NIL = every column */
	List	   *key_columns;	/* char *, NIL = primary key or identity */
	bool		skip_origin;	/* origin = none */
	bool		include_origin;
} PcoOptions;

/* A pattern of the "tables" option; NULL schema matches any schema */
typedef struct PcoTablePattern
{
	char	   *schema;
	char	   *table;
	bool		schema_glob;	/* unquoted and holds a * wildcard */
	bool		table_glob;
} PcoTablePattern;

/* What the plugin caches about one relation */
typedef struct PcoRelation
{
	Oid			relid;			/* hash key */
	bool		valid;
	int			actions;		/* PCO_ACT_* this relation is published for */
	char	   *meta_table;		/* "table":"…","opencdc.collection":"…",
								 * "postgres.schema":"…", escaped */
	int			meta_table_len;
	int			ncolumns;
	PcoColumn  *columns;		/* live columns in attnum order */
	int			nkeys;			/* 0: the relation has no key */
	int		   *key_index;		/* indexes into columns[] */
} PcoRelation;

/* pco_relation.c */
extern void pco_relation_init(MemoryContext cxt, PcoOptions *options);
extern PcoRelation *pco_relation_get(Relation relation);
extern void pco_relation_shutdown(void);
extern List *pco_parse_table_patterns(const char *value, const char *option);

/* pco_json.c */
extern void pco_json_escape(StringInfo buf, const char *str, int len);
extern void pco_json_setup_column(PcoColumn *col, MemoryContext cxt);
extern void pco_json_value(StringInfo buf, PcoColumn *col, Datum value);

#endif							/* PCO_H */
