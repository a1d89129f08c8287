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
# carry key and metadata too).  Each run applies every batch both ways, to
# two identical tables, interleaved batch by batch (alternating which goes
# first) so that both meet the same load on a shared machine; the totals of
# the best of $RUNS runs count.  Prints both times and the ratio
# write/anchor (the bar: at most 1.0).
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
CREATE TABLE t_w (id bigint PRIMARY KEY, i int, s text, n numeric, ts timestamptz, j jsonb, b boolean);
CREATE TABLE t_a (LIKE t_w INCLUDING ALL);

-- record k (0-based): even k updates existing id k/2+1, odd k creates a new id
CREATE TABLE src AS
SELECT k, CASE WHEN k % 2 = 0 THEN k / 2 + 1 ELSE $RECORDS / 2 + (k + 1) / 2 END::bigint AS id
  FROM generate_series(0, $RECORDS - 1) k;
CREATE TABLE src_rows AS
SELECT k, (id, k, 'text ' || md5(k::text), k * 1.25,
		   '2024-01-01 00:00:00+00'::timestamptz + k * interval '1 second',
		   jsonb_build_object('k', k, 'tags', jsonb_build_array('a', 'b')),
		   k % 3 = 0)::t_w AS r
  FROM src;

-- the rows the tables start with
CREATE TABLE initial AS
SELECT (id, -1, 'initial', 0, now(), '{}'::jsonb, false)::t_w AS r
  FROM src WHERE k % 2 = 0;

-- batch n: the OpenCDC records for pgconduit.write(), and the same rows as
-- plain objects for jsonb_populate_recordset()
CREATE TABLE batches (n int PRIMARY KEY, records jsonb, rows jsonb);
INSERT INTO batches
SELECT k / $BATCH,
	   jsonb_agg(jsonb_build_object(
			'position', 'bench/' || k,
			'operation', CASE WHEN k % 2 = 0 THEN 'update' ELSE 'create' END,
			'metadata', jsonb_build_object('table', 'public.t_w', 'opencdc.collection', 't_w',
										   'postgres.schema', 'public'),
			'key', jsonb_build_object('id', (r).id),
			'payload', jsonb_build_object('before', NULL, 'after', to_jsonb(r)))
			ORDER BY k),
	   jsonb_agg(to_jsonb(r) ORDER BY k)
  FROM src_rows GROUP BY k / $BATCH;

-- One run: every batch through both, interleaved (alternating which goes
-- first), so that both see the same load; returns both totals in seconds.
CREATE FUNCTION run(OUT write_s float8, OUT anchor_s float8) LANGUAGE plpgsql AS \$\$
DECLARE
	b record;
	t0 timestamptz;
	w interval := '0';
	a interval := '0';
	i int := 0;
BEGIN
	FOR b IN SELECT records, rows FROM batches ORDER BY n LOOP
		FOR side IN 0..1 LOOP
			t0 := clock_timestamp();
			IF (side + i) % 2 = 0 THEN
				PERFORM pgconduit.write(b.records);
				w := w + (clock_timestamp() - t0);
			ELSE
				INSERT INTO t_a SELECT * FROM jsonb_populate_recordset(NULL::t_a, b.rows)
				ON CONFLICT (id) DO UPDATE
				SET i = EXCLUDED.i, s = EXCLUDED.s, n = EXCLUDED.n, ts = EXCLUDED.ts,
					j = EXCLUDED.j, b = EXCLUDED.b;
				a := a + (clock_timestamp() - t0);
			END IF;
		END LOOP;
		i := i + 1;
	END LOOP;
	write_s := extract(epoch FROM w);
	anchor_s := extract(epoch FROM a);
END
\$\$;
SQL

# one timed run on freshly loaded tables
run() {
	psql -At -F ' ' <<SQL
TRUNCATE t_w, t_a;
INSERT INTO t_w SELECT (r).* FROM initial;
INSERT INTO t_a SELECT (r).* FROM initial;
VACUUM ANALYZE t_w, t_a;
CHECKPOINT;
SELECT * FROM run();
SQL
}

best_w=""
best_a=""
i=1
while [ $i -le "$RUNS" ]; do
	set -- $(run)
	w=$1
	a=$2
	printf 'bench: run %d: write %.3f s, anchor %.3f s\n' "$i" "$w" "$a"
	best_w=$(echo "$w $best_w" | awk '{ print ($2 == "" || $1 < $2) ? $1 : $2 }')
	best_a=$(echo "$a $best_a" | awk '{ print ($2 == "" || $1 < $2) ? $1 : $2 }')
	i=$((i + 1))
done

# both must have left the same table
psql -At <<SQL | grep -qx 0 || { echo "bench: pgconduit.write left another table than the hand-written upsert" >&2; exit 1; }
SELECT count(*) FROM ((TABLE t_w EXCEPT TABLE t_a) UNION ALL (TABLE t_a EXCEPT TABLE t_w)) d;
SQL

ratio=$(echo "$best_w $best_a" | awk '{ printf "%.2f", $1 / $2 }')
printf 'pgconduit.write: %.3f s\nhand-written upsert: %.3f s\nratio: %s (bar: <= 1.0)\n' "$best_w" "$best_a" "$ratio"
