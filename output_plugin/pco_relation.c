/*-------------------------------------------------------------------------
 *
 * pco_relation.c
 *		Per-relation cache of pgconduit_output: what a record needs to know
 *		about a table, looked up once and kept until the table changes.
 *
 * An entry holds the table's names (already escaped as JSON), its live
 * columns with their encoders, its key columns (the replica identity index
 * when the table's replica identity is USING INDEX, else the primary key,
 * else none), and which actions are selected for it by the "tables",
 * "exclude_tables", "table_oids", "publication_names" and "actions"
 * options.  With "via_partition_root", a partition's entry describes the
 * top-most of its ancestors that these options select, and maps the
 * partition's attributes to that ancestor's with a tuple conversion map, as
 * pgoutput does for publish_via_partition_root.  Entries are invalidated by
 * relcache callbacks (of the relation, or of the ancestor it is reported
 * under), and all of them by changes of publications or schemas, the way
 * pgoutput's RelationSyncCache works; they are rebuilt on next use under
 * the historic snapshot of the change being decoded, so a record always
 * describes the table as it was at that change.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/tupconvert.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_publication.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "pco.h"
#include "protocol.h"

/* A cache entry and the memory its contents live in */
typedef struct PcoRelEntry
{
	Oid			relid;
	PcoRelation rel;
	MemoryContext cxt;			/* NULL until first built */
} PcoRelEntry;

static HTAB *pco_relations = NULL;
static MemoryContext pco_cache_cxt = NULL;
static PcoOptions *pco_options = NULL;
static bool pco_callbacks_registered = false;
static MemoryContextCallback pco_cache_reset_callback;
static PcoRelEntry *pco_last = NULL;	/* the entry used last */
static int	pco_npartitions = 0;	/* entries reported under an ancestor */

/*
 * Mark the entries that depend on a relation (or all, for InvalidOid) to be
 * rebuilt: its own, and those of partitions reported under it, which take
 * its name and columns.  (Attaching or detaching a partitioned table
 * invalidates its partitions too, whose partition constraint changes.)
 */
static void
pco_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	PcoRelEntry *entry;

	if (pco_relations == NULL)
		return;
	if (OidIsValid(relid) && pco_npartitions == 0)
	{
		entry = hash_search(pco_relations, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			entry->rel.valid = false;
		return;
	}
	hash_seq_init(&seq, pco_relations);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (!OidIsValid(relid) || entry->relid == relid ||
			entry->rel.report_relid == relid)
			entry->rel.valid = false;
}

/* Publications, schemas or casts changed: every entry may be affected */
static void
pco_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	pco_relcache_callback(arg, InvalidOid);
}

/*
 * The cache's memory is going away, also when decoding ends in an error and
 * the shutdown callback is never called: forget it, so that a later
 * invalidation in this backend does not touch freed memory.
 */
static void
pco_cache_reset(void *arg)
{
	pco_relations = NULL;
	pco_cache_cxt = NULL;
	pco_options = NULL;
	pco_last = NULL;
	pco_npartitions = 0;
}

/*
 * Set up the cache for a decoding session.  The callbacks stay registered
 * for the life of the process (they cannot be removed) and do nothing while
 * no session is active.
 */
void
pco_relation_init(MemoryContext cxt, PcoOptions *options)
{
	HASHCTL		ctl;

	pco_cache_cxt = AllocSetContextCreate(cxt, "pgconduit_output relations",
										  ALLOCSET_DEFAULT_SIZES);
	pco_cache_reset_callback.func = pco_cache_reset;
	pco_cache_reset_callback.arg = NULL;
	MemoryContextRegisterResetCallback(pco_cache_cxt, &pco_cache_reset_callback);
	pco_options = options;
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(PcoRelEntry);
	ctl.hcxt = pco_cache_cxt;
	pco_relations = hash_create("pgconduit_output relations", 128, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	if (!pco_callbacks_registered)
	{
		CacheRegisterRelcacheCallback(pco_relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(PUBLICATIONOID, pco_syscache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(PUBLICATIONRELMAP, pco_syscache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(PUBLICATIONNAMESPACEMAP, pco_syscache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, pco_syscache_callback, (Datum) 0);
		/* a new cast to json changes how to_jsonb() encodes a type */
		CacheRegisterSyscacheCallback(CASTSOURCETARGET, pco_syscache_callback, (Datum) 0);
		pco_callbacks_registered = true;
	}
}

/* Forget the session's cache; its memory goes with the plugin's context */
void
pco_relation_shutdown(void)
{
	pco_cache_reset(NULL);
}

/* Is the table selected by the "tables" and "exclude_tables" options? */
static bool
pco_table_selected(const char *schema, const char *table)
{
	if (pco_options->table_patterns != NIL &&
		!pgc_pattern_list_match(pco_options->table_patterns, schema, table))
		return false;
	return !pgc_pattern_list_match(pco_options->exclude_patterns, schema, table);
}

/* Add to *actions what pub publishes */
static void
pco_add_pub_actions(Publication *pub, int *actions)
{
	if (pub->pubactions.pubinsert)
		*actions |= PCO_ACT_CREATE;
	if (pub->pubactions.pubupdate)
		*actions |= PCO_ACT_UPDATE;
	if (pub->pubactions.pubdelete)
		*actions |= PCO_ACT_DELETE;
	if (pub->pubactions.pubtruncate)
		*actions |= PCO_ACT_TRUNCATE;
}

/*
 * The actions the "publication_names" option selects for a relation: the
 * union over the named publications that include it, directly, through its
 * schema, as FOR ALL TABLES, or through a partitioned ancestor.
 */
static int
pco_publication_actions(Relation relation)
{
	Oid			relid = RelationGetRelid(relation);
	List	   *rels = list_make1_oid(relid);
	List	   *pubids = NIL;
	int			actions = 0;
	ListCell   *lc;

	if (relation->rd_rel->relispartition)
		rels = list_concat(rels, get_partition_ancestors(relid));
	foreach(lc, rels)
	{
		Oid			r = lfirst_oid(lc);

		pubids = list_concat(pubids, GetRelationPublications(r));
		pubids = list_concat(pubids,
							 GetSchemaPublications(get_rel_namespace(r)));
	}

	foreach(lc, pco_options->publication_names)
	{
		Publication *pub = GetPublicationByName(lfirst(lc), false);

		if (pub->alltables || list_member_oid(pubids, pub->oid))
			pco_add_pub_actions(pub, &actions);
	}
	return actions;
}

/*
 * The actions the options select for a relation; 0 if it is not selected.
 * A table is chosen when its OID is in "table_oids" or its name matches
 * "follow_tables" (any table when neither is given); "tables",
 * "exclude_tables" and "publication_names" filter on top, and
 * "exclude_oids" drops it whatever chose it.
 */
static int
pco_selected_actions(Relation relation)
{
	Oid			relid = RelationGetRelid(relation);
	char	   *schema = get_namespace_name(RelationGetNamespace(relation));
	char	   *name = RelationGetRelationName(relation);
	int			actions = pco_options->actions;

	if (list_member_oid(pco_options->exclude_oids, relid))
		return 0;
	if ((pco_options->table_oids != NIL || pco_options->follow_patterns != NIL) &&
		!list_member_oid(pco_options->table_oids, relid) &&
		!pgc_pattern_list_match(pco_options->follow_patterns, schema, name))
		return 0;
	if (!pco_table_selected(schema, name))
		return 0;
	if (actions != 0 && pco_options->publication_names != NIL)
		actions &= pco_publication_actions(relation);
	return actions;
}

/*
 * "table":…,"opencdc.collection":…,"postgres.schema":… of a relation, led
 * by "postgres.relid":"<relid>", when include_relid asks for it (relid is
 * the table a record is reported under, which may not be relation).
 */
static char *
pco_meta_table(Relation relation, Oid relid, int *len, int *table_only_len,
			   int *value_start)
{
	char	   *schema = get_namespace_name(RelationGetNamespace(relation));
	char	   *name = RelationGetRelationName(relation);
	StringInfoData buf;

	initStringInfo(&buf);
	if (pco_options->include_relid)
		appendStringInfo(&buf, PGC_PROTO_RELID_MEMBER "%u\",", relid);
	appendStringInfoString(&buf, "\"table\":");
	if (value_start)
		*value_start = buf.len;
	pco_json_escape(&buf, quote_qualified_identifier(schema, name), -1);
	if (table_only_len)
		*table_only_len = buf.len;
	appendStringInfoString(&buf, ",\"opencdc.collection\":");
	pco_json_escape(&buf, name, -1);
	appendStringInfoString(&buf, ",\"postgres.schema\":");
	pco_json_escape(&buf, schema, -1);
	pco_terminate(&buf);
	*len = buf.len;
	return buf.data;
}

/*
 * The names (char *) of a "columns" or "key" option that apply to a table:
 * those qualified by its OID if any are, else the unqualified ones.
 */
static List *
pco_columns_of(List *items, Oid relid)
{
	List	   *own = NIL;
	List	   *any = NIL;
	ListCell   *lc;

	foreach(lc, items)
	{
		PcoColumnName *item = lfirst(lc);

		if (item->relid == relid)
			own = lappend(own, item->name);
		else if (!OidIsValid(item->relid))
			any = lappend(any, item->name);
	}
	return own != NIL ? own : any;
}

/* The attribute numbers of an index's key columns, in index order */
static List *
pco_index_columns(Oid indexoid)
{
	Relation	index = RelationIdGetRelation(indexoid);
	List	   *attnums = NIL;

	if (!RelationIsValid(index))
		elog(ERROR, "could not open index with OID %u", indexoid);
	for (int i = 0; i < index->rd_index->indnkeyatts; i++)
		attnums = lappend_int(attnums, index->rd_index->indkey.values[i]);
	RelationClose(index);
	return attnums;
}

/*
 * Fill entry from relation, in entry's own memory context.  The entry is
 * marked valid first, so that an invalidation arriving while the catalogs
 * are read marks it to be built again.
 */
static void
pco_relation_build(PcoRelEntry *entry, Relation relation)
{
	PcoRelation *rel = &entry->rel;
	Relation	report = relation;
	TupleDesc	desc;
	StringInfoData buf;
	Oid			keyindex = InvalidOid;
	List	   *keycols = NIL;
	List	   *ancestors = NIL;
	List	   *key_names;
	List	   *payload_names;
	MemoryContext old;
	ListCell   *lc;

	rel->valid = true;
	if (entry->cxt != NULL)
	{
		MemoryContextDelete(entry->cxt);
		if (rel->report_relid != entry->relid)
			pco_npartitions--;
	}
	entry->cxt = AllocSetContextCreate(pco_cache_cxt, "pgconduit_output relation",
									   ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(entry->cxt);
	rel->nancestors = 0;
	rel->report_relid = entry->relid;
	rel->attrmap = NULL;
	rel->own_meta_table = NULL;
	rel->actions = 0;

	/* a partition's ancestors, its parent first */
	if (relation->rd_rel->relispartition)
	{
		ancestors = get_partition_ancestors(RelationGetRelid(relation));
		rel->ancestors = palloc(sizeof(Oid) * Max(list_length(ancestors), 1));
		foreach(lc, ancestors)
			rel->ancestors[foreach_current_index(lc)] = lfirst_oid(lc);
		rel->nancestors = list_length(ancestors);
	}

	/*
	 * With via_partition_root, the top-most ancestor that the options
	 * select reports the partition's changes; if none does, the partition
	 * reports them itself, if it is selected.
	 */
	if (pco_options->via_partition_root)
	{
		for (int i = rel->nancestors - 1; i >= 0; i--)
		{
			Relation	anc = RelationIdGetRelation(rel->ancestors[i]);

			if (!RelationIsValid(anc))
				elog(ERROR, "could not open relation with OID %u",
					 rel->ancestors[i]);
			rel->actions = pco_selected_actions(anc);
			if (rel->actions != 0)
			{
				report = anc;
				break;
			}
			RelationClose(anc);
		}
	}
	if (report == relation)
		rel->actions = pco_selected_actions(relation);
	else
		pco_npartitions++;
	rel->report_relid = RelationGetRelid(report);
	desc = RelationGetDescr(report);

	rel->relid = RelationGetRelid(relation);

	/* an unselected relation's changes are skipped: nothing more needed */
	if (rel->actions == 0)
	{
		rel->natts = rel->ncolumns = rel->nkeys = 0;
		MemoryContextSwitchTo(old);
		return;
	}

	/* "table", "opencdc.collection" and "postgres.schema", escaped once */
	rel->meta_table = pco_meta_table(report, rel->report_relid,
									 &rel->meta_table_len,
									 &rel->meta_table_only_len,
									 &rel->table_value_start);
	if (report != relation)
	{
		TupleConversionMap *map;

		rel->own_meta_table = pco_meta_table(relation, rel->report_relid,
											 &rel->own_meta_table_len,
											 NULL, NULL);
		/* NULL when the partition's attributes are the ancestor's */
		map = convert_tuples_by_name(CreateTupleDescCopy(RelationGetDescr(relation)),
									 CreateTupleDescCopy(desc));
		if (map != NULL)
			rel->attrmap = map->attrMap;
	}

	/*
	 * The key: under REPLICA IDENTITY USING INDEX that index, since the old
	 * row of a delete carries only its columns; else the primary key.  The
	 * replica identity is the changed relation's, which decides what its
	 * WAL holds; the key is the reported relation's.
	 */
	rel->replident = relation->rd_rel->relreplident;
	key_names = pco_columns_of(pco_options->key_columns, rel->report_relid);
	payload_names = pco_columns_of(pco_options->columns, rel->report_relid);
	if (key_names != NIL)
	{
		/* the consumer names the key (a source's "key") */
		foreach(lc, key_names)
		{
			AttrNumber	attnum = get_attnum(RelationGetRelid(report),
											lfirst(lc));

			if (attnum > 0)
				keycols = lappend_int(keycols, attnum);
		}
	}
	else
	{
		if (report->rd_rel->relreplident == REPLICA_IDENTITY_INDEX)
			keyindex = RelationGetReplicaIndex(report);
		if (!OidIsValid(keyindex))
			keyindex = pgc_primary_key_index(report);
		if (OidIsValid(keyindex))
			keycols = pco_index_columns(keyindex);
	}

	/* live, stored columns; generated ones are left to the destination */
	rel->natts = desc->natts;
	rel->columns = palloc0(sizeof(PcoColumn) * Max(desc->natts, 1));
	rel->column_is_key = palloc0(sizeof(bool) * Max(desc->natts, 1));
	rel->ncolumns = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		PcoColumn  *col;

		if (att->attisdropped || att->attgenerated)
			continue;
		col = &rel->columns[rel->ncolumns++];
		col->attnum = att->attnum;
		col->is_varlena = (att->attlen == -1);
		col->in_payload = (payload_names == NIL);
		foreach(lc, payload_names)
		{
			if (strcmp(lfirst(lc), NameStr(att->attname)) == 0)
				col->in_payload = true;
		}
		initStringInfo(&buf);
		pco_json_escape(&buf, NameStr(att->attname), -1);
		pco_putc(&buf, ':');
		pco_terminate(&buf);
		col->json_name = buf.data;
		col->json_name_len = buf.len;
		col->encoder = pco_encoder_create(att->atttypid, entry->cxt);
		col->is_json = (col->encoder->kind == PCO_VALUE_JSON ||
						col->encoder->kind == PCO_VALUE_JSONB);
	}

	rel->nkeys = 0;
	rel->key_index = palloc(sizeof(int) * (list_length(keycols) + 1));
	foreach(lc, keycols)
	{
		for (int i = 0; i < rel->ncolumns; i++)
		{
			if (rel->columns[i].attnum == lfirst_int(lc))
			{
				rel->key_index[rel->nkeys++] = i;
				rel->column_is_key[i] = true;
				break;
			}
		}
	}
	/* an expression index leaves a key we cannot report */
	if (rel->nkeys != list_length(keycols))
	{
		rel->nkeys = 0;
		memset(rel->column_is_key, 0, sizeof(bool) * Max(desc->natts, 1));
	}

	if (report != relation)
		RelationClose(report);
	MemoryContextSwitchTo(old);
}

/* The cache entry of relation, built or rebuilt as needed */
PcoRelation *
pco_relation_get(Relation relation)
{
	Oid			relid = RelationGetRelid(relation);
	PcoRelEntry *entry;
	bool		found;

	/* consecutive changes mostly hit the same table */
	if (pco_last != NULL && pco_last->relid == relid && pco_last->rel.valid)
		return &pco_last->rel;

	entry = hash_search(pco_relations, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->cxt = NULL;
		entry->rel.valid = false;
		entry->rel.report_relid = relid;
		entry->rel.nancestors = 0;
	}
	if (!entry->rel.valid)
		pco_relation_build(entry, relation);
	pco_last = entry;
	return &entry->rel;
}

/*
 * Parse the "tables" option: a comma-separated list of table names, each
 * optionally schema-qualified; * matches any characters within an unquoted
 * part, and an unqualified name matches that table in any schema (the
 * syntax of pattern.h, which a source's "tables" shares).
 */
List *
pco_parse_table_patterns(const char *value, const char *option)
{
	const char *detail = NULL;
	List	   *patterns = pgc_pattern_parse_list(value, &detail);

	if (patterns == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						option, value),
				 errdetail_internal("%s", detail)));
	return patterns;
}
