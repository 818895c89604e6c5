package server

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/recvault/recvault/internal/sendfile"
)

// sendListener gives every connection it accepts the non-waiting sendfile
// of sendfile.Span (see sendConn). Serve puts it under the per-client
// limit, so that limited and exempt connections alike have it.
type sendListener struct{ net.Listener }

func (l sendListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sendConn{passConn: passConn{c}}, nil
}

// sendConn is an accepted connection whose ReadFrom sends a sendfile.Span
// by sendfile without waiting for a slow client (sendfile.Send), and
// passes anything else to the connection's own ReadFrom (the standard
// library's sendfile of a plain file, for cached conversions).
//
// A response whose body is a span has its header held back for the
// body's first bytes (holdHeader): for a span of a map, header and body
// leave in one writev call (sendfile.SendAfter), one system call, one
// pass through the TCP stack and one wake-up of the client instead of
// two of each; for a span of a file, the header is written flagged
// MSG_MORE just before the sendfile.
type sendConn struct {
	passConn
	// hold: the next Write is the header of a response that a Send of
	// a span follows (statusWriter.sendFile sets it). pending: such a
	// header, or what of it the socket has not taken yet; it goes out
	// ahead of anything else written on the connection. Only the
	// connection's own goroutine (net/http's serving one) touches them.
	hold    bool
	pending []byte
}

// sender is how the server finds this connection under its wrappers.
func (c *sendConn) sender() *sendConn { return c }

// holdHeader marks the next Write as a header that a span's Send follows.
func (c *sendConn) holdHeader() { c.hold = true }

// Write writes p, or keeps it for the span's Send if holdHeader asked so.
func (c *sendConn) Write(p []byte) (int, error) {
	if c.hold {
		c.hold = false
		c.pending = append(c.pending, p...)
		return len(p), nil
	}
	if err := c.flushPending(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// flushPending writes a held header that no span took.
func (c *sendConn) flushPending() error {
	if len(c.pending) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.pending)
	c.pending = c.pending[:0]
	return err
}

func (c *sendConn) ReadFrom(r io.Reader) (int64, error) {
	c.hold = false
	s, ok := r.(*sendfile.Span)
	if !ok {
		if err := c.flushPending(); err != nil {
			return 0, err
		}
		return c.passConn.ReadFrom(r)
	}
	if s.N <= 0 {
		return 0, c.flushPending() // nothing to carry the header
	}
	hn, n, err := sendfile.SendAfter(c.Conn, c.pending, s)
	switch {
	case hn == len(c.pending):
		c.pending = c.pending[:0]
	case err != nil && !errors.Is(err, sendfile.ErrWouldBlock):
		c.pending = c.pending[:0] // the connection is gone with it
	default: // the socket filled within the header: the rest goes first next time
		c.pending = c.pending[:copy(c.pending, c.pending[hn:])]
	}
	return n, err
}

// endHold ends a holdHeader, writing a header that no span took.
func (c *sendConn) endHold() error {
	c.hold = false
	return c.flushPending()
}

// senderKey is the request context's key for the request's sendConn.
type senderKey struct{}

// withSender is the server's ConnContext: it puts the connection's
// sendConn, if it has one (not under TLS), in its requests' context.
func withSender(ctx context.Context, c net.Conn) context.Context {
	if s, ok := c.(interface{ sender() *sendConn }); ok {
		if sc := s.sender(); sc != nil {
			return context.WithValue(ctx, senderKey{}, sc)
		}
	}
	return ctx
}

// senderOf returns the sendConn of the request's connection, or nil.
func senderOf(ctx context.Context) *sendConn {
	sc, _ := ctx.Value(senderKey{}).(*sendConn)
	return sc
}
