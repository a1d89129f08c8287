# 003_pipeline_limits.pl: pgconduit.max_pipelines bounds the workers and the
# one past the bound is reported, not ignored; a pipeline's worker runs as
# its owner, and an owner that is not a superuser cannot use a connection
# that did not need a password.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgconduitTest;

my $node = pgconduit_node('limits');
$node->append_conf('postgresql.conf', 'pgconduit.max_pipelines = 1');
$node->start;

sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
my $url = lit($node->connstr('postgres'));
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pgconduit;
	CREATE TABLE a (id int PRIMARY KEY);
	CREATE TABLE a2 (id int PRIMARY KEY);
	CREATE TABLE b (id int PRIMARY KEY);
	CREATE TABLE b2 (id int PRIMARY KEY);
	INSERT INTO a VALUES (1);
	INSERT INTO b VALUES (2);
	SELECT pgconduit.create_source('a', jsonb_build_object('table', 'a', 'url', $url));
	SELECT pgconduit.create_source('b', jsonb_build_object('table', 'b', 'url', $url));
	SELECT pgconduit.create_destination('a2', jsonb_build_object('table', 'a2', 'url', $url));
	SELECT pgconduit.create_destination('b2', jsonb_build_object('table', 'b2', 'url', $url));
	SELECT pgconduit.create_pipeline('pa', 'a', 'a2');
	SELECT pgconduit.wait_for_pipeline('pa');
	SELECT pgconduit.create_pipeline('pb', 'b', 'b2');
});

# the second pipeline waits for a worker, and says so
ok($node->poll_query_until('postgres',
		q{SELECT state = 'waiting' FROM pgconduit.status WHERE pipeline = 'pb'}),
	'a pipeline past max_pipelines is shown as waiting');
ok($node->wait_for_log(qr/waits: all 1 pipeline workers are running/),
	'and the server log says why');
is($node->safe_psql('postgres', 'SELECT count(*) FROM b2'), '0', 'it has not run');

# freeing the slot lets it run
$node->safe_psql('postgres', q{SELECT pgconduit.stop_pipeline('pa')});
$node->safe_psql('postgres', q{SELECT pgconduit.start_pipeline('pb')});
ok($node->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('pb', '5 s')}),
	'once a slot is free the waiting pipeline runs');
is($node->safe_psql('postgres', 'SELECT count(*) FROM b2'), '1', 'and copies its table');

# the worker runs as the pipeline's owner: one that is not a superuser
# must give a password, and the server must have asked for it (a local
# socket that the server trusts asks for none)
$node->safe_psql('postgres', q{
	SELECT pgconduit.drop_pipeline('pb');
	SELECT pgconduit.drop_pipeline('pa');
	CREATE ROLE alice LOGIN PASSWORD 'alicepw';
	GRANT pgconduit_admin TO alice;
	GRANT ALL ON a, a2 TO alice;
});
my $alice_url = lit($node->connstr('postgres') . ' user=alice password=alicepw');
$node->safe_psql('postgres', qq{
	SET ROLE alice;
	SELECT pgconduit.create_source('alice_a', jsonb_build_object('table', 'a', 'url', $alice_url, 'slot_name', 'alice_a'));
	SELECT pgconduit.create_destination('alice_a2', jsonb_build_object('table', 'a2', 'url', $alice_url));
	SELECT pgconduit.create_pipeline('alices', 'alice_a', 'alice_a2');
});
$node->poll_query_until('postgres',
	q{SELECT state = 'failed' FROM pgconduit.status WHERE pipeline = 'alices'});
like(
	$node->safe_psql('postgres', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'alices'}),
	qr/password is required to connect to the source/,
	'an owner that is not a superuser cannot use a connection without a password');
is( $node->safe_psql('postgres', q{SELECT owner FROM pgconduit.pipeline WHERE name = 'alices'}),
	'alice', 'the pipeline belongs to its creator');

# an owner that cannot log in: a clear failure, not a worker failing to start over and over
$node->safe_psql('postgres', q{
	SELECT pgconduit.drop_pipeline('alices');
	CREATE ROLE carol NOLOGIN;
	GRANT pgconduit_admin TO carol;
	SET ROLE carol;
	SELECT pgconduit.create_source('carol_a', '{"table": "a", "url": "dbname=postgres password=x", "slot_name": "carol_a"}');
	SELECT pgconduit.create_destination('carol_a2', '{"table": "a2", "url": "dbname=postgres password=x"}');
	SELECT pgconduit.create_pipeline('carols', 'carol_a', 'carol_a2');
});
$node->poll_query_until('postgres',
	q{SELECT state = 'failed' FROM pgconduit.status WHERE pipeline = 'carols'});
like(
	$node->safe_psql('postgres', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'carols'}),
	qr/is not permitted to log in/, 'an owner without LOGIN is a clear failure');
$node->safe_psql('postgres', q{SELECT pgconduit.drop_pipeline('carols', drop_slot => false)});

# as a superuser's pipeline, the worker's session user is the owner
$node->safe_psql('postgres', q{
	SELECT pgconduit.create_pipeline('supers', 'a', 'a2');
	SELECT pgconduit.wait_for_pipeline('supers');
});
is( $node->safe_psql('postgres',
		q{SELECT usename FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline supers'}),
	$node->safe_psql('postgres', 'SELECT current_user'),
	'the worker runs as the owner');

# the worker comes back after a server restart
$node->restart;
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline supers'}),
	'an enabled pipeline starts again after a restart');
$node->safe_psql('postgres', q{INSERT INTO a VALUES (3)});
ok($node->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('supers', '5 s')}),
	'and goes on');
is($node->safe_psql('postgres', 'SELECT count(*) FROM a2'), '2', 'with every row');

# a source role without REPLICATION, and a source without wal_level = logical
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;    # wal_level = replica
$plain->start;
$plain->safe_psql('postgres', 'CREATE TABLE a (id int PRIMARY KEY)');
my $plain_url = lit($plain->connstr('postgres'));
my $bob_url = lit($node->connstr('postgres') . ' user=bob');
$node->safe_psql('postgres', qq{
	CREATE ROLE bob LOGIN;
	GRANT SELECT ON a TO bob;
	SELECT pgconduit.create_source('as_bob', jsonb_build_object('table', 'a', 'url', $bob_url));
	SELECT pgconduit.create_source('no_wal', jsonb_build_object('table', 'a', 'url', $plain_url));
	SELECT pgconduit.drop_pipeline('supers');
	SELECT pgconduit.create_pipeline('bobs', 'as_bob', 'a2');
});
$node->poll_query_until('postgres', q{SELECT state = 'failed' FROM pgconduit.status WHERE pipeline = 'bobs'});
like($node->safe_psql('postgres', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'bobs'}),
	qr/must have the REPLICATION attribute/, 'a source role without REPLICATION is a clear failure');
$node->safe_psql('postgres', q{
	SELECT pgconduit.drop_pipeline('bobs', drop_slot => false);
	SELECT pgconduit.create_pipeline('nowal', 'no_wal', 'a2');
});
$node->poll_query_until('postgres', q{SELECT state = 'failed' FROM pgconduit.status WHERE pipeline = 'nowal'});
like($node->safe_psql('postgres', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'nowal'}),
	qr/wal_level must be "logical" on the source/, 'a source without logical WAL is a clear failure');

$node->stop('fast');
$plain->stop('fast');
done_testing();
