# 007_status_lag.pl: pgconduit.status tells how far a pipeline is behind
# a source on another server.  lag_bytes (from the source's flushed WAL to
# what is applied) and lag_seconds (the age of the oldest commit not
# applied) are never 0 while changes wait: during a catch-up of 300
# transactions held back by a locked destination, inside a large
# transaction half applied, and while the pipeline is stopped; they are 0
# once it has caught up.  retained_bytes shows the WAL the slot holds, and
# the server log warns past pgconduit.max_retained_wal.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgconduitTest;

my $src = pgconduit_node('lag_source');
my $run = pgconduit_node('lag_runner');
$run->append_conf('postgresql.conf', qq{
pgconduit.max_retained_wal = 1MB
pgconduit.slot_check_interval = 1s
});
$_->start for ($src, $run);

sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
my $src_url = lit($src->connstr('postgres'));
my $run_url = lit($run->connstr('postgres'));

$src->safe_psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 1000) g;
});
$run->safe_psql('postgres', qq{
	CREATE EXTENSION pgconduit;
	CREATE TABLE t (id int PRIMARY KEY, v text);
	SELECT pgconduit.create_source('s', jsonb_build_object('table', 't', 'url', $src_url));
	SELECT pgconduit.create_destination('d', jsonb_build_object('url', $run_url, 'batch_size', 50));
	SELECT pgconduit.create_pipeline('lag', 's', 'd');
	SELECT pgconduit.wait_for_pipeline('lag');
});

sub flushed { return $src->safe_psql('postgres', 'SELECT pg_current_wal_flush_lsn()'); }

sub caught_up
{
	my ($what) = @_;
	ok($run->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('lag', '5 s')}),
		"$what: wait_for_pipeline");
	ok( $run->poll_query_until('postgres',
			q{SELECT lag_bytes = 0 AND lag_seconds = 0 FROM pgconduit.status WHERE pipeline = 'lag'}),
		"$what: then no lag");
}

caught_up('after the snapshot');

# 1. A catch-up of 300 update transactions, held back by a lock on the
# destination table: none of it can be applied.
my $bg = $run->background_psql('postgres');
$bg->query_safe('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
my $before = flushed();
$src->safe_psql('postgres', q{
	DO $$
	BEGIN
		FOR i IN 1..300 LOOP
			UPDATE t SET v = 'update ' || i WHERE id = i;
			COMMIT;
		END LOOP;
	END
	$$;
});
my $after = flushed();
ok( $run->poll_query_until('postgres', qq{
		SELECT lag_bytes >= pg_wal_lsn_diff('$after', '$before') AND lag_seconds > 0
		  FROM pgconduit.status WHERE pipeline = 'lag'}),
	'300 transactions held back: lag_bytes covers them all, lag_seconds is positive');
is($bg->query_safe(q{SELECT count(*) FROM t WHERE v LIKE 'update%'}), '0',
	'and indeed none of them is applied');
ok($run->safe_psql('postgres',
		q{SELECT retained_bytes > 0 FROM pgconduit.status WHERE pipeline = 'lag'}),
	'a running pipeline shows the WAL its slot holds');
$bg->query_safe('COMMIT');
caught_up('after the catch-up');
is($run->safe_psql('postgres', q{SELECT count(*) FROM t WHERE v LIKE 'update%'}), '300',
	'every update arrived');

# 2. Inside a large transaction: the destination applies its first
# batches in one destination transaction, then a trigger waits for a lock
# on the last row.
$run->safe_psql('postgres', q{
	CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.v = 'big 1000' THEN
			PERFORM pg_advisory_xact_lock_shared(4242);
		END IF;
		RETURN NEW;
	END
	$$;
	CREATE TRIGGER hold BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION hold();
	-- pipelines apply as replicas, as native logical replication does
	ALTER TABLE t ENABLE ALWAYS TRIGGER hold;
});
$bg->query_safe('SELECT pg_advisory_lock(4242)');
my $written = $run->safe_psql('postgres',
	q{SELECT records_written FROM pgconduit.status WHERE pipeline = 'lag'});
$before = flushed();
$src->safe_psql('postgres', q{
	BEGIN;
	UPDATE t SET v = 'big ' || id WHERE id <= 900;
	UPDATE t SET v = 'big ' || id WHERE id > 900;
	COMMIT;
});
$after = flushed();
ok( $run->poll_query_until('postgres', qq{
		SELECT EXISTS (SELECT FROM pg_stat_activity
						WHERE application_name = 'pgconduit lag' AND wait_event = 'advisory')
		   AND lag_bytes >= pg_wal_lsn_diff('$after', '$before') AND lag_seconds > 0
		  FROM pgconduit.status WHERE pipeline = 'lag'}),
	'a transaction half applied: the whole of it counts as lag');
is($run->safe_psql('postgres',
		q{SELECT records_written FROM pgconduit.status WHERE pipeline = 'lag'}),
	$written, 'and none of it counts as written before it commits');
$bg->query_safe('SELECT pg_advisory_unlock(4242)');
caught_up('after the large transaction');
is($run->safe_psql('postgres', q{SELECT count(*) FROM t WHERE v LIKE 'big%'}), '1000',
	'every row of it arrived');

# 3. Stopped: no worker measures, the slot check does; the slot holds the
# WAL written meanwhile, and the server log warns.
my $log_offset = -s $run->logfile;
$run->safe_psql('postgres', q{SELECT pgconduit.stop_pipeline('lag')});
ok( $run->poll_query_until('postgres',
		q{SELECT state = 'stopped' AND pid IS NULL FROM pgconduit.status WHERE pipeline = 'lag'}),
	'the pipeline is stopped');
$src->safe_psql('postgres',
	q{INSERT INTO t SELECT g, 'filler ' || g FROM generate_series(10001, 60000) g});
my $held = $src->safe_psql('postgres',
	q{SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), restart_lsn)
		FROM pg_replication_slots WHERE slot_name = 'pgconduit_s'});
cmp_ok($held, '>', 1024 * 1024, 'the slot holds more than 1 MB');
ok( $run->poll_query_until('postgres', qq{
		SELECT retained_bytes >= $held AND lag_bytes > 0 AND lag_seconds > 0
		  FROM pgconduit.status WHERE pipeline = 'lag'}),
	'a stopped pipeline shows the WAL its slot holds, and its lag');
ok( $run->wait_for_log(
		qr/WARNING:  replication slot "pgconduit_s" of pgconduit pipeline "lag" retains \d+ [kM]B of WAL on its source/,
		$log_offset),
	'the server log warns past pgconduit.max_retained_wal');

$bg->quit;
$run->safe_psql('postgres', q{SELECT pgconduit.start_pipeline('lag')});
caught_up('started again');
is($run->safe_psql('postgres', 'SELECT count(*) FROM t'), '51000', 'every row arrived');

$run->stop('fast');
$src->stop('fast');
done_testing();
