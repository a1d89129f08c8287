/*-------------------------------------------------------------------------
 *
 * write_binary.c
 *	  A batch of records handed over as jsonb's own binary layout.
 *
 * Parsing a batch's JSON text is about as much work as applying it.  The
 * pipeline worker, which otherwise mostly waits, parses each batch while
 * the destination applies the one before, and sends the jsonb as it lies
 * in memory; pgconduit._jsonb_from_bytes() takes it back after checking
 * every offset, length, type tag, string and number in it, so that bytes
 * from a client can never make the server read outside them.  The check
 * costs a fraction of a parse.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(pgconduit_jsonb_from_bytes);
PG_FUNCTION_INFO_V1(pgconduit_jsonb_to_bytes);

/* numeric's header, as numeric.c lays it out */
#define PGCB_NUMERIC_SIGN_MASK	0xC000
#define PGCB_NUMERIC_SHORT		0x8000
#define PGCB_NUMERIC_SPECIAL	0xC000
#define PGCB_NUMERIC_NAN		0xC000
#define PGCB_NUMERIC_PINF		0xD000
#define PGCB_NUMERIC_NINF		0xF000
#define PGCB_NBASE				10000

static void
bad_bytes(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid jsonb batch: %s", what)));
}

/* A numeric of len bytes at p: a plain varlena of sane header and digits */
static void
check_numeric(const char *p, uint32 len)
{
	uint16		header;
	uint32		size;
	uint32		hdrsz;

	if (len < VARHDRSZ + sizeof(uint16) || !VARATT_IS_4B_U(p))
		bad_bytes("bad numeric");
	size = VARSIZE(p);
	if (size > len || size < VARHDRSZ + sizeof(uint16))
		bad_bytes("bad numeric length");
	memcpy(&header, p + VARHDRSZ, sizeof(uint16));
	if ((header & PGCB_NUMERIC_SIGN_MASK) == PGCB_NUMERIC_SPECIAL)
	{
		if ((header != PGCB_NUMERIC_NAN && header != PGCB_NUMERIC_PINF &&
			 header != PGCB_NUMERIC_NINF) || size != VARHDRSZ + sizeof(uint16))
			bad_bytes("bad special numeric");
		return;
	}
	hdrsz = VARHDRSZ + sizeof(uint16) +
		((header & PGCB_NUMERIC_SHORT) ? 0 : sizeof(int16));
	if (size < hdrsz || (size - hdrsz) % sizeof(int16) != 0)
		bad_bytes("bad numeric length");
	for (uint32 off = hdrsz; off < size; off += sizeof(int16))
	{
		int16		digit;

		memcpy(&digit, p + off, sizeof(int16));
		if (digit < 0 || digit >= PGCB_NBASE)
			bad_bytes("bad numeric digit");
	}
}

/*
 * A container of exactly len bytes at base (int-aligned): its header, its
 * entries' types and extents, object keys in jsonb's order, and every value.
 */
static void
check_container(const char *base, uint32 len, bool root)
{
	uint32		header;
	uint32		count;
	uint32		nentries;
	const JEntry *entries;
	const char *data;
	uint32		datalen;
	uint32		start = 0;
	bool		object;
	const char *prevkey = NULL;
	uint32		prevkeylen = 0;

	check_stack_depth();
	if (len < sizeof(uint32))
		bad_bytes("truncated container");
	memcpy(&header, base, sizeof(uint32));
	count = header & JB_CMASK;
	object = (header & JB_FOBJECT) != 0;
	if (object == ((header & JB_FARRAY) != 0) ||
		(header & ~(JB_CMASK | JB_FOBJECT | JB_FARRAY | JB_FSCALAR)) != 0 ||
		((header & JB_FSCALAR) != 0 && (object || !root || count != 1)))
		bad_bytes("bad container header");
	nentries = object ? count * 2 : count;
	if ((uint64) nentries * sizeof(JEntry) > len - sizeof(uint32))
		bad_bytes("truncated container");
	entries = (const JEntry *) (base + sizeof(uint32));
	data = base + sizeof(uint32) + nentries * sizeof(JEntry);
	datalen = len - sizeof(uint32) - nentries * sizeof(JEntry);

	for (uint32 i = 0; i < nentries; i++)
	{
		JEntry		e = entries[i];
		uint32		end = JBE_HAS_OFF(e) ? JBE_OFFLENFLD(e) : start + JBE_OFFLENFLD(e);
		uint32		aligned = INTALIGN(start);
		const char *v = data + start;
		uint32		vlen;

		if (end < start || end > datalen)
			bad_bytes("value out of bounds");
		vlen = end - start;
		if (object && i < count && !JBE_ISSTRING(e))
			bad_bytes("object key is not a string");
		switch (e & JENTRY_TYPEMASK)
		{
			case JENTRY_ISSTRING:
				if (!pg_verify_mbstr(GetDatabaseEncoding(), v, vlen, true))
					bad_bytes("invalid string");
				if (object && i < count)
				{
					if (prevkey != NULL &&
						(vlen < prevkeylen ||
						 (vlen == prevkeylen && memcmp(prevkey, v, vlen) >= 0)))
						bad_bytes("object keys out of order");
					prevkey = v;
					prevkeylen = vlen;
				}
				break;
			case JENTRY_ISNUMERIC:
				if (aligned > end)
					bad_bytes("value out of bounds");
				check_numeric(data + aligned, end - aligned);
				break;
			case JENTRY_ISBOOL_FALSE:
			case JENTRY_ISBOOL_TRUE:
			case JENTRY_ISNULL:
				if (vlen != 0)
					bad_bytes("bad scalar length");
				break;
			case JENTRY_ISCONTAINER:
				if (aligned > end)
					bad_bytes("value out of bounds");
				check_container(data + aligned, end - aligned, false);
				break;
			default:
				bad_bytes("bad value type");
		}
		start = end;
	}
	if (start != datalen)
		bad_bytes("bytes after the last value");
}

/*
 * The jsonb whose root container's bytes are the argument, after checking
 * them all.
 */
Datum
pgconduit_jsonb_from_bytes(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	uint32		len = VARSIZE_ANY_EXHDR(in);
	Jsonb	   *out;

	/* a fresh copy: 4-byte header, root container int-aligned */
	out = palloc(VARHDRSZ + len);
	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), VARDATA_ANY(in), len);
	check_container(VARDATA(out), len, true);
	PG_RETURN_JSONB_P(out);
}

/* The bytes of a jsonb's root container: what the worker sends */
Datum
pgconduit_jsonb_to_bytes(PG_FUNCTION_ARGS)
{
	Jsonb	   *in = PG_GETARG_JSONB_P(0);
	uint32		len = VARSIZE(in) - VARHDRSZ;
	bytea	   *out = palloc(VARHDRSZ + len);

	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), VARDATA(in), len);
	PG_RETURN_BYTEA_P(out);
}
