/*-------------------------------------------------------------------------
 *
 * write_int.h
 *	  Internals of the destination shared by write.c (records and batches),
 *	  write_convert.c (JSON values to datums) and write_table.c (table
 *	  cache, plans and their execution).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_WRITE_INT_H
#define PGC_WRITE_INT_H

#include "access/tupdesc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/plancache.h"

#include "compat.h"

/* how a JSON value becomes a datum of some type; see write_convert.c */
typedef enum PgcwTypeCat
{
	PGCW_SCALAR,				/* through the type's input function */
	PGCW_ARRAY,					/* JSON array to SQL array */
	PGCW_COMPOSITE,				/* JSON object to row */
	PGCW_COMPOSITE_DOMAIN,		/* JSON object to row, then domain check */
	PGCW_DOMAIN					/* base type, then domain check */
} PgcwTypeCat;

/* shortcuts that give the same datum as the input function, only faster */
typedef enum PgcwFast
{
	PGCW_FAST_NONE,
	PGCW_FAST_TEXT,				/* text, or varchar without length */
	PGCW_FAST_BOOL,
	PGCW_FAST_NUMERIC,			/* numeric without typmod */
	PGCW_FAST_INT,				/* int2, int4, int8 */
	PGCW_FAST_JSONB
} PgcwFast;

typedef struct PgcwConverter
{
	Oid			typid;
	int32		typmod;
	PgcwTypeCat cat;
	PgcwFast	fast;
	MemoryContext mcxt;			/* where this converter's caches live */
	FmgrInfo	infunc;			/* input function of typid */
	Oid			ioparam;
	void	   *domain_extra;	/* domain_check()'s cache */
	struct PgcwConverter *sub;	/* array: element; domain: base type */
	/* composites */
	Oid			base_typid;
	uint64		tupdesc_id;		/* typcache identifier of tupdesc */
	TupleDesc	tupdesc;
	struct PgcwConverter *fields;	/* one per attribute of tupdesc */
} PgcwConverter;

/* a column of a destination table */
typedef struct PgcwColumn
{
	char	   *name;
	int			namelen;
	AttrNumber	attnum;
	Oid			typid;
	int32		typmod;
	Oid			collation;
	bool		dropped;
	bool		notnull;		/* NOT NULL, or a domain with constraints */
	bool		hasdefault;
	char		generated;		/* attgenerated */
	char		identity;		/* attidentity */
	bool		conv_ready;
	PgcwConverter conv;
} PgcwColumn;

/* the statements a table's records turn into */
typedef enum PgcwOp
{
	PGCW_OP_INSERT,				/* record without key */
	PGCW_OP_UPSERT,				/* record with key */
	PGCW_OP_DELETE,
	PGCW_OP_UPDATE,				/* UPDATE by key: update_first upserts, and
								 * updates that leave columns unchanged */
	PGCW_OP_MOVE,				/* UPDATE of the row of the old key to the new
								 * key and columns: an update of the key */
	PGCW_OP_UPDATE_ROW,			/* no key: UPDATE of one row equal to the old
								 * row (payload.before) */
	PGCW_OP_DELETE_ROW			/* no key: DELETE of one row equal to it */
} PgcwOp;

/* is op one that finds its row by the whole old row? */
#define PGCW_OP_BY_ROW(op) ((op) == PGCW_OP_UPDATE_ROW || (op) == PGCW_OP_DELETE_ROW)

/*
 * A prepared statement for one table, operation and set of columns.  A
 * signature is the operation byte followed by two column bitmaps of
 * sigbytes each: the key columns, then all columns given.  The operations
 * by old row have a third: there the first bitmap holds the columns the
 * old row gives a value, the second those set, the third those the old
 * row gives as NULL.
 */
typedef struct PgcwPlan
{
	char	   *sig;
	PgcwOp		op;
	int			ncols;			/* columns given, in attnum order */
	AttrNumber *attnums;
	int			nkeys;			/* key columns, in attnum order */
	AttrNumber *keyattnums;
	int			nnulls;			/* by old row: columns that must be NULL */
	AttrNumber *nullattnums;
	TupleDesc	rowdesc;		/* INSERT/UPSERT/DELETE: rows handed to the plan */
	bool		key_hashable;	/* UPSERT: keys can be checked for repeats */
	FmgrInfo   *keyhash;		/* UPSERT: hash function per key column */
	Oid		   *keycoll;
	bool		index_checked;	/* UPSERT: unique index found */
	bool		update_first;	/* UPSERT: a missing column's NULL may fail a
								 * constraint, so the INSERT would fail even
								 * where the row exists: UPDATE it first */
	SPIPlanPtr	plan;
	CachedPlanSource *source;
	/* UPSERT: the plain INSERT of the same rows, tried for new rows */
	struct PgcwPlan *insert_twin;
	int			twin_skip;		/* groups left to skip after a conflict */
} PgcwPlan;

/* the cache entry of a destination table */
typedef struct PgcwTable
{
	Oid			relid;			/* hash key */
	bool		valid;			/* false after a relcache invalidation */
	uint32		generation;		/* counts rebuilds */
	MemoryContext mcxt;			/* columns, converters, name hash */
	char	   *qualname;		/* schema.name, quoted where needed */
	int			natts;
	bool		has_checks;		/* CHECK constraints */
	PgcwColumn *cols;			/* by attnum - 1 */
	int			hashmask;
	int16	   *byname;			/* open addressing: attnum or 0 */
	int16	   *keypos;			/* attnum of the n-th key field last time */
	int16	   *afterpos;		/* same for payload.after */
	int			sigbytes;
	MemoryContext plans_cxt;	/* the PgcwPlans */
	List	   *plans;			/* of PgcwPlan */
	PgcwPlan   *last_plan;
} PgcwTable;

/* a walk over the fields of a JSON object or the elements of an array */
typedef struct PgcwWalk
{
	JsonbContainer *jc;
	char	   *base;			/* where the keys' and values' data starts */
	int			n;				/* fields or elements */
	int			i;				/* next one */
	int			vindex;			/* index of the first value's JEntry */
	uint32		koff;			/* offset of the next key */
	uint32		voff;			/* offset of the next value */
} PgcwWalk;

/* the bytes of a plan's signature for operation op */
#define PGCW_SIG_LEN(op, sigbytes) \
	(1 + (PGCW_OP_BY_ROW(op) ? 3 : 2) * (sigbytes))

/* write.c: nesting depth of pgc_write_records() calls */
extern int	pgcw_depth;

/* write_table.c */
extern PgcwTable *pgcw_table_peek(Oid relid);
extern PgcwTable *pgcw_table_get(Oid relid);
extern PgcwColumn *pgcw_column_by_name(PgcwTable *t, const char *name, int len);
extern PgcwConverter *pgcw_column_converter(PgcwTable *t, PgcwColumn *c);
extern PgcwPlan *pgcw_plan_get(PgcwTable *t, const char *sig);
extern uint64 pgcw_plan_execute(PgcwPlan *p, Datum *params, bool *nulls);
extern void pgcw_truncate(List *qualnames);
extern bool pgcw_has_unique_index(Oid relid, const AttrNumber *keys,
								  int nkeys);
extern bool pgcw_insert_may_serve(PgcwTable *t);
extern bool pgcw_upsert_allowed(Oid relid);
extern void pgcw_table_callback(const RangeVar *rv, Oid relid, Oid oldrelid,
								void *arg);
extern void pgcw_tables_cleanup(void);

/* write_convert.c */
extern void pgcw_converter_init(PgcwConverter *c, Oid typid, int32 typmod,
								MemoryContext mcxt);
extern Datum pgcw_convert(PgcwConverter *c, JsonbValue *v, bool *isnull);
extern const char *pgcw_json_type_name(JsonbValue *v);
extern void pgcw_walk_init(PgcwWalk *w, JsonbContainer *jc);
extern bool pgcw_walk_next(PgcwWalk *w, const char **key, int *keylen,
						   JsonbValue *v);

#endif							/* PGC_WRITE_INT_H */
