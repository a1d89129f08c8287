# PgconduitTest.pm: shared setup for pgconduit's TAP tests.
#
# pgconduit_node() makes a PostgreSQL::Test::Cluster configured the way
# make installcheck configures its instances (t/pgconduit.conf), plus
# output_plugin_libraries on servers that know that parameter.
package PgconduitTest;

use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(pgconduit_node pgconduit_conf);

# The settings of t/pgconduit.conf, plus the plugin allow-list where known.
sub pgconduit_conf
{
	my $conf = PostgreSQL::Test::Utils::slurp_file(dirname(__FILE__) . '/pgconduit.conf');
	my $sharedir = `pg_config --sharedir`;
	chomp $sharedir;
	my $sample = PostgreSQL::Test::Utils::slurp_file("$sharedir/postgresql.conf.sample");
	$conf .= "output_plugin_libraries = 'pgoutput, test_decoding, pgconduit_output'\n"
	  if $sample =~ /output_plugin_libraries/;
	return $conf;
}

# A new, initialized node with pgconduit's settings; %opts: preload => 0
# leaves pgconduit out of shared_preload_libraries.
sub pgconduit_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 'logical');
	my $conf = pgconduit_conf();
	$conf =~ s/^shared_preload_libraries.*$//m
	  if defined $opts{preload} && !$opts{preload};
	$conf =~ s/^pgconduit\.max_pipelines.*$//m
	  if defined $opts{preload} && !$opts{preload};
	$node->append_conf('postgresql.conf', $conf);
	return $node;
}

1;
