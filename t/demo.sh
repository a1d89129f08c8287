#!/bin/sh
# demo.sh: behind "make demo".  Run as root on a fresh Debian 12 machine, it
# installs what is missing (t/setup.sh: PostgreSQL 15 and its headers, or
# with PG=17/18 that server built into /var/cache/pgconduit), builds and
# installs pgconduit; as a normal user it builds and installs where it may
# write.  Then it starts a throwaway PostgreSQL instance with pgconduit,
# creates a table with rows in database "shop" and a pipeline that carries
# it to database "warehouse", writes to the source while the pipeline runs,
# and prints what arrived and pgconduit.status.  Everything is removed at
# the end (KEEP=1 keeps the instance and prints how to reach it).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

if [ "${PGCONDUIT_DEMO_RUN:-0}" != 1 ]; then
	pgc_prog=demo
	. "$top/t/setup.sh"
	pgc_setup || { echo "demo: cannot run without PostgreSQL (see above)"; exit 1; }
	echo "== building pgconduit against $pgc_server"
	pgc_clean_if_other_server
	make -C "$top" -s PG_CONFIG="$PG_CONFIG" >/dev/null
	if [ -w "$("$PG_CONFIG" --pkglibdir)" ]; then
		make -C "$top" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
	elif [ ! -f "$("$PG_CONFIG" --pkglibdir)/pgconduit.so" ]; then
		echo "demo: cannot install into $("$PG_CONFIG" --pkglibdir); run 'sudo make install' first, or run make demo as root"
		exit 1
	else
		echo "demo: cannot write to $("$PG_CONFIG" --pkglibdir): using the pgconduit installed there"
	fi
	# PostgreSQL refuses to run as root: the demo runs as user postgres
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
		exec runuser -u postgres -- env PGCONDUIT_DEMO_RUN=1 PG_CONFIG="$PG_CONFIG" \
			KEEP="${KEEP:-0}" sh "$top/t/demo.sh"
	fi
	export PGCONDUIT_DEMO_RUN=1
fi
bindir=$($PG_CONFIG --bindir)

dir=$(mktemp -d /tmp/pgconduit-demo.XXXXXX)
port=$((20000 + $$ % 20000))
export PGHOST="$dir" PGPORT="$port"
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
	"$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
[ "${KEEP:-0}" = 1 ] || trap cleanup EXIT

echo "== a throwaway instance in $dir, port $port"
"$bindir/initdb" -D "$dir/data" -A trust >/dev/null
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
wal_level = logical
shared_preload_libraries = 'pgconduit'
CONF
if grep -q output_plugin_libraries "$($PG_CONFIG --sharedir)/postgresql.conf.sample"; then
	echo "output_plugin_libraries = 'pgoutput, test_decoding, pgconduit_output'" >>"$dir/data/postgresql.conf"
fi
"$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

echo "== database shop: table orders with 1000 rows; database warehouse: the same table, empty"
for db in shop warehouse; do
	"$bindir/createdb" "$db"
	psql -d "$db" -c "CREATE EXTENSION pgconduit" \
		-c "CREATE TABLE orders (id bigint PRIMARY KEY, customer text, amount numeric(10,2),
			    placed_at timestamptz DEFAULT now(), items jsonb)"
done
psql -d shop -c "INSERT INTO orders (id, customer, amount, items)
	SELECT g, 'customer ' || (g % 50), g * 1.25, jsonb_build_array(g % 7, g % 11)
	  FROM generate_series(1, 1000) g"

echo "== the pipeline shop.orders -> warehouse.orders"
psql -e -d shop <<'SQL'
SELECT pgconduit.create_source('shop_orders',
	format('{"table": "orders", "url": "dbname=shop host=%s port=%s"}',
		   current_setting('unix_socket_directories'), current_setting('port'))::jsonb);
SELECT pgconduit.create_destination('warehouse',
	format('{"url": "dbname=warehouse host=%s port=%s"}',
		   current_setting('unix_socket_directories'), current_setting('port'))::jsonb);
SELECT pgconduit.create_pipeline('orders_to_warehouse', 'shop_orders', 'warehouse');
SELECT pgconduit.wait_for_pipeline('orders_to_warehouse');
SQL

echo "== writes on the source while the pipeline runs"
psql -e -d shop <<'SQL'
INSERT INTO orders (id, customer, amount, items) VALUES (1001, 'new customer', 99.99, '["gift"]');
UPDATE orders SET amount = amount * 2 WHERE id <= 10;
DELETE FROM orders WHERE id BETWEEN 500 AND 599;
SELECT pgconduit.wait_for_pipeline('orders_to_warehouse');
SQL

echo "== what arrived in warehouse"
psql -d warehouse -c "SELECT count(*) AS rows, sum(amount) AS total FROM orders" \
	-c "SELECT id, customer, amount, items FROM orders WHERE id IN (1, 2, 1001) ORDER BY id"
echo "== and in shop, for comparison"
psql -d shop -c "SELECT count(*) AS rows, sum(amount) AS total FROM orders"
echo "== pgconduit.status"
psql -d shop -x -c "SELECT pipeline, state, phase, snapshot_rows_done, records_read, records_written,
	applied_position, lag_bytes, last_error, pid, slot_name FROM pgconduit.status"

if [ "${KEEP:-0}" = 1 ]; then
	echo "== kept: psql -h $dir -p $port -d shop; stop with: pg_ctl -D $dir/data stop"
fi
