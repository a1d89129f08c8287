# 010_upgrade.pl: pgconduit 0.1 becomes 0.2 in place, with ALTER EXTENSION
# pgconduit UPDATE, while pipelines carry rows.
#
# On PostgreSQL 15 the released 0.1 runs for real: t/run-tests.sh takes its
# source from git history into old/0.1, built here and installed with the
# server into a private copy of the installation.  Pipelines run and rows
# flow under 0.1; the binaries are replaced by 0.2's and the server
# restarts.  Under the old catalog the new library runs no pipeline, says
# what to run, and crashes nothing, whichever 0.1 function is called.  Then
# ALTER EXTENSION pgconduit UPDATE in each database, while the source is
# written to, and the pipelines go on by themselves from where they were:
# nothing lost, nothing applied twice.  17 and 18, which 0.1 never ran on,
# start from the 0.1 catalog under the 0.2 library.
#
# On every version the catalog of each updated database must equal that of
# a fresh 0.2 install, as t/catalog_description.sql describes them; that
# the description sees what an upgrade script could miss is shown by
# changing a fresh install in each such way and watching it differ.
use strict;
use warnings;
use Cwd qw(getcwd);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgconduitTest;

my $top = getcwd();
my $describe = slurp_file("$top/t/catalog_description.sql");

sub pg_config
{
	my ($what) = @_;
	my $v = `pg_config --$what`;
	chomp $v;
	return $v;
}
my $major = pg_config('version') =~ /^PostgreSQL (\d+)/ ? $1 : 0;
my $old_src = "$top/old/0.1";
my $real_old = $major == 15 && -f "$old_src/pgconduit.control" && -f "$top/pgconduit.so";

# A private copy of the installation (server programs, libraries, share
# directory) in the same layout, so that its extension files can be
# swapped while the real installation stays as it is.
my $inst;
sub copy_tree
{
	my ($from, $to, $filter) = @_;
	make_path($to);
	opendir(my $dh, $from) or die "cannot read $from: $!";
	for my $f (readdir $dh)
	{
		next if $f eq '.' || $f eq '..';
		if (-d "$from/$f")
		{
			copy_tree("$from/$f", "$to/$f", $filter) unless $filter;
			next;
		}
		next if $filter && $f !~ $filter;
		copy("$from/$f", "$to/$f") or die "cannot copy $from/$f: $!";
		chmod((stat("$from/$f"))[2] & 07777, "$to/$f");
	}
	closedir $dh;
}

# Put pgconduit's files of one version into the private installation.
sub install_pgconduit
{
	my ($libs, $control, @scripts) = @_;
	my $pkglib = $inst . pg_config('pkglibdir');
	my $ext = $inst . pg_config('sharedir') . '/extension';
	unlink glob("$ext/pgconduit*");
	copy($_, $pkglib) or die "cannot copy $_: $!" for @$libs;
	copy($control, $ext) or die "cannot copy $control: $!";
	copy($_, $ext) or die "cannot copy $_: $!" for @scripts;
}

my $node;
if ($real_old)
{
	# build the released 0.1 with this server's PGXS
	my ($out, $err) = ('', '');
	ok(IPC::Run::run([ 'make', '-C', $old_src, '-s', 'PG_CONFIG=' . `which pg_config` =~ s/\s+$//r ],
			'>', \$out, '2>', \$err),
		'the released 0.1 builds')
	  or diag($err);
	$inst = PostgreSQL::Test::Utils::tempdir();
	copy_tree(pg_config('bindir'), $inst . pg_config('bindir'));
	copy_tree(pg_config('pkglibdir'), $inst . pg_config('pkglibdir'), qr/\.so$/);
	copy_tree(pg_config('sharedir'), $inst . pg_config('sharedir'));
	install_pgconduit([ "$old_src/pgconduit.so", "$old_src/output_plugin/pgconduit_output.so" ],
		"$old_src/pgconduit.control", "$old_src/sql/pgconduit--0.1.sql");
	$node = PostgreSQL::Test::Cluster->new('upgrade', install_path => dirname($inst . pg_config('bindir')));
	$node->init(allows_streaming => 'logical');
	$node->append_conf('postgresql.conf', pgconduit_conf() . "jit = off\n");
}
else
{
	$node = pgconduit_node('upgrade');
}
$node->start;

sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
my $shop_url = lit($node->connstr('shop'));
my $wh_url = lit($node->connstr('warehouse'));

$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('postgres', 'CREATE DATABASE warehouse');
for my $db ('shop', 'warehouse')
{
	$node->safe_psql($db, q{
		CREATE EXTENSION pgconduit VERSION '0.1';
		CREATE TABLE orders (id int PRIMARY KEY, v text, n numeric);
		CREATE TABLE customers (id int PRIMARY KEY, name text);
	});
}
is($node->safe_psql('shop', q{SELECT extversion FROM pg_extension WHERE extname = 'pgconduit'}),
	'0.1', 'the 0.1 catalog is installed from its script');
$node->safe_psql('shop', q{
	INSERT INTO orders SELECT g, md5(g::text), g / 7.0 FROM generate_series(1, 5000) g;
	INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 300) g;
});
if ($real_old)
{
	# 0.1's own API
	$node->safe_psql('shop', qq{
		SELECT pgconduit.create_source('orders', jsonb_build_object('table', 'orders', 'url', $shop_url));
		SELECT pgconduit.create_source('customers', jsonb_build_object('table', 'customers', 'url', $shop_url));
		SELECT pgconduit.create_source('spare', jsonb_build_object('table', 'customers', 'url', $shop_url,
			'slot_name', 'spare_slot', 'publication_name', 'spare_pub'));
		SELECT pgconduit.create_destination('warehouse', jsonb_build_object('url', $wh_url, 'batch_size', 100));
		SELECT pgconduit.create_pipeline('orders', 'orders', 'warehouse');
		SELECT pgconduit.create_pipeline('customers', 'customers', 'warehouse');
	});
}
else
{
	# the rows 0.1's API would have written (the 0.2 library refuses to
	# validate configurations for a 0.1 catalog)
	$node->safe_psql('shop', qq{
		INSERT INTO pgconduit.connector (name, kind, config) VALUES
			('orders', 'source', jsonb_build_object('table', 'orders', 'url', $shop_url,
				'slot_name', 'pgconduit_orders', 'publication_name', 'pgconduit_orders')),
			('customers', 'source', jsonb_build_object('table', 'customers', 'url', $shop_url,
				'slot_name', 'pgconduit_customers', 'publication_name', 'pgconduit_customers')),
			('spare', 'source', jsonb_build_object('table', 'customers', 'url', $shop_url,
				'slot_name', 'spare_slot', 'publication_name', 'spare_pub')),
			('warehouse', 'destination', jsonb_build_object('url', $wh_url, 'batch_size', 100));
		INSERT INTO pgconduit.pipeline (name, source, destination) VALUES
			('orders', 'orders', 'warehouse'), ('customers', 'customers', 'warehouse');
	});
}

# A write load on the source, each change its own transaction.
sub start_load
{
	my ($from, $count) = @_;
	my $sql = qq{
		DO \$\$
		BEGIN
			FOR i IN $from..$from + $count - 1 LOOP
				INSERT INTO orders VALUES (100000 + i, 'load', i);
				UPDATE orders SET v = 'updated ' || i, n = n + 1 WHERE id = (i * 7919) % 5000 + 1;
				DELETE FROM orders WHERE id = (i * 104729) % 5000 + 1;
				UPDATE customers SET name = name || '+' WHERE id = i % 300 + 1;
				COMMIT;
			END LOOP;
		END
		\$\$;
	};
	my ($out, $err) = ('', '');
	return IPC::Run::start([ 'psql', '-X', '-q', '-d', $node->connstr('shop'), '-c', $sql ],
		'>', \$out, '2>', \$err);
}

sub check_same
{
	my ($what) = @_;
	for my $p ('orders', 'customers')
	{
		# one wait, not a poll: a pipeline that cannot go on fails the test
		# at once instead of after many timeouts
		my ($ret, $out, $err) =
		  $node->psql('shop', qq{SELECT pgconduit.wait_for_pipeline('$p', '3 min')});
		is($out, 't', "$what: pipeline $p caught up") or diag($err);
		my $q = qq{SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM $p t};
		is($node->safe_psql('warehouse', $q), $node->safe_psql('shop', $q),
			"$what: $p in the warehouse equals the shop's");
	}
}

# From then on both sides log every row change their tables see: a change
# applied twice would show as one more event in the warehouse.
sub start_logging
{
	for my $db ('shop', 'warehouse')
	{
		$node->safe_psql($db, q{
			CREATE TABLE change_log (tab text, id int, op text);
			CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				INSERT INTO public.change_log VALUES (TG_TABLE_NAME,
					CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, TG_OP);
				RETURN NULL;
			END $$;
			CREATE TRIGGER log_orders AFTER INSERT OR UPDATE OR DELETE ON orders
				FOR EACH ROW EXECUTE FUNCTION log_change();
			CREATE TRIGGER log_customers AFTER INSERT OR UPDATE OR DELETE ON customers
				FOR EACH ROW EXECUTE FUNCTION log_change();
			ALTER TABLE orders ENABLE ALWAYS TRIGGER log_orders;
			ALTER TABLE customers ENABLE ALWAYS TRIGGER log_customers;
		});
	}
}
sub check_once
{
	my ($what) = @_;
	my $q = q{SELECT tab || ' ' || op || ' ' || count(*) FROM change_log GROUP BY tab, op ORDER BY tab, op};
	my $want = $node->safe_psql('shop', $q);
	isnt($want, '', "$what: the shop logged changes");
	is($node->safe_psql('warehouse', $q), $want, "$what: each change applied once");
}

my $log_offset = 0;
if ($real_old)
{
	# 1. 0.1 at work: snapshot, then changes under a write load
	check_same('0.1');
	start_logging();
	start_load(1, 1000)->finish;
	check_same('0.1 under load');
	check_once('0.1 under load');

	# 2. the binaries become 0.2's (library, output plugin, control file,
	# scripts), and the server restarts, as an upgrade of the package does
	$node->stop('fast');
	install_pgconduit([ "$top/pgconduit.so", "$top/output_plugin/pgconduit_output.so" ],
		"$top/pgconduit.control", glob("$top/sql/pgconduit--*.sql"));
	$log_offset = -s $node->logfile;
	$node->start;
	# changes made while the pipelines wait for the update
	start_load(2001, 300)->finish;
}
else
{
	# 0.1 never ran on this server: its catalog under the 0.2 library
	start_logging();
}

# 3. the 0.2 library under the 0.1 catalog runs no pipeline and says why
ok( $node->wait_for_log(
		qr/WARNING:  pgconduit's catalog in database "shop" is version 0\.1, but the pgconduit library is version 0\.2/,
		$log_offset),
	'the launcher says the catalog is older than the library');
like(slurp_file($node->logfile, $log_offset),
	qr/HINT:  Run ALTER EXTENSION pgconduit UPDATE in database "shop"\./,
	'and what to run');
is($node->safe_psql('shop',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pgconduit pipeline%'}),
	'0', 'no pipeline runs under the old catalog');

# every function of the 0.1 API works or says what to run; none crashes
my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my @calls = (
	q{SELECT pgconduit.mask_url('host=x password=secret')},
	q{SELECT pgconduit.create_source('extra', '{"table": "orders", "url": "dbname=shop"}')},
	q{SELECT pgconduit.create_destination('extra_d', '{"url": "dbname=warehouse"}')},
	q{SELECT pgconduit.alter_connector('spare', '{"table": "orders", "url": "dbname=shop"}')},
	q{SELECT pgconduit.create_pipeline('extra', 'spare', 'warehouse', false)},
	q{SELECT pgconduit.start_pipeline('extra')},
	q{SELECT pgconduit.stop_pipeline('extra')},
	q{SELECT count(*) FROM pgconduit.connectors},
	q{SELECT count(*) FROM pgconduit.pipelines},
	q{SELECT count(*) FROM pgconduit.status},
	q{SELECT pgconduit.wait_for_pipeline('orders', '10 ms')},
	q{SELECT pgconduit.drop_pipeline('extra', false)},
	q{SELECT pgconduit.drop_connector('spare')},
	q{SELECT pgconduit.write('[{"operation": "create", "metadata": {"table": "customers"}, "key": {"id": -1}, "payload": {"after": {"id": -1, "name": "x"}}}]')},
	q{SELECT count(*) FROM pgconduit.write('[]')},
	q{SELECT pgconduit._status()},
);
for my $sql (@calls)
{
	my ($ret, $out, $err) = $node->psql('shop', $sql);
	ok($ret == 0 || $err =~ /ALTER EXTENSION pgconduit UPDATE/,
		"under the old catalog: $sql")
	  or diag("error: $err");
	last unless $node->safe_psql('postgres', 'SELECT 1') eq '1';
}
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$started, 'no call under the old catalog crashed the server');
ok(!$node->log_contains(qr/terminated by signal|was terminated by/, $log_offset),
	'no process was terminated by a signal');

# 4. ALTER EXTENSION pgconduit UPDATE while the source is written to.  The
# database of the pipelines first: they start, and fail on the destination,
# whose catalog is still 0.1, saying what to run there; then the
# destination's, and they go on by themselves.
my $load = start_load(3001, 1000);
$node->safe_psql('shop', 'ALTER EXTENSION pgconduit UPDATE');
is($node->safe_psql('shop', q{SELECT extversion FROM pg_extension WHERE extname = 'pgconduit'}),
	'0.2', 'the catalog is 0.2');
ok($node->poll_query_until('shop', q{SELECT count(*) = 2 FROM pgconduit.status WHERE errors > 0}),
	'the pipelines start and stop at the destination');
like($node->safe_psql('shop', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'orders'}),
	qr/pgconduit's catalog in the destination database "warehouse" is version 0\.1, but the pgconduit library is version 0\.2.*HINT: Run ALTER EXTENSION pgconduit UPDATE in the destination database "warehouse"\./s,
	'and say what to run there');
$node->safe_psql('warehouse', 'ALTER EXTENSION pgconduit UPDATE');
$load->finish;
check_same('after ALTER EXTENSION pgconduit UPDATE');
if ($real_old)
{
	check_once('0.1, restart, update');
	is($node->safe_psql('shop',
			q{SELECT string_agg(pipeline || ' ' || phase || ' ' || snapshot_rows_done, ', ' ORDER BY pipeline)
				FROM pgconduit.status}),
		'customers cdc 0, orders cdc 0',
		'the pipelines went on from their positions, with no new snapshot');
}
else
{
	$node->safe_psql($_, 'TRUNCATE change_log') for ('shop', 'warehouse');
	start_load(5001, 500)->finish;
	check_same('0.2 under load');
	check_once('0.2 under load');
}
ok(!$node->log_contains(qr/terminated by signal|was terminated by/, $log_offset),
	'no process was terminated by a signal');

# 5. the updated catalogs equal a fresh 0.2 install
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION pgconduit');
my $fresh = $node->safe_psql('fresh', $describe);
like($fresh, qr/^extension pgconduit version 0\.2 /m, 'the fresh install is 0.2');
for my $db ('shop', 'warehouse')
{
	my $got = $node->safe_psql($db, $describe);
	if ($got eq $fresh)
	{
		pass("$db: the updated catalog equals a fresh 0.2 install");
	}
	else
	{
		# show the lines that differ
		my %f = map { $_ => 1 } split /\n/, $fresh;
		my %g = map { $_ => 1 } split /\n/, $got;
		fail("$db: the updated catalog equals a fresh 0.2 install");
		diag("only in the fresh install: $_") for grep { !$g{$_} } split /\n/, $fresh;
		diag("only after the update: $_") for grep { !$f{$_} } split /\n/, $got;
	}
}

# 6. the description sees each kind of change an upgrade script could miss
my @changes = (
	[ 'a column added', q{ALTER TABLE pgconduit.progress ADD COLUMN extra int} ],
	[ 'a column default', q{ALTER TABLE pgconduit.pipeline ALTER COLUMN enabled SET DEFAULT false} ],
	[ 'a column type', q{ALTER TABLE pgconduit.dead_letter ALTER COLUMN sqlstate TYPE varchar(5)} ],
	[ 'a NOT NULL', q{ALTER TABLE pgconduit.dead_letter ALTER COLUMN message SET NOT NULL} ],
	[ 'a constraint', q{ALTER TABLE pgconduit.connector ADD CONSTRAINT extra CHECK (name <> '')} ],
	[ 'an index', q{CREATE INDEX extra ON pgconduit.dead_letter (pipeline)} ],
	[ 'a table grant', q{GRANT SELECT ON pgconduit.connector TO PUBLIC} ],
	[ 'a column grant', q{GRANT SELECT (name) ON pgconduit.pipeline TO PUBLIC} ],
	[ 'a function grant', q{GRANT EXECUTE ON FUNCTION pgconduit._status() TO PUBLIC} ],
	[ 'a function body', q{CREATE OR REPLACE FUNCTION pgconduit.mask_url(url text) RETURNS text LANGUAGE sql AS 'SELECT url'} ],
	[ 'SECURITY DEFINER', q{ALTER FUNCTION pgconduit.wait_for_pipeline(text, interval) SECURITY DEFINER} ],
	[ 'a function setting', q{ALTER FUNCTION pgconduit.wait_for_pipeline(text, interval) SET search_path = ''} ],
	[ 'a volatility', q{ALTER FUNCTION pgconduit.mask_url(text) VOLATILE} ],
	[ 'a view', q{DO $$ BEGIN EXECUTE 'CREATE OR REPLACE VIEW pgconduit.pipelines AS '
		  || rtrim(pg_get_viewdef('pgconduit.pipelines'), ';') || ' LIMIT 1000'; END $$} ],
	[ 'a schema grant', q{GRANT CREATE ON SCHEMA pgconduit TO PUBLIC} ],
	[ 'a comment', q{COMMENT ON TABLE pgconduit.progress IS 'changed'} ],
	[ 'a dump condition', q{UPDATE pg_extension SET extcondition = array_replace(extcondition, '', 'WHERE true') WHERE extname = 'pgconduit'} ],
	[ 'a trigger', q{ALTER TABLE pgconduit.pipeline DISABLE TRIGGER pipeline_changed} ],
	[ 'a non-member', q{ALTER EXTENSION pgconduit DROP FUNCTION pgconduit.mask_url(text)} ],
	[ 'a role', q{ALTER ROLE pgconduit_admin CREATEDB} ],
);
for my $c (@changes)
{
	my ($what, $sql) = @$c;
	my $changed = $node->safe_psql('fresh', "BEGIN; $sql; $describe ROLLBACK;");
	isnt($changed, $fresh, "the catalog description sees $what");
}

$node->stop;
done_testing();
