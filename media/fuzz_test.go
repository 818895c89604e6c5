package media

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/recvault/recvault/media/probe"
)

// FuzzPipeline feeds arbitrary stored bytes through probe, Plan and both
// conversion entry points: bad input may fail, but must not panic, and a
// seekable output must deliver exactly Size bytes or an error.
func FuzzPipeline(f *testing.F) {
	for _, name := range []string{"call-alaw-stereo.wav", "call-mono.mp3", "call-pcm16-mono.wav"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 4000)], uint8(0))
	}
	reqs := []Request{
		{Format: "wav"}, {Format: "wav-ulaw", Channels: "mono"}, {Format: "alaw", Channels: "stereo", SampleRate: 16000},
		{Format: "wav", Channels: "agent"}, {Format: "mp3"}, {Format: "original"},
	}
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		info, err := probe.Probe(bytes.NewReader(b), int64(len(b)), probe.Hint{})
		if err != nil {
			return
		}
		req := reqs[int(which)%len(reqs)]
		if req.Format == "mp3" && len(b) > 20000 {
			return // keep each run short
		}
		o, err := Plan(Source{Info: info, Size: int64(len(b))}, req)
		if err != nil {
			return
		}
		n, err := o.WriteTo(context.Background(), io.Discard, bytes.NewReader(b))
		if err == nil && o.Size >= 0 && n != o.Size {
			t.Fatalf("%s: wrote %d bytes, Size %d", o.Key(), n, o.Size)
		}
		if o.Seekable {
			rs, err := o.Open(context.Background(), bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rs.Seek(o.Size/3, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rs)
			if err == nil && int64(len(got)) != o.Size-o.Size/3 {
				t.Fatalf("%s: read %d bytes from %d, Size %d", o.Key(), len(got), o.Size/3, o.Size)
			}
		}
	})
}
