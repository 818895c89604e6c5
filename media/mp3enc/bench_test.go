package mp3enc

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// speech60s returns 60 s of 8 kHz mono speech: the test recording repeated.
func speech60s(b testing.TB) []int16 {
	pcm, _, _ := readWAV(b, "testdata/call-pcm16-mono.wav")
	out := make([]int16, 0, 60*8000)
	for len(out) < 60*8000 {
		out = append(out, pcm[:min(len(pcm), 60*8000-len(out))]...)
	}
	return out
}

// BenchmarkEncode8kMono32 encodes 60 s of 8 kHz mono speech at 32 kbit/s,
// the recvault default for call recordings.
func BenchmarkEncode8kMono32(b *testing.B) {
	pcm := speech60s(b)
	b.SetBytes(int64(2 * len(pcm)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := NewEncoder(io.Discard, Options{SampleRate: 8000, Channels: 1, Bitrate: 32})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Write(pcm); err != nil {
			b.Fatal(err)
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode44kStereo128 encodes 10 s of 44.1 kHz stereo at 128 kbit/s.
func BenchmarkEncode44kStereo128(b *testing.B) {
	n := 10 * 44100
	pcm := interleave(sweep(n, 44100, 50, 16000, 12000), speechNoise(n, 44100, 3))
	b.SetBytes(int64(2 * len(pcm)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := NewEncoder(io.Discard, Options{SampleRate: 44100, Channels: 2, Bitrate: 128})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Write(pcm); err != nil {
			b.Fatal(err)
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLAME8kMono32 runs `lame -b 32` on the same 60 s as
// BenchmarkEncode8kMono32, for a side-by-side reference (process start-up
// included, as a user of the CLI would pay it).
func BenchmarkLAME8kMono32(b *testing.B) {
	lame := needTool(b, "lame")
	pcm := speech60s(b)
	dir := b.TempDir()
	raw := filepath.Join(dir, "in.raw")
	buf := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		buf[2*i], buf[2*i+1] = byte(s), byte(s>>8)
	}
	if err := os.WriteFile(raw, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "out.mp3")
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		cmd := exec.Command(lame, "--silent", "-r", "-s", "8", "--bitwidth", "16", "--signed", "--little-endian",
			"-m", "m", "-b", "32", raw, out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("lame: %v: %s", err, msg)
		}
	}
}
