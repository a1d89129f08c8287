#!/usr/bin/perl
# check-meta.pl: validates META.json against the PGXN Meta Spec 1.0.0
# (https://pgxn.org/meta/spec.txt) and against the tree: the files it names
# exist, and its versions agree with pgconduit.control and the Makefile.
# Prints "META.json is OK" or each problem, and exits 1 on any.
# Usage: perl t/check-meta.pl [META.json]     (behind "make check-meta")
use strict;
use warnings;
use JSON::PP;

my $file = shift // 'META.json';
my @errors;
sub bad { push @errors, join('', @_); }

open my $fh, '<:raw', $file or die "check-meta: cannot read $file: $!\n";
my $text = do { local $/; <$fh> };
close $fh;
my $meta = eval { JSON::PP->new->utf8->decode($text) };
if (!defined $meta)
{
	print "$file is not valid JSON: $@";
	exit 1;
}

my $semver = qr/^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)
	(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?
	(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/x;
my %licenses = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2
  bsd freebsd gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0
  mozilla_1_1 openssl perl_5 postgresql qpl_1_0 ssleay sun zlib open_source restricted
  unrestricted unknown);

sub is_string { my ($v) = @_; return defined $v && !ref $v && $v ne ''; }
sub is_term { my ($v) = @_; return is_string($v) && $v =~ /^[^\/\\\s[:cntrl:]]{2,}$/; }
sub is_uri { my ($v) = @_; return is_string($v) && $v =~ /^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/; }
sub is_path { my ($v) = @_; return is_string($v) && length($v) >= 2 && $v !~ m{^/|\\|(^|/)\.\.(/|$)}; }

# only the named keys and custom x_ keys
sub known_keys
{
	my ($where, $obj, @keys) = @_;
	my %ok = map { $_ => 1 } @keys;
	for my $k (sort keys %$obj)
	{
		bad("$where: unknown key \"$k\" (custom keys start with x_)")
		  unless $ok{$k} || $k =~ /^[xX]_./;
	}
}

sub version_range
{
	my ($where, $v) = @_;
	return if defined $v && !ref $v && $v =~ /^0$/;
	my $op = qr/(?:[=!]=|[<>]=?)\s*/;
	my $one = qr/(?:$op)?(?:\S+)/;
	if (!is_string($v))
	{
		bad("$where: a version range must be 0 or a string");
		return;
	}
	for my $part (split /,\s*/, $v)
	{
		my ($ver) = $part =~ /^(?:$op)?(.*)$/;
		bad("$where: \"$part\" is not a version or an operator and a version")
		  unless $ver =~ $semver;
	}
}

ref $meta eq 'HASH' or do { print "$file: the top level must be an object\n"; exit 1; };
known_keys('META.json', $meta, qw(name version abstract maintainer license provides
	  meta-spec description generated_by tags no_index prereqs release_status resources));
for my $k (qw(name version abstract maintainer license provides meta-spec))
{
	bad("META.json: missing mandatory field \"$k\"") unless exists $meta->{$k};
}

bad("name: must be a term of two or more characters without slash, backslash or space")
  if exists $meta->{name} && !is_term($meta->{name});
bad("version: \"", $meta->{version} // '', "\" is not a semantic version")
  if exists $meta->{version} && !(is_string($meta->{version}) && $meta->{version} =~ $semver);
for my $k (qw(abstract description generated_by))
{
	bad("$k: must be a non-empty string") if exists $meta->{$k} && !is_string($meta->{$k});
}

if (exists $meta->{maintainer})
{
	my $m = $meta->{maintainer};
	my @m = ref $m eq 'ARRAY' ? @$m : ($m);
	bad("maintainer: must be a string or a non-empty list of strings")
	  if !@m || grep { !is_string($_) } @m;
}

if (exists $meta->{license})
{
	my $l = $meta->{license};
	if (ref $l eq 'HASH')
	{
		bad("license: an object of licenses must not be empty") unless %$l;
		bad("license: \"$_\" must map to the license's URI") for grep { !is_uri($l->{$_}) } sort keys %$l;
	}
	else
	{
		my @l = ref $l eq 'ARRAY' ? @$l : ($l);
		bad("license: an empty list") unless @l;
		bad("license: \"", $_ // 'null', "\" is not a license the spec knows") for grep { !defined $_ || ref $_ || !$licenses{$_} } @l;
	}
}

if (exists $meta->{'meta-spec'})
{
	my $ms = $meta->{'meta-spec'};
	if (ref $ms ne 'HASH') { bad("meta-spec: must be an object"); }
	else
	{
		known_keys('meta-spec', $ms, qw(version url));
		bad("meta-spec: version must be 1.0.x") unless is_string($ms->{version}) && $ms->{version} =~ /^1\.0\.\d+$/;
		bad("meta-spec: url must be a URI") if exists $ms->{url} && !is_uri($ms->{url});
	}
}

if (exists $meta->{provides})
{
	my $p = $meta->{provides};
	if (ref $p ne 'HASH' || !%$p) { bad("provides: must be a non-empty object"); }
	else
	{
		for my $ext (sort keys %$p)
		{
			my $e = $p->{$ext};
			bad("provides: \"$ext\" is not a term") unless is_term($ext);
			if (ref $e ne 'HASH') { bad("provides.$ext: must be an object"); next; }
			known_keys("provides.$ext", $e, qw(file version abstract docfile docpath));
			bad("provides.$ext: missing \"file\"") unless exists $e->{file};
			bad("provides.$ext: missing \"version\"") unless exists $e->{version};
			bad("provides.$ext.version: \"", $e->{version} // '', "\" is not a semantic version")
			  if exists $e->{version} && !(is_string($e->{version}) && $e->{version} =~ $semver);
			bad("provides.$ext.abstract: must be a non-empty string")
			  if exists $e->{abstract} && !is_string($e->{abstract});
			for my $f (qw(file docfile))
			{
				next unless exists $e->{$f};
				if (!is_path($e->{$f})) { bad("provides.$ext.$f: not a relative Unix path"); }
				elsif (!-f $e->{$f}) { bad("provides.$ext.$f: $e->{$f} does not exist"); }
			}
		}
	}
}

if (exists $meta->{prereqs})
{
	my $pr = $meta->{prereqs};
	if (ref $pr ne 'HASH' || !%$pr) { bad("prereqs: must be a non-empty object"); }
	else
	{
		known_keys('prereqs', $pr, qw(configure build test runtime develop));
		for my $phase (grep { !/^[xX]_/ } sort keys %$pr)
		{
			my $ph = $pr->{$phase};
			if (ref $ph ne 'HASH' || !%$ph) { bad("prereqs.$phase: must be a non-empty object"); next; }
			known_keys("prereqs.$phase", $ph, qw(requires recommends suggests conflicts));
			for my $rel (grep { !/^[xX]_/ } sort keys %$ph)
			{
				my $r = $ph->{$rel};
				if (ref $r ne 'HASH') { bad("prereqs.$phase.$rel: must be an object"); next; }
				for my $name (sort keys %$r)
				{
					bad("prereqs.$phase.$rel: \"$name\" is not a term") unless is_term($name);
					version_range("prereqs.$phase.$rel.$name", $r->{$name});
				}
			}
		}
	}
}

if (exists $meta->{release_status})
{
	bad("release_status: must be stable, testing or unstable")
	  unless is_string($meta->{release_status}) && $meta->{release_status} =~ /^(stable|testing|unstable)$/;
}

if (exists $meta->{tags})
{
	my $t = $meta->{tags};
	if (ref $t ne 'ARRAY' || !@$t) { bad("tags: must be a non-empty list"); }
	else
	{
		bad("tags: \"", $_ // 'null', "\" must be 2 to 255 characters without slash, backslash or control characters")
		  for grep { !is_string($_) || length($_) < 2 || length($_) > 255 || /[\/\\[:cntrl:]]/ } @$t;
	}
}

if (exists $meta->{no_index})
{
	my $n = $meta->{no_index};
	if (ref $n ne 'HASH' || !%$n) { bad("no_index: must be a non-empty object"); }
	else
	{
		known_keys('no_index', $n, qw(file directory));
		for my $k (qw(file directory))
		{
			next unless exists $n->{$k};
			my @v = ref $n->{$k} eq 'ARRAY' ? @{ $n->{$k} } : ($n->{$k});
			bad("no_index.$k: must be a path or a non-empty list of paths") if !@v || grep { !is_string($_) } @v;
		}
	}
}

if (exists $meta->{resources})
{
	my $r = $meta->{resources};
	if (ref $r ne 'HASH' || !%$r) { bad("resources: must be a non-empty object"); }
	else
	{
		known_keys('resources', $r, qw(homepage bugtracker repository));
		bad("resources.homepage: must be a URI") if exists $r->{homepage} && !is_uri($r->{homepage});
		if (exists $r->{bugtracker})
		{
			my $b = $r->{bugtracker};
			if (ref $b ne 'HASH' || !%$b) { bad("resources.bugtracker: must be a non-empty object"); }
			else
			{
				known_keys('resources.bugtracker', $b, qw(web mailto));
				bad("resources.bugtracker.web: must be a URI") if exists $b->{web} && !is_uri($b->{web});
				bad("resources.bugtracker.mailto: must be an email address")
				  if exists $b->{mailto} && !(is_string($b->{mailto}) && $b->{mailto} =~ /^[^@\s]+@[^@\s]+$/);
			}
		}
		if (exists $r->{repository})
		{
			my $g = $r->{repository};
			if (ref $g ne 'HASH' || !%$g) { bad("resources.repository: must be a non-empty object"); }
			else
			{
				known_keys('resources.repository', $g, qw(url web type));
				bad("resources.repository.$_: must be a URI") for grep { exists $g->{$_} && !is_uri($g->{$_}) } qw(url web);
				bad("resources.repository.type: must be a lower-case word")
				  if exists $g->{type} && !(is_string($g->{type}) && $g->{type} =~ /^[a-z]+$/);
				bad("resources.repository: a type needs a url") if exists $g->{type} && !exists $g->{url};
			}
		}
	}
}

# The tree: one version everywhere
my ($extversion) = do { local @ARGV = ('Makefile'); map { /^EXTVERSION\s*=\s*(\S+)/ ? $1 : () } <> };
my ($control) = do { local @ARGV = ('pgconduit.control'); map { /^default_version\s*=\s*'([^']+)'/ ? $1 : () } <> };
if (defined $extversion && is_string($meta->{version}))
{
	bad("version: $meta->{version} is not the Makefile's EXTVERSION $extversion")
	  unless $meta->{version} eq "$extversion.0" || $meta->{version} eq $extversion;
	bad("pgconduit.control: default_version '", $control // '', "' is not EXTVERSION $extversion")
	  unless defined $control && $control eq $extversion;
	my $p = ref $meta->{provides} eq 'HASH' ? $meta->{provides} : {};
	for my $ext (sort keys %$p)
	{
		bad("provides.$ext.version: ", $p->{$ext}{version} // '', " is not the distribution's $meta->{version}")
		  unless ($p->{$ext}{version} // '') eq $meta->{version};
	}
	bad("provides.pgconduit.file: must be the install script sql/pgconduit--$extversion.sql")
	  unless ($p->{pgconduit}{file} // '') eq "sql/pgconduit--$extversion.sql";
}

if (@errors)
{
	print "$file is invalid:\n";
	print "  $_\n" for @errors;
	exit 1;
}
print "$file is OK\n";
exit 0;
