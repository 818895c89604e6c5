package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/recvault/recvault/internal/sendfile"
	"github.com/recvault/recvault/internal/sockettest"
)

// TestSendConnSpanDoesNotWait: a connection from sendListener sends a
// sendfile.Span without waiting for a client that reads nothing (it stops
// with ErrWouldBlock, which is what lets net/http's buffer go back), and
// passes any other reader on to the connection's own ReadFrom, whole.
func TestSendConnSpanDoesNotWait(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendfile is used on Linux only")
	}
	sc, _ := acceptedPair(t)
	var c net.Conn = sc
	rf, ok := c.(io.ReaderFrom)
	if !ok {
		t.Fatal("an accepted connection has no ReadFrom")
	}
	// A copy that waited would end here, at the deadline, and fail below.
	if err := c.SetWriteDeadline(time.Now().Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	s := spanOf(t, make([]byte, 16<<20))
	if n, err := rf.ReadFrom(s); !errors.Is(err, sendfile.ErrWouldBlock) || n <= 0 || n >= 16<<20 {
		t.Fatalf("ReadFrom(span) to a client reading nothing: %d bytes, %v; want part and ErrWouldBlock", n, err)
	}
	// The half-close passes through too.
	if _, ok := c.(interface{ CloseWrite() error }); !ok {
		t.Fatal("an accepted connection cannot half-close")
	}
}

// acceptedPair returns a connection accepted by sendListener and the
// client's end of it.
func acceptedPair(t *testing.T) (*sendConn, net.Conn) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := sendListener{inner}
	t.Cleanup(func() { ln.Close() })
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc, ok := c.(*sendConn)
	if !ok {
		t.Fatalf("sendListener accepted a %T", c)
	}
	return sc, client
}

// readFor reads what arrives at c within d, or until it has want bytes
// (0: no limit).
func readFor(t *testing.T, c net.Conn, d time.Duration, want int) []byte {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 64<<10)
	for want == 0 || len(got) < want {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return got
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	return got
}

func spanOf(t *testing.T, body []byte) *sendfile.Span {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &sendfile.Span{File: f, N: int64(len(body))}
}

// TestHeldHeaderGoesWithSpan: a header written after holdHeader stays in
// the socket (MSG_MORE) until the span's Send, then arrives with it, whole
// and in order; a Write without holdHeader goes out at once.
//
// The kernel itself sends held bytes some 200 ms after the write, so the
// test looks for them over a window well short of that (a header not held
// arrives within microseconds). Only when the machine stalled so long that
// the kernel's own timer may have fired is the round not conclusive; it is
// then made again on a new connection, at most three times.
func TestHeldHeaderGoesWithSpan(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the held header is Linux's MSG_MORE")
	}
	const window, timer = 50 * time.Millisecond, 150 * time.Millisecond
	header := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
	body := bytes.Repeat([]byte("0123456789"), 500)
	var c *sendConn
	var client net.Conn
	for round := 1; ; round++ {
		c, client = acceptedPair(t)
		c.holdHeader()
		start := time.Now()
		if n, err := c.Write(header); n != len(header) || err != nil {
			t.Fatalf("held Write: %d, %v", n, err)
		}
		got := readFor(t, client, window, 0)
		if len(got) == 0 {
			break
		}
		took := time.Since(start)
		if took < timer {
			t.Fatalf("a held header went out alone within %v: %q", took, got)
		}
		if round == 3 {
			t.Fatalf("a held header arrived alone in three rounds, %v after its write in the last: %q", took, got)
		}
		t.Logf("round %d: the machine stalled (%v since the write, past the kernel's own timer); again on a new connection", round, took)
	}
	if n, err := c.ReadFrom(spanOf(t, body)); n != int64(len(body)) || err != nil {
		t.Fatalf("ReadFrom(span): %d, %v", n, err)
	}
	want := append(append([]byte{}, header...), body...)
	if got := readFor(t, client, 5*time.Second, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want the header and the body (%d)", len(got), len(want))
	}
	// The hold was for one Write: the next goes out alone, at once.
	if _, err := c.Write([]byte("next")); err != nil {
		t.Fatal(err)
	}
	if got := readFor(t, client, 5*time.Second, 4); string(got) != "next" {
		t.Fatalf("an unheld write: got %q", got)
	}
}

// TestHeldHeaderPushed: a held header goes out at once when the Send that
// was to follow sends nothing (an empty span) or never comes (endHold).
// Left alone, the kernel would send it some 200 ms later; the bound
// below is half that, far above the microseconds a push takes.
func TestHeldHeaderPushed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the held header is Linux's MSG_MORE")
	}
	c, client := acceptedPair(t)
	for _, end := range []struct {
		what string
		do   func() error
	}{
		{"an empty span", func() error {
			n, err := c.ReadFrom(spanOf(t, nil))
			if n != 0 {
				t.Errorf("ReadFrom(empty span) sent %d bytes", n)
			}
			return err
		}},
		{"endHold", c.endHold},
	} {
		c.holdHeader()
		if _, err := c.Write([]byte(end.what)); err != nil {
			t.Fatal(err)
		}
		if err := end.do(); err != nil {
			t.Fatalf("%s: %v", end.what, err)
		}
		if got := readFor(t, client, 100*time.Millisecond, len(end.what)); string(got) != end.what {
			t.Fatalf("after %s: got %q, want the held write", end.what, got)
		}
	}
}

// TestServedSpanHeaderHeld: through net/http, a response whose body is a
// sendfile.Span (its header flushed held, then the span sent) arrives
// whole, and statusWriter counts every byte of it.
func TestServedSpanHeaderHeld(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the held header is Linux's MSG_MORE")
	}
	body := bytes.Repeat([]byte("abcdefghij"), 10_000)
	sent := make(chan int64, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, conn: senderOf(r.Context())}
		if sw.conn == nil {
			t.Error("no sendConn in the request's context")
		}
		sw.Header().Set("Content-Length", "100000")
		sw.WriteHeader(http.StatusOK)
		sp := spanOf(t, body)
		n, err := sw.ReadFrom(sp)
		if err != nil {
			t.Errorf("ReadFrom: %v", err)
		}
		sent <- n
	})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ConnContext: withSender}
	go hs.Serve(sendListener{inner})
	defer hs.Close()
	resp, err := http.Get("http://" + inner.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		t.Fatalf("status %d, %d bytes, want %d", resp.StatusCode, len(got), len(body))
	}
	if n := <-sent; n != int64(len(body)) {
		t.Fatalf("ReadFrom sent %d bytes, want %d", n, len(body))
	}
}

// TestHeldHeaderOnFullSocket: a held header that finds the socket full
// (a client behind on an earlier response) stays held, whole, while the
// span's Send stops with ErrWouldBlock, and goes out ahead of the span's
// bytes once the client reads: nothing lost, nothing reordered.
func TestHeldHeaderOnFullSocket(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the held header is Linux's")
	}
	c, client := acceptedPair(t)
	earlier := sockettest.Fill(t, c.Conn) // a client behind on an earlier response
	body := bytes.Repeat([]byte("body."), 2000)
	sp := spanOf(t, body)
	m, err := syscall.Mmap(int(sp.File.Fd()), 0, len(body), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(m) })
	sp.Mapped = m
	header := []byte("HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n")
	c.holdHeader()
	if n, err := c.Write(header); n != len(header) || err != nil {
		t.Fatalf("held Write: %d, %v", n, err)
	}
	if n, err := c.ReadFrom(sp); !errors.Is(err, sendfile.ErrWouldBlock) || n != 0 {
		t.Fatalf("ReadFrom(span) on a full socket: %d, %v; want 0 and ErrWouldBlock", n, err)
	}
	if !bytes.HasSuffix(header, c.pending) || len(c.pending) == 0 {
		t.Fatalf("held after a full socket: %q, want the header's unsent part", c.pending)
	}
	want := append(append(append([]byte{}, earlier...), header...), body...)
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(want))
		n, _ := io.ReadFull(client, b)
		got <- b[:n]
	}()
	for sp.N > 0 {
		if err := sp.Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadFrom(sp); err != nil && !errors.Is(err, sendfile.ErrWouldBlock) {
			t.Fatal(err)
		}
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the client got %d bytes of %d, equal %v", len(b), len(want), bytes.Equal(b, want))
	}
	if len(c.pending) != 0 {
		t.Fatalf("still held after the span: %q", c.pending)
	}
}
