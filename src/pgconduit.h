/*-------------------------------------------------------------------------
 *
 * pgconduit.h
 *	  Declarations shared by the modules of the pgconduit extension: the
 *	  settings defined in pgconduit.c and the module entry points.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGCONDUIT_H
#define PGCONDUIT_H

/* GUCs, defined in pgconduit.c */
extern int	pgc_buffer_size;
extern int	pgc_max_pipelines;

/* true when loaded through shared_preload_libraries */
extern bool pgc_preloaded;

/* the role that may manage connectors and pipelines besides superusers */
#define PGC_ADMIN_ROLE "pgconduit_admin"

extern void pgc_check_admin(void);

#endif							/* PGCONDUIT_H */
