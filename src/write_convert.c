/*-------------------------------------------------------------------------
 *
 * write_convert.c
 *	  JSON values of a record to datums of the destination's column types.
 *
 * The conversion is the one jsonb_populate_record() performs, the inverse
 * of to_jsonb(): JSON null is SQL NULL (domains still check it); a JSON
 * string goes through the type's input function, also for arrays and rows;
 * numbers and booleans through the input function in their text form;
 * json and jsonb columns take the value as it is; a JSON array fills an
 * SQL array (any number of dimensions), a JSON object a row (missing fields
 * are NULL); domains convert to their base type and then check their
 * constraints.  Converters are set up once per column and keep their
 * lookups in the table's memory context; nothing here reads the catalog
 * per value, except the type cache lookup that notices an altered row type.
 *
 * A few shortcuts (text, boolean, numeric, small integers, jsonb) build the
 * very datum the input function would build, without printing and parsing
 * it.  pgcw_walk_* read objects and arrays without allocating.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "write_int.h"

static Datum convert_array(PgcwConverter *c, JsonbValue *v);
static Datum convert_composite(PgcwConverter *c, JsonbValue *v);

/*
 * Set up a converter for values of typid/typmod, as populate_record_field's
 * column cache does.
 */
void
pgcw_converter_init(PgcwConverter *c, Oid typid, int32 typmod,
					MemoryContext mcxt)
{
	HeapTuple	tup;
	Form_pg_type type;
	Oid			infunc;

	memset(c, 0, sizeof(*c));
	c->typid = typid;
	c->typmod = typmod;
	c->mcxt = mcxt;

	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", typid);
	type = (Form_pg_type) GETSTRUCT(tup);

	if (type->typtype == TYPTYPE_DOMAIN)
	{
		int32		base_typmod = typmod;
		Oid			base_typid = getBaseTypeAndTypmod(typid, &base_typmod);

		if (get_typtype(base_typid) == TYPTYPE_COMPOSITE)
		{
			c->cat = PGCW_COMPOSITE_DOMAIN;
			c->base_typid = base_typid;
		}
		else
		{
			c->cat = PGCW_DOMAIN;
			c->sub = MemoryContextAlloc(mcxt, sizeof(PgcwConverter));
			pgcw_converter_init(c->sub, base_typid, base_typmod, mcxt);
		}
	}
	else if (type->typtype == TYPTYPE_COMPOSITE || typid == RECORDOID)
	{
		c->cat = PGCW_COMPOSITE;
		c->base_typid = typid;
	}
	else if (IsTrueArrayType(type))
	{
		c->cat = PGCW_ARRAY;
		c->sub = MemoryContextAlloc(mcxt, sizeof(PgcwConverter));
		/* the element typmod is the column's, as in populate_array */
		pgcw_converter_init(c->sub, type->typelem, typmod, mcxt);
	}
	else
	{
		c->cat = PGCW_SCALAR;
		if (typid == TEXTOID || (typid == VARCHAROID && typmod < 0))
			c->fast = PGCW_FAST_TEXT;
		else if (typid == BOOLOID)
			c->fast = PGCW_FAST_BOOL;
		else if (typid == NUMERICOID && typmod < 0)
			c->fast = PGCW_FAST_NUMERIC;
		else if (typid == INT8OID || typid == INT4OID || typid == INT2OID)
			c->fast = PGCW_FAST_INT;
		else if (typid == JSONBOID)
			c->fast = PGCW_FAST_JSONB;
	}
	ReleaseSysCache(tup);

	/* a JSON string goes through the input function whatever the type */
	getTypeInputInfo(typid, &infunc, &c->ioparam);
	fmgr_info_cxt(infunc, &c->infunc, mcxt);
}

/*
 * The text of a JSON value that populate_scalar hands to an input function.
 */
static char *
scalar_text(PgcwConverter *c, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		default:
			elog(ERROR, "unrecognized jsonb type: %d", (int) v->type);
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * A non-null JSON value through the input function of c's type (or, for
 * json and jsonb, as the value itself).
 */
static Datum
convert_scalar(PgcwConverter *c, JsonbValue *v)
{
	char	   *str;

	switch (c->fast)
	{
		case PGCW_FAST_TEXT:
			if (v->type == jbvString)
				return PointerGetDatum(cstring_to_text_with_len(v->val.string.val,
																v->val.string.len));
			break;
		case PGCW_FAST_BOOL:
			if (v->type == jbvBool)
				return BoolGetDatum(v->val.boolean);
			break;
		case PGCW_FAST_NUMERIC:
			/* numeric_in(numeric_out(x)) is x */
			if (v->type == jbvNumeric)
				return NumericGetDatum(v->val.numeric);
			break;
		case PGCW_FAST_INT:

			/*
			 * A number without fractional digits prints as an integer, which
			 * int2in/int4in/int8in read back as numeric_int4 converts it.
			 * Only what fits in int4 (and int2 for int2) goes this way, so
			 * errors stay those of the input function.
			 */
			if (v->type == jbvNumeric &&
				!numeric_is_nan(v->val.numeric) && !numeric_is_inf(v->val.numeric) &&
				DatumGetInt32(DirectFunctionCall1(numeric_scale,
												  NumericGetDatum(v->val.numeric))) == 0)
			{
				bool		error = false;
				int32		i = numeric_int4_opt_error(v->val.numeric, &error);

				if (!error)
				{
					if (c->typid == INT8OID)
						return Int64GetDatum((int64) i);
					if (c->typid == INT4OID)
						return Int32GetDatum(i);
					if (i >= PG_INT16_MIN && i <= PG_INT16_MAX)
						return Int16GetDatum((int16) i);
				}
			}
			break;
		case PGCW_FAST_JSONB:
			return JsonbPGetDatum(JsonbValueToJsonb(v));
		case PGCW_FAST_NONE:
			break;
	}

	if (c->typid == JSONOID && v->type != jbvBinary)
	{
		/* a scalar keeps its JSON form, quotes included */
		Jsonb	   *jb = JsonbValueToJsonb(v);

		str = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
	else
		str = scalar_text(c, v);

	return InputFunctionCall(&c->infunc, str, c->ioparam, c->typmod);
}

/*
 * Convert a JSON value (NULL pointer: absent) to a datum of c's type,
 * following populate_record_field.
 */
Datum
pgcw_convert(PgcwConverter *c, JsonbValue *v, bool *isnull)
{
	PgcwTypeCat cat = c->cat;
	Datum		res;

	check_stack_depth();

	*isnull = (v == NULL || v->type == jbvNull);

	/* a JSON string becomes an array or a row through the input function */
	if (!*isnull && v->type == jbvString &&
		(cat == PGCW_ARRAY || cat == PGCW_COMPOSITE ||
		 cat == PGCW_COMPOSITE_DOMAIN))
		cat = PGCW_SCALAR;

	/* domains check NULLs too */
	if (*isnull && cat != PGCW_DOMAIN && cat != PGCW_COMPOSITE_DOMAIN)
		return (Datum) 0;

	switch (cat)
	{
		case PGCW_SCALAR:
			return convert_scalar(c, v);
		case PGCW_ARRAY:
			return convert_array(c, v);
		case PGCW_COMPOSITE:
			return convert_composite(c, v);
		case PGCW_COMPOSITE_DOMAIN:
			res = *isnull ? (Datum) 0 : convert_composite(c, v);
			domain_check(res, *isnull, c->typid, &c->domain_extra, c->mcxt);
			return res;
		case PGCW_DOMAIN:
			if (*isnull)
				res = (Datum) 0;
			else
			{
				bool		base_isnull;

				res = pgcw_convert(c->sub, v, &base_isnull);
				Assert(!base_isnull);
			}
			domain_check(res, *isnull, c->typid, &c->domain_extra, c->mcxt);
			return res;
	}
	return (Datum) 0;			/* keep compiler quiet */
}

/* state of one JSON array being turned into an SQL array */
typedef struct ArrayFill
{
	PgcwConverter *elem;
	ArrayBuildState *astate;
	int			ndims;			/* 0 until known */
	int			dims[MAXDIM];
	int			sizes[MAXDIM];	/* elements seen in the current sub-array */
} ArrayFill;

/* error for a value where a (sub-)array was expected */
static void
array_expected(ArrayFill *fill, int ndim)
{
	StringInfoData idx;
	int			i;

	if (ndim <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("expected JSON array")));
	initStringInfo(&idx);
	for (i = 0; i < ndim; i++)
		appendStringInfo(&idx, "[%d]", fill->sizes[i]);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("expected JSON array"),
			 errhint("See the array element %s.", idx.data)));
}

/* fix the number of dimensions once the first leaf is seen */
static void
array_set_ndims(ArrayFill *fill, int ndims)
{
	int			i;

	if (ndims <= 0)
		array_expected(fill, ndims);
	if (ndims > MAXDIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("number of array dimensions (%d) exceeds the maximum allowed (%d)",
						ndims, MAXDIM)));
	fill->ndims = ndims;
	for (i = 0; i < ndims; i++)
	{
		fill->dims[i] = -1;
		fill->sizes[i] = 0;
	}
}

/* a sub-array of dimension ndim ended: check it is as long as its siblings */
static void
array_check_dim(ArrayFill *fill, int ndim)
{
	int			dim = fill->sizes[ndim];

	if (fill->dims[ndim] == -1)
		fill->dims[ndim] = dim;
	else if (fill->dims[ndim] != dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("malformed JSON array"),
				 errdetail("Multidimensional arrays must have sub-arrays with matching dimensions.")));
	fill->sizes[ndim] = 0;
	if (ndim > 0)
		fill->sizes[ndim - 1]++;
}

/* walk one (sub-)array at dimension ndim (1-based), as populate_array_dim_jsonb */
static void
array_fill_dim(ArrayFill *fill, JsonbValue *jbv, int ndim)
{
	JsonbContainer *jbc;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	val;

	check_stack_depth();

	if (jbv->type != jbvBinary || !JsonContainerIsArray(jbv->val.binary.data) ||
		JsonContainerIsScalar(jbv->val.binary.data))
		array_expected(fill, ndim - 1);
	jbc = jbv->val.binary.data;

	it = JsonbIteratorInit(jbc);
	tok = JsonbIteratorNext(&it, &val, true);
	Assert(tok == WJB_BEGIN_ARRAY);
	tok = JsonbIteratorNext(&it, &val, true);

	if (fill->ndims <= 0 &&
		(tok == WJB_END_ARRAY ||
		 (tok == WJB_ELEM &&
		  (val.type != jbvBinary || !JsonContainerIsArray(val.val.binary.data)))))
		array_set_ndims(fill, ndim);

	while (tok == WJB_ELEM)
	{
		if (fill->ndims > 0 && ndim >= fill->ndims)
		{
			bool		isnull;
			Datum		d;

			d = pgcw_convert(fill->elem, &val, &isnull);
			accumArrayResult(fill->astate, d, isnull, fill->elem->typid,
							 CurrentMemoryContext);
			fill->sizes[ndim - 1]++;
		}
		else
		{
			array_fill_dim(fill, &val, ndim + 1);
			array_check_dim(fill, ndim);
		}
		tok = JsonbIteratorNext(&it, &val, true);
	}
	Assert(tok == WJB_END_ARRAY);
	tok = JsonbIteratorNext(&it, &val, true);
	Assert(tok == WJB_DONE);
}

/* a JSON array to an SQL array with lower bounds 1 */
static Datum
convert_array(PgcwConverter *c, JsonbValue *v)
{
	ArrayFill	fill;
	int			lbs[MAXDIM];
	int			i;

	fill.elem = c->sub;
	fill.astate = initArrayResult(c->sub->typid, CurrentMemoryContext, true);
	fill.ndims = 0;

	array_fill_dim(&fill, v, 1);
	fill.dims[0] = fill.sizes[0];

	for (i = 0; i < fill.ndims; i++)
		lbs[i] = 1;
	return makeMdArrayResult(fill.astate, fill.ndims, fill.dims, lbs,
							 CurrentMemoryContext, true);
}

/* a JSON object to a row of c's (base) composite type */
static Datum
convert_composite(PgcwConverter *c, JsonbValue *v)
{
	TypeCacheEntry *tce;
	JsonbContainer *obj;
	Datum	   *values;
	bool	   *nulls;
	HeapTuple	tuple;
	int			i;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 (IsAJsonbScalar(v) ||
				  (v->type == jbvBinary && JsonContainerIsScalar(v->val.binary.data)))
				 ? errmsg("cannot call %s on a scalar", "populate_composite")
				 : errmsg("cannot call %s on an array", "populate_composite")));
	obj = v->val.binary.data;

	/* (re)load the row type when it is new or was altered */
	tce = lookup_type_cache(c->base_typid, TYPECACHE_TUPDESC);
	if (tce->tupDesc == NULL)
		elog(ERROR, "type %u is not composite", c->base_typid);
	if (c->tupdesc == NULL || c->tupdesc_id != tce->tupDesc_identifier)
	{
		MemoryContext old = MemoryContextSwitchTo(c->mcxt);

		c->tupdesc = CreateTupleDescCopy(tce->tupDesc);
		c->tupdesc_id = tce->tupDesc_identifier;
		c->fields = palloc0(sizeof(PgcwConverter) * c->tupdesc->natts);
		MemoryContextSwitchTo(old);
	}

	values = palloc(sizeof(Datum) * c->tupdesc->natts);
	nulls = palloc(sizeof(bool) * c->tupdesc->natts);
	for (i = 0; i < c->tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(c->tupdesc, i);
		char	   *name = NameStr(att->attname);
		JsonbValue *field;

		if (att->attisdropped)
		{
			nulls[i] = true;
			continue;
		}
		if (c->fields[i].typid != att->atttypid ||
			c->fields[i].typmod != att->atttypmod)
			pgcw_converter_init(&c->fields[i], att->atttypid, att->atttypmod,
								c->mcxt);
		field = getKeyJsonValueFromContainer(obj, name, strlen(name), NULL);
		values[i] = pgcw_convert(&c->fields[i], field, &nulls[i]);
	}
	tuple = heap_form_tuple(c->tupdesc, values, nulls);
	return HeapTupleGetDatum(tuple);
}

/*
 * The JsonbValue of child index of a container whose data starts at base,
 * at offset off and len bytes long (as jsonb_util.c's fillJsonbValue).
 */
static inline void
fill_value(JsonbContainer *jc, int index, char *base, uint32 off, uint32 len,
		   JsonbValue *v)
{
	JEntry		e = jc->children[index];

	if (JBE_ISNULL(e))
		v->type = jbvNull;
	else if (JBE_ISSTRING(e))
	{
		v->type = jbvString;
		v->val.string.val = base + off;
		v->val.string.len = len;
	}
	else if (JBE_ISNUMERIC(e))
	{
		v->type = jbvNumeric;
		v->val.numeric = (Numeric) (base + INTALIGN(off));
	}
	else if (JBE_ISBOOL_TRUE(e))
	{
		v->type = jbvBool;
		v->val.boolean = true;
	}
	else if (JBE_ISBOOL_FALSE(e))
	{
		v->type = jbvBool;
		v->val.boolean = false;
	}
	else
	{
		Assert(JBE_ISCONTAINER(e));
		v->type = jbvBinary;
		v->val.binary.data = (JsonbContainer *) (base + INTALIGN(off));
		v->val.binary.len = len - (INTALIGN(off) - off);
	}
}

/* start walking the fields of an object, or the elements of an array */
void
pgcw_walk_init(PgcwWalk *w, JsonbContainer *jc)
{
	w->jc = jc;
	w->n = JsonContainerSize(jc);
	w->i = 0;
	if (JsonContainerIsObject(jc))
	{
		w->base = (char *) &jc->children[w->n * 2];
		w->koff = 0;
		w->voff = getJsonbOffset(jc, w->n);
		w->vindex = w->n;
	}
	else
	{
		w->base = (char *) &jc->children[w->n];
		w->koff = 0;
		w->voff = 0;
		w->vindex = 0;
	}
}

/*
 * The next field (key and value; key is NULL for arrays) or element, false
 * at the end.  Nothing is allocated; the values point into the container.
 */
bool
pgcw_walk_next(PgcwWalk *w, const char **key, int *keylen, JsonbValue *v)
{
	uint32		start;

	if (w->i >= w->n)
		return false;
	if (JsonContainerIsObject(w->jc))
	{
		start = w->koff;
		JBE_ADVANCE_OFFSET(w->koff, w->jc->children[w->i]);
		*key = w->base + start;
		*keylen = w->koff - start;
	}
	else if (key)
		*key = NULL;
	start = w->voff;
	JBE_ADVANCE_OFFSET(w->voff, w->jc->children[w->vindex + w->i]);
	fill_value(w->jc, w->vindex + w->i, w->base, start, w->voff - start, v);
	w->i++;
	return true;
}

/* "string", "number", ... for messages about a JSON value */
const char *
pgcw_json_type_name(JsonbValue *v)
{
	if (v == NULL)
		return "null";
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			if (JsonContainerIsScalar(v->val.binary.data))
				return "scalar";
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			return "value";
	}
}
