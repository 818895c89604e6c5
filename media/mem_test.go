package media

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/recvault/recvault/media/probe"
	"github.com/recvault/recvault/media/wav"
)

type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return s.HeapInuse
}

// stallWriter stands for a slow client: it takes the first limit bytes,
// then blocks until release is closed, so its stream holds whatever it
// holds while waiting on the network.
type stallWriter struct {
	n       int
	limit   int
	release chan struct{}
	started chan struct{}
	once    sync.Once
}

func (w *stallWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n >= w.limit {
		w.once.Do(func() { close(w.started) })
		<-w.release
	}
	return len(p), nil
}

// BenchmarkStreamMemory reports the heap each open conversion stream
// keeps while its client is slow (B/stream): streams outputs are opened,
// each read a little (32 KiB: what a server writes before the socket
// blocks), and the heap in use is compared before and after. Seekable
// outputs are read through Open, as http.ServeContent does; others run
// WriteTo into a writer that blocks. Run:
//
//	go test -run '^$' -bench StreamMemory -benchtime 1x ./media
func BenchmarkStreamMemory(b *testing.B) {
	const streams = 200
	pcm := load(b, "call-pcm16-mono.wav", probe.Hint{})
	alaw := load(b, "call-alaw-stereo.wav", probe.Hint{})
	rawALaw := fromBytes(b, alaw.b[58:58+258684], probe.Hint{Raw: wav.ALaw})
	for _, tc := range []struct {
		name string
		s    stored
		req  Request
	}{
		{"pcm-wav-to-wav", pcm, Request{Format: "wav"}},
		{"alaw-wav-to-wav", alaw, Request{Format: "wav"}},
		{"alaw-to-pcm-wav-16k", rawALaw, Request{Format: "wav", SampleRate: 16000}},
		{"alaw-stereo-to-ulaw-agent", alaw, Request{Format: "ulaw", Channels: "agent"}},
		{"pcm-to-mp3", pcm, Request{Format: "mp3"}},
		{"alaw-stereo-to-mp3", alaw, Request{Format: "mp3"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				b.ReportMetric(float64(streamMemory(b, tc.s, tc.req, streams)), "B/stream")
			}
		})
	}
}

func streamMemory(b *testing.B, s stored, req Request, streams int) uint64 {
	p := make([]byte, 32<<10) // the server's copy buffer: not the stream's
	release := make(chan struct{})
	var wg sync.WaitGroup
	keep := make([]io.ReadSeeker, 0, streams)
	before := heapInuse()
	for range streams {
		o := plan(b, s, req)
		if o.Seekable {
			rs, err := o.Open(context.Background(), bytes.NewReader(s.b))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(rs, p); err != nil {
				b.Fatal(err)
			}
			keep = append(keep, rs)
			continue
		}
		w := &stallWriter{limit: len(p), release: release, started: make(chan struct{})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := o.WriteTo(context.Background(), w, bytes.NewReader(s.b)); err != nil {
				b.Error(err)
			}
		}()
		<-w.started
	}
	after := heapInuse()
	runtime.KeepAlive(keep)
	close(release)
	wg.Wait()
	if after < before {
		return 0
	}
	return (after - before) / uint64(streams)
}
