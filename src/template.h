/*-------------------------------------------------------------------------
 *
 * template.h
 *	  Destination table templates: a destination's "table" with {schema}
 *	  and {table}, filled in from each record's table name.
 *
 * A template is a table name in SQL syntax, optionally qualified by a
 * schema, in which {schema} and {table} stand for the schema part and the
 * table part of a record's metadata.table.  The values go in exactly as
 * they are (never folded, as if quoted), so "Sales Dept" and a name with
 * dots or quotes arrive intact; unquoted letters of the template fold to
 * lower case as in SQL.  A brace that is not a placeholder is written
 * twice inside a quoted name ({{ and }}); any other brace is an error.  A
 * string without braces is a plain SQL name and never goes through here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_TEMPLATE_H
#define PGC_TEMPLATE_H

#include "nodes/pg_list.h"
#include "nodes/primnodes.h"

typedef struct PgcTemplate PgcTemplate;

/* is s read as a template (it has braces) rather than as a plain name? */
extern bool pgc_template_syntax(const char *s);

/*
 * Parse and check a template; an ERROR "invalid value for <what>: ..."
 * for a bad one.
 */
extern PgcTemplate *pgc_template_parse(const char *s, const char *what);

/* does the template hold {schema} or {table}? */
extern bool pgc_template_has_placeholders(const PgcTemplate *t);

/*
 * The table a template names for a record's table name (a possibly
 * qualified SQL name, as in metadata.table; NULL for a template without
 * placeholders).  A name without schema fills {schema} with the current
 * schema, where an unqualified CREATE TABLE would create the table.
 */
extern RangeVar *pgc_template_rangevar(const PgcTemplate *t,
									   const char *record_table);

/* the same, with the table part given as an exact name (no schema) */
extern RangeVar *pgc_template_rangevar_exact(const PgcTemplate *t,
											 const char *table);

/*
 * A fixed destination table name: a plain SQL name, or a template without
 * placeholders (braces doubled); ERROR naming <what> for a template with
 * placeholders or a bad one.
 */
extern RangeVar *pgc_destination_rangevar(const char *name, const char *what);

/* a RangeVar as an SQL name, quoted where needed */
extern char *pgc_rangevar_sql(const RangeVar *rv);

/* an SQL name with its braces doubled, to be read as a template */
extern char *pgc_template_escape(const char *name);

#endif							/* PGC_TEMPLATE_H */
