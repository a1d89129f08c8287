/*-------------------------------------------------------------------------
 *
 * pgconduit.h
 *	  Declarations shared by the modules of the pgconduit extension: the
 *	  settings defined in pgconduit.c, the admin check, and the JSON
 *	  parser of jsonb_parse.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCONDUIT_H
#define PGCONDUIT_H

#include "utils/jsonb.h"

/* GUCs, defined in pgconduit.c */
extern int	pgc_buffer_size;
extern int	pgc_max_pipelines;
extern int	pgc_max_retained_wal;	/* MB; -1: no warning */
extern int	pgc_slot_check_interval;	/* seconds */
extern int	pgc_max_batch_memory;	/* kB */

/* true when loaded through shared_preload_libraries */
extern bool pgc_preloaded;

/* the role that may manage connectors and pipelines besides superusers */
#define PGC_ADMIN_ROLE "pgconduit_admin"

extern void pgc_check_admin(void);

/* api.c: acting as the extension's owner on a caller's behalf */
typedef struct PgcSavedUser
{
	Oid			userid;
	int			sec_context;
} PgcSavedUser;

extern Oid	pgc_extension_owner(void);
extern void pgc_as_extension_owner(PgcSavedUser *saved);
extern void pgc_as_caller(PgcSavedUser *saved);
extern bool pgc_api_writing;

/* wait.c: drop_pipeline's effects outside this database */
extern void pgc_prevent_drop_in_block(void);

/*
 * The catalog version this library reads and writes: the Makefile's
 * EXTVERSION.  A catalog of another version (binaries upgraded, ALTER
 * EXTENSION pgconduit UPDATE not yet run) is refused with a hint to update.
 */
#ifndef PGC_CATALOG_VERSION
#error "PGC_CATALOG_VERSION is set by the Makefile"
#endif
extern bool pgc_catalog_mismatch;
extern char *pgc_catalog_version(void);
extern void pgc_check_catalog_version(const char *version, const char *where);
extern void pgc_require_catalog_version(void);

/* jsonb_parse.c: JSON text to jsonb, as jsonb_in gives it, faster */
extern Jsonb *pgc_jsonb_parse(const char *json, int len);

#endif							/* PGCONDUIT_H */
