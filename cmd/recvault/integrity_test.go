package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recvault/recvault"
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
	src := wavPCM16(8000*30, 11) // 480 KB: several 64 KiB chunks
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
	env.corruptStored(a.BlobKey, 200_000) // inside the fourth chunk

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
		{"v1 mp3 range", v1 + "?format=mp3", append([]string{"Range", "bytes=100-200"}, auth...)},
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
