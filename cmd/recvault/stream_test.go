package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/media/wav"
)

// alawWAV builds a mono 8 kHz A-law WAV of secs seconds of a changing tone.
func alawWAV(secs int) []byte {
	n := secs * 8000
	b, err := wav.AppendHeader(make([]byte, 0, 58+n), wav.Header{Format: wav.ALaw, SampleRate: 8000, Channels: 1, DataSize: int64(n)})
	if err != nil {
		panic(err)
	}
	pattern := []byte{0xd5, 0xa5, 0x95, 0x85, 0x95, 0xa5, 0xd5, 0x25, 0x15, 0x05, 0x15, 0x25}
	for i := 0; i < n; i++ {
		b = append(b, pattern[(i/(1+i/80000))%len(pattern)])
	}
	return b
}

// ingestLong stores a long A-law recording and returns it.
func ingestLong(tb testing.TB, env *testEnv, secs int) *recvault.Recording {
	rec, _, err := env.app.svc.Ingest(context.Background(), nil, ingestReq(500, "long"), bytes.NewReader(alawWAV(secs)))
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

// TestClientGoneStopsConversion starts an MP3 conversion of a 30-minute
// recording, reads its first bytes, hangs up, and checks that the
// conversion stopped: no goroutine and no temporary file left behind, and
// nothing half-made in the transcode cache.
func TestClientGoneStopsConversion(t *testing.T) {
	env := startEnv(t)
	rec := ingestLong(t, env, 30*60)
	tok := env.loginDemo("admin")
	before := runtime.NumGoroutine()

	req, _ := http.NewRequest("GET", env.URL+"/api/v1/recordings/"+rec.ID+"/media?format=mp3", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 4096)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") != "audio/mpeg" || first[0] != 0xff {
		t.Fatalf("not an MP3 stream: %s % x", resp.Header.Get("Content-Type"), first[:4])
	}
	resp.Body.Close()
	tr.CloseIdleConnections()

	cacheDir := filepath.Join(env.dir, "cache")
	deadline := time.Now().Add(5 * time.Second)
	for {
		tmp, _ := filepath.Glob(filepath.Join(cacheDir, "*.tmp"))
		g := runtime.NumGoroutine()
		if len(tmp) == 0 && g <= before+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("conversion still running after the client left: %d goroutines (before %d), temp files %v", g, before, tmp)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A-law to MP3 is computed on the fly (seekable), without the cache.
	if _, n, fills := env.app.cache.Stats(); n != 0 || fills != 0 {
		t.Fatalf("cache holds %d outputs after %d conversions; A-law to MP3 must not use it", n, fills)
	}
}

// BenchmarkFirstByteMP360Min measures how long the first bytes of an MP3
// conversion of a 60-minute recording take to reach an HTTP client (the
// client hangs up after them, so every iteration starts a fresh
// conversion). Report: go test -run '^$' -bench FirstByte ./cmd/recvault
func BenchmarkFirstByteMP360Min(b *testing.B) {
	env := startEnvBench(b)
	rec := ingestLong(b, env, 60*60)
	tok := env.loginDemo("admin")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", env.URL+"/api/v1/recordings/"+rec.ID+"/media?format=mp3", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		tr := &http.Transport{}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			b.Fatal(err)
		}
		one := make([]byte, 1)
		if _, err := io.ReadFull(resp.Body, one); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		resp.Body.Close()
		tr.CloseIdleConnections()
		time.Sleep(50 * time.Millisecond) // let the aborted conversion unwind
		b.StartTimer()
	}
}
