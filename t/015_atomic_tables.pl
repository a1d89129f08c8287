# 015_atomic_tables.pl: a source transaction that moves money between two
# tables of one many-table source is applied in one destination
# transaction, never split, also through batches of 5 records and across
# a kill -9 of the worker: a reader on the destination sums both tables
# over and over and never sees the money anywhere but in them, and at the
# end every change was applied exactly once.
#
# Two servers: the source (which also runs the pipeline, and is the one
# killed) and the destination, whose reader goes on meanwhile.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use PgconduitTest;

my $src = pgconduit_node('money_source');
my $dst = pgconduit_node('money_destination');
$src->append_conf('postgresql.conf', 'restart_after_crash = on');
$_->start for ($src, $dst);

my $rows = 10;
my $total = 2 * 1000 * $rows;
my $tables = q{
	CREATE TABLE acct_a (id int PRIMARY KEY, balance bigint NOT NULL);
	CREATE TABLE acct_b (id int PRIMARY KEY, balance bigint NOT NULL);
};
$src->safe_psql('postgres', qq{
	CREATE EXTENSION pgconduit;
	$tables
	INSERT INTO acct_a SELECT g, 1000 FROM generate_series(1, $rows) g;
	INSERT INTO acct_b SELECT g, 1000 FROM generate_series(1, $rows) g;
});
$dst->safe_psql('postgres', qq{
	CREATE EXTENSION pgconduit;
	$tables
	CREATE TABLE reader_stop (stop bool);
});

sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
my $src_url = lit($src->connstr('postgres'));
my $dst_url = lit($dst->connstr('postgres'));
$src->safe_psql('postgres', qq{
	SELECT pgconduit.create_source('money', jsonb_build_object('tables', 'public.acct_*', 'url', $src_url));
	SELECT pgconduit.create_destination('money_copy',
		jsonb_build_object('url', $dst_url, 'batch_size', 5));
	SELECT pgconduit.create_pipeline('money', 'money', 'money_copy');
});
ok($src->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('money', '5 s')}),
	'both tables are copied');
is($dst->safe_psql('postgres', q{SELECT (SELECT sum(balance) FROM acct_a) + (SELECT sum(balance) FROM acct_b)}),
	$total, 'the copy holds all the money');

# Both sides log every row change: a change applied twice shows as one
# more row event on the destination.
for my $node ($src, $dst)
{
	$node->safe_psql('postgres', q{
		CREATE TABLE acct_log (tab text, id int);
		CREATE FUNCTION log_acct() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO public.acct_log VALUES (TG_TABLE_NAME, NEW.id);
			RETURN NULL;
		END $$;
		CREATE TRIGGER log_a AFTER UPDATE ON acct_a FOR EACH ROW EXECUTE FUNCTION log_acct();
		CREATE TRIGGER log_b AFTER UPDATE ON acct_b FOR EACH ROW EXECUTE FUNCTION log_acct();
		ALTER TABLE acct_a ENABLE ALWAYS TRIGGER log_a;
		ALTER TABLE acct_b ENABLE ALWAYS TRIGGER log_b;
	});
}

# The reader: both tables summed in one snapshot, over and over, with a
# WARNING whenever the sum is not the total, until reader_stop has a row.
my $reader_sql = qq{
	DO \$\$
	DECLARE
		s bigint;
		n bigint := 0;
	BEGIN
		LOOP
			SELECT (SELECT sum(balance) FROM public.acct_a) +
				   (SELECT sum(balance) FROM public.acct_b) INTO s;
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
my ($rout, $rerr) = ('', '');
my $reader = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $dst->connstr('postgres'), '-c', $reader_sql ],
	'>', \$rout, '2>', \$rerr);

# Transfers from acct_a to acct_b and back, 20 per transaction (40
# changes, eight batches), 150 transactions.
my $load_sql = qq{
	DO \$\$
	DECLARE
		a int;
	BEGIN
		FOR t IN 1..150 LOOP
			FOR k IN 1..20 LOOP
				a := (t * 7 + k * 3) % $rows + 1;
				IF (t + k) % 2 = 0 THEN
					UPDATE acct_a SET balance = balance - k WHERE id = a;
					UPDATE acct_b SET balance = balance + k WHERE id = a % $rows + 1;
				ELSE
					UPDATE acct_b SET balance = balance - k WHERE id = a;
					UPDATE acct_a SET balance = balance + k WHERE id = a % $rows + 1;
				END IF;
			END LOOP;
			COMMIT;
		END LOOP;
	END
	\$\$;
};
my ($lout, $lerr) = ('', '');
my $load = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $src->connstr('postgres'), '-c', $load_sql ],
	'>', \$lout, '2>', \$lerr);

# Kill the worker while the transfers arrive (some have, not all); the
# server restarts, the transfers of the session it ends are rolled back.
$dst->poll_query_until('postgres', q{SELECT count(*) > 400 FROM acct_log});
my $pid = $src->safe_psql('postgres', q{SELECT pid FROM pgconduit.status WHERE pipeline = 'money'});
ok($pid =~ /^\d+$/ && $pid > 0, 'the worker runs');
kill 'KILL', $pid;
$load->finish;
ok($src->poll_query_until('postgres', 'SELECT true'), 'the source restarted');

# More transfers after the restart, then everything must arrive once.
$src->safe_psql('postgres', $load_sql);
ok($src->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('money', '5 s')}),
	'the pipeline caught up after the kill');

$dst->safe_psql('postgres', 'INSERT INTO reader_stop VALUES (true)');
$reader->finish;
my $checks = $rerr =~ /reader checks: (\d+)/ ? $1 : 0;
my @broken = $rerr =~ /(invariant broken: sum \S+)/g;
ok($checks > 0, "the reader checked the sum ($checks times)");
is(scalar(@broken), 0, 'the reader never saw money outside the two tables')
  or diag(join("\n", @broken[ 0 .. ($#broken < 9 ? $#broken : 9) ]));

for my $t (qw(acct_a acct_b))
{
	my $q = qq{SELECT count(*), sum(balance), md5(string_agg(t::text, ',' ORDER BY id)) FROM $t t};
	is($dst->safe_psql('postgres', $q), $src->safe_psql('postgres', $q),
		"$t: destination equals source");
}
my $q = q{SELECT tab || ' ' || count(*) FROM acct_log GROUP BY tab ORDER BY tab};
is($dst->safe_psql('postgres', $q), $src->safe_psql('postgres', $q),
	'each change applied exactly once');

$_->stop for ($src, $dst);
done_testing();
