#!/bin/sh
# bench/write.sh: pgconduit.write() against the hand-written upsert.
#
# Starts a throwaway server (initdb into $BENCH_DIR, port $PORT), loads a
# mixed-type table with 100,000 rows, and applies 200,000 OpenCDC records
# (half update existing keys, half create new ones) in batches of 1,000:
#
#   write:    SELECT pgconduit.write(batch)              -- OpenCDC records
#   anchor:   INSERT INTO t SELECT * FROM jsonb_populate_recordset(NULL::t, rows)
#             ON CONFLICT (id) DO UPDATE SET ...         -- the same rows
#
# Both read pre-built batches from a table in one PL/pgSQL loop, so they pay
# the same client and detoasting costs (the OpenCDC batches are larger: they
# carry key and metadata too).  Each side runs $RUNS times on a freshly
# loaded table, alternating; the best time counts.  Prints both times and
# the ratio write/anchor (the bar: at most 1.0).
#
# Environment: PG_CONFIG (pgconduit installed there), BENCH_DIR, PORT,
# RECORDS (default 200000), BATCH (default 1000), RUNS (default 3), KEEP=1
# (leave the server running, e.g. to profile it).
set -eu

PG_CONFIG=${PG_CONFIG:-pg_config}
BIN=$($PG_CONFIG --bindir)
BENCH_DIR=${BENCH_DIR:-/tmp/pgconduit-bench.$$}
PORT=${PORT:-55441}
RECORDS=${RECORDS:-200000}
BATCH=${BATCH:-1000}
RUNS=${RUNS:-3}

# PostgreSQL refuses to run as root: run the server as postgres then.
if [ "$(id -u)" = 0 ]; then
	as() { runuser -u postgres -- "$@"; }
else
	as() { "$@"; }
fi

[ -e "$BENCH_DIR" ] && { echo "bench: $BENCH_DIR exists; remove it or set BENCH_DIR" >&2; exit 1; }
mkdir -p "$BENCH_DIR"
[ "$(id -u)" = 0 ] && chown postgres "$BENCH_DIR"
cd "$BENCH_DIR"
as "$BIN/initdb" -D "$BENCH_DIR/data" -A trust >/dev/null
cat >>"$BENCH_DIR/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$BENCH_DIR'
shared_buffers = 512MB
max_wal_size = 8GB
checkpoint_timeout = 1h
autovacuum = off
synchronous_commit = off
CONF
as "$BIN/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/log" -w start >/dev/null
if [ "${KEEP:-0}" = 1 ]; then
	trap 'echo "bench: server left running in $BENCH_DIR, port $PORT"' EXIT
else
	trap 'as "$BIN/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null; rm -rf "$BENCH_DIR"' EXIT
fi

psql() { as "$BIN/psql" -h "$BENCH_DIR" -p "$PORT" -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "bench: $($BIN/postgres --version), $RECORDS records in batches of $BATCH, best of $RUNS"
psql <<SQL
CREATE EXTENSION pgconduit;
CREATE TABLE t (id bigint PRIMARY KEY, i int, s text, n numeric, ts timestamptz, j jsonb, b boolean);

-- record k (0-based): even k updates existing id k/2+1, odd k creates a new id
CREATE TABLE src AS
SELECT k, CASE WHEN k % 2 = 0 THEN k / 2 + 1 ELSE $RECORDS / 2 + (k + 1) / 2 END::bigint AS id
  FROM generate_series(0, $RECORDS - 1) k;
CREATE TABLE src_rows AS
SELECT k, (id, k, 'text ' || md5(k::text), k * 1.25,
		   '2024-01-01 00:00:00+00'::timestamptz + k * interval '1 second',
		   jsonb_build_object('k', k, 'tags', jsonb_build_array('a', 'b')),
		   k % 3 = 0)::t AS r
  FROM src;

-- the rows the table starts with
CREATE TABLE initial AS
SELECT (id, -1, 'initial', 0, now(), '{}'::jsonb, false)::t AS r
  FROM src WHERE k % 2 = 0;

CREATE TABLE batches (n int PRIMARY KEY, records jsonb, rows jsonb);
INSERT INTO batches
SELECT k / $BATCH,
	   jsonb_agg(jsonb_build_object(
			'position', 'bench/' || k,
			'operation', CASE WHEN k % 2 = 0 THEN 'update' ELSE 'create' END,
			'metadata', jsonb_build_object('table', 'public.t', 'opencdc.collection', 't',
										   'postgres.schema', 'public'),
			'key', jsonb_build_object('id', (r).id),
			'payload', jsonb_build_object('before', NULL, 'after', to_jsonb(r)))
			ORDER BY k),
	   jsonb_agg(to_jsonb(r) ORDER BY k)
  FROM src_rows GROUP BY k / $BATCH;

CREATE FUNCTION run(kind text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	b record;
BEGIN
	t0 := clock_timestamp();
	IF kind = 'write' THEN
		FOR b IN SELECT records FROM batches ORDER BY n LOOP
			PERFORM pgconduit.write(b.records);
		END LOOP;
	ELSE
		FOR b IN SELECT rows FROM batches ORDER BY n LOOP
			INSERT INTO t SELECT * FROM jsonb_populate_recordset(NULL::t, b.rows)
			ON CONFLICT (id) DO UPDATE
			SET i = EXCLUDED.i, s = EXCLUDED.s, n = EXCLUDED.n, ts = EXCLUDED.ts,
				j = EXCLUDED.j, b = EXCLUDED.b;
		END LOOP;
	END IF;
	RETURN extract(epoch FROM clock_timestamp() - t0);
END
\$\$;

-- both sides must leave the same table
INSERT INTO t SELECT (r).* FROM initial;
SELECT run('anchor') \\g /dev/null
CREATE TABLE want AS SELECT * FROM t;
TRUNCATE t;
INSERT INTO t SELECT (r).* FROM initial;
SELECT run('write') \\g /dev/null
DO \$\$
BEGIN
	IF EXISTS (SELECT * FROM want EXCEPT SELECT * FROM t)
	   OR (SELECT count(*) FROM want) <> (SELECT count(*) FROM t) THEN
		RAISE EXCEPTION 'pgconduit.write left another table than the hand-written upsert';
	END IF;
END
\$\$;
VACUUM ANALYZE;
SQL

# one timed run on a freshly loaded table
run() {
	psql -At <<SQL
TRUNCATE t;
INSERT INTO t SELECT (r).* FROM initial;
VACUUM ANALYZE t;
CHECKPOINT;
SELECT run('$1');
SQL
}

best_w=""
best_a=""
i=1
while [ $i -le "$RUNS" ]; do
	a=$(run anchor)
	w=$(run write)
	printf 'bench: run %d: write %.3f s, anchor %.3f s\n' "$i" "$w" "$a"
	best_w=$(echo "$w $best_w" | awk '{ print ($2 == "" || $1 < $2) ? $1 : $2 }')
	best_a=$(echo "$a $best_a" | awk '{ print ($2 == "" || $1 < $2) ? $1 : $2 }')
	i=$((i + 1))
done
ratio=$(echo "$best_w $best_a" | awk '{ printf "%.2f", $1 / $2 }')
printf 'pgconduit.write: %.3f s\nhand-written upsert: %.3f s\nratio: %s (bar: <= 1.0)\n' "$best_w" "$best_a" "$ratio"
