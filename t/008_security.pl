# 008_security.pl: the attacks that need a server asking for passwords
# (scram-sha-256 on 127.0.0.1), made as a hostile member of pgconduit_admin
# and as a database owner.  Each must fail and change nothing; pipelines of
# superusers, and of admins whose connections carry passwords, keep working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgconduitTest;

my $node = pgconduit_node('security');
$node->append_conf('postgresql.conf', qq{listen_addresses = '127.0.0.1'\n});
{
	open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die $!;
	print $hba "local all all trust\n";
	print $hba "host all all 127.0.0.1/32 scram-sha-256\n";
	close $hba;
}
my $port = $node->port;
my $dir = PostgreSQL::Test::Utils::tempdir;
$node->start;

my $super = $node->safe_psql('postgres', 'SELECT current_user');
sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
sub tcp { my ($db, $user, $pw) = @_;
	return "host=127.0.0.1 port=$port dbname=$db user=$user" . (defined $pw ? " password=$pw" : ''); }

$node->safe_psql('postgres', qq{
	SET password_encryption = 'scram-sha-256';
	ALTER ROLE "$super" PASSWORD 'superpw';
	CREATE ROLE pgconduit_admin NOLOGIN;
	CREATE ROLE alice LOGIN REPLICATION PASSWORD 'alicepw' IN ROLE pgconduit_admin;
	CREATE ROLE bob LOGIN PASSWORD 'bobpw' IN ROLE pgconduit_admin;
	CREATE ROLE mallory LOGIN PASSWORD 'mallorypw';
	GRANT pg_read_all_data TO bob;
	CREATE DATABASE secret;
	REVOKE CONNECT ON DATABASE secret FROM PUBLIC;
	CREATE DATABASE pipes;
	CREATE DATABASE shop OWNER mallory;
	CREATE DATABASE warehouse OWNER mallory;
	CREATE DATABASE alicesrc;
});
$node->safe_psql('secret', q{
	CREATE TABLE secret_t (id int PRIMARY KEY, v text);
	INSERT INTO secret_t VALUES (1, 'launch codes'), (2, 'salaries'), (3, 'passwords');
});
$node->safe_psql('pipes', q{
	CREATE EXTENSION pgconduit;
	CREATE TABLE loot (id int PRIMARY KEY, v text);
	ALTER TABLE loot OWNER TO alice;
	CREATE TABLE items_copy (id int PRIMARY KEY, v text);
	ALTER TABLE items_copy OWNER TO alice;
});

# An attack as alice that tries to copy secret_t into her table loot through
# a pipeline of her own; $src_url is how it hopes to reach database secret.
sub try_loot
{
	my ($label, $src_url, %opt) = @_;
	my $dst_url = tcp('pipes', 'alice', 'alicepw');
	my ($rc, $out, $err) = $node->psql('pipes', qq{
		SET ROLE alice;
		SELECT pgconduit.create_source('loot_src', jsonb_build_object('table', 'public.secret_t', 'url', ${\ lit($src_url)}, 'cdc', false));
		SELECT pgconduit.create_destination('loot_dst', jsonb_build_object('table', 'public.loot', 'url', ${\ lit($dst_url)}));
		SELECT pgconduit.create_pipeline('loot', 'loot_src', 'loot_dst', false);
		$opt{before_start}
		SELECT pgconduit.start_pipeline('loot');
	});
	my $why = $err;
	if ($node->safe_psql('pipes', q{SELECT count(*) FROM pgconduit.pipeline WHERE name = 'loot' AND enabled}) eq '1')
	{
		$node->poll_query_until('pipes',
			q{SELECT state IN ('failed', 'done') FROM pgconduit.status WHERE pipeline = 'loot'})
		  or diag("$label: the pipeline neither failed nor finished");
		$why .= $node->safe_psql('pipes', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'loot'});
	}
	is($node->safe_psql('pipes', 'SELECT count(*) FROM loot'), '0', "$label: nothing copied");
	like($why, $opt{error}, "$label: refused with a clear error") if $opt{error};
	note("$label: $why");
	$node->safe_psql('pipes', q{
		SELECT pgconduit.drop_pipeline(name, false) FROM pgconduit.pipeline WHERE name = 'loot';
		SELECT pgconduit.drop_connector(name) FROM pgconduit.connector WHERE name IN ('loot_src', 'loot_dst');
		TRUNCATE loot;
	});
	return $why;
}

my $socket_url = "host=" . $node->host . " port=$port dbname=secret user=$super";

# The catalog only through the API: an owner set to the superuser would run
# the pipeline as the superuser, through a socket the server trusts.
try_loot('UPDATE pipeline SET owner', "$socket_url password=whatever",
	before_start => qq{UPDATE pgconduit.pipeline SET owner = '$super' WHERE name = 'loot';},
	error => qr/permission denied for table pipeline|password/);

# A socket the server trusts is no password
try_loot('trusted socket', $socket_url, error => qr/password is required/);

# The server's ~/.pgpass must not authenticate an admin's pipeline
my $home = (getpwuid($>))[7];
my $pgpass = "$home/.pgpass";
my $wrote_pgpass = 0;
if (defined $home && -d $home && -w $home && !-e $pgpass)
{
	open my $fh, '>', $pgpass or die $!;
	print $fh "127.0.0.1:$port:secret:$super:superpw\n";
	close $fh;
	chmod 0600, $pgpass;
	$wrote_pgpass = 1;
	try_loot('~/.pgpass', tcp('secret', $super), error => qr/password is required/);
	unlink $pgpass;
	$wrote_pgpass = 0;
}
else
{
	note('~/.pgpass not tried: the home directory is not writable or already has one');
}
END { unlink $pgpass if $wrote_pgpass; }

# Nor PGPASSFILE or PGSERVICEFILE in the server's environment
{
	my $passfile = "$dir/passfile";
	open my $fh, '>', $passfile or die $!;
	print $fh "127.0.0.1:$port:*:$super:superpw\n";
	close $fh;
	chmod 0600, $passfile;
	my $servicefile = "$dir/service.conf";
	open $fh, '>', $servicefile or die $!;
	print $fh "[secretsvc]\nhost=127.0.0.1\nport=$port\ndbname=secret\nuser=$super\npassword=superpw\n";
	close $fh;

	local $ENV{PGPASSFILE} = $passfile;
	local $ENV{PGSERVICEFILE} = $servicefile;
	$node->restart;
	try_loot('PGPASSFILE', tcp('secret', $super), error => qr/password is required/);
	try_loot('passfile keyword', tcp('secret', $super) . " passfile=$passfile",
		error => qr/password is required|passfile/);
	try_loot('PGSERVICEFILE', 'service=secretsvc', error => qr/password is required|service/);
	try_loot('PGSERVICEFILE with a password', 'service=secretsvc password=x',
		error => qr/service/);

	# A pipeline of an admin whose connections carry passwords works end to
	# end, from a source role that is not superuser, through a publication
	# that already exists, with the server's files present all the same.
	$node->safe_psql('alicesrc', q{
		CREATE TABLE items (id int PRIMARY KEY, v text);
		INSERT INTO items SELECT i, 'v' || i FROM generate_series(1, 100) i;
		-- what the README names: SELECT, and UPDATE for the snapshot's SHARE lock
		GRANT SELECT, UPDATE ON items TO alice;
		CREATE PUBLICATION alice_pub FOR TABLE items;
	});
	my $src = lit(tcp('alicesrc', 'alice', 'alicepw'));
	my $dst = lit(tcp('pipes', 'alice', 'alicepw'));
	$node->safe_psql('pipes', qq{
		SET ROLE alice;
		SELECT pgconduit.create_source('items', jsonb_build_object('table', 'public.items', 'url', $src, 'publication_name', 'alice_pub'));
		SELECT pgconduit.create_destination('items_copy', jsonb_build_object('table', 'public.items_copy', 'url', $dst));
		SELECT pgconduit.create_pipeline('alices', 'items', 'items_copy');
	});
	my $ok = $node->safe_psql('pipes', q{SET ROLE alice; SELECT pgconduit.wait_for_pipeline('alices', '60 s')});
	is($ok, 't', 'an admin pipeline with passwords takes its snapshot');
	diag($node->safe_psql('pipes', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'alices'}))
	  if $ok ne 't';
	$node->safe_psql('alicesrc', q{INSERT INTO items SELECT i, 'w' || i FROM generate_series(101, 150) i; DELETE FROM items WHERE id <= 10;});
	is($node->safe_psql('pipes', q{SET ROLE alice; SELECT pgconduit.wait_for_pipeline('alices', '60 s')}), 't',
		'and streams changes');
	is($node->safe_psql('pipes', q{SELECT count(*), min(id), max(id) FROM items_copy}), '140|11|150',
		'every row arrives');
}

# Nothing a database owner plants runs as the superuser whose pipeline reads
# or writes the database: the README's quick start beside planted operators
# and functions
my $plant = q{
	CREATE FUNCTION public.planted(what text) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		RAISE WARNING 'planted % ran as %', what, current_user;
		IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
			BEGIN
				EXECUTE 'ALTER ROLE mallory SUPERUSER';
			EXCEPTION WHEN OTHERS THEN NULL;
			END;
		END IF;
	END $$;
	CREATE FUNCTION public.eq_or(oid, regclass) RETURNS bool LANGUAGE plpgsql AS
		$$ BEGIN PERFORM public.planted('='); RETURN $1 OPERATOR(pg_catalog.=) $2::oid; END $$;
	CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = public.eq_or);
	CREATE FUNCTION public.eq_ro(regclass, oid) RETURNS bool LANGUAGE plpgsql AS
		$$ BEGIN PERFORM public.planted('='); RETURN $1::oid OPERATOR(pg_catalog.=) $2; END $$;
	CREATE OPERATOR public.= (LEFTARG = regclass, RIGHTARG = oid, FUNCTION = public.eq_ro);
	CREATE FUNCTION public.unnest(text[]) RETURNS SETOF text LANGUAGE plpgsql AS
		$$ BEGIN PERFORM public.planted('unnest'); RETURN QUERY SELECT pg_catalog.unnest($1); END $$;
	CREATE FUNCTION public.format(text, name, name) RETURNS text LANGUAGE plpgsql AS
		$$ BEGIN PERFORM public.planted('format'); RETURN pg_catalog.format($1, $2, $3); END $$;
	CREATE FUNCTION public.to_jsonb(record) RETURNS jsonb LANGUAGE plpgsql AS
		$$ BEGIN PERFORM public.planted('to_jsonb'); RETURN pg_catalog.to_jsonb($1); END $$;
	CREATE FUNCTION public.current_setting(name) RETURNS text LANGUAGE plpgsql AS
		$$ BEGIN PERFORM public.planted('current_setting'); RETURN pg_catalog.current_setting($1::text); END $$;
};
for my $db ('shop', 'warehouse')
{
	$node->safe_psql($db, 'CREATE EXTENSION pgconduit') if $db eq 'warehouse';
	$node->safe_psql($db, "SET ROLE mallory; $plant");
	$node->safe_psql($db, q{
		CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric);
		ALTER TABLE public.orders OWNER TO mallory;
	});
}
$node->safe_psql('shop', q{INSERT INTO orders SELECT i, i * 1.5 FROM generate_series(1, 1000) i});
# a row the source lacks: the snapshot goes record by record, through to_jsonb
$node->safe_psql('warehouse', q{INSERT INTO orders VALUES (0, 0)});
my $logstart = -s $node->logfile;
$node->safe_psql('shop', q{
	CREATE EXTENSION pgconduit;
	SELECT pgconduit.create_source('orders', '{"table": "public.orders", "url": "dbname=shop"}');
	SELECT pgconduit.create_destination('warehouse', '{"url": "dbname=warehouse"}');
	SELECT pgconduit.create_pipeline('orders_to_warehouse', 'orders', 'warehouse');
});
is($node->safe_psql('shop', q{SELECT pgconduit.wait_for_pipeline('orders_to_warehouse', '60 s')}), 't',
	'the quick start runs beside planted objects');
$node->safe_psql('shop', q{UPDATE orders SET amount = 0 WHERE id <= 100; DELETE FROM orders WHERE id > 900});
is($node->safe_psql('shop', q{SELECT pgconduit.wait_for_pipeline('orders_to_warehouse', '60 s')}), 't',
	'and streams changes');
is($node->safe_psql('warehouse', q{SELECT count(*), sum(amount) FROM orders WHERE id > 0}),
	$node->safe_psql('shop', q{SELECT count(*), sum(amount) FROM orders}),
	'every change arrives');
my $log = substr(slurp_file($node->logfile), $logstart);
unlike($log, qr/planted \S+ ran as/, 'nothing planted ran');
note($1) if $log =~ /(planted \S+ ran as \S+)/;
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'the database owner did not become superuser');

# Memory is bounded in bytes as well as records: with pgconduit.max_batch_memory
# at 1MB, 60 rows of 100 kB in one transaction reach the destination in
# batches of about 1MB, each one INSERT statement at least, where the
# batch_size of 1000 records alone would allow one batch
$node->safe_psql('postgres', q{ALTER SYSTEM SET pgconduit.max_batch_memory = '1MB'; SELECT pg_reload_conf();});
$node->poll_query_until('postgres', q{SELECT current_setting('pgconduit.max_batch_memory') = '1MB'});
$node->safe_psql('shop', q{CREATE TABLE public.wide (id int PRIMARY KEY, v text)});
$node->safe_psql('warehouse', q{
	CREATE TABLE public.wide (id int PRIMARY KEY, v text);
	CREATE TABLE public.wide_statements (at timestamptz DEFAULT now());
	CREATE FUNCTION public.count_statement() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN INSERT INTO public.wide_statements DEFAULT VALUES; RETURN NULL; END $$;
	CREATE TRIGGER count_statement AFTER INSERT ON public.wide
		FOR EACH STATEMENT EXECUTE FUNCTION public.count_statement();
	-- pipelines apply as replicas, as native logical replication does
	ALTER TABLE public.wide ENABLE ALWAYS TRIGGER count_statement;
});
$node->safe_psql('shop', q{
	SELECT pgconduit.create_source('wide', '{"table": "public.wide", "url": "dbname=shop"}');
	SELECT pgconduit.create_destination('wide_dst', '{"url": "dbname=warehouse", "table": "public.wide"}');
	SELECT pgconduit.create_pipeline('wide', 'wide', 'wide_dst');
	SELECT pgconduit.wait_for_pipeline('wide', '60 s');
});
$node->safe_psql('warehouse', q{TRUNCATE public.wide_statements});
$node->safe_psql('shop', q{INSERT INTO public.wide SELECT i, repeat(md5(i::text), 3125) FROM generate_series(1, 60) i});
is($node->safe_psql('shop', q{SELECT pgconduit.wait_for_pipeline('wide', '60 s')}), 't',
	'wide rows arrive');
is($node->safe_psql('warehouse', q{SELECT count(*), sum(length(v)) FROM public.wide}), '60|6000000',
	'every wide row');
my $statements = $node->safe_psql('warehouse', q{SELECT count(*) FROM public.wide_statements});
cmp_ok($statements, '>=', 5, 'in batches bounded by pgconduit.max_batch_memory');
note("60 rows of 100 kB took $statements INSERT statements");
$node->safe_psql('shop', q{SELECT pgconduit.drop_pipeline('wide')});

# pg_dump by another admin prints no connection string of others
$node->safe_psql('pipes', qq{
	SELECT pgconduit.create_destination('su_pw', jsonb_build_object('url', ${\ lit(tcp('warehouse', $super, 'superpw'))}));
});
for my $rls ([], ['--enable-row-security'])
{
	my ($stdout, $stderr) = run_command([ 'pg_dump', '-h', $node->host, '-p', $port, '-U', 'bob', @$rls, 'pipes' ]);
	unlike($stdout . $stderr, qr/superpw|alicepw/, "pg_dump @$rls by another admin prints no password");
}
{
	my ($stdout, $stderr) = run_command([ 'pg_dump', '-h', $node->host, '-p', $port, '-U', 'alice', '--enable-row-security', '-t', 'pgconduit.connector', 'pipes' ]);
	like($stdout, qr/alicepw/, 'pg_dump by an owner keeps its own connectors');
	unlike($stdout, qr/superpw/, 'but not those of others');
}

$node->safe_psql('pipes', q{SET ROLE alice; SELECT pgconduit.drop_pipeline('alices')});
$node->stop;
done_testing();
