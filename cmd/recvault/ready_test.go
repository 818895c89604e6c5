package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recvault/recvault/server"
)

// gate is a TCP forwarder the test can close and reopen: the backend
// behind it "goes down" (connections refused, open ones cut) and "comes
// back", while the real server keeps running.
type gate struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newGate(t *testing.T, target string) *gate {
	g := &gate{t: t, target: target, conns: map[net.Conn]struct{}{}}
	g.open("127.0.0.1:0")
	t.Cleanup(g.close)
	return g
}

func (g *gate) open(addr string) {
	g.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger a moment after close
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		g.t.Fatal(err)
	}
	g.mu.Lock()
	g.ln, g.addr = ln, ln.Addr().String()
	g.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go g.forward(c)
		}
	}()
}

func (g *gate) forward(c net.Conn) {
	up, err := net.Dial("tcp", g.target)
	if err != nil {
		c.Close()
		return
	}
	g.mu.Lock()
	g.conns[c], g.conns[up] = struct{}{}, struct{}{}
	g.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// close refuses new connections and cuts the open ones.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil {
		g.ln.Close()
		g.ln = nil
	}
	for c := range g.conns {
		c.Close()
	}
	g.conns = map[net.Conn]struct{}{}
}

// TestReadyzFollowsBackends: /readyz answers 503 naming the backend while
// the catalog or the blob store is unreachable, and 200 again once it is
// back, without a restart. /healthz (the process is alive) stays 200.
func TestReadyzFollowsBackends(t *testing.T) {
	remote := remoteLocations(t, t.TempDir())
	catHost, catGate := hostOfURL(t, remote.Catalog), (*gate)(nil)
	blobHost := hostOfURL(t, remote.Blobs)
	catGate = newGate(t, catHost)
	blobGate := newGate(t, blobHost)
	loc := remote
	loc.Catalog = strings.Replace(remote.Catalog, catHost, catGate.addr, 1)
	loc.Blobs = strings.Replace(remote.Blobs, blobHost, blobGate.addr, 1)
	a, err := openApp(context.Background(), loc, appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := server.New(a.svc, server.Config{Logger: quietLog})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()
	probe := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(want int, mention string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, body := probe("/readyz")
			if code == want && strings.Contains(body, mention) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz: %d %q, want %d mentioning %q", code, body, want, mention)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor(200, "ready")
	for _, c := range []struct {
		g    *gate
		name string
	}{{blobGate, "blob store"}, {catGate, "catalog"}} {
		addr := c.g.addr
		c.g.close()
		waitFor(503, c.name)
		if code, _ := probe("/healthz"); code != 200 {
			t.Fatalf("/healthz %d while the %s is down", code, c.name)
		}
		c.g.open(addr)
		waitFor(200, "ready")
	}
}

// hostOfURL returns the host:port a postgres:// URL or an s3:// URL's
// endpoint points at.
func hostOfURL(t *testing.T, raw string) string {
	t.Helper()
	if i := strings.Index(raw, "endpoint="); i >= 0 {
		ep := raw[i+len("endpoint="):]
		ep, _, _ = strings.Cut(ep, "&")
		ep = strings.TrimPrefix(strings.TrimPrefix(ep, "http://"), "https://")
		ep = strings.ReplaceAll(ep, "%3A", ":")
		return strings.TrimSuffix(ep, "/")
	}
	rest := raw[strings.Index(raw, "://")+3:]
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	host, _, _ := strings.Cut(rest, "/")
	return host
}

// TestServeFailsClearlyOnBadBackends: a bad URL, an unreachable server, a
// missing bucket or wrong credentials stop serve at start with one line
// naming which backend and why, and never print a password.
func TestServeFailsClearlyOnBadBackends(t *testing.T) {
	remote := remoteLocations(t, t.TempDir())
	closed := freePort(t)
	cases := []struct {
		name, catalog, blobs, want string
	}{
		{"unknown catalog scheme", "mysql://u:s3cret@127.0.0.1/db", remote.Blobs, "unknown scheme"},
		{"catalog not a URL", "catalog.db", remote.Blobs, "want sqlite://"},
		{"catalog unreachable", "postgres://u:s3cret@127.0.0.1:" + itoa(closed) + "/db?sslmode=disable&connect_timeout=3", remote.Blobs, "catalog"},
		{"unknown blob scheme", remote.Catalog, "ftp://x/y", "unknown scheme"},
		{"blob store unreachable", remote.Catalog, "s3://bucket?endpoint=http://127.0.0.1:" + itoa(closed) + "&region=us-east-1", "blob store"},
		{"missing bucket", remote.Catalog, strings.Replace(remote.Blobs, "s3://", "s3://no-such-bucket-", 1), "bucket"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			code := run(ctx, []string{"serve", "--catalog", tc.catalog, "--blobs", tc.blobs, "--addr", "127.0.0.1:0"}, strings.NewReader(""), &out, &errs)
			msg := strings.TrimSpace(errs.String())
			if code == 0 || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "s3cret") {
				t.Fatalf("exit %d, stderr %q: want one line mentioning %q, without the password", code, msg, tc.want)
			}
		})
	}
	t.Run("wrong S3 secret", func(t *testing.T) {
		t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
		var out, errs strings.Builder
		code := run(context.Background(), []string{"serve", "--catalog", remote.Catalog, "--blobs", remote.Blobs, "--addr", "127.0.0.1:0"}, strings.NewReader(""), &out, &errs)
		msg := strings.TrimSpace(errs.String())
		if code == 0 || !strings.Contains(msg, "blob store") || strings.Contains(msg, "\n") || strings.Contains(msg, "wrong-secret-value") {
			t.Fatalf("exit %d, stderr %q", code, msg)
		}
	})
}
