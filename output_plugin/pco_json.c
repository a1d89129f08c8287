/*-------------------------------------------------------------------------
 *
 * pco_json.c
 *		Encoding of column values as JSON, byte for byte as to_jsonb() does.
 *
 * The common types have a fast path that needs no catalog access: booleans,
 * integers, floats, numeric, dates and timestamps, jsonb, and every other
 * built-in type whose to_jsonb() form is its text form as a JSON string.
 * Everything else (arrays, composites, json, user-defined types, which may
 * carry a cast to json) goes through to_jsonb() itself, called through an
 * FmgrInfo bound once per column to the column's type.  The caller caches
 * the per-column state; nothing here looks up a catalog per value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "pco.h"

/*
 * Append str (len bytes, or up to its terminator if len < 0) as a JSON
 * string, escaped exactly as escape_json() escapes it, copying runs of
 * plain characters at once.
 */
void
pco_json_escape(StringInfo buf, const char *str, int len)
{
	const unsigned char *p = (const unsigned char *) str;
	const unsigned char *end;
	const unsigned char *run;

	if (len < 0)
		len = strlen(str);
	end = p + len;
	enlargeStringInfo(buf, len + 2);
	buf->data[buf->len++] = '"';
	run = p;
	for (; p < end; p++)
	{
		unsigned char c = *p;

		if (likely(c >= 0x20 && c != '"' && c != '\\'))
			continue;
		if (p > run)
			appendBinaryStringInfo(buf, (const char *) run, p - run);
		run = p + 1;
		switch (c)
		{
			case '\b':
				appendBinaryStringInfo(buf, "\\b", 2);
				break;
			case '\f':
				appendBinaryStringInfo(buf, "\\f", 2);
				break;
			case '\n':
				appendBinaryStringInfo(buf, "\\n", 2);
				break;
			case '\r':
				appendBinaryStringInfo(buf, "\\r", 2);
				break;
			case '\t':
				appendBinaryStringInfo(buf, "\\t", 2);
				break;
			case '"':
				appendBinaryStringInfo(buf, "\\\"", 2);
				break;
			case '\\':
				appendBinaryStringInfo(buf, "\\\\", 2);
				break;
			default:
				appendStringInfo(buf, "\\u%04x", (int) c);
				break;
		}
	}
	if (p > run)
		appendBinaryStringInfo(buf, (const char *) run, p - run);
	appendStringInfoChar(buf, '"');
}

/*
 * Decide how a column's values are encoded and look up what that needs,
 * once, into col (allocated in cxt).
 */
void
pco_json_setup_column(PcoColumn *col, MemoryContext cxt)
{
	Oid			outfunc;
	bool		isvarlena;

	col->basetypid = getBaseType(col->typid);
	getTypeOutputInfo(col->typid, &outfunc, &isvarlena);
	fmgr_info_cxt(outfunc, &col->outfunc, cxt);

	switch (col->basetypid)
	{
		case BOOLOID:
			col->kind = PCO_VALUE_BOOL;
			break;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			col->kind = PCO_VALUE_INTEGER;
			break;
		case FLOAT4OID:
		case FLOAT8OID:
			col->kind = PCO_VALUE_FLOAT;
			break;
		case NUMERICOID:
			col->kind = PCO_VALUE_NUMERIC;
			break;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			col->kind = PCO_VALUE_DATETIME;
			break;
		case JSONBOID:
			col->kind = PCO_VALUE_JSONB;
			break;
		default:

			/*
			 * to_jsonb() gives the text form as a string for every built-in
			 * scalar type; arrays, composites, json and types of users (which
			 * may have a cast to json) take the general path.
			 */
			if (col->basetypid < FirstNormalObjectId &&
				col->basetypid != JSONOID &&
				get_element_type(col->basetypid) == InvalidOid &&
				get_typtype(col->basetypid) != TYPTYPE_COMPOSITE &&
				col->basetypid != RECORDOID)
				col->kind = PCO_VALUE_STRING;
			else
			{
				MemoryContext old = MemoryContextSwitchTo(cxt);
				FuncExpr   *expr;

				col->kind = PCO_VALUE_GENERAL;
				fmgr_info_cxt(F_TO_JSONB, &col->tojsonb, cxt);
				expr = makeFuncExpr(F_TO_JSONB, JSONBOID,
									list_make1(makeNullConst(col->typid, -1,
															 InvalidOid)),
									InvalidOid, InvalidOid,
									COERCE_EXPLICIT_CALL);
				fmgr_info_set_expr((Node *) expr, &col->tojsonb);
				MemoryContextSwitchTo(old);
			}
			break;
	}
}

/* Append a number's text form, or the string to_jsonb() makes of it */
static void
pco_json_number(StringInfo buf, const char *text, bool is_float)
{
	/* NaN, Infinity, -Infinity are not JSON numbers */
	if (text[0] == 'N' || text[0] == 'I' || (text[0] == '-' && text[1] == 'I'))
	{
		pco_json_escape(buf, text, -1);
		return;
	}

	/*
	 * to_jsonb() stores a float as numeric, so an exponent form such as 1e+30
	 * comes out in numeric's plain notation.
	 */
	if (is_float && strpbrk(text, "eE") != NULL)
	{
		Datum		num = DirectFunctionCall3(numeric_in,
											  CStringGetDatum(text),
											  ObjectIdGetDatum(InvalidOid),
											  Int32GetDatum(-1));

		text = DatumGetCString(DirectFunctionCall1(numeric_out, num));
	}
	appendStringInfoString(buf, text);
}

/* Append one non-null value of col as JSON */
void
pco_json_value(StringInfo buf, PcoColumn *col, Datum value)
{
	switch (col->kind)
	{
		case PCO_VALUE_BOOL:
			if (DatumGetBool(value))
				appendBinaryStringInfo(buf, "true", 4);
			else
				appendBinaryStringInfo(buf, "false", 5);
			break;
		case PCO_VALUE_INTEGER:
			{
				char		num[MAXINT8LEN + 1];
				int			len;

				if (col->basetypid == INT8OID)
					len = pg_lltoa(DatumGetInt64(value), num);
				else if (col->basetypid == INT4OID)
					len = pg_ltoa(DatumGetInt32(value), num);
				else
					len = pg_ltoa((int32) DatumGetInt16(value), num);
				appendBinaryStringInfo(buf, num, len);
				break;
			}
		case PCO_VALUE_FLOAT:
		case PCO_VALUE_NUMERIC:
			pco_json_number(buf, OutputFunctionCall(&col->outfunc, value),
							col->kind == PCO_VALUE_FLOAT);
			break;
		case PCO_VALUE_DATETIME:
			{
				char		dt[MAXDATELEN + 1];

				JsonEncodeDateTime(dt, value, col->basetypid, NULL);
				appendStringInfoChar(buf, '"');
				appendStringInfoString(buf, dt);
				appendStringInfoChar(buf, '"');
				break;
			}
		case PCO_VALUE_JSONB:
			{
				Jsonb	   *jb = DatumGetJsonbP(value);

				JsonbToCString(buf, &jb->root, VARSIZE(jb));
				break;
			}
		case PCO_VALUE_STRING:
			pco_json_escape(buf, OutputFunctionCall(&col->outfunc, value), -1);
			break;
		case PCO_VALUE_GENERAL:
			{
				Jsonb	   *jb = DatumGetJsonbP(FunctionCall1(&col->tojsonb,
															  value));

				JsonbToCString(buf, &jb->root, VARSIZE(jb));
				break;
			}
	}
}
