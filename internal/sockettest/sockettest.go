// Package sockettest puts a TCP connection's socket in the states that
// tests of non-waiting senders need (internal/sendfile, server's
// sendConn), which a client alone cannot bring about on time.
package sockettest

import (
	"bytes"
	"errors"
	"net"
	"syscall"
	"testing"
)

// Fill writes to c until its socket takes no more, without waiting, and
// returns what it wrote: the bytes the client reads first from then on.
// c must be a connection with a socket (a *net.TCPConn, or one wrapping
// it that offers SyscallConn).
func Fill(tb testing.TB, c net.Conn) []byte {
	tb.Helper()
	sc, ok := c.(syscall.Conn)
	if !ok {
		tb.Fatalf("sockettest: a %T has no socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var filled []byte
	chunk := bytes.Repeat([]byte("filled!\n"), 8<<10)
	var werr error
	err = raw.Write(func(fd uintptr) bool {
		for {
			n, err := syscall.Write(int(fd), chunk)
			if n > 0 {
				filled = append(filled, chunk[:n]...)
			}
			switch {
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
				return true // full
			case err != nil:
				werr = err
				return true
			}
		}
	})
	if err != nil || werr != nil {
		tb.Fatalf("sockettest: filling the socket: %v", errors.Join(err, werr))
	}
	return filled
}
