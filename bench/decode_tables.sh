#!/bin/sh
# decode_tables.sh: what decoding costs a source of many tables, one slot
# for all of them against one slot per table, with pgconduit_output.
#
# Starts a throwaway PostgreSQL instance (from $PG_CONFIG, default the
# system's), makes TABLES tables, one publication of all of them and
# TABLES + 1 logical slots of pgconduit_output, then writes one workload
# spread over the tables: ROWS inserts and UPDATES updates, in transactions
# of 1,000 rows that each touch every table.  Every contender then decodes
# the same WAL with pg_logical_slot_peek_changes(), in rounds (best of RUNS):
#   (a) one slot selecting every table by "table_oids";
#   (b) TABLES slots, each selecting one table by "table_oids", one after
#       the other: their total time (TABLES walsenders decode the WAL as
#       many times);
#   (c) one slot selecting every table by "publication_names";
#   (d) one slot selecting every table by "follow_tables" (a pattern);
#   (e) one slot selecting no table ("exclude_oids" of all of them): what
#       decoding the WAL and skipping every change costs, the floor that
#       each slot of (b) pays.
# It prints each wall-clock time and the CPU time of the decoding backend
# (steadier on a shared machine), (b) / (a) (what one many-table source
# saves), and (c) / (a) and (d) / (a) (which way of selecting is cheaper).
#
# Runs as root (the server then runs as user postgres) or as a normal user.
# pgconduit_output must be installed: make install PG_CONFIG=...
#
# Environment: PG_CONFIG, TABLES (20), ROWS (200000), UPDATES (100000),
# RUNS (3), PORT (first free from 55470), KEEP=1 keeps the instance's
# directory.
set -eu

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
[ -x "$PG_CONFIG" ] || PG_CONFIG=pg_config
TABLES=${TABLES:-20}
ROWS=${ROWS:-200000}
UPDATES=${UPDATES:-100000}
RUNS=${RUNS:-3}
bindir=$($PG_CONFIG --bindir)
libdir=$($PG_CONFIG --pkglibdir)

if [ ! -f "$libdir/pgconduit_output.so" ]; then
	echo "decode_tables.sh: pgconduit_output is not installed in $libdir" >&2
	echo "decode_tables.sh: run make install PG_CONFIG=$PG_CONFIG first" >&2
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

# the first port from 55470 on which nothing listens
port=${PORT:-}
if [ -z "$port" ]; then
	port=55470
	while [ -e "/tmp/.s.PGSQL.$port" ] || [ -e "$dir/.s.PGSQL.$port" ] ||
		(command -v ss >/dev/null && ss -ltn | grep -q ":$port ")
	do
		port=$((port + 1))
	done
fi

cleanup() {
	as_runner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "decode_tables.sh: instance kept in $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

as_runner "$bindir/initdb" -D "$dir/data" -A trust -E UTF8 --locale=C >/dev/null
cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = $((TABLES + 5))
shared_buffers = 256MB
max_wal_size = 4GB
fsync = off
synchronous_commit = off
logical_decoding_work_mem = 64MB
autovacuum = off
CONF
# servers that know the plugin allow-list (Debian 15.19 and later) need it
if grep -q output_plugin_libraries "$($PG_CONFIG --sharedir)/postgresql.conf.sample"; then
	echo "output_plugin_libraries = 'pgconduit_output'" >>"$dir/data/postgresql.conf"
fi
as_runner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null

psql() { as_runner env PGOPTIONS="-c client_min_messages=warning" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -d postgres "$@"; }

echo "decode_tables.sh: $($bindir/postgres --version), port $port, $TABLES tables"

psql >/dev/null <<SQL
SELECT format('CREATE TABLE bt_%s (
	id bigint PRIMARY KEY,
	qty int,
	note text,
	amount numeric(12, 2),
	created timestamptz,
	attrs jsonb,
	active boolean)', lpad(t::text, 2, '0'))
FROM generate_series(1, $TABLES) t
\gexec
SELECT 'CREATE PUBLICATION bt_pub FOR TABLE ' ||
	string_agg(format('bt_%s', lpad(t::text, 2, '0')), ', ')
FROM generate_series(1, $TABLES) t
\gexec
SELECT count(*) FROM pg_create_logical_replication_slot('bt_all', 'pgconduit_output');
SELECT count(*)
  FROM generate_series(1, $TABLES) t,
	   LATERAL pg_create_logical_replication_slot(format('bt_one_%s', lpad(t::text, 2, '0')),
												  'pgconduit_output');
SQL

# the workload: every transaction is 1,000 rows, spread over every table
per=$((1000 / TABLES))
psql <<SQL
SELECT format('BEGIN; %s COMMIT;', string_agg(format(
	'INSERT INTO bt_%s SELECT g, g %% 1000, ''note '' || md5(g::text), g * 1.25,
	  ''2024-01-01 00:00:00+00''::timestamptz + g * interval ''1 second'',
	  jsonb_build_object(''n'', g, ''tag'', ''t'' || (g %% 10), ''ok'', g %% 2 = 0),
	  g %% 3 = 0
	  FROM generate_series(%s, %s) g;', lpad(t::text, 2, '0'), s, s + $per - 1), ' '))
FROM generate_series(1, $ROWS / $TABLES, $per) s, generate_series(1, $TABLES) t
GROUP BY s ORDER BY s
\gexec
SELECT format('BEGIN; %s COMMIT;', string_agg(format(
	'UPDATE bt_%s SET qty = qty + 1, note = note || ''!'' WHERE id BETWEEN %s AND %s;',
	lpad(t::text, 2, '0'), s, s + $per - 1), ' '))
FROM generate_series(1, $UPDATES / $TABLES, $per) s, generate_series(1, $TABLES) t
GROUP BY s ORDER BY s
\gexec
SQL
changes=$((ROWS + UPDATES))

# what decoding a slot once takes: wall-clock seconds, and CPU seconds of
# the backend doing it (user + system, from /proc/self/stat), which other
# work on a shared machine does not inflate; and the records sent
hz=$(getconf CLK_TCK)
psql <<SQL
CREATE TABLE timing (contender text, round int, seconds float8, cpu float8, records bigint);
CREATE FUNCTION cpu_seconds() RETURNS float8 LANGUAGE sql AS \$\$
	SELECT (f[12]::float8 + f[13]::float8) / $hz
	  FROM regexp_split_to_array(substring(pg_read_file('/proc/self/stat') from '\\) (.*)\$'), ' ') f
\$\$;
CREATE FUNCTION decode_seconds(slot text, VARIADIC options text[],
							   OUT seconds float8, OUT cpu float8, OUT records bigint)
LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz := clock_timestamp();
	c0 float8 := cpu_seconds();
BEGIN
	SELECT count(*) INTO records
	  FROM pg_logical_slot_peek_changes(slot, NULL, NULL, VARIADIC options);
	seconds := extract(epoch FROM clock_timestamp() - t0);
	cpu := cpu_seconds() - c0;
END \$\$;
SQL

all_oids=$(psql -At -c "SELECT string_agg(oid::text, ',' ORDER BY relname) FROM pg_class WHERE relname LIKE 'bt\\_%' AND relkind = 'r'")

echo "decode_tables.sh: $changes changes over $TABLES tables, best of $RUNS"
# rounds of every contender, so that a slow spell of the machine hits all
round=1
while [ $round -le "$RUNS" ]; do
	psql <<SQL
INSERT INTO timing SELECT 'a', $round, * FROM decode_seconds('bt_all', 'table_oids', '$all_oids');
INSERT INTO timing
SELECT 'b', $round, d.*
  FROM generate_series(1, $TABLES) t,
	   LATERAL decode_seconds(format('bt_one_%s', lpad(t::text, 2, '0')), 'table_oids',
							  format('bt_%s', lpad(t::text, 2, '0'))::regclass::oid::text) d;
INSERT INTO timing SELECT 'c', $round, * FROM decode_seconds('bt_all', 'publication_names', 'bt_pub');
INSERT INTO timing SELECT 'd', $round, * FROM decode_seconds('bt_all', 'follow_tables', 'public.bt_*');
INSERT INTO timing SELECT 'e', $round, * FROM decode_seconds('bt_all', 'exclude_oids', '$all_oids');
SQL
	round=$((round + 1))
done

# the best round of each contender (b: the sum of its slots per round)
psql -At -F ' ' <<'SQL' >"$dir/best"
SELECT contender, round(min(seconds)::numeric, 3), round(min(cpu)::numeric, 2), min(records)
  FROM (SELECT contender, round, sum(seconds) AS seconds, sum(cpu) AS cpu,
			   sum(records) AS records
		  FROM timing GROUP BY contender, round) r
 GROUP BY contender ORDER BY contender;
SQL
printf '  %-49s %9s %9s %9s\n' "" "wall s" "CPU s" "records"
while read -r c s cpu n; do
	case $c in
		a) what="one slot, table_oids of $TABLES tables" ;;
		b) what="$TABLES slots, table_oids of one table each" ;;
		c) what="one slot, publication_names (1 publication)" ;;
		d) what="one slot, follow_tables (1 pattern)" ;;
		e) what="one slot, no table (exclude_oids of all)" ;;
	esac
	printf '  (%s) %-45s %9s %9s %9s\n' "$c" "$what" "$s" "$cpu" "$n"
done <"$dir/best"

# ratio of two contenders' best wall-clock and CPU times
ratio() {
	w=$(awk -v x="$1" -v y="$2" '$1 == x { a = $2; c = $3 } $1 == y { b = $2; d = $3 }
		END { printf "%.2f (wall), %.2f (CPU)", a / b, c / d }' "$dir/best")
	echo "  ($1) / ($2) = $w  $3"
}
echo "decode_tables.sh: ratios"
ratio b a "what $TABLES one-table sources cost against one $TABLES-table source"
ratio c a "publication_names against table_oids"
ratio d a "follow_tables against table_oids"
ratio e a "decoding WAL and skipping every change against sending every change"
