/*-------------------------------------------------------------------------
 *
 * pco_json.c
 *		Encoding of column values as JSON, byte for byte as to_jsonb() and
 *		jsonb's output function together print them.
 *
 * An encoder is built once per column type (pco_encoder_create) by the
 * rules of to_jsonb()'s jsonb_categorize_type: booleans and numbers become
 * JSON literals, dates and timestamps ISO 8601 strings, json and jsonb are
 * embedded, arrays and composites become arrays and objects of their
 * elements' encodings, a user type with a cast to json goes through the
 * cast, and everything else is its output function's text as a string.
 * Encoding a value (pco_encode) then needs no catalog access: it writes
 * into the record's buffer directly, walks jsonb containers without an
 * iterator, escapes text in place without copying it, and prints
 * timestamptz without a time zone lookup when the session's zone has a
 * fixed offset.  The only lookup left per value is the type cache entry of
 * a composite, to notice when its type was altered.
 *
 * Where to_jsonb() would lose something, the value takes an exact form
 * instead, one that jsonb_populate_record() reads back as it was: a float
 * -0 is the string "-0" (as NaN and the infinities are strings); an array
 * with lower bounds other than 1, an array holding a json or jsonb JSON
 * array (which would read back as another dimension), or an array or
 * composite holding a json or jsonb value that is JSON null (which null
 * would make SQL NULL) or a json value whose text jsonb would change, is
 * its type's text form as a string, which the type's input function reads.  A json or jsonb column
 * itself cannot take a string for its text: pco_json_lossy() tells the
 * caller, which then writes pco_encode_text() and names the column.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#include "pco.h"

/* The session time zone's offset, when it has only one (UTC and the like) */
static bool pco_tz_fixed = false;
static long int pco_tz_gmtoff = 0;
static char pco_tz_suffix[16];	/* that offset as EncodeTimezone() prints it */
static int	pco_tz_suffix_len = 0;

/* Timestamps this close to the ends of the range take the general path */
#define PCO_TS_MARGIN	((int64) 2 * USECS_PER_DAY)

static void pco_jsonb_container(StringInfo buf, JsonbContainer *jc);

/*
 * Set when a json or jsonb value was written in to_jsonb()'s form although
 * that form loses something; an array or composite that holds it then
 * writes its text form instead.
 */
static bool pco_lossy = false;

/*
 * Append str (len bytes, or up to its terminator if len < 0) as a JSON
 * string, escaped exactly as escape_json() escapes it, copying runs of
 * plain characters at once.
 */
void
pco_json_escape(StringInfo buf, const char *str, int len)
{
	/* which bytes escape_json() rewrites: control characters, " and \ */
	static const bool special[256] = {
		[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
		[0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1,
		[0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1,
		[0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
		[0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1,
		[0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1
	};
	const unsigned char *p = (const unsigned char *) str;
	const unsigned char *end;
	const unsigned char *run;

	if (len < 0)
		len = strlen(str);
	end = p + len;

	/* room for the common case, a string with nothing to escape */
	pco_reserve(buf, len + 2);
	buf->data[buf->len++] = '"';
	run = p;
	for (; p < end; p++)
	{
		unsigned char c = *p;

		if (likely(!special[c]))
			continue;
		if (p > run)
			pco_put(buf, (const char *) run, p - run);
		run = p + 1;
		switch (c)
		{
			case '\b':
				PCO_PUT_LIT(buf, "\\b");
				break;
			case '\f':
				PCO_PUT_LIT(buf, "\\f");
				break;
			case '\n':
				PCO_PUT_LIT(buf, "\\n");
				break;
			case '\r':
				PCO_PUT_LIT(buf, "\\r");
				break;
			case '\t':
				PCO_PUT_LIT(buf, "\\t");
				break;
			case '"':
				PCO_PUT_LIT(buf, "\\\"");
				break;
			case '\\':
				PCO_PUT_LIT(buf, "\\\\");
				break;
			default:
				{
					static const char hex[] = "0123456789abcdef";
					char		u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};

					pco_put(buf, u, 6);
					break;
				}
		}
	}
	if (p > run)
		pco_put(buf, (const char *) run, p - run);
	pco_putc(buf, '"');
}

/*
 * Note whether the session's time zone has a single offset from UTC, so
 * that timestamptz values can be printed without a zone lookup each.
 * Called before the first record of each transaction is written.
 */
void
pco_datetime_setup(void)
{
	pco_tz_fixed = (session_timezone != NULL &&
					pg_get_timezone_offset(session_timezone, &pco_tz_gmtoff));
	if (pco_tz_fixed)
	{
		struct pg_tm tm = {0};
		char		buf[MAXDATELEN + 1];
		char	   *tz;

		/* print a known date with the offset, and keep what follows it */
		tm.tm_year = 2000;
		tm.tm_mon = 1;
		tm.tm_mday = 1;
		EncodeDateTime(&tm, 0, true, (int) -pco_tz_gmtoff, NULL, USE_XSD_DATES, buf);
		tz = buf + strlen("2000-01-01T00:00:00");
		pco_tz_suffix_len = strlen(tz);
		if (pco_tz_suffix_len >= (int) sizeof(pco_tz_suffix))
			pco_tz_fixed = false;
		else
			memcpy(pco_tz_suffix, tz, pco_tz_suffix_len + 1);
	}
}

/* Write v as two digits */
static inline char *
pco_2digits(char *p, int v)
{
	p[0] = '0' + v / 10;
	p[1] = '0' + v % 10;
	return p + 2;
}

/*
 * Write a local timestamp of years 1 to 9999 as EncodeDateTime() does in
 * XSD style, followed by the fixed zone's offset; false if out of that
 * range, for the general path to handle.
 */
static bool
pco_encode_local_timestamp(char *p, Timestamp local)
{
	int64		date;
	int64		time;
	int			year,
				mon,
				mday;
	int			hour,
				min,
				sec;
	int			fsec;

	time = local;
	TMODULO(time, date, USECS_PER_DAY);
	if (time < 0)
	{
		time += USECS_PER_DAY;
		date -= 1;
	}
	date += POSTGRES_EPOCH_JDATE;
	if (date < 0 || date > (Timestamp) INT_MAX)
		return false;
	j2date((int) date, &year, &mon, &mday);
	if (year < 1 || year > 9999)
		return false;
	hour = time / USECS_PER_HOUR;
	time -= (int64) hour * USECS_PER_HOUR;
	min = time / USECS_PER_MINUTE;
	time -= (int64) min * USECS_PER_MINUTE;
	sec = time / USECS_PER_SEC;
	fsec = time - (int64) sec * USECS_PER_SEC;

	p = pco_2digits(p, year / 100);
	p = pco_2digits(p, year % 100);
	*p++ = '-';
	p = pco_2digits(p, mon);
	*p++ = '-';
	p = pco_2digits(p, mday);
	*p++ = 'T';
	p = pco_2digits(p, hour);
	*p++ = ':';
	p = pco_2digits(p, min);
	*p++ = ':';
	p = pco_2digits(p, sec);
	if (fsec != 0)
	{
		/* six digits, trailing zeroes dropped, as AppendSeconds() */
		int			ndig = 6;

		while (fsec % 10 == 0)
		{
			fsec /= 10;
			ndig--;
		}
		*p++ = '.';
		for (int i = ndig - 1; i >= 0; i--)
		{
			p[i] = '0' + fsec % 10;
			fsec /= 10;
		}
		p += ndig;
	}
	memcpy(p, pco_tz_suffix, pco_tz_suffix_len + 1);
	return true;
}

/* Append a C string produced in place at the end of buf, quoted */
static inline void
pco_finish_quoted(StringInfo buf, char *start)
{
	int			len = strlen(start + 1);

	start[len + 1] = '"';
	buf->len += len + 2;
}

/*
 * Append a timestamptz as to_jsonb() does: ISO 8601 in the session's time
 * zone.  With a fixed offset this is plain arithmetic; otherwise
 * JsonEncodeDateTime() looks the zone up.
 */
void
pco_append_timestamptz(StringInfo buf, TimestampTz ts)
{
	char	   *start;

	pco_reserve(buf, MAXDATELEN + 3);
	start = buf->data + buf->len;
	start[0] = '"';
	if (pco_tz_fixed && !TIMESTAMP_NOT_FINITE(ts) &&
		ts > MIN_TIMESTAMP + PCO_TS_MARGIN && ts < END_TIMESTAMP - PCO_TS_MARGIN &&
		pco_encode_local_timestamp(start + 1,
								   ts + (int64) pco_tz_gmtoff * USECS_PER_SEC))
		;						/* the common case */
	else if (pco_tz_fixed && !TIMESTAMP_NOT_FINITE(ts) &&
			 ts > MIN_TIMESTAMP + PCO_TS_MARGIN && ts < END_TIMESTAMP - PCO_TS_MARGIN)
	{
		struct pg_tm tm;
		fsec_t		fsec;

		if (timestamp2tm(ts + (int64) pco_tz_gmtoff * USECS_PER_SEC, NULL,
						 &tm, &fsec, NULL, NULL) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
		tm.tm_isdst = 0;		/* a known zone: print it */
		EncodeDateTime(&tm, fsec, true, (int) -pco_tz_gmtoff, NULL,
					   USE_XSD_DATES, start + 1);
	}
	else
		JsonEncodeDateTime(start + 1, TimestampTzGetDatum(ts), TIMESTAMPTZOID,
						   NULL);
	pco_finish_quoted(buf, start);
}

/* Append a date or timestamp (without zone) as to_jsonb() does */
static void
pco_append_datetime(StringInfo buf, Datum value, Oid typid)
{
	char	   *start;

	pco_reserve(buf, MAXDATELEN + 3);
	start = buf->data + buf->len;
	start[0] = '"';
	JsonEncodeDateTime(start + 1, value, typid, NULL);
	pco_finish_quoted(buf, start);
}

/*
 * Append a number's output text as to_jsonb() stores it: a JSON number in
 * numeric's notation, or a string when it is NaN or infinite (to_jsonb()
 * tells these apart by an 'N' or 'n' in the text); a float's -0, which
 * to_jsonb() makes 0, is the string "-0".
 */
static void
pco_append_number_text(StringInfo buf, const char *text, bool is_float)
{
	if (strchr(text, 'N') != NULL || strchr(text, 'n') != NULL)
	{
		pco_json_escape(buf, text, -1);
		return;
	}

	/* numeric has no -0: a float's keeps its sign as a string, like NaN */
	if (is_float && strcmp(text, "-0") == 0)
	{
		PCO_PUT_LIT(buf, "\"-0\"");
		return;
	}

	/*
	 * to_jsonb() reads the text back as numeric: a float's exponent form
	 * (1e+30) comes out in numeric's notation.
	 */
	if (is_float && strpbrk(text, "eE") != NULL)
	{
		Datum		num = DirectFunctionCall3(numeric_in,
											  CStringGetDatum(text),
											  ObjectIdGetDatum(InvalidOid),
											  Int32GetDatum(-1));

		text = DatumGetCString(DirectFunctionCall1(numeric_out, num));
	}
	pco_put(buf, text, strlen(text));
}

/*
 * numeric's storage format, which pg_upgrade keeps stable but numeric.c
 * does not export: a 2-byte header (short form: sign, display scale and
 * weight packed together) or 4 bytes (long form), then base-10000 digits.
 */
#define PCO_NUMERIC_SIGN_MASK	0xC000
#define PCO_NUMERIC_NEG			0x4000
#define PCO_NUMERIC_SHORT		0x8000
#define PCO_NUMERIC_SPECIAL		0xC000
#define PCO_NUMERIC_DSCALE_MASK	0x3FFF
#define PCO_SHORT_SIGN_MASK		0x2000
#define PCO_SHORT_DSCALE_MASK	0x1F80
#define PCO_SHORT_DSCALE_SHIFT	7
#define PCO_SHORT_WEIGHT_SIGN	0x0040
#define PCO_SHORT_WEIGHT_MASK	0x003F
#define PCO_DEC_DIGITS			4

/* Read the idx-th 2-byte word of a numeric's data, whatever its alignment */
static inline uint16
pco_numeric_word(const char *data, int idx)
{
	uint16		w;

	memcpy(&w, data + idx * sizeof(uint16), sizeof(uint16));
	return w;
}

/*
 * Append a numeric (from a column or from inside a jsonb) as numeric_out()
 * prints it, reading its digits in place: get_str_from_var() without the
 * copies.  NaN and the infinities, which to_jsonb() makes strings, go
 * through numeric_out().
 */
static void
pco_append_numeric(StringInfo buf, Datum num)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(num);
	const char *data;
	int			size;
	uint16		header;
	bool		neg;
	int			dscale;
	int			weight;
	int			ndigits;
	int			first;
	char	   *cp;

	/* out of line or compressed: whole and plain first (a 1-byte header is fine) */
	if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
		v = pg_detoast_datum_packed(v);
	data = VARDATA_ANY(v);
	size = VARSIZE_ANY_EXHDR(v);
	header = pco_numeric_word(data, 0);

	if ((header & PCO_NUMERIC_SIGN_MASK) == PCO_NUMERIC_SPECIAL)
	{
		pco_append_number_text(buf,
							   DatumGetCString(DirectFunctionCall1(numeric_out,
																   PointerGetDatum(v))),
							   false);
		return;
	}
	if ((header & PCO_NUMERIC_SIGN_MASK) == PCO_NUMERIC_SHORT)
	{
		neg = (header & PCO_SHORT_SIGN_MASK) != 0;
		dscale = (header & PCO_SHORT_DSCALE_MASK) >> PCO_SHORT_DSCALE_SHIFT;
		weight = (header & PCO_SHORT_WEIGHT_SIGN) ?
			(int) (header | ~PCO_SHORT_WEIGHT_MASK) :
			(int) (header & PCO_SHORT_WEIGHT_MASK);
		first = 1;
	}
	else
	{
		neg = (header & PCO_NUMERIC_SIGN_MASK) == PCO_NUMERIC_NEG;
		dscale = header & PCO_NUMERIC_DSCALE_MASK;
		weight = (int16) pco_numeric_word(data, 1);
		first = 2;
	}
	ndigits = size / (int) sizeof(uint16) - first;
	if (ndigits == 0)
		weight = 0;				/* zero, whatever its stored weight */

	pco_reserve(buf, Max(weight + 1, 1) * PCO_DEC_DIGITS + dscale + PCO_DEC_DIGITS + 2);
	cp = buf->data + buf->len;
	if (neg)
		*cp++ = '-';

	/* the digits before the decimal point, without leading zeroes */
	if (weight < 0)
		*cp++ = '0';
	else
	{
		for (int d = 0; d <= weight; d++)
		{
			int			dig = d < ndigits ? pco_numeric_word(data, first + d) : 0;
			int			d1;
			bool		putit = (d > 0);

			d1 = dig / 1000;
			dig -= d1 * 1000;
			putit |= (d1 > 0);
			if (putit)
				*cp++ = d1 + '0';
			d1 = dig / 100;
			dig -= d1 * 100;
			putit |= (d1 > 0);
			if (putit)
				*cp++ = d1 + '0';
			d1 = dig / 10;
			dig -= d1 * 10;
			putit |= (d1 > 0);
			if (putit)
				*cp++ = d1 + '0';
			*cp++ = dig + '0';
		}
	}

	/* the decimal point and dscale digits after it */
	if (dscale > 0)
	{
		char	   *endcp;
		int			d = weight + 1;

		*cp++ = '.';
		endcp = cp + dscale;
		for (int i = 0; i < dscale; d++, i += PCO_DEC_DIGITS)
		{
			int			dig = (d >= 0 && d < ndigits) ? pco_numeric_word(data, first + d) : 0;
			int			d1;

			d1 = dig / 1000;
			dig -= d1 * 1000;
			*cp++ = d1 + '0';
			d1 = dig / 100;
			dig -= d1 * 100;
			*cp++ = d1 + '0';
			d1 = dig / 10;
			dig -= d1 * 10;
			*cp++ = d1 + '0';
			*cp++ = dig + '0';
		}
		cp = endcp;
	}
	buf->len = cp - buf->data;
}

/*
 * Append one child of a jsonb container.  off is where its data starts
 * (relative to base), len how long it is.
 */
static void
pco_jsonb_entry(StringInfo buf, JEntry entry, char *base, uint32 off,
				uint32 len)
{
	if (JBE_ISSTRING(entry))
		pco_json_escape(buf, base + off, len);
	else if (JBE_ISNUMERIC(entry))
		pco_append_numeric(buf, PointerGetDatum(base + INTALIGN(off)));
	else if (JBE_ISBOOL_TRUE(entry))
		PCO_PUT_LIT(buf, "true");
	else if (JBE_ISBOOL_FALSE(entry))
		PCO_PUT_LIT(buf, "false");
	else if (JBE_ISNULL(entry))
		PCO_PUT_LIT(buf, "null");
	else
		pco_jsonb_container(buf, (JsonbContainer *) (base + INTALIGN(off)));
}

/*
 * Append a jsonb container as jsonb_out() prints it ("{"a": 1, "b": [2]}"),
 * walking its entries directly: no iterator, no allocation.
 */
static void
pco_jsonb_container(StringInfo buf, JsonbContainer *jc)
{
	uint32		count = JsonContainerSize(jc);
	uint32		off = 0;
	uint32		next;

	check_stack_depth();

	if (JsonContainerIsArray(jc))
	{
		char	   *base = (char *) &jc->children[count];

		/* a scalar is stored as a one-element array and printed bare */
		if (!JsonContainerIsScalar(jc))
			pco_putc(buf, '[');
		for (uint32 i = 0; i < count; i++)
		{
			JEntry		entry = jc->children[i];

			next = JBE_HAS_OFF(entry) ? JBE_OFFLENFLD(entry) : off + JBE_OFFLENFLD(entry);
			if (i > 0)
				PCO_PUT_LIT(buf, ", ");
			pco_jsonb_entry(buf, entry, base, off, next - off);
			off = next;
		}
		if (!JsonContainerIsScalar(jc))
			pco_putc(buf, ']');
	}
	else
	{
		char	   *base = (char *) &jc->children[count * 2];
		uint32		voff = count > 0 ? getJsonbOffset(jc, count) : 0;

		/* keys are children 0 .. count-1, their values count .. 2*count-1 */
		pco_putc(buf, '{');
		for (uint32 i = 0; i < count; i++)
		{
			JEntry		key = jc->children[i];
			JEntry		val = jc->children[count + i];
			uint32		vnext;

			next = JBE_HAS_OFF(key) ? JBE_OFFLENFLD(key) : off + JBE_OFFLENFLD(key);
			vnext = JBE_HAS_OFF(val) ? JBE_OFFLENFLD(val) : voff + JBE_OFFLENFLD(val);
			if (i > 0)
				PCO_PUT_LIT(buf, ", ");
			pco_json_escape(buf, base + off, next - off);
			PCO_PUT_LIT(buf, ": ");
			pco_jsonb_entry(buf, val, base, voff, vnext - voff);
			off = next;
			voff = vnext;
		}
		pco_putc(buf, '}');
	}
}

/*
 * Does json text lose something as jsonb: is it JSON null, or does jsonb
 * print it otherwise (spacing, key order, duplicate keys, or an escape
 * jsonb cannot hold)?  start is where its jsonb print begins in buf, or -1
 * when it was not printed because jsonb would reject it.
 */
static bool
pco_json_text_lossy(StringInfo buf, int start, const char *str, int len)
{
	if (start < 0)
		return true;
	return buf->len - start != len ||
		memcmp(buf->data + start, str, len) != 0 ||
		(len == 4 && memcmp(str, "null", 4) == 0);
}

/*
 * Append json text as to_jsonb() embeds it: parsed as jsonb, printed.  For
 * a json value (check), note when that loses something.
 */
static void
pco_append_json_text(StringInfo buf, text *json, bool check)
{
	Jsonb	   *jb;
	char	   *str = text_to_cstring(json);
	int			start = buf->len;

	/* jsonb rejects \u0000; to_jsonb() fails on it, the text form does not */
	if (check && strstr(str, "\\u0000") != NULL)
	{
		pco_json_escape(buf, str, -1);
		pco_lossy = true;
		return;
	}
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(str)));
	pco_jsonb_container(buf, &jb->root);
	if (check && pco_json_text_lossy(buf, start, str, strlen(str)))
		pco_lossy = true;
}

/* Set up encoder for the fields of a composite type as desc describes it */
static void
pco_encoder_setup_row(PcoEncoder *enc, TupleDesc desc, uint64 identifier)
{
	MemoryContext old;
	int			n = 0;

	if (enc->row_cxt == NULL)
		enc->row_cxt = AllocSetContextCreate(enc->cxt, "pgconduit_output row type",
											 ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(enc->row_cxt);
	old = MemoryContextSwitchTo(enc->row_cxt);

	enc->row_desc = CreateTupleDescCopy(desc);
	enc->row_identifier = identifier;
	enc->row_values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	enc->row_nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	enc->fields = palloc(sizeof(PcoField) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		PcoField   *f;
		StringInfoData key;

		if (att->attisdropped)
			continue;
		f = &enc->fields[n++];
		f->index = i;
		initStringInfo(&key);
		pco_json_escape(&key, NameStr(att->attname), -1);
		PCO_PUT_LIT(&key, ": ");
		pco_terminate(&key);
		f->json_key = key.data;
		f->json_key_len = key.len;
		f->encoder = pco_encoder_create(att->atttypid, enc->row_cxt);
	}
	enc->nfields = n;

	/* jsonb orders an object's keys by length, then bytewise */
	for (int i = 1; i < n; i++)
	{
		PcoField	f = enc->fields[i];
		int			j = i - 1;

		while (j >= 0)
		{
			PcoField   *g = &enc->fields[j];
			int			cmp = g->json_key_len - f.json_key_len;

			if (cmp == 0)
				cmp = memcmp(g->json_key, f.json_key, f.json_key_len);
			if (cmp <= 0)
				break;
			enc->fields[j + 1] = *g;
			j--;
		}
		enc->fields[j + 1] = f;
	}
	MemoryContextSwitchTo(old);
}

/*
 * Build the encoder of a type, allocated in cxt: the one place that looks
 * at the catalogs.  Follows jsonb_categorize_type().
 */
PcoEncoder *
pco_encoder_create(Oid typid, MemoryContext cxt)
{
	PcoEncoder *enc = MemoryContextAllocZero(cxt, sizeof(PcoEncoder));
	Oid			base = getBaseType(typid);
	Oid			funcid = InvalidOid;
	bool		isvarlena;

	enc->typid = typid;
	enc->basetypid = base;
	enc->cxt = cxt;

	switch (base)
	{
		case BOOLOID:
			enc->kind = PCO_VALUE_BOOL;
			break;
		case INT2OID:
			enc->kind = PCO_VALUE_INT2;
			break;
		case INT4OID:
			enc->kind = PCO_VALUE_INT4;
			break;
		case INT8OID:
			enc->kind = PCO_VALUE_INT8;
			break;
		case FLOAT4OID:
		case FLOAT8OID:
			enc->kind = PCO_VALUE_FLOAT;
			getTypeOutputInfo(base, &funcid, &isvarlena);
			break;
		case NUMERICOID:
			enc->kind = PCO_VALUE_NUMERIC;
			break;
		case DATEOID:
			enc->kind = PCO_VALUE_DATE;
			break;
		case TIMESTAMPOID:
			enc->kind = PCO_VALUE_TIMESTAMP;
			break;
		case TIMESTAMPTZOID:
			enc->kind = PCO_VALUE_TIMESTAMPTZ;
			break;
		case JSONBOID:
			enc->kind = PCO_VALUE_JSONB;
			break;
		case JSONOID:
			enc->kind = PCO_VALUE_JSON;
			break;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			/* their output functions return the stored text unchanged */
			enc->kind = PCO_VALUE_TEXT;
			break;
		default:
			if (OidIsValid(get_element_type(base)) || base == ANYARRAYOID ||
				base == ANYCOMPATIBLEARRAYOID || base == RECORDARRAYOID)
			{
				enc->kind = PCO_VALUE_ARRAY;
				/* for the text form, when to_jsonb()'s would lose something */
				getTypeOutputInfo(base, &funcid, &isvarlena);
				enc->elemtype = get_element_type(base);
				if (OidIsValid(enc->elemtype))
				{
					get_typlenbyvalalign(enc->elemtype, &enc->elmlen,
										 &enc->elmbyval, &enc->elmalign);
					enc->element = pco_encoder_create(enc->elemtype, cxt);
				}
			}
			else if (type_is_rowtype(base))
			{
				enc->kind = PCO_VALUE_COMPOSITE;
				getTypeOutputInfo(base, &funcid, &isvarlena);
			}
			else
			{
				enc->kind = PCO_VALUE_STRING;
				/* a type of a user may bring a cast to json (not jsonb) */
				if (base >= FirstNormalObjectId)
				{
					Oid			castfunc;

					if (find_coercion_pathway(JSONOID, base, COERCION_EXPLICIT,
											  &castfunc) == COERCION_PATH_FUNC &&
						OidIsValid(castfunc))
					{
						enc->kind = PCO_VALUE_JSONCAST;
						funcid = castfunc;
					}
				}
				if (enc->kind == PCO_VALUE_STRING)
					getTypeOutputInfo(base, &funcid, &isvarlena);
			}
			break;
	}
	if (OidIsValid(funcid))
		fmgr_info_cxt(funcid, &enc->func, cxt);
	return enc;
}

/* Append the elements of one dimension of an array, recursively */
static void
pco_array_dim(StringInfo buf, PcoEncoder *enc, array_iter *it, int dim,
			  int ndim, int *dims, int *index)
{
	pco_putc(buf, '[');
	for (int i = 0; i < dims[dim]; i++)
	{
		if (i > 0)
			PCO_PUT_LIT(buf, ", ");
		if (dim + 1 < ndim)
			pco_array_dim(buf, enc, it, dim + 1, ndim, dims, index);
		else
		{
			bool		isnull;
			Datum		elem = array_iter_next(it, &isnull, (*index)++,
											   enc->elmlen, enc->elmbyval,
											   enc->elmalign);

			if (isnull)
				PCO_PUT_LIT(buf, "null");
			else
			{
				int			start = buf->len;

				pco_encode(buf, enc->element, elem);
				/* a json array in an array reads back as a dimension */
				if ((enc->element->kind == PCO_VALUE_JSON ||
					 enc->element->kind == PCO_VALUE_JSONB) &&
					buf->data[start] == '[')
					pco_lossy = true;
			}
		}
	}
	pco_putc(buf, ']');
}

/*
 * Append a value's text form as a JSON string: what an array or composite
 * is sent as when to_jsonb()'s form would lose something.
 */
static void
pco_append_text_form(StringInfo buf, PcoEncoder *enc, Datum value)
{
	pco_json_escape(buf, OutputFunctionCall(&enc->func, value), -1);
}

/*
 * Append an array as to_jsonb() does, nested per dimension; but as its text
 * form when its lower bounds are not all 1 (to_jsonb() drops them, and
 * int2vector and oidvector start at 0), when it is empty but has a
 * dimension, when an element lost something, or when a json or jsonb
 * element is itself a JSON array (which would read back as a dimension).
 */
static void
pco_append_array(StringInfo buf, PcoEncoder *enc, Datum value)
{
	AnyArrayType *arr = DatumGetAnyArrayP(value);
	int			ndim = AARR_NDIM(arr);
	int		   *dims = AARR_DIMS(arr);
	int		   *lbs = AARR_LBOUND(arr);
	Oid			elemtype = AARR_ELEMTYPE(arr);
	array_iter	it;
	int			index = 0;
	int			start = buf->len;
	bool		outer_lossy = pco_lossy;

	for (int d = 0; d < ndim; d++)
	{
		if (lbs[d] != 1)
		{
			pco_append_text_form(buf, enc, value);
			return;
		}
	}
	if (ArrayGetNItems(ndim, dims) <= 0)
	{
		/* an empty int2vector or oidvector has a dimension, [] none */
		if (ndim > 0)
			pco_append_text_form(buf, enc, value);
		else
			PCO_PUT_LIT(buf, "[]");
		return;
	}

	/* an anyarray column holds arrays of any element type */
	if (elemtype != enc->elemtype)
	{
		enc->elemtype = elemtype;
		get_typlenbyvalalign(elemtype, &enc->elmlen, &enc->elmbyval,
							 &enc->elmalign);
		enc->element = pco_encoder_create(elemtype, enc->cxt);
	}
	array_iter_setup(&it, arr);
	pco_lossy = false;
	pco_array_dim(buf, enc, &it, 0, ndim, dims, &index);
	if (pco_lossy)
	{
		buf->len = start;
		pco_append_text_form(buf, enc, value);
	}
	pco_lossy = outer_lossy;
}

/*
 * Append a composite value as to_jsonb() does, an object of its fields; but
 * as its text form when a field lost something.
 */
static void
pco_append_composite(StringInfo buf, PcoEncoder *enc, Datum value)
{
	HeapTupleHeader td = DatumGetHeapTupleHeader(value);
	Oid			rowtype = HeapTupleHeaderGetTypeId(td);
	HeapTupleData tuple;
	int			start = buf->len;
	bool		outer_lossy = pco_lossy;

	if (rowtype == RECORDOID)
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(rowtype,
												  HeapTupleHeaderGetTypMod(td));

		pco_encoder_setup_row(enc, desc, 0);
		ReleaseTupleDesc(desc);
	}
	else
	{
		TypeCacheEntry *tce = lookup_type_cache(rowtype, TYPECACHE_TUPDESC);

		if (tce->tupDesc == NULL)
			elog(ERROR, "type %u is not composite", rowtype);
		if (enc->row_desc == NULL || enc->row_desc->tdtypeid != rowtype ||
			enc->row_identifier != tce->tupDesc_identifier)
			pco_encoder_setup_row(enc, tce->tupDesc, tce->tupDesc_identifier);
	}

	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, enc->row_desc, enc->row_values, enc->row_nulls);

	pco_lossy = false;
	pco_putc(buf, '{');
	for (int i = 0; i < enc->nfields; i++)
	{
		PcoField   *f = &enc->fields[i];

		if (i > 0)
			PCO_PUT_LIT(buf, ", ");
		pco_put(buf, f->json_key, f->json_key_len);
		if (enc->row_nulls[f->index])
			PCO_PUT_LIT(buf, "null");
		else
			pco_encode(buf, f->encoder, enc->row_values[f->index]);
	}
	pco_putc(buf, '}');
	if (pco_lossy)
	{
		buf->len = start;
		pco_append_text_form(buf, enc, value);
	}
	pco_lossy = outer_lossy;
}

/* Append one non-null value as to_jsonb() encodes it */
void
pco_encode(StringInfo buf, PcoEncoder *enc, Datum value)
{
	switch (enc->kind)
	{
		case PCO_VALUE_BOOL:
			if (DatumGetBool(value))
				PCO_PUT_LIT(buf, "true");
			else
				PCO_PUT_LIT(buf, "false");
			break;
		case PCO_VALUE_INT2:
		case PCO_VALUE_INT4:
			pco_reserve(buf, MAXINT8LEN + 1);
			buf->len += pg_ltoa(enc->kind == PCO_VALUE_INT2 ?
								(int32) DatumGetInt16(value) :
								DatumGetInt32(value),
								buf->data + buf->len);
			break;
		case PCO_VALUE_INT8:
			pco_reserve(buf, MAXINT8LEN + 1);
			buf->len += pg_lltoa(DatumGetInt64(value), buf->data + buf->len);
			break;
		case PCO_VALUE_FLOAT:
			pco_append_number_text(buf, OutputFunctionCall(&enc->func, value),
								   true);
			break;
		case PCO_VALUE_NUMERIC:
			pco_append_numeric(buf, value);
			break;
		case PCO_VALUE_DATE:
			pco_append_datetime(buf, value, DATEOID);
			break;
		case PCO_VALUE_TIMESTAMP:
			pco_append_datetime(buf, value, TIMESTAMPOID);
			break;
		case PCO_VALUE_TIMESTAMPTZ:
			pco_append_timestamptz(buf, DatumGetTimestampTz(value));
			break;
		case PCO_VALUE_JSONB:
			{
				struct varlena *v = (struct varlena *) DatumGetPointer(value);
				int			start = buf->len;

				/*
				 * A small jsonb stored with a 1-byte header: align it on the
				 * stack rather than have it detoasted into a new allocation.
				 * An out-of-line value has a 1-byte header too: it is a
				 * pointer, detoasted below.
				 */
				if (VARATT_IS_SHORT(v) && !VARATT_IS_EXTERNAL(v))
				{
					union
					{
						int32		align;
						char		data[VARHDRSZ + VARATT_SHORT_MAX];
					}			local;
					int			len = VARSIZE_SHORT(v) - VARHDRSZ_SHORT;

					SET_VARSIZE(local.data, len + VARHDRSZ);
					memcpy(local.data + VARHDRSZ, VARDATA_SHORT(v), len);
					pco_jsonb_container(buf, &((Jsonb *) local.data)->root);
				}
				else
					pco_jsonb_container(buf, &DatumGetJsonbP(value)->root);
				/* only a JSON null prints so */
				if (buf->len - start == 4 && memcmp(buf->data + start, "null", 4) == 0)
					pco_lossy = true;
				break;
			}
		case PCO_VALUE_JSON:
			pco_append_json_text(buf, DatumGetTextPP(value), true);
			break;
		case PCO_VALUE_JSONCAST:
			pco_append_json_text(buf, DatumGetTextPP(FunctionCall1(&enc->func,
																   value)),
								 false);
			break;
		case PCO_VALUE_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				pco_json_escape(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				break;
			}
		case PCO_VALUE_STRING:
			pco_json_escape(buf, OutputFunctionCall(&enc->func, value), -1);
			break;
		case PCO_VALUE_ARRAY:
			pco_append_array(buf, enc, value);
			break;
		case PCO_VALUE_COMPOSITE:
			pco_append_composite(buf, enc, value);
			break;
	}
}

/*
 * Would a json or jsonb value (of a column encoded by enc) lose something in
 * to_jsonb()'s form: is it JSON null, or json text that jsonb would print
 * otherwise?  Such a column is sent as pco_encode_text() writes it.
 */
bool
pco_json_lossy(PcoEncoder *enc, Datum value)
{
	if (enc->kind == PCO_VALUE_JSONB)
	{
		struct varlena *v = (struct varlena *) DatumGetPointer(value);
		const char *data;
		uint32		header;
		JEntry		entry;

		/* a JSON null is a few bytes, never compressed or out of line */
		if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
			return false;
		if (VARSIZE_ANY_EXHDR(v) < sizeof(uint32) + sizeof(JEntry))
			return false;
		data = VARDATA_ANY(v);
		memcpy(&header, data, sizeof(uint32));
		if ((header & JB_FSCALAR) == 0 || (header & JB_CMASK) != 1)
			return false;
		memcpy(&entry, data + sizeof(uint32), sizeof(JEntry));
		return JBE_ISNULL(entry);
	}
	if (enc->kind == PCO_VALUE_JSON)
	{
		StringInfoData scratch;
		bool		outer_lossy = pco_lossy;
		bool		lossy;

		initStringInfo(&scratch);
		pco_lossy = false;
		pco_append_json_text(&scratch, DatumGetTextPP(value), true);
		lossy = pco_lossy;
		pco_lossy = outer_lossy;
		pfree(scratch.data);
		return lossy;
	}
	return false;
}

/* Append a json or jsonb value's text as a JSON string */
void
pco_encode_text(StringInfo buf, PcoEncoder *enc, Datum value)
{
	if (enc->kind == PCO_VALUE_JSON)
	{
		text	   *t = DatumGetTextPP(value);

		pco_json_escape(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	else
		pco_json_escape(buf, DatumGetCString(DirectFunctionCall1(jsonb_out, value)),
						-1);
}
