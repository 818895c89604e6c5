package server

import (
	"context"
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
// body's first bytes (holdHeader): one pass through the TCP stack and one
// wake-up of the client instead of two.
type sendConn struct {
	passConn
	// hold: the next Write is the header of a response that a Send of
	// a span follows (statusWriter.sendFile sets it); held: a Write went
	// out so, to be pushed if the Send sends nothing. Only the
	// connection's own goroutine (net/http's serving one) touches them.
	hold, held bool
}

// sender is how the server finds this connection under its wrappers.
func (c *sendConn) sender() *sendConn { return c }

// holdHeader marks the next Write as a header that a span's Send follows.
func (c *sendConn) holdHeader() { c.hold = true }

// Write writes p, holding it for what follows if holdHeader asked so.
func (c *sendConn) Write(p []byte) (int, error) {
	if !c.hold {
		return c.Conn.Write(p)
	}
	c.hold, c.held = false, true
	return sendfile.WriteMore(c.Conn, p)
}

// endHeld ends a holdHeader and reports whether a Write went out held.
func (c *sendConn) endHeld() bool {
	held := c.held
	c.hold, c.held = false, false
	return held
}

func (c *sendConn) ReadFrom(r io.Reader) (int64, error) {
	held := c.endHeld()
	var n int64
	var err error
	if s, ok := r.(*sendfile.Span); ok {
		n, err = sendfile.Send(c.Conn, s)
	} else {
		n, err = c.passConn.ReadFrom(r)
	}
	if held && n == 0 { // nothing went out to carry the held header
		if perr := sendfile.Push(c.Conn); perr != nil && err == nil {
			err = perr
		}
	}
	return n, err
}

// endHold ends a holdHeader that no Send followed, pushing out a header
// that went out held.
func (c *sendConn) endHold() error {
	if c.endHeld() {
		return sendfile.Push(c.Conn)
	}
	return nil
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
