package server

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// serveTest serves h through wrap (and the connection cap, as Serve
// applies it) on a loopback listener.
func serveTest(t *testing.T, cfg Config, h http.Handler) string {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Server{cfg: cfg, log: cfg.Logger}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if max := s.cfg.maxConnsPerClient(); max > 0 {
		ln = newLimitListener(ln, max, s.trusted, s.log)
	}
	hs := &http.Server{Handler: s.wrap(h), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return ln.Addr().String()
}

// The body bound counts only time spent waiting for the client: a handler
// that pauses longer than the bound between reads still gets its body.
func TestBodyGuardCountsOnlyWaiting(t *testing.T) {
	addr := serveTest(t, Config{BodyTimeout: 300 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p [1]byte
		if _, err := io.ReadFull(r.Body, p[:]); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		time.Sleep(time.Second) // a slow backend, not a slow client
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = w.Write(append(p[:], b...))
	}))
	resp, err := http.Post("http://"+addr+"/x", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(b) != "hello" {
		t.Fatalf("%d %q %v", resp.StatusCode, b, err)
	}
}

// A download (no request body) outlives the body bound: the guard sets no
// deadline for it, and none that would cancel its context.
func TestBodyGuardLeavesLongResponsesAlone(t *testing.T) {
	addr := serveTest(t, Config{BodyTimeout: 200 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		for range 6 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			_, _ = w.Write([]byte("x"))
			http.NewResponseController(w).Flush()
		}
	}))
	for _, body := range []io.Reader{nil, strings.NewReader("small body")} {
		resp, err := http.Post("http://"+addr+"/x", "text/plain", body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "xxxxxx" {
			t.Fatalf("long response cut: %q %v", b, err)
		}
	}
}

func TestLimitListenerExemptsTrustedProxies(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	capped := serveTest(t, Config{MaxConnsPerClient: 1}, ok)
	exempt := serveTest(t, Config{MaxConnsPerClient: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, ok)
	get := func(c net.Conn) error {
		if err := c.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
			return err
		}
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	for _, tc := range []struct {
		addr       string
		secondOpen bool
	}{{capped, false}, {exempt, true}} {
		a, err := net.Dial("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if err := get(a); err != nil {
			t.Fatal(err)
		}
		b, err := net.Dial("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := get(b); (err == nil) != tc.secondOpen {
			t.Errorf("%s: second connection: %v, want served %v", tc.addr, err, tc.secondOpen)
		}
	}
}
