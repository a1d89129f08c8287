# 005_source_table_race.pl: the source table is dropped and made again
# between the worker finding it and locking it for the snapshot.  The worker
# must notice (it locks the table by OID and checks the name still is that
# OID), start over and copy the new table -- not read an empty result and
# crash the server.  And a pipeline remembers the table it started with
# across a server restart: replaced meanwhile by a table of the same name,
# it fails instead of going on with a table whose rows it never read.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgconduitTest;

my $node = pgconduit_node('race');
$node->start;

sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
my $url = lit($node->connstr('postgres'));
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pgconduit;
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t VALUES (1, 'old table');
	CREATE TABLE d (id int PRIMARY KEY, v text);
	SELECT pgconduit.create_source('s', jsonb_build_object('table', 't', 'url', $url));
	SELECT pgconduit.create_destination('d', jsonb_build_object('table', 'd', 'url', $url));
});

# wait_for_pipeline returns false at once for a failed pipeline, so the
# checks with it fail fast where the pipeline does; the first polls, as the
# worker fails once (to be retried) when it finds the table replaced

# hold the table, so that the worker, having found it, waits to publish it
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
$node->safe_psql('postgres', q{SELECT pgconduit.create_pipeline('p', 's', 'd')});
$node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	 WHERE NOT l.granted AND a.application_name = 'pgconduit p'})
  or die 'the worker did not wait for the table';

# the table it found goes away; a new one takes its name
$holder->query_safe(q{
	DROP TABLE t;
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t VALUES (2, 'new table');
	COMMIT});
$holder->quit;

ok($node->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('p', '1 s')}),
	'the pipeline runs once the table was replaced before its snapshot');
is($node->safe_psql('postgres', 'SELECT id, v FROM d ORDER BY id'),
	'2|new table', 'and copies the new table');
ok(!$node->log_contains('terminated by signal'), 'no backend crashed');
ok($node->log_contains('changed while pipeline "p" began its snapshot'),
	'the worker said why it started over');

$node->safe_psql('postgres', q{INSERT INTO t VALUES (3, 'change')});
is($node->safe_psql('postgres', q{SELECT pgconduit.wait_for_pipeline('p', '60 s')}), 't',
	'changes arrive');
is($node->safe_psql('postgres', 'SELECT count(*) FROM d'), '2', 'both rows are there');

# the table the pipeline follows is kept on the destination: it survives a
# server restart, and a table that took the name meanwhile is refused
$node->safe_psql('postgres', q{SELECT pgconduit.stop_pipeline('p')});
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline p'});
$node->safe_psql('postgres', q{
	ALTER TABLE t RENAME TO t_old;
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t VALUES (4, 'newer table');
});
$node->restart;
$node->safe_psql('postgres', q{SELECT pgconduit.start_pipeline('p')});
$node->poll_query_until('postgres',
	q{SELECT state = 'failed' FROM pgconduit.status WHERE pipeline = 'p'});
like(
	$node->safe_psql('postgres', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'p'}),
	qr/source table "t" of pipeline "p" is no longer the table the pipeline started with/,
	'after a server restart, a table that took the name is refused');
is($node->safe_psql('postgres', 'SELECT count(*) FROM d WHERE id = 4'), '0',
	'and nothing of it is read');

# renamed back, the table the pipeline started with goes on
$node->safe_psql('postgres', q{
	DROP TABLE t;
	ALTER TABLE t_old RENAME TO t;
	INSERT INTO t VALUES (5, 'after restart');
	SELECT pgconduit.start_pipeline('p');
});
is($node->safe_psql('postgres', q{SELECT pgconduit.wait_for_pipeline('p', '60 s')}), 't',
	'the pipeline goes on with its own table');
is($node->safe_psql('postgres', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM d'),
	'2,3,5', 'with every change of it');

# without the destination's "table", records go to the source table's name
# at the pipeline's start, in another database: still there after a
# rename, also after the worker restarts
$node->safe_psql('postgres', q{CREATE DATABASE dst});
my $dsturl = lit($node->connstr('dst'));
$node->safe_psql('dst', q{
	CREATE EXTENSION pgconduit;
	CREATE TABLE public.r (id int PRIMARY KEY, v text);
});
$node->safe_psql('postgres', qq{
	CREATE TABLE r (id int PRIMARY KEY, v text);
	INSERT INTO r VALUES (1, 'before');
	SELECT pgconduit.create_source('rs', jsonb_build_object('table', 'r', 'url', $url));
	SELECT pgconduit.create_destination('rd', jsonb_build_object('url', $dsturl));
	SELECT pgconduit.create_pipeline('rp', 'rs', 'rd');
});
is($node->safe_psql('postgres', q{SELECT pgconduit.wait_for_pipeline('rp', '60 s')}), 't',
	'a pipeline into another database runs');
$node->safe_psql('postgres', q{
	ALTER TABLE r RENAME TO r_renamed;
	INSERT INTO r_renamed VALUES (2, 'renamed');
});
is($node->safe_psql('postgres', q{SELECT pgconduit.wait_for_pipeline('rp', '60 s')}), 't',
	'it goes on after a rename');
$node->safe_psql('postgres', q{SELECT pgconduit.stop_pipeline('rp')});
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline rp'});
$node->safe_psql('postgres', q{
	INSERT INTO r_renamed VALUES (3, 'while stopped');
	SELECT pgconduit.start_pipeline('rp');
});
is($node->safe_psql('postgres', q{SELECT pgconduit.wait_for_pipeline('rp', '60 s')}), 't',
	'and after its worker restarted');
is($node->safe_psql('dst', q{SELECT string_agg(id || ' ' || v, ',' ORDER BY id) FROM public.r}),
	'1 before,2 renamed,3 while stopped',
	'every row went to the table the pipeline wrote to from the start');

$node->stop;
done_testing();
