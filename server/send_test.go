package server

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/recvault/recvault/internal/sendfile"
)

// TestSendConnSpanDoesNotWait: a connection from sendListener sends a
// sendfile.Span without waiting for a client that reads nothing (it stops
// with ErrWouldBlock, which is what lets net/http's buffer go back), and
// passes any other reader on to the connection's own ReadFrom, whole.
func TestSendConnSpanDoesNotWait(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendfile is used on Linux only")
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := sendListener{inner}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 16<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rf, ok := c.(io.ReaderFrom)
	if !ok {
		t.Fatal("an accepted connection has no ReadFrom")
	}
	// A copy that waited would end here, at the deadline, and fail below.
	if err := c.SetWriteDeadline(time.Now().Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	s := &sendfile.Span{File: f, N: 16 << 20}
	if n, err := rf.ReadFrom(s); !errors.Is(err, sendfile.ErrWouldBlock) || n <= 0 || n >= 16<<20 {
		t.Fatalf("ReadFrom(span) to a client reading nothing: %d bytes, %v; want part and ErrWouldBlock", n, err)
	}
	// The half-close passes through too.
	if _, ok := c.(interface{ CloseWrite() error }); !ok {
		t.Fatal("an accepted connection cannot half-close")
	}
}
