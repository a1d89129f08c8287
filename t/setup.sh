# setup.sh: sourced by run-tests.sh and demo.sh.  Chooses the PostgreSQL
# server to build and test against, and installs what a fresh Debian 12
# machine lacks for it when run as root (as a normal user it names what is
# missing and stops).
#
# In:  PG (15, 17 or 18; default 15) and PG_CONFIG (another server of the
#      same kind, e.g. a relocated copy), $top (the source tree).
# Out: PG_CONFIG exported, PATH starting with that server's bindir,
#      pgc_server ("PostgreSQL 17.11 in /var/cache/pgconduit/pg17").
#
# PostgreSQL 15 comes from Debian's packages; 17 and 18, which Debian 12
# does not ship, are built once from Debian's source packages into
# /var/cache/pgconduit by t/build-server.sh.

pgc_log() { echo "${pgc_prog:-setup}: $*"; }

# pgc_need FILE PACKAGE: add PACKAGE to $need when FILE does not exist
pgc_need() {
	[ -e "$1" ] && return 0
	pgc_missing="$pgc_missing $1"
	case " $need " in *" $2 "*) ;; *) need="$need $2" ;; esac
}

pgc_install() {
	[ -n "$need" ] || return 0
	if [ "$(id -u)" != 0 ]; then
		pgc_log "missing:$pgc_missing"
		pgc_log "run as root to install them (packages:$need), or install them yourself"
		return 1
	fi
	pgc_log "installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -qq && apt-get install -y -qq $need >/dev/null; } || {
		pgc_log "could not install:$need"
		return 1
	}
	need=""
	pgc_missing=""
}

pgc_setup() {
	need=""
	pgc_missing=""
	pg=${PG:-15}
	# tools of every build, whatever the server
	for pair in gcc:gcc make:make rsync:rsync perl:perl runuser:util-linux; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || { pgc_missing="$pgc_missing ${pair%%:*}"; need="$need ${pair#*:}"; }
	done
	perl -MIPC::Run -e 1 2>/dev/null || { pgc_missing="$pgc_missing IPC::Run"; need="$need libipc-run-perl"; }
	case $pg in
		15)
			# Debian's packages, or a copy of them named by PG_CONFIG
			if [ -z "${PG_CONFIG:-}" ]; then
				PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
				pgc_need "$PG_CONFIG" postgresql-15
				pgc_need "$PG_CONFIG" postgresql-server-dev-15
				pgc_install || return 1
			elif [ ! -x "$PG_CONFIG" ]; then
				pgc_log "PG_CONFIG=$PG_CONFIG: no such program"
				return 1
			fi
			;;
		17 | 18)
			pgc_install || return 1
			PG_CONFIG=$(sh "$top/t/build-server.sh" "$pg" | tail -n 1)
			if [ ! -x "$PG_CONFIG" ]; then
				pgc_log "no PostgreSQL $pg to test against: its build failed (see above)"
				return 1
			fi
			;;
		*)
			pgc_log "PG=$pg: the supported versions are 15, 17 and 18"
			return 1
			;;
	esac
	export PG_CONFIG

	# What the build and the suites need of the server, file by file.  For
	# Debian's own packages each file names the package that ships it.
	v=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
	pkglib=$("$PG_CONFIG" --pkglibdir)
	pgxs=$("$PG_CONFIG" --pgxs)
	pgxsdir=${pgxs%/src/makefiles/pgxs.mk}
	pgc_need "$("$PG_CONFIG" --bindir)/postgres" "postgresql-$v"
	pgc_need "$pkglib/test_decoding.so" "postgresql-$v"
	pgc_need "$("$PG_CONFIG" --includedir-server)/postgres.h" "postgresql-server-dev-$v"
	pgc_need "$("$PG_CONFIG" --includedir)/libpq-fe.h" libpq-dev
	pgc_need "$pgxs" "postgresql-client-$v"
	pgc_need "$pgxsdir/src/test/regress/pg_regress" "postgresql-client-$v"
	pgc_need "$pgxsdir/src/test/isolation/pg_isolation_regress" "postgresql-client-$v"
	pgc_need "$pgxsdir/src/test/perl/PostgreSQL/Test/Cluster.pm" "postgresql-client-$v"
	# a server built with LLVM makes PGXS compile bitcode with its clang
	if grep -q '^with_llvm *= *yes' "$pgxsdir/src/Makefile.global" 2>/dev/null; then
		clang=$(sed -n 's/^CLANG *= *//p' "$pgxsdir/src/Makefile.global")
		pgc_need "$clang" "$(basename "$clang")"
	fi
	case $PG_CONFIG in
		/usr/lib/postgresql/*) pgc_install || return 1 ;;
		*)
			if [ -n "$need" ]; then
				pgc_log "$PG_CONFIG lacks:$pgc_missing"
				return 1
			fi
			;;
	esac

	PATH="$("$PG_CONFIG" --bindir):$PATH"
	export PATH
	pgc_server="$("$PG_CONFIG" --version) in $("$PG_CONFIG" --bindir | sed 's,/bin$,,')"
	return 0
}

# pgc_clean_if_other_server: objects built against another server (make
# test, then make test PG=17) would be linked as they are; clean first.
# The server of the last build is kept in .build-server.
pgc_clean_if_other_server() {
	stamp="$top/.build-server"
	this="$PG_CONFIG $("$PG_CONFIG" --version)"
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$this" ]; then
		make -C "$top" -s PG_CONFIG="$PG_CONFIG" clean >/dev/null 2>&1
		echo "$this" >"$stamp"
	fi
}
