# 014_tables_snapshot.pl: a source of many tables takes one snapshot per
# table, each with its own brief SHARE lock, cut and destination
# transaction.  Attacks: a writer holding one table back must not hold the
# others (nor their writers) back; the worker killed while it waits must
# copy again only the tables not yet committed; writes to every table
# during the snapshots must arrive exactly once, each table's changes from
# its own cut on (the destination logs every row event, which shows a
# change applied twice where the contents would not).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use PgconduitTest;

my $node = pgconduit_node('tables');
$node->start;
sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }

$node->safe_psql('postgres', q{CREATE DATABASE src});
$node->safe_psql('postgres', q{CREATE DATABASE dst});
my $src_url = lit($node->connstr('src'));
my $dst_url = lit($node->connstr('dst'));
my @tables = qw(t1 t2 t3 t4);

for my $t (@tables)
{
	$node->safe_psql('src', qq{
		CREATE TABLE $t (id int PRIMARY KEY, v text);
		INSERT INTO $t SELECT g, md5(g::text) FROM generate_series(1, 3000) g;
	});
}
$node->safe_psql('dst', q{
	CREATE EXTENSION pgconduit;
	CREATE TABLE log (t text, id int, op text);
	CREATE FUNCTION log_row() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.log VALUES (TG_TABLE_NAME,
			CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, TG_OP);
		RETURN NULL;
	END $$;
});
for my $t (@tables)
{
	$node->safe_psql('dst', qq{
		CREATE TABLE $t (id int PRIMARY KEY, v text);
		CREATE TRIGGER log_row AFTER INSERT OR UPDATE OR DELETE ON $t
			FOR EACH ROW EXECUTE FUNCTION log_row();
		ALTER TABLE $t ENABLE ALWAYS TRIGGER log_row;
	});
}
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pgconduit;
	SELECT pgconduit.create_source('s', jsonb_build_object('tables', 't1, t2, t3, t4',
		'url', $src_url));
	SELECT pgconduit.create_destination('d', jsonb_build_object('url', $dst_url,
		'batch_size', 100));
});

# writes to every table during the whole test, each its own transaction:
# new rows only, so that every row event at the destination is an INSERT
my $load = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('src'), '-c', q{
	DO $$
	BEGIN
		FOR i IN 1..400 LOOP
			INSERT INTO t1 VALUES (100000 + i, 'load');
			INSERT INTO t2 VALUES (100000 + i, 'load');
			INSERT INTO t4 VALUES (100000 + i, 'load');
			COMMIT;
			PERFORM pg_sleep(0.01);
		END LOOP;
	END $$;
	} ],
	'>', \my $load_out, '2>', \my $load_err);

# a writer holds t3, so that its snapshot waits for its SHARE lock (with no
# transaction ID yet, which creating the slot would wait for)
my $holder = $node->background_psql('src');
$holder->query_safe(q{BEGIN; LOCK TABLE t3 IN ROW EXCLUSIVE MODE});
$node->safe_psql('postgres', q{SELECT pgconduit.create_pipeline('p', 's', 'd')});
$node->poll_query_until('src', q{
	SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	 WHERE NOT l.granted AND a.application_name = 'pgconduit p'
	   AND l.relation = 't3'::regclass})
  or die 'the worker did not wait for t3';

# the tables before it are committed, and their writers are not held
is($node->safe_psql('dst', q{
	SELECT string_agg(source_table || ' ' || state, ', ' ORDER BY source_table)
	  FROM pgconduit.progress_table}),
	'public.t1 streaming, public.t2 streaming', 'the tables before the held one are committed');
is($node->safe_psql('dst', 'SELECT count(*) >= 3000 FROM t1'), 't', 't1 is copied');
is($node->safe_psql('src', q{
	SET statement_timeout = '5s';
	INSERT INTO t1 VALUES (-1, 'not held');
	INSERT INTO t2 VALUES (-1, 'not held');
	INSERT INTO t4 VALUES (-1, 'not held');
	SELECT 'written'}), 'written',
	'writers of the other tables are not held while one table waits');
is($node->safe_psql('src', q{
	SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	 WHERE a.application_name = 'pgconduit p' AND l.granted
	   AND l.relation IN ('t1'::regclass, 't2'::regclass, 't4'::regclass)}),
	'0', 'the worker holds no lock on any other table');

# the worker dies while it waits: t1 and t2 are not copied again
my $xmins = $node->safe_psql('dst', q{
	SELECT string_agg(source_table || ':' || updated_at, ',' ORDER BY source_table)
	  FROM pgconduit.progress_table});
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pgconduit.status WHERE pipeline = 'p'});
$node->safe_psql('postgres', qq{SELECT pg_terminate_backend($pid)});
$node->poll_query_until('postgres', qq{
	SELECT pid IS NOT NULL AND pid <> $pid FROM pgconduit.status WHERE pipeline = 'p'})
  or die 'the worker did not start again';
$holder->query_safe(q{INSERT INTO t3 VALUES (0, 'held'); COMMIT});
$holder->quit;
$load->finish;
is($node->safe_psql('postgres', q{SELECT pgconduit.wait_for_pipeline('p', '120 s')}), 't',
	'the pipeline catches up');
is($node->safe_psql('dst', q{
	SELECT string_agg(source_table || ':' || updated_at, ',' ORDER BY source_table)
	  FROM pgconduit.progress_table WHERE source_table IN ('public.t1', 'public.t2')}),
	$xmins, 'the tables committed before the worker died are not copied again');
is($node->safe_psql('dst', q{
	SELECT string_agg(source_table || ' ' || state, ', ' ORDER BY source_table)
	  FROM pgconduit.progress_table}),
	'public.t1 streaming, public.t2 streaming, public.t3 streaming, public.t4 streaming', 'every table is streaming');

# every table equals its source, every row inserted once, nothing updated
for my $t (@tables)
{
	my $sum = "SELECT count(*) || ':' || md5(string_agg(id || v, ',' ORDER BY id)) FROM $t";
	is($node->safe_psql('dst', $sum), $node->safe_psql('src', $sum), "$t equals its source");
}
is($node->safe_psql('dst', q{
	SELECT count(*) FROM (SELECT t, id FROM log GROUP BY t, id HAVING count(*) <> 1) x}),
	'0', 'every row was applied exactly once');
is($node->safe_psql('dst', q{SELECT count(*) FROM log WHERE op <> 'INSERT'}), '0',
	'no change was applied again over its snapshot');

# the cuts differ: each table had its own
is($node->safe_psql('dst', q{SELECT count(DISTINCT cut) > 1 FROM pgconduit.progress_table}),
	't', 'each table has its own cut');
ok(!$node->log_contains('terminated by signal'), 'no backend crashed');

$node->safe_psql('postgres', q{SELECT pgconduit.drop_pipeline('p')});
done_testing();
