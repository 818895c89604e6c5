#!/usr/bin/env bash
# Side by side: recvault built at git revision REV (default HEAD~1) and as
# the working tree now, each serving a 100 KB and a 9.6 MB recording
# (verified storage, audit on) from its own data directory, measured in
# interleaved rounds of wrk -t2 -c$CONNS -d${SECS}s with a bearer token;
# per-round figures and medians. For a change's effect on the serve path:
# the machine's speed drifts between runs by a tenth or more, so compare
# within one run; the servers' CPU time per request, printed beside the
# rates, is the steadier of the two.
#
# Needs: go, git, wrk, curl, python3.
# Usage: bench/ab.sh [REV]   (ROUNDS=N, SECS=N, CONNS=N,
#        ENC=1: encrypted storage instead of verified)
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-HEAD~1}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-6}
CONNS=${CONNS:-64}
. bench/lib.sh
need go git wrk curl python3
git worktree prune
git worktree add -q --detach "$WORK/src-before" "$REV"
(cd "$WORK/src-before" && go build -o "$WORK/rv-before" ./cmd/recvault)
git worktree remove --force "$WORK/src-before"
go build -o "$WORK/rv-now" ./cmd/recvault
tone_wav "$WORK/small.wav" 50000
tone_wav "$WORK/large.wav" 4800000
declare -A URL TOKEN SMALL LARGE RPS MBS CPU PID
STORE=() STORAGE="verified storage"
if [ -n "${ENC:-}" ]; then
	"$WORK/rv-now" keys generate "$WORK/master.key" >/dev/null
	STORE=(--encryption-key-file "$WORK/master.key") STORAGE="encrypted storage"
fi
for v in before now; do
	serve_store $v "$WORK/rv-$v" --data "$WORK/data-$v" "${STORE[@]}"
	PID[$v]=${PIDS[-1]}
done
for r in $(seq "$ROUNDS"); do
	for s in small large; do
		for v in before now; do
			id=${SMALL[$v]}
			[ $s = large ] && id=${LARGE[$v]}
			measure "$r" $s $v "${URL[$v]}/api/v1/recordings/$id/media" "${TOKEN[$v]}" "${PID[$v]}"
		done
	done
done
echo "median of $ROUNDS rounds, wrk -t2 -c$CONNS -d${SECS}s, bearer token, audit on, $STORAGE"
printf '%-20s %16s %16s\n' "" "$REV" "working tree"
printf '%-20s %10s req/s %10s req/s\n' "100 KB recording" "$(echo ${RPS[before.small]} | median)" "$(echo ${RPS[now.small]} | median)"
printf '%-20s %8s µs CPU %8s µs CPU\n' "  server, per request" "$(echo ${CPU[before.small]} | median)" "$(echo ${CPU[now.small]} | median)"
printf '%-20s %11s MB/s %11s MB/s\n' "9.6 MB recording" "$(echo ${MBS[before.large]} | median)" "$(echo ${MBS[now.large]} | median)"
printf '%-20s %8s µs CPU %8s µs CPU\n' "  server, per request" "$(echo ${CPU[before.large]} | median)" "$(echo ${CPU[now.large]} | median)"
