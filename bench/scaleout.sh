#!/usr/bin/env bash
# Serve-path cost of the scale-out backends: the same downloads against the
# embedded default (SQLite + local directory) and against PostgreSQL +
# versitygw (S3), side by side in one run, and their ratio.
#
#   small: a 100 KB recording, original format (one request = session
#          check, catalogue lookup, durable audit record, blob open, body)
#   large: a 9.6 MB recording, original format (passthrough throughput)
#
# Both servers run on this machine with the same flags; PostgreSQL keeps
# its default durability (fsync, synchronous_commit on), as SQLite keeps
# synchronous=FULL. The load is wrk (2 threads, $CONNS connections,
# $SECS s per run, a bearer token), in $ROUNDS interleaved rounds; the
# medians are printed.
#
# Needs: PostgreSQL binaries (initdb, postgres), versitygw
# (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0), wrk, sox,
# curl. Usage: bench/scaleout.sh   (ROUNDS=N, SECS=N, CONNS=N)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-8}
CONNS=${CONNS:-64}
export PATH="$PATH:$(go env GOPATH)/bin:/usr/sbin:$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)"
. bench/lib.sh
need initdb postgres versitygw wrk sox curl



go build -o "$WORK/recvault" ./cmd/recvault
RV="$WORK/recvault"

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
"${AS[@]}" initdb -D "$WORK/pg/data" -A trust -U postgres >/dev/null
"${AS[@]}" postgres -D "$WORK/pg/data" -p "$PGPORT" -k "$WORK/pg" -c listen_addresses=127.0.0.1 \
	-c max_connections=200 >"$WORK/pg.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	"${AS[@]}" psql -h 127.0.0.1 -p "$PGPORT" -U postgres -c 'select 1' >/dev/null 2>&1 && break
	sleep 0.1
done
"${AS[@]}" psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc 'create database recvault' >/dev/null

# versitygw with one bucket (a top-level folder of its directory).
S3PORT=$(port)
mkdir -p "$WORK/s3/recvault"
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-key
versitygw --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --port "127.0.0.1:$S3PORT" --keep-alive --quiet \
	posix "$WORK/s3" >"$WORK/s3.log" 2>&1 &
PIDS+=($!)
sleep 0.5

CATALOG="postgres://postgres@127.0.0.1:$PGPORT/recvault?sslmode=disable"
BLOBS="s3://recvault?endpoint=http://127.0.0.1:$S3PORT&region=us-east-1"
sox -n -r 8000 -c 1 -b 16 "$WORK/small.wav" synth 6.25 sine 440 vol 0.3
sox -n -r 8000 -c 1 -b 16 "$WORK/large.wav" synth 600 sine 440 vol 0.3
declare -A URL TOKEN SMALL LARGE
for mode in embedded remote; do
	if [ $mode = embedded ]; then
		STORE=(--data "$WORK/data")
	else
		STORE=(--catalog "$CATALOG" --blobs "$BLOBS")
	fi
	serve_store $mode "$RV" "${STORE[@]}"
done

# media MODE SIZE prints the media URL of MODE's SIZE recording.
media() {
	local id
	if [ "$2" = small ]; then id=${SMALL[$1]}; else id=${LARGE[$1]}; fi
	echo "${URL[$1]}/api/v1/recordings/$id/media"
}

declare -A RPS MBS
for r in $(seq "$ROUNDS"); do
	for size in small large; do
		for mode in embedded remote; do
			measure "$r" $size $mode "$(media $mode $size)" "${TOKEN[$mode]}"
		done
	done
done

echo "median of $ROUNDS rounds, wrk -t2 -c$CONNS -d${SECS}s, bearer token, audit on"
printf '%-28s %14s %16s %10s\n' measure "SQLite + dir" "PostgreSQL + S3" "remote/embedded"
for size in small large; do
	e=$(echo ${RPS[embedded.$size]} | tr ' ' '\n' | median)
	m=$(echo ${RPS[remote.$size]} | tr ' ' '\n' | median)
	em=$(echo ${MBS[embedded.$size]} | tr ' ' '\n' | median)
	mm=$(echo ${MBS[remote.$size]} | tr ' ' '\n' | median)
	label="100 KB recording"
	[ $size = large ] && label="9.6 MB recording"
	printf '%-28s %8s req/s %10s req/s %9.2fx\n' "$label" "$e" "$m" "$(awk -v a="$m" -v b="$e" 'BEGIN{print a/b}')"
	printf '%-28s %9s MB/s %11s MB/s %9.2fx\n' "" "$em" "$mm" "$(awk -v a="$mm" -v b="$em" 'BEGIN{print a/b}')"
done
