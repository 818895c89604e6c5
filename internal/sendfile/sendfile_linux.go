package sendfile

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Send sends what of s the socket of c takes now, by sendfile from the
// file's offset (or by write from s.Mapped), and advances s. It returns
// ErrWouldBlock if the socket filled first (then s.Wait waits for room),
// io.ErrUnexpectedEOF if the file ended first. A connection without a socket is written by copy.
func Send(c net.Conn, s *Span) (int64, error) {
	_, n, err := SendAfter(c, nil, s)
	return n, err
}

// SendAfter is Send with head, a response's header, sent first: for a
// span of a map in the same writev call as the span's first bytes (one
// system call and one pass through the TCP stack for a small response,
// where a header written on its own cost a call of its own), for a span
// of a file flagged MSG_MORE ahead of the sendfile. It reports how much
// of head went out (all of it, unless the socket filled first: then the
// rest must go first next time) and how much of s.
func SendAfter(c net.Conn, head []byte, s *Span) (int, int64, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return copyAfter(c, head, s)
	}
	dst, err := sc.SyscallConn()
	if err != nil {
		return copyAfter(c, head, s)
	}
	headSent := 0
	if len(head) > 0 && s.Mapped == nil {
		n, err := WriteMore(c, head)
		if err != nil {
			return n, 0, err
		}
		headSent, head = n, nil
	}
	var sent int64
	var serr error
	control := func(f func(uintptr)) error { f(0); return nil } // Mapped: no file needed
	if s.Mapped == nil {
		src, err := s.File.SyscallConn()
		if err != nil {
			return headSent, 0, fmt.Errorf("sendfile: %w", err)
		}
		control = src.Control
	}
	cerr := control(func(in uintptr) {
		werr := dst.Write(func(out uintptr) bool {
		send:
			for s.N > 0 || len(head) > 0 {
				var n, wrote int // body bytes, and all bytes, this call wrote
				var err error
				switch {
				case s.Mapped != nil && len(head) > 0:
					body := s.Mapped[:min(s.N, int64(len(s.Mapped)), 1<<30)]
					wrote, err = unix.Writev(int(out), [][]byte{head, body})
					h := min(max(wrote, 0), len(head))
					head, headSent, n = head[h:], headSent+h, max(wrote-h, 0)
				case s.Mapped != nil:
					n, err = syscall.Write(int(out), s.Mapped[:min(s.N, int64(len(s.Mapped)), 1<<30)])
					wrote = n
				default:
					n, err = syscall.Sendfile(int(out), int(in), nil, int(min(s.N, 1<<30)))
					wrote = n
				}
				if n > 0 {
					sent += int64(n)
					s.N -= int64(n)
					if s.Mapped != nil {
						s.Mapped = s.Mapped[n:]
					}
				}
				switch {
				case errors.Is(err, syscall.EINTR):
					continue
				case errors.Is(err, syscall.EAGAIN):
					serr = ErrWouldBlock
				case err != nil:
					serr = fmt.Errorf("sendfile: %w", err)
				case wrote <= 0:
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
			// The first call returns false unless the socket has room
			// already, so Write waits until it has (or the deadline
			// passes), then calls it again to finish. The look comes
			// first because Write forgets, as it starts, a readiness
			// the poller saw before: a client that emptied the socket
			// between the Send and this wait gives no further signal,
			// and a plain false would then wait for ever.
			waited := false
			if err := dst.Write(func(fd uintptr) bool {
				if waited {
					return true
				}
				waited = true
				return writable(fd)
			}); err != nil {
				return fmt.Errorf("sendfile: wait for the client: %w", err)
			}
			return nil
		}
	}
	return headSent, sent, serr
}

// WriteMore writes p to c flagged MSG_MORE: the kernel keeps the bytes to
// go out in the same segments as what is sent next. It is for a
// response's header that a Send of its body follows at once: without the
// flag the header leaves as a packet of its own, which costs the server a
// second pass through the TCP stack (and, on loopback, the receiver's
// processing of it) and the client a second wake-up. Whoever calls it
// must send more soon after (SendAfter does). A connection without a socket is
// written plainly.
func WriteMore(c net.Conn, p []byte) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c.Write(p)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c.Write(p)
	}
	var n int
	var serr error
	werr := raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, err := syscall.SendmsgN(int(fd), p[n:], nil, nil, syscall.MSG_MORE)
			if m > 0 {
				n += m
			}
			switch {
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
				return false // wait until the socket is writable (or the deadline)
			case err != nil:
				serr = err
				return true
			}
		}
		return true
	})
	if serr == nil && werr != nil {
		serr = werr
	}
	if serr != nil {
		return n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: serr}
	}
	return n, nil
}

// writable reports whether the socket fd has room to write now (or has
// failed, which the next write reports), without waiting.
func writable(fd uintptr) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		n, err := unix.Poll(pfd, 0)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		return err != nil || (n > 0 && pfd[0].Revents != 0)
	}
}
