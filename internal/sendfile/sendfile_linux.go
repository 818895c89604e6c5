package sendfile

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// Send sends what of s the socket of c takes now, by sendfile from the
// file's offset, and advances s. It returns ErrWouldBlock if the socket
// filled first (then s.Wait waits for room), io.ErrUnexpectedEOF if the
// file ended first. A connection without a socket is written by copy.
func Send(c net.Conn, s *Span) (int64, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return io.Copy(c, s)
	}
	dst, err := sc.SyscallConn()
	if err != nil {
		return io.Copy(c, s)
	}
	src, err := s.File.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sendfile: %w", err)
	}
	var sent int64
	var serr error
	cerr := src.Control(func(in uintptr) {
		werr := dst.Write(func(out uintptr) bool {
		send:
			for s.N > 0 {
				n, err := syscall.Sendfile(int(out), int(in), nil, int(min(s.N, 1<<30)))
				if n > 0 {
					sent += int64(n)
					s.N -= int64(n)
				}
				switch {
				case errors.Is(err, syscall.EINTR):
					continue
				case errors.Is(err, syscall.EAGAIN):
					serr = ErrWouldBlock
				case err != nil:
					serr = fmt.Errorf("sendfile: %w", err)
				case n == 0:
					serr = fmt.Errorf("sendfile: %w", io.ErrUnexpectedEOF)
				default:
					continue
				}
				break send
			}
			return true // never wait here: that is the caller's, outside net/http
		})
		if werr != nil && serr == nil {
			serr = fmt.Errorf("sendfile: %w", werr)
		}
	})
	if cerr != nil && serr == nil {
		serr = fmt.Errorf("sendfile: %w", cerr)
	}
	if errors.Is(serr, ErrWouldBlock) {
		s.wait = func() error {
			// The first call returns false, so Write waits until the
			// socket is writable (or the deadline passes), then calls
			// it again to finish.
			waited := false
			if err := dst.Write(func(uintptr) bool { w := waited; waited = true; return w }); err != nil {
				return fmt.Errorf("sendfile: wait for the client: %w", err)
			}
			return nil
		}
	}
	return sent, serr
}
