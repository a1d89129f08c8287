# 001_config_dump.pl: pgconduit's configuration survives pg_dump and
# restore, and the extension works without shared_preload_libraries except
# for running pipelines.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgconduitTest;

my $node = pgconduit_node('dump');
$node->start;

# A database with connectors and pipelines
$node->safe_psql('postgres', 'CREATE DATABASE src_db');
$node->safe_psql('src_db', q{
	CREATE EXTENSION pgconduit;
	SELECT pgconduit.create_source('orders', '{"table": "public.orders", "url": "dbname=shop", "columns": "id,total", "snapshot": "off"}');
	SELECT pgconduit.create_source('Odd "Name"', '{"table": "\"Weird\".\"T t\"", "url": "postgres://u:pw@h/d", "key": ["a", "b"]}');
	SELECT pgconduit.create_destination('wh', '{"url": "dbname=warehouse", "batch_size": 50, "on_error": "dead_letter"}');
	SELECT pgconduit.create_pipeline('orders_to_wh', 'orders', 'wh', enabled => false);
	SELECT pgconduit.create_pipeline('odd', 'Odd "Name"', 'wh', enabled => false);
	SELECT pgconduit.create_source('live_src', '{"table": "t", "url": "dbname=no_such_db"}');
	SELECT pgconduit.create_destination('live_dst', '{"url": "dbname=no_such_db"}');
	SELECT pgconduit.create_pipeline('live', 'live_src', 'live_dst');
});

my $catalog_query = q{
	SELECT name, kind, config::text, owner FROM pgconduit.connector ORDER BY name;
	SELECT name, source, destination, enabled, owner FROM pgconduit.pipeline ORDER BY name;
};
my $before = $node->safe_psql('src_db', $catalog_query);
like($before, qr/orders_to_wh\|orders\|wh\|f/, 'pipelines are in the catalog');

# Dump, restore into a fresh database, compare
my $dump = $node->basedir . '/src_db.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('src_db'), '-f', $dump ],
	'pg_dump of a database with pipelines');
$node->safe_psql('postgres', 'CREATE DATABASE restored_db');
my ($restore_out, $restore_err);
my $restored = IPC::Run::run(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-q', '-d', $node->connstr('restored_db'), '-f', $dump ],
	'>', \$restore_out, '2>', \$restore_err);
ok($restored, 'dump restores into a fresh database');

# A restored pipeline is a second copy of the original, with its slot and
# destination: it comes back stopped, as restored subscriptions do
like($restore_err, qr/WARNING:  pipeline "live" is stored stopped/,
	'the restore says the enabled pipeline is restored stopped');
like($restore_err, qr/HINT:  Run pgconduit.start_pipeline\('live'\)/,
	'and how to start it');
my $after = $node->safe_psql('restored_db', $catalog_query);
(my $expected = $before) =~ s/^live\|live_src\|live_dst\|t\|/live|live_src|live_dst|f|/m;
isnt($expected, $before, 'the original pipeline is enabled');
is($after, $expected, 'restored connectors and pipelines equal the originals, but stopped');
is($node->safe_psql('restored_db',
		q{SELECT state || ' ' || coalesce(pid::text, 'no worker') FROM pgconduit.status WHERE pipeline = 'live'}),
	'stopped no worker', 'no worker runs the restored copy');

# The restored catalog is fully functional: a dropped connector stays
# dropped, and in-use checks still hold
my ($rc, $out, $err) = $node->psql('restored_db', q{SELECT pgconduit.drop_connector('wh')});
like($err, qr/cannot drop connector "wh" because pipeline "odd" uses it/,
	'restored pipelines still protect their connectors');
$node->safe_psql('restored_db', q{SELECT pgconduit.drop_pipeline('odd', false)});
is($node->safe_psql('restored_db', 'SELECT count(*) FROM pgconduit.pipeline'), '2',
	'restored pipelines can be dropped');

# A custom-format dump restored with pg_restore gives the same result
my $cdump = $node->basedir . '/src_db.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src_db'), '-f', $cdump ],
	'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored_fc');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored_fc'), $cdump ],
	'pg_restore');
is($node->safe_psql('restored_fc', $catalog_query), $expected,
	'pg_restore brings back the same pipelines, stopped');
$node->stop;

# Without shared_preload_libraries: configuration works, pipelines do not run
my $plain = pgconduit_node('plain', preload => 0);
$plain->start;
$plain->safe_psql('postgres', q{
	CREATE EXTENSION pgconduit;
	SELECT pgconduit.create_source('s', '{"table": "t", "url": "dbname=x"}');
	SELECT pgconduit.create_destination('d', '{"url": "dbname=y"}');
	SELECT pgconduit.create_pipeline('stopped', 's', 'd', enabled => false);
});
($rc, $out, $err) = $plain->psql('postgres',
	q{SELECT pgconduit.create_pipeline('p', 's', 'd')});
like($err, qr/pgconduit pipelines need pgconduit in shared_preload_libraries/,
	'creating an enabled pipeline without preloading is an error');
like($err, qr/HINT:  Add pgconduit to shared_preload_libraries in postgresql.conf/,
	'with a hint that says what to put in postgresql.conf');
($rc, $out, $err) = $plain->psql('postgres',
	q{SELECT pgconduit.start_pipeline('stopped')});
like($err, qr/need pgconduit in shared_preload_libraries/,
	'starting a pipeline without preloading is an error');
is($plain->safe_psql('postgres', q{SELECT enabled FROM pgconduit.pipeline}), 'f',
	'and changes nothing');
$plain->stop;

done_testing();
