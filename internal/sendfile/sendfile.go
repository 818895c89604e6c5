// Package sendfile sends a range of a file to a TCP connection by the
// sendfile system call without waiting inside the call for the client.
//
// Why: net/http hands its response's ReadFrom (the way to the connection's
// sendfile) a 32 KiB copy buffer for as long as the call lasts, and the
// standard library's sendfile waits inside it whenever the socket is full.
// A download blocked on a client that stopped reading would then hold that
// buffer. Send instead stops at a full socket with ErrWouldBlock; the
// caller leaves net/http's ReadFrom (which gives the buffer back), waits
// with Span.Wait holding nothing, and calls again.
package sendfile

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/recvault/recvault/internal/filemap"
)

// ErrWouldBlock ends a Send that stopped because the socket was full.
var ErrWouldBlock = errors.New("sendfile: socket full")

// Span is N bytes to be sent: of File from its current offset, or, if
// Mapped is set, those in Mapped, a memory map of the file (File is then
// not used and may be nil: a blob read through a kept map need not open
// its file). As an io.Reader it reads them, for connections that cannot
// sendfile (TLS).
//
// Send writes Mapped with a write call (the kernel copies the bytes from
// the page cache's pages themselves) rather than by sendfile, which
// measured slower on both a 100 KB and a 9.6 MB file (bench/atrest.sh's
// Go floor, from memory against from the file). The process reads Mapped
// only inside filemap.Guard (Read, for TLS): a write call given bytes of
// a file cut shorter under the map fails with EFAULT, a copy in Guard
// with filemap.ErrFault, and neither faults the process.
type Span struct {
	File   *os.File
	N      int64
	Mapped []byte
	wait   func() error // set by a Send that stopped with ErrWouldBlock
}

// Read reads from the span, advancing it.
func (s *Span) Read(p []byte) (int, error) {
	if s.N <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.N {
		p = p[:s.N]
	}
	if s.Mapped != nil {
		if len(s.Mapped) == 0 {
			return 0, io.ErrUnexpectedEOF
		}
		var n int
		err := filemap.Guard(func() error { n = copy(p, s.Mapped); return nil })
		if err != nil {
			return 0, fmt.Errorf("sendfile: %w", err)
		}
		s.Mapped = s.Mapped[n:]
		s.N -= int64(n)
		return n, nil
	}
	n, err := s.File.Read(p)
	s.N -= int64(n)
	return n, err
}

// copyAfter is SendAfter for a connection without a socket: head, then
// the span, written by copy.
func copyAfter(c net.Conn, head []byte, s *Span) (int, int64, error) {
	hn, err := c.Write(head)
	if err != nil {
		return hn, 0, err
	}
	n, err := io.Copy(c, s)
	return hn, n, err
}

// Wait blocks until the connection that the last Send stopped at with
// ErrWouldBlock can take more bytes, or its write deadline passes.
func (s *Span) Wait() error {
	if s.wait == nil {
		return nil
	}
	w := s.wait
	s.wait = nil
	return w()
}
