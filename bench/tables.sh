#!/bin/sh
# tables.sh: a pgconduit pipeline over a whole schema against native logical
# replication (CREATE PUBLICATION ... FOR TABLES IN SCHEMA public, one
# subscription), side by side on one throwaway instance, on the same data:
# 20 tables of 50,000 rows (bigint key, int, text, numeric, timestamptz,
# jsonb, boolean).
#   1. initial copy of the 20 tables
#   2. apply-only catch-up of 200,000 updates spread over the tables (each
#      transaction updates 100 rows of every table, 2,000 rows), made while
#      the subscription is disabled and the pipelines are stopped
# The contenders, each timed alone while the others are disabled or stopped:
#   native        one publication FOR TABLES IN SCHEMA public, one subscription
#   pgconduit     one pipeline whose source has "tables": "public.*"
#   pgconduit x20 20 one-table pipelines (20 slots, walsenders and workers),
#                 what a schema cost before many-table sources; SINGLES=0 skips it
# Every destination is compared with the source, table by table, on its
# contents (a digest of every row) after each phase.  For the catch-up the
# script also prints the CPU seconds of the walsenders (decoding) and of the
# applying processes (native: the apply worker; pgconduit: the worker and its
# destination session).  It prints each figure and pgconduit's ratio to native.
#
# pgconduit must be installed (make install PG_CONFIG=...).  Runs as root (the
# server then runs as user postgres) or as a user who can run PostgreSQL.
# Environment: PG_CONFIG, TABLES (20), ROWS per table (50000), UPDATES
# (200000), TXN rows per transaction (2000), SINGLES (1), ROUNDS of catch-up
# (2; the order native / pgconduit alternates), PORT, TMPDIR.
set -eu

PG_CONFIG=${PG_CONFIG:-pg_config}
command -v "$PG_CONFIG" >/dev/null 2>&1 || PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
bindir=$($PG_CONFIG --bindir)
TABLES=${TABLES:-20}
ROWS=${ROWS:-50000}
UPDATES=${UPDATES:-200000}
TXN=${TXN:-2000}
SINGLES=${SINGLES:-1}
ROUNDS=${ROUNDS:-2}

if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
	exec runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" TABLES="$TABLES" ROWS="$ROWS" \
		UPDATES="$UPDATES" TXN="$TXN" SINGLES="$SINGLES" ROUNDS="$ROUNDS" PORT="${PORT:-}" TMPDIR="${TMPDIR:-/tmp}" \
		sh "$(readlink -f "$0")"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/pgconduit-bench.XXXXXX")
port=${PORT:-$((20000 + $$ % 20000))}
export PGHOST="$dir" PGPORT="$port"
psql() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
trap '"$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM

"$bindir/initdb" -D "$dir/data" -A trust -E UTF8 --locale=C >/dev/null
# room for 21 pipelines (each a worker, a slot and a walsender) beside the
# subscription's apply worker and its table synchronization workers
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
wal_level = logical
shared_preload_libraries = 'pgconduit'
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
synchronous_commit = off
max_worker_processes = 64
max_replication_slots = 40
max_wal_senders = 40
pgconduit.max_pipelines = 24
CONF
if grep -q output_plugin_libraries "$($PG_CONFIG --sharedir)/postgresql.conf.sample"; then
	echo "output_plugin_libraries = 'pgoutput, test_decoding, pgconduit_output'" >>"$dir/data/postgresql.conf"
fi
"$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

tables=$(seq -f 't%02g' 1 "$TABLES")
dbs="src native pgc"
[ "$SINGLES" = 1 ] && dbs="$dbs pgc20"
for db in $dbs; do
	"$bindir/createdb" "$db"
	for t in $tables; do
		psql -d "$db" -c "CREATE TABLE $t (id bigint PRIMARY KEY, i int, s text, n numeric, ts timestamptz, j jsonb, b boolean)"
	done
	[ "$db" = native ] || psql -d "$db" -c "CREATE EXTENSION pgconduit"
done
for t in $tables; do
	psql -d src -c "INSERT INTO $t SELECT g, g % 1000, 'text value ' || g, g * 1.01,
		'2026-01-01'::timestamptz + g * interval '1 s', jsonb_build_object('k', g, 'tag', '$t'), g % 2 = 0
		FROM generate_series(1, $ROWS) g"
done
psql -d src -c "VACUUM ANALYZE" -c "CHECKPOINT"
psql -d src -c "CREATE PUBLICATION native_pub FOR TABLES IN SCHEMA public"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
conn="dbname=src host=$dir port=$port"
bad=0

# one line per table: its name, row count and the md5 of its rows in key order
digest() {
	for t in $tables; do
		echo "$t $(psql -d "$1" -c "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, ',' ORDER BY id), '')) FROM $t x")"
	done
}
# compare each destination with the source, table by table
verify() {
	digest src >"$dir/src.digest"
	for db in $dbs; do
		[ "$db" = src ] && continue
		digest "$db" >"$dir/$db.digest"
		if cmp -s "$dir/src.digest" "$dir/$db.digest"; then
			echo "$db: every table identical to the source"
		else
			echo "$db: DIFFERS from the source in:" $(diff "$dir/src.digest" "$dir/$db.digest" | sed -n 's/^> \(t[0-9]*\) .*/\1/p')
			bad=1
		fi
	done
}
# CPU seconds (user + system) the processes have used so far
cpu() {
	ticks=$(getconf CLK_TCK)
	for pid in "$@"; do
		[ -r "/proc/$pid/stat" ] && sed 's/^.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }'
	done | awk -v hz="$ticks" '{ s += $1 } END { printf "%.2f", s / hz }'
}
pids() { psql -d src -c "$1" | tr '\n' ' '; }
native_walsender="SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'native_sub' AND active_pid IS NOT NULL"
native_apply="SELECT pid FROM pg_stat_subscription WHERE subname = 'native_sub' AND relid IS NULL AND pid IS NOT NULL"
pgc_walsenders() { echo "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name IN (SELECT 'pgconduit ' || p FROM unnest(string_to_array('$1', ' ')) p)"; }
pgc_appliers() { echo "SELECT pid FROM pg_stat_activity WHERE backend_type <> 'walsender' AND (datname = '$2' OR backend_type LIKE 'pgconduit pipeline %') AND application_name IN (SELECT 'pgconduit ' || p FROM unnest(string_to_array('$1', ' ')) p)"; }

singles=""
for t in $tables; do singles="$singles s_$t"; done
singles=${singles# }

echo "== 1. initial copy of $TABLES tables of $ROWS rows"
t0=$(now)
# in one instance the subscription's slot must be made beforehand, or
# CREATE SUBSCRIPTION waits for its own transaction
psql -d src -c "SELECT 1 FROM pg_create_logical_replication_slot('native_sub', 'pgoutput')" >/dev/null
psql -d native -c "CREATE SUBSCRIPTION native_sub CONNECTION '$conn' PUBLICATION native_pub WITH (create_slot = false)"
until [ "$(psql -d native -c "SELECT count(*) FILTER (WHERE srsubstate = 'r') FROM pg_subscription_rel")" = "$TABLES" ]; do sleep 0.05; done
native1=$(elapsed "$t0" "$(now)")
echo "native: $native1 s"

t0=$(now)
psql -d src -c "SELECT pgconduit.create_source('s', '{\"tables\": \"public.*\", \"url\": \"$conn\"}')" \
	-c "SELECT pgconduit.create_destination('d', '{\"url\": \"dbname=pgc host=$dir port=$port\"}')" \
	-c "SELECT pgconduit.create_pipeline('p', 's', 'd')" >/dev/null
psql -d src -c "SELECT pgconduit.wait_for_pipeline('p', '1 hour')" | grep -qx t || { echo "pipeline p failed"; exit 1; }
pgc1=$(elapsed "$t0" "$(now)")
echo "pgconduit: $pgc1 s, ratio $(ratio "$pgc1" "$native1")"

if [ "$SINGLES" = 1 ]; then
	t0=$(now)
	psql -d src -c "SELECT pgconduit.create_destination('d20', '{\"url\": \"dbname=pgc20 host=$dir port=$port\"}')" >/dev/null
	for t in $tables; do
		psql -d src -c "SELECT pgconduit.create_source('s_$t', '{\"table\": \"public.$t\", \"url\": \"$conn\"}')" \
			-c "SELECT pgconduit.create_pipeline('s_$t', 's_$t', 'd20')" >/dev/null
	done
	psql -d src -c "SELECT bool_and(pgconduit.wait_for_pipeline(p, '1 hour')) FROM unnest(string_to_array('$singles', ' ')) p" |
		grep -qx t || { echo "a one-table pipeline failed"; exit 1; }
	pgc20_1=$(elapsed "$t0" "$(now)")
	echo "pgconduit x20: $pgc20_1 s, ratio $(ratio "$pgc20_1" "$native1")"
fi
verify

echo "== 2. apply-only catch-up of $UPDATES updates in transactions of $TXN rows, $ROUNDS rounds"
# until every slot named in $1 has confirmed the position $2
wait_slots() {
	until [ "$(psql -d src -c "SELECT count(*) = $(echo $1 | wc -w) AND bool_and(confirmed_flush_lsn >= '$2') FROM pg_replication_slots WHERE slot_name = ANY (string_to_array('$1', ' '))")" = t ]; do
		sleep 0.05
	done
}
wait_inactive() {
	until [ "$(psql -d src -c "SELECT count(*) FROM pg_replication_slots WHERE active")" = 0 ]; do sleep 0.1; done
}
pipelines="p"
[ "$SINGLES" = 1 ] && pipelines="p $singles"
all_slots=$(psql -d src -c "SELECT string_agg(slot_name, ' ') FROM pg_replication_slots")
# Every reader runs until its slot has confirmed the same position, then
# stops: so all start a round from the same state, and none has to decode
# the WAL that the others' applying wrote before it.
sync_all() {
	psql -d native -c "ALTER SUBSCRIPTION native_sub ENABLE"
	psql -d src -c "SELECT pgconduit.start_pipeline(p) FROM unnest(string_to_array('$pipelines', ' ')) p" >/dev/null
	wait_slots "$all_slots" "$(psql -d src -c "SELECT pg_current_wal_lsn()")"
	psql -d native -c "ALTER SUBSCRIPTION native_sub DISABLE"
	psql -d src -c "SELECT pgconduit.stop_pipeline(p) FROM unnest(string_to_array('$pipelines', ' ')) p" >/dev/null
	wait_inactive
}
# the workload of round $1: each transaction updates TXN / TABLES rows of
# every table
workload() {
	per=$((TXN / TABLES))
	psql -d src <<SQL
DO \$\$
BEGIN
	FOR b IN 0..$((UPDATES / TXN - 1)) LOOP
		FOR t IN 1..$TABLES LOOP
			EXECUTE format('UPDATE t%s SET i = i + 1, s = s || %L, n = n + 1, j = j || jsonb_build_object(%L, %s)
				WHERE id IN (SELECT (g %% $ROWS) + 1 FROM generate_series(%s, %s) g)',
				to_char(t, 'FM00'), ' r$1u' || b, 'r$1', b, b * $per, b * $per + $per - 1);
		END LOOP;
		COMMIT;
	END LOOP;
END
\$\$;
SQL
}
# enable the subscription, wait until its slot has confirmed everything,
# disable it; sets took, cpu_ws (walsender CPU) and cpu_ap (apply CPU)
catch_up_native() {
	t0=$(now)
	psql -d native -c "ALTER SUBSCRIPTION native_sub ENABLE"
	wait_slots native_sub "$target"
	took=$(elapsed "$t0" "$(now)")
	cpu_ws=$(cpu $(pids "$native_walsender")) cpu_ap=$(cpu $(pids "$native_apply"))
	psql -d native -c "ALTER SUBSCRIPTION native_sub DISABLE"
	wait_inactive
	echo "native: $took s (CPU: walsender $cpu_ws s, apply worker $cpu_ap s)"
}
# start the pipelines $1 (destination database $2, called $3), wait until
# their slots have confirmed everything (a pipeline confirms what its
# destination has committed), stop them; sets took, cpu_ws and cpu_ap
catch_up_pgc() {
	t0=$(now)
	psql -d src -c "SELECT pgconduit.start_pipeline(p) FROM unnest(string_to_array('$1', ' ')) p" >/dev/null
	wait_slots "$(psql -d src -c "SELECT string_agg(c.config ->> 'slot_name', ' ') FROM pgconduit.pipeline p JOIN pgconduit.connector c ON c.name = p.source WHERE p.name = ANY (string_to_array('$1', ' '))")" "$target"
	took=$(elapsed "$t0" "$(now)")
	cpu_ws=$(cpu $(pids "$(pgc_walsenders "$1")")) cpu_ap=$(cpu $(pids "$(pgc_appliers "$1" "$2")"))
	psql -d src -c "SELECT pgconduit.stop_pipeline(p) FROM unnest(string_to_array('$1', ' ')) p" >/dev/null
	wait_inactive
	echo "$3: $took s (CPU: walsender(s) $cpu_ws s, worker(s) and destination session(s) $cpu_ap s)"
}
sum() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }

round=1
pgc2_all=0 native2_all=0 pgc2_ratios=""
while [ $round -le "$ROUNDS" ]; do
	sync_all
	workload $round
	target=$(psql -d src -c "SELECT pg_current_wal_lsn()")
	echo "round $round:" $(psql -d src -c "SELECT pg_size_pretty(pg_wal_lsn_diff('$target', max(confirmed_flush_lsn))) || ' of WAL to apply; the slots start within '
		|| pg_wal_lsn_diff(max(confirmed_flush_lsn), min(confirmed_flush_lsn)) || ' bytes of each other' FROM pg_replication_slots")
	# alternate who goes first, so that neither always meets the same load
	[ $((round % 2)) = 1 ] && { catch_up_native; n_t=$took n_cpu=$(sum "$cpu_ws" "$cpu_ap"); }
	catch_up_pgc p pgc pgconduit
	p_t=$took p_cpu=$(sum "$cpu_ws" "$cpu_ap")
	[ "$SINGLES" = 1 ] && { catch_up_pgc "$singles" pgc20 "pgconduit x20"; s_t=$took s_cpu=$(sum "$cpu_ws" "$cpu_ap"); }
	[ $((round % 2)) = 0 ] && { catch_up_native; n_t=$took n_cpu=$(sum "$cpu_ws" "$cpu_ap"); }
	echo "round $round ratios to native: pgconduit time $(ratio "$p_t" "$n_t"), CPU $(ratio "$p_cpu" "$n_cpu")" \
		$([ "$SINGLES" = 1 ] && echo "; pgconduit x20 time $(ratio "$s_t" "$n_t"), CPU $(ratio "$s_cpu" "$n_cpu")")
	pgc2_all=$(sum "$pgc2_all" "$p_t") native2_all=$(sum "$native2_all" "$n_t")
	pgc2_ratios="$pgc2_ratios $(ratio "$p_t" "$n_t")"
	round=$((round + 1))
done
verify

echo "== ratios pgconduit/native (bar <= 1.0, aim 0.5)"
echo "initial copy: $(ratio "$pgc1" "$native1")"
echo "catch-up: $(ratio "$pgc2_all" "$native2_all") (rounds:$pgc2_ratios)"
exit $bad
