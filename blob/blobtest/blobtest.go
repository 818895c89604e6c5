// Package blobtest is the behaviour every recvault.BlobStore must have, as
// one test suite that each implementation (local directory, S3) runs.
//
// Sizes are chosen to cross the S3 store's 8 MiB part size, so that both
// its single-PUT and its multipart paths are exercised.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

// Run runs the suite; open returns a fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) recvault.BlobStore) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("ReadEdges", func(t *testing.T) { testReadEdges(t, open(t)) })
	t.Run("ServeContent", func(t *testing.T) { testServeContent(t, open(t)) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, open(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, open(t)) })
	t.Run("NoReplace", func(t *testing.T) { testNoReplace(t, open(t)) })
	t.Run("ConcurrentPuts", func(t *testing.T) { testConcurrentPuts(t, open(t)) })
	t.Run("InterruptedPut", func(t *testing.T) { testInterruptedPut(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("Walk", func(t *testing.T) { testWalk(t, open(t)) })
	t.Run("Clean", func(t *testing.T) { testClean(t, open(t)) })
	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// Data returns n reproducible pseudo-random bytes; different seeds give
// different bytes, so that a mix of two writes cannot pass for either.
func Data(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	_, _ = r.Read(b) // ChaCha8.Read never fails
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// onlyReader hides bytes.Reader's Seek, Len and WriteTo, so that stores
// must stream the body as a network upload would give it to them.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func put(t *testing.T, s recvault.BlobStore, key string, data []byte) recvault.BlobInfo {
	t.Helper()
	info, err := s.Put(context.Background(), key, onlyReader{bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("Put(%s, %d bytes): %v", key, len(data), err)
	}
	return info
}

// read returns the whole blob key, checking its Size.
func read(t *testing.T, s recvault.BlobStore, key string) []byte {
	t.Helper()
	b, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer closeBlob(t, b)
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if b.Size() != int64(len(got)) {
		t.Fatalf("%s: Size() = %d, read %d bytes", key, b.Size(), len(got))
	}
	return got
}

func closeBlob(t *testing.T, b recvault.Blob) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func testRoundTrip(t *testing.T, s recvault.BlobStore) {
	for i, n := range []int{0, 1, 1000, 8<<20 - 1, 8 << 20, 20<<20 + 123} {
		key := fmt.Sprintf("2026/11/25/rt-%d", n)
		data := Data(uint64(i), n)
		info := put(t, s, key, data)
		if info.Size != int64(n) || info.SHA256 != sum(data) {
			t.Errorf("%d bytes: BlobInfo %+v, want size %d sha256 %s", n, info, n, sum(data))
		}
		if got := read(t, s, key); !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read back %d bytes that differ", n, len(got))
		}
	}
}

func testReadEdges(t *testing.T, s recvault.BlobStore) {
	ctx := context.Background()
	data := Data(7, 300_007)
	size := int64(len(data))
	put(t, s, "edges/a", data)
	b, err := s.Open(ctx, "edges/a")
	if err != nil {
		t.Fatal(err)
	}
	defer closeBlob(t, b)
	if b.Size() != size {
		t.Fatalf("Size() = %d, want %d", b.Size(), size)
	}
	readAt := func(n int, off int64) ([]byte, error) {
		p := make([]byte, n)
		m, err := b.ReadAt(p, off)
		return p[:m], err
	}
	if p, err := readAt(10, 0); err != nil || !bytes.Equal(p, data[:10]) {
		t.Errorf("ReadAt(10, 0) = %d bytes, %v", len(p), err)
	}
	// Ending exactly at the end: nil or io.EOF are both allowed.
	if p, err := readAt(1, size-1); err != nil && err != io.EOF || !bytes.Equal(p, data[size-1:]) {
		t.Errorf("ReadAt(1, size-1) = %d bytes, %v", len(p), err)
	}
	if p, err := readAt(10, size-4); err != io.EOF || !bytes.Equal(p, data[size-4:]) {
		t.Errorf("ReadAt(10, size-4) = %d bytes, %v; want 4 bytes, io.EOF", len(p), err)
	}
	if p, err := readAt(10, size); err != io.EOF || len(p) != 0 {
		t.Errorf("ReadAt(10, size) = %d bytes, %v; want 0, io.EOF", len(p), err)
	}
	if p, err := readAt(10, size+100); err != io.EOF || len(p) != 0 {
		t.Errorf("ReadAt(10, size+100) = %d bytes, %v; want 0, io.EOF", len(p), err)
	}
	if _, err := readAt(10, -1); err == nil {
		t.Error("ReadAt at a negative offset succeeded")
	}

	// Seek and Read, as http.ServeContent does: size first, then a start.
	if pos, err := b.Seek(0, io.SeekEnd); err != nil || pos != size {
		t.Fatalf("Seek(0, End) = %d, %v", pos, err)
	}
	if n, err := b.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read at the end = %d, %v; want 0, io.EOF", n, err)
	}
	if pos, err := b.Seek(123_456, io.SeekStart); err != nil || pos != 123_456 {
		t.Fatalf("Seek(123456, Start) = %d, %v", pos, err)
	}
	p := make([]byte, 1000)
	if _, err := io.ReadFull(b, p); err != nil || !bytes.Equal(p, data[123_456:124_456]) {
		t.Fatalf("read after Seek: %v", err)
	}
	// ReadAt neither uses nor moves the Read position.
	if q, err := readAt(100, 5); err != nil || !bytes.Equal(q, data[5:105]) {
		t.Errorf("ReadAt between Reads: %v", err)
	}
	if _, err := io.ReadFull(b, p); err != nil || !bytes.Equal(p, data[124_456:125_456]) {
		t.Fatalf("sequential read after ReadAt: %v", err)
	}
	if pos, err := b.Seek(-500, io.SeekCurrent); err != nil || pos != 124_956 {
		t.Fatalf("Seek(-500, Current) = %d, %v", pos, err)
	}
	rest, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(rest, data[124_956:]) {
		t.Fatalf("read to the end after Seek back: %d bytes, %v", len(rest), err)
	}
	if _, err := b.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek to a negative position succeeded")
	}
	if pos, err := b.Seek(size+10, io.SeekStart); err != nil || pos != size+10 {
		t.Errorf("Seek past the end = %d, %v", pos, err)
	}
	if n, err := b.Read(p); n != 0 || err != io.EOF {
		t.Errorf("Read past the end = %d, %v; want 0, io.EOF", n, err)
	}

	// As a SectionReader (how archives and parsers read blobs).
	whole, err := io.ReadAll(io.NewSectionReader(b, 0, size))
	if err != nil || !bytes.Equal(whole, data) {
		t.Errorf("SectionReader(0, size): %d bytes, %v", len(whole), err)
	}
	part, err := io.ReadAll(io.NewSectionReader(b, 1000, 5000))
	if err != nil || !bytes.Equal(part, data[1000:6000]) {
		t.Errorf("SectionReader(1000, 5000): %d bytes, %v", len(part), err)
	}

	// io.ReaderAt allows parallel calls.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			off := int64(i) * 30_000
			if q, err := readAt(20_000, off); err != nil || !bytes.Equal(q, data[off:off+20_000]) {
				t.Errorf("parallel ReadAt(20000, %d): %d bytes, %v", off, len(q), err)
			}
		})
	}
	wg.Wait()

	// An empty blob reads as EOF everywhere.
	put(t, s, "edges/empty", nil)
	e, err := s.Open(ctx, "edges/empty")
	if err != nil {
		t.Fatal(err)
	}
	defer closeBlob(t, e)
	if n, err := e.ReadAt(make([]byte, 1), 0); n != 0 || err != io.EOF {
		t.Errorf("empty blob: ReadAt = %d, %v", n, err)
	}
	if n, err := e.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("empty blob: Read = %d, %v", n, err)
	}
	if e.Size() != 0 {
		t.Errorf("empty blob: Size() = %d", e.Size())
	}
}

// testServeContent serves a blob as the HTTP façades do.
func testServeContent(t *testing.T, s recvault.BlobStore) {
	data := Data(9, 200_000)
	put(t, s, "serve/a", data)
	for _, tc := range []struct {
		rng    string
		status int
		want   []byte
	}{
		{"", http.StatusOK, data},
		{"bytes=100-199", http.StatusPartialContent, data[100:200]},
		{"bytes=-10", http.StatusPartialContent, data[len(data)-10:]},
		{"bytes=199990-", http.StatusPartialContent, data[199_990:]},
	} {
		b, err := s.Open(context.Background(), "serve/a")
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "/a.wav", nil)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		w := httptest.NewRecorder()
		http.ServeContent(w, req, "a.wav", time.Time{}, b)
		closeBlob(t, b)
		if w.Code != tc.status || !bytes.Equal(w.Body.Bytes(), tc.want) {
			t.Errorf("Range %q: status %d, %d bytes; want %d, %d bytes", tc.rng, w.Code, w.Body.Len(), tc.status, len(tc.want))
		}
	}
}

func testMissing(t *testing.T, s recvault.BlobStore) {
	if _, err := s.Open(context.Background(), "no/such/blob"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("Open of a missing blob: %v", err)
	}
}

func testInvalidKeys(t *testing.T, s recvault.BlobStore) {
	ctx := context.Background()
	for _, k := range []string{"", "../x", "a/../../x", "..", "/etc/passwd", `a\b`, "a\x00b", "a b", "a\nb", "ä", "a?b", "a%2f", strings.Repeat("a", 201)} {
		if _, err := s.Put(ctx, k, strings.NewReader("x")); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Errorf("Put(%q): %v", k, err)
		}
		if _, err := s.Open(ctx, k); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Errorf("Open(%q): %v", k, err)
		}
		if err := s.Delete(ctx, k); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Errorf("Delete(%q): %v", k, err)
		}
	}
	long := strings.Repeat("a", 200)
	put(t, s, long, []byte("x"))
	if got := read(t, s, long); string(got) != "x" {
		t.Errorf("200-character key read back %q", got)
	}
}

func testNoReplace(t *testing.T, s recvault.BlobStore) {
	for i, n := range []int{100, 9 << 20} {
		key := fmt.Sprintf("dup/%d", n)
		first := Data(uint64(100+i), n)
		put(t, s, key, first)
		_, err := s.Put(context.Background(), key, onlyReader{bytes.NewReader(Data(uint64(200+i), n))})
		if recvault.ErrorCode(err) != recvault.ECONFLICT {
			t.Errorf("second Put of %s: %v; want %s", key, err, recvault.ECONFLICT)
		}
		if got := read(t, s, key); !bytes.Equal(got, first) {
			t.Errorf("%s: the first blob was replaced", key)
		}
	}
}

// testConcurrentPuts races writers of one key, small (one request each) and
// large (multipart), released together after the stores' existence checks
// would all have passed. Exactly one must win; the others see ECONFLICT;
// the blob is the winner's, whole.
func testConcurrentPuts(t *testing.T, s recvault.BlobStore) {
	for _, tc := range []struct {
		writers, size int
	}{{8, 1000}, {3, 9<<20 + 1}} {
		key := fmt.Sprintf("race/%d", tc.size)
		inputs := make([][]byte, tc.writers)
		infos := make([]recvault.BlobInfo, tc.writers)
		errs := make([]error, tc.writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range inputs {
			inputs[i] = Data(uint64(1000+i), tc.size+i)
			wg.Go(func() {
				<-start
				infos[i], errs[i] = s.Put(context.Background(), key, onlyReader{bytes.NewReader(inputs[i])})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("%s: writers %d and %d both succeeded", key, winner, i)
			case err == nil:
				winner = i
			case recvault.ErrorCode(err) != recvault.ECONFLICT:
				t.Errorf("%s: writer %d: %v; want %s", key, i, err, recvault.ECONFLICT)
			}
		}
		got := read(t, s, key)
		if winner >= 0 && (!bytes.Equal(got, inputs[winner]) || infos[winner].SHA256 != sum(got)) {
			t.Errorf("%s: stored blob is not the winner's (%d bytes, sha256 %s)", key, len(got), sum(got))
		}
		if !slices.ContainsFunc(inputs, func(in []byte) bool { return bytes.Equal(in, got) }) {
			t.Errorf("%s: stored blob (%d bytes) is a mix of writes", key, len(got))
		}
		if winner < 0 {
			t.Errorf("%s: no writer succeeded", key)
		}
	}
}

// failAfter yields n bytes, then fails, as a dropped upload connection does.
type failAfter struct{ n int }

var errDropped = errors.New("connection reset by peer")

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDropped
	}
	n := min(len(p), f.n)
	for i := range p[:n] {
		p[i] = byte(i)
	}
	f.n -= n
	return n, nil
}

// cancelAfter yields bytes without end and cancels its context once it has
// yielded n, as a client that goes away mid-upload does.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	c.n -= len(p)
	return len(p), nil
}

func testInterruptedPut(t *testing.T, s recvault.BlobStore) {
	bg := context.Background()
	fail := func(key string, ctx context.Context, r io.Reader) {
		t.Helper()
		_, err := s.Put(ctx, key, r)
		if err == nil {
			t.Errorf("interrupted Put of %s succeeded", key)
		} else if c := recvault.ErrorCode(err); c == recvault.ECONFLICT || c == recvault.EINVALID {
			t.Errorf("interrupted Put of %s: %v", key, err)
		}
	}
	fail("cut/small", bg, &failAfter{n: 1000})
	fail("cut/large", bg, &failAfter{n: 10 << 20})
	ctx, cancel := context.WithCancel(bg)
	fail("cut/cancelled-small", ctx, &cancelAfter{n: 1000, cancel: cancel})
	ctx, cancel = context.WithCancel(bg)
	fail("cut/cancelled-large", ctx, &cancelAfter{n: 9 << 20, cancel: cancel})
	ctx, cancel = context.WithCancel(bg)
	cancel()
	fail("cut/cancelled-before", ctx, bytes.NewReader(make([]byte, 10)))

	keys := []string{"cut/small", "cut/large", "cut/cancelled-small", "cut/cancelled-large", "cut/cancelled-before"}
	for _, k := range keys {
		if _, err := s.Open(bg, k); recvault.ErrorCode(err) != recvault.ENOTFOUND {
			t.Errorf("after an interrupted Put, Open(%s): %v; want %s", k, err, recvault.ENOTFOUND)
		}
	}
	if listed := walk(t, s); len(listed) != 0 {
		t.Errorf("Walk lists interrupted Puts: %v", listed)
	}
	// A failed Put cleans up after itself: nothing is left for Clean.
	if n, err := s.Clean(bg, 0); err != nil || n != 0 {
		t.Errorf("Clean after interrupted Puts = %d, %v; want 0 leftovers", n, err)
	}
	// And it does not block the key.
	data := Data(5, 10<<20)
	put(t, s, "cut/large", data)
	if got := read(t, s, "cut/large"); !bytes.Equal(got, data) {
		t.Error("Put after an interrupted Put read back differently")
	}
}

func testDelete(t *testing.T, s recvault.BlobStore) {
	ctx := context.Background()
	put(t, s, "del/a", []byte("first"))
	put(t, s, "del/b", []byte("kept"))
	if err := s.Delete(ctx, "del/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "del/a"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Errorf("Open of a deleted blob: %v", err)
	}
	if err := s.Delete(ctx, "del/a"); err != nil {
		t.Errorf("deleting a deleted blob: %v", err)
	}
	if err := s.Delete(ctx, "never/was"); err != nil {
		t.Errorf("deleting a missing blob: %v", err)
	}
	if got := walk(t, s); !slices.Equal(slices.Sorted(maps.Keys(got)), []string{"del/b"}) {
		t.Errorf("Walk after Delete: %v", got)
	}
	// A deleted key can be written again.
	put(t, s, "del/a", []byte("second"))
	if got := read(t, s, "del/a"); string(got) != "second" {
		t.Errorf("rewritten blob reads %q", got)
	}
}

func walk(t *testing.T, s recvault.BlobStore) map[string]time.Time {
	t.Helper()
	got := map[string]time.Time{}
	err := s.Walk(context.Background(), func(key string, mod time.Time) error {
		if _, dup := got[key]; dup {
			t.Errorf("Walk lists %s twice", key)
		}
		got[key] = mod
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return got
}

func testWalk(t *testing.T, s recvault.BlobStore) {
	if got := walk(t, s); len(got) != 0 {
		t.Fatalf("Walk of an empty store: %v", got)
	}
	// Stores with one-second timestamps (S3) may round down.
	before := time.Now().Add(-2 * time.Second)
	want := []string{"2026/01/01/a", "2026/01/01/b", "2026/01/02/c.wav", "top", "x/y/z/deep"}
	for i, k := range want {
		put(t, s, k, Data(uint64(i), 10+i))
	}
	after := time.Now().Add(2 * time.Second)
	got := walk(t, s)
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Errorf("Walk lists %v, want %v", keys, want)
	}
	for k, mod := range got {
		if mod.Before(before) || mod.After(after) {
			t.Errorf("%s: modification time %v not within [%v, %v]", k, mod, before, after)
		}
	}
	// fn's error stops the walk and is returned.
	stop := errors.New("stop")
	calls := 0
	err := s.Walk(context.Background(), func(string, time.Time) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Walk with a failing fn: %v after %d calls; want stop after 1", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Walk(ctx, func(string, time.Time) error { return nil }); err == nil {
		t.Error("Walk with a cancelled context succeeded")
	}
}

func testClean(t *testing.T, s recvault.BlobStore) {
	put(t, s, "clean/kept", []byte("x"))
	if n, err := s.Clean(context.Background(), time.Hour); err != nil || n != 0 {
		t.Errorf("Clean(hour) = %d, %v", n, err)
	}
	if n, err := s.Clean(context.Background(), 0); err != nil || n != 0 {
		t.Errorf("Clean(0) = %d, %v", n, err)
	}
	if got := read(t, s, "clean/kept"); string(got) != "x" {
		t.Error("Clean touched a stored blob")
	}
}
