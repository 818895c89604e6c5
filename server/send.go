package server

import (
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
	return &sendConn{passConn{c}}, nil
}

// sendConn is an accepted connection whose ReadFrom sends a sendfile.Span
// by sendfile without waiting for a slow client (sendfile.Send), and
// passes anything else to the connection's own ReadFrom (the standard
// library's sendfile of a plain file, for cached conversions).
type sendConn struct{ passConn }

func (c *sendConn) ReadFrom(r io.Reader) (int64, error) {
	if s, ok := r.(*sendfile.Span); ok {
		return sendfile.Send(c.Conn, s)
	}
	return c.passConn.ReadFrom(r)
}
