package mp3enc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/recvault/recvault/media/mp3dec"
)

// mp3decDecode decodes with recvault's own decoder.
func mp3decDecode(t testing.TB, mp3 []byte) []int16 {
	t.Helper()
	d, err := mp3dec.NewDecoder(bytes.NewReader(mp3))
	if err != nil {
		t.Fatal(err)
	}
	var out []int16
	buf := make([]int16, 4096)
	for {
		n, err := d.ReadSamples(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// lameDecode decodes with LAME's decoder (`lame --decode`).
func lameDecode(t testing.TB, mp3 []byte) []int16 {
	t.Helper()
	lame := needTool(t, "lame")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.mp3"), filepath.Join(dir, "out.raw")
	if err := writeFile(in, mp3); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(lame, "--decode", "--silent", "-t", in, out).CombinedOutput(); err != nil || len(msg) != 0 {
		t.Fatalf("lame --decode: %v: %s", err, msg)
	}
	raw, err := readFile(out)
	if err != nil {
		t.Fatal(err)
	}
	dec := make([]int16, len(raw)/2)
	for i := range dec {
		dec[i] = int16(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
	}
	return dec
}

// TestGapless checks that with the length known up front, ffmpeg, LAME's
// decoder and mp3dec all return exactly the samples encoded, aligned at
// sample 0, for lengths around frame boundaries and for settings whose
// frames are too small for the tag (the Info frame then has its own
// bitrate).
//
// Two limits of the reference tools, seen with ffmpeg 5.1 and LAME 3.100,
// keep the shortest streams out: ffmpeg trims too little when the input
// ends in the frame where the start trim ends (under 95 samples here), and
// `lame --decode` refuses streams with only a couple of hundred bytes of
// audio after an Info frame. mp3dec is exact at any length.
func TestGapless(t *testing.T) {
	for _, o := range []Options{
		{SampleRate: 8000, Channels: 1, Bitrate: 32},
		{SampleRate: 8000, Channels: 2, Bitrate: 8},
		{SampleRate: 24000, Channels: 1, Bitrate: 8},
		{SampleRate: 44100, Channels: 2, Bitrate: 128},
	} {
		spf := 576
		if o.SampleRate >= 32000 {
			spf = 1152
		}
		for _, n := range []int{1, 100, spf - 1, spf, 3*spf + 1, 5000} {
			name := fmt.Sprintf("%d_%dch_%dk_n%d", o.SampleRate, o.Channels, o.Bitrate, n)
			t.Run(name, func(t *testing.T) {
				pcm := speechNoise(n, o.SampleRate, uint64(n))
				if o.Channels == 2 {
					pcm = interleave(pcm, sine(n, o.SampleRate, 700, 6000))
				}
				o := o
				o.TotalSamples = int64(n)
				mp3 := encodeAs(t, o, pcm)
				nf := checkLayout(t, o, mp3)
				if want := (n + closePad + spf - 1) / spf; nf != want {
					t.Errorf("%d audio frames, want %d", nf, want)
				}
				own := mp3decDecode(t, mp3)
				sameLength(t, "mp3dec", pcm, own)
				if n < 95 {
					return // below ffmpeg's limit
				}
				ff := ffmpegDecode(t, mp3, o.Channels, o.SampleRate)
				sameLength(t, "ffmpeg", pcm, ff)
				lm := ff
				if len(mp3)-checkInfo(t, o, mp3).size >= 400 {
					lm = lameDecode(t, mp3)
					sameLength(t, "lame --decode", pcm, lm)
				}
				if n < spf {
					return // too short for a meaningful SNR
				}
				min := 5.0 // 8 kbit/s
				if o.Bitrate >= 32 {
					min = 15
				}
				for c := range o.Channels {
					for _, d := range []struct {
						name string
						pcm  []int16
					}{{"ffmpeg", ff}, {"mp3dec", own}, {"lame", lm}} {
						if s := snr(pcm, d.pcm, o.Channels, c); s < min {
							t.Errorf("%s ch%d: SNR %.1f dB at lag 0, want ≥ %.0f", d.name, c, s, min)
						}
					}
					if s := snr(ff, own, o.Channels, c); s < 60 {
						t.Errorf("mp3dec vs ffmpeg ch%d: %.1f dB", c, s)
					}
				}
			})
		}
	}
}

// TestUnknownLength covers TotalSamples 0: the Info frame then records
// the delay with frame count 0. ffmpeg (5.1) skips a Xing/Info frame only
// when it records a frame or byte count, so it decodes this one as a
// silent frame of audio, then trims the delay: the input comes out one
// frame late, followed by the end padding. mp3dec reads the tag the same
// way and must match ffmpeg sample for sample in length and alignment.
func TestUnknownLength(t *testing.T) {
	o := Options{SampleRate: 8000, Channels: 1, Bitrate: 32}
	const n, spf = 4000, 576
	pcm := speechNoise(n, 8000, 5)
	mp3 := encodeAs(t, o, pcm)
	nf := checkLayout(t, o, mp3)
	if tag := checkInfo(t, o, mp3); tag.frames != 0 {
		t.Fatalf("Info frame count %d, want 0 (unknown)", tag.frames)
	}
	// All frames decode (the Info frame too), less the trimmed delay.
	want := (nf+1)*spf - delaySamples
	late := append(make([]int16, spf), pcm...)
	ff := ffmpegDecode(t, mp3, 1, 8000)
	own := mp3decDecode(t, mp3)
	for _, d := range []struct {
		name string
		pcm  []int16
	}{{"ffmpeg", ff}, {"mp3dec", own}} {
		if len(d.pcm) != want {
			t.Errorf("%s: %d samples, want %d", d.name, len(d.pcm), want)
		}
		if s := snr(late, d.pcm, 1, 0); s < 15 {
			t.Errorf("%s: SNR %.1f dB one frame late", d.name, s)
		}
	}
}

// TestTotalSamplesMismatch: writing more than TotalSamples fails; writing
// fewer gives a complete stream padded with silence to TotalSamples (so it
// still matches its Info frame) and ErrLength from Close.
func TestTotalSamplesMismatch(t *testing.T) {
	o := Options{SampleRate: 8000, Channels: 2, Bitrate: 32, TotalSamples: 1000}
	var buf bytes.Buffer
	e, err := NewEncoder(&buf, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Write(make([]int16, 2*1001)); !errors.Is(err, ErrLength) {
		t.Errorf("Write past TotalSamples: %v, want ErrLength", err)
	}

	buf.Reset()
	if e, err = NewEncoder(&buf, o); err != nil {
		t.Fatal(err)
	}
	pcm := interleave(sine(600, 8000, 440, 9000), sine(600, 8000, 440, 9000))
	if err := e.Write(pcm); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); !errors.Is(err, ErrLength) {
		t.Errorf("Close after 600 of 1000 samples: %v, want ErrLength", err)
	}
	checkLayout(t, o, buf.Bytes())
	dec := ffmpegDecode(t, buf.Bytes(), 2, 8000)
	if len(dec) != 2*1000 {
		t.Errorf("ffmpeg decoded %d samples, want %d", len(dec), 2*1000)
	}
	if s := snr(pcm, dec[:len(pcm)], 2, 0); s < 15 {
		t.Errorf("SNR %.1f dB", s)
	}

	if _, err := NewEncoder(&buf, Options{SampleRate: 8000, Channels: 1, Bitrate: 32, TotalSamples: -1}); err == nil {
		t.Error("negative TotalSamples accepted")
	}
}
