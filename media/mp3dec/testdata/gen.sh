#!/bin/sh
# Regenerates the small MP3 fixtures with ffmpeg's libmp3lame. Afterwards run
#   go test ./media/mp3dec -run TestReference -update
# to refresh the *.ref files (ffmpeg's decode, subsampled) next to them.
set -e
cd "$(dirname "$0")"
tone='aevalsrc=0.3*sin(2*PI*440*t)+0.1*sin(2*PI*1375*t)+0.03*(random(0)*2-1)'
tone2='aevalsrc=0.3*sin(2*PI*440*t)+0.02*(random(0)*2-1)|0.2*sin(2*PI*650*t)+0.1*sin(2*PI*2900*t)+0.02*(random(1)*2-1)'
clicks='aevalsrc=if(lt(mod(t\,0.125)\,0.003)\,0.8*(random(0)*2-1)\,0.02*sin(2*PI*300*t))'
gen() { name=$1; shift; src=$1; shift; ffmpeg -v error -y -f lavfi -i "$src" "$@" -c:a libmp3lame "$name.mp3"; }
gen mono8k-cbr32      "$tone:d=1:s=8000"   -ac 1 -b:a 32k
gen stereo8k-cbr32    "$tone2:d=0.6:s=8000"  -b:a 32k
gen mono11k-cbr24     "$tone:d=0.8:s=11025" -ac 1 -b:a 24k
gen stereo12k-vbr     "$tone2:d=0.6:s=12000" -q:a 5
gen mono16k-cbr32     "$tone:d=0.6:s=16000" -ac 1 -b:a 32k
gen joint22k-cbr64    "$tone2:d=0.5:s=22050" -b:a 64k
gen mono24k-vbr       "$tone:d=0.5:s=24000" -ac 1 -q:a 4
gen stereo32k-cbr96   "$tone2:d=0.4:s=32000" -b:a 96k -joint_stereo 0
gen joint44k-cbr128   "$tone2:d=0.4:s=44100" -b:a 128k
gen mono48k-vbr       "$tone:d=0.4:s=48000" -ac 1 -q:a 2
gen clicks44k-cbr128  "$clicks:d=0.5:s=44100" -ac 1 -b:a 128k
gen clicks8k-cbr16    "$clicks:d=1:s=8000" -ac 1 -b:a 16k
gen noxing8k-cbr32    "$tone:d=0.5:s=8000" -ac 1 -b:a 32k -write_xing 0
ms='aevalsrc=0.3*sin(2*PI*440*t)+0.02*(random(0)*2-1)|0.28*sin(2*PI*440*t+0.1)+0.02*(random(1)*2-1)'
gen ms16k-cbr48       "$ms:d=0.6:s=16000" -b:a 48k
# LAME's own CLI, with CRC protection (-p), which ffmpeg's libmp3lame cannot set.
ffmpeg -v error -y -f lavfi -i "$tone:d=0.5:s=22050" -ac 2 crc.wav
lame --quiet -p -b 48 crc.wav crc22k-cbr48.mp3
rm crc.wav
