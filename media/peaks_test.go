package media

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"

	"github.com/recvault/recvault/media/g711"
	"github.com/recvault/recvault/media/probe"
	"github.com/recvault/recvault/media/wav"
)

// TestPeaksFollowEachTrack: a dual-track call where the agent speaks in
// the first half and the customer in the second gives an envelope that is
// loud exactly there on each lane, and the spans cover every frame.
func TestPeaksFollowEachTrack(t *testing.T) {
	const frames = 16000 // 2 s at 8 kHz
	hdr, err := wav.AppendHeader(nil, wav.Header{Format: wav.ALaw, SampleRate: 8000, Channels: 2, DataSize: 2 * frames})
	if err != nil {
		t.Fatal(err)
	}
	for i := range frames {
		tone := int16(16000 * math.Sin(2*math.Pi*440*float64(i)/8000))
		l, r := tone, int16(0)
		if i >= frames/2 {
			l, r = 0, tone
		}
		hdr = append(hdr, g711.ALaw.EncodeSample(l), g711.ALaw.EncodeSample(r))
	}
	s := fromBytes(t, hdr, probe.Hint{})
	o := plan(t, s, Request{Format: FormatWAV})
	p, err := o.Peaks(context.Background(), bytes.NewReader(s.b), 100)
	if err != nil {
		t.Fatal(err)
	}
	if p.Frames != frames || len(p.Min) != 2 || len(p.Max[1]) != 100 || p.SampleRate != 8000 {
		t.Fatalf("frames %d, %d channels, %d points, %d Hz", p.Frames, len(p.Min), len(p.Max[1]), p.SampleRate)
	}
	for b := range 100 {
		loud, quiet := 0, 1
		if b >= 50 {
			loud, quiet = 1, 0
		}
		if p.Max[loud][b] < 0.4 || p.Min[loud][b] > -0.4 {
			t.Fatalf("point %d: channel %d spans [%v, %v], want a loud tone", b, loud, p.Min[loud][b], p.Max[loud][b])
		}
		if p.Max[quiet][b] > 0.01 || p.Min[quiet][b] < -0.01 {
			t.Fatalf("point %d: channel %d spans [%v, %v], want silence", b, quiet, p.Min[quiet][b], p.Max[quiet][b])
		}
	}
}

// TestPeaksMP3Source: an MP3 source, whose length only decoding tells,
// still fills every span, and a bad request is invalid.
func TestPeaksMP3Source(t *testing.T) {
	s := load(t, "call-mono.mp3", probe.Hint{})
	o := plan(t, s, Request{Format: FormatWAV})
	p, err := o.Peaks(context.Background(), bytes.NewReader(s.b), 400)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Max) != 1 || p.Frames == 0 {
		t.Fatalf("%d channels, %d frames", len(p.Max), p.Frames)
	}
	var nonzero int
	for b := range 400 {
		if p.Max[0][b]-p.Min[0][b] > 0.01 {
			nonzero++
		}
	}
	if nonzero < 200 {
		t.Errorf("only %d of 400 spans of real speech have any signal", nonzero)
	}
	for _, n := range []int{0, MaxPeakPoints + 1} {
		if _, err := o.Peaks(context.Background(), bytes.NewReader(s.b), n); !errors.Is(err, ErrInvalid) {
			t.Errorf("points %d: %v, want ErrInvalid", n, err)
		}
	}
}
