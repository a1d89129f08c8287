/*-------------------------------------------------------------------------
 *
 * pattern.h
 *	  Table names and patterns of the "tables" syntax, shared by the output
 *	  plugin (its "tables" and "exclude_tables" options) and the extension
 *	  (a source's "tables" key), so that both read and match them alike.
 *
 * An item is a table name, optionally qualified by a schema name:
 * "public.orders", "\"Sales Dept\".\"Orders\"".  An unquoted part folds to
 * lower case and may hold '*', which matches any run of characters; a
 * quoted part ("" standing for ") is matched exactly.  An item without a
 * schema matches that table name in any schema.
 *
 * pattern.c is compiled into both libraries; it needs nothing but palloc
 * and lists.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_PATTERN_H
#define PGC_PATTERN_H

#include "nodes/pg_list.h"

typedef struct PgcTablePattern
{
	char	   *schema;			/* NULL: any schema */
	char	   *table;
	bool		schema_glob;	/* unquoted and holds a '*' */
	bool		table_glob;
	char	   *text;			/* the item as written, blanks trimmed */
} PgcTablePattern;

extern PgcTablePattern *pgc_pattern_parse_item(const char **p, const char **detail);
extern List *pgc_pattern_parse_list(const char *value, const char **detail);
extern bool pgc_pattern_match(const PgcTablePattern *pat, const char *schema,
							  const char *table);
extern bool pgc_pattern_list_match(List *patterns, const char *schema,
								   const char *table);
extern bool pgc_pattern_equal(const PgcTablePattern *a, const PgcTablePattern *b);

#endif							/* PGC_PATTERN_H */
