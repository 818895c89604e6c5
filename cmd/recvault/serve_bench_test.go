package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
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
