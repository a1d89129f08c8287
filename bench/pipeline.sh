#!/bin/sh
# pipeline.sh: a pgconduit pipeline against native logical replication
# (CREATE PUBLICATION / CREATE SUBSCRIPTION), side by side on one
# throwaway instance, on the same data:
#   1. initial copy of a 1,000,000-row mixed-type table
#   2. apply-only catch-up of 350,000 changes (200,000 inserts in
#      1,000-row transactions, 100,000 updates, 50,000 deletes) made while
#      the pipeline / the subscription was stopped
#   3. latency of single-row inserts: median and p99 of 200
# It prints each figure and pgconduit's ratio to native.  pgconduit must be
# installed (make install).  ROWS=n changes the table size.
set -eu

PG_CONFIG=${PG_CONFIG:-pg_config}
command -v "$PG_CONFIG" >/dev/null 2>&1 || PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
bindir=$($PG_CONFIG --bindir)
ROWS=${ROWS:-1000000}

if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
	exec runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" ROWS="$ROWS" sh "$(readlink -f "$0")"
fi

dir=$(mktemp -d /tmp/pgconduit-bench.XXXXXX)
port=$((20000 + $$ % 20000))
export PGHOST="$dir" PGPORT="$port"
psql() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
trap '"$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

"$bindir/initdb" -D "$dir/data" -A trust >/dev/null
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
max_worker_processes = 20
max_replication_slots = 10
max_wal_senders = 10
CONF
if grep -q output_plugin_libraries "$($PG_CONFIG --sharedir)/postgresql.conf.sample"; then
	echo "output_plugin_libraries = 'pgoutput, test_decoding, pgconduit_output'" >>"$dir/data/postgresql.conf"
fi
"$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

TABLE="CREATE TABLE t (id bigint PRIMARY KEY, i int, s text, n numeric, ts timestamptz, j jsonb, b boolean)"
for db in src native pgc; do
	"$bindir/createdb" "$db"
	psql -d "$db" -c "$TABLE"
done
psql -d pgc -c "CREATE EXTENSION pgconduit"
psql -d src -c "CREATE EXTENSION pgconduit"
psql -d src -c "INSERT INTO t SELECT g, g % 1000, 'text value ' || g, g * 1.01,
	'2026-01-01'::timestamptz + g * interval '1 s', jsonb_build_object('k', g, 'tag', 'x'), g % 2 = 0
	FROM generate_series(1, $ROWS) g" -c "VACUUM ANALYZE t" -c "CHECKPOINT"
psql -d src -c "CREATE PUBLICATION native_pub FOR TABLE t"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
conn="dbname=src host=$dir port=$port"

echo "== 1. initial copy of $ROWS rows"
t0=$(now)
# in one instance the subscription's slot must be made beforehand, or
# CREATE SUBSCRIPTION waits for its own transaction
psql -d src -c "SELECT 1 FROM pg_create_logical_replication_slot('native_sub', 'pgoutput')" >/dev/null
psql -d native -c "CREATE SUBSCRIPTION native_sub CONNECTION '$conn' PUBLICATION native_pub WITH (create_slot = false)"
until [ "$(psql -d native -c "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = 0 ]; do sleep 0.05; done
native1=$(elapsed "$t0" "$(now)")
t0=$(now)
psql -d src -c "SELECT pgconduit.create_source('s', '{\"table\": \"t\", \"url\": \"$conn\"}')" \
	-c "SELECT pgconduit.create_destination('d', '{\"url\": \"dbname=pgc host=$dir port=$port\"}')" \
	-c "SELECT pgconduit.create_pipeline('p', 's', 'd')" >/dev/null
psql -d src -c "SELECT pgconduit.wait_for_pipeline('p', '1 hour')" >/dev/null
pgc1=$(elapsed "$t0" "$(now)")
echo "native $native1 s, pgconduit $pgc1 s, ratio $(ratio "$pgc1" "$native1")"
echo "rows: native $(psql -d native -c 'SELECT count(*) FROM t'), pgconduit $(psql -d pgc -c 'SELECT count(*) FROM t')"

echo "== 2. apply-only catch-up of 350,000 changes"
psql -d native -c "ALTER SUBSCRIPTION native_sub DISABLE"
psql -d src -c "SELECT pgconduit.stop_pipeline('p')" >/dev/null
sleep 1
psql -d src <<SQL
DO \$\$
BEGIN
	FOR b IN 0..199 LOOP
		INSERT INTO t SELECT g, g % 1000, 'new ' || g, g * 1.5, now(), jsonb_build_object('k', g), true
		  FROM generate_series($ROWS + 1 + b * 1000, $ROWS + (b + 1) * 1000) g;
		COMMIT;
	END LOOP;
END
\$\$;
UPDATE t SET i = i + 1, s = s || ' updated' WHERE id <= 100000;
DELETE FROM t WHERE id > 100000 AND id <= 150000;
SQL
target=$(psql -d src -c "SELECT pg_current_wal_lsn()")
caught_up() {
	psql -d src -c "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = '$1'"
}
t0=$(now)
psql -d native -c "ALTER SUBSCRIPTION native_sub ENABLE"
until [ "$(caught_up native_sub)" = t ]; do sleep 0.05; done
native2=$(elapsed "$t0" "$(now)")
t0=$(now)
psql -d src -c "SELECT pgconduit.start_pipeline('p')" >/dev/null
# by the slot, as native: wait_for_pipeline would wait for a marker written
# now, after the WAL that native's apply has just written, and so time the
# decoding of that too
until [ "$(caught_up pgconduit_s)" = t ]; do sleep 0.05; done
pgc2=$(elapsed "$t0" "$(now)")
echo "native $native2 s, pgconduit $pgc2 s, ratio $(ratio "$pgc2" "$native2")"
sum="SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY id)) FROM t"
s=$(psql -d src -c "$sum"); n=$(psql -d native -c "$sum"); p=$(psql -d pgc -c "$sum")
[ "$s" = "$n" ] && echo "native: identical to source" || echo "native: DIFFERS from source"
[ "$s" = "$p" ] && echo "pgconduit: identical to source" || echo "pgconduit: DIFFERS from source"

echo "== 3. latency of 200 single-row inserts"
psql -d pgc -c "CREATE EXTENSION IF NOT EXISTS dblink"
psql -d native -c "CREATE EXTENSION IF NOT EXISTS dblink"
latency() {
	psql -d "$1" <<SQL
CREATE TEMP TABLE lat (ms float8);
DO \$\$
DECLARE t0 timestamptz; rid bigint;
BEGIN
	PERFORM dblink_connect('src', '$conn');
	-- each insert is flushed at commit, as a latency-minded writer has it
	PERFORM dblink_exec('src', 'SET synchronous_commit = on');
	FOR k IN 1..200 LOOP
		rid := $2 + k;
		t0 := clock_timestamp();
		PERFORM dblink_exec('src', format('INSERT INTO t (id, s) VALUES (%s, %L)', rid, 'latency'));
		LOOP
			EXIT WHEN EXISTS (SELECT 1 FROM t WHERE t.id = rid);
			PERFORM pg_sleep(0.0005);
		END LOOP;
		INSERT INTO lat VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
	PERFORM dblink_disconnect('src');
END
\$\$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' ||
	   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2) FROM lat;
SQL
}
set -- $(latency native 900000000)
echo "native: median $1 ms, p99 $2 ms"
set -- $(latency pgc 910000000)
echo "pgconduit: median $1 ms, p99 $2 ms"
