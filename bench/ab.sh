#!/usr/bin/env bash
# Side by side: recvault built at git revision REV (default HEAD~1) and as
# the working tree now, each serving a 100 KB and a 9.6 MB recording
# (verified storage, audit on) from its own data directory, measured in
# interleaved rounds of wrk -t2 -c$CONNS -d${SECS}s with a bearer token;
# per-round figures and medians. For a change's effect on the serve path:
# the machine's speed drifts between runs by a tenth or more, so compare
# within one run.
#
# Needs: go, git, wrk, curl, python3.
# Usage: bench/ab.sh [REV]   (ROUNDS=N, SECS=N, CONNS=N)
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
python3 - "$WORK" <<'PY'
import math, struct, sys
for name, n in (("small", 50000), ("large", 4800000)):
    data = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(n))
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) \
        + b"data" + struct.pack("<I", len(data))
    open(sys.argv[1] + "/" + name + ".wav", "wb").write(hdr + data)
PY
export RECVAULT_PASSWORD=bench-password
declare -A URL TOKEN ID RPS MBS
for v in before now; do
	RV="$WORK/rv-$v"
	STORE=(--data "$WORK/data-$v")
	"$RV" init "${STORE[@]}" >/dev/null
	"$RV" user add "${STORE[@]}" --login bench --role admin >/dev/null
	for s in small large; do
		ID[$v.$s]=$("$RV" ingest "${STORE[@]}" --campaign 1 --crt-object-id $s --call-id $s --agent 1 "$WORK/$s.wav" | cut -d' ' -f1)
	done
	p=$(port)
	"$RV" serve "${STORE[@]}" --addr "127.0.0.1:$p" --log-level error >/dev/null 2>"$WORK/$v.err" &
	PIDS+=($!)
	URL[$v]="http://127.0.0.1:$p"
	waitfor "${URL[$v]}/readyz"
	TOKEN[$v]=$(curl -fsS -X POST "${URL[$v]}/api/v1/sessions" -d '{"login":"bench","password":"bench-password"}' |
		sed 's/.*"token":"\([^"]*\)".*/\1/')
	for s in small large; do
		curl -fsS -H "Authorization: Bearer ${TOKEN[$v]}" -o "$WORK/got.wav" "${URL[$v]}/api/v1/recordings/${ID[$v.$s]}/media"
		cmp -s "$WORK/got.wav" "$WORK/$s.wav" || { echo "$v served other bytes for $s" >&2; exit 1; }
	done
done
for r in $(seq "$ROUNDS"); do
	for s in small large; do
		for v in before now; do
			read -r rps mbs < <(wrkrate "${URL[$v]}/api/v1/recordings/${ID[$v.$s]}/media" "${TOKEN[$v]}")
			RPS[$v.$s]+="$rps "
			MBS[$v.$s]+="$mbs "
			echo "round $r $s $v: $rps req/s, $mbs MB/s" >&2
		done
	done
done
echo "median of $ROUNDS rounds, wrk -t2 -c$CONNS -d${SECS}s, bearer token, audit on, verified storage"
printf '%-20s %16s %16s\n' "" "$REV" "working tree"
printf '%-20s %10s req/s %10s req/s\n' "100 KB recording" "$(echo ${RPS[before.small]} | median)" "$(echo ${RPS[now.small]} | median)"
printf '%-20s %11s MB/s %11s MB/s\n' "9.6 MB recording" "$(echo ${MBS[before.large]} | median)" "$(echo ${MBS[now.large]} | median)"
