package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/sealed"
	"github.com/recvault/recvault/blob/sealed/keyfile"
)

// corruptStored flips one byte of the stored (sealed) bytes of blob key at
// offset off, on whichever backend the test runs, as a failing disk or a
// tampering operator would.
func (e *testEnv) corruptStored(key string, off int64) {
	e.t.Helper()
	ctx := context.Background()
	b, err := e.app.raw.Open(ctx, key)
	if err != nil {
		e.t.Fatal(err)
	}
	stored, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	b.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	stored[off] ^= 0x40
	if err := e.app.raw.Delete(ctx, key); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.app.raw.Put(ctx, key, bytes.NewReader(stored)); err != nil {
		e.t.Fatal(err)
	}
}

// fetch downloads path and reports whether a complete, successful body
// equal to want (if given) arrived: a failed verification must show as an
// error status or a broken transfer, never as a good file.
func (e *testEnv) fetchOK(path string, hdr ...string) (bool, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || (resp.StatusCode != 200 && resp.StatusCode != 206) {
		return false, b
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		return false, b // a CC-Gateway retcode answer
	}
	return true, b
}

// TestFlippedByteNeverServed: one flipped byte in a stored recording makes
// its original, WAV, MP3 and Range downloads fail on all three APIs, while
// a second recording with identical bytes still gets its correct MP3 (the
// transcode cache is keyed by recording and filled only from verified
// reads), and the failure is audited as an integrity failure.
func TestFlippedByteNeverServed(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	src := wavPCM16(8000*30, 11) // 480 KB: many chunks
	a, _, err := env.app.svc.Ingest(ctx, nil, ingestReqPath(110, "flip-a", "4977", "Y:/9/0/20260101/4977/1.V3"), bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := env.app.svc.Ingest(ctx, nil, ingestReqPath(110, "flip-b", "4977", "Y:/9/0/20260101/4977/2.V3"), bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	tok := env.loginDemo("admin")
	auth := []string{"Authorization", "Bearer " + tok}
	ok, mp3B := env.fetchOK("/api/v1/recordings/"+b.ID+"/media?format=mp3", auth...)
	if !ok || len(mp3B) < 1000 {
		t.Fatal("MP3 of the intact recording before the flip")
	}
	env.corruptStored(a.BlobKey, 200_000) // inside a chunk in the middle

	v1 := "/api/v1/recordings/" + a.ID + "/media"
	for _, c := range []struct {
		name string
		path string
		hdr  []string
	}{
		{"v1 original", v1, auth},
		{"v1 wav", v1 + "?format=wav", auth},
		{"v1 mp3", v1 + "?format=mp3", auth},
		{"v1 range over the bad chunk", v1, append([]string{"Range", "bytes=190000-210000"}, auth...)},
		// MP3 of PCM is computed by offset (segments): a range reaching
		// past the bad chunk's audio must fail, one before it need not.
		{"v1 mp3 range", v1 + "?format=mp3", append([]string{"Range", "bytes=100-"}, auth...)},
	} {
		if ok, body := env.fetchOK(c.path, c.hdr...); ok {
			t.Errorf("%s: served %d bytes of a corrupt recording", c.name, len(body))
		}
	}
	// A range that does not touch the bad chunk is still exact.
	if ok, body := env.fetchOK(v1, append([]string{"Range", "bytes=0-999"}, auth...)...); !ok || !bytes.Equal(body, src[:1000]) {
		t.Errorf("range before the bad chunk: ok=%v, %d bytes", ok, len(body))
	}
	sid := env.ameyoLogin("supervisor@exotel.in", true)
	for _, f := range []string{"original", "wav", "mp3"} {
		q := "/ameyorestapi/cc/downloadVoiceLog?campaignId=110&crtObjectId=flip-a&targetFormat=" + f +
			"&filters=" + url.QueryEscape(`{"callId":"call-flip-a"}`)
		if ok, body := env.fetchOK(q, "Sessionid", sid); ok {
			t.Errorf("ameyo %s: served %d bytes of a corrupt recording", f, len(body))
		}
	}
	g := env.ccSignIn("4977", "agent-demo-pass", "")
	if ok, body := env.fetchOK(ccgw+"/recordfile/4977/recordfiledownloadEx?callId=call-flip-a", "Guid", g); ok {
		t.Errorf("ccgw: served %d bytes of a corrupt recording", len(body))
	}
	// The twin with the same bytes still converts correctly, twice.
	for i := 0; i < 2; i++ {
		if ok, again := env.fetchOK("/api/v1/recordings/"+b.ID+"/media?format=mp3", auth...); !ok || !bytes.Equal(again, mp3B) {
			t.Fatalf("MP3 of the intact twin after the flip: ok=%v, equal=%v", ok, bytes.Equal(again, mp3B))
		}
	}
	if ok, body := env.fetchOK("/api/v1/recordings/"+b.ID+"/media", auth...); !ok || !bytes.Equal(body, src) {
		t.Fatal("original of the intact twin")
	}
	ev, err := env.app.cat.Audit(ctx, 500)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ev {
		if e.RecordingID == a.ID && e.Outcome == recvault.OutcomeError && e.Detail == "integrity failure" {
			n++
		}
	}
	if n < 5 {
		t.Fatalf("%d integrity failures audited for the corrupt recording, want one per failed download", n)
	}
	if !strings.Contains(env.logs.String(), "failed verification") {
		t.Fatal("integrity failure not logged")
	}
}

// TestEncryptedAtRest: with a master key file, a recording's stored bytes
// hold no RIFF/WAVE and no run of its samples, while every API serves it
// byte-identical and Ranges at random offsets are exact.
func TestEncryptedAtRest(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if _, err := keyfile.Generate(keyFile); err != nil {
		t.Fatal(err)
	}
	env := startEnvAt(t, nil, func(tb testing.TB, dir string) locations {
		loc := testLocations(tb, dir)
		loc.KeyFile = keyFile
		return loc
	})
	ctx := context.Background()
	src := wavPCM16(8000*20, 5)
	rec, _, err := env.app.svc.Ingest(ctx, nil, ingestReqPath(110, "enc-1", "4977", "Y:/9/0/20260101/4977/3.V3"), bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := env.app.raw.Open(ctx, rec.BlobKey)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := io.ReadAll(io.NewSectionReader(rb, 0, rb.Size()))
	rb.Close()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte("RIFF")) || bytes.Contains(stored, []byte("WAVE")) {
		t.Fatal("stored blob holds a WAV header in clear")
	}
	for off := 44; off+64 <= len(src); off += 4096 {
		if bytes.Contains(stored, src[off:off+64]) {
			t.Fatalf("stored blob holds the samples at %d in clear", off)
		}
	}
	tok := env.loginDemo("admin")
	auth := []string{"Authorization", "Bearer " + tok}
	if ok, body := env.fetchOK("/api/v1/recordings/"+rec.ID+"/media", auth...); !ok || !bytes.Equal(body, src) {
		t.Fatalf("original through v1: ok=%v, identical=%v", ok, bytes.Equal(body, src))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 40; i++ {
		a := rng.IntN(len(src))
		z := min(len(src)-1, a+rng.IntN(200_000))
		ok, body := env.fetchOK("/api/v1/recordings/"+rec.ID+"/media", append([]string{"Range", "bytes=" + itoa(a) + "-" + itoa(z)}, auth...)...)
		if !ok || !bytes.Equal(body, src[a:z+1]) {
			t.Fatalf("range %d-%d: ok=%v, %d bytes", a, z, ok, len(body))
		}
	}
	sid := env.ameyoLogin("supervisor@exotel.in", true)
	q := "/ameyorestapi/cc/downloadVoiceLog?campaignId=110&crtObjectId=enc-1&targetFormat=original&filters=" + url.QueryEscape(`{"callId":"call-enc-1"}`)
	if ok, body := env.fetchOK(q, "Sessionid", sid); !ok || !bytes.Equal(body, src) {
		t.Fatal("original through Ameyo")
	}
	g := env.ccSignIn("4977", "agent-demo-pass", "")
	if ok, body := env.fetchOK(ccgw+"/recordfile/4977/recordfiledownloadEx?callId=call-enc-1", "Guid", g); !ok || len(body) < len(src)/3 {
		t.Fatal("A-law WAV through CC-Gateway")
	}
}

// TestCorruptChunkCleanError: when the first chunk a download reads fails
// verification, nothing has been sent yet, so each API answers with its
// clean error (v1 and Ameyo 500 with their error bodies, CC-Gateway
// retcode 108-014) and no download headers, rather than a cut connection.
func TestCorruptChunkCleanError(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	src := wavPCM16(8000*30, 12)
	a, _, err := env.app.svc.Ingest(ctx, nil, ingestReqPath(110, "clean-a", "4977", "Y:/9/0/20260101/4977/5.V3"), bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	env.corruptStored(a.BlobKey, 200_000)
	// The plaintext bytes of the damaged chunk (a 48-byte header, then
	// chunks of ChunkSize bytes and their CheckSize check bytes each).
	k := int64(200_000-48) / (sealed.ChunkSize + sealed.CheckSize)
	mid := k*sealed.ChunkSize + sealed.ChunkSize/2
	get := func(path string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", env.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v (want a clean error, not a cut connection)", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: body: %v (want a clean error, not a cut connection)", path, err)
		}
		return resp, b
	}
	bad := []string{"Range", fmt.Sprintf("bytes=%d-%d", mid, mid+999)}
	tok := env.loginDemo("admin")
	for _, q := range []string{"", "?format=wav"} {
		resp, body := get("/api/v1/recordings/"+a.ID+"/media"+q, append([]string{"Authorization", "Bearer " + tok}, bad...)...)
		if resp.StatusCode != 500 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
			!bytes.Contains(body, []byte(`"error"`)) {
			t.Errorf("v1 %q: %d %q %q; want 500 with the JSON error", q, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		for _, h := range []string{"Content-Disposition", "Content-Range", "ETag"} {
			if v := resp.Header.Get(h); v != "" {
				t.Errorf("v1 %q: error answer carries %s: %q", q, h, v)
			}
		}
	}
	sid := env.ameyoLogin("supervisor@exotel.in", true)
	resp, body := get("/ameyorestapi/cc/downloadVoiceLog?campaignId=110&crtObjectId=clean-a&targetFormat=original&filters="+
		url.QueryEscape(`{"callId":"call-clean-a"}`), append([]string{"Sessionid", sid}, bad...)...)
	if resp.StatusCode != 500 || resp.Header.Get("Content-Disposition") != "" {
		t.Errorf("ameyo: %d %q; want its 500", resp.StatusCode, body)
	}
	g := env.ccSignIn("4977", "agent-demo-pass", "")
	// CC-Gateway serves 8-bit A-law WAV (58-byte header): output byte n
	// comes from source byte 44 + 2(n-58).
	alaw := (mid-44)/2 + 58
	resp, body = get(ccgw+"/recordfile/4977/recordfiledownloadEx?callId=call-clean-a", "Guid", g, "Range", fmt.Sprintf("bytes=%d-%d", alaw, alaw+99))
	if !bytes.Contains(body, []byte(`"108-014"`)) || resp.Header.Get("Content-Disposition") != "" {
		t.Errorf("ccgw: %d %q; want retcode 108-014", resp.StatusCode, body)
	}
	// The audit trail has each as an integrity failure.
	ev, err := env.app.cat.Audit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ev {
		if e.RecordingID == a.ID && e.Detail == "integrity failure" {
			n++
		}
	}
	if n < 4 {
		t.Errorf("%d integrity failures audited, want 4", n)
	}
	// A range before the bad chunk is still served exactly.
	resp, body = get("/api/v1/recordings/"+a.ID+"/media", "Authorization", "Bearer "+tok, "Range", "bytes=100-1099")
	if resp.StatusCode != 206 || !bytes.Equal(body, src[100:1100]) {
		t.Errorf("range before the bad chunk: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// TestSentFromFile: on a local disk a verified recording's original and
// its Ranges are sent as ranges of the stored file (sendfile) once their
// first half megabyte has gone out to a client that keeps up, every byte
// the stored recording's, and the metrics count those bytes. (Whether a
// client kept up is a matter of time, so the test asks that the file
// path was taken, not by how many bytes of each download.)
func TestSentFromFile(t *testing.T) {
	env := startEnvEmbedded(t)
	ctx := context.Background()
	src := wavPCM16(8000*150, 5) // 2.4 MB: sent in spans of up to 1 MiB, checked through the file's memory map
	rec, _, err := env.app.svc.Ingest(ctx, nil, ingestReqPath(110, "span-a", "4977", "Y:/9/0/20260101/4977/5.V3"), bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	tok := env.loginDemo("admin")
	auth := []string{"Authorization", "Bearer " + tok}
	before, _ := scrape(t, env.URL+"/metrics")
	path := "/api/v1/recordings/" + rec.ID + "/media"
	if ok, body := env.fetchOK(path, auth...); !ok || !bytes.Equal(body, src) {
		t.Fatalf("whole original: ok=%v, %d bytes, equal %v", ok, len(body), bytes.Equal(body, src))
	}
	sent := len(src)
	rng := rand.New(rand.NewPCG(5, 5))
	for range 10 {
		a := rng.IntN(len(src))
		z := min(len(src)-1, a+rng.IntN(1_500_000))
		ok, body := env.fetchOK(path, append([]string{"Range", fmt.Sprintf("bytes=%d-%d", a, z)}, auth...)...)
		if !ok || !bytes.Equal(body, src[a:z+1]) {
			t.Fatalf("range %d-%d: ok=%v, %d bytes", a, z, ok, len(body))
		}
		sent += z + 1 - a
	}
	after, _ := scrape(t, env.URL+"/metrics")
	// Other tests of the package may send from files meanwhile, so the
	// count is bounded below only.
	if got := after["recvault_download_file_bytes_total"] - before["recvault_download_file_bytes_total"]; got <= 0 {
		t.Errorf("no byte of %d sent from the file", sent)
	}
	// The downloads' map of the file stays for the next one (10 s unused),
	// and the gauges report it: this is the store served last.
	if maps, size := after["recvault_blob_maps"], after["recvault_blob_mapped_bytes"]; maps < 1 || size < float64(len(src)) {
		t.Errorf("after the downloads: recvault_blob_maps %v, recvault_blob_mapped_bytes %v; want the recording's file mapped", maps, size)
	}

	// A small recording of more than one chunk is sent from its file too
	// (checked in its map); one of a chunk is written from the buffer its
	// Open checked it into.
	for _, c := range []struct {
		crt      string
		samples  int
		fromFile bool
	}{{"span-small", 8000 * 6, true}, {"span-tiny", 4000, false}} {
		small := wavPCM16(c.samples, 6)
		rec, _, err := env.app.svc.Ingest(ctx, nil, ingestReqPath(110, c.crt, "4977", "Y:/9/0/20260101/4977/"+c.crt+".V3"), bytes.NewReader(small))
		if err != nil {
			t.Fatal(err)
		}
		before, _ := scrape(t, env.URL+"/metrics")
		if ok, body := env.fetchOK("/api/v1/recordings/"+rec.ID+"/media", auth...); !ok || !bytes.Equal(body, small) {
			t.Fatalf("%s: ok=%v, %d bytes, equal %v", c.crt, ok, len(body), bytes.Equal(body, small))
		}
		after, _ := scrape(t, env.URL+"/metrics")
		got := after["recvault_download_file_bytes_total"] - before["recvault_download_file_bytes_total"]
		if c.fromFile && got < float64(len(small)) || !c.fromFile && got != 0 {
			t.Errorf("%s (%d bytes): %v bytes sent from the file; want all of them from the file: %v", c.crt, len(small), got, c.fromFile)
		}
	}
}
