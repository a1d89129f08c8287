/*-------------------------------------------------------------------------
 *
 * pattern.c
 *	  Parsing and matching of table names and patterns ("tables" syntax).
 *
 * This file is compiled into both the output plugin and the extension, so
 * that a pattern the plugin is given and one a source's configuration
 * holds mean the same tables.  It raises no ERROR itself: a parser reports
 * what is wrong as an errdetail sentence, and each caller raises its own
 * error naming its option or configuration key.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "pattern.h"

#define PGC_PATTERN_ENTRY_DETAIL \
	"Each entry must be a table name, optionally schema-qualified, such as public.orders, \"My Table\" or sales.*."
#define PGC_PATTERN_SEPARATOR_DETAIL \
	"Entries must be separated by commas, and a name has at most two parts."

/*
 * Read one part (schema or table) of an item at *s: a quoted part is taken
 * as written ("" standing for ") and matched exactly, an unquoted one is
 * folded to lower case and may hold '*' (*glob says whether it does).
 * Returns NULL and sets *detail if the part is empty or not closed.
 */
static char *
pgc_pattern_part(const char **s, bool *glob, const char **detail)
{
	StringInfoData buf;
	const char *p = *s;

	initStringInfo(&buf);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"')
	{
		p++;
		for (;;)
		{
			if (*p == '\0')
			{
				*detail = "A quoted identifier is not closed.";
				return NULL;
			}
			if (*p == '"')
			{
				if (p[1] != '"')
					break;
				p++;
			}
			appendStringInfoChar(&buf, *p++);
		}
		p++;
		*glob = false;
	}
	else
	{
		while (*p && *p != '.' && *p != ',' && *p != ' ' && *p != '\t' && *p != '"')
		{
			appendStringInfoChar(&buf, pg_ascii_tolower((unsigned char) *p));
			p++;
		}
		*glob = (strchr(buf.data, '*') != NULL);
	}
	if (buf.len == 0)
	{
		*detail = PGC_PATTERN_ENTRY_DETAIL;
		return NULL;
	}
	*s = p;
	return buf.data;
}

/*
 * Parse one item at *p, which must end at a comma or at the end of the
 * string; *p is left there.  Returns NULL and sets *detail if the item is
 * malformed.
 */
PgcTablePattern *
pgc_pattern_parse_item(const char **p, const char **detail)
{
	PgcTablePattern *pat = palloc0(sizeof(PgcTablePattern));
	const char *s = *p;
	const char *start;
	const char *end;
	bool		glob;
	char	   *first;

	while (*s == ' ' || *s == '\t')
		s++;
	start = s;
	first = pgc_pattern_part(&s, &glob, detail);
	if (first == NULL)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '.')
	{
		s++;
		pat->schema = first;
		pat->schema_glob = glob;
		pat->table = pgc_pattern_part(&s, &pat->table_glob, detail);
		if (pat->table == NULL)
			return NULL;
	}
	else
	{
		pat->table = first;
		pat->table_glob = glob;
	}
	end = s;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0' && *s != ',')
	{
		*detail = PGC_PATTERN_SEPARATOR_DETAIL;
		return NULL;
	}
	pat->text = pnstrdup(start, end - start);
	*p = s;
	return pat;
}

/*
 * Parse a comma-separated list of items.  Returns the PgcTablePattern
 * list, or NIL with *detail set if an item is malformed or empty.
 */
List *
pgc_pattern_parse_list(const char *value, const char **detail)
{
	List	   *patterns = NIL;
	const char *p = value;

	for (;;)
	{
		PgcTablePattern *pat = pgc_pattern_parse_item(&p, detail);

		if (pat == NULL)
			return NIL;
		patterns = lappend(patterns, pat);
		if (*p == '\0')
			break;
		p++;					/* the comma */
	}
	return patterns;
}

/* Does str match glob, in which '*' stands for any run of characters? */
static bool
pgc_pattern_glob(const char *glob, const char *str)
{
	const char *star = NULL;
	const char *retry = NULL;

	while (*str)
	{
		if (*glob == '*')
		{
			star = glob++;
			retry = str;
		}
		else if (*glob == *str)
		{
			glob++;
			str++;
		}
		else if (star)
		{
			glob = star + 1;
			str = ++retry;
		}
		else
			return false;
	}
	while (*glob == '*')
		glob++;
	return *glob == '\0';
}

/* Does the pattern match the table schema.table? */
bool
pgc_pattern_match(const PgcTablePattern *pat, const char *schema,
				  const char *table)
{
	if (pat->schema != NULL &&
		!(pat->schema_glob ? pgc_pattern_glob(pat->schema, schema) :
		  strcmp(pat->schema, schema) == 0))
		return false;
	return pat->table_glob ? pgc_pattern_glob(pat->table, table) :
		strcmp(pat->table, table) == 0;
}

/* Does one of patterns match the table schema.table? */
bool
pgc_pattern_list_match(List *patterns, const char *schema, const char *table)
{
	ListCell   *lc;

	foreach(lc, patterns)
	{
		if (pgc_pattern_match(lfirst(lc), schema, table))
			return true;
	}
	return false;
}

/* Do two items mean the same (after folding), whatever their spelling? */
bool
pgc_pattern_equal(const PgcTablePattern *a, const PgcTablePattern *b)
{
	if ((a->schema == NULL) != (b->schema == NULL))
		return false;
	if (a->schema != NULL &&
		(a->schema_glob != b->schema_glob || strcmp(a->schema, b->schema) != 0))
		return false;
	return a->table_glob == b->table_glob && strcmp(a->table, b->table) == 0;
}
