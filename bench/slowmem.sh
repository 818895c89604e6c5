#!/usr/bin/env bash
# Server memory per slow download, for the stored original, a WAV
# conversion (A-law to 16-bit PCM) and MP3 of a PCM recording: 200 clients
# start a download each and then read nothing, so every server goroutine
# blocks in a write holding its buffers; the rise in heap and stack in use
# after a GC, divided by 200, is one figure (BenchmarkSlowStreamMemory in
# cmd/recvault, a real HTTP server over loopback sockets). It runs
# $ROUNDS times (default 3) and prints the median per output, beside the
# targets of the performance issue (64 / 64 / 128 KiB).
#
# Needs: go. Usage: bench/slowmem.sh   (ROUNDS=N)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
. bench/lib.sh
need go

go test -run '^$' -bench 'SlowStreamMemory' -benchtime 1x -count "$ROUNDS" ./cmd/recvault >"$WORK/bench.txt"
printf '%-16s %12s %10s\n' output "KiB/stream" target
for out in original:64 wav-from-alaw:64 mp3:128; do
	name=${out%%:*}
	kib=$(awk -v n="BenchmarkSlowStreamMemory/$name-" 'index($1, n) == 1 {print $(NF-1)}' "$WORK/bench.txt" | median)
	printf '%-16s %12s %10s\n' "$name" "$kib" "${out##*:}"
done
echo "median of $ROUNDS rounds, 200 streams each"
