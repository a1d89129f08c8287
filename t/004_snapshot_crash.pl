# 004_snapshot_crash.pl: the server running a pipeline is killed with -9
# twice during the snapshot, at different points, while the source is
# written to; after each restart the snapshot starts over, and in the end
# the destination equals the source with every row inserted once.
#
# The destination table has a trigger that slows rows down, so that the
# snapshot lasts about four seconds and can be hit; it also logs every insert,
# which shows a row applied twice even where the contents would not.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(sleep);
use PgconduitTest;

my $src = pgconduit_node('source');
my $dst = pgconduit_node('destination');
my $run = pgconduit_node('runner');
$run->append_conf('postgresql.conf', 'restart_after_crash = on');
$_->start for ($src, $dst, $run);

$src->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, v text);
	INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
});
$dst->safe_psql('postgres', q{
	CREATE EXTENSION pgconduit;
	CREATE TABLE items (id int PRIMARY KEY, v text);
	CREATE TABLE items_log (id int, op text);
	CREATE FUNCTION slow_log() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.id % 5 = 0 THEN
			PERFORM pg_sleep(0.001);
		END IF;
		INSERT INTO public.items_log VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, TG_OP);
		RETURN NULL;
	END $$;
	CREATE TRIGGER slow_log AFTER INSERT OR UPDATE OR DELETE ON items
		FOR EACH ROW EXECUTE FUNCTION slow_log();
	ALTER TABLE items ENABLE ALWAYS TRIGGER slow_log;
});
$run->safe_psql('postgres', 'CREATE EXTENSION pgconduit');
sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
my $src_url = lit($src->connstr('postgres'));
my $dst_url = lit($dst->connstr('postgres'));

# writes during the whole test: new rows, each its own transaction
my $load_sql = q{
	DO $$
	BEGIN
		FOR i IN 1..600 LOOP
			INSERT INTO items VALUES (100000 + i, 'load');
			UPDATE items SET v = 'updated' WHERE id = i * 13;
			COMMIT;
			PERFORM pg_sleep(0.01);
		END LOOP;
	END $$;
};
my ($out, $err) = ('', '');
my $load = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $src->connstr('postgres'), '-c', $load_sql ],
	'>', \$out, '2>', \$err);

$run->safe_psql('postgres', qq{
	SELECT pgconduit.create_source('items', jsonb_build_object('table', 'items', 'url', $src_url));
	SELECT pgconduit.create_destination('items_copy', jsonb_build_object('url', $dst_url));
	SELECT pgconduit.create_pipeline('items', 'items', 'items_copy');
});

# kill -9 the runner's postmaster when the snapshot has run for a while
sub crash_during_snapshot
{
	my ($seconds) = @_;
	ok( $run->poll_query_until('postgres', q{
			SELECT phase = 'snapshot' FROM pgconduit.status WHERE pipeline = 'items'}),
		"snapshot started (to be killed after $seconds s)");
	sleep $seconds;
	my $phase = $run->safe_psql('postgres',
		q{SELECT phase FROM pgconduit.status WHERE pipeline = 'items'});
	is($phase, 'snapshot', "still in the snapshot after $seconds s when killed");
	my $postmaster = $run->{_pid};
	$run->kill9;
	sleep 0.1 while kill(0, $postmaster);
	my $started = 0;
	for (1 .. 60)
	{
		last if ($started = $run->start(fail_ok => 1));
		$run->{_pid} = undef;
		sleep 1;
	}
	ok($started, "runner restarted after kill -9 at $seconds s");
}

crash_during_snapshot(0.5);
crash_during_snapshot(2.5);

$load->finish;
ok( $run->poll_query_until('postgres',
		q{SELECT pgconduit.wait_for_pipeline('items', '5 s')}),
	'pipeline caught up after the crashes');

my $q = q{SELECT count(*), md5(string_agg(i::text, ',' ORDER BY id)) FROM items i};
is($dst->safe_psql('postgres', $q), $src->safe_psql('postgres', $q),
	'destination equals source');
is( $dst->safe_psql('postgres',
		q{SELECT count(*) FROM (SELECT id FROM items_log WHERE op = 'INSERT'
								 GROUP BY id HAVING count(*) > 1) d}),
	'0', 'no row inserted twice');
is( $dst->safe_psql('postgres',
		q{SELECT count(DISTINCT id) FROM items_log WHERE op = 'INSERT'}),
	$src->safe_psql('postgres', q{SELECT count(*) FROM items}),
	'every row inserted once');

done_testing();
