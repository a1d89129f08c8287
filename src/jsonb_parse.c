/*-------------------------------------------------------------------------
 *
 * jsonb_parse.c
 *	  JSON text to jsonb, faster than jsonb_in, for the records a pipeline
 *	  worker reads.
 *
 * A pipeline worker parses every record it carries.  jsonb_in is general:
 * a lexer with callbacks, strings copied character by character, every
 * value pushed through a parse state.  This parser builds the tree of
 * JsonbValues directly -- strings without escapes point into the input,
 * integers become numerics without numeric_in -- sorts each object's keys
 * as jsonb does (shorter first, then bytewise; of equal keys the last
 * wins) and lets JsonbValueToJsonb() lay the result out, so the jsonb is
 * byte for byte what jsonb_in gives.  Whatever it does not handle itself
 * (invalid JSON, a \u escape outside ASCII) it leaves to jsonb_in, which
 * then also raises jsonb_in's errors.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "pgconduit.h"

PG_FUNCTION_INFO_V1(pgconduit_jsonb_parse);

typedef struct PgcpState
{
	const char *p;				/* next character */
	const char *end;
} PgcpState;

static bool pgcp_value(PgcpState *s, JsonbValue *v);

static inline void
pgcp_skip_space(PgcpState *s)
{
	while (s->p < s->end &&
		   (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static inline int
pgcp_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string, the opening quote next; false if it needs jsonb_in */
static bool
pgcp_string(PgcpState *s, char **out, int *outlen)
{
	const char *start = ++s->p;
	const char *q = start;
	char	   *buf;
	char	   *w;

	/* the common case: no escape, the value points into the input */
	while (q < s->end && *q != '"' && *q != '\\')
	{
		if ((unsigned char) *q < 0x20)
			return false;
		q++;
	}
	if (q >= s->end)
		return false;
	if (*q == '"')
	{
		*out = unconstify(char *, start);
		*outlen = q - start;
		s->p = q + 1;
		return true;
	}

	/* with escapes: decode into a copy, never longer than the string */
	{
		const char *close = q;

		while (close < s->end && *close != '"')
			close += (*close == '\\') ? 2 : 1;
		if (close >= s->end)
			return false;
		buf = palloc(close - start);
	}
	memcpy(buf, start, q - start);
	w = buf + (q - start);
	while (q < s->end && *q != '"')
	{
		if ((unsigned char) *q < 0x20)
			return false;
		if (*q != '\\')
		{
			*w++ = *q++;
			continue;
		}
		if (++q >= s->end)
			return false;
		switch (*q)
		{
			case '"':
			case '\\':
			case '/':
				*w++ = *q;
				break;
			case 'b':
				*w++ = '\b';
				break;
			case 'f':
				*w++ = '\f';
				break;
			case 'n':
				*w++ = '\n';
				break;
			case 'r':
				*w++ = '\r';
				break;
			case 't':
				*w++ = '\t';
				break;
			case 'u':
				{
					int			code = 0;

					if (s->end - q < 5)
						return false;
					for (int i = 1; i <= 4; i++)
					{
						int			h = pgcp_hex(q[i]);

						if (h < 0)
							return false;
						code = code * 16 + h;
					}
					/* ASCII only, and no NUL, which jsonb refuses */
					if (code == 0 || code >= 0x80)
						return false;
					*w++ = (char) code;
					q += 4;
					break;
				}
			default:
				return false;
		}
		q++;
	}
	if (q >= s->end)
		return false;
	*out = buf;
	*outlen = w - buf;
	s->p = q + 1;
	return true;
}

/* A number as JSON writes it; false if it is not one */
static bool
pgcp_number(PgcpState *s, JsonbValue *v)
{
	const char *start = s->p;
	const char *q = s->p;
	bool		integer = true;
	int			digits = 0;
	char	   *text;

	if (*q == '-')
		q++;
	if (q >= s->end || !isdigit((unsigned char) *q))
		return false;
	if (*q == '0')
	{
		q++;
		digits = 1;
	}
	else
		while (q < s->end && isdigit((unsigned char) *q))
			q++, digits++;
	if (q < s->end && *q == '.')
	{
		integer = false;
		if (++q >= s->end || !isdigit((unsigned char) *q))
			return false;
		while (q < s->end && isdigit((unsigned char) *q))
			q++;
	}
	if (q < s->end && (*q == 'e' || *q == 'E'))
	{
		integer = false;
		q++;
		if (q < s->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= s->end || !isdigit((unsigned char) *q))
			return false;
		while (q < s->end && isdigit((unsigned char) *q))
			q++;
	}
	s->p = q;
	v->type = jbvNumeric;
	if (integer && digits <= 18)
	{
		int64		n = 0;
		const char *d = start + (*start == '-');

		for (; d < q; d++)
			n = n * 10 + (*d - '0');
		v->val.numeric = int64_to_numeric(*start == '-' ? -n : n);
		return true;
	}
	text = pnstrdup(start, q - start);
	v->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
														 CStringGetDatum(text),
														 ObjectIdGetDatum(InvalidOid),
														 Int32GetDatum(-1)));
	return true;
}

/* jsonb's order of keys: shorter first, then bytewise */
static inline int
pgcp_key_cmp(const JsonbValue *a, const JsonbValue *b)
{
	if (a->val.string.len != b->val.string.len)
		return a->val.string.len < b->val.string.len ? -1 : 1;
	return memcmp(a->val.string.val, b->val.string.val, a->val.string.len);
}

/* The same order, equal keys in the order they came, for qsort */
static int
pgcp_pair_cmp(const void *a, const void *b)
{
	const JsonbPair *pa = a;
	const JsonbPair *pb = b;
	int			c = pgcp_key_cmp(&pa->key, &pb->key);

	if (c != 0)
		return c;
	return pa->order < pb->order ? -1 : (pa->order > pb->order ? 1 : 0);
}

/*
 * Sort an object's pairs into jsonb's order and drop repeated keys, the
 * last of them winning, as jsonb_in does.  Most objects are small and get
 * an insertion sort; a large one, whose size the input decides, is sorted
 * in O(n log n), so that no input can keep the parser busy for long.
 */
static void
pgcp_sort_pairs(JsonbValue *obj)
{
	JsonbPair  *pairs = obj->val.object.pairs;
	int			n = obj->val.object.nPairs;
	int			out = 0;

	if (n > 16)
	{
		CHECK_FOR_INTERRUPTS();
		qsort(pairs, n, sizeof(JsonbPair), pgcp_pair_cmp);
	}
	else
	{
		for (int i = 1; i < n; i++)
		{
			JsonbPair	tmp = pairs[i];
			int			j = i - 1;

			while (j >= 0 && pgcp_key_cmp(&pairs[j].key, &tmp.key) > 0)
			{
				pairs[j + 1] = pairs[j];
				j--;
			}
			pairs[j + 1] = tmp;
		}
	}
	for (int i = 0; i < n; i++)
	{
		if (out > 0 && pgcp_key_cmp(&pairs[out - 1].key, &pairs[i].key) == 0)
			pairs[out - 1] = pairs[i];
		else
			pairs[out++] = pairs[i];
	}
	obj->val.object.nPairs = out;
}

/*
 * After a member of an object or array: a comma (*more = true) or the
 * closing character (*more = false), else false.
 */
static bool
pgcp_more(PgcpState *s, char close, bool *more)
{
	pgcp_skip_space(s);
	if (s->p < s->end && (*s->p == ',' || *s->p == close))
	{
		*more = (*s->p == ',');
		s->p++;
		return true;
	}
	return false;
}

/* An object, the opening brace next */
static bool
pgcp_object(PgcpState *s, JsonbValue *v)
{
	int			size = 8;
	int			n = 0;
	bool		more;
	JsonbPair  *pairs = palloc(sizeof(JsonbPair) * size);

	s->p++;
	pgcp_skip_space(s);
	if (s->p < s->end && *s->p == '}')
		s->p++;
	else
		for (;;)
		{
			if (n == size)
			{
				size *= 2;
				pairs = repalloc(pairs, sizeof(JsonbPair) * size);
			}
			pgcp_skip_space(s);
			if (s->p >= s->end || *s->p != '"')
				return false;
			pairs[n].key.type = jbvString;
			if (!pgcp_string(s, &pairs[n].key.val.string.val, &pairs[n].key.val.string.len))
				return false;
			pairs[n].order = n;
			pgcp_skip_space(s);
			if (s->p >= s->end || *s->p != ':')
				return false;
			s->p++;
			if (!pgcp_value(s, &pairs[n].value))
				return false;
			n++;
			if (!pgcp_more(s, '}', &more))
				return false;
			if (!more)
				break;
		}
	v->type = jbvObject;
	v->val.object.pairs = pairs;
	v->val.object.nPairs = n;
	pgcp_sort_pairs(v);
	return true;
}

/* An array, the opening bracket next */
static bool
pgcp_array(PgcpState *s, JsonbValue *v)
{
	int			size = 8;
	int			n = 0;
	bool		more;
	JsonbValue *elems = palloc(sizeof(JsonbValue) * size);

	s->p++;
	pgcp_skip_space(s);
	if (s->p < s->end && *s->p == ']')
		s->p++;
	else
		for (;;)
		{
			if (n == size)
			{
				size *= 2;
				elems = repalloc(elems, sizeof(JsonbValue) * size);
			}
			if (!pgcp_value(s, &elems[n]))
				return false;
			n++;
			if (!pgcp_more(s, ']', &more))
				return false;
			if (!more)
				break;
		}
	v->type = jbvArray;
	v->val.array.elems = elems;
	v->val.array.nElems = n;
	v->val.array.rawScalar = false;
	return true;
}

/* Any value, after optional white space */
static bool
pgcp_value(PgcpState *s, JsonbValue *v)
{
	check_stack_depth();
	/* the input may be large: answer a cancel while parsing it */
	CHECK_FOR_INTERRUPTS();
	pgcp_skip_space(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p)
	{
		case '{':
			return pgcp_object(s, v);
		case '[':
			return pgcp_array(s, v);
		case '"':
			v->type = jbvString;
			return pgcp_string(s, &v->val.string.val, &v->val.string.len);
		case 't':
			if (s->end - s->p < 4 || memcmp(s->p, "true", 4) != 0)
				return false;
			s->p += 4;
			v->type = jbvBool;
			v->val.boolean = true;
			return true;
		case 'f':
			if (s->end - s->p < 5 || memcmp(s->p, "false", 5) != 0)
				return false;
			s->p += 5;
			v->type = jbvBool;
			v->val.boolean = false;
			return true;
		case 'n':
			if (s->end - s->p < 4 || memcmp(s->p, "null", 4) != 0)
				return false;
			s->p += 4;
			v->type = jbvNull;
			return true;
		default:
			return pgcp_number(s, v);
	}
}

/*
 * The jsonb of the JSON text json (len bytes, NUL-terminated), in the
 * current memory context, which should be short-lived: the tree built on
 * the way is left there.
 */
Jsonb *
pgc_jsonb_parse(const char *json, int len)
{
	PgcpState	s;
	JsonbValue	root;

	s.p = json;
	s.end = json + len;
	if (pgcp_value(&s, &root))
	{
		pgcp_skip_space(&s);
		if (s.p == s.end && (root.type == jbvObject || root.type == jbvArray))
			return JsonbValueToJsonb(&root);
	}
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

/* SQL access, for tests: the same jsonb as text::jsonb */
Datum
pgconduit_jsonb_parse(PG_FUNCTION_ARGS)
{
	char	   *json = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_JSONB_P(pgc_jsonb_parse(json, strlen(json)));
}
