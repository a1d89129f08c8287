#!/bin/sh
# bigtxn.sh: the memory a pipeline needs for one large source transaction,
# against native logical replication, side by side on one throwaway instance.
#
# For each size in SIZES (20,000 then 2,000,000), one transaction inserts
# that many rows of bigint, int, text, numeric, timestamptz, jsonb and boolean
# into a table that a subscription (native) and a pipeline (pgconduit) both
# follow, while the subscription is disabled and the pipeline stopped.  Then
# each in turn, alone, applies it (new processes each time):
# the script samples its processes' /proc/<pid>/status ten times a second
# and prints, per process, VmHWM (the kernel's peak resident set, which also
# counts the pages of shared_buffers the process touched) and the highest
# RssAnon seen (its private memory: what a large transaction could make
# grow), with the time each took and the ratios pgconduit/native.  Memory
# that does not grow from the small transaction to the large one is bounded.
#   native:    the walsender (pgoutput) and the apply worker
#   pgconduit: the walsender (pgconduit_output), the pipeline's worker and
#              its destination session (which applies the rows)
# Both walsenders decode the same WAL and spill the transaction to disk past
# logical_decoding_work_mem (64MB), as the spill figures show.  Both copies
# are compared with the source on their contents.
#
# pgconduit must be installed (make install PG_CONFIG=...).  Runs as root (the
# server then runs as user postgres) or as a user who can run PostgreSQL.
# Environment: PG_CONFIG, SIZES ("20000 2000000"), PORT, TMPDIR.
set -eu

PG_CONFIG=${PG_CONFIG:-pg_config}
command -v "$PG_CONFIG" >/dev/null 2>&1 || PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
bindir=$($PG_CONFIG --bindir)
SIZES=${SIZES:-20000 2000000}

if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
	exec runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" SIZES="$SIZES" PORT="${PORT:-}" \
		TMPDIR="${TMPDIR:-/tmp}" sh "$(readlink -f "$0")"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/pgconduit-bench.XXXXXX")
port=${PORT:-$((20000 + $$ % 20000))}
export PGHOST="$dir" PGPORT="$port"
psql() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
trap 'touch "$dir/stop"; "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM

"$bindir/initdb" -D "$dir/data" -A trust -E UTF8 --locale=C >/dev/null
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
wal_level = logical
shared_preload_libraries = 'pgconduit'
shared_buffers = 256MB
logical_decoding_work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 30min
synchronous_commit = off
CONF
if grep -q output_plugin_libraries "$($PG_CONFIG --sharedir)/postgresql.conf.sample"; then
	echo "output_plugin_libraries = 'pgoutput, test_decoding, pgconduit_output'" >>"$dir/data/postgresql.conf"
fi
"$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

for db in src native pgc; do
	"$bindir/createdb" "$db"
	psql -d "$db" -c "CREATE TABLE big (id bigint PRIMARY KEY, i int, s text, n numeric, ts timestamptz, j jsonb, b boolean)"
done
psql -d src -c "CREATE EXTENSION pgconduit"
psql -d pgc -c "CREATE EXTENSION pgconduit"
psql -d src -c "CREATE PUBLICATION native_pub FOR TABLE big"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
conn="dbname=src host=$dir port=$port"

# both follow the (empty) table, then are stopped
psql -d src -c "SELECT 1 FROM pg_create_logical_replication_slot('native_sub', 'pgoutput')" >/dev/null
psql -d native -c "CREATE SUBSCRIPTION native_sub CONNECTION '$conn' PUBLICATION native_pub WITH (create_slot = false)"
until [ "$(psql -d native -c "SELECT count(*) FILTER (WHERE srsubstate = 'r') FROM pg_subscription_rel")" = 1 ]; do sleep 0.05; done
psql -d src -c "SELECT pgconduit.create_source('s', '{\"table\": \"big\", \"url\": \"$conn\"}')" \
	-c "SELECT pgconduit.create_destination('d', '{\"url\": \"dbname=pgc host=$dir port=$port\"}')" \
	-c "SELECT pgconduit.create_pipeline('p', 's', 'd')" >/dev/null
psql -d src -c "SELECT pgconduit.wait_for_pipeline('p', '1 hour')" | grep -qx t || { echo "pipeline p failed"; exit 1; }
start=$(psql -d src -c "SELECT pg_current_wal_lsn()")
until [ "$(psql -d src -c "SELECT confirmed_flush_lsn >= '$start' FROM pg_replication_slots WHERE slot_name = 'native_sub'")" = t ]; do sleep 0.05; done
psql -d native -c "ALTER SUBSCRIPTION native_sub DISABLE"
psql -d src -c "SELECT pgconduit.stop_pipeline('p')" >/dev/null
until [ "$(psql -d src -c "SELECT count(*) FROM pg_replication_slots WHERE active")" = 0 ]; do sleep 0.1; done

# Sample the status of the processes named in $dir/pids ("label pid" lines,
# read each round) until $dir/stop exists; one "label kB_hwm kB_anon" line
# per process and sample.
sample() {
	while [ ! -e "$dir/stop" ]; do
		while read -r label pid; do
			[ -r "/proc/$pid/status" ] &&
				awk -v l="$label" '/^VmHWM:/ { h = $2 } /^RssAnon:/ { a = $2 } END { if (h != "") print l, h, a }' \
					"/proc/$pid/status" 2>/dev/null
		done <"$dir/pids"
		sleep 0.1
	done >>"$dir/samples"
}
# the peaks of a run, one line per process
peaks() {
	awk '{ if ($2 > h[$1]) h[$1] = $2; if ($3 > a[$1]) a[$1] = $3 }
		END { for (l in h) printf "  %-22s VmHWM %7.1f MB, peak RssAnon %7.1f MB\n", l, h[l] / 1024, a[l] / 1024 }' \
		"$dir/samples" | sort
}
# until the query $2 gives a pid, then note it as $1 in $dir/pids
find_pid() {
	until pid=$(psql -d src -c "$2") && [ -n "$pid" ]; do sleep 0.02; done
	echo "$1 $pid" >>"$dir/pids"
}
# the walsender's spill counters (reset before each run)
spill() {
	psql -d src -c "SELECT pg_size_pretty(spill_bytes) || ' in ' || spill_count || ' spills' FROM pg_stat_replication_slots WHERE slot_name = '$1'"
}
# until the slot $1 has confirmed $target
confirmed() {
	until [ "$(psql -d src -c "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = '$1'")" = t ]; do sleep 0.1; done
}
# the largest RssAnon among the labels matching $1 in the samples
peak_anon() { awk -v l="$1" '$1 ~ l && $3 > m { m = $3 } END { print m + 0 }' "$dir/samples"; }
run_start() { rm -f "$dir/stop" "$dir/samples"; : >"$dir/pids"; sample & sampler=$!; }
run_end() { touch "$dir/stop"; wait "$sampler"; }

next=1
summary=""
for rows in $SIZES; do
	echo "== one transaction of $rows inserted rows"
	before=$(psql -d src -c "SELECT pg_current_wal_lsn()")
	psql -d src -c "INSERT INTO big SELECT g, g % 1000, 'text value ' || g, g * 1.01,
		'2026-01-01'::timestamptz + g * interval '1 s', jsonb_build_object('k', g, 'tag', 'x'), g % 2 = 0
		FROM generate_series($next, $((next + rows - 1))) g"
	next=$((next + rows))
	target=$(psql -d src -c "SELECT pg_current_wal_lsn()")
	echo "$(psql -d src -c "SELECT pg_size_pretty(pg_wal_lsn_diff('$target', '$before'))") of WAL"
	psql -d src -c "SELECT pg_stat_reset_replication_slot(NULL)" >/dev/null

	echo "native:"
	run_start
	t0=$(now)
	psql -d native -c "ALTER SUBSCRIPTION native_sub ENABLE"
	find_pid walsender "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'native_sub' AND active_pid IS NOT NULL"
	find_pid apply_worker "SELECT pid FROM pg_stat_subscription WHERE subname = 'native_sub' AND relid IS NULL AND pid IS NOT NULL"
	confirmed native_sub
	native_t=$(elapsed "$t0" "$(now)")
	run_end
	psql -d native -c "ALTER SUBSCRIPTION native_sub DISABLE"
	echo "  applied in $native_t s; walsender spilled $(spill native_sub)"
	peaks
	native_ws=$(peak_anon walsender) native_ap=$(peak_anon apply_worker)

	echo "pgconduit:"
	run_start
	t0=$(now)
	psql -d src -c "SELECT pgconduit.start_pipeline('p')" >/dev/null
	find_pid walsender "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name = 'pgconduit p'"
	find_pid worker "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgconduit pipeline p'"
	find_pid destination_session "SELECT pid FROM pg_stat_activity WHERE datname = 'pgc' AND application_name = 'pgconduit p' AND backend_type = 'client backend'"
	# a pipeline confirms what its destination has committed; wait_for_pipeline
	# would wait for a marker written now, past the WAL native's apply wrote
	confirmed pgconduit_s
	pgc_t=$(elapsed "$t0" "$(now)")
	run_end
	psql -d src -c "SELECT pgconduit.stop_pipeline('p')" >/dev/null
	echo "  applied in $pgc_t s; walsender spilled $(spill pgconduit_s)"
	peaks
	until [ "$(psql -d src -c "SELECT count(*) FROM pg_replication_slots WHERE active")" = 0 ]; do sleep 0.1; done

	summary="$summary$(printf '%9s rows: time %s, walsender peak RssAnon %s, worker + destination session against the apply worker %s' \
		"$rows" "$(ratio "$pgc_t" "$native_t")" "$(ratio "$(peak_anon walsender)" "$native_ws")" \
		"$(ratio "$(($(peak_anon '^worker') + $(peak_anon destination)))" "$native_ap")")
"
done

sum="SELECT count(*) || ' ' || md5(string_agg(big::text, ',' ORDER BY id)) FROM big"
s=$(psql -d src -c "$sum") bad=0
for db in native pgc; do
	if [ "$(psql -d "$db" -c "$sum")" = "$s" ]; then
		echo "$db: identical to the source"
	else
		echo "$db: DIFFERS from the source"
		bad=1
	fi
done

echo "== ratios pgconduit/native"
printf '%s' "$summary"
exit $bad
