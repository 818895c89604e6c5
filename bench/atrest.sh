#!/usr/bin/env bash
# Serve-path cost of verified and encrypted storage: recvault serving a
# 100 KB and a 9.6 MB recording stored as verified chunks (XXH3-128 per
# 16 KiB) and as encrypted chunks (AES-256-GCM), beside nginx serving the
# same files with sendfile, in one run. wrk -t2 -c$CONNS -d${SECS}s with a
# bearer token, $ROUNDS interleaved rounds, medians printed.
#
# Needs: go, wrk, curl, python3, nginx (Debian: /usr/sbin/nginx).
# Usage: bench/atrest.sh   (ROUNDS=N, SECS=N, CONNS=N)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-6}
CONNS=${CONNS:-64}
export PATH="$PATH:/usr/sbin"
. bench/lib.sh
need go wrk curl python3 nginx
go build -o "$WORK/recvault" ./cmd/recvault
RV="$WORK/recvault"
python3 - "$WORK" <<'EOF'
import math, struct, sys
for name, n in (("small", 50000), ("large", 4800000)):
    data = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(n))
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) \
        + b"data" + struct.pack("<I", len(data))
    open(sys.argv[1] + "/" + name + ".wav", "wb").write(hdr + data)
EOF
mkdir -p "$WORK/www"
cp "$WORK/small.wav" "$WORK/large.wav" "$WORK/www/"
"$RV" keys generate "$WORK/master.key" >/dev/null
export RECVAULT_PASSWORD=bench-password
declare -A URL TOKEN SMALL LARGE
for mode in verified encrypted; do
	STORE=(--data "$WORK/$mode")
	[ $mode = encrypted ] && STORE+=(--encryption-key-file "$WORK/master.key")
	"$RV" init "${STORE[@]}" >/dev/null
	"$RV" user add "${STORE[@]}" --login bench --role admin >/dev/null
	SMALL[$mode]=$("$RV" ingest "${STORE[@]}" --campaign 1 --crt-object-id small --call-id s --agent 1 "$WORK/small.wav" | cut -d' ' -f1)
	LARGE[$mode]=$("$RV" ingest "${STORE[@]}" --campaign 1 --crt-object-id large --call-id l --agent 1 "$WORK/large.wav" | cut -d' ' -f1)
	p=$(port)
	"$RV" serve "${STORE[@]}" --addr "127.0.0.1:$p" --log-level error >"$WORK/$mode.out" 2>"$WORK/$mode.err" &
	PIDS+=($!)
	URL[$mode]="http://127.0.0.1:$p"
	waitfor "${URL[$mode]}/readyz"
	TOKEN[$mode]=$(curl -fsS -X POST "${URL[$mode]}/api/v1/sessions" -d '{"login":"bench","password":"bench-password"}' |
		sed 's/.*"token":"\([^"]*\)".*/\1/')
	for s in small large; do
		id=${SMALL[$mode]}
		[ $s = large ] && id=${LARGE[$mode]}
		curl -fsS -H "Authorization: Bearer ${TOKEN[$mode]}" -o "$WORK/got.wav" "${URL[$mode]}/api/v1/recordings/$id/media"
		cmp -s "$WORK/got.wav" "$WORK/$s.wav" || { echo "$mode served other bytes for $s" >&2; exit 1; }
	done
done
start_nginx
waitfor "http://127.0.0.1:$NGPORT/media/small.wav" -H "Authorization: Bearer x"

declare -A RPS MBS
for r in $(seq "$ROUNDS"); do
	for s in small large; do
		for mode in verified encrypted nginx; do
			if [ $mode = nginx ]; then
				u="http://127.0.0.1:$NGPORT/media/$s.wav"; tk=x
			else
				id=${SMALL[$mode]}
				[ $s = large ] && id=${LARGE[$mode]}
				u="${URL[$mode]}/api/v1/recordings/$id/media"; tk=${TOKEN[$mode]}
			fi
			read -r rps mbs < <(wrkrate "$u" "$tk")
			RPS[$mode.$s]+="$rps "
			MBS[$mode.$s]+="$mbs "
			echo "round $r $s $mode: $rps req/s, $mbs MB/s" >&2
		done
	done
done
echo "median of $ROUNDS rounds, wrk -t2 -c$CONNS -d${SECS}s, bearer token, audit on"
printf '%-20s %16s %16s %16s\n' "" "verified" "encrypted" "nginx"
printf '%-20s %10s req/s %10s req/s %10s req/s\n' "100 KB recording" "$(echo ${RPS[verified.small]} | median)" \
	"$(echo ${RPS[encrypted.small]} | median)" "$(echo ${RPS[nginx.small]} | median)"
printf '%-20s %11s MB/s %11s MB/s %11s MB/s\n' "9.6 MB recording" "$(echo ${MBS[verified.large]} | median)" \
	"$(echo ${MBS[encrypted.large]} | median)" "$(echo ${MBS[nginx.large]} | median)"
