package filemap

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func skipUnsupported(t *testing.T) {
	t.Helper()
	if !Supported {
		t.Skip("files are not mapped on this platform")
	}
}

// file writes b to a new file under dir and opens it.
func file(t *testing.T, dir, name string, b []byte) *os.File {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func acquire(t *testing.T, c *Cache, f *os.File, size int64, tag string) *Map {
	t.Helper()
	m, err := c.Acquire(f, size, tag)
	if err != nil || m == nil {
		t.Fatalf("Acquire(%s) = %v, %v", f.Name(), m, err)
	}
	return m
}

func release(t *testing.T, c *Cache, m *Map) {
	t.Helper()
	if err := c.Release(m); err != nil {
		t.Fatal(err)
	}
}

func wantStats(t *testing.T, c *Cache, maps int, size int64) {
	t.Helper()
	if n, b := c.Stats(); n != maps || b != size {
		t.Fatalf("Stats() = %d maps, %d bytes; want %d, %d", n, b, maps, size)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func TestSharedByIdentity(t *testing.T) {
	skipUnsupported(t)
	dir := t.TempDir()
	c := New(0, time.Hour)
	defer c.Close()
	a := pattern(40000, 1)
	f1 := file(t, dir, "a", a)
	m1 := acquire(t, c, f1, int64(len(a)), "a")
	if !bytes.Equal(m1.Bytes(), a) {
		t.Fatal("mapping holds other bytes than the file")
	}
	// The same file opened again is the same mapping.
	f2, err := os.Open(f1.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	m2 := acquire(t, c, f2, int64(len(a)), "a")
	if m2 != m1 {
		t.Fatal("a second open of the same file got another mapping")
	}
	wantStats(t, c, 1, int64(len(a)))
	// The file replaced under its name is another inode: its own mapping,
	// with its own bytes, while the old one still reads the old bytes.
	b := pattern(40000, 9)
	tmp := filepath.Join(dir, "a.new")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f1.Name()); err != nil {
		t.Fatal(err)
	}
	f3, err := os.Open(f1.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer f3.Close()
	m3 := acquire(t, c, f3, int64(len(b)), "a")
	if m3 == m1 || !bytes.Equal(m3.Bytes(), b) || !bytes.Equal(m1.Bytes(), a) {
		t.Fatal("a replaced file was read through the old file's mapping")
	}
	// Bytes written into the file in place show through the mapping: it
	// is the page cache's pages, as sendfile sends them.
	w, err := os.OpenFile(f1.Name(), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte{b[100] ^ 0xff}, 100); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m3.Bytes()[100] != b[100]^0xff {
		t.Fatal("a byte written in place does not show through the mapping")
	}
	// AcquireInfo finds the mapping by the FileInfo an open's own Stat
	// gave: the old file's is the old mapping, the new one's the new.
	var byInfo []*Map
	for _, tc := range []struct {
		f    *os.File
		want *Map
	}{{f1, m1}, {f3, m3}} {
		fi, err := tc.f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.AcquireInfo(tc.f, fi, "a")
		if err != nil || m != tc.want {
			t.Fatalf("AcquireInfo(%s, its own Stat) = %p, %v; want %p", tc.f.Name(), m, err, tc.want)
		}
		byInfo = append(byInfo, m)
	}
	for _, m := range append([]*Map{m1, m2, m3}, byInfo...) {
		release(t, c, m)
	}
	wantStats(t, c, 2, 2*40000)
}

// TestLookup: Lookup finds a kept mapping by a Stat of the file's name,
// counts a holder, and finds nothing for a file not mapped, replaced
// under its name, grown, or forgotten.
func TestLookup(t *testing.T) {
	skipUnsupported(t)
	dir := t.TempDir()
	c := New(0, time.Hour)
	defer c.Close()
	a := pattern(30000, 2)
	f := file(t, dir, "a", a)
	stat := func() os.FileInfo {
		t.Helper()
		fi, err := os.Stat(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	if m := c.Lookup(stat()); m != nil {
		t.Fatal("Lookup found a mapping of a file never mapped")
	}
	m := acquire(t, c, f, int64(len(a)), "a")
	release(t, c, m) // unused now, kept for the next reader
	got := c.Lookup(stat())
	if got != m || !bytes.Equal(got.Bytes(), a) {
		t.Fatalf("Lookup by the name's Stat = %p; want the kept mapping %p", got, m)
	}
	// It counts as a holder: Forget cannot unmap it under the caller.
	if err := c.Forget("a"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), a) {
		t.Fatal("a looked-up mapping was unmapped while held")
	}
	if m := c.Lookup(stat()); m != nil {
		t.Fatal("Lookup found a forgotten mapping")
	}
	release(t, c, got)
	wantStats(t, c, 0, 0)

	m = acquire(t, c, f, int64(len(a)), "a")
	defer release(t, c, m)
	// Grown in place: the same inode, another size.
	w, err := os.OpenFile(f.Name(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.Lookup(stat()); got != nil {
		t.Fatal("Lookup found the mapping of a file that has grown since")
	}
	// Replaced under its name: another inode.
	tmp := filepath.Join(dir, "a.new")
	if err := os.WriteFile(tmp, a, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.Name()); err != nil {
		t.Fatal(err)
	}
	if got := c.Lookup(stat()); got != nil {
		t.Fatal("Lookup found the old file's mapping for the file replacing it")
	}
}

func TestIdleMappingsGo(t *testing.T) {
	skipUnsupported(t)
	c := New(0, 30*time.Millisecond)
	defer c.Close()
	f := file(t, t.TempDir(), "a", pattern(5000, 3))
	m := acquire(t, c, f, 5000, "a")
	time.Sleep(100 * time.Millisecond)
	wantStats(t, c, 1, 5000) // in use: kept however long
	release(t, c, m)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, _ := c.Stats(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an unused mapping outlived its idle time")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// And a later use maps the file afresh.
	m = acquire(t, c, f, 5000, "a")
	if !bytes.Equal(m.Bytes(), pattern(5000, 3)) {
		t.Fatal("mapped again: other bytes")
	}
	release(t, c, m)
}

func TestLimitKeepsTheRecent(t *testing.T) {
	skipUnsupported(t)
	dir := t.TempDir()
	c := New(10000, time.Hour)
	defer c.Close()
	f1 := file(t, dir, "a", pattern(8000, 1))
	f2 := file(t, dir, "b", pattern(8000, 2))
	m1 := acquire(t, c, f1, 8000, "a")
	m2 := acquire(t, c, f2, 8000, "b")
	wantStats(t, c, 2, 16000) // in use: over the limit is allowed
	release(t, c, m1)
	wantStats(t, c, 2, 16000) // 8,000 unused: within it
	release(t, c, m2)
	wantStats(t, c, 1, 8000) // 16,000 unused: the older goes
	m := acquire(t, c, f2, 8000, "b")
	if m != m2 {
		t.Fatal("the more recently used mapping was the one dropped")
	}
	release(t, c, m)

	// The bound in number: small files, far under the bytes.
	c.limit, c.maxUnused = 1<<30, 2
	for i := range 4 {
		m := acquire(t, c, file(t, dir, fmt.Sprint("s", i), pattern(100, byte(i))), 100, "s")
		release(t, c, m)
	}
	wantStats(t, c, 2, 200)
}

// TestMaxMaps: past the bound on mappings in all, an unused one goes to
// make room; with all of them in use (a Forget's among them) Acquire maps
// nothing, and maps again once one is released.
func TestMaxMaps(t *testing.T) {
	skipUnsupported(t)
	dir := t.TempDir()
	c := New(1<<30, time.Hour)
	defer c.Close()
	c.maxMaps = 2
	fa, fb, fc := file(t, dir, "a", pattern(100, 1)), file(t, dir, "b", pattern(100, 2)), file(t, dir, "c", pattern(100, 3))
	ma := acquire(t, c, fa, 100, "a")
	mb := acquire(t, c, fb, 100, "b")
	wantNoMap(t, c, fc, "a third mapping with two in use and a bound of two")
	if err := c.Forget("b"); err != nil { // in use: still counts
		t.Fatal(err)
	}
	wantNoMap(t, c, fc, "with a forgotten mapping still in use")
	release(t, c, mb) // unmapped: room for one
	mc := acquire(t, c, fc, 100, "c")
	release(t, c, ma) // unused now, kept
	wantStats(t, c, 2, 200)
	mb = acquire(t, c, fb, 100, "b") // makes room by unmapping a's
	wantStats(t, c, 2, 200)
	wantNoMap(t, c, fa, "a's mapping after it went, with two in use")
	release(t, c, mb)
	release(t, c, mc)
}

// wantNoMap fails t unless Acquire of f's 100 bytes maps nothing, without
// an error (why says when).
func wantNoMap(t *testing.T, c *Cache, f *os.File, why string) {
	t.Helper()
	if m, err := c.Acquire(f, 100, "x"); m != nil || err != nil {
		t.Fatalf("%s: mapped %v, %v; want none", why, m != nil, err)
	}
}

func TestForget(t *testing.T) {
	skipUnsupported(t)
	dir := t.TempDir()
	c := New(0, time.Hour)
	defer c.Close()
	f := file(t, dir, "a", pattern(6000, 4))
	g := file(t, dir, "b", pattern(6000, 5))
	mf := acquire(t, c, f, 6000, "a")
	release(t, c, mf)
	mg := acquire(t, c, g, 6000, "b")
	if err := c.Forget("a"); err != nil {
		t.Fatal(err)
	}
	wantStats(t, c, 1, 6000) // a's unused mapping went at once
	if err := c.Forget("b"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mg.Bytes(), pattern(6000, 5)) {
		t.Fatal("a mapping in use was unmapped by Forget")
	}
	again := acquire(t, c, g, 6000, "b")
	if again == mg {
		t.Fatal("Acquire after Forget returned the forgotten mapping")
	}
	release(t, c, mg) // the forgotten one: unmapped now
	wantStats(t, c, 1, 6000)
	release(t, c, again)
}

func TestGuardTurnsACutFileIntoAnError(t *testing.T) {
	skipUnsupported(t)
	c := New(0, time.Hour)
	defer c.Close()
	f := file(t, t.TempDir(), "a", pattern(64<<10, 6))
	m := acquire(t, c, f, 64<<10, "a")
	defer release(t, c, m)
	if err := os.Truncate(f.Name(), 4096); err != nil {
		t.Fatal(err)
	}
	var sum byte
	err := Guard(func() error {
		for _, b := range m.Bytes()[32<<10:] {
			sum += b
		}
		return nil
	})
	if !errors.Is(err, ErrFault) {
		t.Fatalf("reading pages cut from the file: %v, want ErrFault", err)
	}
	// The pages still in the file read as before, through the same guard.
	if err := Guard(func() error {
		if !bytes.Equal(m.Bytes()[:4096], pattern(64<<10, 6)[:4096]) {
			return errors.New("the kept page reads other bytes")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// An error of fn's own, and a panic that is no fault, pass through.
	mine := errors.New("mine")
	if err := Guard(func() error { return mine }); err != mine {
		t.Fatalf("Guard returned %v, want fn's error", err)
	}
	defer func() {
		if r := recover(); r != "not a fault" {
			t.Fatalf("recovered %v, want the panic passed on", r)
		}
	}()
	err = Guard(func() error { panic("not a fault") })
	t.Fatalf("Guard returned %v for a panic that is no fault", err)
}

func TestClose(t *testing.T) {
	skipUnsupported(t)
	c := New(0, time.Hour)
	f := file(t, t.TempDir(), "a", pattern(5000, 7))
	m := acquire(t, c, f, 5000, "a")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Acquire(f, 5000, "a"); got != nil || err != nil {
		t.Fatalf("Acquire after Close = %v, %v; want nil, nil", got, err)
	}
	if m.Bytes()[10] != pattern(5000, 7)[10] {
		t.Fatal("a mapping in use was unmapped by Close")
	}
	release(t, c, m)
	wantStats(t, c, 0, 0)
}
