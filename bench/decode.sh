#!/bin/sh
# decode.sh: how fast pgconduit_output decodes WAL, against the anchors.
#
# Starts a throwaway PostgreSQL instance (from $PG_CONFIG, default the
# system's), creates one logical slot per output plugin, then writes one
# workload: ROWS inserts in 1,000-row transactions, UPDATES updates and
# DELETES deletes (also in 1,000-row transactions) on a table of mixed types.
# Every slot then decodes the same WAL with pg_logical_slot_peek_changes()
# (peek_binary_changes() for the binary plugins), best of RUNS, and the
# script prints each time and pgconduit_output's ratio to wal2json (format
# version 2) and to pgoutput (proto_version 1).  Plugins missing from the
# server's library directory are skipped.
#
# Runs as root (the server then runs as user postgres) or as a normal user.
# pgconduit_output must be installed: make install PG_CONFIG=...
#
# Environment: PG_CONFIG, ROWS (200000), UPDATES (100000), DELETES (50000),
# RUNS (3), PORT (first free from 55450), KEEP=1 keeps the instance's
# directory.
set -eu

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
[ -x "$PG_CONFIG" ] || PG_CONFIG=pg_config
ROWS=${ROWS:-200000}
UPDATES=${UPDATES:-100000}
DELETES=${DELETES:-50000}
RUNS=${RUNS:-3}
bindir=$($PG_CONFIG --bindir)
libdir=$($PG_CONFIG --pkglibdir)

if [ ! -f "$libdir/pgconduit_output.so" ]; then
	echo "decode.sh: pgconduit_output is not installed in $libdir" >&2
	echo "decode.sh: run make install PG_CONFIG=$PG_CONFIG first" >&2
	exit 1
fi

if [ "$(id -u)" = 0 ]; then
	runner=postgres
	as_runner() { runuser -u "$runner" -- "$@"; }
else
	runner=$(id -un)
	as_runner() { "$@"; }
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/pgconduit-bench.XXXXXX")
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown "$runner" "$dir"

# the first port from 55450 on which nothing listens
port=${PORT:-}
if [ -z "$port" ]; then
	port=55450
	while [ -e "/tmp/.s.PGSQL.$port" ] || [ -e "$dir/.s.PGSQL.$port" ] ||
		(command -v ss >/dev/null && ss -ltn | grep -q ":$port ")
	do
		port=$((port + 1))
	done
fi

cleanup() {
	as_runner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "decode.sh: instance kept in $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

as_runner "$bindir/initdb" -D "$dir/data" -A trust -E UTF8 --locale=C >/dev/null
plugins="pgconduit_output wal2json pgoutput test_decoding decoderbufs"
available=""
for p in $plugins; do
	[ -f "$libdir/$p.so" ] && available="$available $p"
done
cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = 10
shared_buffers = 256MB
max_wal_size = 4GB
fsync = off
synchronous_commit = off
logical_decoding_work_mem = 64MB
autovacuum = off
CONF
# servers that know the plugin allow-list (Debian 15.19 and later) need it
if grep -q output_plugin_libraries "$($PG_CONFIG --sharedir)/postgresql.conf.sample"; then
	echo "output_plugin_libraries = '$(echo $available | sed 's/ /, /g')'" >>"$dir/data/postgresql.conf"
fi
as_runner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null

psql() { as_runner env PGOPTIONS="-c client_min_messages=warning" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -d postgres "$@"; }

echo "decode.sh: $($bindir/postgres --version), port $port, plugins:$available"

psql <<SQL
CREATE TABLE bench (
	id bigint PRIMARY KEY,
	qty int,
	note text,
	amount numeric(12, 2),
	created timestamptz,
	attrs jsonb,
	active boolean
);
CREATE PUBLICATION bench_pub FOR TABLE bench;
SQL
for p in $available; do
	psql -c "SELECT 1 FROM pg_create_logical_replication_slot('bench_$p', '$p')" >/dev/null 2>"$dir/stderr" ||
		{ cat "$dir/stderr"; exit 1; }
done

# the workload: every statement is one 1,000-row transaction
psql <<SQL
SELECT format('INSERT INTO bench SELECT g, g %% 1000, ''note '' || md5(g::text), g * 1.25,
		  ''2024-01-01 00:00:00+00''::timestamptz + g * interval ''1 second'',
		  jsonb_build_object(''n'', g, ''tag'', ''t'' || (g %% 10), ''ok'', g %% 2 = 0),
		  g %% 3 = 0
		  FROM generate_series(%s, %s) g', s, s + 999)
FROM generate_series(1, $ROWS, 1000) s
\gexec
SELECT format('UPDATE bench SET qty = qty + 1, note = note || ''!'' WHERE id BETWEEN %s AND %s', s, s + 999)
FROM generate_series(1, $UPDATES, 1000) s
\gexec
SELECT format('DELETE FROM bench WHERE id BETWEEN %s AND %s', s, s + 999)
FROM generate_series($ROWS - $DELETES + 1, $ROWS, 1000) s
\gexec
SQL
changes=$((ROWS + UPDATES + DELETES))

# seconds that decoding the whole slot takes once
psql <<'SQL'
CREATE FUNCTION decode_seconds(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	n bigint;
BEGIN
	EXECUTE q INTO n;
	RETURN extract(epoch FROM clock_timestamp() - t0);
END $$;
SQL

query() {
	case $1 in
		pgconduit_output) echo "SELECT count(*) FROM pg_logical_slot_peek_changes('bench_pgconduit_output', NULL, NULL)" ;;
		wal2json) echo "SELECT count(*) FROM pg_logical_slot_peek_changes('bench_wal2json', NULL, NULL, 'format-version', '2')" ;;
		pgoutput) echo "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('bench_pgoutput', NULL, NULL, 'proto_version', '1', 'publication_names', 'bench_pub')" ;;
		test_decoding) echo "SELECT count(*) FROM pg_logical_slot_peek_changes('bench_test_decoding', NULL, NULL)" ;;
		decoderbufs) echo "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('bench_decoderbufs', NULL, NULL)" ;;
	esac
}

echo "decode.sh: $changes changes ($ROWS inserts, $UPDATES updates, $DELETES deletes), best of $RUNS"
# rounds of one decoding per plugin, so that a slow spell of the machine
# hits every plugin alike
psql -c "CREATE TABLE timing (plugin text, seconds float8)"
round=1
while [ $round -le "$RUNS" ]; do
	for p in $available; do
		q=$(query "$p" | sed "s/'/''/g")
		# decoderbufs says INFO on every startup; keep errors only
		psql -c "INSERT INTO timing SELECT '$p', decode_seconds('$q')" 2>"$dir/stderr" ||
			{ cat "$dir/stderr"; exit 1; }
		grep -v '^INFO: ' "$dir/stderr" >&2 || true
	done
	round=$((round + 1))
done
results=""
for p in $available; do
	best=$(psql -At -c "SELECT round(min(seconds)::numeric, 3) FROM timing WHERE plugin = '$p'")
	printf '  %-18s %8s s\n' "$p" "$best"
	results="$results $p=$best"
done

ratio() {
	a=$(echo "$results" | tr ' ' '\n' | sed -n "s/^$1=//p")
	b=$(echo "$results" | tr ' ' '\n' | sed -n "s/^$2=//p")
	if [ -n "$a" ] && [ -n "$b" ]; then
		r=$(awk "BEGIN { printf \"%.2f\", $a / $b }")
		ok=$(awk "BEGIN { print ($a / $b <= $3) ? \"meets\" : \"MISSES\" }")
		echo "  $1 / $2 = $r ($ok the bar of $3)"
	fi
}
echo "decode.sh: ratios"
ratio pgconduit_output wal2json 0.5
ratio pgconduit_output pgoutput 1.0
