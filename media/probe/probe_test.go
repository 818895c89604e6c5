package probe

import (
	"bytes"
	"errors"
	"github.com/recvault/recvault/internal/testtool"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault/media/wav"
)

// needTool: see testtool.Need.
func needTool(t testing.TB, name string) string { return testtool.Need(t, name) }

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func probeBytes(b []byte, hint Hint) (Info, error) {
	return Probe(bytes.NewReader(b), int64(len(b)), hint)
}

func TestProbeRealFiles(t *testing.T) {
	tests := []struct {
		file string
		hint Hint
		want Info
	}{
		{"call-alaw-stereo.wav", Hint{}, Info{Kind: Voice, Container: WAV, Codec: "alaw", SampleRate: 8000, Channels: 2,
			Duration: 32335500 * time.Microsecond, DataOffset: 58, DataSize: 517368}},
		{"call-alaw-mono.alaw", Hint{Raw: wav.ALaw}, Info{Kind: Voice, Container: Raw, Codec: "alaw", SampleRate: 8000, Channels: 1,
			Duration: 32335500 * time.Microsecond, DataOffset: 0, DataSize: 258684}},
		{"call-alaw-mono.alaw", Hint{Raw: wav.ULaw, SampleRate: 16000, Channels: 2}, Info{Kind: Voice, Container: Raw, Codec: "ulaw", SampleRate: 16000, Channels: 2,
			Duration: 8083875 * time.Microsecond, DataOffset: 0, DataSize: 258684}},
		// 452 frames × 576 samples / 8 kHz (ffprobe: 32.544 s).
		{"call-mono.mp3", Hint{}, Info{Kind: Voice, Container: MP3, Codec: "mp3", SampleRate: 8000, Channels: 1,
			Duration: 32544 * time.Millisecond, Bitrate: 32, DataOffset: 45, DataSize: 130464}},
		{"screen.mp4", Hint{}, Info{Kind: Video, Container: MP4, Codec: "h264", AudioCodec: "aac", SampleRate: 8000, Channels: 1,
			Duration: 6 * time.Second, Width: 640, Height: 360}},
	}
	for _, tc := range tests {
		got, err := probeBytes(readFile(t, tc.file), tc.hint)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.file, got, tc.want)
		}
	}
}

func TestProbeErrors(t *testing.T) {
	stereo := readFile(t, "call-alaw-stereo.wav")
	mp3 := readFile(t, "call-mono.mp3")
	mp4 := readFile(t, "screen.mp4")
	noise := make([]byte, 100000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name string
		in   []byte
		hint Hint
		want string
	}{
		{"empty", nil, Hint{}, "not a recognised media format (empty file)"},
		{"text", []byte("hello, this is not audio at all"), Hint{}, "not a recognised media format (first bytes 68 65 6c 6c 6f"},
		{"noise", noise, Hint{}, "not a recognised media format (first bytes"},
		{"wav truncated", stereo[:1058], Hint{}, "wav: data chunk truncated: header says 517368 bytes, file has 1000"},
		{"wav header only", stereo[:30], Hint{}, "wav: fmt chunk truncated"},
		{"wav no data", stereo[:40], Hint{}, "wav: no data chunk before end of file at offset 38"},
		{"wav unsupported", append([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x03\x00"), make([]byte, 14)...), Hint{}, "unsupported format tag 3"},
		{"mp3 truncated", mp3[:5000], Hint{}, "mp3: truncated: Info header says 130464 bytes from offset 45, file has 4955"},
		{"mp3 id3 only", mp3[:45], Hint{}, "no run of 4 valid MP3 frames"},
		{"mp3 bad id3", append([]byte("ID3\x04\x00\x00\xff\xff\xff\xff"), mp3[45:]...), Hint{}, "malformed ID3v2 tag"},
		{"mp4 truncated mdat", mp4[:30000], Hint{}, `mp4: "mdat" box truncated: at offset 40 it says 50578 bytes, the file has 29960 left`},
		{"mp4 no moov", mp4[:40], Hint{}, "mp4: no moov box"},
		{"mp4 bad box size", append(append([]byte{}, mp4[:32]...), 0, 0, 0, 3, 'f', 'r', 'e', 'e'), Hint{}, "smaller than its header"},
		{"bad hint", []byte{1, 2}, Hint{Raw: 9}, "unsupported raw format"},
	}
	for _, tc := range tests {
		_, err := probeBytes(tc.in, tc.hint)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := probeBytes(noise, Hint{}); !errors.Is(err, ErrUnrecognised) {
		t.Errorf("noise: %v does not wrap ErrUnrecognised", err)
	}
}

// No run of random bytes may be taken for an MP3 (or anything else).
func TestRandomBytesNotDetected(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	buf := make([]byte, 8192)
	for i := 0; i < 300; i++ {
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		// Start on a plausible MPEG sync to force the chain check.
		buf[0], buf[1] = 0xFF, 0xE3|byte(rng.IntN(2))<<3
		if info, err := probeBytes(buf, Hint{}); err == nil {
			t.Fatalf("random buffer %d detected as %+v", i, info)
		}
	}
}

// MP3s written by ffmpeg without a Xing/Info frame are measured by walking
// frame headers; the result must agree with ffprobe.
func TestProbeMP3Walk(t *testing.T) {
	ffmpeg := needTool(t, "ffmpeg")
	ffprobe := needTool(t, "ffprobe")
	dir := t.TempDir()
	tests := []struct {
		rate, ch, kbps int
	}{
		{8000, 1, 16}, {16000, 1, 32}, {22050, 2, 64}, {44100, 2, 128}, {48000, 1, 64},
	}
	for _, tc := range tests {
		p := filepath.Join(dir, strconv.Itoa(tc.rate)+".mp3")
		out, err := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2.5:sample_rate="+strconv.Itoa(tc.rate),
			"-ac", strconv.Itoa(tc.ch), "-c:a", "libmp3lame", "-b:a", strconv.Itoa(tc.kbps)+"k", "-write_xing", "0", "-id3v2_version", "0", "-y", p).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg: %v %s", err, out)
		}
		b, _ := os.ReadFile(p)
		info, err := probeBytes(b, Hint{})
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		out, err = exec.Command(ffprobe, "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		frames, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		spf := 1152
		if tc.rate < 32000 {
			spf = 576
		}
		want := wav.FramesDuration(int64(frames*spf), tc.rate)
		if info.Duration != want || info.SampleRate != tc.rate || info.Channels != tc.ch || info.Bitrate != tc.kbps || info.DataOffset != 0 {
			t.Errorf("%+v: got %+v, want duration %v (%d frames)", tc, info, want, frames)
		}
	}
}

func TestProbeMP3LeadingJunk(t *testing.T) {
	mp3 := readFile(t, "call-mono.mp3")
	in := append(bytes.Repeat([]byte{0}, 1000), mp3[45:]...)
	info, err := probeBytes(in, Hint{})
	if err != nil {
		t.Fatal(err)
	}
	if info.DataOffset != 1000 || info.Duration != 32544*time.Millisecond {
		t.Errorf("got %+v", info)
	}
}

func TestInfoFormat(t *testing.T) {
	info, _ := probeBytes(readFile(t, "call-alaw-stereo.wav"), Hint{})
	if f, ok := info.Format(); !ok || f != wav.ALaw {
		t.Errorf("Format() = %v, %v", f, ok)
	}
	info, _ = probeBytes(readFile(t, "call-mono.mp3"), Hint{})
	if _, ok := info.Format(); ok {
		t.Error("mp3 has a wav format")
	}
}

func FuzzProbe(f *testing.F) {
	for _, name := range []string{"call-alaw-stereo.wav", "call-mono.mp3", "screen.mp4"} {
		b := readFile(f, name)
		f.Add(b[:min(len(b), 3000)])
	}
	mp4 := readFile(f, "screen.mp4")
	f.Add(append(append([]byte{}, mp4[:40]...), mp4[40+50578:]...)) // moov without mdat
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := probeBytes(b, Hint{})
		if err != nil {
			return
		}
		if info.Duration < 0 || info.DataSize < 0 || info.DataOffset < 0 || info.DataOffset+info.DataSize > int64(len(b)) {
			t.Fatalf("inconsistent info %+v for %d bytes", info, len(b))
		}
	})
}
