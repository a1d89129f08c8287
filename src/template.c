/*-------------------------------------------------------------------------
 *
 * template.c
 *	  Destination table templates ({schema} and {table}): parsing, checks
 *	  and filling in.
 *
 * The destination connector's "table" (checked by config.c when stored)
 * and the table_override of pgconduit._write() (resolved by write.c for
 * each record, by the worker once for a one-table source) are read here
 * when they hold braces.  A template is parsed once into its parts
 * (schema and table, or table alone), each a list of literal text, already
 * folded or unquoted as SQL reads it, and placeholders.  Filling it in
 * joins each part's pieces into one exact name, so the result never needs
 * to be parsed again and odd names cannot change its meaning.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "compat.h"
#include "template.h"

typedef enum PgcTplPieceKind
{
	PGC_TPL_TEXT,				/* literal text, exact */
	PGC_TPL_SCHEMA,				/* {schema} */
	PGC_TPL_TABLE				/* {table} */
} PgcTplPieceKind;

typedef struct PgcTplPiece
{
	PgcTplPieceKind kind;
	char	   *text;			/* PGC_TPL_TEXT */
} PgcTplPiece;

/* one part of the name: the schema or the table */
typedef struct PgcTplPart
{
	int			npieces;
	PgcTplPiece *pieces;
} PgcTplPart;

struct PgcTemplate
{
	char	   *text;			/* as written */
	int			nparts;			/* 1 (table) or 2 (schema.table) */
	PgcTplPart	parts[2];
	bool		uses_schema;
	bool		uses_table;
};

/* can c continue an unquoted SQL identifier? */
#define IDENT_CHAR(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
					   ((c) >= '0' && (c) <= '9') || (c) == '_' || (c) == '$' || \
					   IS_HIGHBIT_SET(c))
/* can c start one? */
#define IDENT_START(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
						(c) == '_' || IS_HIGHBIT_SET(c))

#define BRACE_HINT "The placeholders are {schema} and {table}; inside a double-quoted name, {{ and }} stand for the braces themselves."

/* is s read as a template? */
bool
pgc_template_syntax(const char *s)
{
	return strchr(s, '{') != NULL || strchr(s, '}') != NULL;
}

/* does it hold a placeholder? */
bool
pgc_template_has_placeholders(const PgcTemplate *t)
{
	return t->uses_schema || t->uses_table;
}

/* ERROR about template s, given as <what> */
static void
template_error(const char *what, const char *s, int code, const char *detail,
			   const char *hint)
{
	ereport(ERROR,
			(errcode(code),
			 errmsg("invalid value for %s: \"%s\"", what, s),
			 errdetail_internal("%s", detail),
			 hint ? errhint("%s", hint) : 0));
}

/* the placeholder at p ("{schema}" or "{table}"), with its length; or none */
static PgcTplPieceKind
placeholder_at(const char *p, int *len)
{
	if (strncmp(p, "{schema}", 8) == 0)
	{
		*len = 8;
		return PGC_TPL_SCHEMA;
	}
	if (strncmp(p, "{table}", 7) == 0)
	{
		*len = 7;
		return PGC_TPL_TABLE;
	}
	*len = 0;
	return PGC_TPL_TEXT;
}

/* ERROR for a brace at p that is neither a placeholder nor, quoted, doubled */
static void
brace_error(const char *what, const char *s, const char *p, bool quoted)
{
	const char *q = p + 1;

	if (*p == '{')
	{
		while (IDENT_CHAR(*q))
			q++;
		if (*q == '}' && q > p + 1)
			template_error(what, s, ERRCODE_INVALID_PARAMETER_VALUE,
						   psprintf("%s is not a placeholder.", pnstrdup(p, q - p + 1)),
						   BRACE_HINT);
	}
	if (!quoted && (p[0] == p[1]))
		template_error(what, s, ERRCODE_INVALID_NAME,
					   "A brace can be part of a name only inside double quotes.",
					   BRACE_HINT);
	template_error(what, s, ERRCODE_INVALID_NAME,
				   psprintf("The brace at \"%s\" is not part of a placeholder.", p),
				   BRACE_HINT);
}

/*
 * Parse one part at *pp into part, up to (not including) the '.' or the
 * end; *min_bytes gets its length with one-byte values for placeholders.
 */
static void
parse_part(const char *what, const char *s, const char **pp, PgcTplPart *part,
		   bool *uses_schema, bool *uses_table, int *min_bytes)
{
	const char *p = *pp;
	StringInfoData lit;
	List	   *pieces = NIL;
	ListCell   *lc;
	bool		quoted = (*p == '"');
	int			bytes = 0;
	int			i;

	initStringInfo(&lit);
	if (quoted)
		p++;
	else if (!IDENT_START(*p) && *p != '{')
		template_error(what, s, ERRCODE_INVALID_NAME,
					   *p == '\0' || *p == '.' ? "A name is missing before or after a dot." :
					   "The value must be a table name, optionally qualified by a schema name, in SQL syntax.",
					   "Put a name that is not a plain SQL identifier in double quotes.");

	for (;;)
	{
		int			len;
		PgcTplPieceKind kind;
		const char *start = p;

		if (quoted && *p == '\0')
			template_error(what, s, ERRCODE_INVALID_NAME,
						   "A quoted name is not closed.", NULL);
		if (quoted && *p == '"' && p[1] != '"')
		{
			p++;
			break;
		}
		if (!quoted && *p != '{' && *p != '}' && !IDENT_CHAR(*p))
			break;

		kind = (*p == '{') ? placeholder_at(p, &len) : PGC_TPL_TEXT;
		if (kind != PGC_TPL_TEXT)
		{
			PgcTplPiece *piece;

			if (lit.len > 0)
			{
				piece = palloc0(sizeof(PgcTplPiece));
				piece->kind = PGC_TPL_TEXT;
				piece->text = pstrdup(lit.data);
				pieces = lappend(pieces, piece);
				resetStringInfo(&lit);
			}
			piece = palloc0(sizeof(PgcTplPiece));
			piece->kind = kind;
			pieces = lappend(pieces, piece);
			if (kind == PGC_TPL_SCHEMA)
				*uses_schema = true;
			else
				*uses_table = true;
			bytes++;
			p += len;
			continue;
		}
		if (*p == '{' || *p == '}')
		{
			if (!quoted || p[1] != p[0])
				brace_error(what, s, p, quoted);
			appendStringInfoChar(&lit, *p);
			bytes++;
			p += 2;
			continue;
		}
		if (quoted)
		{
			/* a doubled quote is one */
			appendStringInfoChar(&lit, *p);
			p += (*p == '"') ? 2 : 1;
			bytes++;
			continue;
		}
		/* a run of plain identifier characters, folded as SQL folds them */
		while (IDENT_CHAR(*p))
			p++;
		{
			char	   *folded = downcase_identifier(start, p - start, false, false);

			appendStringInfoString(&lit, folded);
			bytes += strlen(folded);
		}
	}
	if (lit.len > 0)
	{
		PgcTplPiece *piece = palloc0(sizeof(PgcTplPiece));

		piece->kind = PGC_TPL_TEXT;
		piece->text = pstrdup(lit.data);
		pieces = lappend(pieces, piece);
	}
	if (pieces == NIL)
		template_error(what, s, ERRCODE_INVALID_NAME, "A quoted name is empty.", NULL);

	part->npieces = list_length(pieces);
	part->pieces = palloc(sizeof(PgcTplPiece) * part->npieces);
	i = 0;
	foreach(lc, pieces)
		part->pieces[i++] = *(PgcTplPiece *) lfirst(lc);
	*min_bytes = bytes;
	*pp = p;
}

/*
 * Parse and check a template: one or two parts separated by a dot, white
 * space around them, and no name longer than PostgreSQL's limit even with
 * one-letter values in its placeholders.
 */
PgcTemplate *
pgc_template_parse(const char *s, const char *what)
{
	PgcTemplate *t = palloc0(sizeof(PgcTemplate));
	const char *p = s;

	t->text = pstrdup(s);
	for (;;)
	{
		int			bytes;

		if (t->nparts == 2)
			template_error(what, s, ERRCODE_INVALID_NAME,
						   "A table name may be qualified by a schema name only.", NULL);
		while (scanner_isspace(*p))
			p++;
		parse_part(what, s, &p, &t->parts[t->nparts], &t->uses_schema,
				   &t->uses_table, &bytes);
		if (bytes >= NAMEDATALEN)
			template_error(what, s, ERRCODE_NAME_TOO_LONG,
						   psprintf("A name it makes is at least %d bytes long; names are at most %d bytes long.",
									bytes, NAMEDATALEN - 1), NULL);
		t->nparts++;
		while (scanner_isspace(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != '.')
			template_error(what, s, ERRCODE_INVALID_NAME,
						   "The value must be a table name, optionally qualified by a schema name, in SQL syntax.",
						   "Put a name that is not a plain SQL identifier in double quotes.");
		p++;
	}
	return t;
}

/* fill in one part; ERROR if the name is too long for PostgreSQL */
static char *
fill_part(const PgcTemplate *t, const PgcTplPart *part, const char *schema,
		  const char *table)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < part->npieces; i++)
	{
		const PgcTplPiece *piece = &part->pieces[i];

		appendStringInfoString(&buf, piece->kind == PGC_TPL_TEXT ? piece->text :
							   piece->kind == PGC_TPL_SCHEMA ? schema : table);
	}
	if (buf.len >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("table name \"%s\" made by template \"%s\" is too long",
						buf.data, t->text),
				 errdetail("The name is %d bytes long; names are at most %d bytes long.",
						   buf.len, NAMEDATALEN - 1),
				 errhint("Shorten the table names, or the template.")));
	return buf.data;
}

/*
 * The current schema, for {schema} of a table name without one: where an
 * unqualified CREATE TABLE would create it (current_schema()).
 */
static char *
default_schema(const PgcTemplate *t, const char *table)
{
	List	   *path = fetch_search_path(false);
	char	   *name = NULL;

	if (path != NIL)
		name = get_namespace_name(linitial_oid(path));
	list_free(path);
	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("no schema has been selected to fill in {schema} of template \"%s\"",
						t->text),
				 errdetail("The record's table name \"%s\" has no schema, and no schema of the search path exists.",
						   table),
				 errhint("Qualify the records' table names with a schema, or set search_path.")));
	return name;
}

/* fill in the template with the given schema (or NULL) and table */
static RangeVar *
template_fill(const PgcTemplate *t, const char *catalog, const char *schema,
			  const char *table)
{
	RangeVar   *rv;

	if (t->uses_schema && schema == NULL)
		schema = default_schema(t, table);
	rv = makeRangeVar(NULL, NULL, -1);
	if (t->nparts == 2)
	{
		rv->catalogname = catalog ? pstrdup(catalog) : NULL;
		rv->schemaname = fill_part(t, &t->parts[0], schema, table);
	}
	rv->relname = fill_part(t, &t->parts[t->nparts - 1], schema, table);
	return rv;
}

/* see template.h */
RangeVar *
pgc_template_rangevar(const PgcTemplate *t, const char *record_table)
{
	RangeVar   *src;

	if (!pgc_template_has_placeholders(t))
		return template_fill(t, NULL, NULL, NULL);
	src = makeRangeVarFromNameList(pgc_qualified_name_list(pstrdup(record_table)));
	return template_fill(t, src->catalogname, src->schemaname, src->relname);
}

/* see template.h */
RangeVar *
pgc_template_rangevar_exact(const PgcTemplate *t, const char *table)
{
	return template_fill(t, NULL, NULL, table);
}

/* see template.h */
RangeVar *
pgc_destination_rangevar(const char *name, const char *what)
{
	PgcTemplate *t;

	if (!pgc_template_syntax(name))
		return makeRangeVarFromNameList(pgc_qualified_name_list(pstrdup(name)));
	t = pgc_template_parse(name, what);
	if (pgc_template_has_placeholders(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for %s: \"%s\"", what, name),
				 errdetail("A template with {schema} or {table} cannot name the table here.")));
	return template_fill(t, NULL, NULL, NULL);
}

/* see template.h */
char *
pgc_rangevar_sql(const RangeVar *rv)
{
	if (rv->schemaname == NULL)
		return pstrdup(quote_identifier(rv->relname));
	return quote_qualified_identifier(rv->schemaname, rv->relname);
}

/* see template.h */
char *
pgc_template_escape(const char *name)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *p = name; *p; p++)
	{
		appendStringInfoChar(&buf, *p);
		if (*p == '{' || *p == '}')
			appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}
