# Helpers the bench scripts share. Source it after `set -euo pipefail` and
# cd to the repository: it gives a work directory removed at exit (with
# every process in PIDS stopped first), free loopback ports, waiting for a
# server, wrk's figures and medians.

# need TOOL... exits naming the first tool that is missing.
need() {
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "$0 needs $t" >&2; exit 1; }
	done
}

WORK=$(mktemp -d)
chmod 755 "$WORK" # servers run as other users (PostgreSQL) read below it
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}

# cpustat prints the ticks of all cores, those stolen, and those idle or
# waiting for I/O (Linux /proc/stat).
cpustat() { awk '/^cpu / {t=0; for (i=2; i<=NF; i++) t+=$i; print t, $9, $5+$6}' /proc/stat 2>/dev/null || echo "0 0 0"; }

# The machine's CPU time stolen by its hypervisor: on a shared virtual
# machine a run with much steal is slower and its tail latencies longer,
# so every script says how much there was.
STEAL0=$(cpustat)
steal_report() {
	read -r t1 s1 _ <<<"$(cpustat)"
	read -r t0 s0 _ <<<"$STEAL0"
	[ "$t1" -gt "$t0" ] 2>/dev/null || return 0
	awk -v t=$((t1 - t0)) -v s=$((s1 - s0)) 'BEGIN {printf "CPU time stolen by the hypervisor during this run: %.1f%%\n", 100 * s / t}' >&2
}
trap 'steal_report; cleanup' EXIT

# port prints a free loopback port.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# waitfor URL [curl args] waits up to 20 s for URL to answer 2xx.
waitfor() {
	local u=$1
	shift
	for _ in $(seq 200); do curl -fsS -o /dev/null "$@" "$u" 2>/dev/null && return 0; sleep 0.1; done
	echo "not answering: $u" >&2
	exit 1
}

# wrkrate URL TOKEN prints "req/s MB/s requests" of one wrk run ($CONNS
# connections, $SECS seconds, two threads, a bearer token).
wrkrate() {
	wrk -t2 -c"$CONNS" -d"${SECS}s" -H "Authorization: Bearer $2" "$1" | awk '
		/requests in/ {q=$1}
		/Requests\/sec/ {r=$2}
		/Transfer\/sec/ {v=$2; u=substr(v, length(v)-1); n=substr(v, 1, length(v)-2);
			if (u=="GB") n*=1024; else if (u=="KB") n/=1024; else if (u!="MB") n/=1048576; t=n}
		END {printf "%.0f %.1f %d\n", r, t, q}'
}

# cputicks PID prints the user and system CPU time process PID has used,
# in clock ticks (Linux /proc; 0 where there is none).
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# measure ROUND SIZE NAME URL TOKEN [PID] runs wrkrate on URL and adds its
# figures to RPS[NAME.SIZE] and MBS[NAME.SIZE] (associative arrays the
# caller declares), printing them as that round's on stderr. Given the
# server's PID it also adds the server's CPU time per request, in µs, to
# CPU[NAME.SIZE]: less noisy than the rate on a shared machine, since it
# does not count the time the server waited for a core.
measure() {
	local rps mbs reqs c0 c1 cpu=""
	[ -n "${6:-}" ] && c0=$(cputicks "$6")
	read -r rps mbs reqs < <(wrkrate "$4" "$5")
	RPS[$3.$2]+="$rps "
	MBS[$3.$2]+="$mbs "
	if [ -n "${6:-}" ] && [ "$reqs" -gt 0 ]; then
		c1=$(cputicks "$6")
		cpu=$(awk -v c=$((c1 - c0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", c * 1e6 / hz / n}')
		CPU[$3.$2]+="$cpu "
		cpu=", $cpu µs server CPU per request"
	fi
	echo "round $1 $2 $3: $rps req/s, $mbs MB/s$cpu" >&2
}

# median reads numbers separated by spaces or newlines and prints the median.
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# roundratio "A1 A2 .." "B1 B2 .." prints the median of Ai/Bi to two
# places: each round's figure against the same round's reference. On a
# shared machine whose speed drifts between rounds it is steadier than the
# ratio of the two medians, which may come from different rounds.
roundratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		n = split(a, x, " "); m = split(b, y, " ")
		if (n != m || n == 0) { print "-"; exit }
		for (i = 1; i <= n; i++) if (y[i] > 0) r[++k] = x[i] / y[i]
		if (k == 0) { print "-"; exit }
		for (i = 2; i <= k; i++) for (j = i; j > 1 && r[j-1] > r[j]; j--) { t = r[j]; r[j] = r[j-1]; r[j-1] = t }
		printf "%.2fx", r[int((k + 1) / 2)]
	}'
}

# start_nginx [off] serves $WORK/www/ at /media/ from an nginx in the
# foreground with its own configuration and temp paths (sendfile, keep-alive;
# "off": no sendfile, files read into nginx's buffers and written), on a
# free port it puts in NGPORT. Like recvault it wants an Authorization
# header (any: nginx checks none), so both answer the same wrk command.
start_nginx() {
	local sendfile=${1:-on} dir="$WORK/nginx"
	[ "$sendfile" = on ] || dir="$WORK/nginx-$sendfile"
	NGPORT=$(port)
	mkdir -p "$dir"
	local user_line=""
	[ "$(id -u)" -eq 0 ] && user_line="user root;"
	cat >"$dir/nginx.conf" <<NGINX
daemon off;
master_process on;
$user_line
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile $sendfile;
	tcp_nopush on;
	keepalive_requests 100000;
	default_type application/octet-stream;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	server {
		listen 127.0.0.1:$NGPORT;
		location /media/ {
			if (\$http_authorization = "") { return 401; }
			alias $WORK/www/;
		}
	}
}
NGINX
	nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
	PIDS+=($!)
}

# tone_wav FILE SAMPLES writes FILE: a 440 Hz tone as 8 kHz 16-bit mono PCM
# WAV, SAMPLES samples (2 bytes each) after a 44-byte header. 50000 make
# the 100 KB recording of the serve benches, 4800000 the 9.6 MB one.
tone_wav() {
	python3 - "$1" "$2" <<'PY'
import math, struct, sys
n = int(sys.argv[2])
data = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(n))
hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) \
    + b"data" + struct.pack("<I", len(data))
open(sys.argv[1], "wb").write(hdr + data)
PY
}

# serve_store NAME RV STORE_ARGS... makes a store with recvault binary RV
# (init, an admin "bench", $WORK/small.wav and $WORK/large.wav ingested),
# serves it on a free loopback port (output in $WORK/NAME.out and .err)
# and checks that both recordings come back byte for byte. It sets
# URL[NAME], TOKEN[NAME], SMALL[NAME] and LARGE[NAME] (the recording ids):
# associative arrays the caller declares.
serve_store() {
	local name=$1 rv=$2 p s id
	shift 2
	export RECVAULT_PASSWORD=bench-password
	"$rv" init "$@" >/dev/null
	"$rv" user add "$@" --login bench --role admin >/dev/null
	SMALL[$name]=$("$rv" ingest "$@" --campaign 1 --crt-object-id small --call-id s --agent 1 "$WORK/small.wav" | cut -d' ' -f1)
	LARGE[$name]=$("$rv" ingest "$@" --campaign 1 --crt-object-id large --call-id l --agent 1 "$WORK/large.wav" | cut -d' ' -f1)
	p=$(port)
	"$rv" serve "$@" --addr "127.0.0.1:$p" --log-level error >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	URL[$name]="http://127.0.0.1:$p"
	waitfor "${URL[$name]}/readyz"
	TOKEN[$name]=$(curl -fsS -X POST "${URL[$name]}/api/v1/sessions" -d '{"login":"bench","password":"bench-password"}' |
		sed 's/.*"token":"\([^"]*\)".*/\1/')
	for s in small large; do
		id=${SMALL[$name]}
		[ $s = large ] && id=${LARGE[$name]}
		curl -fsS -H "Authorization: Bearer ${TOKEN[$name]}" -o "$WORK/got.wav" "${URL[$name]}/api/v1/recordings/$id/media"
		cmp -s "$WORK/got.wav" "$WORK/$s.wav" || { echo "$name served other bytes for $s" >&2; exit 1; }
	done
}
