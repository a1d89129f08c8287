# 011_atomic.pl: each source transaction is applied in one destination
# transaction, never split, also when it is larger than the destination's
# batch_size, and after a kill -9 of the worker, of the destination
# backend, of the destination server or of the runner's server it is
# either wholly at the destination or not at all.
#
# Money moves between the rows of accounts in source transactions of 50
# changes (and some of 2,000) through batches of 7 records, while a reader
# on the destination checks the sum of the balances over and over: it
# never changes, and at the end every change was applied exactly once.
# Each kill comes while the destination is held (by a lock its trigger
# waits for) in the middle of a transaction of 400 changes.  A
# record the destination rejects in the middle of a transaction
# (on_error = halt) leaves nothing of that transaction applied, and
# pgconduit.status shows where it stopped; once the cause is gone the
# transaction applies whole, once.  With on_error = dead_letter the
# rejected record goes to pgconduit.dead_letter and the rest of its
# transaction applies.
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

my $src = pgconduit_node('atomic_source');
my $dst = pgconduit_node('atomic_destination');
my $run = pgconduit_node('atomic_runner');
$_->append_conf('postgresql.conf', 'restart_after_crash = on') for ($dst, $run);
$_->start for ($src, $dst, $run);

my $accounts = 20;
my $total = 1000 * $accounts;

my $table = q{CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, note text)};
$src->safe_psql('postgres', qq{
	$table;
	INSERT INTO accounts SELECT g, 1000, NULL FROM generate_series(1, $accounts) g;
});
$dst->safe_psql('postgres', qq{
	CREATE EXTENSION pgconduit;
	$table;
	CREATE TABLE reader_stop (stop bool);
});
$run->safe_psql('postgres', 'CREATE EXTENSION pgconduit');

sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
my $src_url = lit($src->connstr('postgres'));
my $dst_url = lit($dst->connstr('postgres'));
$run->safe_psql('postgres', qq{
	SELECT pgconduit.create_source('money', jsonb_build_object('table', 'accounts', 'url', $src_url));
	SELECT pgconduit.create_destination('money_copy',
		jsonb_build_object('url', $dst_url, 'batch_size', 7));
	SELECT pgconduit.create_pipeline('money', 'money', 'money_copy');
});
ok($run->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('money', '5 s')}),
	'the snapshot is applied');

# From here on both sides log every row change their table sees: a record
# applied twice shows as one more UPDATE on the destination.
for my $node ($src, $dst)
{
	$node->safe_psql('postgres', q{
		CREATE TABLE accounts_log (id int, op text);
		CREATE FUNCTION log_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO public.accounts_log VALUES (NEW.id, TG_OP);
			RETURN NULL;
		END $$;
		CREATE TRIGGER log_accounts AFTER INSERT OR UPDATE ON accounts
			FOR EACH ROW EXECUTE FUNCTION log_accounts();
		ALTER TABLE accounts ENABLE ALWAYS TRIGGER log_accounts;
	});
}

# Transfers on the source, in the background: transactions from..to, each
# of 25 transfers (50 changes), every 40th of 1,000 transfers.
sub start_load
{
	my ($from, $to) = @_;
	my $sql = qq{
		DO \$\$
		DECLARE
			a int;
		BEGIN
			FOR t IN $from..$to LOOP
				FOR k IN 1..CASE WHEN t % 40 = 0 THEN 1000 ELSE 25 END LOOP
					a := (t * 31 + k * 7) % $accounts + 1;
					UPDATE accounts SET balance = balance - k WHERE id = a;
					UPDATE accounts SET balance = balance + k WHERE id = a % $accounts + 1;
				END LOOP;
				COMMIT;
			END LOOP;
		END
		\$\$;
	};
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $src->connstr('postgres'), '-c', $sql ],
		'>', \$out, '2>', \$err);
}

# The reader: on the destination, the sum of the balances over and over,
# each time in a new snapshot, with a WARNING whenever it is not the total;
# until a row appears in reader_stop.
sub start_reader
{
	my $sql = qq{
		DO \$\$
		DECLARE
			s bigint;
			n bigint := 0;
		BEGIN
			LOOP
				SELECT sum(balance) INTO s FROM public.accounts;
				IF s IS DISTINCT FROM $total THEN
					RAISE WARNING 'invariant broken: sum %', s;
				END IF;
				n := n + 1;
				EXIT WHEN n % 50 = 0 AND EXISTS (SELECT FROM public.reader_stop);
				PERFORM pg_sleep(0.001);
			END LOOP;
			RAISE NOTICE 'reader checks: %', n;
		END
		\$\$;
	};
	$dst->safe_psql('postgres', 'TRUNCATE reader_stop');
	my $r = { out => '', err => '' };
	$r->{h} = IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $dst->connstr('postgres'), '-c', $sql ],
		'>', \$r->{out}, '2>', \$r->{err});
	# it has checked at least once before anything else happens
	$dst->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%invariant broken%' AND pid <> pg_backend_pid()});
	return $r;
}

# Stop the reader and count what it saw: (checks, broken sums).  A reader
# whose server was killed under it reports what it printed before.
sub stop_reader
{
	my ($r) = @_;
	$dst->safe_psql('postgres', 'INSERT INTO reader_stop VALUES (true)');
	$r->{h}->finish;
	my $checks = $r->{err} =~ /reader checks: (\d+)/ ? $1 : 0;
	my @broken = $r->{err} =~ /(invariant broken: sum \S+)/g;
	return ($checks, \@broken);
}

sub check_reader
{
	my ($r, $what) = @_;
	my ($checks, $broken) = stop_reader($r);
	ok($checks > 0, "$what: the reader checked the sum ($checks times)");
	is(scalar(@$broken), 0, "$what: the reader never saw a broken sum")
	  or diag(join("\n", @$broken[ 0 .. ($#$broken < 9 ? $#$broken : 9) ]));
}

# Wait until the pipeline has caught up, then compare the tables and the
# row events of both sides.
sub check_exact
{
	my ($what) = @_;
	ok( $run->poll_query_until('postgres',
			q{SELECT pgconduit.wait_for_pipeline('money', '5 s')}),
		"$what: pipeline caught up");
	my $q = q{SELECT count(*), sum(balance), md5(string_agg(a::text, ',' ORDER BY id)) FROM accounts a};
	is($dst->safe_psql('postgres', $q), $src->safe_psql('postgres', $q),
		"$what: destination equals source");
	$q = q{SELECT op || ' ' || count(*) FROM accounts_log GROUP BY op ORDER BY op};
	is($dst->safe_psql('postgres', $q), $src->safe_psql('postgres', $q),
		"$what: each change applied exactly once");
}

# Hold the destination in the middle of a large source transaction: a
# trigger there takes an advisory lock, held by a session of the test, at
# the row the transaction marks 'gate', after 100 of its transfers (three
# small transactions come before it).  Returns that session, to let go
# with release().  (The load starts after it: transfers in another order
# would deadlock.)
$dst->safe_psql('postgres', q{
	CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_advisory_xact_lock_shared(4242);
		RETURN NULL;
	END $$;
	CREATE TRIGGER gate AFTER UPDATE ON accounts
		FOR EACH ROW WHEN (NEW.note = 'gate') EXECUTE FUNCTION gate();
	ALTER TABLE accounts ENABLE ALWAYS TRIGGER gate;
});
sub hold
{
	my ($what) = @_;
	my $gate = $dst->background_psql('postgres');
	$gate->query_safe('SELECT pg_advisory_lock(4242)');
	$src->safe_psql('postgres', qq{
		DO \$\$
		BEGIN
			FOR t IN 1..3 LOOP
				UPDATE accounts SET balance = balance - t WHERE id = t;
				UPDATE accounts SET balance = balance + t WHERE id = t + 1;
				COMMIT;
			END LOOP;
			FOR k IN 1..200 LOOP
				UPDATE accounts SET balance = balance - k WHERE id = k % $accounts + 1;
				UPDATE accounts SET balance = balance + k WHERE id = (k + 5) % $accounts + 1;
				IF k = 100 THEN
					UPDATE accounts SET note = 'gate' WHERE id = 20;
				END IF;
			END LOOP;
			UPDATE accounts SET note = NULL WHERE id = 20;
		END
		\$\$;
	});
	ok( $dst->poll_query_until('postgres', q{
			SELECT count(*) > 0 FROM pg_stat_activity
			 WHERE application_name = 'pgconduit money' AND wait_event = 'advisory'}),
		"$what: the destination is held in the middle of a transaction");
	my $progress = $dst->safe_psql('postgres',
		q{SELECT position FROM pgconduit.progress WHERE pipeline = 'money'});
	is( $run->safe_psql('postgres',
			q{SELECT applied_position FROM pgconduit.status WHERE pipeline = 'money'}),
		$progress, "$what: applied_position is what the destination has committed");
	return $gate;
}

# Let the destination go on (if the session holding it is still there)
sub release
{
	my ($gate) = @_;
	eval {
		$gate->query_safe('SELECT pg_advisory_unlock(4242)');
		$gate->quit;
	};
}

sub worker_pid
{
	return $run->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline money'});
}

# Kill a server's postmaster with SIGKILL and start it again.
sub kill9_and_restart
{
	my ($node) = @_;
	my $postmaster = $node->{_pid};
	$node->kill9;
	# the killed postmaster's children take a moment to notice and go away
	sleep 0.1 while kill(0, $postmaster);
	my $started = 0;
	for (1 .. 60)
	{
		last if ($started = $node->start(fail_ok => 1));
		$node->{_pid} = undef;    # start() read the stale postmaster.pid
		sleep 1;
	}
	return $started;
}

# 1. No kill: transactions larger than a batch never show half applied.
my $reader = start_reader();
start_load(1, 120)->finish;
check_exact('transactions of 50 changes in batches of 7');
check_reader($reader, 'transactions of 50 changes in batches of 7');

# 2. kill -9 the worker in the middle of a transaction
$reader = start_reader();
my $gate = hold('worker');
my $load = start_load(121, 250);
my $pid = worker_pid();
ok($pid, 'the worker runs');
kill 'KILL', $pid if $pid;
release($gate);
$load->finish;
check_exact('worker killed');
check_reader($reader, 'worker killed');

# 3. kill -9 the pipeline's backend on the destination: the destination
# server restarts all its sessions, the reader's too, so it starts again
# as soon as the destination accepts connections.
$reader = start_reader();
$gate = hold('destination backend');
$load = start_load(251, 380);
my $backend = $dst->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE application_name = 'pgconduit money'});
ok($backend, 'the pipeline has a destination backend');
kill 'KILL', $backend if $backend;
release($gate);
$reader->{h}->finish;    # the crash ended it
my @broken_before = $reader->{err} =~ /(invariant broken: sum \S+)/g;
is(scalar(@broken_before), 0, 'destination backend: no broken sum before the kill');
$dst->poll_query_until('postgres', 'SELECT true');
$reader = start_reader();
$load->finish;
check_exact('destination backend killed');
check_reader($reader, 'destination backend killed');

# 4. kill -9 the runner's postmaster (with the worker) in the middle
$reader = start_reader();
$gate = hold('runner');
$load = start_load(381, 510);
ok(kill9_and_restart($run), 'runner restarted after kill -9');
release($gate);
$load->finish;
check_exact('runner server killed');
check_reader($reader, 'runner server killed');

# 5. kill -9 the destination's postmaster in the middle
$reader = start_reader();
$gate = hold('destination server');
$load = start_load(511, 640);
ok(kill9_and_restart($dst), 'destination restarted after kill -9');
$reader->{h}->finish;    # the crash ended it
release($gate);
@broken_before = $reader->{err} =~ /(invariant broken: sum \S+)/g;
is(scalar(@broken_before), 0, 'destination server: no broken sum before the kill');
$reader = start_reader();
$load->finish;
check_exact('destination server killed');
check_reader($reader, 'destination server killed');

# 6. A record rejected in the middle of a transaction, on_error = halt:
# nothing of the transaction is applied, the status says where, and what
# it calls applied is what the destination holds.  A small transaction
# just before it may share its destination transaction.
my $state = q{SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM accounts a};
$dst->safe_psql('postgres',
	q{ALTER TABLE accounts ADD CONSTRAINT no_poison CHECK (note IS DISTINCT FROM 'poison')});
$reader = start_reader();
my $before_small = $src->safe_psql('postgres', $state);
$src->safe_psql('postgres', q{
	BEGIN;
	UPDATE accounts SET balance = balance - 5 WHERE id = 1;
	UPDATE accounts SET balance = balance + 5 WHERE id = 2;
	COMMIT;
});
my $before_poison = $src->safe_psql('postgres', $state);
my $poison_sql = qq{
	DO \$\$
	BEGIN
		FOR k IN 1..12 LOOP
			UPDATE accounts SET balance = balance - k WHERE id = k;
			UPDATE accounts SET balance = balance + k WHERE id = k + 1;
		END LOOP;
		UPDATE accounts SET note = 'poison' WHERE id = 20;
		FOR k IN 1..12 LOOP
			UPDATE accounts SET balance = balance - k WHERE id = k + 2;
			UPDATE accounts SET balance = balance + k WHERE id = k + 3;
		END LOOP;
		UPDATE accounts SET note = 'fine' WHERE id = 8;
	END
	\$\$;
};
$src->safe_psql('postgres', $poison_sql);
ok( $run->poll_query_until('postgres',
		q{SELECT state = 'failed' FROM pgconduit.status WHERE pipeline = 'money'}),
	'halt: the pipeline fails at the rejected record');
my $progress = $dst->safe_psql('postgres',
	q{SELECT position FROM pgconduit.progress WHERE pipeline = 'money'});
my ($error_position, $applied_position, $error_table) = split /\|/,
  $run->safe_psql('postgres',
	q{SELECT error_position, applied_position, error_table FROM pgconduit.status WHERE pipeline = 'money'});
like($error_position, qr{^[0-9A-F]{16}/0000000000000019$},
	'halt: error_position is the rejected record, the 25th change of its transaction');
is($error_table, 'public.accounts', 'halt: error_table names the table')
  or diag($error_table);
is($applied_position, $progress,
	'halt: applied_position is what the destination recorded as applied');
ok($applied_position lt $error_position, 'halt: applied_position is before the rejected record');
my $dst_state = $dst->safe_psql('postgres', $state);
ok($dst_state eq $before_poison || $dst_state eq $before_small,
	'halt: nothing of the failing transaction is applied');
is($dst->safe_psql('postgres', q{SELECT count(*) FROM pgconduit.dead_letter}), '0',
	'halt: no dead letter');
check_reader($reader, 'halt');

# the cause fixed, the transaction applies, whole and once
$dst->safe_psql('postgres', 'ALTER TABLE accounts DROP CONSTRAINT no_poison');
$reader = start_reader();
$run->safe_psql('postgres', q{SELECT pgconduit.start_pipeline('money')});
check_exact('halt, then start_pipeline');
check_reader($reader, 'halt, then start_pipeline');
is($dst->safe_psql('postgres', q{SELECT note FROM accounts WHERE id = 20}), 'poison',
	'halt, then start_pipeline: the rejected record is applied');

# 7. on_error = dead_letter: the rejected record is set aside, the rest of
# its transaction applies.
$run->safe_psql('postgres', qq{
	SELECT pgconduit.stop_pipeline('money');
	SELECT pgconduit.alter_connector('money_copy',
		jsonb_build_object('url', $dst_url, 'batch_size', 7, 'on_error', 'dead_letter'));
	SELECT pgconduit.start_pipeline('money');
});
$dst->safe_psql('postgres', q{
	UPDATE accounts SET note = NULL WHERE id = 20;
	ALTER TABLE accounts ADD CONSTRAINT no_poison CHECK (note IS DISTINCT FROM 'poison');
});
$src->safe_psql('postgres', q{UPDATE accounts SET note = NULL WHERE id = 20});
$src->safe_psql('postgres', $poison_sql);
ok($run->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('money', '5 s')}),
	'dead_letter: pipeline caught up');
is( $dst->safe_psql('postgres',
		q{SELECT count(*), min(record->'payload'->'after'->>'note') FROM pgconduit.dead_letter}),
	'1|poison', 'dead_letter: the rejected record is in pgconduit.dead_letter');
my $balances = q{SELECT md5(string_agg(id || ':' || balance, ',' ORDER BY id)) FROM accounts};
is($dst->safe_psql('postgres', $balances), $src->safe_psql('postgres', $balances),
	'dead_letter: the rest of its transaction is applied');
is($dst->safe_psql('postgres', q{SELECT note FROM accounts WHERE id = 8}), 'fine',
	'dead_letter: also its last change');

$run->safe_psql('postgres', q{SELECT pgconduit.drop_pipeline('money')});
$_->stop for ($run, $dst, $src);
done_testing();
