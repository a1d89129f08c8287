/*-------------------------------------------------------------------------
 *
 * pgconduit.c
 *	  Module entry point of the pgconduit extension: settings, and the
 *	  checks the SQL API makes before it changes the catalog.
 *
 * _PG_init defines every pgconduit.* setting in one place.  Loaded through
 * shared_preload_libraries it also sets up what the pipeline workers need
 * (see launcher.c); loaded on demand by CREATE EXTENSION it serves the
 * configuration API and pgconduit.write(), but pipelines cannot run, and
 * the functions that would start one say so.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "pgconduit.h"
#include "pipeline.h"
#include "tables.h"

PG_MODULE_MAGIC;

int			pgc_buffer_size = 10000;
int			pgc_max_pipelines = 8;
int			pgc_max_retained_wal = 1024;
int			pgc_slot_check_interval = 60;
int			pgc_max_batch_memory = 65536;
bool		pgc_preloaded = false;

/* set when pgc_check_catalog_version() refused a catalog */
bool		pgc_catalog_mismatch = false;

PG_FUNCTION_INFO_V1(pgconduit_check_admin);
PG_FUNCTION_INFO_V1(pgconduit_check_preloaded);

void		_PG_init(void);

/*
 * Module load: define the settings; when preloaded, hook in the launcher.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("pgconduit.buffer_size",
							"Records a pipeline holds between its source and its destination.",
							"A source connector's \"buffer_size\" overrides it.",
							&pgc_buffer_size,
							10000, 1, 100000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgconduit.max_retained_wal",
							"WAL a pipeline's replication slot may hold on its source before the server log warns.",
							"-1 turns the warning off.",
							&pgc_max_retained_wal,
							1024, -1, MAX_KILOBYTES,
							PGC_SIGHUP,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgconduit.slot_check_interval",
							"How often the replication slots of pipelines without a running worker are measured.",
							"A running worker measures its own slot every second.",
							&pgc_slot_check_interval,
							60, 1, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgconduit.max_batch_memory",
							"Bytes of records a pipeline gathers into one batch, at most.",
							"A batch ends at the destination's \"batch_size\" records or at this size, whichever comes first.",
							&pgc_max_batch_memory,
							65536, 1024, 1048576,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	/* a postmaster setting can only be defined while the server starts */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("pgconduit.max_pipelines",
								"Maximum number of pipeline workers that run at once.",
								NULL,
								&pgc_max_pipelines,
								8, 0, 1024,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("pgconduit.max_tables",
								"Maximum number of tables, over all pipelines, that pgconduit.status_tables shows.",
								"A pipeline whose tables do not fit replicates them all the same.",
								&pgc_max_tables,
								1024, 1, 1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	MarkGUCPrefixReserved("pgconduit");

	if (process_shared_preload_libraries_in_progress)
	{
		pgc_preloaded = true;
		pgc_shmem_init();
		if (pgc_max_pipelines > 0)
			pgc_launcher_register();
	}
}

/*
 * Raise an ERROR unless the current user is a superuser or has the
 * privileges of pgconduit_admin.
 */
void
pgc_check_admin(void)
{
	Oid			admin;

	if (superuser())
		return;
	admin = get_role_oid(PGC_ADMIN_ROLE, true);
	if (OidIsValid(admin) && has_privs_of_role(GetUserId(), admin))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to manage pgconduit connectors and pipelines"),
			 errdetail("Only superusers and members of role \"%s\" may create, alter or drop connectors and pipelines.",
					   PGC_ADMIN_ROLE)));
}

/* SQL: pgconduit._check_admin() */
Datum
pgconduit_check_admin(PG_FUNCTION_ARGS)
{
	pgc_check_admin();
	PG_RETURN_VOID();
}

/* SQL: pgconduit._check_preloaded(): pipelines need the preloaded library */
Datum
pgconduit_check_preloaded(PG_FUNCTION_ARGS)
{
	if (!pgc_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgconduit pipelines need pgconduit in shared_preload_libraries"),
				 errdetail("Pipelines run in background workers, which only a preloaded library can start."),
				 errhint("Add pgconduit to shared_preload_libraries in postgresql.conf and restart the server.")));
	PG_RETURN_VOID();
}

/*
 * The version of pgconduit's catalog in this database, from its row in
 * pg_extension, or NULL where the extension is not installed.  Needs a
 * transaction.
 */
char *
pgc_catalog_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("pgconduit"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * Refuse a catalog of another version than this library's: after the
 * binaries are upgraded and before ALTER EXTENSION pgconduit UPDATE, the
 * library would read and write tables and call functions whose shape it
 * does not know.  where names the database ("database \"shop\"").
 */
void
pgc_check_catalog_version(const char *version, const char *where)
{
	if (version == NULL || strcmp(version, PGC_CATALOG_VERSION) == 0)
		return;
	pgc_catalog_mismatch = true;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("pgconduit's catalog in %s is version %s, but the pgconduit library is version %s",
					where, version, PGC_CATALOG_VERSION),
			 errdetail("The library was upgraded and the catalog was not; pipelines that use it wait until it is."),
			 errhint("Run ALTER EXTENSION pgconduit UPDATE in %s.", where)));
}

/*
 * For SQL-callable functions that an old catalog declares differently, or
 * that read the catalog: refuse to run under any catalog but this
 * library's, rather than read arguments that were not passed or columns
 * of another type.
 */
void
pgc_require_catalog_version(void)
{
	pgc_check_catalog_version(pgc_catalog_version(),
							  psprintf("database \"%s\"", get_database_name(MyDatabaseId)));
}
