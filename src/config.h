/*-------------------------------------------------------------------------
 *
 * config.h
 *	  Connector configurations: the jsonb a user gives create_source() and
 *	  create_destination(), validated and parsed into C structs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGC_CONFIG_H
#define PGC_CONFIG_H

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/* A per-table value of "columns" or "key" given as an object */
typedef struct PgcTableList
{
	char	   *table;			/* the object's key, as the user wrote it (SQL
								 * syntax, schema optional) */
	List	   *names;			/* column names (char *) */
} PgcTableList;

typedef struct PgcSourceConfig
{
	char	   *table;			/* one-table form ("table"), as the user wrote
								 * it, or NULL */
	List	   *tables;			/* "tables": items (char *) in SQL syntax, each
								 * a name or a pattern with '*' ("public.*",
								 * "sales.order_*", "*"); NIL with "table" */
	char	   *url;
	char	   *replication_url;	/* url when not given */
	List	   *columns;		/* column names (char *) given as a string or
								 * array, for every table; NIL means all */
	List	   *key;			/* likewise; NIL means the primary key */
	List	   *columns_by_table;	/* PgcTableList *, from an object ("tables"
									 * only); NIL otherwise */
	List	   *key_by_table;	/* likewise */
	bool		snapshot;
	bool		cdc;
	char	   *publication_name;
	char	   *slot_name;
	int			buffer_size;	/* 0 means pgconduit.buffer_size */
	bool		failover;		/* slot synchronized to standbys (17+) */
} PgcSourceConfig;

typedef enum PgcOnError
{
	PGC_ON_ERROR_HALT,
	PGC_ON_ERROR_DEAD_LETTER
} PgcOnError;

typedef struct PgcDestinationConfig
{
	char	   *url;
	char	   *table;			/* NULL means each record's metadata.table;
								 * with braces, a template (template.h) */
	int			batch_size;
	PgcOnError	on_error;
} PgcDestinationConfig;

#define PGC_DEFAULT_BATCH_SIZE 1000

extern PgcSourceConfig *pgc_source_config_parse(const char *name, Jsonb *config);
extern PgcDestinationConfig *pgc_destination_config_parse(const char *name, Jsonb *config);
extern Jsonb *pgc_config_normalize(const char *kind, const char *name, Jsonb *config,
								   Oid owner);
extern char *pgc_default_object_name(const char *connector);
extern void pgc_check_connector_name(const char *what, const char *name);

#endif							/* PGC_CONFIG_H */
