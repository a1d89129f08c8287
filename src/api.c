/*-------------------------------------------------------------------------
 *
 * api.c
 *	  The entry points of the SQL API that change the catalog, and the
 *	  identity they change it with.
 *
 * pgconduit_admin may read the catalog tables but not write them: each
 * function of the API that changes them (create_source, alter_connector,
 * drop_pipeline, ...) is this one C entry point.  It checks that its
 * caller is a superuser or has the privileges of pgconduit_admin, then
 * runs the SQL function of the same name with a leading underscore as the
 * extension's owner, passing the caller's role OID as a last argument that
 * the caller cannot forge.  Those functions (sql/pgconduit--0.2.sql) check
 * ownership and write the catalog; nobody else may execute them.  This is
 * how pg_cron writes its job table on a user's behalf, with the caller
 * known to C rather than lost in a SECURITY DEFINER function.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "pgconduit.h"

PG_FUNCTION_INFO_V1(pgconduit_api);

/*
 * True while the API writes the catalog: a pipeline row inserted otherwise,
 * as by a restored dump, comes in stopped (shmem.c's trigger).
 */
bool		pgc_api_writing = false;

/*
 * The owner of extension pgconduit: the role its catalog belongs to and
 * that the API writes it as.
 */
Oid
pgc_extension_owner(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("pgconduit"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"pgconduit\" does not exist")));
	return owner;
}

/*
 * Switch to the extension's owner, for reads and writes of the catalog
 * made on a caller's behalf; pgc_as_caller() switches back.  The caller's
 * search_path is not used: every name in those statements is qualified.
 */
void
pgc_as_extension_owner(PgcSavedUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(pgc_extension_owner(),
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
pgc_as_caller(PgcSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * SQL: every API function that changes the catalog.  pgconduit.<f>(args)
 * runs pgconduit._<f>(args, caller) as the extension's owner.
 */
Datum
pgconduit_api(PG_FUNCTION_ARGS)
{
	Oid			fn = fcinfo->flinfo->fn_oid;
	Oid			caller = GetUserId();
	HeapTuple	proctup;
	Form_pg_proc proc;
	int			nargs = PG_NARGS();
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
	StringInfoData sql;
	PgcSavedUser saved;
	bool		save_writing;

	pgc_check_admin();

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", fn);
	proc = (Form_pg_proc) GETSTRUCT(proctup);
	/* only the functions of the install script, in the extension's schema */
	if (get_func_namespace(fn) != get_namespace_oid("pgconduit", false) ||
		proc->pronargs != nargs)
		elog(ERROR, "pgconduit_api called from an unexpected function");

	types = palloc(sizeof(Oid) * (nargs + 1));
	values = palloc(sizeof(Datum) * (nargs + 1));
	nulls = palloc(nargs + 2);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT pgconduit.%s(",
					 quote_identifier(psprintf("_%s", NameStr(proc->proname))));
	for (int i = 0; i < nargs; i++)
	{
		types[i] = proc->proargtypes.values[i];
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		appendStringInfo(&sql, "$%d, ", i + 1);
	}
	types[nargs] = OIDOID;
	values[nargs] = ObjectIdGetDatum(caller);
	nulls[nargs] = ' ';
	nulls[nargs + 1] = '\0';
	appendStringInfo(&sql, "$%d)", nargs + 1);
	ReleaseSysCache(proctup);

	pgc_as_extension_owner(&saved);
	SPI_connect();
	save_writing = pgc_api_writing;
	pgc_api_writing = true;
	PG_TRY();
	{
		if (SPI_execute_with_args(sql.data, nargs + 1, types, values, nulls,
								  false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not run %s", sql.data);
	}
	PG_FINALLY();
	{
		pgc_api_writing = save_writing;
	}
	PG_END_TRY();
	SPI_finish();
	pgc_as_caller(&saved);
	PG_RETURN_VOID();
}
