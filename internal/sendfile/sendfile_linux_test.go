package sendfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
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
