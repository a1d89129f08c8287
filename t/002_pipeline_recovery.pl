# 002_pipeline_recovery.pl: a pipeline loses no row and applies none twice
# when its worker or its server is killed during the snapshot or during
# change capture under a concurrent write load, when its source or its
# destination goes down for a while, and it fails clearly when its slot
# is dropped from outside.
#
# Three servers: the source, the destination, and the one that runs the
# pipeline, so each can fail on its own.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use PgconduitTest;

my $src = pgconduit_node('source');
my $dst = pgconduit_node('destination');
my $run = pgconduit_node('runner');
# a killed worker makes the postmaster reinitialize, as in production
$run->append_conf('postgresql.conf', 'restart_after_crash = on');
$_->start for ($src, $dst, $run);

$src->safe_psql('postgres', q{
	CREATE TABLE items (id int PRIMARY KEY, v text, n numeric, t timestamptz);
	INSERT INTO items SELECT g, md5(g::text), g / 7.0, '2026-01-01'::timestamptz + g * interval '1 s'
	  FROM generate_series(1, 100000) g;
});
$dst->safe_psql('postgres', q{
	CREATE EXTENSION pgconduit;
	CREATE TABLE items (id int PRIMARY KEY, v text, n numeric, t timestamptz);
});
$run->safe_psql('postgres', 'CREATE EXTENSION pgconduit');
# connection strings as SQL literals
sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
my $src_url = lit($src->connstr('postgres'));
my $dst_url = lit($dst->connstr('postgres'));
$run->safe_psql('postgres', qq{
	SELECT pgconduit.create_source('items', jsonb_build_object('table', 'items', 'url', $src_url));
	SELECT pgconduit.create_destination('items_copy', jsonb_build_object('url', $dst_url, 'batch_size', 200));
});

# A write load on the source: inserts, updates and deletes, each its own
# transaction, running in the background.
sub start_load
{
	my ($from, $count) = @_;
	my $sql = qq{
		DO \$\$
		BEGIN
			FOR i IN $from..$from + $count - 1 LOOP
				INSERT INTO items VALUES (1000000 + i, 'load', i, now());
				UPDATE items SET v = 'updated ' || i, n = n + 1 WHERE id = (i * 7919) % 100000 + 1;
				DELETE FROM items WHERE id = (i * 104729) % 100000 + 1;
				COMMIT;
			END LOOP;
		END
		\$\$;
	};
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $src->connstr('postgres'), '-c', $sql ],
		'>', \$out, '2>', \$err);
}

# Wait until the pipeline is caught up, then compare whole tables.
sub check_same
{
	my ($what) = @_;
	ok( $run->poll_query_until('postgres',
			q{SELECT pgconduit.wait_for_pipeline('items', '5 s')}),
		"$what: pipeline caught up");
	my $q = q{SELECT count(*), md5(coalesce(string_agg(i::text, ',' ORDER BY id), '')) FROM items i};
	my $want = $src->safe_psql('postgres', $q);
	my $got = $dst->safe_psql('postgres', $q);
	is($got, $want, "$what: destination equals source");
}

sub worker_pid
{
	return $run->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline items'});
}

# 1. kill -9 the worker during the snapshot, under load
my $load = start_load(1, 3000);
$run->safe_psql('postgres', q{SELECT pgconduit.create_pipeline('items', 'items', 'items_copy')});
$run->poll_query_until('postgres',
	q{SELECT snapshot_rows_done > 0 FROM pgconduit.status WHERE pipeline = 'items'});
my $pid = worker_pid();
ok($pid, 'worker is running during the snapshot');
kill 'KILL', $pid if $pid;
$run->poll_query_until('postgres', q{SELECT phase = 'cdc' FROM pgconduit.status WHERE pipeline = 'items'});
$pid = worker_pid();
kill 'KILL', $pid if $pid;    # and once more, early in change capture
$load->finish;
check_same('worker killed during snapshot and change capture');

# From here on both sides log every row change their table sees.  A record
# applied twice would show as one more event on the destination (an upsert
# that finds its row is an UPDATE), which equal contents would hide.
for my $node ($src, $dst)
{
	$node->safe_psql('postgres', q{
		CREATE TABLE items_log (id int, op text);
		-- destination triggers run with an empty search_path, as in logical replication
		CREATE FUNCTION log_items() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO public.items_log VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, TG_OP);
			RETURN NULL;
		END $$;
		CREATE TRIGGER log_items AFTER INSERT OR UPDATE OR DELETE ON items
			FOR EACH ROW EXECUTE FUNCTION log_items();
		ALTER TABLE items ENABLE ALWAYS TRIGGER log_items;
	});
}
sub check_once
{
	my ($what) = @_;
	my $q = q{SELECT op || ' ' || count(*) FROM items_log GROUP BY op ORDER BY op};
	my $want = $src->safe_psql('postgres', $q);
	my $got = $dst->safe_psql('postgres', $q);
	isnt($want, '', "$what: the source logged changes");
	is($got, $want, "$what: each change applied once");
}

# 2. kill -9 the runner's postmaster during change capture, under load
$load = start_load(10001, 3000);
$run->poll_query_until('postgres',
	q{SELECT records_written > 500 FROM pgconduit.status WHERE pipeline = 'items'});
my $postmaster = $run->{_pid};
$run->kill9;
# the killed postmaster's children take a moment to notice and go away
sleep 0.1 while kill(0, $postmaster);
my $started = 0;
for (1 .. 60)
{
	last if ($started = $run->start(fail_ok => 1));
	$run->{_pid} = undef;    # start() read the stale postmaster.pid
	sleep 1;
}
ok($started, 'runner restarted after kill -9');
$load->finish;
check_same('runner server killed during change capture');

# 3. the destination goes down for a while, writes go on
$load = start_load(20001, 1500);
$dst->stop('immediate');
sleep 2;
$dst->start;
$load->finish;
check_same('destination down, then back');
like(
	$run->safe_psql('postgres', q{SELECT errors > 0 FROM pgconduit.status WHERE pipeline = 'items'}),
	qr/t/, 'the outage was counted as an error');

# 4. the source goes down for a while
$src->stop('fast');
sleep 2;
$src->start;
start_load(30001, 500)->finish;
check_same('source down, then back');
check_once('runner killed, destination and source down');

# 5. the slot dropped from outside: a clear failure, not a new snapshot
$run->safe_psql('postgres', q{SELECT pgconduit.stop_pipeline('items')});
$run->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline items'});
$src->poll_query_until('postgres',
	q{SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'pgconduit_items'});
$src->safe_psql('postgres', q{SELECT pg_drop_replication_slot('pgconduit_items')});
$run->safe_psql('postgres', q{SELECT pgconduit.start_pipeline('items')});
$run->poll_query_until('postgres',
	q{SELECT state = 'failed' FROM pgconduit.status WHERE pipeline = 'items'});
like(
	$run->safe_psql('postgres', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'items'}),
	qr/replication slot "pgconduit_items" of pipeline "items" no longer exists/,
	'a slot dropped from outside is a clear failure');

# 6. stopping the server, dropping the extension and dropping the
# database never wait for a running pipeline
$run->safe_psql('postgres', q{SELECT pgconduit.drop_pipeline('items')});
is($src->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots}),
	'0', 'no slot is left on the source');
$dst->safe_psql('postgres', q{TRUNCATE items});

$run->safe_psql('postgres', q{CREATE DATABASE doomed});
$run->safe_psql('doomed', q{
	CREATE EXTENSION pgconduit;
	CREATE TABLE d (id int PRIMARY KEY);
	CREATE TABLE d2 (id int PRIMARY KEY);
	INSERT INTO d VALUES (1);
});
my $doomed = lit($run->connstr('doomed'));
$run->safe_psql('doomed', qq{
	SELECT pgconduit.create_source('d', jsonb_build_object('table', 'd', 'url', $doomed));
	SELECT pgconduit.create_destination('d2', jsonb_build_object('table', 'd2', 'url', $doomed));
	SELECT pgconduit.create_pipeline('d', 'd', 'd2');
	SELECT pgconduit.wait_for_pipeline('d');
});
my $t0 = time;
$run->safe_psql('doomed', 'DROP EXTENSION pgconduit CASCADE');
ok(time - $t0 < 15, 'DROP EXTENSION with a running pipeline returns promptly');
$run->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type LIKE 'pgconduit pipeline%'});
$run->safe_psql('doomed', q{SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots});

$run->safe_psql('doomed', q{CREATE EXTENSION pgconduit});
$run->safe_psql('doomed', qq{
	SELECT pgconduit.create_source('d', jsonb_build_object('table', 'd', 'url', $doomed));
	SELECT pgconduit.create_destination('d2', jsonb_build_object('table', 'd2', 'url', $doomed));
	SELECT pgconduit.create_pipeline('d', 'd', 'd2');
	SELECT pgconduit.wait_for_pipeline('d');
});
$t0 = time;
my ($ret, $out, $err) = $run->psql('postgres', 'DROP DATABASE doomed WITH (FORCE)');
is($ret, 0, 'DROP DATABASE with a running pipeline succeeds');
ok(time - $t0 < 15, 'DROP DATABASE with a running pipeline returns promptly');

$run->safe_psql('postgres', qq{
	SELECT pgconduit.create_pipeline('items', 'items', 'items_copy');
	SELECT pgconduit.wait_for_pipeline('items');
});
$t0 = time;
$run->stop('fast');
ok(time - $t0 < 15, 'pg_ctl stop -m fast with a running pipeline returns promptly');

done_testing();
