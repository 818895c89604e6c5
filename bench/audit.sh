#!/usr/bin/env bash
# Cost of an audited download against a plain static file server: the
# same ~100 KB recording fetched with wrk from recvault (session check,
# catalogue lookup, access rule, a durable hash-chained audit record
# through the group-committing writer, blob open, body by sendfile) and
# from nginx serving the same bytes from disk (a location that only wants
# some Authorization header). $ROUNDS interleaved rounds of
# wrk -t2 -c$CONNS -d${SECS}s; the medians and their ratio are printed.
#
# recvault runs `serve --demo --data DIR` (embedded SQLite, synchronous=FULL)
# with --audit-checkpoint and --log-level $LOGLEVEL (error by default: the
# per-request and per-commit log lines are not what is measured here).
#
# Needs: go, wrk, curl, python3, nginx (Debian's /usr/sbin/nginx).
# Usage: bench/audit.sh   (ROUNDS=N, SECS=N, CONNS=N, LOGLEVEL=info|error)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-8}
CONNS=${CONNS:-64}
LOGLEVEL=${LOGLEVEL:-error}
export PATH="$PATH:/usr/sbin"
. bench/lib.sh
need go wrk curl python3 nginx



go build -o "$WORK/recvault" ./cmd/recvault
RV="$WORK/recvault"
DATA="$WORK/data"

# A 100 KB recording: 6.25 s of 8 kHz 16-bit mono PCM (100,000 bytes of
# samples and a 44-byte header).
tone_wav "$WORK/small.wav" 50000

export RECVAULT_PASSWORD=bench-password
"$RV" init --data "$DATA" >/dev/null
"$RV" user add --data "$DATA" --login bench --role admin >/dev/null
ID=$("$RV" ingest --data "$DATA" --campaign 1 --crt-object-id bench-small --call-id s --agent 1 "$WORK/small.wav" | cut -d' ' -f1)

RVPORT=$(port)
"$RV" serve --demo --data "$DATA" --addr "127.0.0.1:$RVPORT" --log-level "$LOGLEVEL" \
	--audit-checkpoint "$WORK/audit.checkpoint" >"$WORK/recvault.out" 2>"$WORK/recvault.err" &
PIDS+=($!)
RVURL="http://127.0.0.1:$RVPORT"
waitfor "$RVURL/readyz"
TOKEN=$(curl -fsS -X POST "$RVURL/api/v1/sessions" -d '{"login":"bench","password":"bench-password"}' |
	sed 's/.*"token":"\([^"]*\)".*/\1/')
MEDIA="$RVURL/api/v1/recordings/$ID/media"
mkdir -p "$WORK/www"
curl -fsS -H "Authorization: Bearer $TOKEN" -o "$WORK/www/small.wav" "$MEDIA"
cmp -s "$WORK/small.wav" "$WORK/www/small.wav" || { echo "recvault served other bytes" >&2; exit 1; }
SIZE=$(wc -c <"$WORK/www/small.wav")

# nginx serving the same file (bench/lib.sh).
start_nginx
NGURL="http://127.0.0.1:$NGPORT/media/small.wav"
waitfor "$NGURL" -H "Authorization: Bearer x"

# run URL → prints req/s
run() {
	wrk -t2 -c"$CONNS" -d"${SECS}s" -H "Authorization: Bearer $TOKEN" "$1" | awk '
		/Non-2xx/ {bad=1}
		/Requests\/sec/ {r=$2}
		END {if (bad) {print "non-2xx answers" > "/dev/stderr"; exit 1}; printf "%.0f\n", r}'
}

# The checkpoint file gets a line per audit commit: "seq hash time".
ckpt() { tail -1 "$WORK/audit.checkpoint" | cut -d' ' -f1; }
seq0=$(ckpt)
lines0=$(wc -l <"$WORK/audit.checkpoint")
RV_RPS="" NG_RPS=""
for r in $(seq "$ROUNDS"); do
	rps=$(run "$MEDIA")
	RV_RPS+="$rps "
	echo "round $r recvault: $rps req/s" >&2
	rps=$(run "$NGURL")
	NG_RPS+="$rps "
	echo "round $r nginx:    $rps req/s" >&2
done

# The audit trail kept up: every download has its record, the chain is
# intact, and the checkpoint lines show how many records a commit carried.
records=$(($(ckpt) - seq0))
commits=$(($(wc -l <"$WORK/audit.checkpoint") - lines0))
kill "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null || true
"$RV" audit verify --data "$DATA" --checkpoint "$WORK/audit.checkpoint" >&2

rv=$(echo "$RV_RPS" | median)
ng=$(echo "$NG_RPS" | median)
echo "median of $ROUNDS rounds, wrk -t2 -c$CONNS -d${SECS}s, $SIZE-byte recording, bearer token"
printf '%-34s %8s req/s\n' "recvault (audited, SQLite FULL)" "$rv"
printf '%-34s %8s req/s\n' "nginx (static file)" "$ng"
printf '%-34s %9.2fx\n' "recvault/nginx" "$(awk -v a="$rv" -v b="$ng" 'BEGIN{print a/b}')"
printf '%-34s %8s records in %s commits (%.1f per commit)\n' "audit trail during the runs" \
	"$records" "$commits" "$(awk -v a="$records" -v b="$commits" 'BEGIN{print a/b}')"
