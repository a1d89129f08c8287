/*-------------------------------------------------------------------------
 *
 * protocol.h
 *	  The record layout shared by the output plugin pgconduit_output
 *	  (output_plugin/, the writer) and the pipeline worker (src/, the
 *	  reader), in the way logicalproto.h serves both ends of native logical
 *	  replication.
 *
 * Every record is one JSON object that starts
 *
 *		{"position":"<commit LSN>/<index>","operation":"<op>"
 *
 * where both halves of the position are 16 upper-case hex digits, so that
 * positions sort as text in the order records are sent.  The worker
 * relies on that beginning alone, read through pgc_proto_read() below:
 * the position, which tells it what it applied already, and the
 * operation.  With the plugin's option "include_relid", a change or
 * truncate record goes on with
 *
 *		,"metadata":{"postgres.relid":"<digits>"
 *
 * the OID of the table the record is reported under (the partition root's
 * under "via_partition_root"), as the first member of its metadata.
 *
 * Positions and LSN texts are formatted and parsed here only.  Plain C:
 * the includer includes postgres.h first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_PROTOCOL_H
#define PGC_PROTOCOL_H

#include "access/xlogdefs.h"
#include "port/pg_bswap.h"

/* A position: 16 hex digits, '/', 16 hex digits */
#define PGC_POSITION_LEN	33

/* The record's beginning, up to the operation's name */
#define PGC_PROTO_PREFIX		"{\"position\":\""
#define PGC_PROTO_PREFIX_LEN	13
#define PGC_PROTO_OPERATION		"\",\"operation\":\""
#define PGC_PROTO_OPERATION_LEN 15
#define PGC_PROTO_POSITION_OFFSET	PGC_PROTO_PREFIX_LEN
#define PGC_PROTO_OPERATION_OFFSET \
	(PGC_PROTO_PREFIX_LEN + PGC_POSITION_LEN + PGC_PROTO_OPERATION_LEN)

/* What follows the operation's name: the metadata */
#define PGC_PROTO_METADATA	"\",\"metadata\":{"

/* its first member with "include_relid" */
#define PGC_PROTO_RELID_MEMBER	"\"postgres.relid\":\""
#define PGC_PROTO_RELID		PGC_PROTO_METADATA PGC_PROTO_RELID_MEMBER
#define PGC_PROTO_RELID_LEN 32

StaticAssertDecl(sizeof(PGC_PROTO_PREFIX) - 1 == PGC_PROTO_PREFIX_LEN &&
				 sizeof(PGC_PROTO_OPERATION) - 1 == PGC_PROTO_OPERATION_LEN &&
				 sizeof(PGC_PROTO_RELID) - 1 == PGC_PROTO_RELID_LEN,
				 "protocol.h lengths do not match its strings");

/* The operations, as records name them */
#define PGC_OP_CREATE	"create"
#define PGC_OP_UPDATE	"update"
#define PGC_OP_DELETE	"delete"
#define PGC_OP_TRUNCATE "truncate"
#define PGC_OP_SNAPSHOT "snapshot"	/* written by the worker, not the plugin */
#define PGC_OP_BEGIN	"begin"
#define PGC_OP_COMMIT	"commit"
#define PGC_OP_MESSAGE	"message"

typedef enum PgcProtoOp
{
	PGC_PROTO_OTHER,			/* an operation this header does not know */
	PGC_PROTO_CREATE,
	PGC_PROTO_UPDATE,
	PGC_PROTO_DELETE,
	PGC_PROTO_TRUNCATE,
	PGC_PROTO_SNAPSHOT,
	PGC_PROTO_BEGIN,
	PGC_PROTO_COMMIT,
	PGC_PROTO_MESSAGE
} PgcProtoOp;

/* What pgc_proto_read() finds at a record's beginning */
typedef struct PgcProtoRecord
{
	const char *position;		/* PGC_POSITION_LEN bytes, in the record */
	XLogRecPtr	commit;			/* the position's commit LSN */
	PgcProtoOp	op;
	const char *op_end;			/* the '"' after the operation's name */
} PgcProtoRecord;

/*
 * Write x as 8 upper-case hex digits.  The plugin writes two halves of a
 * position per record, so this works on all of x at once: each nibble is
 * spread into a byte of a 64-bit word, then every byte becomes its digit
 * ('0' + n, and 7 more for A-F) with the same additions.
 */
static inline void
pgc_proto_hex8(char *out, uint32 x)
{
	uint64		v = x;
	uint64		letters;

	v = ((v & UINT64CONST(0xFFFF0000)) << 16) | (v & UINT64CONST(0x0000FFFF));
	v = ((v & UINT64CONST(0x0000FF000000FF00)) << 8) |
		(v & UINT64CONST(0x000000FF000000FF));
	v = ((v & UINT64CONST(0x00F000F000F000F0)) << 4) |
		(v & UINT64CONST(0x000F000F000F000F));
	/* 1 in the bytes that hold 10 to 15 */
	letters = ((v + UINT64CONST(0x0606060606060606)) >> 4) &
		UINT64CONST(0x0101010101010101);
	v += UINT64CONST(0x3030303030303030) + letters * 7;
	/* the first digit is the word's most significant byte */
	v = pg_hton64(v);
	memcpy(out, &v, 8);
}

/* Write v as 16 upper-case hex digits, fixed width, not terminated */
static inline void
pgc_proto_hex16(char *out, uint64 v)
{
	pgc_proto_hex8(out, (uint32) (v >> 32));
	pgc_proto_hex8(out + 8, (uint32) v);
}

/*
 * The one position formatter: write <commit>/<index> into out, which has
 * room for PGC_POSITION_LEN + 1 bytes, NUL-terminated.  A snapshot's rows
 * are at 0/n, so they sort before any change; a snapshot's cut is <cut>/0.
 */
static inline void
pgc_proto_position(char *out, XLogRecPtr commit, uint64 index)
{
	pgc_proto_hex16(out, commit);
	out[16] = '/';
	pgc_proto_hex16(out + 17, index);
	out[PGC_POSITION_LEN] = '\0';
}

/*
 * The one parser of a position's commit LSN: its first 16 hex digits.
 * Returns false if they are not 16 upper-case hex digits followed by '/'.
 */
static inline bool
pgc_proto_position_commit(const char *position, XLogRecPtr *commit)
{
	uint64		v = 0;

	for (int i = 0; i < 16; i++)
	{
		char		c = position[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return false;
	}
	if (position[16] != '/')
		return false;
	*commit = v;
	return true;
}

/*
 * The one parser of an LSN as PostgreSQL prints it ("%X/%X", pg_lsn's
 * text): 1 to 8 hex digits, '/', 1 to 8 hex digits, nothing else.
 * Returns false for anything else.
 */
static inline bool
pgc_proto_parse_lsn(const char *s, XLogRecPtr *lsn)
{
	uint64		half[2] = {0, 0};

	for (int h = 0; h < 2; h++)
	{
		int			n = 0;

		for (; n < 9; n++, s++)
		{
			char		c = *s;

			if (c >= '0' && c <= '9')
				half[h] = (half[h] << 4) | (c - '0');
			else if (c >= 'A' && c <= 'F')
				half[h] = (half[h] << 4) | (c - 'A' + 10);
			else if (c >= 'a' && c <= 'f')
				half[h] = (half[h] << 4) | (c - 'a' + 10);
			else
				break;
		}
		if (n == 0 || n > 8)
			return false;
		if (*s != (h == 0 ? '/' : '\0'))
			return false;
		s++;
	}
	*lsn = (half[0] << 32) | half[1];
	return true;
}

/* The operation named at name, up to the closing '"' */
static inline PgcProtoOp
pgc_proto_op(const char *name, int len)
{
#define PGC_PROTO_IS(lit) \
	(len == (int) sizeof(lit) - 1 && memcmp(name, lit, len) == 0)
	if (PGC_PROTO_IS(PGC_OP_CREATE))
		return PGC_PROTO_CREATE;
	if (PGC_PROTO_IS(PGC_OP_UPDATE))
		return PGC_PROTO_UPDATE;
	if (PGC_PROTO_IS(PGC_OP_DELETE))
		return PGC_PROTO_DELETE;
	if (PGC_PROTO_IS(PGC_OP_TRUNCATE))
		return PGC_PROTO_TRUNCATE;
	if (PGC_PROTO_IS(PGC_OP_SNAPSHOT))
		return PGC_PROTO_SNAPSHOT;
	if (PGC_PROTO_IS(PGC_OP_BEGIN))
		return PGC_PROTO_BEGIN;
	if (PGC_PROTO_IS(PGC_OP_COMMIT))
		return PGC_PROTO_COMMIT;
	if (PGC_PROTO_IS(PGC_OP_MESSAGE))
		return PGC_PROTO_MESSAGE;
#undef PGC_PROTO_IS
	return PGC_PROTO_OTHER;
}

/*
 * Read the beginning of a record of len bytes: its position, commit LSN
 * and operation.  Returns false if the record does not start as this
 * header says every record does.
 */
static inline bool
pgc_proto_read(const char *rec, int len, PgcProtoRecord *r)
{
	const char *op;
	const char *end;

	if (len < PGC_PROTO_OPERATION_OFFSET + 1 ||
		memcmp(rec, PGC_PROTO_PREFIX, PGC_PROTO_PREFIX_LEN) != 0 ||
		memcmp(rec + PGC_PROTO_PREFIX_LEN + PGC_POSITION_LEN,
			   PGC_PROTO_OPERATION, PGC_PROTO_OPERATION_LEN) != 0)
		return false;
	r->position = rec + PGC_PROTO_POSITION_OFFSET;
	if (!pgc_proto_position_commit(r->position, &r->commit))
		return false;
	op = rec + PGC_PROTO_OPERATION_OFFSET;
	end = memchr(op, '"', len - PGC_PROTO_OPERATION_OFFSET);
	if (end == NULL)
		return false;
	r->op = pgc_proto_op(op, end - op);
	r->op_end = end;
	return true;
}

/*
 * The source relid of a change or truncate record read by pgc_proto_read()
 * (rec of len bytes), written with "include_relid"; InvalidOid if the
 * record carries none.
 */
static inline Oid
pgc_proto_relid(const char *rec, int len, const PgcProtoRecord *r)
{
	const char *p = r->op_end;
	const char *end = rec + len;
	uint64		v = 0;
	int			n = 0;

	if (end - p < PGC_PROTO_RELID_LEN + 2 ||
		memcmp(p, PGC_PROTO_RELID, PGC_PROTO_RELID_LEN) != 0)
		return InvalidOid;
	for (p += PGC_PROTO_RELID_LEN; p < end && *p >= '0' && *p <= '9'; p++, n++)
	{
		v = v * 10 + (*p - '0');
		if (v > PG_UINT32_MAX)
			return InvalidOid;
	}
	if (n == 0 || p >= end || *p != '"')
		return InvalidOid;
	return (Oid) v;
}

#endif							/* PGC_PROTOCOL_H */
