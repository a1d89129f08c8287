# 013_status_tables_limit.pl: pgconduit.max_tables bounds the rows of
# pgconduit.status_tables; a table that finds no room is still replicated,
# with a WARNING, and a dropped pipeline's rows make room again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgconduitTest;

my $node = pgconduit_node('tables_limit');
$node->append_conf('postgresql.conf', 'pgconduit.max_tables = 1');
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
	INSERT INTO b VALUES (2), (3);
	SELECT pgconduit.create_source('a', jsonb_build_object('table', 'a', 'url', $url));
	SELECT pgconduit.create_source('b', jsonb_build_object('table', 'b', 'url', $url));
	SELECT pgconduit.create_destination('a2', jsonb_build_object('table', 'a2', 'url', $url));
	SELECT pgconduit.create_destination('b2', jsonb_build_object('table', 'b2', 'url', $url));
	SELECT pgconduit.create_pipeline('pa', 'a', 'a2');
	SELECT pgconduit.wait_for_pipeline('pa');
	SELECT pgconduit.create_pipeline('pb', 'b', 'b2');
	SELECT pgconduit.wait_for_pipeline('pb');
});

is($node->safe_psql('postgres',
		q{SELECT pipeline || ' ' || source_table || ' ' || state || ' ' || rows_written FROM pgconduit.status_tables}),
	'pa public.a streaming 1', 'the one row of status_tables is the first pipeline\'s table');
ok($node->wait_for_log(
		qr/WARNING:  pipeline "pb" cannot show table public\.b in pgconduit\.status_tables: all 1 entries are in use/),
	'the pipeline whose table finds no room says so');
$node->safe_psql('postgres', q{INSERT INTO b VALUES (4)});
ok($node->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('pb', '5 s')}),
	'and goes on');
is($node->safe_psql('postgres', 'SELECT count(*) FROM b2'), '3', 'with every row');

# dropping the first pipeline frees its slot and its rows
$node->safe_psql('postgres', q{SELECT pgconduit.drop_pipeline('pa')});
ok($node->poll_query_until('postgres',
		q{SELECT NOT EXISTS (SELECT 1 FROM pgconduit._status() WHERE name = 'pa')}),
	'the dropped pipeline\'s slot is freed');
$node->safe_psql('postgres', q{
	SELECT pgconduit.stop_pipeline('pb');
	SELECT pgconduit.start_pipeline('pb');
});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pgconduit.status_tables WHERE pipeline = 'pb' AND source_table = 'public.b'}),
	'its table row is free for the other pipeline\'s table');

$node->stop('fast');
done_testing();
