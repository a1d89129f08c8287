/*-------------------------------------------------------------------------
 *
 * write_copy.c
 *	  Whether a pipeline's snapshot may enter a destination table by COPY.
 *
 * A snapshot is a run of upserts of rows with distinct keys into one
 * table, applied in one destination transaction.  Into an empty table,
 * each upsert is a plain INSERT; when the table also has no rules, no row
 * security and no column that COPY treats unlike INSERT, and every column
 * has the source column's built-in type, COPY of the rows in their text
 * form inserts exactly what the upserts would, without building and
 * parsing JSON -- it is how native logical replication copies a table.
 * The worker asks pgconduit._copy_target() on the destination, inside the
 * snapshot's transaction; should the COPY fail all the same (a duplicate
 * key on the source, a value the column rejects, a row inserted meanwhile)
 * the worker takes the snapshot again through pgconduit.write(), whose
 * errors name the record.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "template.h"
#include "write_int.h"

PG_FUNCTION_INFO_V1(pgconduit_copy_target);

/* The elements of a one-dimensional text[] without NULLs, or NULL */
static char **
copy_text_array(ArrayType *a, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	out = palloc(sizeof(char *) * (*n + 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			return NULL;
		out[i] = TextDatumGetCString(elems[i]);
	}
	return out;
}

/* Has the table a row visible to this transaction? */
static bool
copy_table_has_rows(Relation rel)
{
	TableScanDesc scan;
	TupleTableSlot *slot;
	bool		found;

	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	found = table_scan_getnextslot(scan, ForwardScanDirection, slot);
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return found;
}

/*
 * The COPY ... FROM STDIN statement that inserts rows of the columns given
 * into the table named as pgconduit.write() names it, or NULL when COPY
 * would not do exactly what the upserts of a snapshot would.  types are
 * the source columns' format_type(); key names the key columns, which are
 * among columns, and is empty for a table without key, whose snapshot
 * records are plain INSERTs.  Locks the table as INSERT does.
 */
Datum
pgconduit_copy_target(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			ncols,
				ntypes,
				nkeys;
	char	  **cols = copy_text_array(PG_GETARG_ARRAYTYPE_P(1), &ncols);
	char	  **types = copy_text_array(PG_GETARG_ARRAYTYPE_P(2), &ntypes);
	char	  **keys = copy_text_array(PG_GETARG_ARRAYTYPE_P(3), &nkeys);
	AttrNumber *keyatts;
	RangeVar   *rv;
	Oid			relid;
	Relation	rel;
	StringInfoData sql;
	bool		ok;
	AclMode		mask = ACL_INSERT;

	if (cols == NULL || types == NULL || keys == NULL || ncols != ntypes ||
		ncols == 0)
		PG_RETURN_NULL();

	rv = pgc_destination_rangevar(name, "p_table");
	relid = RangeVarGetRelidExtended(rv, RowExclusiveLock, RVR_MISSING_OK,
									 pgcw_table_callback, &mask);
	if (!OidIsValid(relid))
		PG_RETURN_NULL();
	rel = table_open(relid, NoLock);

	ok = rel->rd_rel->relkind == RELKIND_RELATION &&
		!rel->rd_rel->relhasrules && !rel->rd_rel->relrowsecurity &&
		pgcw_upsert_allowed(relid);

	initStringInfo(&sql);
	appendStringInfo(&sql, "COPY %s (",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	for (int i = 0; ok && i < ncols; i++)
	{
		AttrNumber	attnum = get_attnum(relid, cols[i]);
		Form_pg_attribute att;

		if (attnum <= 0)
		{
			ok = false;
			break;
		}
		att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
		/* built-in types only, whose text form means the same everywhere */
		ok = att->atttypid < FirstGenbkiObjectId &&
			att->atttypid != CASHOID && att->atttypid != MONEYARRAYOID &&
			att->attgenerated == '\0' &&
			strcmp(format_type_with_typemod(att->atttypid, att->atttypmod),
				   types[i]) == 0;
		appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(cols[i]));
	}
	appendStringInfoString(&sql, ") FROM STDIN");

	if (ok)
	{
		keyatts = palloc(sizeof(AttrNumber) * nkeys);
		for (int i = 0; ok && i < nkeys; i++)
		{
			keyatts[i] = get_attnum(relid, keys[i]);
			ok = keyatts[i] > 0;
		}
		ok = ok && (nkeys == 0 || pgcw_has_unique_index(relid, keyatts, nkeys));
	}
	ok = ok && !copy_table_has_rows(rel);
	table_close(rel, NoLock);

	if (!ok)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(sql.data));
}
