#!/bin/sh
# run-tests.sh: the one test command behind "make test".
#
# Run as root on a fresh Debian 12 machine, it installs what is missing
# (PostgreSQL 15, its server headers, IPC::Run for the TAP tests; see
# t/setup.sh), or with PG=17 or PG=18 builds that server once into
# /var/cache/pgconduit (t/build-server.sh), builds and installs pgconduit,
# then runs every suite -- pg_regress, isolation, TAP --
# as the unprivileged user "postgres" in a scratch copy of the tree, since
# PostgreSQL refuses to run as root.  Run as a normal user with the packages
# present, it builds, installs (where it may write, or through sudo -n) and
# runs the suites as that user.
#
# It ends with one line: "N passed, N failed".
#
# Environment:
#   PG       the server: 15 (Debian's packages, default), 17 or 18
#   PG_CONFIG  with PG=15: another copy of PostgreSQL 15 to test against
#   DEB=1    build the Debian package (t/build-deb.sh), install it and test
#            it instead of "make install"; DEB=installed tests the package
#            already installed (debian/tests)
#   SUITES   which suites to run (default "regress isolation tap")
#   REGRESS  regression tests to run (default: all of sql/)
#   ISOLATION, PROVE_TESTS  likewise for specs/ and t/
#   KEEP=1   keep the scratch copy and print its path
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
SUITES=${SUITES:-regress isolation tap}

log() { echo "run-tests: $*"; }

# 1. The server, and what a fresh machine lacks for it.
cd "$top" || exit 1
pgc_prog=run-tests
if [ -n "${DEB:-}" ] && [ "${DEB:-}" != 0 ]; then
	# the package goes where Debian's PostgreSQL is, whatever PG_CONFIG says
	unset PG_CONFIG
	if [ "$DEB" = installed ]; then
		PG_CONFIG=/usr/lib/postgresql/${PG:-15}/bin/pg_config
		export PG_CONFIG
	elif [ "${PG:-15}" != 15 ]; then
		log "DEB=1 builds the package for Debian's PostgreSQL 15; PG=$PG has no Debian package here"
		echo "0 passed, 1 failed"
		exit 1
	fi
	PG=15
fi
. "$top/t/setup.sh"
if ! pgc_setup; then
	log "cannot test: no usable PostgreSQL ${PG:-15} (see above)"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null; then
	# Debian starts a cluster on install; the suites start their own.
	pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
fi

# 2. Build and install, or install the Debian package (DEB=1), or test the
# package already installed (DEB=installed).
if [ "${DEB:-0}" = 1 ]; then
	sh "$top/t/build-deb.sh" install || {
		log "the Debian package did not build or install"
		echo "0 passed, 1 failed"
		exit 1
	}
elif [ "${DEB:-0}" = installed ]; then
	lib="$($PG_CONFIG --pkglibdir)/pgconduit.so"
	if ! dpkg -S "$lib" >/dev/null 2>&1; then
		log "DEB=installed: $lib is not from a Debian package"
		echo "0 passed, 1 failed"
		exit 1
	fi
	log "testing the installed package $(dpkg -S "$lib" | cut -d: -f1)"
else
	log "building with $PG_CONFIG ($($PG_CONFIG --version))"
	pgc_clean_if_other_server
	make -s PG_CONFIG="$PG_CONFIG" >/tmp/pgconduit-build.$$ 2>&1 || {
		cat /tmp/pgconduit-build.$$
		rm -f /tmp/pgconduit-build.$$
		log "build failed"
		echo "0 passed, 1 failed"
		exit 1
	}
	grep -i 'warning' /tmp/pgconduit-build.$$
	rm -f /tmp/pgconduit-build.$$
	if [ -w "$($PG_CONFIG --pkglibdir)" ]; then
		make -s PG_CONFIG="$PG_CONFIG" install >/dev/null || exit 1
	else
		sudo -n make -s PG_CONFIG="$PG_CONFIG" install >/dev/null || {
			log "cannot write to $($PG_CONFIG --pkglibdir): run as root, or install pgconduit first with sudo make install"
			exit 1
		}
	fi
fi
log "testing against $pgc_server"

# 3. A scratch copy owned by the user that runs the servers.
if [ "$(id -u)" = 0 ]; then
	runner=postgres
	id "$runner" >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
else
	runner=$(id -un)
fi
work=$(mktemp -d /tmp/pgconduit-test.XXXXXX)
chmod 755 "$work"
rsync -a --exclude .git --exclude tmp_test --exclude results --exclude log "$top/" "$work/"
# The released 0.1 from git history, for the upgrade test (t/010_upgrade.pl):
# the tree of the commit before the one that made the extension 0.2
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	bump=$(git -C "$top" log --format=%H -n 1 -G"^default_version = '0.2'" -- pgconduit.control)
	if [ -n "$bump" ]; then
		mkdir -p "$work/old/0.1"
		git -C "$top" archive "$bump^" | tar -x -C "$work/old/0.1"
	fi
fi
[ "$(id -u)" = 0 ] && chown -R "$runner" "$work"

as_runner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$runner" -- env PATH="$PATH" "$@"
	else
		"$@"
	fi
}

passed=0
failed=0
status=0

# pg_regress and pg_isolation_regress print "test NAME ... ok" per test
# (15), or "ok N - NAME" and "not ok N - NAME" (16 and later)
count_pg_regress() {
	p=$(grep -Ec '^(test| ) .* \.\.\. ok|^ok [0-9]+ ' "$1")
	f=$(grep -Ec '\.\.\. FAILED|\.\.\. failed|^not ok [0-9]+ ' "$1")
	passed=$((passed + p))
	failed=$((failed + f))
	# a run that stopped short (a missing expected file, a crash) failed
	# even when no test says so
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		failed=$((failed + 1))
	fi
}

for suite in $SUITES; do
	out="$work/$suite.log"
	case $suite in
		regress)
			[ -n "${REGRESS:-}" ] && set -- "REGRESS=$REGRESS" || set --
			log "pg_regress"
			as_runner make -C "$work" -s PG_CONFIG="$PG_CONFIG" installcheck-regress "$@" >"$out" 2>&1
			rc=$?
			cat "$out"
			count_pg_regress "$out" $rc
			if [ $rc -ne 0 ]; then
				status=1
				[ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
			fi
			;;
		isolation)
			[ -n "${ISOLATION:-}" ] && set -- "ISOLATION=$ISOLATION" || set --
			ls "$work"/specs/*.spec >/dev/null 2>&1 || continue
			log "isolation"
			as_runner make -C "$work" -s PG_CONFIG="$PG_CONFIG" installcheck-isolation "$@" >"$out" 2>&1
			rc=$?
			cat "$out"
			count_pg_regress "$out" $rc
			if [ $rc -ne 0 ]; then
				status=1
				[ -f "$work/output_iso/regression.diffs" ] && cat "$work/output_iso/regression.diffs"
			fi
			;;
		tap)
			[ -n "${PROVE_TESTS:-}" ] && set -- "PROVE_TESTS=$PROVE_TESTS" || set --
			ls "$work"/t/*.pl >/dev/null 2>&1 || continue
			log "TAP"
			as_runner make -C "$work" -s PG_CONFIG="$PG_CONFIG" installcheck-tap "$@" >"$out" 2>&1
			rc=$?
			cat "$out"
			p=$(grep -Ec '^t/.*\.pl \.+ ok' "$out")
			f=$(grep -Ec '^t/.*\.pl \.+ (Dubious|Failed|skipped)|^t/.*\.pl \.+ *$' "$out")
			passed=$((passed + p))
			failed=$((failed + f))
			if [ $rc -ne 0 ]; then
				status=1
				[ "$f" -eq 0 ] && failed=$((failed + 1))
				for l in "$work"/tmp_check/log/regress_log_*; do
					[ -f "$l" ] && { echo "== $l"; tail -n 60 "$l"; }
				done
			fi
			;;
		*)
			log "unknown suite $suite"
			status=1
			;;
	esac
done

if [ "${KEEP:-0}" = 1 ] || [ $status -ne 0 ]; then
	log "scratch copy kept in $work"
else
	rm -rf "$work"
fi
log "tested $pgc_server"
echo "$passed passed, $failed failed"
exit $status
