package disk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/blobtest"
)

func TestBlobSuite(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) recvault.BlobStore {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPutOpenDelete(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("recvault!"), 100_000)
	info, err := s.Put(ctx, "2026/11/25/abc", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if info.Size != int64(len(data)) || info.SHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("info %+v", info)
	}
	b, err := s.Open(ctx, "2026/11/25/abc")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(b)
	if !bytes.Equal(got, data) || b.Size() != int64(len(data)) {
		t.Fatal("read back differs")
	}
	p := make([]byte, 9)
	if _, err := b.ReadAt(p, 9*1000); err != nil || string(p) != "recvault!" {
		t.Fatalf("ReadAt: %q %v", p, err)
	}
	if _, ok := b.(interface{ OSFile() *os.File }); !ok {
		t.Fatal("disk blobs must expose their file for sendfile")
	}
	b.Close()
	// Never replaced.
	if _, err := s.Put(ctx, "2026/11/25/abc", bytes.NewReader([]byte("other"))); recvault.ErrorCode(err) != recvault.ECONFLICT {
		t.Fatalf("second put: %v", err)
	}
	if err := s.Delete(ctx, "2026/11/25/abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "2026/11/25/abc"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("open deleted: %v", err)
	}
	if err := s.Delete(ctx, "2026/11/25/abc"); err != nil {
		t.Fatalf("deleting a missing blob: %v", err)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

// A write that fails midway leaves nothing under the key and nothing in tmp.
func TestPutFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	if _, err := s.Put(context.Background(), "k/1", &failingReader{n: 100_000}); err == nil {
		t.Fatal("put of a failing reader succeeded")
	}
	if _, err := s.Open(context.Background(), "k/1"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("partial blob visible: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("temporary files left: %v", ents)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, "k/2", bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatal("put with a cancelled context succeeded")
	}
}

func TestKeysCannotEscape(t *testing.T) {
	s, _ := Open(t.TempDir())
	for _, k := range []string{"", "../x", "a/../../x", "/etc/passwd", `a\b`, "a\x00b", "a b", "ä"} {
		if _, err := s.Put(context.Background(), k, bytes.NewReader([]byte("x"))); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Errorf("Put(%q): %v", k, err)
		}
		if _, err := s.Open(context.Background(), k); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Errorf("Open(%q): %v", k, err)
		}
		if _, err := s.Stat(context.Background(), k); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Errorf("Stat(%q): %v", k, err)
		}
	}
}

// TestStat: Stat finds a blob's file by its name, as Open opens it (the
// same file), and a missing blob or a directory is not found.
func TestStat(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "a/b", bytes.NewReader([]byte("hello"))); err != nil {
		t.Fatal(err)
	}
	fi, err := s.Stat(ctx, "a/b")
	if err != nil || fi.Size() != 5 {
		t.Fatalf("Stat of a stored blob: %v, %v", fi, err)
	}
	b, err := s.Open(ctx, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !os.SameFile(fi, b.(*File).Info()) {
		t.Fatal("Stat and Open found different files")
	}
	for _, k := range []string{"a/missing", "a"} {
		if _, err := s.Stat(ctx, k); recvault.ErrorCode(err) != recvault.ENOTFOUND {
			t.Errorf("Stat(%q): %v, want not found", k, err)
		}
	}
}

// A temporary file nobody holds is a crashed write's: Clean removes it at
// once, however young, so a restart leaves no partial upload behind.
func TestCleanRemovesCrashedTemporaries(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(dir, "tmp", "crashed.part")
	if err := os.WriteFile(crashed, []byte("half an upload"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := s.Clean(context.Background(), time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Clean = %d, %v; want the crashed write's file removed", n, err)
	}
	if _, err := os.Stat(crashed); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("crashed write's temporary kept: %v", err)
	}
}

// A temporary file whose lock is held belongs to a running write (here or
// in another process): Clean leaves it, whatever its age, and takes it once
// the lock is gone.
func TestCleanKeepsLockedTemporary(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(dir, "tmp", "live.part")
	f, err := os.OpenFile(live, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(live, past, past); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Clean(context.Background(), time.Hour); err != nil || n != 0 {
		t.Fatalf("Clean = %d, %v; want the locked file kept", n, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("a live write's temporary was removed: %v", err)
	}
	if err := f.Close(); err != nil { // the writer dies
		t.Fatal(err)
	}
	if n, err := s.Clean(context.Background(), time.Hour); err != nil || n != 1 {
		t.Fatalf("Clean after the writer died = %d, %v", n, err)
	}
}

// A Put blocked halfway (its client is slow) survives a Clean and then
// completes with every byte.
func TestCleanSparesRunningPut(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	type result struct {
		info recvault.BlobInfo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		info, err := s.Put(context.Background(), "k/slow", pr)
		done <- result{info, err}
	}()
	half := bytes.Repeat([]byte("a"), 100_000)
	if _, err := pw.Write(half); err != nil {
		t.Fatal(err)
	}
	// The Put has its temporary file (the write above was consumed).
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("tmp/ holds %v, %v; want the running Put's file", ents, err)
	}
	if n, err := s.Clean(context.Background(), 0); err != nil || n != 0 {
		t.Fatalf("Clean during a Put = %d, %v", n, err)
	}
	if _, err := pw.Write(half); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.info.Size != 200_000 {
		t.Fatalf("Put after Clean: %+v, %v", r.info, r.err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("temporary files left after the Put: %v", ents)
	}
}

// Entries Clean cannot lock (not plain files) fall back to the age rule.
func TestCleanFallsBackToAge(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	old, fresh := filepath.Join(dir, "tmp", "old.d"), filepath.Join(dir, "tmp", "fresh.d")
	for _, d := range []string{old, fresh} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Clean(context.Background(), time.Hour); err != nil || n != 1 {
		t.Fatalf("Clean = %d, %v", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("old entry kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatal("fresh entry removed")
	}
}

func BenchmarkPut8MB(b *testing.B) {
	s, _ := Open(b.TempDir())
	data := make([]byte, 8<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := s.Put(context.Background(), "b/"+time.Now().Format("150405.000000000"), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens a stored file, reads its Stat and closes it, as
// every download does: by openRead (open, one fcntl) against os.Open
// (open, and four more calls offering the file to the runtime's poller).
func BenchmarkOpen(b *testing.B) {
	p := filepath.Join(b.TempDir(), "blob")
	if err := os.WriteFile(p, make([]byte, 100_000), 0o600); err != nil {
		b.Fatal(err)
	}
	for name, open := range map[string]func(string) (*os.File, error){"openRead": openRead, "os.Open": os.Open} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				f, err := open(p)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Stat(); err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
