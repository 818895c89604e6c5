package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSmallDownload is the serve path of a ~100 KB recording through
// the native API over real HTTP keep-alive connections, in parallel: the
// session check, the catalogue lookup, the access rule, the durable audit
// record, the blob open and the body. It is for profiles (-cpuprofile,
// -memprofile) and allocation counts; bench/audit.sh compares the served
// rate with nginx. Report: go test -run '^$' -bench SmallDownload -benchmem ./cmd/recvault
func BenchmarkSmallDownload(b *testing.B) {
	env := startEnvBench(b)
	src := wavPCM16(50000, 3)
	rec, _, err := env.app.svc.Ingest(context.Background(), nil, ingestReq(110, "bench-small"), bytes.NewReader(src))
	if err != nil {
		b.Fatal(err)
	}
	tok := env.loginDemo("admin")
	url := env.URL + "/api/v1/recordings/" + rec.ID + "/media"
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 64<<10)
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || n != int64(len(src)) {
				b.Errorf("download: %d, %d bytes, %v", resp.StatusCode, n, err)
				return
			}
		}
	})
}

// BenchmarkSlowStreamMemory measures the server memory one slow download
// holds: 200 clients each start a download and then read nothing (the
// slowest client there is), so every server goroutine blocks in a write
// with its buffers held; after a GC, the rise in heap and stack in use
// divided by 200 is reported as KiB/stream. The clients are raw sockets
// with a small receive buffer, whose own memory is a few hundred bytes.
// Formats: the stored original (a PCM WAV), a WAV conversion (A-law to
// 16-bit PCM), and MP3 of the PCM recording.
// Report: go test -run '^$' -bench SlowStreamMemory -benchtime 1x ./cmd/recvault
func BenchmarkSlowStreamMemory(b *testing.B) {
	env := startEnvBench(b)
	ctx := context.Background()
	pcm, _, err := env.app.svc.Ingest(ctx, nil, ingestReq(110, "slow-pcm"), bytes.NewReader(wavPCM16(8000*600, 5)))
	if err != nil {
		b.Fatal(err)
	}
	alaw, _, err := env.app.svc.Ingest(ctx, nil, ingestReq(110, "slow-alaw"), bytes.NewReader(alawWAV(1200)))
	if err != nil {
		b.Fatal(err)
	}
	tok := env.loginDemo("admin")
	host := strings.TrimPrefix(env.URL, "http://")
	for _, c := range []struct{ name, path string }{
		{"original", "/api/v1/recordings/" + pcm.ID + "/media"},
		{"wav-from-alaw", "/api/v1/recordings/" + alaw.ID + "/media?format=wav"},
		{"mp3", "/api/v1/recordings/" + pcm.ID + "/media?format=mp3"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				b.ReportMetric(slowStreams(b, host, c.path, tok, 200), "KiB/stream")
			}
		})
	}
}

// slowStreams opens n downloads of path that read only the response
// headers, and returns the server memory per stream in KiB.
func slowStreams(b *testing.B, host, path, tok string, n int) float64 {
	b.Helper()
	inUse := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	before := inUse()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		time.Sleep(200 * time.Millisecond) // let the handlers see the hang-ups
	}()
	for range n {
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			return errors.Join(err, serr)
		}}
		c, err := d.Dial("tcp", host)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", path, host, tok); err != nil {
			b.Fatal(err)
		}
		head := make([]byte, 12)
		if _, err := io.ReadFull(c, head); err != nil || string(head[9:12]) != "200" {
			b.Fatalf("%s: %q %v", path, head, err)
		}
	}
	time.Sleep(time.Second) // every handler fills its socket and blocks
	after := inUse()
	if p := os.Getenv("SLOWMEM_HEAPPROFILE"); p != "" {
		f, _ := os.Create(p)
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		b.Logf("stack in use %d KiB, heap in use %d KiB", m.StackInuse>>10, m.HeapInuse>>10)
	}
	return float64(int64(after)-int64(before)) / float64(n) / 1024
}
