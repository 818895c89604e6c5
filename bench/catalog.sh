#!/usr/bin/env bash
# The catalogue at scale: bulk-loads $ROWS synthetic recordings (and
# ROWS/5 audit records) into a SQLite file and into a PostgreSQL started
# here, then times every lookup the APIs make through the catalog
# packages (bench/catalog: $ROUNDS rounds of $N random existing keys per
# lookup after a warm-up; the medians of the rounds' p50 and p99, the
# rounds' p99 range and the max, in ms), and prints the bytes per recording, the
# load rate, each index's build time and the cost of migration 11's
# indexes to one-by-one ingest.
#
# PostgreSQL keeps its default durability (fsync, synchronous_commit on),
# as SQLite keeps synchronous=FULL, with shared_buffers at a quarter of
# the machine's memory (PostgreSQL's own advice for a dedicated server;
# SHARED_BUFFERS=1GB etc. to choose) and room for the WAL of a bulk load
# (max_wal_size=8GB).
#
# WARM=1 (the default) reads the catalogue's files once before measuring,
# so that the figures are those of a server whose catalogue is in the
# page cache; WARM=0 measures whatever the cache holds (a deep page then
# costs a disk read per row: a campaign's rows lie on as many pages).
#
# Needs: PostgreSQL binaries (initdb, postgres, psql), python3.
# Usage: bench/catalog.sh   (ROWS=N, N=N, ROUNDS=N, INGEST=N, WARM=0|1,
#        LOAD_CACHE_MIB=N: the SQLite load's page cache,
#        BACKENDS="sqlite postgres",
#        KEEP=DIR: keep the catalogues in DIR and reuse them on the next run)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-10000000}
N=${N:-1000}
ROUNDS=${ROUNDS:-3}
INGEST=${INGEST:-1000}
BACKENDS=${BACKENDS:-sqlite postgres}
WARM=${WARM:-1}
SHARED_BUFFERS=${SHARED_BUFFERS:-$(awk '/^MemTotal:/ {printf "%dMB", $2 / 4096}' /proc/meminfo)}
# The SQLite load's page cache: half the machine's memory (the load runs
# before PostgreSQL starts), so that 10 M rows' 6.4 GB stay in it.
LOAD_CACHE_MIB=${LOAD_CACHE_MIB:-$(awk '/^MemTotal:/ {printf "%d", $2 / 2048}' /proc/meminfo)}
export PATH="$PATH:$(go env GOPATH)/bin:/usr/sbin:$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)"
. bench/lib.sh
need initdb postgres psql python3
if [ -n "${KEEP:-}" ]; then
	# Keep the loaded catalogues: loading 10 M rows takes minutes.
	rm -rf "$WORK"
	mkdir -p "$KEEP"
	chmod 755 "$KEEP"
	WORK=$(cd "$KEEP" && pwd)
	cleanup() {
		for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
		wait 2>/dev/null || true
	}
fi

go build -o "$WORK/catbench" ./bench/catalog

# warm DIR|FILE reads it once into the page cache (if WARM=1 and it exists).
warm() {
	[ "$WARM" = 1 ] && [ -e "$1" ] || return 0
	find "$1" -type f -exec cat {} + >/dev/null
}

for b in $BACKENDS; do
	case $b in
	sqlite)
		warm "$WORK/catalog.db"
		"$WORK/catbench" -backend sqlite -dsn "$WORK/catalog.db" -rows "$ROWS" -n "$N" -rounds "$ROUNDS" -ingest "$INGEST" \
			-load-cache-mib "$LOAD_CACHE_MIB"
		;;
	postgres)
		# PostgreSQL, as the postgres user when run as root (it refuses root).
		PGPORT=$(port)
		AS=()
		mkdir -p "$WORK/pg"
		if [ "$(id -u)" -eq 0 ]; then
			PGOWNER=nobody
			id postgres >/dev/null 2>&1 && PGOWNER=postgres
			AS=(runuser -u "$PGOWNER" --)
			chown "$PGOWNER" "$WORK/pg"
		fi
		warm "$WORK/pg/data"
		fresh=false
		if [ ! -d "$WORK/pg/data" ]; then
			"${AS[@]}" initdb -D "$WORK/pg/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
			fresh=true
		fi
		"${AS[@]}" postgres -D "$WORK/pg/data" -p "$PGPORT" -k "$WORK/pg" -c listen_addresses=127.0.0.1 \
			-c shared_buffers="$SHARED_BUFFERS" -c maintenance_work_mem=1GB -c max_wal_size=8GB \
			-c max_connections=100 >"$WORK/pg.log" 2>&1 &
		PIDS+=($!)
		for _ in $(seq 100); do
			"${AS[@]}" psql -h 127.0.0.1 -p "$PGPORT" -U postgres -c 'select 1' >/dev/null 2>&1 && break
			sleep 0.1
		done
		$fresh && "${AS[@]}" psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc 'create database recvault' >/dev/null
		"$WORK/catbench" -backend postgres -dsn "postgres://postgres@127.0.0.1:$PGPORT/recvault?sslmode=disable" \
			-rows "$ROWS" -n "$N" -rounds "$ROUNDS" -ingest "$INGEST"
		kill "${PIDS[-1]}"
		wait "${PIDS[-1]}" 2>/dev/null || true
		;;
	*)
		echo "unknown backend $b" >&2
		exit 1
		;;
	esac
done
