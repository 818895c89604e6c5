package media

import (
	"bytes"
	"io"
	"testing"

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
