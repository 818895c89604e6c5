#!/usr/bin/env bash
# Times recvault's media pipeline against reference tools on the same input
# and prints throughput ratios and output SNR side by side:
#
#   A-law WAV → PCM WAV:            recvault vs sox
#   A-law WAV → MP3 32 kbit/s 8 kHz: recvault vs ffmpeg -c:a libmp3lame vs lame
#
# Input: the test speech (media/probe/testdata/call-alaw-mono.alaw, or
# $SPEECH) concatenated to at least 60 s. Each command runs $RUNS times
# (default 7); the median wall time is reported. Tools that are missing
# are skipped. SNR is measured on ffmpeg's decode of each output against
# ffmpeg's decode of the input, aligned for codec delay (recvault's MP3
# carries its delay in an Info frame, so ffmpeg aligns it at lag 0).
#
# The A-law → PCM WAV comparison is then repeated on longer inputs
# ($LONG, seconds, default "600 3600": 10 and 60 minutes), where process
# start-up no longer dominates.
#
# Usage: bench/transcode.sh   (RUNS=N rounds, MINSECS=N input length,
#                              LONG="secs ..." longer WAV inputs, "" for none)
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
SPEECH=${SPEECH:-media/probe/testdata/call-alaw-mono.alaw}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

have() { command -v "$1" >/dev/null 2>&1; }

go build -o "$WORK/transcode" ./bench/transcode
TC="$WORK/transcode"

# Build a ≥ 60 s A-law recording.
: >"$WORK/in.alaw"
while [ "$(stat -c %s "$WORK/in.alaw")" -lt $((8000 * ${MINSECS:-60})) ]; do
	cat "$SPEECH" >>"$WORK/in.alaw"
done
"$TC" -raw alaw -in "$WORK/in.alaw" -out "$WORK/in.wav" -format wav-alaw
secs=$(awk -v b="$(stat -c %s "$WORK/in.alaw")" 'BEGIN{printf "%.1f", b/8000}')
echo "input: ${secs} s of 8 kHz mono A-law speech in WAV ($(stat -c %s "$WORK/in.wav") bytes), median of $RUNS runs"

# Commands are timed in interleaved rounds (each command once per round,
# $RUNS rounds) so that load from other processes hits all of them alike.
# For each we keep the median wall time and the median CPU time (user+sys
# from the kernel's rusage, via transcode -time): on a shared machine the
# CPU time is the steadier measure of the work done.
# Every command's last argument is its output file, removed before each run:
# overwriting an existing file on ext4 triggers a flush at close (the
# replace-via-truncate heuristic) that would time the file system, not the
# conversion. The same rule holds for every tool.
declare -A CMD WALL CPU OUT
ORDER=()
add() { # add NAME CMD... OUTPUT
	local name=$1
	shift
	CMD[$name]=$(printf '%q ' "$@")
	OUT[$name]=${!#}
	WALL[$name]=""
	CPU[$name]=""
	ORDER+=("$name")
}
run_rounds() {
	for _ in $(seq "$RUNS"); do
		for name in "${ORDER[@]}"; do
			local out
			rm -f "${OUT[$name]}"
			out=$(eval "$TC -time -- ${CMD[$name]}" 2>/dev/null) || out="nan nan"
			WALL[$name]+="${out% *} "
			CPU[$name]+="${out#* } "
		done
	done
}
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END{printf "%.1f", a[int((NR+1)/2)]}'; }
wall() { median "${WALL[$1]}"; }
cpu() { median "${CPU[$1]}"; }

snr() { # snr FILE [ffmpeg input options]: SNR of FILE against the input
	local f=$1
	shift
	if ! have ffmpeg; then
		echo "n/a"
		return
	fi
	ffmpeg -v error -y "$@" -i "$f" -f s16le -ac 1 -ar 8000 "$WORK/test.s16"
	"$TC" -snr "$WORK/ref.s16" "$WORK/test.s16" | awk '{printf "%.2f dB (delay %d)", $1, $2}'
}

if have ffmpeg; then
	ffmpeg -v error -y -i "$WORK/in.wav" -f s16le "$WORK/ref.s16"
	# LAME reads PCM WAV only; it gets a decoded copy (decode time not counted).
	ffmpeg -v error -y -i "$WORK/in.wav" -c:a pcm_s16le "$WORK/in-pcm.wav"
fi

row() { # row LABEL NAME
	local w c
	w=$(wall "$2")
	c=$(cpu "$2")
	printf '%-26s wall %7s ms  cpu %7s ms  %6s x real time  %s\n' "$1" "$w" "$c" \
		"$(awk -v s="$secs" -v t="$w" 'BEGIN{printf "%.0f", s*1000/t}')" "$3"
}
ratios() { # ratios REF OURS: throughput ratios (reference time / our time)
	printf 'wall %sx, cpu %sx' "$(ratio "$(wall "$1")" "$(wall "$2")")" "$(ratio "$(cpu "$1")" "$(cpu "$2")")"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

add rv_wav "$TC" -in "$WORK/in.wav" -out "$WORK/rv.wav" -format wav
have sox && add sox sox "$WORK/in.wav" -e signed-integer -b 16 "$WORK/sox.wav"
[ -d media/mp3enc ] && add rv_mp3 "$TC" -in "$WORK/in.wav" -out "$WORK/rv.mp3" -format mp3 -bitrate 32
have ffmpeg && add ffmpeg ffmpeg -v error -y -i "$WORK/in.wav" -c:a libmp3lame -b:a 32k -ar 8000 "$WORK/ff.mp3"
have lame && [ -f "$WORK/in-pcm.wav" ] && add lame lame --silent -b 32 "$WORK/in-pcm.wav" "$WORK/lame.mp3"
run_rounds
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "== A-law WAV → 16-bit PCM WAV"
row "recvault" rv_wav "SNR $(snr "$WORK/rv.wav")"
if have sox; then
	row "sox" sox "SNR $(snr "$WORK/sox.wav")"
	echo "recvault throughput / sox: $(ratios sox rv_wav)   (target ≥ 3x)"
else
	echo "sox not installed: skipped"
fi

echo
echo "== A-law WAV → MP3 32 kbit/s, 8 kHz mono"
rvm=""
if [ -s "$WORK/rv.mp3" ]; then
	rvm=1
	row "recvault mp3enc" rv_mp3 "SNR $(snr "$WORK/rv.mp3")"
else
	echo "recvault mp3: no output (media/mp3enc missing or failing): skipped"
fi
if [ -s "$WORK/ff.mp3" ]; then
	row "ffmpeg -c:a libmp3lame" ffmpeg "SNR $(snr "$WORK/ff.mp3")"
	[ -n "$rvm" ] && echo "recvault throughput / ffmpeg: $(ratios ffmpeg rv_mp3)"
fi
if [ -s "$WORK/lame.mp3" ]; then
	row "lame -b 32 (from PCM)" lame "SNR $(snr "$WORK/lame.mp3")"
	[ -n "$rvm" ] && echo "recvault throughput / lame: $(ratios lame rv_mp3)   (target ≥ 1x, SNR ≥ lame − 3 dB)"
fi

# A-law → PCM WAV on longer inputs: the same speech repeated.
for long in ${LONG-600 3600}; do
	have sox || break
	: >"$WORK/long.alaw"
	while [ "$(stat -c %s "$WORK/long.alaw")" -lt $((8000 * long)) ]; do
		cat "$WORK/in.alaw" >>"$WORK/long.alaw"
	done
	"$TC" -raw alaw -in "$WORK/long.alaw" -out "$WORK/long.wav" -format wav-alaw
	secs=$(awk -v b="$(stat -c %s "$WORK/long.alaw")" 'BEGIN{printf "%.1f", b/8000}')
	ORDER=()
	add rv_long "$TC" -in "$WORK/long.wav" -out "$WORK/rv-long.wav" -format wav
	add sox_long sox "$WORK/long.wav" -e signed-integer -b 16 "$WORK/sox-long.wav"
	run_rounds
	echo
	echo "== A-law WAV → 16-bit PCM WAV, ${secs} s input (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	# Same samples? Compare the data chunks (the last 2 bytes per sample;
	# the headers may differ).
	n=$((2 * $(stat -c %s "$WORK/long.alaw")))
	if cmp -s <(tail -c "$n" "$WORK/rv-long.wav") <(tail -c "$n" "$WORK/sox-long.wav"); then
		same="samples identical to sox's"
	else
		same="samples DIFFER from sox's"
	fi
	row "recvault" rv_long "$same"
	row "sox" sox_long ""
	echo "recvault throughput / sox: $(ratios sox_long rv_long)   (target ≥ 3x)"
	rm -f "$WORK/long.alaw" "$WORK/long.wav" "$WORK/rv-long.wav" "$WORK/sox-long.wav"
done
exit 0
