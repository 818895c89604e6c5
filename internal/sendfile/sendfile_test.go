package sendfile

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-done
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func file(t *testing.T, data []byte) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestSendToStalledClient: a span larger than the socket can hold stops
// with ErrWouldBlock instead of waiting, Wait returns once the client
// reads, and Send calls carry on from where the last stopped until every
// byte arrived, in order, from the file's offset.
func TestSendToStalledClient(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendfile is used on Linux only")
	}
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	f := file(t, data)
	const skip = 1000
	if _, err := f.Seek(skip, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	srv, cli := pair(t)
	s := &Span{File: f, N: int64(len(data) - skip)}
	n, err := Send(srv, s)
	if !errors.Is(err, ErrWouldBlock) || n <= 0 || n >= int64(len(data)-skip) || s.N != int64(len(data)-skip)-n {
		t.Fatalf("first Send to a client reading nothing: %d bytes, %v (left %d)", n, err, s.N)
	}
	finish(t, srv, cli, s, n, data[skip:])
}

// finish sends the rest of s to a client that now reads, waiting whenever
// the socket is full, and checks that the client got want: sent bytes of
// it were sent before.
func finish(t *testing.T, srv, cli net.Conn, s *Span, sent int64, want []byte) {
	t.Helper()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(cli, int64(len(want))))
		got <- b
	}()
	for s.N > 0 {
		if err := s.Wait(); err != nil {
			t.Fatal(err)
		}
		n, err := Send(srv, s)
		sent += n
		if err != nil && !errors.Is(err, ErrWouldBlock) {
			t.Fatal(err)
		}
	}
	if b := <-got; sent != int64(len(want)) || !bytes.Equal(b, want) {
		t.Fatalf("client got %d bytes (sent %d), equal %v", len(b), sent, bytes.Equal(b, want))
	}
}

// TestWaitDeadline: Wait on a client that never reads ends at the write
// deadline with an error, rather than never.
func TestWaitDeadline(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendfile is used on Linux only")
	}
	f := file(t, make([]byte, 8<<20))
	srv, _ := pair(t)
	s := &Span{File: f, N: 8 << 20}
	if _, err := Send(srv, s); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Send: %v; want ErrWouldBlock", err)
	}
	if err := srv.SetWriteDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Wait past the deadline: %v", err)
	}
}

// TestFileEndsEarly: a span longer than what is left of the file ends in
// io.ErrUnexpectedEOF once the file is sent, not in a loop.
func TestFileEndsEarly(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendfile is used on Linux only")
	}
	f := file(t, []byte("short file"))
	srv, cli := pair(t)
	s := &Span{File: f, N: 100}
	n, err := Send(srv, s)
	if n != 10 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Send = %d, %v; want 10 and io.ErrUnexpectedEOF", n, err)
	}
	b := make([]byte, 10)
	if _, err := io.ReadFull(cli, b); err != nil || string(b) != "short file" {
		t.Fatalf("client read %q, %v", b, err)
	}
}

// TestRead: a Span read as an io.Reader (a TLS connection copies it)
// gives its N bytes from the file's offset and then io.EOF.
func TestRead(t *testing.T) {
	f := file(t, []byte("0123456789"))
	if _, err := f.Seek(2, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(&Span{File: f, N: 5})
	if err != nil || string(b) != "23456" {
		t.Fatalf("read %q, %v", b, err)
	}
}

// TestReadMapped: a Span with Mapped and no file, read as an io.Reader,
// gives the mapped bytes, then io.EOF; one whose map is shorter than N
// ends with io.ErrUnexpectedEOF rather than spin.
func TestReadMapped(t *testing.T) {
	b, err := io.ReadAll(&Span{N: 5, Mapped: []byte("abcde")})
	if err != nil || string(b) != "abcde" {
		t.Fatalf("read %q, %v", b, err)
	}
	b, err = io.ReadAll(&Span{N: 9, Mapped: []byte("abc")})
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "abc" {
		t.Fatalf("read of a map shorter than the span: %q, %v", b, err)
	}
}
