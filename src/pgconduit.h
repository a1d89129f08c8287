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

/* true when loaded through shared_preload_libraries */
extern bool pgc_preloaded;

/* the role that may manage connectors and pipelines besides superusers */
#define PGC_ADMIN_ROLE "pgconduit_admin"

extern void pgc_check_admin(void);

/* jsonb_parse.c: JSON text to jsonb, as jsonb_in gives it, faster */
extern Jsonb *pgc_jsonb_parse(const char *json, int len);

#endif							/* PGCONDUIT_H */
