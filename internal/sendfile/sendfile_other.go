//go:build !linux

package sendfile

import (
	"io"
	"net"
)

// Send writes s to c by copy: sendfile is used on Linux only.
func Send(c net.Conn, s *Span) (int64, error) { return io.Copy(c, s) }

// SendAfter writes head, then s, to c by copy.
func SendAfter(c net.Conn, head []byte, s *Span) (int, int64, error) { return copyAfter(c, head, s) }

// WriteMore writes p to c: the flag that holds it for what follows is
// Linux's.
func WriteMore(c net.Conn, p []byte) (int, error) { return c.Write(p) }
