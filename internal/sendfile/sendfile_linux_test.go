package sendfile

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/recvault/recvault/internal/sockettest"
)

// mapOf maps f's first n bytes read-only and shared, as internal/filemap
// does, until the test ends.
func mapOf(t *testing.T, f *os.File, n int) []byte {
	t.Helper()
	data, err := syscall.Mmap(int(f.Fd()), 0, n, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Munmap(data); err != nil {
			t.Error(err)
		}
	})
	return data
}

// pattern is n bytes that repeat only every few MiB.
func pattern(n, mul int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*mul + i>>11)
	}
	return data
}

// TestSendMapped: a span with Mapped is written from the map, not sent
// from the file's offset, stops with ErrWouldBlock at a full socket like
// a sendfile, and gets every byte to the client in order.
func TestSendMapped(t *testing.T) {
	data := pattern(8<<20, 13)
	f := file(t, data)
	m := mapOf(t, f, len(data))
	const skip = 4096 + 17
	// The file's offset is left at 0: only Mapped says where the span is.
	srv, cli := pair(t)
	s := &Span{File: f, N: int64(len(data) - skip), Mapped: m[skip:]}
	n, err := Send(srv, s)
	if !errors.Is(err, ErrWouldBlock) || n <= 0 || s.N != int64(len(data)-skip)-n || len(s.Mapped) != int(s.N) {
		t.Fatalf("first Send to a client reading nothing: %d bytes, %v (left %d, %d mapped)", n, err, s.N, len(s.Mapped))
	}
	finish(t, srv, cli, s, n, data[skip:])
	if pos, err := f.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
		t.Fatalf("the file's offset moved to %d (%v): the span was read from the file", pos, err)
	}
}

// TestSendMappedNoFile: a span of a map alone (a blob read through a kept
// map has not opened its file) is sent whole, in order.
func TestSendMappedNoFile(t *testing.T) {
	data := pattern(3<<20, 7)
	f := file(t, data)
	m := mapOf(t, f, len(data))
	if err := f.Close(); err != nil { // the map outlives the descriptor
		t.Fatal(err)
	}
	srv, cli := pair(t)
	s := &Span{N: int64(len(data)), Mapped: m}
	n, err := Send(srv, s)
	if err != nil && !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Send of a span without a file: %d bytes, %v", n, err)
	}
	finish(t, srv, cli, s, n, data)
}

// TestSendMappedFileCut: a file cut shorter under its map makes Send from
// the map fail with an error (the kernel's EFAULT), with no fault in the
// process, after at most the bytes the file still holds.
func TestSendMappedFileCut(t *testing.T) {
	const size, kept = 1 << 20, 8192
	f := file(t, bytes.Repeat([]byte("x"), size))
	m := mapOf(t, f, size)
	if err := os.Truncate(f.Name(), kept); err != nil {
		t.Fatal(err)
	}
	srv, cli := pair(t)
	got := make(chan int, 1)
	go func() {
		b, _ := io.ReadAll(cli)
		got <- len(b)
	}()
	s := &Span{File: f, N: size, Mapped: m}
	var sent int64
	for s.N > 0 {
		n, err := Send(srv, s)
		sent += n
		if errors.Is(err, ErrWouldBlock) {
			if err := s.Wait(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.EFAULT) {
			t.Errorf("Send from a map past the file's end: %v; want EFAULT", err)
		}
		break
	}
	if s.N == 0 {
		t.Fatal("Send sent a whole map of a file cut shorter")
	}
	srv.Close()
	if n := <-got; sent > kept || int64(n) != sent {
		t.Fatalf("sent %d bytes, client got %d; the file holds %d", sent, n, kept)
	}
}

// sendAllAfter calls SendAfter until head and s are sent, waiting at a
// full socket, and returns the bytes the client got.
func sendAllAfter(t *testing.T, srv, cli net.Conn, head []byte, s *Span, want int) []byte {
	t.Helper()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(cli, int64(want)))
		got <- b
	}()
	for len(head) > 0 || s.N > 0 {
		hn, _, err := SendAfter(srv, head, s)
		head = head[hn:]
		if errors.Is(err, ErrWouldBlock) {
			if err := s.Wait(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return <-got
}

// TestSendAfterMapped: a header sent with a span of a map arrives ahead
// of the span's bytes, whole and in order, for a body the socket takes
// at once and for one it does not (ErrWouldBlock, then the rest); and
// when the socket is already full, so that not even the header fits,
// the part of it that did not go out is reported and goes first next
// time. A span of a file (no map) gets its header ahead the same way.
func TestSendAfterMapped(t *testing.T) {
	head := pattern(700, 3)
	for _, size := range []int{5000, 8 << 20} {
		data := pattern(size, 11)
		f := file(t, data)
		for _, mapped := range []bool{true, false} {
			s := &Span{File: f, N: int64(size)}
			if mapped {
				s.Mapped = mapOf(t, f, size)
			} else if _, err := f.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			srv, cli := pair(t)
			want := append(append([]byte{}, head...), data...)
			if got := sendAllAfter(t, srv, cli, head, s, len(want)); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes, mapped %v: the client got %d bytes, equal %v", size, mapped, len(got), bytes.Equal(got, want))
			}
		}
	}

	// A full socket first: written until a write would wait.
	srv, cli := pair(t)
	filled := sockettest.Fill(t, srv)
	data := pattern(5000, 17)
	f := file(t, data)
	s := &Span{N: int64(len(data)), Mapped: mapOf(t, f, len(data))}
	hn, n, err := SendAfter(srv, head, s)
	if !errors.Is(err, ErrWouldBlock) || hn == len(head) || n != 0 || s.N != int64(len(data)) {
		t.Fatalf("SendAfter on a full socket: header %d of %d, body %d, %v; want part of the header and ErrWouldBlock", hn, len(head), n, err)
	}
	// The client reads from the start: what filled the socket, then the
	// header and the body, the header's unsent part sent first.
	want := append(append(append([]byte{}, filled...), head...), data...)
	if got := sendAllAfter(t, srv, cli, head[hn:], s, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("after a full socket: the client got %d bytes of %d, equal %v", len(got), len(want), bytes.Equal(got, want))
	}
}

// TestWaitAfterClientCaughtUp: a client that reads everything between a
// Send stopped at a full socket and the Wait that follows leaves the
// socket with room and sends no further signal; Wait sees the room and
// returns at once instead of waiting for a signal that never comes (it
// used to wait until the write deadline, here 3 s, and fail).
func TestWaitAfterClientCaughtUp(t *testing.T) {
	data := pattern(8<<20, 19)
	f := file(t, data)
	srv, cli := pair(t)
	s := &Span{N: int64(len(data)), Mapped: mapOf(t, f, len(data))}
	n, err := Send(srv, s)
	if !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Send to a client reading nothing: %d bytes, %v; want ErrWouldBlock", n, err)
	}
	if _, err := io.ReadFull(cli, make([]byte, n)); err != nil { // the client catches up
		t.Fatal(err)
	}
	if err := srv.SetWriteDeadline(time.Now().Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Fatalf("Wait after the client read everything: %v", err)
	}
	if err := srv.SetWriteDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	finish(t, srv, cli, s, 0, data[n:])
}
