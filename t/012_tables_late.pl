# 012_tables_late.pl: a table created after a many-table pipeline started
# and matched by its pattern is followed; when the destination lacks it,
# the pipeline fails loudly and, once the table exists and start_pipeline is
# called, resumes without loss or duplicates.  The late table stays followed
# when its worker is killed (kill -9, the postmaster reinitializes) and
# when the server restarts.  Every change is logged on both sides, so a
# change applied twice or not at all shows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgconduitTest;

my $node = pgconduit_node('late');
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;

sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
my $src = lit($node->connstr('postgres'));
$node->safe_psql('postgres', q{CREATE DATABASE dst});
my $dst = lit($node->connstr('dst'));

# at the destination, every row event applied is logged: an insert applied
# twice shows up as an update of the same values, a missing one not at all
my $log_ddl = q{
	CREATE TABLE applied (t text, id int, op text, v text);
	CREATE FUNCTION log_applied() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.applied VALUES (TG_TABLE_NAME, NEW.id, TG_OP, NEW.v);
		RETURN NEW;
	END $$;
};
$node->safe_psql('dst', qq{
	CREATE EXTENSION pgconduit;
	CREATE SCHEMA app;
	CREATE TABLE app.a (id int PRIMARY KEY, v text);
	$log_ddl
	CREATE TRIGGER a_log AFTER INSERT OR UPDATE ON app.a
		FOR EACH ROW EXECUTE FUNCTION public.log_applied();
	ALTER TABLE app.a ENABLE ALWAYS TRIGGER a_log;
});
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pgconduit;
	CREATE SCHEMA app;
	CREATE TABLE app.a (id int PRIMARY KEY, v text);
	INSERT INTO app.a VALUES (1, 'start');
	SELECT pgconduit.create_source('s', jsonb_build_object('tables', 'app.*', 'url', $src));
	SELECT pgconduit.create_destination('d', jsonb_build_object('url', $dst, 'batch_size', 3));
	SELECT pgconduit.create_pipeline('p', 's', 'd');
});
is($node->safe_psql('postgres', q{SELECT pgconduit.wait_for_pipeline('p', '60 s')}), 't',
	'the pipeline runs');

# a late table the destination does not have: the destination's error
$node->safe_psql('postgres', q{
	CREATE TABLE app.late (id int PRIMARY KEY, v text);
	INSERT INTO app.late SELECT g, 'first' FROM generate_series(1, 10) g;
	INSERT INTO app.a VALUES (2, 'after late');
});
ok( $node->poll_query_until('postgres',
		q{SELECT state = 'failed' FROM pgconduit.status WHERE pipeline = 'p'}),
	'a late table the destination lacks fails the pipeline');
like($node->safe_psql('postgres', q{SELECT last_error FROM pgconduit.status WHERE pipeline = 'p'}),
	qr/app\.late/, 'the error names the table');
is($node->safe_psql('dst', q{SELECT count(*) FROM app.a WHERE id = 2}), '0',
	'nothing after the late table is applied');

# more changes meanwhile, then the table at the destination and a start
$node->safe_psql('postgres', q{
	UPDATE app.late SET v = 'while failed' WHERE id <= 3;
	DELETE FROM app.late WHERE id = 10;
	INSERT INTO app.late VALUES (11, 'while failed');
});
$node->safe_psql('dst', q{
	CREATE TABLE app.late (id int PRIMARY KEY, v text);
	CREATE TRIGGER late_log AFTER INSERT OR UPDATE ON app.late
		FOR EACH ROW EXECUTE FUNCTION public.log_applied();
	ALTER TABLE app.late ENABLE ALWAYS TRIGGER late_log;
});
$node->safe_psql('postgres', q{SELECT pgconduit.start_pipeline('p')});
is($node->safe_psql('postgres', q{SELECT pgconduit.wait_for_pipeline('p', '60 s')}), 't',
	'start_pipeline resumes once the table exists');

# the source and the destination hold the same rows
sub same_rows
{
	my ($name) = @_;
	my $q = q{SELECT string_agg(format('%s:%s', id, v), ',' ORDER BY id) FROM };
	for my $t ('a', 'late', 'late2')
	{
		next
		  if $node->safe_psql('postgres', "SELECT to_regclass('app.$t') IS NULL") eq 't';
		is($node->safe_psql('dst', $q . "app.$t"), $node->safe_psql('postgres', $q . "app.$t"),
			"$name: app.$t is the same at the destination");
	}
}
same_rows('after the restart');

# a row event applied twice: the same row version twice in the log
sub no_twice
{
	my ($name) = @_;
	is( $node->safe_psql('dst', q{
			SELECT count(*) FROM (SELECT t, id, v FROM applied
			 GROUP BY t, id, v HAVING count(*) > 1) x}),
		'0', "$name: no change applied twice");
}
no_twice('after the restart');

# a late table the destination has, taken up while the pipeline streams:
# copied at the end of the transaction that created it, while more
# changes to it commit, and each change applied once
$node->safe_psql('dst', q{
	CREATE TABLE app.late2 (id int PRIMARY KEY, v text);
	CREATE TRIGGER late2_log AFTER INSERT OR UPDATE ON app.late2
		FOR EACH ROW EXECUTE FUNCTION public.log_applied();
	ALTER TABLE app.late2 ENABLE ALWAYS TRIGGER late2_log;
});
my $writer = $node->background_psql('postgres');
$writer->query_safe(q{
	BEGIN;
	CREATE TABLE app.late2 (id int PRIMARY KEY, v text);
	INSERT INTO app.late2 SELECT g, 'created' FROM generate_series(1, 20) g;
	INSERT INTO app.a VALUES (3, 'with late2');
	COMMIT;
});
for my $i (1 .. 20)
{
	$writer->query_safe(qq{
		UPDATE app.late2 SET v = 'update $i' WHERE id = $i;
		INSERT INTO app.late2 VALUES (100 + $i, 'insert $i');
	});
}
$writer->quit;
is($node->safe_psql('postgres', q{SELECT pgconduit.wait_for_pipeline('p', '60 s')}), 't',
	'a late table the destination has is taken up while the pipeline streams');
same_rows('a late table taken up while streaming');
no_twice('a late table taken up while streaming');

# the worker killed: the postmaster reinitializes and the pipeline goes on
sub worker_pid
{
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline p'});
}
$node->safe_psql('postgres', q{
	INSERT INTO app.late SELECT g, 'before kill' FROM generate_series(12, 20) g;
	UPDATE app.late SET v = 'before kill' WHERE id = 1;
});
my $pid = worker_pid();
ok($pid, 'the worker runs');
kill 'KILL', $pid if $pid;
$node->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('p', '1 s')})
  or die 'the pipeline did not come back after the kill';
$node->safe_psql('postgres', q{
	INSERT INTO app.late SELECT g, 'after kill' FROM generate_series(21, 25) g;
	UPDATE app.late SET v = 'after kill' WHERE id = 2;
});
is($node->safe_psql('postgres', q{SELECT pgconduit.wait_for_pipeline('p', '60 s')}), 't',
	'the late table streams after the worker was killed');
same_rows('after kill -9');
no_twice('after kill -9');

# a server restart
$node->safe_psql('postgres', q{
	INSERT INTO app.late SELECT g, 'before restart' FROM generate_series(26, 30) g;
});
$node->restart;
$node->safe_psql('postgres', q{
	UPDATE app.late SET v = 'after restart' WHERE id = 3;
	INSERT INTO app.late VALUES (31, 'after restart');
});
ok($node->poll_query_until('postgres', q{SELECT pgconduit.wait_for_pipeline('p', '1 s')}),
	'the late table streams after a server restart');
same_rows('after a server restart');
no_twice('after a server restart');
is( $node->safe_psql('dst', q{
		SELECT source_table, state FROM pgconduit.progress_table ORDER BY source_table}),
	"app.a|streaming\napp.late|streaming\napp.late2|streaming",
	'the destination records both tables');

$node->stop;
done_testing();
