#!/usr/bin/env bash
# Time to first byte of an MP3 Range request from the middle of a long
# recording, with nothing converted beforehand.
#
# recvault computes MP3 outputs of PCM/G.711 recordings at any byte offset
# (the encoder's segments, media/mp3enc.SegmentFrames), so `Range:
# bytes=<50%>-` should cost encoding one segment, not the first half of
# the recording, and needs no transcode cache.
#
# Input: a 60-minute 8 kHz 16-bit mono WAV, the test speech
# (media/testdata/call-pcm16-mono.wav) repeated. recvault runs `serve --demo
# --data DIR`; for each of $ROUNDS bitrates (different outputs, so nothing
# is warm from an earlier request) curl times the first byte of the ranged
# request, then downloads the whole output and checks that the ranged bytes
# equal the same slice of it. Prints each TTFB, the median (target ≤ 50 ms)
# and whether every comparison passed.
#
# Usage: bench/mp3range.sh   (MINUTES=N recording length, BITRATES="16 24 …")
# Needs: go, curl, python3.
set -euo pipefail

cd "$(dirname "$0")/.."
LOGLEVEL=${LOGLEVEL:-error}
. bench/lib.sh
need go curl python3

MINUTES=${MINUTES:-60}
BITRATES=${BITRATES:-16 24 32 40 48}

go build -o "$WORK/recvault" ./cmd/recvault
RV="$WORK/recvault"
DATA="$WORK/data"

python3 - media/testdata/call-pcm16-mono.wav "$WORK/long.wav" "$MINUTES" <<'PY'
import struct, sys
src, dst, minutes = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = open(src, "rb").read()
# Find the data chunk (the fixture is 8 kHz 16-bit mono PCM).
pos, data = 12, None
while pos + 8 <= len(b):
    cid, size = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
    if cid == b"data":
        data = b[pos + 8:pos + 8 + size]
        break
    pos += 8 + size + (size & 1)
want = minutes * 60 * 8000 * 2
body = (data * (want // len(data) + 1))[:want]
hdr = b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) \
    + b"data" + struct.pack("<I", len(body))
with open(dst, "wb") as f:
    f.write(hdr)
    f.write(body)
PY

export RECVAULT_PASSWORD=bench-password
"$RV" init --data "$DATA" >/dev/null
"$RV" user add --data "$DATA" --login bench --role admin >/dev/null
ID=$("$RV" ingest --data "$DATA" --campaign 1 --crt-object-id bench-long --call-id l --agent 1 "$WORK/long.wav" | cut -d' ' -f1)

RVPORT=$(port)
"$RV" serve --demo --data "$DATA" --addr "127.0.0.1:$RVPORT" --log-level "$LOGLEVEL" \
	>"$WORK/recvault.out" 2>"$WORK/recvault.err" &
PIDS+=($!)
RVURL="http://127.0.0.1:$RVPORT"
waitfor "$RVURL/readyz"
TOKEN=$(curl -fsS -X POST "$RVURL/api/v1/sessions" -d '{"login":"bench","password":"bench-password"}' |
	sed 's/.*"token":"\([^"]*\)".*/\1/')
MEDIA="$RVURL/api/v1/recordings/$ID/media?format=mp3"
AUTH="Authorization: Bearer $TOKEN"

echo "input: $MINUTES min of 8 kHz 16-bit mono PCM ($(stat -c %s "$WORK/long.wav") bytes); load average $(cut -d' ' -f1-3 /proc/loadavg)"
TTFB=""
ok=1
for br in $BITRATES; do
	url="$MEDIA&bitrate=$br"
	# The size without converting anything: HEAD gives the planned length.
	size=$(curl -fsS -I -H "$AUTH" "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-length" {print $2}')
	half=$((size / 2))
	t=$(curl -fsS -H "$AUTH" -H "Range: bytes=$half-" -o "$WORK/part.mp3" -w '%{http_code} %{time_starttransfer}' "$url")
	code=${t% *}
	ms=$(awk -v s="${t#* }" 'BEGIN{printf "%.1f", s*1000}')
	TTFB+="$ms "
	curl -fsS -H "$AUTH" -o "$WORK/full.mp3" "$url"
	if [ "$code" = 206 ] && [ "$(stat -c %s "$WORK/full.mp3")" = "$size" ] &&
		cmp -s "$WORK/part.mp3" <(tail -c +$((half + 1)) "$WORK/full.mp3"); then
		same="ranged bytes = full download's slice"
	else
		same="MISMATCH (status $code, full $(stat -c %s "$WORK/full.mp3") of $size bytes)"
		ok=0
	fi
	printf '%3d kbit/s: %9d bytes, Range: bytes=%d-  first byte after %6s ms, %s\n' "$br" "$size" "$half" "$ms" "$same"
done
med=$(echo "$TTFB" | median)
verdict=$(awk -v m="$med" 'BEGIN{print (m <= 50) ? "PASS" : "FAIL"}')
echo "median time to first byte: $med ms (target ≤ 50 ms: $verdict)"
if [ "$ok" = 1 ]; then echo "comparison: PASS"; else echo "comparison: FAIL"; fi
[ "$ok" = 1 ] && [ "$verdict" = PASS ]
