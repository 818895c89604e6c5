package media

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/recvault/recvault/media/mp3dec"
	"github.com/recvault/recvault/media/mp3enc"
	"github.com/recvault/recvault/media/probe"
	"github.com/recvault/recvault/media/wav"
)

// synthWAV is a PCM16 WAV of n frames of speech-like noise and a sweep
// (one per channel for stereo) at rate.
func synthWAV(t testing.TB, rate, channels, n int) stored {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(rate), uint64(channels)))
	hdr, err := wav.AppendHeader(nil, wav.Header{Format: wav.PCM16, SampleRate: rate, Channels: channels, DataSize: int64(2 * n * channels)})
	if err != nil {
		t.Fatal(err)
	}
	b := hdr
	var y float64
	for i := range n {
		y = 0.9*y + 0.1*r.NormFloat64()
		tt := float64(i) / float64(rate)
		env := math.Max(0, math.Sin(2*math.Pi*3*tt))
		v := []float64{y * 60000 * env, 8000 * math.Sin(2*math.Pi*(200+300*tt)*tt)}
		for c := range channels {
			s := int16(max(-32768, min(32767, v[c])))
			b = append(b, byte(s), byte(uint16(s)>>8))
		}
	}
	return fromBytes(t, b, probe.Hint{})
}

// mp3Plans covers MP3 from PCM and G.711, mono and stereo, several rates
// (with and without resampling) and bitrates.
func mp3Plans(t testing.TB) []struct {
	s   stored
	req Request
} {
	alaw := load(t, "call-alaw-stereo.wav", probe.Hint{})
	ulaw := load(t, "call-ulaw-mono.wav", probe.Hint{})
	raw := fromBytes(t, alaw.b[58:58+2*70001], probe.Hint{Raw: wav.ALaw})
	s16 := synthWAV(t, 16000, 1, 16000*6+77)
	s44 := synthWAV(t, 44100, 2, 44100*3+5)
	s48 := synthWAV(t, 48000, 1, 48000*3+1)
	return []struct {
		s   stored
		req Request
	}{
		{alaw, Request{Format: "mp3", Channels: "agent"}},
		{alaw, Request{Format: "mp3", Bitrate: 64}},
		{ulaw, Request{Format: "mp3", Bitrate: 16}},
		{raw, Request{Format: "mp3", Channels: "mono", SampleRate: 11025, Bitrate: 24}},
		{raw, Request{Format: "mp3", SampleRate: 16000, Bitrate: 32}},
		{s16, Request{Format: "mp3", Bitrate: 48}},
		{s44, Request{Format: "mp3", Bitrate: 128}},
		{s44, Request{Format: "mp3", Channels: "mono", SampleRate: 48000, Bitrate: 64}},
		{s48, Request{Format: "mp3", Channels: "stereo", Bitrate: 160}},
	}
}

// A ranged read of an MP3 output, on a fresh Output and reader each time
// (no state from a full conversion), equals the slice of WriteTo's bytes;
// the planned Size is the full length; and one reader seeking back and
// forth and reading across segment boundaries agrees too.
func TestMP3RandomAccess(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range mp3Plans(t) {
		name := plan(t, tc.s, tc.req).Key()
		t.Run(name, func(t *testing.T) {
			o := plan(t, tc.s, tc.req)
			if !o.Seekable || o.Size <= 0 {
				t.Fatalf("seekable %v, size %d", o.Seekable, o.Size)
			}
			full := convert(t, o, tc.s) // checks len(full) == o.Size
			l, err := mp3enc.NewLayout(o.mp3Options())
			if err != nil {
				t.Fatal(err)
			}
			if l.Segments() < 3 {
				t.Fatalf("only %d segments: the test would not cross boundaries", l.Segments())
			}
			// Offsets at, just before and after segment starts, plus random ones.
			var offsets []int64
			for _, seg := range []int64{1, 2, l.Segments() - 1} {
				_, start := l.Segment(l.FrameOffset(seg * mp3enc.SegmentFrames))
				offsets = append(offsets, start-1, start, start+1)
			}
			offsets = append(offsets, 0, 1, o.Size-1, o.Size/2)
			for range 12 {
				offsets = append(offsets, rng.Int64N(o.Size))
			}
			for _, off := range offsets {
				fresh := plan(t, tc.s, tc.req)
				rs, err := fresh.Open(context.Background(), bytes.NewReader(tc.s.b))
				if err != nil {
					t.Fatal(err)
				}
				n := min(int64(1+rng.IntN(30000)), o.Size-off)
				if _, err := rs.Seek(off, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, n)
				if _, err := io.ReadFull(rs, got); err != nil {
					t.Fatalf("read %d at %d: %v", n, off, err)
				}
				if !bytes.Equal(got, full[off:off+n]) {
					t.Fatalf("%d bytes at %d differ from the full conversion first at byte %d", n, off, off+int64(firstDiff(got, full[off:])))
				}
			}
			// One reader, small uneven reads through two segment
			// boundaries, then backwards, then to the end.
			rs, err := o.Open(context.Background(), bytes.NewReader(tc.s.b))
			if err != nil {
				t.Fatal(err)
			}
			_, s1 := l.Segment(l.FrameOffset(mp3enc.SegmentFrames))
			_, s3 := l.Segment(l.FrameOffset(3*mp3enc.SegmentFrames - 1))
			for _, span := range [][2]int64{{s1 - 700, min(s3+900, o.Size)}, {7, 5000}, {o.Size - 3000, o.Size}} {
				if _, err := rs.Seek(span[0], io.SeekStart); err != nil {
					t.Fatal(err)
				}
				var got []byte
				for int64(len(got)) < span[1]-span[0] {
					p := make([]byte, min(1+rng.IntN(999), int(span[1]-span[0])-len(got)))
					k, err := rs.Read(p)
					if err != nil {
						t.Fatalf("read at %d: %v", span[0]+int64(len(got)), err)
					}
					got = append(got, p[:k]...)
				}
				if !bytes.Equal(got, full[span[0]:span[1]]) {
					t.Fatalf("bytes %d-%d differ at %d", span[0], span[1], span[0]+int64(firstDiff(got, full[span[0]:])))
				}
			}
			if n, err := rs.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("read at end: %d, %v", n, err)
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// The segmented stream still decodes to exactly the output's samples with
// the project's decoder and ffmpeg (gapless), read through Open.
func TestMP3SeekableDecodes(t *testing.T) {
	s := load(t, "call-pcm16-mono.wav", probe.Hint{})
	o := plan(t, s, Request{Format: "mp3"})
	rs, err := o.Open(context.Background(), bytes.NewReader(s.b))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rs)
	if err != nil {
		t.Fatal(err)
	}
	want := int(s.src.DataSize / 2)
	d, err := mp3dec.NewDecoder(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := io.ReadAll(sampleBytes{d})
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm)/2 != want {
		t.Errorf("mp3dec: %d samples, want %d", len(pcm)/2, want)
	}
	if got := ffmpegDecode(t, b, ".mp3"); len(got) != want {
		t.Errorf("ffmpeg: %d samples, want %d", len(got), want)
	}
}

// sampleBytes reads a decoder's samples as bytes (only their count matters).
type sampleBytes struct{ d *mp3dec.Decoder }

func (s sampleBytes) Read(p []byte) (int, error) {
	buf := make([]int16, len(p)/2)
	n, err := s.d.ReadSamples(buf)
	if n == 0 && err == nil {
		err = fmt.Errorf("no progress")
	}
	return 2 * n, err
}

// Short sources: none, under one frame, one segment exactly: Size, WriteTo
// and Open agree.
func TestMP3ShortSources(t *testing.T) {
	for _, n := range []int{0, 1, 575, 576 * mp3enc.SegmentFrames, 576*mp3enc.SegmentFrames + 1} {
		s := synthWAV(t, 8000, 1, n)
		o := plan(t, s, Request{Format: "mp3"})
		full := convert(t, o, s)
		rs, err := o.Open(context.Background(), bytes.NewReader(s.b))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rs)
		if err != nil || !bytes.Equal(got, full) {
			t.Errorf("%d samples: Open gives %d bytes (%v), WriteTo %d", n, len(got), err, len(full))
		}
	}
}
