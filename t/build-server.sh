#!/bin/sh
# build-server.sh: a PostgreSQL server of a major version Debian 12 does not
# ship as binary packages (17, 18), built once from Debian's source package
# and cached for later runs.
#
# Usage: build-server.sh MAJOR
# Prints the cached server's pg_config path as the last line of stdout.
#
# The server is built from the source package of the Debian suite that
# carries it (postgresql-17 in trixie, postgresql-18 in sid), reached
# through a deb-src entry of its own in
# /etc/apt/sources.list.d/pgconduit-src.sources -- upstream's tarball,
# without Debian's patches, which would move the server's libraries to
# /usr/lib/postgresql -- and installed into $PGCONDUIT_CACHE/pgMAJOR (default
# /var/cache/pgconduit/pg17).  The build takes only what the test suites
# need: the server, the client programs the tests run (psql, initdb, pg_ctl,
# pg_dump, pg_basebackup, pg_recvlogical, createdb ...), TAP support
# (--enable-tap-tests), pg_regress and pg_isolation_regress, and
# contrib/test_decoding, and libxml (the type tests carry xml values).  No
# documentation, no ecpg, no pgbench or pg_upgrade, no ICU, no readline,
# no SSL (no test uses it).  A second
# run finds the cache and returns at once; a failed build leaves no cache
# behind and says where its log is.
set -u

major=${1:?usage: build-server.sh MAJOR}
cache=${PGCONDUIT_CACHE:-/var/cache/pgconduit}
prefix=$cache/pg$major

log() { echo "build-server: $*" >&2; }

if [ -f "$prefix/.complete" ] && [ -x "$prefix/bin/pg_config" ]; then
	echo "$prefix/bin/pg_config"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	log "PostgreSQL $major is not built yet in $prefix; run this as root once to build it"
	exit 1
fi

case $major in
	17) suite=trixie ;;
	18) suite=sid ;;
	*) log "no Debian source suite known for PostgreSQL $major"; exit 1 ;;
esac

mkdir -p "$cache" || exit 1
# one build per version at a time; a second caller waits and reuses it
exec 9>"$cache/pg$major.lock"
flock 9
if [ -f "$prefix/.complete" ] && [ -x "$prefix/bin/pg_config" ]; then
	echo "$prefix/bin/pg_config"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# What the build needs, installed when missing
need=""
for pair in gcc:gcc make:make bison:bison flex:flex perl:perl \
	dpkg-source:dpkg-dev xz:xz-utils bzip2:bzip2 flock:util-linux; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || need="$need ${pair#*:}"
done
perl -MIPC::Run -e 1 2>/dev/null || need="$need libipc-run-perl"
[ -f /usr/include/zlib.h ] || need="$need zlib1g-dev"
[ -f /usr/include/libxml2/libxml/parser.h ] || need="$need libxml2-dev"
if [ -n "$need" ]; then
	log "installing:$need"
	apt-get update -qq && apt-get install -y -qq $need >/dev/null || {
		log "BUILD OF POSTGRESQL $major FAILED: could not install$need"
		exit 1
	}
fi

# The source suites, as deb-src only: no binary package comes from them
srclist=/etc/apt/sources.list.d/pgconduit-src.sources
if ! grep -qs "$suite" "$srclist"; then
	log "adding deb-src entries for trixie and sid in $srclist"
	cat >"$srclist" <<SRC
# added by pgconduit's t/build-server.sh: source packages of PostgreSQL 17
# (trixie) and 18 (sid), which the test command builds for make test PG=N
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -qq || { log "BUILD OF POSTGRESQL $major FAILED: apt-get update"; exit 1; }
fi
if ! apt-cache showsrc "postgresql-$major" 2>/dev/null | grep -q "^Package: postgresql-$major"; then
	apt-get update -qq || { log "BUILD OF POSTGRESQL $major FAILED: apt-get update"; exit 1; }
fi

buildlog=$cache/pg$major.build.log
src=$cache/src-pg$major
rm -rf "$src" "$prefix"
mkdir -p "$src"
start=$(date +%s)
jobs=$(nproc 2>/dev/null || echo 2)
log "building PostgreSQL $major from Debian's source package ($suite) into $prefix with make -j$jobs; log in $buildlog"
(
	set -e
	cd "$src"
	# upstream's source as Debian ships it, without Debian's patches: they
	# put the server's libraries under /usr/lib/postgresql, not the prefix
	if apt-get source -qq --download-only "postgresql-$major/$suite"; then
		dpkg-source --skip-patches -x postgresql-${major}_*.dsc
	else
		# A mirror can lag its own index: the index names a version whose
		# files the pool does not serve yet.  Take the newest of the few
		# previous minor releases the pool does serve; dpkg-source checks
		# the tarballs against the .dsc.
		indexed=$(apt-cache showsrc "postgresql-$major" | sed -n 's/^Version: //p' | head -n 1)
		minor=$(echo "$indexed" | sed -n 's/^[0-9]*\.\([0-9]*\)-.*/\1/p')
		rev=${indexed#*-}
		pool=http://deb.debian.org/debian/pool/main/p/postgresql-$major
		found=""
		m=$((minor - 1))
		while [ -n "$minor" ] && [ $m -ge $((minor - 4)) ] && [ $m -ge 0 ]; do
			v=$major.$m-$rev
			if /usr/lib/apt/apt-helper download-file "$pool/postgresql-${major}_$v.dsc" "postgresql-${major}_$v.dsc" >/dev/null 2>&1; then
				found=$v
				break
			fi
			m=$((m - 1))
		done
		[ -n "$found" ] || { echo "no source of postgresql-$major in the pool"; exit 1; }
		echo "build-server: the pool lacks $indexed, which the index names; building $found" >&2
		for f in $(sed -n '/^Files:/,/^[^ ]/s/^ [0-9a-f]* [0-9]* //p' "postgresql-${major}_$found.dsc"); do
			/usr/lib/apt/apt-helper download-file "$pool/$f" "$f" >/dev/null
		done
		dpkg-source --skip-patches -x "postgresql-${major}_$found.dsc"
	fi
	cd "$(find . -mindepth 1 -maxdepth 1 -type d -name "postgresql-$major-*" | head -n 1)"
	./configure --prefix="$prefix" --enable-tap-tests --without-icu --without-readline \
		--with-zlib --with-libxml --disable-nls CFLAGS="-O2" >/dev/null
	# only the programs the suites run: no ecpg, no pgbench, no pg_upgrade ...
	sed -i -E '/^[[:space:]]*(pg_amcheck|pg_archivecleanup|pg_checksums|pg_combinebackup|pg_rewind|pg_test_fsync|pg_test_timing|pg_upgrade|pg_verifybackup|pg_waldump|pg_walsummary|pgbench)[[:space:]]*\\?$/d' src/bin/Makefile
	sed -i -E 's/^(SUBDIRS[[:space:]]*=[[:space:]]*libpq)[[:space:]]+ecpg[[:space:]]*$/\1/' src/interfaces/Makefile
	make -s -j"$jobs"
	make -s -j"$jobs" -C contrib/test_decoding
	make -s install
	make -s -C contrib/test_decoding install
	# PGXS installcheck needs pg_regress and pg_isolation_regress installed
	# (under lib/postgresql: the prefix does not name postgres)
	pgxsdir=$(dirname "$(dirname "$(dirname "$("$prefix/bin/pg_config" --pgxs)")")")
	for f in src/test/regress/pg_regress src/test/isolation/pg_isolation_regress \
		src/test/perl/PostgreSQL/Test/Cluster.pm; do
		test -f "$pgxsdir/$f" || { echo "not installed: $pgxsdir/$f"; exit 1; }
	done
	case $("$prefix/bin/pg_config" --pkglibdir) in
		"$prefix"/*) ;;
		*) echo "the server's libraries are not under $prefix"; exit 1 ;;
	esac
) >"$buildlog" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	tail -n 40 "$buildlog" >&2
	rm -rf "$prefix"
	log "BUILD OF POSTGRESQL $major FAILED (exit $rc); the whole log is $buildlog"
	exit 1
fi
rm -rf "$src"
touch "$prefix/.complete"
log "PostgreSQL $major built in $(( $(date +%s) - start )) s: $("$prefix/bin/pg_config" --version)"
echo "$prefix/bin/pg_config"
