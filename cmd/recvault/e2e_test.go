package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/demo"
	"github.com/recvault/recvault/server"
)

// fakeClock is a settable clock shared by a test and its server.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testEnv is a running recvault: a real data directory with the demo data,
// served on a real loopback listener.
type testEnv struct {
	t     testing.TB
	dir   string
	app   *app
	srv   *server.Server
	URL   string
	clock *fakeClock
	logs  *syncBuffer
}

func startEnv(t *testing.T) *testEnv { return startEnvWith(t, nil) }

// startEnvBench is startEnv for benchmarks.
func startEnvBench(b *testing.B) *testEnv { return startEnvTB(b, nil) }

// startEnvWith is startEnv with a hook to adjust the server's config.
func startEnvWith(t *testing.T, tune func(*server.Config)) *testEnv { return startEnvTB(t, tune) }

func startEnvTB(t testing.TB, tune func(*server.Config)) *testEnv {
	t.Helper()
	return startEnvAt(t, tune, testLocations)
}

// startEnvEmbedded is startEnv on the embedded default whatever backend the
// suite runs on, for the few tests that play a failing local disk.
func startEnvEmbedded(t testing.TB) *testEnv {
	t.Helper()
	return startEnvAt(t, nil, func(_ testing.TB, dir string) locations { return dirLocations(dir) })
}

func startEnvAt(t testing.TB, tune func(*server.Config), where func(testing.TB, string) locations) *testEnv {
	t.Helper()
	env := &testEnv{t: t, dir: t.TempDir(), clock: &fakeClock{t: time.Now()}, logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(env.logs, nil))
	loc := where(t, env.dir)
	if !strings.HasPrefix(loc.Catalog, "sqlite://") {
		// CLI commands a test runs beside the server (with --data) then
		// reach the same remote storage, as an operator's would.
		t.Setenv("RECVAULT_CATALOG", loc.Catalog)
		t.Setenv("RECVAULT_BLOBS", loc.Blobs)
	}
	a, err := openApp(context.Background(), loc, appOptions{
		SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour, Logger: log, Now: env.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	env.app = a
	if err := demo.Seed(context.Background(), a.svc, io.Discard); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Logger: log, ShutdownGrace: 5 * time.Second}
	cfg.CCGateway.PollWait = 20 * time.Millisecond
	if tune != nil {
		tune(&cfg)
	}
	env.srv = server.New(a.svc, cfg)
	done := make(chan error, 1)
	go func() { done <- env.srv.Serve(ln) }()
	env.URL = "http://" + ln.Addr().String()
	t.Cleanup(func() {
		env.srv.Shutdown(context.Background())
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return env
}

// replaceBlob puts b in place of the stored blob key (nil: removes it), on
// whichever backend the test runs, and returns a function that restores the
// original. Tests use it to play a failing disk or a tampered object.
func (e *testEnv) replaceBlob(key string, b []byte) (restore func()) {
	e.t.Helper()
	ctx := context.Background()
	blob, err := e.app.blobs.Open(ctx, key)
	if err != nil {
		e.t.Fatal(err)
	}
	saved, err := io.ReadAll(io.NewSectionReader(blob, 0, blob.Size()))
	blob.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	put := func(b []byte) {
		if err := e.app.blobs.Delete(ctx, key); err != nil {
			e.t.Fatal(err)
		}
		if b != nil {
			if _, err := e.app.blobs.Put(ctx, key, bytes.NewReader(b)); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	put(b)
	return func() { put(saved) }
}

// rawCount counts the blobs in a's store.
func rawCount(t testing.TB, a *app) int {
	t.Helper()
	n := 0
	if err := a.raw.Walk(context.Background(), func(string, time.Time) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// blobCount counts the blobs stored, on whichever backend the test runs.
func (e *testEnv) blobCount() int {
	e.t.Helper()
	return rawCount(e.t, e.app)
}

// syncBuffer is a buffer the server's goroutines write (its log) while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// do sends a request and returns the response with its body read.
func (e *testEnv) do(method, path, token string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func (e *testEnv) login(login, password string) string {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"login": login, "password": password})
	resp, b := e.do("POST", "/api/v1/sessions", "", bytes.NewReader(body))
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("login %s: %d %s", login, resp.StatusCode, b)
	}
	var out struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expiresAt"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Token) < 22 {
		e.t.Fatalf("login answer %s: %v", b, err)
	}
	if _, err := time.Parse(time.RFC3339, out.ExpiresAt); err != nil {
		e.t.Fatalf("expiresAt %q: %v", out.ExpiresAt, err)
	}
	return out.Token
}

// demoPassword returns the password of a demo user.
func demoPassword(t testing.TB, login string) string {
	for _, u := range demo.Users {
		if u.Login == login {
			return u.Password
		}
	}
	t.Fatalf("no demo user %s", login)
	return ""
}

func (e *testEnv) loginDemo(login string) string { return e.login(login, demoPassword(e.t, login)) }

// recordingID finds a demo recording's id by crtObjectId through the catalog.
func (e *testEnv) recordingID(campaign int64, crt string) *recvault.Recording {
	e.t.Helper()
	r, err := e.app.cat.RecordingByIdentity(context.Background(), campaign, crt)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func demoSHA(t *testing.T, file string) string {
	t.Helper()
	r, err := demo.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func sha(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("error body %s, want code %s", body, code)
	}
}

func TestDemoSeedIsIdempotent(t *testing.T) {
	env := startEnv(t)
	var out bytes.Buffer
	if err := demo.Seed(context.Background(), env.app.svc, &out); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	if strings.Contains(out.String(), "(created)") || !strings.Contains(out.String(), "(exists)") {
		t.Fatalf("second seed changed something:\n%s", &out)
	}
	recs, _, _ := env.app.cat.FindRecordings(context.Background(), recvault.RecordingFilter{Scope: recvault.Scope{All: true}})
	users, _ := env.app.cat.Users(context.Background())
	if len(recs) != len(demo.Recordings) || len(users) != len(demo.Users) {
		t.Fatalf("%d recordings, %d users after two seeds", len(recs), len(users))
	}
}

func TestLoginListDownloadByteIdentical(t *testing.T) {
	env := startEnv(t)
	tok := env.loginDemo("supervisor@exotel.in")

	resp, b := env.do("GET", "/api/v1/recordings?campaign=110", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s\n%s", resp.StatusCode, b, env.logs)
	}
	var list struct {
		Recordings []struct {
			ID          string `json:"id"`
			CampaignID  int64  `json:"campaignId"`
			CRTObjectID string `json:"crtObjectId"`
			SHA256      string `json:"sha256"`
			MediaURL    string `json:"mediaUrl"`
		} `json:"recordings"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Recordings) != 4 {
		t.Fatalf("supervisor of 110 sees %d recordings, want the 4 of campaign 110: %s", len(list.Recordings), b)
	}
	for _, r := range list.Recordings {
		if r.CampaignID != 110 {
			t.Fatalf("listing leaked campaign %d", r.CampaignID)
		}
	}

	rec := env.recordingID(110, "d741-6904fad1-vce-daf-638729")
	resp, b = env.do("GET", "/api/v1/recordings/"+rec.ID+"/media", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("download: %d %s", resp.StatusCode, b)
	}
	if got, want := sha(b), demoSHA(t, "call-alaw-mono.wav"); got != want {
		t.Fatalf("downloaded sha256 %s, ingested %s", got, want)
	}
	h := resp.Header
	for k, want := range map[string]string{
		"Content-Type":        "audio/wav",
		"Content-Length":      itoa(len(b)),
		"Content-Disposition": `attachment; filename=d741-6904fad1-vce-daf-638729.wav`,
		"Accept-Ranges":       "bytes",
		"ETag":                `"` + rec.SHA256[:32] + `"`,
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	if _, err := http.ParseTime(h.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified %q: %v", h.Get("Last-Modified"), err)
	}

	// Metadata of one recording.
	resp, b = env.do("GET", "/api/v1/recordings/"+rec.ID, tok, nil)
	var meta map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(b, &meta) != nil || meta["callId"] != "d741-6904fad1-vcall-10989826" ||
		meta["sha256"] != rec.SHA256 {
		t.Fatalf("metadata: %d %s", resp.StatusCode, b)
	}
	format := meta["format"].(map[string]any)
	if format["codec"] != "alaw" || format["sampleRate"] != float64(8000) || format["channels"] != float64(1) {
		t.Fatalf("probed format %v", format)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
