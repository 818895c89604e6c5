package mp3enc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// encodeFrom encodes pcm (the whole stream's input) from segment seg with
// NewEncoderAt, feeding only the warm-up and the input from the segment on.
func encodeFrom(t testing.TB, o Options, l Layout, pcm []int16, seg int64) []byte {
	t.Helper()
	nch := o.Channels
	start := l.SegmentSample(seg)
	warm := make([]int16, WarmupSamples*nch)
	if seg > 0 {
		copy(warm, pcm[(start-WarmupSamples)*int64(nch):start*int64(nch)])
	}
	var buf bytes.Buffer
	e, err := NewEncoderAt(&buf, o, seg, warm)
	if err != nil {
		t.Fatal(err)
	}
	rest := pcm[min(start*int64(nch), int64(len(pcm))):]
	for len(rest) > 0 {
		n := min(len(rest), 777*nch)
		if err := e.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSegmentsIndependent checks the property byte ranges rely on: an
// encoder started at any segment writes exactly the tail of the full
// stream, and Layout predicts the full stream's size and segment offsets.
func TestSegmentsIndependent(t *testing.T) {
	cases := []Options{
		{SampleRate: 8000, Channels: 1, Bitrate: 32},
		{SampleRate: 8000, Channels: 1, Bitrate: 8},
		{SampleRate: 8000, Channels: 2, Bitrate: 64},
		{SampleRate: 11025, Channels: 1, Bitrate: 24},
		{SampleRate: 16000, Channels: 1, Bitrate: 48},
		{SampleRate: 22050, Channels: 2, Bitrate: 64},
		{SampleRate: 44100, Channels: 2, Bitrate: 128},
		{SampleRate: 48000, Channels: 1, Bitrate: 64},
	}
	for _, o := range cases {
		t.Run(fmt.Sprintf("%d-%dch-%dk", o.SampleRate, o.Channels, o.Bitrate), func(t *testing.T) {
			n := 3*SegmentFrames*1152 + 12345 // several segments and a ragged end
			if testing.Short() {
				n = SegmentFrames*1152 + 999
			}
			var pcm []int16
			if o.Channels == 1 {
				pcm = speechNoise(n, o.SampleRate, 5)
			} else {
				pcm = interleave(speechNoise(n, o.SampleRate, 6), sweep(n, o.SampleRate, 100, float64(o.SampleRate)/3, 9000))
			}
			o.TotalSamples = int64(n)
			full := encodeAs(t, o, pcm)
			l, err := NewLayout(o)
			if err != nil {
				t.Fatal(err)
			}
			if l.Size() != int64(len(full)) {
				t.Fatalf("Layout.Size %d, stream %d bytes", l.Size(), len(full))
			}
			if l.Segments() < 2 {
				t.Fatalf("%d segments", l.Segments())
			}
			for seg := range l.Segments() {
				_, start := l.Segment(l.FrameOffset(seg * SegmentFrames))
				got := encodeFrom(t, o, l, pcm, seg)
				if !bytes.Equal(got, full[start:]) {
					i := 0
					for i < len(got) && i < len(full)-int(start) && got[i] == full[int(start)+i] {
						i++
					}
					t.Fatalf("segment %d (byte %d): %d bytes, want %d; first difference at +%d", seg, start, len(got), len(full)-int(start), i)
				}
			}
			// Every offset maps to the segment whose bytes hold it.
			r := rand.New(rand.NewPCG(uint64(o.SampleRate), 7))
			for range 200 {
				off := r.Int64N(int64(len(full)))
				seg, start := l.Segment(off)
				if start > off || (seg+1 < l.Segments() && l.FrameOffset((seg+1)*SegmentFrames) <= off) {
					t.Fatalf("offset %d: segment %d at %d", off, seg, start)
				}
			}
		})
	}
}

// TestSegmentBadStart checks NewEncoderAt's refusals.
func TestSegmentBadStart(t *testing.T) {
	o := Options{SampleRate: 8000, Channels: 1, Bitrate: 32, TotalSamples: 8000}
	warm := make([]int16, WarmupSamples)
	var buf bytes.Buffer
	if _, err := NewEncoderAt(&buf, o, 5, warm); err == nil {
		t.Error("segment past the end accepted")
	}
	if _, err := NewEncoderAt(&buf, Options{SampleRate: 8000, Channels: 1, Bitrate: 32, TotalSamples: 1e6}, 1, warm[:10]); err == nil {
		t.Error("short warm-up accepted")
	}
	o.TotalSamples = 0
	if _, err := NewEncoderAt(&buf, o, 1, warm); err == nil {
		t.Error("unknown length accepted")
	}
}
