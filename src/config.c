/*-------------------------------------------------------------------------
 *
 * config.c
 *	  Validation and parsing of connector configurations.
 *
 * A connector's configuration is a jsonb object whose values are Conduit
 * style strings ("snapshot": "off") or JSON scalars ("snapshot": false).
 * This file checks such an object against the keys a source or destination
 * accepts, raising an ERROR that names the offending key, and turns it into
 * the C structs of config.h that the pipeline worker and the destination
 * use.  It never connects anywhere: a url is only parsed by libpq.  Whether
 * the table exists is for the worker to find out at the source.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/varlena.h"

#include "config.h"
#include "pattern.h"
#include "pgconduit.h"
#include "pq.h"
#include "template.h"

/* The type of value a configuration key takes */
typedef enum PgcKeyType
{
	PGC_KEY_STRING,
	PGC_KEY_BOOL,
	PGC_KEY_INT,
	PGC_KEY_NAMES,				/* comma-separated string or array of strings */
	PGC_KEY_NAMES_BY_TABLE		/* like PGC_KEY_NAMES, or an object of them
								 * keyed by table name */
} PgcKeyType;

typedef struct PgcKeySpec
{
	const char *key;
	PgcKeyType	type;
	bool		required;
} PgcKeySpec;

static const PgcKeySpec source_keys[] = {
	{"table", PGC_KEY_STRING, false},	/* this or "tables" */
	{"tables", PGC_KEY_NAMES, false},
	{"url", PGC_KEY_STRING, true},
	{"columns", PGC_KEY_NAMES_BY_TABLE, false},
	{"key", PGC_KEY_NAMES_BY_TABLE, false},
	{"snapshot", PGC_KEY_BOOL, false},
	{"cdc", PGC_KEY_BOOL, false},
	{"publication_name", PGC_KEY_STRING, false},
	{"slot_name", PGC_KEY_STRING, false},
	{"replication_url", PGC_KEY_STRING, false},
	{"buffer_size", PGC_KEY_INT, false},
	{"failover", PGC_KEY_BOOL, false},
	{NULL}
};

static const PgcKeySpec destination_keys[] = {
	{"url", PGC_KEY_STRING, true},
	{"table", PGC_KEY_STRING, false},
	{"batch_size", PGC_KEY_INT, false},
	{"on_error", PGC_KEY_STRING, false},
	{NULL}
};

/* The values found in a config object, indexed like the key spec */
#define PGC_MAX_KEYS 16
typedef struct PgcConfigValues
{
	const char *kind;
	const PgcKeySpec *spec;
	JsonbValue *values[PGC_MAX_KEYS];	/* NULL where absent */
} PgcConfigValues;

static void config_check_names(PgcConfigValues *cv, const char *key,
							   const char *s, char sep, bool star,
							   const char *what);

PG_FUNCTION_INFO_V1(pgconduit_validate_config);
PG_FUNCTION_INFO_V1(pgconduit_mask_url);

/* Return the key spec of a connector kind, or ERROR */
static const PgcKeySpec *
config_spec(const char *kind)
{
	if (strcmp(kind, "source") == 0)
		return source_keys;
	if (strcmp(kind, "destination") == 0)
		return destination_keys;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid connector kind \"%s\"", kind),
			 errhint("Valid kinds are \"source\" and \"destination\".")));
	return NULL;				/* keep compiler quiet */
}

/* The valid keys of a spec as a comma-separated list, for hints */
static char *
config_key_list(const PgcKeySpec *spec)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; spec[i].key; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", spec[i].key);
	return buf.data;
}

/* The JSON type of a value, as jsonb_typeof() names it */
static const char *
config_json_type(JsonbValue *v)
{
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
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			return "unknown";
	}
}

/* Raise the ERROR for a value of the wrong JSON type */
static void
config_type_error(const char *kind, const char *key, JsonbValue *v,
				  const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for %s configuration key \"%s\"", kind, key),
			 errdetail("Expected %s, got a JSON %s.", expected, config_json_type(v))));
}

/*
 * Collect the values of a config object by key, checking that it is an
 * object, that every key is known and that the required ones are present.
 */
static void
config_collect(const char *kind, Jsonb *config, PgcConfigValues *cv)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			idx = -1;

	cv->kind = kind;
	cv->spec = config_spec(kind);
	memset(cv->values, 0, sizeof(cv->values));

	if (!JB_ROOT_IS_OBJECT(config))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s configuration must be a JSON object", kind)));

	it = JsonbIteratorInit(&config->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

			idx = -1;
			for (int i = 0; cv->spec[i].key; i++)
			{
				if (strcmp(cv->spec[i].key, key) == 0)
				{
					idx = i;
					break;
				}
			}
			if (idx < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unrecognized %s configuration key \"%s\"", kind, key),
						 errhint("Valid keys are: %s.", config_key_list(cv->spec))));
		}
		else if (tok == WJB_VALUE)
		{
			JsonbValue *copy = palloc(sizeof(JsonbValue));

			*copy = v;
			cv->values[idx] = copy;
		}
	}

	for (int i = 0; cv->spec[i].key; i++)
	{
		if (cv->spec[i].required &&
			(cv->values[i] == NULL || cv->values[i]->type == jbvNull))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s configuration key \"%s\" is required", kind,
							cv->spec[i].key)));
	}
}

/* The value of a key, or NULL when absent or JSON null */
static JsonbValue *
config_get(PgcConfigValues *cv, const char *key)
{
	for (int i = 0; cv->spec[i].key; i++)
	{
		if (strcmp(cv->spec[i].key, key) == 0)
		{
			JsonbValue *v = cv->values[i];

			return (v && v->type != jbvNull) ? v : NULL;
		}
	}
	elog(ERROR, "unknown configuration key \"%s\"", key);
	return NULL;
}

/* A string value; numbers and booleans are taken in their text form */
static char *
config_string(PgcConfigValues *cv, const char *key)
{
	JsonbValue *v = config_get(cv, key);

	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			config_type_error(cv->kind, key, v, "a string");
	}
	return NULL;				/* keep compiler quiet */
}

/* A non-empty string value */
static char *
config_nonempty_string(PgcConfigValues *cv, const char *key)
{
	char	   *s = config_string(cv, key);

	if (s != NULL && s[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s configuration key \"%s\" must not be empty",
						cv->kind, key)));
	return s;
}

/* A boolean: a JSON boolean, or a string that boolean input accepts */
static bool
config_bool(PgcConfigValues *cv, const char *key, bool dflt)
{
	JsonbValue *v = config_get(cv, key);
	bool		result;

	if (v == NULL)
		return dflt;
	if (v->type == jbvBool)
		return v->val.boolean;
	if (v->type == jbvString)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

		if (parse_bool(s, &result))
			return result;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
						cv->kind, key, s),
				 errhint("Use a boolean such as \"on\", \"off\", \"true\" or \"false\".")));
	}
	config_type_error(cv->kind, key, v, "a boolean or a string such as \"on\" or \"off\"");
	return false;				/* keep compiler quiet */
}

/* A positive integer: a JSON number or a string holding one */
static int
config_int(PgcConfigValues *cv, const char *key, int dflt, int max)
{
	JsonbValue *v = config_get(cv, key);
	char	   *s;
	char	   *end;
	long		val;

	if (v == NULL)
		return dflt;
	if (v->type != jbvNumeric && v->type != jbvString)
		config_type_error(cv->kind, key, v, "a positive integer");
	s = config_string(cv, key);
	errno = 0;
	val = strtol(s, &end, 10);
	while (*end == ' ')
		end++;
	if (errno != 0 || end == s || *end != '\0' || val < 1 || val > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
						cv->kind, key, s),
				 errdetail("The value must be an integer between 1 and %d.", max)));
	return (int) val;
}

/*
 * Raise an ERROR if a name in s, a list of SQL identifiers separated by
 * sep, is longer than NAMEDATALEN - 1 bytes: SplitIdentifierString would
 * cut it short in silence, and another table or column might match.
 * Malformed lists are left to SplitIdentifierString to report.
 */
static void
config_check_name_bytes(PgcConfigValues *cv, const char *key, const char *s,
						char sep)
{
	const char *p = s;

	while (*p)
	{
		const char *start;
		int			len = 0;

		while (scanner_isspace(*p))
			p++;
		start = p;
		if (*p == '"')
		{
			for (p++; *p; p++)
			{
				if (*p == '"' && p[1] != '"')
					break;
				if (*p == '"')
					p++;		/* a doubled quote is one character */
				len++;
			}
			if (*p == '\0')
				return;
			p++;
		}
		else
		{
			while (*p && *p != sep && !scanner_isspace(*p))
			{
				len++;
				p++;
			}
		}
		if (len >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
							cv->kind, key, s),
					 errdetail("The name %s is %d bytes long; names are at most %d bytes long.",
							   pnstrdup(start, p - start), len, NAMEDATALEN - 1)));
		while (*p && *p != sep)
			p++;
		if (*p == sep)
			p++;
	}
}

/*
 * The elements of a JSON array value, each a non-empty string (char *).
 */
static List *
config_string_array(PgcConfigValues *cv, const char *key, JsonbValue *v)
{
	JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
	JsonbValue	elem;
	JsonbIteratorToken tok;
	List	   *result = NIL;

	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvString || elem.val.string.len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for %s configuration key \"%s\"",
							cv->kind, key),
					 errdetail("Each element of the array must be a non-empty string.")));
		result = lappend(result, pnstrdup(elem.val.string.val, elem.val.string.len));
	}
	return result;
}

/*
 * A list of column names: a JSON array of strings taken verbatim, or a
 * comma-separated string read like an SQL identifier list (unquoted names
 * fold to lower case, double quotes keep case and commas).
 */
static List *
config_names_value(PgcConfigValues *cv, const char *key, JsonbValue *v)
{
	List	   *result = NIL;
	ListCell   *lc;

	if (v->type == jbvString)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);
		List	   *names;

		config_check_name_bytes(cv, key, s, ',');
		config_check_names(cv, key, s, ',', false,
						   "a comma-separated list of column names");
		if (!SplitIdentifierString(s, ',', &names))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
							cv->kind, key, pnstrdup(v->val.string.val, v->val.string.len)),
					 errdetail("The value must be a comma-separated list of column names.")));
		foreach(lc, names)
			result = lappend(result, pstrdup(lfirst(lc)));
	}
	else if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
		result = config_string_array(cv, key, v);
	else
		config_type_error(cv->kind, key, v,
						  "a comma-separated string or an array of strings");

	if (result == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s configuration key \"%s\" must name at least one column",
						cv->kind, key)));
	foreach(lc, result)
	{
		char	   *name = lfirst(lc);

		if (strlen(name) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("column name \"%s\" in %s configuration key \"%s\" is too long",
							name, cv->kind, key)));
		for (ListCell *lc2 = list_head(result); lc2 != lc; lc2 = lnext(result, lc2))
			if (strcmp(lfirst(lc2), name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" appears twice in %s configuration key \"%s\"",
								name, cv->kind, key)));
	}
	return result;
}

/*
 * A connection string that libpq can parse; no connection is made.  A
 * string libpq rejects is not shown: it may hold a password.
 */
static char *
config_url(PgcConfigValues *cv, const char *key)
{
	char	   *url = config_nonempty_string(cv, key);

	if (url == NULL)
		return NULL;
	PQconninfoFree(pgc_pq_parse(url, psprintf("%s configuration key \"%s\"",
											  cv->kind, key)));
	return url;
}

/*
 * Check that s is a list of SQL names separated by sep ('.' or ','), each
 * a double-quoted identifier ("" for a quote) or a plain one (a letter,
 * underscore or non-ASCII byte, then those, digits and dollar signs),
 * white space allowed around them, as the SQL parser reads them.  With
 * star, a plain one may also hold '*' anywhere (a pattern).
 */
static void
config_check_names(PgcConfigValues *cv, const char *key, const char *s,
				   char sep, bool star, const char *what)
{
	const char *p = s;

	for (;;)
	{
		while (scanner_isspace(*p))
			p++;
		if (*p == '"')
		{
			const char *start = ++p;

			for (;;)
			{
				if (*p == '\0')
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_NAME),
							 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
									cv->kind, key, s),
							 errdetail("A quoted name is not closed.")));
				if (*p == '"' && p[1] == '"')
					p += 2;
				else if (*p == '"')
					break;
				else
					p++;
			}
			if (p == start)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_NAME),
						 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
								cv->kind, key, s),
						 errdetail("A quoted name is empty.")));
			p++;
		}
		else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				 *p == '_' || IS_HIGHBIT_SET(*p) || (star && *p == '*'))
		{
			while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				   (*p >= '0' && *p <= '9') || *p == '_' || *p == '$' ||
				   IS_HIGHBIT_SET(*p) || (star && *p == '*'))
				p++;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
							cv->kind, key, s),
					 errdetail("The value must be %s in SQL syntax.", what),
					 errhint("Put a name that is not a plain SQL identifier in double quotes.")));
		while (scanner_isspace(*p))
			p++;
		if (*p == '\0')
			return;
		if (*p != sep)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
							cv->kind, key, s),
					 errdetail("The value must be %s in SQL syntax.", what),
					 errhint("Put a name that is not a plain SQL identifier in double quotes.")));
		p++;
	}
}

/*
 * A source may not read pgconduit's own catalog (its rows name
 * connections and pipelines, which a destination would then run) nor a
 * system schema (logical decoding sends no change of a catalog).
 */
static void
config_check_schema(PgcConfigValues *cv, const char *key, const char *value,
					const char *schema)
{
	if (schema == NULL)
		return;
	if (strcmp(schema, "pgconduit") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
						cv->kind, key, value),
				 errdetail("Schema \"pgconduit\" holds pgconduit's own catalog, which pipelines do not replicate.")));
	if (strcmp(schema, "pg_catalog") == 0 ||
		strcmp(schema, "information_schema") == 0 ||
		strncmp(schema, "pg_toast", 8) == 0 ||
		strncmp(schema, "pg_temp", 7) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
						cv->kind, key, value),
				 errdetail("Schema \"%s\" is a system schema, whose tables pipelines do not replicate.",
						   schema)));
}

/* A table name that parses as a possibly qualified SQL name */
static char *
config_table(PgcConfigValues *cv, const char *key)
{
	char	   *table = config_nonempty_string(cv, key);
	List	   *names;

	if (table == NULL)
		return NULL;
	config_check_name_bytes(cv, key, table, '.');
	config_check_names(cv, key, table, '.', false,
					   "a table name, optionally qualified by a schema name,");
	if (!SplitIdentifierString(pstrdup(table), '.', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
						cv->kind, key, table),
				 errdetail("The value must be a table name, optionally qualified by a schema name, in SQL syntax.")));
	if (list_length(names) > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
						cv->kind, key, table),
				 errdetail("A table name may be qualified by a schema name only.")));
	if (list_length(names) == 2)
		config_check_schema(cv, key, table, linitial(names));
	return table;
}

/*
 * Check one parsed item of "tables" (or an object key of "columns" and
 * "key"): SQL syntax, '*' only where pattern_ok, parts no longer than a
 * name.  Messages show the item as written (pat->text).
 */
static void
config_check_table_item(PgcConfigValues *cv, const char *key,
						PgcTablePattern *pat, bool pattern_ok)
{
	const char *parts[2] = {pat->schema, pat->table};
	bool		globs[2] = {pat->schema_glob, pat->table_glob};

	config_check_names(cv, key, pat->text, '.', pattern_ok,
					   pattern_ok ?
					   "a table name or pattern, optionally qualified by a schema name or pattern,"
					   : "a table name, optionally qualified by a schema name,");
	if (!pat->schema_glob)
		config_check_schema(cv, key, pat->text, pat->schema);
	for (int i = 0; i < 2; i++)
	{
		int			len = 0;

		if (parts[i] == NULL)
			continue;
		for (const char *c = parts[i]; *c; c++)
			if (!(globs[i] && *c == '*'))
				len++;
		if (len >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
							cv->kind, key, pat->text),
					 globs[i] ?
					 errdetail("The pattern %s matches no name: it needs %d bytes, and names are at most %d bytes long.",
							   parts[i], len, NAMEDATALEN - 1) :
					 errdetail("The name %s is %d bytes long; names are at most %d bytes long.",
							   parts[i], len, NAMEDATALEN - 1)));
	}
}

/*
 * Parse one item of "tables" given as a whole string (an element of an
 * array): exactly one table name or pattern.
 */
static PgcTablePattern *
config_table_item(PgcConfigValues *cv, const char *key, const char *s)
{
	const char *detail = NULL;
	const char *p = s;
	PgcTablePattern *pat = pgc_pattern_parse_item(&p, &detail);

	if (pat != NULL && *p != '\0')
		detail = "Each element of the array must be one table name or pattern.";
	if (pat == NULL || *p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
						cv->kind, key, s),
				 errdetail_internal("%s", detail)));
	return pat;
}

/*
 * "tables": a comma-separated string or an array of strings, each item a
 * table name or pattern in the syntax of the output plugin's "tables"
 * option (pattern.h).  Returns the items as written, in SQL syntax, so
 * that they can be joined by commas into that option.
 */
static List *
config_tables(PgcConfigValues *cv, const char *key)
{
	JsonbValue *v = config_get(cv, key);
	List	   *patterns = NIL;
	List	   *result = NIL;
	ListCell   *lc;

	if (v == NULL)
		return NIL;
	if (v->type == jbvString)
	{
		char	   *s = config_nonempty_string(cv, key);
		const char *detail = NULL;

		patterns = pgc_pattern_parse_list(s, &detail);
		if (patterns == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
							cv->kind, key, s),
					 errdetail_internal("%s", detail)));
	}
	else if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		foreach(lc, config_string_array(cv, key, v))
			patterns = lappend(patterns, config_table_item(cv, key, lfirst(lc)));
		if (patterns == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s configuration key \"%s\" must name at least one table",
							cv->kind, key)));
	}
	else
		config_type_error(cv->kind, key, v,
						  "a comma-separated string or an array of strings");

	foreach(lc, patterns)
	{
		PgcTablePattern *pat = lfirst(lc);

		config_check_table_item(cv, key, pat, true);
		for (ListCell *lc2 = list_head(patterns); lc2 != lc; lc2 = lnext(patterns, lc2))
		{
			PgcTablePattern *prev = lfirst(lc2);

			if (pgc_pattern_equal(prev, pat))
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_OBJECT),
						 errmsg("\"%s\" appears twice in %s configuration key \"%s\"",
								pat->text, cv->kind, key),
						 strcmp(prev->text, pat->text) != 0 ?
						 errdetail("\"%s\" and \"%s\" are the same once unquoted names are folded to lower case.",
								   prev->text, pat->text) : 0));
		}
		result = lappend(result, pat->text);
	}
	return result;
}

/* errcontext of a value of "columns" or "key" given for one table */
static void
config_table_list_context(void *arg)
{
	const char **what = (const char **) arg;

	errcontext("table \"%s\" of %s configuration key \"%s\"",
			   what[2], what[0], what[1]);
}

/*
 * "columns" or "key" as an object keyed by table name ("tables" only):
 * each key one table name in SQL syntax, not a pattern, and each value a
 * list of column names in the string or array form.  Returns PgcTableList
 * items; *flat gets the list of the string or array form instead.
 */
static List *
config_names_by_table(PgcConfigValues *cv, const char *key, bool one_table,
					  List **flat)
{
	JsonbValue *v = config_get(cv, key);
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	val;
	JsonbIteratorToken tok;
	List	   *patterns = NIL;
	List	   *result = NIL;

	*flat = NIL;
	if (v == NULL)
		return NIL;
	if (!(v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data)))
	{
		*flat = config_names_value(cv, key, v);
		return NIL;
	}
	if (one_table)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s configuration key \"%s\" may be an object only with \"tables\"",
						cv->kind, key),
				 errdetail("An object gives column lists by table, for a source of several \"tables\"."),
				 errhint("Give \"%s\" as a comma-separated string or an array of column names.",
						 key)));

	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		PgcTableList *tl;
		PgcTablePattern *pat;
		const char *detail = NULL;
		const char *p;
		ErrorContextCallback errcb;
		const char *what[3];

		if (tok != WJB_KEY)
			continue;
		tl = palloc0(sizeof(PgcTableList));
		tl->table = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);

		/* the key: one table, in SQL syntax */
		p = tl->table;
		pat = pgc_pattern_parse_item(&p, &detail);
		if (pat != NULL && *p != '\0')
			detail = "A key names one table, optionally qualified by a schema name.";
		else if (pat != NULL && (pat->schema_glob || pat->table_glob))
			detail = "A key names one table, not a pattern.";
		else if (pat != NULL)
			detail = NULL;
		else if (*tl->table == '\0')
			detail = "A key must not be empty.";
		if (detail != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid table name \"%s\" in %s configuration key \"%s\"",
							tl->table, cv->kind, key),
					 errdetail_internal("%s", detail)));
		config_check_table_item(cv, key, pat, false);
		for (ListCell *lc = list_head(patterns); lc != NULL; lc = lnext(patterns, lc))
		{
			PgcTablePattern *prev = lfirst(lc);

			if (pgc_pattern_equal(prev, pat))
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_OBJECT),
						 errmsg("table \"%s\" appears twice in %s configuration key \"%s\"",
								pat->text, cv->kind, key),
						 errdetail("\"%s\" and \"%s\" are the same once unquoted names are folded to lower case.",
								   prev->text, pat->text)));
		}
		patterns = lappend(patterns, pat);

		/* the value: its column names, errors saying for which table */
		what[0] = cv->kind;
		what[1] = key;
		what[2] = tl->table;
		errcb.callback = config_table_list_context;
		errcb.arg = (void *) what;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;
		tl->names = config_names_value(cv, key, &val);
		error_context_stack = errcb.previous;
		result = lappend(result, tl);
	}
	if (result == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s configuration key \"%s\" must name at least one table",
						cv->kind, key)));
	return result;
}

/*
 * A destination's table: a plain table name as config_table() takes it,
 * or, when it has braces, a template with {schema} and {table} (see
 * template.h), checked here so that it is known good when stored.
 */
static char *
config_destination_table(PgcConfigValues *cv, const char *key)
{
	char	   *table;
	JsonbValue *v = config_get(cv, key);

	if (v == NULL || v->type != jbvString)
		return config_table(cv, key);
	table = pnstrdup(v->val.string.val, v->val.string.len);
	if (!pgc_template_syntax(table))
		return config_table(cv, key);
	(void) pgc_template_parse(table, psprintf("%s configuration key \"%s\"",
											  cv->kind, key));
	return table;
}

/* A replication slot name: what ReplicationSlotValidateName accepts */
static char *
config_slot_name(PgcConfigValues *cv, const char *key)
{
	char	   *name = config_nonempty_string(cv, key);

	if (name == NULL)
		return NULL;
	if (strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("replication slot name \"%s\" is too long", name),
				 errdetail("Replication slot names are at most %d bytes long.",
						   NAMEDATALEN - 1)));
	for (const char *p = name; *p; p++)
	{
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
							cv->kind, key, name),
					 errdetail("Replication slot names may only contain lower case letters, numbers, and the underscore character.")));
	}
	return name;
}

/* A publication name: any identifier shorter than NAMEDATALEN */
static char *
config_identifier(PgcConfigValues *cv, const char *key)
{
	char	   *name = config_nonempty_string(cv, key);

	if (name != NULL && strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("invalid value for %s configuration key \"%s\": \"%s\"",
						cv->kind, key, name),
				 errdetail("Names are at most %d bytes long.", NAMEDATALEN - 1)));
	return name;
}

/*
 * Check a connector or pipeline name: not empty and short enough to be an
 * SQL name.  "what" is "connector" or "pipeline".
 */
void
pgc_check_connector_name(const char *what, const char *name)
{
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name must not be empty", what)));
	if (strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("%s name \"%s\" is too long", what, name),
				 errdetail("Names are at most %d bytes long.", NAMEDATALEN - 1)));
}

/*
 * The slot and publication name a source gets when its config names none:
 * "pgconduit_" and the connector name where that is a valid slot name,
 * else a sanitized prefix of it plus a hash of the whole name, so that two
 * sources never share a slot.
 */
char *
pgc_default_object_name(const char *connector)
{
	StringInfoData buf;
	bool		clean = true;
	int			len = strlen(connector);

	for (const char *p = connector; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			clean = false;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "pgconduit_");
	if (clean && buf.len + len < NAMEDATALEN)
		appendStringInfoString(&buf, connector);
	else
	{
		for (const char *p = connector; *p && buf.len < 40; p++)
		{
			char		c = *p;

			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
				c = '_';
			appendStringInfoChar(&buf, c);
		}
		appendStringInfo(&buf, "_%08x",
						 hash_bytes((const unsigned char *) connector, len));
	}
	return buf.data;
}

/*
 * Parse and validate a source configuration.  Errors name the key at fault.
 */
PgcSourceConfig *
pgc_source_config_parse(const char *name, Jsonb *config)
{
	PgcConfigValues cv;
	PgcSourceConfig *sc = palloc0(sizeof(PgcSourceConfig));

	config_collect("source", config, &cv);
	sc->table = config_table(&cv, "table");
	sc->tables = config_tables(&cv, "tables");
	if (sc->table != NULL && sc->tables != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source configuration sets both \"table\" and \"tables\""),
				 errdetail("A source reads either the one table of \"table\" or the tables and patterns of \"tables\"."),
				 errhint("Remove one of the two keys.")));
	if (sc->table == NULL && sc->tables == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source configuration key \"table\" or \"tables\" is required")));
	sc->url = config_url(&cv, "url");
	sc->replication_url = config_url(&cv, "replication_url");
	if (sc->replication_url == NULL)
		sc->replication_url = sc->url;
	sc->columns_by_table = config_names_by_table(&cv, "columns",
												 sc->table != NULL, &sc->columns);
	sc->key_by_table = config_names_by_table(&cv, "key",
											 sc->table != NULL, &sc->key);
	sc->snapshot = config_bool(&cv, "snapshot", true);
	sc->cdc = config_bool(&cv, "cdc", true);
	sc->slot_name = config_slot_name(&cv, "slot_name");
	if (sc->slot_name == NULL)
		sc->slot_name = pgc_default_object_name(name);
	sc->publication_name = config_identifier(&cv, "publication_name");
	if (sc->publication_name == NULL)
		sc->publication_name = pgc_default_object_name(name);
	sc->buffer_size = config_int(&cv, "buffer_size", 0, 100000000);
	sc->failover = config_bool(&cv, "failover", false);
	if (sc->failover && !sc->cdc)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source configuration sets \"failover\" but turns off \"cdc\""),
				 errdetail("Only change data capture uses a replication slot, which \"failover\" is about.")));
	if (!sc->snapshot && !sc->cdc)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source configuration turns off both \"snapshot\" and \"cdc\""),
				 errdetail("Such a source would never read anything.")));
	return sc;
}

/*
 * Parse and validate a destination configuration.
 */
PgcDestinationConfig *
pgc_destination_config_parse(const char *name, Jsonb *config)
{
	PgcConfigValues cv;
	PgcDestinationConfig *dc = palloc0(sizeof(PgcDestinationConfig));
	char	   *on_error;

	config_collect("destination", config, &cv);
	dc->url = config_url(&cv, "url");
	dc->table = config_destination_table(&cv, "table");
	dc->batch_size = config_int(&cv, "batch_size", PGC_DEFAULT_BATCH_SIZE, 1000000);
	on_error = config_nonempty_string(&cv, "on_error");
	if (on_error == NULL || strcmp(on_error, "halt") == 0)
		dc->on_error = PGC_ON_ERROR_HALT;
	else if (strcmp(on_error, "dead_letter") == 0)
		dc->on_error = PGC_ON_ERROR_DEAD_LETTER;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for destination configuration key \"on_error\": \"%s\"",
						on_error),
				 errhint("Valid values are \"halt\" and \"dead_letter\".")));
	return dc;
}

/* Add a string member to a jsonb object being built */
static void
config_push_string(JsonbParseState **state, const char *key, const char *val)
{
	JsonbValue	k;
	JsonbValue	v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v.type = jbvString;
	v.val.string.val = (char *) val;
	v.val.string.len = strlen(val);
	pushJsonbValue(state, WJB_KEY, &k);
	pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * Validate a configuration and return what is stored in the catalog: the
 * config as given, plus the derived slot and publication names of a
 * source, so that they stay fixed for the life of the connector.
 */
Jsonb *
pgc_config_normalize(const char *kind, const char *name, Jsonb *config,
					 Oid owner)
{
	PgcSourceConfig *sc;
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		skip = false;

	pgc_check_connector_name("connector", name);
	if (config_spec(kind) == destination_keys)
	{
		PgcDestinationConfig *dc = pgc_destination_config_parse(name, config);

		if (!superuser_arg(owner))
			pgc_pq_check_conninfo(dc->url, "in destination configuration key \"url\"");
		return config;
	}

	sc = pgc_source_config_parse(name, config);
	if (!superuser_arg(owner))
	{
		pgc_pq_check_conninfo(sc->url, "in source configuration key \"url\"");
		if (sc->replication_url != sc->url)
			pgc_pq_check_conninfo(sc->replication_url,
								  "in source configuration key \"replication_url\"");
	}
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&config->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			skip = (v.val.string.len == strlen("slot_name") &&
					strncmp(v.val.string.val, "slot_name", v.val.string.len) == 0) ||
				(v.val.string.len == strlen("publication_name") &&
				 strncmp(v.val.string.val, "publication_name", v.val.string.len) == 0);
			if (!skip)
				pushJsonbValue(&state, WJB_KEY, &v);
		}
		else if (tok == WJB_VALUE && !skip)
			pushJsonbValue(&state, WJB_VALUE, &v);
	}
	config_push_string(&state, "slot_name", sc->slot_name);
	config_push_string(&state, "publication_name", sc->publication_name);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * SQL: pgconduit._validate_config(kind, name, config, owner) returns the
 * config normalized for storage, or raises an ERROR.  The connection
 * strings of an owner that is not a superuser must follow dblink's rules.
 */
Datum
pgconduit_validate_config(PG_FUNCTION_ARGS)
{
	char	   *kind;
	char	   *name;
	Jsonb	   *config;
	Oid			owner;

	/* 0.1's catalog declares no owner: it must be updated first */
	if (PG_NARGS() != 4)
	{
		pgc_require_catalog_version();
		elog(ERROR, "pgconduit._validate_config() called without an owner");
	}
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	config = PG_GETARG_JSONB_P(2);
	owner = PG_GETARG_OID(3);

	PG_RETURN_JSONB_P(pgc_config_normalize(kind, name, config, owner));
}

/*
 * SQL: pgconduit.mask_url(url) returns the connection string with any
 * password replaced by asterisks.  A string that holds a password is
 * rewritten in keyword=value form; one that holds none comes back as is.
 */
Datum
pgconduit_mask_url(PG_FUNCTION_ARGS)
{
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PQconninfoOption *opts;
	PQconninfoOption *o;
	bool		has_password = false;
	StringInfoData buf;

	opts = PQconninfoParse(url, NULL);
	if (opts == NULL)
		PG_RETURN_TEXT_P(cstring_to_text("********"));
	for (o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
			has_password = true;
	if (!has_password)
	{
		PQconninfoFree(opts);
		PG_RETURN_TEXT_P(cstring_to_text(url));
	}

	initStringInfo(&buf);
	for (o = opts; o->keyword; o++)
	{
		const char *val = o->val;

		if (val == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0)
			val = "********";
		if (buf.len > 0)
			appendStringInfoChar(&buf, ' ');
		appendStringInfo(&buf, "%s='", o->keyword);
		for (const char *p = val; *p; p++)
		{
			if (*p == '\'' || *p == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
		appendStringInfoChar(&buf, '\'');
	}
	PQconninfoFree(opts);
	PG_RETURN_TEXT_P(cstring_to_text(buf.data));
}
