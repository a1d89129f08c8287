-- catalog_description.sql: every catalog fact of the pgconduit extension
-- in the current database, one line each, sorted -- so that two databases
-- can be compared line by line (t/005_upgrade.pl compares an upgraded 0.1
-- with a fresh install).  It covers the extension row (version, schema,
-- pg_extension_config_dump tables and conditions), every member object by
-- identity, and for each: tables, views and sequences with their columns
-- (position, type, nullability, default, identity, generation, collation,
-- storage, ACL, comment), constraints, indexes, triggers, rules, policies,
-- options, ACLs and comments; views' definitions; sequences' parameters
-- and owners; functions in full (pg_get_functiondef: arguments with
-- defaults, result, language, volatility, strictness, SECURITY DEFINER,
-- SET configuration, cost, rows, parallel safety, body) with ACLs and
-- comments; types; the schema's owner, ACL and comment; the role
-- pgconduit_admin and its memberships; and any object in the schema that
-- is not a member of the extension.
WITH ext AS (
	SELECT e.oid, e.extname, e.extowner, e.extnamespace, e.extversion, e.extrelocatable,
		   e.extconfig, e.extcondition
	  FROM pg_catalog.pg_extension e WHERE e.extname = 'pgconduit'
), member AS (
	SELECT d.classid, d.objid, d.objsubid
	  FROM pg_catalog.pg_depend d, ext
	 WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	   AND d.refobjid = ext.oid AND d.deptype = 'e'
), rel AS (
	SELECT c.oid::pg_catalog.regclass::text AS name, c.*
	  FROM pg_catalog.pg_class c JOIN member m
		ON m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND m.objid = c.oid
), fn AS (
	SELECT p.*
	  FROM pg_catalog.pg_proc p JOIN member m
		ON m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND m.objid = p.oid
)
SELECT line FROM (
	-- the extension, its config tables and their dump conditions
	SELECT pg_catalog.format('extension %s version %s schema %s relocatable %s', extname,
			   extversion, extnamespace::pg_catalog.regnamespace, extrelocatable) AS line
	  FROM ext
	UNION ALL
	SELECT pg_catalog.format('config_dump %s condition %L', c::pg_catalog.regclass, cond)
	  FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(c, cond)
	-- every member object
	UNION ALL
	SELECT pg_catalog.format('member %s %s', o.type, o.identity)
	  FROM member m, pg_catalog.pg_identify_object(m.classid, m.objid, m.objsubid) o
	-- objects in the schema that are not members
	UNION ALL
	SELECT pg_catalog.format('not a member: relation %s', c.oid::pg_catalog.regclass)
	  FROM pg_catalog.pg_class c, ext
	 WHERE c.relnamespace = ext.extnamespace AND c.relkind IN ('r', 'v', 'm', 'S', 'f', 'p', 'c')
	   AND NOT EXISTS (SELECT 1 FROM member m WHERE m.objid = c.oid
						  AND m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
	UNION ALL
	SELECT pg_catalog.format('not a member: function %s', p.oid::pg_catalog.regprocedure)
	  FROM pg_catalog.pg_proc p, ext
	 WHERE p.pronamespace = ext.extnamespace
	   AND NOT EXISTS (SELECT 1 FROM member m WHERE m.objid = p.oid
						  AND m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass)
	-- the schema
	UNION ALL
	SELECT pg_catalog.format('schema %s owner %s acl %s comment %L', n.nspname,
			   CASE WHEN n.nspowner = ext.extowner THEN 'the extension owner'
					ELSE n.nspowner::pg_catalog.regrole::text END,
			   (SELECT pg_catalog.array_agg(a::text ORDER BY a::text) FROM unnest(n.nspacl) a),
			   pg_catalog.obj_description(n.oid, 'pg_namespace'))
	  FROM pg_catalog.pg_namespace n, ext WHERE n.oid = ext.extnamespace
	-- the role, its attributes and memberships
	UNION ALL
	SELECT pg_catalog.format('role %s super %s inherit %s createrole %s createdb %s login %s replication %s bypassrls %s connlimit %s member of %s',
			   r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
			   r.rolreplication, r.rolbypassrls, r.rolconnlimit,
			   (SELECT pg_catalog.array_agg(g.roleid::pg_catalog.regrole::text ORDER BY 1)
				  FROM pg_catalog.pg_auth_members g WHERE g.member = r.oid))
	  FROM pg_catalog.pg_roles r WHERE r.rolname = 'pgconduit_admin'
	-- relations: tables, views, sequences, composite types
	UNION ALL
	SELECT pg_catalog.format('relation %s kind %s persistence %s owner %s acl %s options %s replica_identity %s row_security %s/%s partitioned_by %s inherits %s comment %L',
			   r.name, r.relkind, r.relpersistence,
			   CASE WHEN r.relowner = ext.extowner THEN 'the extension owner'
					ELSE r.relowner::pg_catalog.regrole::text END,
			   (SELECT pg_catalog.array_agg(a::text ORDER BY a::text) FROM unnest(r.relacl) a),
			   r.reloptions, r.relreplident, r.relrowsecurity, r.relforcerowsecurity,
			   CASE WHEN r.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(r.oid) END,
			   (SELECT pg_catalog.array_agg(i.inhparent::pg_catalog.regclass::text ORDER BY i.inhseqno)
				  FROM pg_catalog.pg_inherits i WHERE i.inhrelid = r.oid),
			   pg_catalog.obj_description(r.oid, 'pg_class'))
	  FROM rel r, ext
	UNION ALL
	SELECT pg_catalog.format('column %s #%s %s %s not_null %s default %s identity %L generated %L collation %s storage %s compression %L acl %s comment %L',
			   r.name,
			   pg_catalog.row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum),
			   a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
			   pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
			   CASE WHEN a.attcollation <> 0 THEN a.attcollation::pg_catalog.regcollation::text END,
			   a.attstorage, a.attcompression,
			   (SELECT pg_catalog.array_agg(x::text ORDER BY x::text) FROM unnest(a.attacl) x),
			   pg_catalog.col_description(r.oid, a.attnum))
	  FROM rel r
	  JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	UNION ALL
	SELECT pg_catalog.format('constraint %s %s %s', r.name, c.conname, pg_catalog.pg_get_constraintdef(c.oid))
	  FROM rel r JOIN pg_catalog.pg_constraint c ON c.conrelid = r.oid
	UNION ALL
	SELECT pg_catalog.format('index %s primary %s unique %s replica_identity %s clustered %s valid %s',
			   pg_catalog.pg_get_indexdef(i.indexrelid), i.indisprimary, i.indisunique,
			   i.indisreplident, i.indisclustered, i.indisvalid)
	  FROM rel r JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
	UNION ALL
	SELECT pg_catalog.format('trigger %s enabled %s', pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled)
	  FROM rel r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
	UNION ALL
	SELECT pg_catalog.format('rule %s %s', r.name, pg_catalog.pg_get_ruledef(w.oid))
	  FROM rel r JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.oid AND w.rulename <> '_RETURN'
	UNION ALL
	SELECT pg_catalog.format('policy %s %s cmd %s permissive %s roles %s using %s check %s', r.name,
			   p.polname, p.polcmd, p.polpermissive, p.polroles::pg_catalog.regrole[],
			   pg_catalog.pg_get_expr(p.polqual, p.polrelid),
			   pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
	  FROM rel r JOIN pg_catalog.pg_policy p ON p.polrelid = r.oid
	UNION ALL
	SELECT pg_catalog.format('view %s %s', r.name, pg_catalog.pg_get_viewdef(r.oid, true))
	  FROM rel r WHERE r.relkind IN ('v', 'm')
	UNION ALL
	SELECT pg_catalog.format('sequence %s type %s start %s increment %s max %s min %s cache %s cycle %s owned_by %s',
			   r.name, s.seqtypid::pg_catalog.regtype, s.seqstart, s.seqincrement, s.seqmax, s.seqmin,
			   s.seqcache, s.seqcycle,
			   (SELECT pg_catalog.format('%s.%s', d.refobjid::pg_catalog.regclass, a.attname)
				  FROM pg_catalog.pg_depend d
				  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
				 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = r.oid
				   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
				   AND d.deptype IN ('a', 'i')))
	  FROM rel r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
	-- functions, whole
	UNION ALL
	SELECT pg_catalog.format('function %s owner %s acl %s comment %L definition %s',
			   f.oid::pg_catalog.regprocedure,
			   CASE WHEN f.proowner = ext.extowner THEN 'the extension owner'
					ELSE f.proowner::pg_catalog.regrole::text END,
			   (SELECT pg_catalog.array_agg(a::text ORDER BY a::text) FROM unnest(f.proacl) a),
			   pg_catalog.obj_description(f.oid, 'pg_proc'),
			   CASE WHEN f.prokind IN ('f', 'p') THEN pg_catalog.pg_get_functiondef(f.oid)
					ELSE f.prokind::text || ' ' || f.prosrc END)
	  FROM fn f, ext
	-- types other than the row types of relations
	UNION ALL
	SELECT pg_catalog.format('type %s kind %s acl %s base %s not_null %s default %s labels %s constraints %s comment %L',
			   t.oid::pg_catalog.regtype, t.typtype,
			   (SELECT pg_catalog.array_agg(a::text ORDER BY a::text) FROM unnest(t.typacl) a),
			   CASE WHEN t.typbasetype <> 0 THEN t.typbasetype::pg_catalog.regtype::text END,
			   t.typnotnull, t.typdefault,
			   (SELECT pg_catalog.array_agg(e.enumlabel ORDER BY e.enumsortorder)
				  FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
			   (SELECT pg_catalog.array_agg(pg_catalog.pg_get_constraintdef(c.oid) ORDER BY c.conname)
				  FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid),
			   pg_catalog.obj_description(t.oid, 'pg_type'))
	  FROM pg_catalog.pg_type t JOIN member m
		ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND m.objid = t.oid
) AS description
ORDER BY line;
