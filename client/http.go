package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// HTTPOptions configure the HTTP client of NewHTTPClient.
type HTTPOptions struct {
	// CACertFile names a PEM file of certificates to trust besides the
	// system's: the self-signed certificates these servers often use.
	CACertFile string
	// Insecure skips certificate verification altogether.
	Insecure bool
	// Timeout bounds connecting, the TLS handshake and the wait for the
	// response headers (never the body, which may take long; see
	// Transfer.IdleTimeout). Default 30 s.
	Timeout time.Duration
	// Verbose, when set, gets one line per request and per answer, with
	// secrets (session ids, GUIDs, tokens) shortened and bodies never shown.
	Verbose io.Writer
}

// NewHTTPClient returns a client for recording servers. It follows no
// redirect to another host with the session headers.
func NewHTTPClient(o HTTPOptions) (*http.Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CACertFile != "" {
		pem, err := os.ReadFile(o.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("CA certificates: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificates: no PEM certificate in %s", o.CACertFile)
		}
		tc.RootCAs = pool
	}
	if o.Insecure {
		tc.InsecureSkipVerify = true
	}
	d := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	var rt http.RoundTripper = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if o.Verbose != nil {
		rt = &LogTransport{Base: rt, Out: o.Verbose}
	}
	return &http.Client{Transport: rt, CheckRedirect: checkRedirect}, nil
}

// sessionHeaders carry credentials in the vendors' protocols; Go forwards
// custom headers on redirects, so they are dropped on a change of host.
var sessionHeaders = []string{"Authorization", "Sessionid", "Guid", "Cookie"}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		for _, h := range sessionHeaders {
			req.Header.Del(h)
		}
	}
	return nil
}

// Redact shortens a secret so a log shows which one was used but not it:
// its first 4 characters and its length.
func Redact(s string) string {
	if s == "" {
		return ""
	}
	if len(s) <= 8 {
		return fmt.Sprintf("…(%d chars)", len(s))
	}
	return fmt.Sprintf("%s…(%d chars)", s[:4], len(s))
}

// secretHeaders are logged redacted.
var secretHeaders = map[string]bool{"Authorization": true, "Sessionid": true, "Guid": true,
	"Cookie": true, "Set-Cookie": true, "Set-Guid": true}

// LogTransport logs each request and answer in one line each, secrets
// redacted; request and response bodies are never logged.
type LogTransport struct {
	Base http.RoundTripper
	Out  io.Writer
	mu   sync.Mutex
}

func (l *LogTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "> %s %s", req.Method, RedactURL(req.URL))
	for _, k := range []string{"Authorization", "Sessionid", "Guid", "Range", "If-Range"} {
		if v := req.Header.Get(k); v != "" {
			if secretHeaders[k] {
				if p, rest, ok := strings.Cut(v, " "); ok && strings.EqualFold(p, "bearer") {
					v = p + " " + Redact(rest)
				} else {
					v = Redact(v)
				}
			}
			fmt.Fprintf(&b, " %s: %s", k, v)
		}
	}
	l.println(b.String())
	resp, err := l.Base.RoundTrip(req)
	if err != nil {
		l.println(fmt.Sprintf("< %s %s failed after %s: %v", req.Method, RedactURL(req.URL), time.Since(start).Round(time.Millisecond), err))
		return nil, err
	}
	b.Reset()
	fmt.Fprintf(&b, "< %d %s %s (%s)", resp.StatusCode, req.Method, RedactURL(req.URL), time.Since(start).Round(time.Millisecond))
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "ETag", "Retry-After", "Set-Guid"} {
		if v := resp.Header.Get(k); v != "" {
			if secretHeaders[k] {
				name, val, ok := strings.Cut(v, "=")
				if ok {
					v = name + "=" + Redact(val)
				} else {
					v = Redact(v)
				}
			}
			fmt.Fprintf(&b, " %s: %s", k, v)
		}
	}
	l.println(b.String())
	return resp, nil
}

func (l *LogTransport) println(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.Out, s)
}

// RedactURL renders u with the values of credential-like query parameters
// (token, session, guid, password, key) shortened.
func RedactURL(u *url.URL) string {
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err == nil {
			changed := false
			for k, vs := range q {
				lk := strings.ToLower(k)
				for _, s := range []string{"token", "session", "guid", "password", "key"} {
					if strings.Contains(lk, s) {
						for i := range vs {
							vs[i] = Redact(vs[i])
						}
						changed = true
					}
				}
			}
			if changed {
				c.RawQuery = q.Encode()
			}
		}
	}
	return c.String()
}
