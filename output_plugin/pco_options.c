/*-------------------------------------------------------------------------
 *
 * pco_options.c
 *		The options of pgconduit_output: read once when decoding starts,
 *		each checked, so that a bad one is an error naming it before any
 *		change is decoded.
 *
 * Names and values follow pgoutput's and wal2json's where they overlap;
 * README.md (Output plugin, Options) describes each.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "nodes/parsenodes.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/varlena.h"

#include "pco.h"

/* Parse a boolean option; an option given without a value means true */
static bool
pco_bool_option(DefElem *elem)
{
	bool		result;

	if (elem->arg == NULL)
		return true;
	if (!parse_bool(strVal(elem->arg), &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						elem->defname, strVal(elem->arg)),
				 errhint("Use a Boolean value such as true or false.")));
	return result;
}

/* The value of an option that needs one */
static char *
pco_string_option(DefElem *elem)
{
	if (elem->arg == NULL || strVal(elem->arg)[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" requires a value", elem->defname)));
	return strVal(elem->arg);
}

/* Split a comma-separated list of names (identifier syntax) */
static List *
pco_name_list(DefElem *elem)
{
	char	   *raw = pstrdup(pco_string_option(elem));
	List	   *names;

	if (!SplitIdentifierString(raw, ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						elem->defname, strVal(elem->arg)),
				 errdetail("The value must be a comma-separated list of names.")));
	return names;
}

/*
 * Split the "columns" or "key" option: comma-separated column names in
 * identifier syntax (as SplitIdentifierString reads them), each optionally
 * led by a table's OID and a dot, unquoted (16384.id, 16384."Name"), which
 * makes it apply to that table only.  A many-table consumer gives each
 * table its own columns and key this way.
 */
static List *
pco_column_list(DefElem *elem)
{
	const char *value = pco_string_option(elem);
	const char *p = value;
	List	   *items = NIL;

	for (;;)
	{
		PcoColumnName *item = palloc0(sizeof(PcoColumnName));
		const char *digits;
		StringInfoData name;

		while (scanner_isspace(*p))
			p++;
		digits = p;
		while (isdigit((unsigned char) *p))
			p++;
		if (p > digits && *p == '.')
		{
			char	   *oid = pnstrdup(digits, p - digits);
			char	   *end;
			unsigned long v;

			errno = 0;
			v = strtoul(oid, &end, 10);
			if (errno != 0 || v == InvalidOid || v > PG_UINT32_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								elem->defname, value),
						 errdetail("\"%s\" is not a table OID.", oid)));
			item->relid = (Oid) v;
			p++;
		}
		else
			p = digits;

		initStringInfo(&name);
		if (*p == '"')
		{
			for (p++; *p != '"' || p[1] == '"'; p++)
			{
				if (*p == '\0')
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									elem->defname, value),
							 errdetail("A quoted identifier is not closed.")));
				if (*p == '"')
					p++;
				appendStringInfoChar(&name, *p);
			}
			p++;
			truncate_identifier(name.data, name.len, false);
			item->name = name.data;
		}
		else
		{
			const char *start = p;

			while (*p != '\0' && *p != ',' && !scanner_isspace(*p))
				p++;
			item->name = downcase_truncate_identifier(start, p - start, false);
		}
		if (item->name[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"",
							elem->defname, value),
					 errdetail("The value must be a comma-separated list of names, each optionally qualified by a table OID.")));
		items = lappend(items, item);

		while (scanner_isspace(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != ',')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"",
							elem->defname, value),
					 errdetail("The value must be a comma-separated list of names, each optionally qualified by a table OID.")));
		p++;
	}
	return items;
}

/*
 * Split the "message_prefixes" option: prefixes are arbitrary text, taken
 * as written (case kept, spaces around commas dropped); a backslash makes
 * the next character literal, so "a\,b" is the one prefix "a,b".
 */
static List *
pco_prefix_list(DefElem *elem)
{
	const char *p = pco_string_option(elem);
	List	   *prefixes = NIL;
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		int			keep = 0;	/* length up to the last escaped character */

		resetStringInfo(&buf);
		while (*p == ' ' || *p == '\t')
			p++;
		while (*p != '\0' && *p != ',')
		{
			if (*p == '\\' && p[1] != '\0')
			{
				appendStringInfoChar(&buf, p[1]);
				p += 2;
				keep = buf.len;
				continue;
			}
			appendStringInfoChar(&buf, *p++);
		}
		while (buf.len > keep &&
			   (buf.data[buf.len - 1] == ' ' || buf.data[buf.len - 1] == '\t'))
			buf.data[--buf.len] = '\0';
		if (buf.len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"",
							elem->defname, strVal(elem->arg)),
					 errdetail("The value must be a comma-separated list of non-empty prefixes.")));
		prefixes = lappend(prefixes, pstrdup(buf.data));
		if (*p == '\0')
			break;
		p++;
	}
	return prefixes;
}

/*
 * Parse the "table_oids" or "exclude_oids" option: comma-separated table
 * OIDs, each digits only (spaces around them allowed).  A consumer that
 * follows tables by OID keeps them through renames.
 */
static List *
pco_oid_list(DefElem *elem)
{
	const char *value = pco_string_option(elem);
	const char *p = value;
	List	   *oids = NIL;

	for (;;)
	{
		const char *digits;
		uint64		v = 0;

		while (scanner_isspace(*p))
			p++;
		digits = p;
		while (isdigit((unsigned char) *p) && v <= PG_UINT32_MAX)
			v = v * 10 + (*p++ - '0');
		while (scanner_isspace(*p))
			p++;
		if (p == digits || (*p != ',' && *p != '\0') ||
			v == InvalidOid || v > PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"",
							elem->defname, value),
					 errdetail("The value must be a comma-separated list of table OIDs.")));
		oids = lappend_oid(oids, (Oid) v);
		if (*p++ == '\0')
			break;
	}
	return oids;
}

/* Parse the "actions" option: a list of create, update, delete, truncate */
static int
pco_actions_option(DefElem *elem)
{
	List	   *names = pco_name_list(elem);
	int			actions = 0;
	ListCell   *lc;

	foreach(lc, names)
	{
		char	   *a = lfirst(lc);

		if (strcmp(a, "create") == 0 || strcmp(a, "insert") == 0)
			actions |= PCO_ACT_CREATE;
		else if (strcmp(a, "update") == 0)
			actions |= PCO_ACT_UPDATE;
		else if (strcmp(a, "delete") == 0)
			actions |= PCO_ACT_DELETE;
		else if (strcmp(a, "truncate") == 0)
			actions |= PCO_ACT_TRUNCATE;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"",
							elem->defname, a),
					 errhint("Valid actions are create (or insert), update, delete and truncate.")));
	}
	return actions;
}

/* Read the options given to the slot's consumer into opts */
void
pco_options_parse(List *options, PcoOptions *opts)
{
	ListCell   *lc;

	memset(opts, 0, sizeof(PcoOptions));
	opts->actions = PCO_ACT_ALL;
	opts->records_per_message = 1;

	foreach(lc, options)
	{
		DefElem    *elem = lfirst(lc);

		/* each option once, as pgoutput has it */
		for (ListCell *prev = list_head(options); prev != lc;
			 prev = lnext(options, prev))
		{
			if (strcmp(((DefElem *) lfirst(prev))->defname, elem->defname) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_SYNTAX_ERROR),
						 errmsg("conflicting or redundant options"),
						 errdetail("Option \"%s\" is given more than once.",
								   elem->defname)));
		}

		if (strcmp(elem->defname, "tables") == 0)
			opts->table_patterns =
				pco_parse_table_patterns(pco_string_option(elem), elem->defname);
		else if (strcmp(elem->defname, "exclude_tables") == 0)
			opts->exclude_patterns =
				pco_parse_table_patterns(pco_string_option(elem), elem->defname);
		else if (strcmp(elem->defname, "table_oids") == 0)
			opts->table_oids = pco_oid_list(elem);
		else if (strcmp(elem->defname, "follow_tables") == 0)
			opts->follow_patterns =
				pco_parse_table_patterns(pco_string_option(elem), elem->defname);
		else if (strcmp(elem->defname, "exclude_oids") == 0)
			opts->exclude_oids = pco_oid_list(elem);
		else if (strcmp(elem->defname, "include_relid") == 0)
			opts->include_relid = pco_bool_option(elem);
		else if (strcmp(elem->defname, "publication_names") == 0)
			opts->publication_names = pco_name_list(elem);
		else if (strcmp(elem->defname, "actions") == 0)
			opts->actions = pco_actions_option(elem);
		else if (strcmp(elem->defname, "include_transaction") == 0)
			opts->include_transaction = pco_bool_option(elem);
		else if (strcmp(elem->defname, "messages") == 0)
			opts->messages = pco_bool_option(elem);
		else if (strcmp(elem->defname, "message_prefixes") == 0)
		{
			opts->message_prefixes = pco_prefix_list(elem);
			opts->messages = true;
		}
		else if (strcmp(elem->defname, "metadata") == 0)
		{
			char	   *v = pco_string_option(elem);

			if (strcmp(v, "full") == 0)
				opts->metadata_table_only = false;
			else if (strcmp(v, "table") == 0)
				opts->metadata_table_only = true;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								elem->defname, v),
						 errhint("Valid values are \"full\" and \"table\".")));
		}
		else if (strcmp(elem->defname, "columns") == 0)
			opts->columns = pco_column_list(elem);
		else if (strcmp(elem->defname, "key") == 0)
			opts->key_columns = pco_column_list(elem);
		else if (strcmp(elem->defname, "include_origin") == 0)
			opts->include_origin = pco_bool_option(elem);
		else if (strcmp(elem->defname, "via_partition_root") == 0)
			opts->via_partition_root = pco_bool_option(elem);
		else if (strcmp(elem->defname, "records_per_message") == 0)
		{
			char	   *v = pco_string_option(elem);
			char	   *end;
			long		n;

			errno = 0;
			n = strtol(v, &end, 10);
			if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 10000)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								elem->defname, v),
						 errhint("Give a number of records from 1 to 10000.")));
			opts->records_per_message = (int) n;
		}
		else if (strcmp(elem->defname, "origin") == 0)
		{
			char	   *v = pco_string_option(elem);

			if (pg_strcasecmp(v, "any") == 0)
				opts->skip_origin = false;
			else if (pg_strcasecmp(v, "none") == 0)
				opts->skip_origin = true;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								elem->defname, v),
						 errhint("Valid values are \"any\" and \"none\".")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" is not recognized by pgconduit_output",
							elem->defname),
					 errhint("Valid options are: tables, exclude_tables, table_oids, follow_tables, exclude_oids, publication_names, actions, columns, key, metadata, include_transaction, messages, message_prefixes, origin, include_origin, records_per_message, via_partition_root, include_relid.")));
	}
}
