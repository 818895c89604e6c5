package mp3enc

import (
	"bytes"
	"encoding/binary"
	"github.com/recvault/recvault/internal/testtool"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// needTool: see testtool.Need.
func needTool(t testing.TB, name string) string { return testtool.Need(t, name) }

// encode runs the encoder over interleaved samples, feeding it in uneven
// chunks to exercise buffering. It tells the encoder the length up front
// (Options.TotalSamples), as recvault does for stored recordings.
func encode(t testing.TB, o Options, pcm []int16) []byte {
	t.Helper()
	o.TotalSamples = int64(len(pcm) / o.Channels)
	return encodeAs(t, o, pcm)
}

// encodeAs is encode with the options as given.
func encodeAs(t testing.TB, o Options, pcm []int16) []byte {
	t.Helper()
	var buf bytes.Buffer
	e, err := NewEncoder(&buf, o)
	if err != nil {
		t.Fatal(err)
	}
	chunks := []int{1, 333, 4097, 10, 999}
	for i := 0; len(pcm) > 0; i++ {
		n := min(chunks[i%len(chunks)], len(pcm))
		if err := e.Write(pcm[:n]); err != nil {
			t.Fatal(err)
		}
		pcm = pcm[n:]
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ffmpegDecode decodes an MP3 with ffmpeg and fails on any message ffmpeg
// prints at level error.
func ffmpegDecode(t testing.TB, mp3 []byte, channels, rate int) []int16 {
	t.Helper()
	ff := needTool(t, "ffmpeg")
	path := filepath.Join(t.TempDir(), "x.mp3")
	if err := os.WriteFile(path, mp3, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ff, "-v", "error", "-i", path, "-f", "s16le",
		"-ac", strconv.Itoa(channels), "-ar", strconv.Itoa(rate), "-")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Fatalf("ffmpeg reported errors: %s", stderr.String())
	}
	b := out.Bytes()
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm
}

// probe is what ffprobe says about the first audio stream.
type probe struct {
	sampleRate, channels, bitRate int
	duration                      float64
}

func ffprobe(t testing.TB, mp3 []byte) probe {
	t.Helper()
	fp := needTool(t, "ffprobe")
	path := filepath.Join(t.TempDir(), "p.mp3")
	if err := os.WriteFile(path, mp3, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(fp, "-v", "error", "-select_streams", "a:0",
		"-show_entries", "stream=sample_rate,channels,bit_rate,duration",
		"-of", "default=noprint_wrappers=1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	var p probe
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "sample_rate":
			p.sampleRate, _ = strconv.Atoi(v)
		case "channels":
			p.channels, _ = strconv.Atoi(v)
		case "bit_rate":
			p.bitRate, _ = strconv.Atoi(v)
		case "duration":
			p.duration, _ = strconv.ParseFloat(v, 64)
		default:
			t.Fatalf("ffprobe: unexpected line %q", line)
		}
	}
	return p
}

// frames walks an MP3 stream frame by frame and returns the headers and
// sizes; it fails on anything between frames.
func frames(t testing.TB, mp3 []byte) ([]mp3tab.Header, []int) {
	t.Helper()
	var hs []mp3tab.Header
	var sizes []int
	for off := 0; off < len(mp3); {
		h, err := mp3tab.ParseHeader(mp3[off:])
		if err != nil {
			t.Fatalf("frame %d at byte %d: %v", len(hs), off, err)
		}
		n := h.FrameSize()
		if off+n > len(mp3) {
			t.Fatalf("frame %d at byte %d: %d bytes, only %d left", len(hs), off, n, len(mp3)-off)
		}
		hs = append(hs, h)
		sizes = append(sizes, n)
		off += n
	}
	return hs, sizes
}

// snr returns the signal-to-noise ratio in dB of dec against ref for one
// channel (stride ch, offset c), sample by sample with no lag: the Info
// frame's delay and padding make decoders output the input aligned at
// sample 0. Samples missing from dec count as errors.
func snr(ref, dec []int16, ch, c int) float64 {
	var sig, noise float64
	for i := c; i < len(ref); i += ch {
		r := float64(ref[i])
		d := r
		if i < len(dec) {
			d -= float64(dec[i])
		}
		sig += r * r
		noise += d * d
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// snrBestLag returns the signal-to-noise ratio in dB of dec against ref for
// one channel (stride ch, offset c) at the decoder lag in 0..maxLag that gives
// the best ratio, and that lag. Candidate lags are those whose
// cross-correlation over the loudest 8192 samples is within 1 % of the
// best (periodic signals correlate equally at whole periods), and the
// ratio is measured over the whole signal for each.
func snrBestLag(ref, dec []int16, ch, c, maxLag int) (float64, int) {
	n := len(ref) / ch
	get := func(s []int16, i int) float64 {
		if i < 0 || i*ch+c >= len(s) {
			return 0
		}
		return float64(s[i*ch+c])
	}
	// Correlate over the loudest window of the reference: a window of
	// silence says nothing about the lag.
	w0, w1, wE := 0, min(8192, n), -1.0
	for s := 0; s < n; s += 4096 {
		var en float64
		for i := s; i < min(s+8192, n); i++ {
			en += get(ref, i) * get(ref, i)
		}
		if en > wE {
			w0, w1, wE = s, min(s+8192, n), en
		}
	}
	corr := make([]float64, maxLag+1)
	best := math.Inf(-1)
	for lag := range corr {
		var x float64
		for i := w0; i < w1; i++ {
			x += get(ref, i) * get(dec, i+lag)
		}
		corr[lag] = x
		best = max(best, x)
	}
	bestSNR, bestLag := math.Inf(-1), 0
	for lag, x := range corr {
		if x < best-0.01*math.Abs(best) {
			continue
		}
		var sig, noise float64
		for i := range n {
			r := get(ref, i)
			d := r - get(dec, i+lag)
			sig += r * r
			noise += d * d
		}
		v := math.Inf(1)
		if noise > 0 {
			v = 10 * math.Log10(sig/noise)
		}
		if v > bestSNR {
			bestSNR, bestLag = v, lag
		}
	}
	return bestSNR, bestLag
}

// sameLength fails unless a decoder returned exactly the samples encoded.
func sameLength(t testing.TB, what string, ref, dec []int16) {
	t.Helper()
	if len(dec) != len(ref) {
		t.Errorf("%s: decoded %d samples, encoded %d", what, len(dec), len(ref))
	}
}

// sine returns n samples (per channel) of a tone at freq Hz, amplitude amp.
func sine(n, rate int, freq, amp float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return s
}

// sweep returns a logarithmic sweep from f0 to f1 Hz.
func sweep(n, rate int, f0, f1, amp float64) []int16 {
	s := make([]int16, n)
	k := math.Log(f1 / f0)
	T := float64(n) / float64(rate)
	for i := range s {
		tt := float64(i) / float64(rate)
		ph := 2 * math.Pi * f0 * T / k * (math.Exp(tt/T*k) - 1)
		s[i] = int16(amp * math.Sin(ph))
	}
	return s
}

// speechNoise returns noise shaped like speech: a falling spectrum (two
// one-pole low-pass stages) under a syllable-rate (4 Hz) envelope with
// pauses.
func speechNoise(n, rate int, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 1))
	s := make([]int16, n)
	a := math.Exp(-2 * math.Pi * 700 / float64(rate))
	var y1, y2 float64
	for i := range s {
		x := r.NormFloat64()
		y1 = a*y1 + (1-a)*x
		y2 = a*y2 + (1-a)*y1
		tt := float64(i) / float64(rate)
		env := math.Max(0, math.Sin(2*math.Pi*4*tt)) * (0.6 + 0.4*math.Sin(2*math.Pi*0.3*tt))
		v := y2 * 40000 * env
		s[i] = int16(math.Max(-32768, math.Min(32767, v)))
	}
	return s
}

// readWAV returns the 16-bit PCM samples of a canonical WAV file.
func readWAV(t testing.TB, path string) (pcm []int16, rate, channels int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", path)
	}
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8 : min(off+8+size, len(b))]
		switch id {
		case "fmt ":
			if binary.LittleEndian.Uint16(body) != 1 || binary.LittleEndian.Uint16(body[14:]) != 16 {
				t.Fatalf("%s: not 16-bit PCM", path)
			}
			channels = int(binary.LittleEndian.Uint16(body[2:]))
			rate = int(binary.LittleEndian.Uint32(body[4:]))
		case "data":
			pcm = make([]int16, len(body)/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
		}
		off += 8 + size + size&1
	}
	return pcm, rate, channels
}

func interleave(l, r []int16) []int16 {
	s := make([]int16, 2*len(l))
	for i := range l {
		s[2*i], s[2*i+1] = l[i], r[i]
	}
	return s
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }
