package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"
)

// limitListener caps the connections open at once from one peer address.
// Every idle keep-alive connection costs a goroutine and buffers, so without
// a cap one client can hold thousands open and starve everyone else. Beyond
// the cap a new connection is closed at once, before a byte is read: there
// is no request yet to answer. Peers that are trusted proxies (load
// balancers, which carry everybody's connections) are not counted.
type limitListener struct {
	net.Listener
	max    int
	exempt func(netip.Addr) bool
	log    *slog.Logger

	mu     sync.Mutex
	open   map[netip.Addr]int
	warned map[netip.Addr]bool // refusal logged since the peer was last under the cap
}

func newLimitListener(ln net.Listener, max int, exempt func(netip.Addr) bool, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, max: max, exempt: exempt, log: log,
		open: map[netip.Addr]int{}, warned: map[netip.Addr]bool{}}
}

// Accept returns the next connection within the cap, closing the ones
// beyond it.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, ok := peerIP(c)
		if !ok || l.exempt(ip) {
			return c, nil
		}
		l.mu.Lock()
		if l.open[ip] >= l.max {
			first := !l.warned[ip]
			l.warned[ip] = true
			l.mu.Unlock()
			// One line per episode of a peer at its cap: a flood of
			// refused connections must not become a flood of log lines.
			if first {
				l.log.Warn("refusing connections: client at its connection cap", "remote", ip.String(), "max", l.max)
			}
			if err := c.Close(); err != nil {
				l.log.Debug("close refused connection", "remote", ip.String(), "err", err)
			}
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &limitConn{passConn: passConn{c}, l: l, ip: ip}, nil
	}
}

func (l *limitListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
	if l.open[ip] < l.max {
		delete(l.warned, ip)
	}
}

// peerIP is the connection's remote IP, IPv4-mapped addresses unmapped so
// that one client is one key.
func peerIP(c net.Conn) (netip.Addr, bool) {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap(), true
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// limitConn gives its slot back when closed (once, however often Close is
// called).
type limitConn struct {
	passConn
	l    *limitListener
	ip   netip.Addr
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

// passConn wraps a connection and keeps the optional methods net/http
// looks for on it, which embedding the net.Conn interface would hide.
type passConn struct{ net.Conn }

// ReadFrom passes io.Copy through to the wrapped connection, which net/http
// relies on for sendfile of downloads.
func (c passConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// CloseWrite passes the half-close through: net/http half-closes before it
// drops a connection with an unread request body, so that the client reads
// the answer (an early 400 or 413) instead of a reset.
// sender passes the search for the sendConn under this wrapper on.
func (c passConn) sender() *sendConn {
	if s, ok := c.Conn.(interface{ sender() *sendConn }); ok {
		return s.sender()
	}
	return nil
}

func (c passConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("connection cannot half-close")
}

// Defaults of the Config limits.
const (
	defaultBodyTimeout       = 10 * time.Second
	defaultUploadWindow      = 10 * time.Second
	defaultUploadChunk       = 64 << 10
	defaultMaxConnsPerClient = 256
)

func (c *Config) bodyTimeout() time.Duration {
	if c.BodyTimeout > 0 {
		return c.BodyTimeout
	}
	return defaultBodyTimeout
}

func (c *Config) uploadWindow() time.Duration {
	if c.UploadWindow > 0 {
		return c.UploadWindow
	}
	return defaultUploadWindow
}

func (c *Config) uploadChunk() int64 {
	if c.UploadChunk > 0 {
		return c.UploadChunk
	}
	return defaultUploadChunk
}

// maxConnsPerClient is the cap in force; 0 means none.
func (c *Config) maxConnsPerClient() int {
	switch n := c.MaxConnsPerClient; {
	case n == 0:
		return defaultMaxConnsPerClient
	case n < 0:
		return 0
	default:
		return n
	}
}

// isUpload reports whether r is the recording upload, whose body may be
// gigabytes and so is held to a rate rather than to a total time.
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/api/v1/recordings"
}

// bodyGuard bounds how long a request body may keep the server waiting:
// headers have ReadHeaderTimeout, but a body sent a byte at a time would
// otherwise hold its connection, goroutine and (for an upload) a blob
// write open for as long as the client likes. Only time spent blocked in
// Read counts, so a handler that is slow to read (a busy object store) is
// not taken for a slow client. A plain body has left in all; an upload gets
// left back whenever chunk more bytes have arrived, i.e. it must keep up a
// minimum rate of chunk bytes per window.
//
// The bound is a read deadline on the connection, set before every Read,
// so it also bounds what net/http reads (discards) of an unread body after
// the handler. Once the body hit EOF the guard leaves the deadline alone:
// net/http clears it then for its background read, and a deadline there
// would cancel a long download's context.
type bodyGuard struct {
	io.ReadCloser
	rc     *http.ResponseController
	left   time.Duration // waiting the client may still cost
	window time.Duration // refill for uploads; 0 for other bodies
	chunk  int64
	got    int64 // bytes since the last refill
	done   bool  // EOF seen, or deadlines unsupported
}

// guardBody wraps r's body in a bodyGuard and arms its deadline, so that
// a handler that never reads the body is bounded too.
func (s *Server) guardBody(w http.ResponseWriter, r *http.Request) *bodyGuard {
	g := &bodyGuard{ReadCloser: r.Body, rc: http.NewResponseController(w), left: s.cfg.bodyTimeout()}
	if isUpload(r) {
		g.window, g.chunk = s.cfg.uploadWindow(), s.cfg.uploadChunk()
		g.left = g.window
	}
	if err := g.arm(time.Now()); err != nil {
		s.log.Warn("request body deadline", "err", err, "path", r.URL.Path)
	}
	return g
}

// arm sets the deadline for a wait starting now. A connection that cannot
// take deadlines leaves the body unguarded.
func (g *bodyGuard) arm(now time.Time) error {
	err := g.rc.SetReadDeadline(now.Add(g.left))
	if errors.Is(err, http.ErrNotSupported) {
		g.done = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("set read deadline: %w", err)
	}
	return nil
}

func (g *bodyGuard) Read(p []byte) (int, error) {
	if g.done {
		return g.ReadCloser.Read(p)
	}
	start := time.Now()
	if err := g.arm(start); err != nil {
		return 0, fmt.Errorf("request body: %w", err)
	}
	n, err := g.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		g.done = true
		return n, err
	}
	g.left -= time.Since(start)
	if g.window > 0 {
		if g.got += int64(n); g.got >= g.chunk {
			g.got, g.left = 0, g.window
		}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("request body arrives too slowly: %w", err)
	}
	return n, err
}
