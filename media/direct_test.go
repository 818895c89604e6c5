package media

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/iotest"

	"github.com/recvault/recvault/media/probe"
)

// The direct byte-to-byte conversion must give exactly what the general
// int16 path gives, for every source and output sample format.
func TestDirectMatchesGeneral(t *testing.T) {
	for _, name := range []string{"call-alaw-stereo.wav", "call-pcm16-mono.wav", "call-ulaw-mono.wav"} {
		s := load(t, name, probe.Hint{})
		for _, f := range []string{"wav", "wav-alaw", "wav-ulaw", "alaw", "ulaw"} {
			o := plan(t, s, Request{Format: f})
			data := func() io.Reader {
				return io.LimitReader(bytes.NewReader(s.b[s.src.DataOffset:]), s.src.DataSize)
			}
			sr, err := o.sampleReader(data(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := sr.(*directConverter); !ok {
				t.Fatalf("%s → %s: not on the direct path", name, f)
			}
			direct, err := io.ReadAll(sr)
			if err != nil {
				t.Fatal(err)
			}
			fr, err := o.sourceReader(data(), 0)
			if err != nil {
				t.Fatal(err)
			}
			general, err := io.ReadAll(newSampleEncoder(fr, o.enc))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(direct, general) {
				t.Errorf("%s → %s: direct and general paths differ", name, f)
			}
		}
	}
}

// Conversions keep only a split sample between reads: source reads of one
// byte and output reads of one byte (or odd sizes) must give the bytes a
// plain conversion gives.
func TestTinyReads(t *testing.T) {
	for _, tc := range seekablePlans(t) {
		o := plan(t, tc.s, tc.req)
		if o.Format == FormatOriginal {
			continue
		}
		full := convert(t, o, tc.s)
		var slow bytes.Buffer
		if _, err := o.WriteTo(context.Background(), &slow, iotest.OneByteReader(bytes.NewReader(tc.s.b))); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(slow.Bytes(), full) {
			t.Errorf("%s: one-byte source reads change the output", o.Key())
		}
		rs, err := o.Open(context.Background(), bytes.NewReader(tc.s.b))
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		p := make([]byte, 7)
		for i := 0; ; i++ {
			n, err := rs.Read(p[:1+i%len(p)])
			got = append(got, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, full) {
			t.Errorf("%s: reads of 1–7 bytes give %d bytes, differ at %d", o.Key(), len(got), firstDiff(got, full))
		}
	}
}
