# 006_pipeline_workers.pl: only running workers count against
# pgconduit.max_pipelines.  A pipeline that waits for a worker starts as
# soon as one ends (a failure, stop_pipeline), without anyone starting it
# again; stopped, failed and done pipelines keep their status but hold no
# worker.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgconduitTest;

my $node = pgconduit_node('workers');
$node->append_conf('postgresql.conf', 'pgconduit.max_pipelines = 1');
$node->start;

sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
my $url = lit($node->connstr('postgres'));

sub state_of
{
	my ($p) = @_;
	return $node->safe_psql('postgres',
		"SELECT state FROM pgconduit.status WHERE pipeline = '$p'");
}

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

# the second pipeline waits for the one worker
ok($node->poll_query_until('postgres',
		q{SELECT state = 'waiting' FROM pgconduit.status WHERE pipeline = 'pb'}),
	'a pipeline past max_pipelines waits');
is($node->safe_psql('postgres', 'SELECT count(*) FROM b2'), '0', 'it has not run');

# the running one fails by itself (its destination table is gone): no
# catalog change, yet the waiting one starts, as the worker's exit wakes
# the launcher and a failed pipeline holds no worker
$node->safe_psql('postgres', q{
	DROP TABLE a2;
	INSERT INTO a VALUES (3);
});
ok($node->poll_query_until('postgres',
		q{SELECT state = 'failed' FROM pgconduit.status WHERE pipeline = 'pa'}),
	'the running pipeline fails');
ok($node->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('pb', '5 s')}),
	'once the worker is free the waiting pipeline runs, without start_pipeline');
is($node->safe_psql('postgres', 'SELECT count(*) FROM b2'), '1', 'and copies its table');
ok($node->log_contains('pipeline "pb" waits: all 1 pipeline workers are running'),
	'the server log said why it waited');

# the failed one, mended and started again, waits; stop_pipeline of the
# running one is enough to let it run
$node->safe_psql('postgres', q{
	CREATE TABLE a2 (id int PRIMARY KEY);
	SELECT pgconduit.start_pipeline('pa');
});
ok($node->poll_query_until('postgres',
		q{SELECT state = 'waiting' FROM pgconduit.status WHERE pipeline = 'pa'}),
	'a started pipeline waits while the worker is busy');
$node->safe_psql('postgres', q{SELECT pgconduit.stop_pipeline('pb')});
ok($node->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('pa', '5 s')}),
	'and runs once stop_pipeline has freed the worker');
is($node->safe_psql('postgres', 'SELECT count(*) FROM a2'), '1', 'with the change made meanwhile');
ok($node->poll_query_until('postgres',
		q{SELECT state = 'stopped' AND pid IS NULL FROM pgconduit.status WHERE pipeline = 'pb'}),
	'the stopped pipeline shows as stopped');
$node->safe_psql('postgres', q{
	SELECT pgconduit.drop_pipeline('pa');
	SELECT pgconduit.drop_pipeline('pb');
});

# done and failed pipelines hold no worker
$node->safe_psql('postgres', qq{
	TRUNCATE a2;
	SELECT pgconduit.create_source('snap', jsonb_build_object('table', 'a', 'url', $url, 'cdc', false));
	SELECT pgconduit.create_source('missing', jsonb_build_object('table', 'no_such_table', 'url', $url));
	SELECT pgconduit.create_pipeline('pdone', 'snap', 'a2');
});
ok($node->poll_query_until('postgres',
		q{SELECT state = 'done' FROM pgconduit.status WHERE pipeline = 'pdone'}),
	'a snapshot-only pipeline is done');
$node->safe_psql('postgres', q{SELECT pgconduit.create_pipeline('pfail', 'missing', 'b2')});
ok($node->poll_query_until('postgres',
		q{SELECT state = 'failed' FROM pgconduit.status WHERE pipeline = 'pfail'}),
	'a pipeline after a done one runs, and fails');
$node->safe_psql('postgres', q{SELECT pgconduit.create_pipeline('prun', 'b', 'b2')});
ok($node->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('prun', '5 s')}),
	'a pipeline after a done and a failed one runs');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(pipeline || ':' || state, ',' ORDER BY pipeline) FROM pgconduit.status}),
	'pdone:done,pfail:failed,prun:running',
	'each keeps its status');
like($node->safe_psql('postgres', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'pfail'}),
	qr/source table "no_such_table" does not exist/, 'the failed one keeps its error');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pgconduit pipeline%'}),
	'1', 'one worker runs');

$node->stop('fast');
done_testing();
