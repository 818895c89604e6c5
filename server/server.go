// Package server assembles recvault's HTTP server: it mounts the façades
// over one core service and adds what every request gets (a request id,
// panic recovery, access logging, path cleaning) and graceful shutdown.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/recvault/recvault/api/ameyo"
	"github.com/recvault/recvault/api/ccgateway"
	"github.com/recvault/recvault/api/httputil"
	v1 "github.com/recvault/recvault/api/v1"
	"github.com/recvault/recvault/api/web"
	"github.com/recvault/recvault/internal/sendfile"
	"github.com/recvault/recvault/metrics"
	"github.com/recvault/recvault/vault"
)

// Config configures a Server.
type Config struct {
	Logger *slog.Logger
	// TLSCert and TLSKey, when both set, make the server speak HTTPS only.
	TLSCert, TLSKey string
	// ShutdownGrace bounds how long Shutdown waits for running downloads.
	ShutdownGrace time.Duration
	// CCGateway tunes the CC-Gateway façade (GUID mode, timeouts, CORS).
	CCGateway ccgateway.Config
	// Ameyo tunes the Ameyo façade (push polls, archive download).
	Ameyo ameyo.Config
	// TrustedProxies are the networks of the load balancers in front of
	// this server. Only a request whose peer lies in one of them has its
	// X-Forwarded-For believed; the client is then the last address in it
	// that is not a trusted proxy. The audit trail, the archive allow-list
	// and the logs see that client.
	TrustedProxies []netip.Prefix
	// BodyTimeout bounds how long a request body may keep the server
	// waiting in all (default 10 s), so that a body trickled a byte at a
	// time cannot hold a connection. The upload (POST /api/v1/recordings),
	// which may be gigabytes, is held to a rate instead: at least
	// UploadChunk bytes (default 64 KiB) every UploadWindow (default 10 s).
	BodyTimeout  time.Duration
	UploadWindow time.Duration
	UploadChunk  int64
	// MaxConnsPerClient caps the connections open at once from one peer
	// address; beyond it new ones are closed at once. Trusted proxies are
	// exempt. 0: 256; negative: no cap.
	MaxConnsPerClient int
	// NoPublicMetrics leaves /metrics off this server (it is then served
	// on a listener of its own, see MetricsHandler).
	NoPublicMetrics bool
}

// MetricsHandler serves the Prometheus metrics (for a metrics-only
// listener).
func MetricsHandler() http.Handler { return metrics.Handler() }

// patterner is a façade that names the route a request matches.
type patterner interface{ Pattern(*http.Request) string }

// Server is one recvault HTTP server. Several can run in one process.
type Server struct {
	svc  *vault.Service
	cfg  Config
	log  *slog.Logger
	http *http.Server
	root http.Handler
	mux  *http.ServeMux
	// apis names the API of each top-level pattern, for logs and metrics;
	// subs holds those whose handler routes on (a patterner).
	apis map[string]string
	subs map[string]bool
}

// New builds a server over svc.
func New(svc *vault.Service, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 30 * time.Second
	}
	s := &Server{svc: svc, cfg: cfg, log: cfg.Logger, apis: map[string]string{}, subs: map[string]bool{}}
	mux := http.NewServeMux()
	s.mux = mux
	mount := func(pattern, api string, h http.Handler) {
		mux.Handle(pattern, h)
		s.apis[pattern] = api
		if _, ok := h.(patterner); ok {
			s.subs[pattern] = true
		}
	}
	mount("/api/v1/", "v1", v1.New(svc, cfg.Logger))
	am := ameyo.New(svc, cfg.Logger, cfg.Ameyo)
	mount("/ameyorestapi/", "ameyo", am)
	mount("/ameyowebaccess/", "ameyo", am)
	if cfg.Ameyo.ArchivePath != "" {
		mount(cfg.Ameyo.ArchivePath, "ameyo", am)
	}
	mount("/agentgateway/", "ccgw", ccgateway.New(svc, cfg.Logger, cfg.CCGateway))
	mount("GET /healthz", "ops", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}))
	mount("GET /readyz", "ops", http.HandlerFunc(s.ready))
	if !cfg.NoPublicMetrics {
		mount("GET /metrics", "ops", metrics.Handler())
	}
	mount("/", "web", web.New(svc, cfg.Logger))
	s.root = s.wrap(mux)
	s.http = &http.Server{
		Handler:           s.root,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ConnContext:       withSender,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler is the server's root handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.root }

// Serve accepts connections on ln until Shutdown, at most
// Config.MaxConnsPerClient at once from one client. It returns nil after a
// clean shutdown.
func (s *Server) Serve(ln net.Listener) error {
	ln = sendListener{ln}
	if max := s.cfg.maxConnsPerClient(); max > 0 {
		ln = newLimitListener(ln, max, s.trusted, s.log)
	}
	var err error
	if s.cfg.TLSCert != "" && s.cfg.TLSKey != "" {
		err = s.http.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
	} else {
		err = s.http.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits up to ShutdownGrace for
// running requests (downloads) to finish, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownGrace)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("shutdown grace period over; closing remaining connections")
		return s.http.Close()
	}
	return err
}

// statusWriter records the status and size of a response for the access
// log, and whether writing it failed (the client left, or the connection
// broke).
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
	err    error
	// conn is the request's connection when it can hold a header for
	// the body's sendfile (plain HTTP), else nil.
	conn *sendConn
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// Unwrap lets http.ResponseController and sendfile reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom keeps the sendfile path of the underlying writer: io.Copy from a
// file reaches the connection's ReadFrom only if every wrapper passes it
// on. Any other source (a conversion computed by offset) is copied with
// one pooled 8 KiB buffer: net/http's own ReadFrom would hold its 32 KiB
// buffer and the TCP connection's fallback copy another 32 KiB for as
// long as a slow client takes. 8 KiB, not 16: a stream blocked on a slow
// client holds it, and it was 16 of the 76 KiB a slow WAV conversion
// held (69 KiB with 8; 4 KiB gave 66 KiB at twice the write calls).
// (A verified blob comes here only as a sendfile.Span of its stored file,
// checked before, or else writes its chunks itself: see api/httputil.)
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok && httputil.IsFile(src) {
		n, err = w.sendFile(rf, src)
	} else {
		bp := copyBufs.Get().(*[]byte)
		n, err = io.CopyBuffer(writerOnly{w.ResponseWriter}, src, *bp)
		copyBufs.Put(bp)
	}
	w.n += n
	if err != nil && w.err == nil && !errors.Is(err, sendfile.ErrWouldBlock) {
		w.err = err // a full socket is not a failure: the caller waits and goes on
	}
	return n, err
}

// sendFile passes src, a file or a sendfile.Span, to net/http's ReadFrom.
// A span's header goes out held for the span's first bytes (sendConn's
// holdHeader): one packet and one wake-up of the client, not two.
// Flushing the header here, held, also spares net/http's ReadFrom the
// copy of the body's first 512 bytes (a read and a write) that it makes
// before its sendfile while the header is unwritten.
func (w *statusWriter) sendFile(rf io.ReaderFrom, src io.Reader) (int64, error) {
	sp, ok := src.(*sendfile.Span)
	f, canFlush := w.ResponseWriter.(interface{ FlushError() error })
	if !ok || sp.N <= 0 || w.conn == nil || !canFlush {
		return rf.ReadFrom(src)
	}
	w.conn.holdHeader()
	if err := f.FlushError(); err != nil {
		return 0, errors.Join(err, w.conn.endHold())
	}
	n, err := rf.ReadFrom(src)
	if herr := w.conn.endHold(); herr != nil && err == nil {
		err = herr
	}
	return n, err
}

// copyBufs holds the buffers of statusWriter.ReadFrom.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// writerOnly hides a writer's ReadFrom, so that io.CopyBuffer uses the
// buffer it is given.
type writerOnly struct{ io.Writer }

// ready answers 200 when the catalog and the blob store both answer, else
// 503 naming which one does not; the cause goes to the log only. A load
// balancer takes the replica out of rotation meanwhile (the process stays
// up: the backends may come back).
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.svc.Ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "not ready: %s unavailable\n", vault.ReadyFailure(err))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// clientAddr returns the address of the client behind r: the peer, or,
// when the peer is a trusted proxy, the last untrusted address of
// X-Forwarded-For (each proxy appends the address it saw).
func (s *Server) clientAddr(r *http.Request) string {
	if len(s.cfg.TrustedProxies) == 0 {
		return r.RemoteAddr
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !s.trusted(peer.Addr().Unmap()) {
		return r.RemoteAddr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return r.RemoteAddr // a malformed hop: believe nothing further left
		}
		if ip = ip.Unmap(); !s.trusted(ip) {
			return netip.AddrPortFrom(ip, 0).String()
		}
	}
	return r.RemoteAddr
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// requestID honours an incoming X-Request-Id of sane shape (a load
// balancer's or a caller's, so logs can be joined across hops), else makes
// one.
func requestID(r *http.Request) string {
	if v := r.Header.Get("X-Request-Id"); len(v) >= 8 && len(v) <= 64 {
		ok := true
		for i := 0; i < len(v) && ok; i++ {
			c := v[i]
			ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
		}
		if ok {
			return v
		}
	}
	return newRequestID()
}

func newRequestID() string {
	var b [8]byte
	// crypto/rand.Read never returns an error: it ends the program if the
	// system's generator fails (Go 1.24 and later).
	_, _ = rand.Read(b[:])
	var out [16]byte // on the stack: one allocation, the string
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// cleanPath collapses repeated slashes: vendor browser clients build
// "/resource/" + "/onlineagent/1", and a redirect would break them.
func cleanPath(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	prev := byte(0)
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && prev == '/' {
			continue
		}
		prev = p[i]
		b.WriteByte(p[i])
	}
	return b.String()
}

func (s *Server) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := requestID(r)
		w.Header().Set("X-Request-Id", rid)
		peer := r.RemoteAddr
		r.RemoteAddr = s.clientAddr(r)
		note := &vault.RequestNote{}
		ri := vault.RequestInfo{Remote: r.RemoteAddr, RequestID: rid, Route: r.Method + " " + cleanPath(r.URL.Path), Note: note}
		r = r.WithContext(vault.WithRequestInfo(r.Context(), ri))
		if c := cleanPath(r.URL.Path); c != r.URL.Path {
			r.URL.Path = c
			r.URL.RawPath = ""
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = s.guardBody(w, r)
		}
		sw := &statusWriter{ResponseWriter: w, conn: senderOf(r.Context())}
		defer func() {
			api, route := s.servedLabels(r, note)
			aborted := false
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					aborted = true
					defer panic(v) // after the log line: net/http cuts the connection
				} else {
					s.log.Error("handler panic", "panic", fmt.Sprint(v), "request_id", rid, "path", r.URL.Path)
					if sw.status == 0 {
						http.Error(sw, "Internal error.", http.StatusInternalServerError)
					}
				}
			}
			cut := aborted || sw.err != nil || (r.Context().Err() != nil && short(sw, r))
			took := time.Since(start)
			metrics.Request(api, route, sw.status, sw.n, took, cut)
			if !s.log.Enabled(r.Context(), slog.LevelInfo) {
				return // the access log is off: build none of its line
			}
			// The path is logged, never the query: it may carry session ids.
			attrs := []any{"method", r.Method, "path", r.URL.Path, "api", api, "route", route, "status", sw.status,
				"bytes", sw.n, "ms", took.Milliseconds(), "request_id", rid, "remote", r.RemoteAddr, "peer", peer}
			if p := note.Principal(); p != "" {
				attrs = append(attrs, "principal", p)
			}
			if f := note.Format(); f != "" {
				attrs = append(attrs, "format", f)
			}
			if cut {
				attrs = append(attrs, "cut", true) // the client did not get the whole answer
			}
			s.log.Info("request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// servedLabels is labels for r once the mux has served it: the mux set
// r.Pattern to the top-level pattern it matched, and an API's router noted
// its own pattern in note (httputil.Serve), so that naming a request
// routes it again only where neither could say (a panic, a request the
// API answered before routing it, no match).
func (s *Server) servedLabels(r *http.Request, note *vault.RequestNote) (api, route string) {
	api = s.apis[r.Pattern]
	if api == "" {
		return s.labels(r)
	}
	if !s.subs[r.Pattern] {
		return api, r.Pattern
	}
	route, ok := note.Route()
	if !ok {
		return s.labels(r)
	}
	if route == "" {
		route = "unmatched"
	}
	return api, route
}

// labels names the API and the route pattern of r, for logs and metrics:
// patterns, never paths, so that no recording id or login becomes a label.
func (s *Server) labels(r *http.Request) (api, route string) {
	if s.mux == nil {
		return "none", "unmatched" // a Server made without New (tests of the wrapper)
	}
	h, pattern := s.mux.Handler(r)
	api = s.apis[pattern]
	if api == "" {
		return "none", "unmatched"
	}
	route = pattern
	if p, ok := h.(patterner); ok {
		route = p.Pattern(r)
	}
	if route == "" {
		route = "unmatched"
	}
	return api, route
}

// short reports whether fewer body bytes went out than the response's
// Content-Length promised.
func short(sw *statusWriter, r *http.Request) bool {
	if r.Method == http.MethodHead || sw.status == http.StatusNotModified || sw.status == http.StatusNoContent {
		return false
	}
	cl, err := strconv.ParseInt(sw.Header().Get("Content-Length"), 10, 64)
	return err == nil && sw.n < cl
}
