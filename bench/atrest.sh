#!/usr/bin/env bash
# Serve-path cost of verified and encrypted storage: recvault serving a
# 100 KB and a 9.6 MB recording stored as verified chunks (XXH3-128 per
# 16 KiB) and as encrypted chunks (AES-256-GCM), beside nginx serving the
# same files with sendfile and without it, in one run. wrk -t2 -c$CONNS -d${SECS}s with a
# bearer token, $ROUNDS interleaved rounds, medians printed, and the median
# of each round's ratio to that round's nginx.
#
# Beside them, the floor: Go's net/http serving the same files with
# nothing else (bench/gofloor: no authentication, catalogue, audit or
# verification), once through http.ServeContent on the open file
# (sendfile) and once from memory in one Write. What separates recvault
# from that floor is recvault's work; what separates the floor from nginx
# is Go's HTTP server.
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
go build -o "$WORK/gofloor" ./bench/gofloor
RV="$WORK/recvault"
tone_wav "$WORK/small.wav" 50000
tone_wav "$WORK/large.wav" 4800000
mkdir -p "$WORK/www"
cp "$WORK/small.wav" "$WORK/large.wav" "$WORK/www/"
"$RV" keys generate "$WORK/master.key" >/dev/null
declare -A URL TOKEN SMALL LARGE
for mode in verified encrypted; do
	STORE=(--data "$WORK/$mode")
	[ $mode = encrypted ] && STORE+=(--encryption-key-file "$WORK/master.key")
	serve_store $mode "$RV" "${STORE[@]}"
done
# nginx as deployed for static files (sendfile on), and without sendfile:
# on a loopback connection writing from memory can beat sendfile for large
# files (Go's own floor shows it), so the second is the stronger reference
# there.
start_nginx off
NGNOSF=$NGPORT
waitfor "http://127.0.0.1:$NGNOSF/media/small.wav" -H "Authorization: Bearer x"
start_nginx
waitfor "http://127.0.0.1:$NGPORT/media/small.wav" -H "Authorization: Bearer x"
GOPORT=$(port)
"$WORK/gofloor" -dir "$WORK/www" -addr "127.0.0.1:$GOPORT" &
PIDS+=($!)
waitfor "http://127.0.0.1:$GOPORT/file/small.wav" -H "Authorization: Bearer x"
for s in small large; do
	for how in file mem; do
		curl -fsS -H "Authorization: Bearer x" -o "$WORK/got.wav" "http://127.0.0.1:$GOPORT/$how/$s.wav"
		cmp -s "$WORK/got.wav" "$WORK/$s.wav" || { echo "gofloor served other bytes for $how/$s" >&2; exit 1; }
	done
done

declare -A RPS MBS
for r in $(seq "$ROUNDS"); do
	for s in small large; do
		for mode in verified encrypted gofile gomem nginx ngnosf; do
			if [ $mode = nginx ]; then
				u="http://127.0.0.1:$NGPORT/media/$s.wav"; tk=x
			elif [ $mode = ngnosf ]; then
				u="http://127.0.0.1:$NGNOSF/media/$s.wav"; tk=x
			elif [ $mode = gofile ] || [ $mode = gomem ]; then
				u="http://127.0.0.1:$GOPORT/${mode#go}/$s.wav"; tk=x
			else
				id=${SMALL[$mode]}
				[ $s = large ] && id=${LARGE[$mode]}
				u="${URL[$mode]}/api/v1/recordings/$id/media"; tk=${TOKEN[$mode]}
			fi
			measure "$r" $s $mode "$u" "$tk"
		done
	done
done
MODES=(verified encrypted gofile gomem nginx ngnosf)
declare -A MED
for mode in "${MODES[@]}"; do
	MED[$mode.small]=$(echo ${RPS[$mode.small]} | median)
	MED[$mode.large]=$(echo ${MBS[$mode.large]} | median)
done
# ratio A B prints A/B to two places.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "-"}'; }
# faster A B prints the larger of A and B: the better nginx of a row.
faster() { awk -v a="$1" -v b="$2" 'BEGIN {print (a > b) ? a : b}'; }
echo "median of $ROUNDS rounds, wrk -t2 -c$CONNS -d${SECS}s, bearer token; recvault with audit on"
printf '%-22s %12s %12s %12s %12s %12s %12s\n' "" "verified" "encrypted" "Go, file" "Go, memory" "nginx" "no sendfile"
for s in small large; do
	if [ $s = small ]; then
		printf '%-22s' "100 KB recording, req/s"
	else
		printf '%-22s' "9.6 MB recording, MB/s"
	fi
	for mode in "${MODES[@]}"; do printf ' %12s' "${MED[$mode.$s]}"; done
	best=$(faster "${MED[nginx.$s]}" "${MED[ngnosf.$s]}")
	printf '\n%-22s' "  against nginx"
	for mode in "${MODES[@]}"; do printf ' %12s' "$(ratio "${MED[$mode.$s]}" "${MED[nginx.$s]}")"; done
	printf '\n%-22s' "  against the faster"
	for mode in "${MODES[@]}"; do printf ' %12s' "$(ratio "${MED[$mode.$s]}" "$best")"; done
	# Each round against that round's nginx, the median of those ratios.
	printf '\n%-22s' "  per round vs nginx"
	for mode in "${MODES[@]}"; do
		if [ $s = small ]; then
			printf ' %12s' "$(roundratio "${RPS[$mode.$s]}" "${RPS[nginx.$s]}")"
		else
			printf ' %12s' "$(roundratio "${MBS[$mode.$s]}" "${MBS[nginx.$s]}")"
		fi
	done
	printf '\n'
done
