#!/usr/bin/env bash
# Where the machine's time goes per request: recvault (verified storage,
# audit on) and nginx (sendfile) serving the same 100 KB recording under
# wrk -t2 -c$CONNS -d${SECS}s with a bearer token, $ROUNDS interleaved
# rounds. For each run it splits the machine's time (both cores, from
# /proc/stat) per request into the server's CPU, wrk's CPU, the rest
# (the kernel's softirq work not charged to either, other processes; the
# counters tick at 1/CLK_TCK, so it can come out a little below zero) and
# idle (idle and I/O wait).
#
# Why: on this 2-core machine wrk shares the cores with the server, so a
# server's rate is set by its CPU, wrk's and the time the cores sit idle.
# nginx leaves them busy; recvault's requests all wait for their durable
# audit commit, and while they do the cores can idle. The split says how
# much of a rate gap is the server's CPU and how much is waiting. The
# ratio is the median of each round's ratio to that round's nginx.
#
# Needs: go, wrk, curl, python3, nginx (Debian: /usr/sbin/nginx).
# Usage: bench/budget.sh   (ROUNDS=N, SECS=N, CONNS=N)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-6}
CONNS=${CONNS:-64}
export PATH="$PATH:/usr/sbin"
. bench/lib.sh
need go wrk curl python3 nginx pgrep
go build -o "$WORK/recvault" ./cmd/recvault
tone_wav "$WORK/small.wav" 50000
tone_wav "$WORK/large.wav" 4800 # serve_store ingests both; only the small one is measured
mkdir -p "$WORK/www"
cp "$WORK/small.wav" "$WORK/www/"
declare -A URL TOKEN SMALL LARGE
serve_store rv "$WORK/recvault" --data "$WORK/data"
RVPID=${PIDS[-1]}
start_nginx
NGMASTER=${PIDS[-1]}
waitfor "http://127.0.0.1:$NGPORT/media/small.wav" -H "Authorization: Bearer x"
HZ=$(getconf CLK_TCK)

# server NAME prints the CPU ticks of recvault, or of nginx's workers.
server() {
	if [ "$1" = recvault ]; then
		cputicks "$RVPID"
		return
	fi
	local s=0 p
	for p in $(pgrep -P "$NGMASTER"); do s=$((s + $(cputicks "$p"))); done
	echo $s
}

declare -A RATE SRV WRK REST IDLE TOTAL
for r in $(seq "$ROUNDS"); do
	for who in recvault nginx; do
		if [ $who = recvault ]; then
			u="${URL[rv]}/api/v1/recordings/${SMALL[rv]}/media" tk=${TOKEN[rv]}
		else
			u="http://127.0.0.1:$NGPORT/media/small.wav" tk=x
		fi
		read -r t0 _ i0 <<<"$(cpustat)"
		s0=$(server $who)
		# bash's time reports wrk's own user and system seconds.
		out=$({ TIMEFORMAT='WRKCPU %U %S'; time wrk -t2 -c"$CONNS" -d"${SECS}s" -H "Authorization: Bearer $tk" "$u"; } 2>&1)
		read -r t1 _ i1 <<<"$(cpustat)"
		s1=$(server $who)
		n=$(awk '/requests in/ {print $1}' <<<"$out")
		w=$(awk '/WRKCPU/ {print $2 + $3}' <<<"$out")
		[ -n "$n" ] && [ "$n" -gt 0 ] || { echo "wrk made no requests to $who: $out" >&2; exit 1; }
		read -r rate srv wrk rest idle total < <(awk -v n="$n" -v w="$w" -v t=$((t1 - t0)) -v i=$((i1 - i0)) \
			-v s=$((s1 - s0)) -v hz="$HZ" -v secs="$SECS" 'BEGIN {
				us = 1e6 / hz / n
				printf "%.0f %.1f %.1f %.1f %.1f %.1f\n", n / secs, s * us, w * 1e6 / n, (t - i - s) * us - w * 1e6 / n, i * us, t * us }')
		RATE[$who]+="$rate " SRV[$who]+="$srv " WRK[$who]+="$wrk " REST[$who]+="$rest " IDLE[$who]+="$idle " TOTAL[$who]+="$total "
		printf 'round %d %-8s %6s req/s  server %6s  wrk %5s  rest %5s  idle %5s  µs a request\n' \
			"$r" $who "$rate" "$srv" "$wrk" "$rest" "$idle" >&2
	done
done
echo "median of $ROUNDS rounds, wrk -t2 -c$CONNS -d${SECS}s, 100 KB recording; µs of machine time a request"
printf '%-10s %8s %8s %8s %8s %8s %8s\n' "" "req/s" "server" "wrk" "rest" "idle" "total"
for who in recvault nginx; do
	printf '%-10s %8s %8s %8s %8s %8s %8s\n' $who "$(echo ${RATE[$who]} | median)" "$(echo ${SRV[$who]} | median)" \
		"$(echo ${WRK[$who]} | median)" "$(echo ${REST[$who]} | median)" "$(echo ${IDLE[$who]} | median)" "$(echo ${TOTAL[$who]} | median)"
done
echo "recvault against nginx, per round: $(roundratio "${RATE[recvault]}" "${RATE[nginx]}")"
