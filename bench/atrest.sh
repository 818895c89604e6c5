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
