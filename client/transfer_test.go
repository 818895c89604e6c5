package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// payload is a deterministic WAV-looking recording of n bytes.
func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	copy(b, "RIFF\x00\x00\x00\x00WAVEfmt ")
	return b
}

func hexSHA(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// fastRetry keeps tests quick: millisecond backoff.
var fastRetry = Retry{Attempts: 4, Base: time.Millisecond, Max: 5 * time.Millisecond}

// mediaServer serves body like recvault does (ServeContent: Range,
// If-Range, ETag), with hook deciding per request what to do first.
type mediaServer struct {
	mu       sync.Mutex
	body     []byte
	etag     string
	ctype    string
	requests []*http.Request
	// hook runs first; returning true means it answered.
	hook func(n int, w http.ResponseWriter, r *http.Request) bool
}

func (m *mediaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.requests = append(m.requests, r.Clone(context.Background()))
	n := len(m.requests)
	body, etag, hook := m.body, m.etag, m.hook
	m.mu.Unlock()
	if hook != nil && hook(n, w, r) {
		return
	}
	ct := m.ctype
	if ct == "" {
		ct = "audio/wav"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", etag)
	http.ServeContent(w, r, "", time.Unix(1700000000, 0), bytes.NewReader(body))
}

func (m *mediaServer) count() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.requests) }

func (m *mediaServer) source(url string) Source {
	return Source{Name: "t", Request: func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, "GET", url, nil)
	}}
}

// cutAfter answers the full body's headers but stops after n bytes and
// drops the connection.
func cutAfter(body []byte, etag string, n int, w http.ResponseWriter) {
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Length", itoa(len(body)))
	w.Write(body[:n])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestDownloadHappyPath(t *testing.T) {
	body := payload(300_000, 1)
	m := &mediaServer{body: body, etag: `"v1"`}
	srv := httptest.NewServer(m)
	defer srv.Close()
	var last Progress
	tr := &Transfer{Retry: fastRetry, Progress: func(p Progress) { last = p }}
	var buf bytes.Buffer
	res, err := tr.Download(context.Background(), m.source(srv.URL), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), body) || res.SHA256 != hexSHA(body) || res.Size != int64(len(body)) {
		t.Fatalf("got %d bytes sha %s, want %d sha %s", buf.Len(), res.SHA256, len(body), hexSHA(body))
	}
	if res.MediaType != "audio/wav" || res.Ext != ".wav" || res.ETag != `"v1"` {
		t.Fatalf("result %+v", res)
	}
	if last.Done != int64(len(body)) || last.Total != int64(len(body)) {
		t.Fatalf("last progress %+v", last)
	}
}

func TestDownloadResumesCutConnection(t *testing.T) {
	body := payload(1_000_000, 2)
	m := &mediaServer{body: body, etag: `"v1"`}
	m.hook = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n <= 2 { // two cuts, at 300 kB and then 300 kB into the rest
			start := 0
			if n == 2 {
				start = 300_000
			}
			if r.Header.Get("Range") != "" {
				w.Header().Set("Content-Range", "bytes "+itoa(start)+"-"+itoa(len(body)-1)+"/"+itoa(len(body)))
				w.Header().Set("Content-Type", "audio/wav")
				w.Header().Set("ETag", `"v1"`)
				w.Header().Set("Content-Length", itoa(len(body)-start))
				w.WriteHeader(206)
				w.Write(body[start : start+300_000])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
			cutAfter(body, `"v1"`, 300_000, w)
		}
		return false
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	tr := &Transfer{Retry: Retry{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond}}
	var buf bytes.Buffer
	res, err := tr.Download(context.Background(), m.source(srv.URL), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 != hexSHA(body) || !bytes.Equal(buf.Bytes(), body) {
		t.Fatal("resumed download differs from the source")
	}
	if m.count() != 3 {
		t.Fatalf("%d requests, want 3", m.count())
	}
	for i, want := range []string{"", "bytes=300000-", "bytes=600000-"} {
		r := m.requests[i]
		if r.Header.Get("Range") != want {
			t.Errorf("request %d Range %q, want %q", i, r.Header.Get("Range"), want)
		}
		if want != "" && r.Header.Get("If-Range") != `"v1"` {
			t.Errorf("request %d If-Range %q", i, r.Header.Get("If-Range"))
		}
	}
}

// TestDownloadStartsOverWhenChanged: the recording's ETag changes between
// the cut and the resume; If-Range makes the server send it whole, and the
// file must hold only the new version.
func TestDownloadStartsOverWhenChanged(t *testing.T) {
	old, cur := payload(200_000, 3), payload(250_000, 4)
	m := &mediaServer{body: cur, etag: `"v2"`}
	m.hook = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			cutAfter(old, `"v1"`, 100_000, w)
		}
		return false
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	tr := &Transfer{Retry: fastRetry}
	f, err := os.Create(filepath.Join(t.TempDir(), "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := tr.Download(context.Background(), m.source(srv.URL), f)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(f.Name())
	if !bytes.Equal(got, cur) || res.SHA256 != hexSHA(cur) || res.ETag != `"v2"` {
		t.Fatalf("file has %d bytes (sha %s), want the new version's %d", len(got), res.SHA256, len(cur))
	}
	if m.requests[1].Header.Get("If-Range") != `"v1"` {
		t.Fatalf("resume If-Range %q", m.requests[1].Header.Get("If-Range"))
	}

	// A writer that cannot be rewound gets ErrChanged, not a spliced file.
	m.mu.Lock()
	m.requests = nil
	m.mu.Unlock()
	var buf bytes.Buffer
	if _, err := tr.Download(context.Background(), m.source(srv.URL), &buf); !errors.Is(err, ErrChanged) {
		t.Fatalf("err %v, want ErrChanged", err)
	}
}

func TestDownloadRetries(t *testing.T) {
	body := payload(50_000, 5)
	cases := []struct {
		name     string
		statuses []int // answers before the real one; 0 = serve
		attempts int
		wantReqs int
		wantKind error
	}{
		{"503 then success", []int{503, 502}, 4, 3, nil},
		{"429 then success", []int{429}, 4, 2, nil},
		{"500 every time", []int{500, 500, 500, 500, 500}, 3, 3, ErrServer},
		{"401 not retried", []int{401, 0}, 4, 1, ErrUnauthenticated},
		{"403 not retried", []int{403, 0}, 4, 1, ErrForbidden},
		{"404 not retried", []int{404, 0}, 4, 1, ErrNotFound},
		{"400 not retried", []int{400, 0}, 4, 1, ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &mediaServer{body: body, etag: `"e"`}
			m.hook = func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n <= len(c.statuses) && c.statuses[n-1] != 0 {
					if c.statuses[n-1] == 429 {
						w.Header().Set("Retry-After", "0")
					}
					http.Error(w, "no", c.statuses[n-1])
					return true
				}
				return false
			}
			srv := httptest.NewServer(m)
			defer srv.Close()
			r := fastRetry
			r.Attempts = c.attempts
			var buf bytes.Buffer
			res, err := (&Transfer{Retry: r}).Download(context.Background(), m.source(srv.URL), &buf)
			if m.count() != c.wantReqs {
				t.Fatalf("%d requests, want %d", m.count(), c.wantReqs)
			}
			if c.wantKind == nil {
				if err != nil || res.SHA256 != hexSHA(body) {
					t.Fatalf("err %v sha %s", err, res.SHA256)
				}
				return
			}
			if !errors.Is(err, c.wantKind) || buf.Len() != 0 {
				t.Fatalf("err %v (wrote %d bytes), want %v", err, buf.Len(), c.wantKind)
			}
		})
	}
}

func TestRetryAfterIsReported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	_, err := (&Transfer{Retry: Retry{Attempts: 1}}).Download(context.Background(),
		(&mediaServer{}).source(srv.URL), io.Discard)
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter != 120*time.Second || !e.Temporary() {
		t.Fatalf("err %#v", err)
	}
}

func TestRetryDelay(t *testing.T) {
	r := Retry{Base: 100 * time.Millisecond, Max: time.Second, MaxRetryAfter: 10 * time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 40: time.Second} {
		for i := 0; i < 50; i++ {
			d := r.Delay(n, 0)
			if d < want/2 || d > want {
				t.Fatalf("Delay(%d) = %s, want in [%s, %s]", n, d, want/2, want)
			}
		}
	}
	if d := r.Delay(1, 3*time.Second); d != 3*time.Second {
		t.Fatalf("Retry-After 3s gave %s", d)
	}
	if d := r.Delay(1, time.Hour); d != 10*time.Second {
		t.Fatalf("Retry-After 1h gave %s, want the 10s cap", d)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"": 0, "5": 5 * time.Second, "-1": 0, "x": 0,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second, "Wed, 31 Dec 2025 00:00:00 GMT": 0} {
		if got := ParseRetryAfter(v, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestNotARecording(t *testing.T) {
	cases := []struct{ ctype, body string }{
		{"application/json;charset=UTF-8", `{"retcode":"108-001","message":"no file","result":""}`},
		{"text/html", "<html><body>login</body></html>"},
		{"application/octet-stream", "null"},
		{"application/octet-stream", `{"status":500}`},
		{"audio/mpeg", ""},
		{"", "<!DOCTYPE html>"},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.ctype != "" {
				w.Header().Set("Content-Type", c.ctype)
			} else {
				w.Header()["Content-Type"] = nil
			}
			io.WriteString(w, c.body)
		}))
		dir := t.TempDir()
		var calls atomic.Int32
		src := Source{Request: func(ctx context.Context) (*http.Request, error) {
			calls.Add(1)
			return http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		}}
		_, err := (&Transfer{Retry: fastRetry}).SaveFile(context.Background(), src, dir, "rec")
		srv.Close()
		if !errors.Is(err, ErrServer) || calls.Load() != 1 {
			t.Errorf("%s %q: err %v after %d calls, want one ErrServer", c.ctype, c.body, err, calls.Load())
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%s %q left %d files", c.ctype, c.body, len(ents))
		}
	}
}

func TestSaveFileNamesByContentType(t *testing.T) {
	body := append([]byte("ID3\x03\x00"), payload(10_000, 6)[5:]...)
	m := &mediaServer{body: body, etag: `"m"`, ctype: "audio/mpeg"}
	srv := httptest.NewServer(m)
	defer srv.Close()
	dir := t.TempDir()
	res, err := (&Transfer{}).SaveFile(context.Background(), m.source(srv.URL), dir, "call-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != filepath.Join(dir, "call-1.mp3") || res.SHA256 != hexSHA(body) || res.Resumed {
		t.Fatalf("%+v", res)
	}
	if fi, err := os.Stat(res.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat %v %v", fi, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d entries in the target directory, want 1", len(ents))
	}
}

// TestSaveFileResumesAcrossRuns: the first run loses the connection at
// every try and gives up; its partial file stays. The second run resumes
// it with Range + If-Range and leaves only the complete file.
func TestSaveFileResumesAcrossRuns(t *testing.T) {
	body := payload(400_000, 7)
	m := &mediaServer{body: body, etag: `"r"`}
	m.hook = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			cutAfter(body, `"r"`, 150_000, w)
		}
		return false
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	dir := t.TempDir()
	tr := &Transfer{Retry: Retry{Attempts: 1}}
	if _, err := tr.SaveFile(context.Background(), m.source(srv.URL), dir, "big"); err == nil {
		t.Fatal("first run succeeded")
	}
	part := filepath.Join(dir, ".big"+PartSuffix)
	if fi, err := os.Stat(part); err != nil || fi.Size() != 150_000 {
		t.Fatalf("partial file: %v %v", fi, err)
	}
	res, err := tr.SaveFile(context.Background(), m.source(srv.URL), dir, "big")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(res.Path)
	if !res.Resumed || res.SHA256 != hexSHA(body) || !bytes.Equal(got, body) || res.Ext != ".wav" {
		t.Fatalf("resumed=%v sha ok=%v ext %s", res.Resumed, res.SHA256 == hexSHA(body), res.Ext)
	}
	if r := m.requests[1]; r.Header.Get("Range") != "bytes=150000-" || r.Header.Get("If-Range") != `"r"` {
		t.Fatalf("second run sent Range %q If-Range %q", r.Header.Get("Range"), r.Header.Get("If-Range"))
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "big.wav" {
		t.Fatalf("directory holds %v", ents)
	}
}

func TestStalledBodyIsRetried(t *testing.T) {
	body := payload(100_000, 8)
	release := make(chan struct{})
	defer close(release)
	m := &mediaServer{body: body, etag: `"s"`}
	m.hook = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			w.Header().Set("Content-Type", "audio/wav")
			w.Header().Set("ETag", `"s"`)
			w.Header().Set("Content-Length", itoa(len(body)))
			w.Write(body[:40_000])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	var buf bytes.Buffer
	res, err := (&Transfer{Retry: fastRetry, IdleTimeout: 200 * time.Millisecond}).Download(context.Background(), m.source(srv.URL), &buf)
	if err != nil || res.SHA256 != hexSHA(body) {
		t.Fatalf("err %v", err)
	}
	if m.requests[1].Header.Get("Range") != "bytes=40000-" {
		t.Fatalf("retry after stall sent Range %q", m.requests[1].Header.Get("Range"))
	}
}

func TestRenewOnceOnUnauthenticated(t *testing.T) {
	body := payload(20_000, 9)
	var token atomic.Value
	token.Store("old")
	m := &mediaServer{body: body, etag: `"a"`}
	m.hook = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "new" {
			http.Error(w, "expired", http.StatusUnauthorized)
			return true
		}
		return false
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	renewals := 0
	src := Source{
		Request: func(ctx context.Context) (*http.Request, error) {
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			req.Header.Set("Authorization", token.Load().(string))
			return req, nil
		},
		Renew: func(ctx context.Context) error { renewals++; token.Store("new"); return nil },
	}
	res, err := (&Transfer{Retry: fastRetry}).Download(context.Background(), src, io.Discard)
	if err != nil || res.SHA256 != hexSHA(body) || renewals != 1 {
		t.Fatalf("err %v renewals %d", err, renewals)
	}
	// A renewal that does not help is not repeated.
	token.Store("old")
	src.Renew = func(ctx context.Context) error { renewals++; return nil }
	if _, err := (&Transfer{Retry: fastRetry}).Download(context.Background(), src, io.Discard); !errors.Is(err, ErrUnauthenticated) || renewals != 2 {
		t.Fatalf("err %v renewals %d", err, renewals)
	}
}

func TestExtAndSniff(t *testing.T) {
	cases := []struct {
		ctype, disp string
		head        []byte
		want        string
	}{
		{"audio/mpeg", "", nil, ".mp3"},
		{"audio/wav", "", nil, ".wav"},
		{"Audio/X-WAV; charset=binary", "", nil, ".wav"},
		{"audio/x-alaw-basic", "", nil, ".alaw"},
		{"video/mp4", "", nil, ".mp4"},
		{"application/octet-stream;charset=utf-8", `attachment; filename=1642329.wav`, nil, ".wav"},
		{"application/octet-stream", `attachment; filename="a/../../x.sh;"`, []byte("RIFF....WAVE"), ".wav"},
		{"application/octet-stream", "", []byte("\x00\x00\x00\x20ftypisom"), ".mp4"},
		{"application/octet-stream", "", []byte{0xFF, 0xFB, 0x90, 0x00}, ".mp3"},
		{"application/octet-stream", "", []byte{1, 2, 3}, ".bin"},
	}
	for _, c := range cases {
		if got := Ext(c.ctype, c.disp, c.head); got != c.want {
			t.Errorf("Ext(%q, %q, %q) = %q, want %q", c.ctype, c.disp, c.head, got, c.want)
		}
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"d741-6904fad1-vce-daf-638729": "d741-6904fad1-vce-daf-638729",
		"../../etc/passwd":             "_.._etc_passwd",
		"Y:/90/0/1642329.mp4":          "Y__90_0_1642329.mp4",
		".hidden":                      "hidden",
		"a\x00b":                       "a_b",
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
	if n := SafeName(strings.Repeat("é", 200)); len(n) > 150 || !strings.HasPrefix(n, "é") {
		t.Errorf("long name cut to %q", n)
	}
}

func TestRedact(t *testing.T) {
	sid := "d741-6904fad1-ses-supervisor@exotel.in-w1pQnDRa9KNCQAXJrVhdxHXZcSCGQszWe24UWiNYBIFHAdwV6IY-96338"
	r := Redact(sid)
	if strings.Contains(r, "supervisor") || !strings.HasPrefix(r, "d741") {
		t.Fatalf("Redact = %q", r)
	}
	var out bytes.Buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Set-GUID"] = []string{"JSESSIONID=0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.AgentGateway1"}
	}))
	defer srv.Close()
	hc, _ := NewHTTPClient(HTTPOptions{Verbose: &out})
	req, _ := http.NewRequest("GET", srv.URL+"/x?token=supersecrettoken&callId=1", nil)
	req.Header.Set("Sessionid", sid)
	req.Header.Set("Guid", "0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.AgentGateway1")
	req.Header.Set("Authorization", "Bearer abcdefghijklmnopqrstuvwxyz")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	log := out.String()
	for _, secret := range []string{sid[:20], "aaaa-bbbb", "supersecret", "abcdefghijklmnop"} {
		if strings.Contains(log, secret) {
			t.Fatalf("log shows %q:\n%s", secret, log)
		}
	}
	if !strings.Contains(log, "callId=1") || !strings.Contains(log, "< 200 GET") {
		t.Fatalf("log lacks the request:\n%s", log)
	}
}

func TestContentRange(t *testing.T) {
	for v, want := range map[string][3]int64{
		"bytes 0-9/10":    {0, 10, 1},
		"bytes 5-9/*":     {5, -1, 1},
		"bytes 5-4/10":    {0, 0, 0},
		"bytes 0-10/10":   {0, 0, 0},
		"items 0-1/2":     {0, 0, 0},
		"bytes -1-2/3":    {0, 0, 0},
		"bytes 100-200/x": {0, 0, 0},
	} {
		s, tot, ok := contentRange(v)
		if ok != (want[2] == 1) || (ok && (s != want[0] || tot != want[1])) {
			t.Errorf("contentRange(%q) = %d %d %v", v, s, tot, ok)
		}
	}
}

func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes 5-9/*", "bytes 9223372036854775807-9223372036854775807/*", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, tot, ok := contentRange(v)
		if ok && (s < 0 || (tot != -1 && tot <= s)) {
			t.Fatalf("contentRange(%q) = %d %d", v, s, tot)
		}
	})
}

func FuzzResponseHeaders(f *testing.F) {
	f.Add("audio/mpeg", "attachment; filename=x.mp3", "120", []byte("ID3"))
	f.Add("application/octet-stream", `attachment; filename*=UTF-8''%e2%82%ac.wav`, "Wed, 21 Oct 2015 07:28:00 GMT", []byte("RIFF"))
	f.Fuzz(func(t *testing.T, ctype, disp, retryAfter string, head []byte) {
		e := Ext(ctype, disp, head)
		if e != ".bin" && !validExt(e) {
			t.Fatalf("Ext gave %q", e)
		}
		if d := ParseRetryAfter(retryAfter, time.Now()); d < 0 || d > 24*time.Hour {
			t.Fatalf("ParseRetryAfter(%q) = %s", retryAfter, d)
		}
		isRecording(ctype, head)
		if n := SafeName(disp); strings.ContainsAny(n, `/\`) || strings.HasPrefix(n, ".") {
			t.Fatalf("SafeName(%q) = %q", disp, n)
		}
	})
}

func BenchmarkDownload(b *testing.B) {
	body := payload(8<<20, 10)
	m := &mediaServer{body: body, etag: `"b"`}
	srv := httptest.NewServer(m)
	defer srv.Close()
	tr := &Transfer{}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.Download(context.Background(), m.source(srv.URL), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSaveFile(b *testing.B) {
	body := payload(8<<20, 11)
	m := &mediaServer{body: body, etag: `"b"`}
	srv := httptest.NewServer(m)
	defer srv.Close()
	tr := &Transfer{}
	dir := b.TempDir()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.SaveFile(context.Background(), m.source(srv.URL), dir, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
