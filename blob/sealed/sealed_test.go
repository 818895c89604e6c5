package sealed

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zeebo/xxh3"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/blobtest"
	"github.com/recvault/recvault/blob/disk"
	"github.com/recvault/recvault/blob/s3"
	"github.com/recvault/recvault/internal/filemap"
	"github.com/recvault/recvault/internal/s3test"
	"github.com/recvault/recvault/internal/sendfile"
)

func newDisk(t testing.TB) (*disk.Store, string) {
	t.Helper()
	dir := t.TempDir()
	d, err := disk.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d, dir
}

func newRing(t testing.TB, ids ...string) *Keyring {
	t.Helper()
	var keys []MasterKey
	for _, id := range ids {
		k := make([]byte, MasterKeySize)
		if _, err := rand.Read(k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, MasterKey{ID: id, Key: k})
	}
	r, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func storedPath(dir, key string) string {
	return filepath.Join(dir, "objects", filepath.FromSlash(key))
}

func TestSuiteVerified(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) recvault.BlobStore {
		d, _ := newDisk(t)
		return New(d)
	})
}

func TestSuiteEncrypted(t *testing.T) {
	ring := newRing(t, "k1")
	blobtest.Run(t, func(t *testing.T) recvault.BlobStore {
		d, _ := newDisk(t)
		return New(d, WithKeyring(ring))
	})
}

func TestSuiteEncryptedS3(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ring := newRing(t, "k1")
	blobtest.Run(t, func(t *testing.T) recvault.BlobStore {
		s, err := s3.Open(context.Background(), s3test.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		return New(s, WithKeyring(ring))
	})
}

// modes runs f over a store in mode verified, one in mode 4 (verified,
// the checks after the data) and one in mode encrypted, each on a fresh
// disk store in dir.
func modes(t *testing.T, f func(t *testing.T, s *Store, dir string)) {
	t.Run("verified", func(t *testing.T) {
		d, dir := newDisk(t)
		f(t, New(d), dir)
	})
	t.Run("checks after", func(t *testing.T) {
		d, dir := newDisk(t)
		f(t, New(d, ChecksAfter()), dir)
	})
	t.Run("encrypted", func(t *testing.T) {
		d, dir := newDisk(t)
		f(t, New(d, WithKeyring(newRing(t, "k1"))), dir)
	})
}

func putT(t testing.TB, s *Store, key string, data []byte) recvault.BlobInfo {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if info.Size != int64(len(data)) || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("BlobInfo %+v is not the plaintext's", info)
	}
	return info
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// wav returns a WAV file of a repeating tone: the kind of plaintext whose
// patterns a weak cipher would leak.
func wav(n int) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(n-8))
	b.WriteString("WAVEfmt ")
	for b.Len() < n {
		_ = binary.Write(&b, binary.LittleEndian, int16((b.Len()%200)*100-10000))
	}
	return b.Bytes()[:n]
}

func TestRandomReads(t *testing.T) {
	modes(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		for _, n := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3 * ChunkSize, 5*ChunkSize + 777} {
			data := blobtest.Data(uint64(n), n)
			key := "r/" + strings.Repeat("x", 1+n%7)
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			putT(t, s, key, data)
			b, err := s.Open(ctx, key)
			if err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
			if b.Size() != int64(n) {
				t.Fatalf("Size() = %d, want %d", b.Size(), n)
			}
			all, err := io.ReadAll(b)
			if err != nil || !bytes.Equal(all, data) {
				t.Fatalf("%d bytes: whole read: %d bytes, %v", n, len(all), err)
			}
			if n == 0 {
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				continue
			}
			rng := mrand.New(mrand.NewPCG(uint64(n), 1))
			for range 200 {
				off := rng.Int64N(int64(n))
				l := 1 + rng.IntN(3*ChunkSize)
				want := data[off:min(int(off)+l, n)]
				p := make([]byte, l)
				m, err := b.ReadAt(p, off)
				if !bytes.Equal(p[:m], want) || (err != nil && !(err == io.EOF && m < l)) || (m < l && err != io.EOF) {
					t.Fatalf("%d bytes: ReadAt(%d, %d) = %d, %v", n, l, off, m, err)
				}
				if _, err := b.Seek(off, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				m, err = io.ReadFull(b, p[:len(want)])
				if err != nil || !bytes.Equal(p[:m], want) {
					t.Fatalf("%d bytes: Seek(%d)+Read(%d) = %d, %v", n, off, len(want), m, err)
				}
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// checkBad asserts that every read touching the chunk [lo, hi) of the
// plaintext fails with ErrIntegrity and returns none of its bytes, and
// that reads elsewhere return the plaintext.
func checkBad(t *testing.T, s *Store, key string, data []byte, lo, hi int64) {
	t.Helper()
	ctx := context.Background()
	b, err := s.Open(ctx, key)
	if err != nil {
		if !errors.Is(err, ErrIntegrity) {
			t.Fatalf("Open: %v; want ErrIntegrity", err)
		}
		return // refused at Open: no read can return anything
	}
	defer func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	}()
	if got, err := io.ReadAll(b); !errors.Is(err, ErrIntegrity) || int64(len(got)) > lo || !bytes.Equal(got, data[:len(got)]) {
		t.Errorf("whole read: %d bytes, %v; want at most %d good bytes and ErrIntegrity", len(got), err, lo)
	}
	rng := mrand.New(mrand.NewPCG(uint64(lo), 2))
	for range 50 {
		off := lo + rng.Int64N(hi-lo)
		start := max(0, off-rng.Int64N(2*ChunkSize))
		p := make([]byte, off-start+1+rng.Int64N(ChunkSize))
		n, err := b.ReadAt(p, start)
		if !errors.Is(err, ErrIntegrity) || n > 0 && start+int64(n) > lo || !bytes.Equal(p[:n], data[start:start+int64(n)]) || bytes.ContainsFunc(p[n:], func(r rune) bool { return r != 0 }) {
			t.Fatalf("ReadAt(%d, %d) over the bad chunk = %d, %v", len(p), start, n, err)
		}
		if _, err := b.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		q := make([]byte, 100)
		if n, err := b.Read(q); n != 0 || !errors.Is(err, ErrIntegrity) || bytes.ContainsFunc(q, func(r rune) bool { return r != 0 }) {
			t.Fatalf("Seek(%d)+Read = %d, %v", off, n, err)
		}
	}
	// Chunks before the bad one still read (and are verified).
	if lo > 0 {
		p := make([]byte, lo)
		if n, err := b.ReadAt(p, 0); err != nil || !bytes.Equal(p[:n], data[:lo]) {
			t.Errorf("ReadAt of the good chunks before = %d, %v", n, err)
		}
	}
}

func TestCorruption(t *testing.T) {
	modes(t, func(t *testing.T, s *Store, dir string) {
		ctx := context.Background()
		data := blobtest.Data(3, 5*ChunkSize+1234)
		size := int64(len(data))
		putT(t, s, "c/a", data)
		p := storedPath(dir, "c/a")
		orig := readFile(t, p)
		in, err := s.inner.Open(ctx, "c/a")
		if err != nil {
			t.Fatal(err)
		}
		probe, err := s.open(in, "c/a", "c/a", nil, openConfig{})
		if err != nil {
			t.Fatal(err)
		}
		sb := probe.(*blob)
		hdr, full := sb.hdrLen, ChunkSize+int64(sb.tag)
		after, tableOff := sb.after, sb.tableOff
		if err := probe.Close(); err != nil {
			t.Fatal(err)
		}
		// Where chunk i's bytes and its check lie as stored, and how many
		// bytes a chunk takes there (in mode 4 the check is elsewhere).
		dataAt := func(i int64) int64 { return hdr + i*full }
		checkAt := func(i int64) int64 { return hdr + i*full + ChunkSize }
		span := full
		if after {
			dataAt = func(i int64) int64 { return hdr + i*ChunkSize }
			checkAt = func(i int64) int64 { return tableOff + i*tagSize }
			span = ChunkSize
		}
		lastLo := 5 * int64(ChunkSize)
		for _, tc := range []struct {
			name   string
			at     int64
			lo, hi int64 // the plaintext that may not be returned
		}{
			{"magic", 3, 0, size},
			{"mode", 9, 0, size},
			{"header check", hdr - 1, 0, size},
			{"middle chunk data", dataAt(2) + 100, 2 * ChunkSize, 3 * ChunkSize},
			{"middle chunk check", checkAt(2) + tagSize - 1, 2 * ChunkSize, 3 * ChunkSize},
			{"last chunk tag", int64(len(orig)) - 1, lastLo, size},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bad := bytes.Clone(orig)
				bad[tc.at] ^= 0x01
				writeFile(t, p, bad)
				checkBad(t, s, "c/a", data, tc.lo, tc.hi)
			})
		}
		t.Run("swap chunks", func(t *testing.T) {
			bad := bytes.Clone(orig)
			c1, c2 := bad[dataAt(1):dataAt(1)+span], bytes.Clone(bad[dataAt(2):dataAt(2)+span])
			copy(bad[dataAt(2):], c1)
			copy(bad[dataAt(1):], c2)
			writeFile(t, p, bad)
			checkBad(t, s, "c/a", data, ChunkSize, 3*ChunkSize)
		})
		// A cut or an extension is found when the chunk that is now last
		// (or no longer last) is read: the authentic chunks before it may
		// be returned, nothing after. (In mode 4 it moves every check, so
		// the blob fails at Open.)
		t.Run("truncated by one chunk", func(t *testing.T) {
			writeFile(t, p, orig[:int64(len(orig))-(int64(len(orig))-hdr)%full])
			checkBad(t, s, "c/a", data, 4*ChunkSize, 5*ChunkSize) // past the cut there is nothing to read
		})
		t.Run("one chunk appended", func(t *testing.T) {
			writeFile(t, p, append(bytes.Clone(orig), orig[hdr:hdr+full]...))
			checkBad(t, s, "c/a", data, 5*ChunkSize, size)
		})
		t.Run("other recording", func(t *testing.T) {
			writeFile(t, p, orig)
			if _, err := s.OpenSealed(ctx, "c/a", "c/b", nil); !errors.Is(err, ErrIntegrity) {
				t.Errorf("open under another recording id: %v; want ErrIntegrity", err)
			}
		})
	})
}

func TestEncryptedHidesPlaintext(t *testing.T) {
	d, dir := newDisk(t)
	s := New(d, WithKeyring(newRing(t, "k1")))
	data := wav(7*ChunkSize + 99)
	ctx := context.Background()
	_, wk, err := s.PutSealed(ctx, "e/a", "rec-1", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	stored := readFile(t, storedPath(dir, "e/a"))
	if bytes.Contains(stored, []byte("RIFF")) || bytes.Contains(stored, []byte("WAVE")) {
		t.Error("stored blob contains RIFF or WAVE")
	}
	// Every 64-byte run of the plaintext holds an aligned 32-byte block:
	// none of those may appear anywhere in the stored bytes.
	windows := make(map[[32]byte]bool, len(stored))
	for i := 0; i+32 <= len(stored); i++ {
		windows[[32]byte(stored[i:i+32])] = true
	}
	for i := 0; i+32 <= len(data); i += 32 {
		if windows[[32]byte(data[i:i+32])] {
			t.Fatalf("stored blob contains the plaintext at %d", i)
		}
	}
	b, err := s.OpenSealed(ctx, "e/a", "rec-1", wk)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(b); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenSealed(ctx, "e/a", "rec-2", wk); !errors.Is(err, ErrIntegrity) {
		t.Errorf("open as another recording: %v; want ErrIntegrity", err)
	}
	if _, err := s.Open(ctx, "e/a"); err == nil || !strings.Contains(err.Error(), "outside the blob") {
		t.Errorf("open without the wrapped key: %v", err)
	}
	// Replaced by a blob in mode verified (forgeable by anyone who can
	// write the store): refused when the catalogue has a data key.
	if err := d.Delete(ctx, "e/a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := New(d).PutSealed(ctx, "e/a", "rec-1", bytes.NewReader([]byte("forged"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenSealed(ctx, "e/a", "rec-1", wk); !errors.Is(err, ErrIntegrity) {
		t.Errorf("downgraded blob: %v; want ErrIntegrity", err)
	}
}

func TestRotation(t *testing.T) {
	d, _ := newDisk(t)
	ctx := context.Background()
	oldRing, newRing := newRing(t, "old"), newRing(t, "new")
	data := blobtest.Data(11, 2*ChunkSize+5)
	_, wk, err := New(d, WithKeyring(oldRing)).PutSealed(ctx, "k/a", "rec-a", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if id, err := wk.KeyID(); err != nil || id != "old" {
		t.Fatalf("KeyID = %q, %v", id, err)
	}
	wk2, err := Rewrap(wk, oldRing, newRing)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(d, WithKeyring(newRing)).OpenSealed(ctx, "k/a", "rec-a", wk2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(b); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after rotation: %d bytes, %v", len(got), err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = New(d, WithKeyring(oldRing)).OpenSealed(ctx, "k/a", "rec-a", wk2)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"new"`) {
		t.Errorf("old ring, new wrapped key: %v; want ErrUnknownKey naming new", err)
	}
	_, err = New(d, WithKeyring(newRing)).OpenSealed(ctx, "k/a", "rec-a", wk)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"old"`) {
		t.Errorf("new ring, old wrapped key: %v; want ErrUnknownKey naming old", err)
	}
	if _, err := Rewrap(wk2, oldRing, newRing); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("rewrap with a ring lacking the key: %v", err)
	}
	// Same id, other key material: a clean ErrIntegrity, no garbage.
	impostor := newRingT(t, "new")
	if _, err := New(d, WithKeyring(impostor)).OpenSealed(ctx, "k/a", "rec-a", wk2); !errors.Is(err, ErrIntegrity) {
		t.Errorf("same id, wrong key: %v; want ErrIntegrity", err)
	}
}

func newRingT(t *testing.T, id string) *Keyring { return newRing(t, id) }

func TestUnknownKeyInHeader(t *testing.T) {
	d, _ := newDisk(t)
	ctx := context.Background()
	putT(t, New(d, WithKeyring(newRing(t, "gone-key"))), "u/a", []byte("hello"))
	_, err := New(d, WithKeyring(newRing(t, "other"))).Open(ctx, "u/a")
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "gone-key") {
		t.Errorf("Open: %v; want ErrUnknownKey naming gone-key", err)
	}
	if _, err := New(d).Open(ctx, "u/a"); err == nil || !strings.Contains(err.Error(), "no key ring") {
		t.Errorf("Open without a ring: %v", err)
	}
}

func TestLegacy(t *testing.T) {
	d, _ := newDisk(t)
	ctx := context.Background()
	data := wav(3*ChunkSize + 17)
	info, err := d.Put(ctx, "l/a", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	s := New(d)
	if _, err := s.Open(ctx, "l/a"); !errors.Is(err, ErrIntegrity) {
		t.Errorf("legacy blob without Expect or AllowLegacy: %v; want ErrIntegrity", err)
	}
	read := func(s *Store, opts ...OpenOption) ([]byte, error) {
		b, err := s.OpenSealed(ctx, "l/a", "l/a", nil, opts...)
		if err != nil {
			return nil, err
		}
		got, err := io.ReadAll(b)
		return got, errors.Join(err, b.Close())
	}
	if got, err := read(s, Expect(info.SHA256)); err != nil || !bytes.Equal(got, data) {
		t.Errorf("legacy with the right SHA-256: %d bytes, %v", len(got), err)
	}
	wrong := strings.Repeat("0", 64)
	if _, err := read(s, Expect(wrong)); !errors.Is(err, ErrIntegrity) {
		t.Errorf("legacy with a wrong SHA-256: %v; want ErrIntegrity", err)
	}
	if got, err := read(New(d, AllowLegacy())); err != nil || !bytes.Equal(got, data) {
		t.Errorf("legacy allowed: %d bytes, %v", len(got), err)
	}
	// A flipped byte in a legacy blob is caught by a whole read.
	bad := bytes.Clone(data)
	bad[1000] ^= 1
	if _, err := d.Put(ctx, "l/b", bytes.NewReader(bad)); err != nil {
		t.Fatal(err)
	}
	b, err := s.OpenSealed(ctx, "l/b", "l/b", nil, Expect(info.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(b); !errors.Is(err, ErrIntegrity) {
		t.Errorf("damaged legacy blob: %v; want ErrIntegrity", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// countingStore counts the bytes its blobs read by ReadAt.
type countingStore struct {
	recvault.BlobStore
	n atomic.Int64
}

type countingBlob struct {
	recvault.Blob
	n *atomic.Int64
}

func (c *countingStore) Open(ctx context.Context, key string) (recvault.Blob, error) {
	b, err := c.BlobStore.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return countingBlob{b, &c.n}, nil
}

func (c countingBlob) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.Blob.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func TestReadsOnlyTouchedChunks(t *testing.T) {
	d, _ := newDisk(t)
	cs := &countingStore{BlobStore: d}
	s := New(cs, WithKeyring(newRing(t, "k1")))
	ctx := context.Background()
	data := blobtest.Data(5, 10*ChunkSize)
	putT(t, s, "t/a", data)
	b, err := s.Open(ctx, "t/a")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	}()
	full := int64(ChunkSize + tagSize)
	for _, tc := range []struct {
		off    int64
		chunks int64
	}{{3*ChunkSize + 100, 1}, {6*ChunkSize - 5, 2}} {
		cs.n.Store(0)
		p := make([]byte, 10)
		if _, err := b.ReadAt(p, tc.off); err != nil || !bytes.Equal(p, data[tc.off:tc.off+10]) {
			t.Fatalf("ReadAt: %v", err)
		}
		if got := cs.n.Load(); got != tc.chunks*full {
			t.Errorf("ReadAt(10, %d) read %d stored bytes, want %d (%d chunks)", tc.off, got, tc.chunks*full, tc.chunks)
		}
	}
}

func TestMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	d, _ := newDisk(t)
	s := New(d, WithKeyring(newRing(t, "k1")))
	ctx := context.Background()
	const size = 64 << 20
	if _, err := s.Put(ctx, "m/a", io.LimitReader(zeroReader{}, size)); err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	p := make([]byte, 4096)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b, err := s.Open(ctx, "m/a")
	if err != nil {
		t.Fatal(err)
	}
	for range 500 {
		off := rng.Int64N(size - int64(len(p)))
		if _, err := b.ReadAt(p, off); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Seek(rng.Int64N(size-int64(len(p))), io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(b, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	t.Logf("open + 1000 random reads of 64 MiB: %d bytes allocated", after.TotalAlloc-before.TotalAlloc)
	// Two chunk buffers and small change per read; a blob-sized buffer
	// would be 64 MiB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("open and 1000 random reads of a 64 MiB blob allocated %d bytes", alloc)
	}
}

// TestReadAtKeepsNoChunkOnDisk: a blob on a local disk read only by ReadAt
// (a conversion, whose writes to a slow client may block for long) holds
// no chunk buffer between calls, and its reads stay exact and verified; a
// blob from an object store (the real S3 server) keeps its chunk, since
// reading it again would cost a request.
func TestReadAtKeepsNoChunkOnDisk(t *testing.T) {
	d, dir := newDisk(t)
	ctx := context.Background()
	data := blobtest.Data(4, 4*ChunkSize+10)
	obj, err := s3.Open(ctx, s3test.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Store{"disk": New(d), "s3": New(obj)} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Put(ctx, "k/"+name, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			b, err := s.Open(ctx, "k/"+name)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			p := make([]byte, 4096)
			for off := int64(0); off+4096 <= int64(len(data)); off += 4096 {
				if _, err := b.ReadAt(p, off); err != nil || !bytes.Equal(p, data[off:off+4096]) {
					t.Fatalf("ReadAt %d: %v", off, err)
				}
				held := b.(*blob).at.buf != nil
				if held != (name == "s3") {
					t.Fatalf("after ReadAt %d: chunk buffer held %v", off, held)
				}
			}
			if name == "disk" {
				stored := storedPath(dir, "k/disk")
				bad := readFile(t, stored)
				bad[b.(*blob).hdrLen+2*(ChunkSize+CheckSize)+100] ^= 0x01
				writeFile(t, stored, bad)
				if _, err := b.ReadAt(p, 2*ChunkSize+10); !errors.Is(err, ErrIntegrity) {
					t.Fatalf("ReadAt of a chunk damaged since its last read: %v, want ErrIntegrity", err)
				}
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestPutMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	d, _ := newDisk(t)
	s := New(d, WithKeyring(newRing(t, "k1")))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := s.Put(context.Background(), "m/p", io.LimitReader(zeroReader{}, 32<<20)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// One chunk buffer, the disk store's copy buffer, and per-chunk AD.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("Put of 32 MiB allocated %d bytes", alloc)
	}
}

// TestForm: Form tells legacy, verified and encrypted blobs apart from
// their first bytes, calls a short plain file legacy, a damaged magic
// ErrIntegrity, and a missing blob ENOTFOUND.
func TestForm(t *testing.T) {
	d, _ := newDisk(t)
	ctx := context.Background()
	for key, data := range map[string][]byte{"f/legacy": wav(5000), "f/tiny": []byte("RV"), "f/empty": nil,
		"f/damaged": []byte("RVSEAL2\nplus some more bytes")} {
		if _, err := d.Put(ctx, key, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(d).Put(ctx, "f/verified", bytes.NewReader(wav(5000))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := New(d, WithKeyring(newRing(t, "k1"))).PutSealed(ctx, "f/encrypted", "rec-1", bytes.NewReader(wav(5000))); err != nil {
		t.Fatal(err)
	}
	s := New(d)
	for key, want := range map[string]Form{"f/legacy": FormLegacy, "f/tiny": FormLegacy, "f/empty": FormLegacy,
		"f/verified": FormVerified, "f/encrypted": FormEncrypted} {
		if got, err := s.Form(ctx, key); err != nil || got != want {
			t.Errorf("Form(%s) = %v, %v; want %v", key, got, err, want)
		}
	}
	if _, err := s.Form(ctx, "f/damaged"); !errors.Is(err, ErrIntegrity) {
		t.Errorf("Form of a damaged header: %v; want ErrIntegrity", err)
	}
	if _, err := s.Form(ctx, "f/none"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Errorf("Form of a missing blob: %v; want ENOTFOUND", err)
	}
}

// TestReadsSHA256Blobs: blobs in mode 1, with a SHA-256 per chunk, as
// written before the check became XXH3-128 (16 KiB less 32-byte chunks) and
// before the chunk size became 16 KiB (64 KiB chunks) — built here byte by
// byte from the format in the package doc — open, read whole, by ranges
// and by ReadAt, and a flipped byte in them is still caught. New blobs are
// mode 3 with XXH3-128 checks, also rebuilt here from the documented format.
func TestReadsSHA256Blobs(t *testing.T) {
	for _, csize := range []int{64 << 10, 16<<10 - 32} {
		t.Run(fmt.Sprint(csize), func(t *testing.T) { readsBuiltBlob(t, 1, csize) })
	}
	t.Run("xxh3", func(t *testing.T) { readsBuiltBlob(t, 3, ChunkSize) })
}

// readsBuiltBlob builds a mode verified blob (mode 1, SHA-256, or 3,
// XXH3-128) with chunks of csize from the package doc's format and checks
// that the store reads it and catches a flipped byte. For mode 3 it also
// checks that Put writes exactly those bytes.
func readsBuiltBlob(t *testing.T, mode byte, csize int) {
	d, dir := newDisk(t)
	ctx := context.Background()
	const key = "old/a"
	data := blobtest.Data(9, 3*csize+777)
	hdr := []byte("RVSEAL1\n")
	hdr = append(hdr, 1, mode) // version 1
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(csize))
	hdr = binary.BigEndian.AppendUint16(hdr, 0) // no wrapped key
	check := sha256.Sum256(hdr)
	stored := append(bytes.Clone(hdr), check[:]...)
	sumLen := 32
	for idx := 0; idx*csize < len(data); idx++ {
		plain := data[idx*csize : min(len(data), (idx+1)*csize)]
		final := byte(0)
		if (idx+1)*csize >= len(data) {
			final = 1
		}
		ad := append(bytes.Clone(check[:]), binary.BigEndian.AppendUint64(nil, uint64(idx))...)
		ad = append(ad, final)
		ad = binary.BigEndian.AppendUint16(ad, uint16(len(key)))
		ad = append(ad, key...)
		stored = append(stored, plain...)
		if mode == 1 {
			sum := sha256.Sum256(append(bytes.Clone(ad), plain...))
			stored = append(stored, sum[:]...)
		} else {
			sumLen = 16
			sum := xxh3.Hash128Seed(plain, xxh3.Hash(ad))
			stored = binary.BigEndian.AppendUint64(stored, sum.Hi)
			stored = binary.BigEndian.AppendUint64(stored, sum.Lo)
		}
	}
	s := New(d)
	if mode == 3 {
		if _, err := s.Put(ctx, key, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		raw := readFile(t, storedPath(dir, key))
		if !bytes.Equal(raw, stored) {
			t.Fatalf("Put wrote %d bytes that are not the documented format (%d bytes)", len(raw), len(stored))
		}
		if err := d.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Put(ctx, key, bytes.NewReader(stored)); err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("whole read: %d bytes, %v", len(got), err)
	}
	for _, off := range []int64{0, int64(csize) - 3, int64(csize), 2*int64(csize) + 5, int64(len(data)) - 10} {
		p := make([]byte, 10)
		if _, err := b.ReadAt(p, off); err != nil || !bytes.Equal(p, data[off:off+10]) {
			t.Fatalf("ReadAt %d: %v", off, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	stored[len(hdr)+32+csize+sumLen+100] ^= 1 // in the second chunk
	if err := d.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(ctx, key, bytes.NewReader(stored)); err != nil {
		t.Fatal(err)
	}
	b, err = s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := io.ReadAll(b); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("flipped byte in a chunk of %d bytes: %v, want ErrIntegrity", csize, err)
	}
}

// TestWriteToSmallWhole: a blob of at most smallWhole bytes read whole
// through WriteTo (one read, verified in place, one write) gives exactly
// the plaintext at every size around the chunk boundaries, in both modes;
// a bad chunk anywhere after the first is ErrIntegrity with nothing
// written, so the answer can still be a clean error.
func TestWriteToSmallWhole(t *testing.T) {
	modes(t, func(t *testing.T, s *Store, dir string) {
		ctx := context.Background()
		for _, n := range []int{1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 5, smallWhole - 1, smallWhole, smallWhole + 1} {
			data := blobtest.Data(uint64(n), n)
			key := fmt.Sprintf("small/%d", n)
			putT(t, s, key, data)
			b, err := s.Open(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			var w countWrites
			if got, err := b.(io.WriterTo).WriteTo(&w); err != nil || got != int64(n) || !bytes.Equal(w.buf.Bytes(), data) {
				t.Fatalf("%d bytes: WriteTo %d, %v, equal %v", n, got, err, bytes.Equal(w.buf.Bytes(), data))
			}
			if n <= smallWhole && w.calls != 1 {
				t.Errorf("%d bytes: %d writes, want one", n, w.calls)
			}
			b.Close()
		}
		// Corrupt the last chunk of a 3-chunk blob: nothing is written.
		data := blobtest.Data(9, 3*ChunkSize-10)
		putT(t, s, "small/bad", data)
		p := storedPath(dir, "small/bad")
		raw := readFile(t, p)
		if s.after {
			raw[len(raw)-3*tagSize-10] ^= 1 // the last chunk's data, before the 3 checks
		} else {
			raw[len(raw)-40] ^= 1 // the last chunk's data, before its check
		}
		writeFile(t, p, raw)
		b, err := s.Open(ctx, "small/bad")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		var w countWrites
		if n, err := b.(io.WriterTo).WriteTo(&w); !errors.Is(err, ErrIntegrity) || n != 0 || w.buf.Len() != 0 {
			t.Fatalf("bad last chunk: %d bytes written, %v; want none and ErrIntegrity", w.buf.Len(), err)
		}
	})
}

// countWrites is a writer that counts its Write calls.
type countWrites struct {
	buf   bytes.Buffer
	calls int
}

func (c *countWrites) Write(p []byte) (int, error) { c.calls++; return c.buf.Write(p) }

// TestWriteSmallMapped: a small mode-4 blob on disk is opened through a
// map kept across opens and written whole in one write, from a copy
// checked in the process's memory: a byte damaged in place and a file
// cut after Open are integrity failures (the cut found by the fault
// guard, not a crash), nothing unchecked is written, and a file cut while
// it is written changes nothing of what the writer gets, since no mapped
// byte reaches it.
func TestWriteSmallMapped(t *testing.T) {
	skipUnmapped(t)
	d, dir := newDisk(t)
	s := New(d, ChecksAfter())
	open := func(t *testing.T, key string) *blob { return openMapped(t, s, key) }
	for i, n := range []int{1, ChunkSize, ChunkSize + 1, 100_000, smallWhole} {
		data := blobtest.Data(uint64(40+i), n)
		key := fmt.Sprintf("mapped/%d", n)
		putT(t, s, key, data)
		for round := range 2 {
			b := open(t, key)
			var w countWrites
			if got, err := b.WriteTo(&w); err != nil || got != int64(n) || !bytes.Equal(w.buf.Bytes(), data) || w.calls != 1 {
				t.Fatalf("%d bytes: WriteTo %d, %v, equal %v, %d writes", n, got, err, bytes.Equal(w.buf.Bytes(), data), w.calls)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if maps, _ := s.MapStats(); maps != i+1 {
				t.Fatalf("%d bytes, download %d: %d maps, want one per file (%d)", n, round+1, maps, i+1)
			}
		}
	}
	// Read by Read and ReadAt too, as a conversion reads it.
	b := open(t, "mapped/100000")
	want := blobtest.Data(43, 100_000)
	got := make([]byte, 3000)
	if _, err := b.ReadAt(got, 50_000); err != nil || !bytes.Equal(got, want[50_000:53_000]) {
		t.Fatalf("ReadAt: %v, equal %v", err, bytes.Equal(got, want[50_000:53_000]))
	}
	if all, err := io.ReadAll(b); err != nil || !bytes.Equal(all, want) {
		t.Fatalf("Read: %d bytes, %v", len(all), err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	n := 5*ChunkSize + 9
	data := blobtest.Data(8, n)
	t.Run("damaged in place", func(t *testing.T) {
		putT(t, s, "mapped/bad", data)
		b := open(t, "mapped/bad")
		f, err := os.OpenFile(storedPath(dir, "mapped/bad"), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{data[3*ChunkSize+1] ^ 2}, b.hdrLen+3*ChunkSize+1); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		var w countWrites
		if got, err := b.WriteTo(&w); !errors.Is(err, ErrIntegrity) || got != 0 || w.buf.Len() != 0 {
			t.Fatalf("damaged under the map: %d bytes written, %v; want none and ErrIntegrity", w.buf.Len(), err)
		}
	})
	t.Run("cut after open", func(t *testing.T) {
		putT(t, s, "mapped/cut", data)
		b := open(t, "mapped/cut")
		defer b.Close()
		if err := os.Truncate(storedPath(dir, "mapped/cut"), b.hdrLen+ChunkSize+100); err != nil {
			t.Fatal(err)
		}
		var w countWrites
		got, err := b.WriteTo(&w)
		if !errors.Is(err, ErrIntegrity) || !errors.Is(err, filemap.ErrFault) || got != 0 || w.buf.Len() != 0 {
			t.Fatalf("cut after Open: %d bytes written, %v; want none and ErrIntegrity from the fault guard", w.buf.Len(), err)
		}
	})
	t.Run("cut while written", func(t *testing.T) {
		putT(t, s, "mapped/cutw", data)
		b := open(t, "mapped/cutw")
		defer b.Close()
		w := &cutWriter{path: storedPath(dir, "mapped/cutw"), at: b.hdrLen + 100}
		got, err := b.WriteTo(w)
		if err != nil || got != int64(n) || !bytes.Equal(w.buf.Bytes(), data) || w.truncErr != nil {
			t.Fatalf("cut while written: %d bytes, %v, equal %v (truncate: %v); want the checked bytes, whole",
				got, err, bytes.Equal(w.buf.Bytes(), data), w.truncErr)
		}
	})
	t.Run("header from the map", func(t *testing.T) {
		putT(t, s, "mapped/hdr", data)
		p := storedPath(dir, "mapped/hdr")
		raw := readFile(t, p)
		raw[fixedHeader+2] ^= 1 // the wrapped key or the header's check
		writeFile(t, p, raw)
		if _, err := s.Open(context.Background(), "mapped/hdr"); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("damaged header: %v; want ErrIntegrity", err)
		}
	})
}

// TestReadsMapped: in every mode, a blob on disk is read through the
// store's kept map from Open on, giving the sealed bytes by Read, ReadAt
// and WriteTo, and a file cut after Open is an integrity failure found by
// the fault guard.
func TestReadsMapped(t *testing.T) {
	skipUnmapped(t)
	modes(t, func(t *testing.T, s *Store, dir string) {
		for _, n := range []int{3*ChunkSize + 7, 40*ChunkSize + 7} {
			data := blobtest.Data(uint64(n), n)
			key := fmt.Sprintf("rm/%d", n)
			putT(t, s, key, data)
			b := openMapped(t, s, key)
			p := make([]byte, 100)
			if _, err := b.ReadAt(p, int64(n)-200); err != nil || !bytes.Equal(p, data[n-200:n-100]) {
				t.Fatalf("%d bytes: ReadAt %v, equal %v", n, err, bytes.Equal(p, data[n-200:n-100]))
			}
			if all, err := io.ReadAll(b); err != nil || !bytes.Equal(all, data) {
				t.Fatalf("%d bytes: Read %d bytes, %v", n, len(all), err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			b = openMapped(t, s, key)
			var w bytes.Buffer
			if _, err := b.WriteTo(&w); err != nil || !bytes.Equal(w.Bytes(), data) {
				t.Fatalf("%d bytes: WriteTo %d bytes, %v", n, w.Len(), err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}

			// Cut after Open, behind the first chunk.
			b = openMapped(t, s, key)
			if _, err := b.ReadAt(p, 0); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(storedPath(dir, key), b.hdrLen+ChunkSize+100); err != nil {
				t.Fatal(err)
			}
			_, err := b.ReadAt(p, int64(n)-200)
			if !errors.Is(err, ErrIntegrity) || !errors.Is(err, filemap.ErrFault) {
				t.Fatalf("%d bytes: ReadAt past the cut: %v; want ErrIntegrity from the fault guard", n, err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		}

		// An empty blob's one chunk, empty, is checked at Open all the same.
		putT(t, s, "rm/empty", nil)
		p := storedPath(dir, "rm/empty")
		raw := readFile(t, p)
		raw[len(raw)-1] ^= 1 // its check
		writeFile(t, p, raw)
		if _, err := s.Open(context.Background(), "rm/empty"); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("empty blob with a damaged check: %v; want ErrIntegrity at Open", err)
		}
	})
}

// skipUnmapped skips t where files are not mapped (filemap.Supported).
func skipUnmapped(t *testing.T) {
	t.Helper()
	if !filemap.Supported {
		t.Skip("files are not mapped on this platform")
	}
}

// openMapped opens key in s, failing t unless it is read through a map.
func openMapped(t *testing.T, s *Store, key string) *blob {
	t.Helper()
	ob, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	b := ob.(*blob)
	if b.mapped == nil {
		t.Fatalf("%s: not mapped at Open", key)
	}
	return b
}

// cutWriter cuts the file at path to at bytes on its first Write and
// then copies what it was given, as a connection's buffer would.
type cutWriter struct {
	path     string
	at       int64
	truncErr error
	buf      bytes.Buffer
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.buf.Len() == 0 {
		c.truncErr = os.Truncate(c.path, c.at)
	}
	return c.buf.Write(p)
}

func TestSuiteChecksAfter(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) recvault.BlobStore {
		d, _ := newDisk(t)
		return New(d, ChecksAfter())
	})
}

// TestSuiteChecksAfterS3: mode 4 is written for local files, but a blob
// copied to an object store must still read there, by ranged requests.
func TestSuiteChecksAfterS3(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	blobtest.Run(t, func(t *testing.T) recvault.BlobStore {
		s, err := s3.Open(context.Background(), s3test.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		return New(s, ChecksAfter())
	})
}

// spans reads b from the Read position to its end by FileSpan calls of at
// most max bytes (max 0: random sizes from rng), reading each span from the
// file it names. It returns what it read and the first error other than
// io.EOF.
func spans(t *testing.T, b *blob, max int64, rng *mrand.Rand) ([]byte, error) {
	t.Helper()
	var got []byte
	for {
		m := max
		if m == 0 {
			m = 1 + rng.Int64N(3*smallWhole)
		}
		f, mapped, n, err := b.FileSpan(m)
		if errors.Is(err, io.EOF) {
			return got, nil
		} else if err != nil {
			return got, err
		}
		if n <= 0 || n > m {
			t.Fatalf("FileSpan(%d) = %d bytes", m, n)
		}
		// A mapped span is sent from the map alone; another from the
		// file, positioned at it. Read either as a server's TLS path
		// does (sendfile.Span's Read); the callers compare the bytes.
		switch {
		case b.mapped != nil && (f != nil || int64(len(mapped)) != n):
			t.Fatalf("FileSpan of a mapped blob: file %v, %d mapped bytes of %d", f, len(mapped), n)
		case b.mapped == nil && (f == nil || mapped != nil):
			t.Fatalf("FileSpan of a blob without a map: file %v, %d mapped bytes", f, len(mapped))
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(&sendfile.Span{File: f, N: n, Mapped: mapped}, p); err != nil {
			t.Fatalf("reading a span: %v", err)
		}
		got = append(got, p...)
		if b.rd.buf != nil || b.at.buf != nil {
			t.Fatal("the blob holds a chunk buffer between spans")
		}
	}
}

// readSpans opens key in s and reads it whole by FileSpan.
func readSpans(t *testing.T, s *Store, key string) ([]byte, error) {
	t.Helper()
	ob, err := s.Open(context.Background(), key)
	if err != nil {
		return nil, err
	}
	got, err := spans(t, ob.(*blob), 0, mrand.New(mrand.NewPCG(5, 6)))
	return got, errors.Join(err, ob.Close())
}

// TestFileSpanMapped: spans are checked through memory maps kept across
// opens, found by the file's identity, so that a blob deleted and stored
// again, here or by another store (another process), is read as it is
// now; a byte damaged in place after the mapping was made is found; and
// a deleted blob's mapping goes with it.
func TestFileSpanMapped(t *testing.T) {
	skipUnmapped(t)
	ctx := context.Background()
	d, dir := newDisk(t)
	s := New(d, ChecksAfter())
	other := New(d, ChecksAfter())
	n := 30*ChunkSize + 11
	a, b := blobtest.Data(21, n), blobtest.Data(22, n)
	putT(t, s, "m/a", a)
	for range 2 {
		if got, err := readSpans(t, s, "m/a"); err != nil || !bytes.Equal(got, a) {
			t.Fatalf("read by spans: %d bytes, %v", len(got), err)
		}
	}
	if maps, size := s.MapStats(); maps != 1 || size <= int64(n) {
		t.Fatalf("after two downloads: %d mappings of %d bytes; want one of the file", maps, size)
	}

	// Deleted by another store and stored again: another file, its own
	// mapping, its own bytes, though this store still maps the old one.
	if err := other.Delete(ctx, "m/a"); err != nil {
		t.Fatal(err)
	}
	putT(t, other, "m/a", b)
	if got, err := readSpans(t, s, "m/a"); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("stored again elsewhere: %d bytes, %v; equal to the new blob %v, to the old %v", len(got), err, bytes.Equal(got, b), bytes.Equal(got, a))
	}

	// A byte damaged in place, under the mapping the last read made.
	p := storedPath(dir, "m/a")
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := s.Open(ctx, "m/a")
	if err != nil {
		t.Fatal(err)
	}
	at := ob.(*blob).hdrLen + 17*ChunkSize + 3
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{b[17*ChunkSize+3] ^ 0x10}, at); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := readSpans(t, s, "m/a"); !errors.Is(err, ErrIntegrity) || len(got) > 17*ChunkSize || !bytes.Equal(got, b[:len(got)]) {
		t.Fatalf("damaged in place under the mapping: %d bytes, %v; want at most %d good bytes and ErrIntegrity", len(got), err, 17*ChunkSize)
	}

	// Deleted here: the mappings of that key go at once.
	if err := s.Delete(ctx, "m/a"); err != nil {
		t.Fatal(err)
	}
	if maps, _ := s.MapStats(); maps != 0 {
		t.Fatalf("after Delete: %d mappings left", maps)
	}
}

// TestFileSpanDeletedWhileRead: downloads in progress when their blob is
// deleted finish with the right bytes (their map, like their open file,
// holds the deleted file), a download opened after fails, and the map is
// gone once the last of them closes. Several readers share one map.
func TestFileSpanDeletedWhileRead(t *testing.T) {
	skipUnmapped(t)
	ctx := context.Background()
	d, _ := newDisk(t)
	s := New(d, ChecksAfter())
	n := 200*ChunkSize + 77
	data := blobtest.Data(31, n)
	putT(t, s, "del/a", data)
	const readers = 4
	var opened [readers]*blob
	for i := range opened {
		ob, err := s.Open(ctx, "del/a")
		if err != nil {
			t.Fatal(err)
		}
		opened[i] = ob.(*blob)
		if _, _, _, err := opened[i].FileSpan(ChunkSize); err != nil { // maps the file
			t.Fatal(err)
		}
	}
	if maps, _ := s.MapStats(); maps != 1 {
		t.Fatalf("%d readers of one file: %d maps, want 1", readers, maps)
	}
	got := make([][]byte, readers)
	errs := make([]error, readers)
	var wg sync.WaitGroup
	for i, b := range opened {
		wg.Go(func() { // spans' t.Fatal is for the test's goroutine: read here by hand
			for {
				f, mapped, n, err := b.FileSpan(int64(i+1) * 3 * ChunkSize)
				if err != nil {
					if errors.Is(err, io.EOF) {
						err = nil
					}
					errs[i] = errors.Join(err, b.Close())
					return
				}
				p := make([]byte, n)
				if _, err := io.ReadFull(&sendfile.Span{File: f, N: n, Mapped: mapped}, p); err != nil {
					errs[i] = errors.Join(err, b.Close())
					return
				}
				got[i] = append(got[i], p...)
			}
		})
	}
	if err := s.Delete(ctx, "del/a"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range readers {
		if errs[i] != nil || !bytes.Equal(got[i], data[ChunkSize:]) {
			t.Fatalf("reader %d, its blob deleted meanwhile: %d bytes, %v", i, len(got[i]), errs[i])
		}
	}
	if maps, _ := s.MapStats(); maps != 0 {
		t.Fatalf("deleted, every reader closed: %d maps left", maps)
	}
	if _, err := s.Open(ctx, "del/a"); err == nil {
		t.Fatal("opened a deleted blob")
	}
}

func TestFileSpan(t *testing.T) {
	ctx := context.Background()
	d, dir := newDisk(t)
	s := New(d, ChecksAfter())
	for _, n := range []int{1, ChunkSize - 1, ChunkSize, ChunkSize + 1, spanChunks * ChunkSize, spanChunks*ChunkSize + 1, 20*ChunkSize + 5} {
		data := blobtest.Data(uint64(n), n)
		key := fmt.Sprintf("span/%d", n)
		putT(t, s, key, data)
		rng := mrand.New(mrand.NewPCG(uint64(n), 3))
		for _, start := range []int64{0, int64(n) / 2, int64(n) - 1, rng.Int64N(int64(n))} {
			for _, max := range []int64{0, 1000, ChunkSize, smallWhole, 4 << 20} {
				ob, err := s.Open(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				b := ob.(*blob)
				if !b.SendsFile() {
					t.Fatal("a mode-4 blob on disk cannot be sent from its file")
				}
				if _, err := b.Seek(start, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				got, err := spans(t, b, max, rng)
				if err != nil || !bytes.Equal(got, data[start:]) {
					t.Fatalf("%d bytes from %d, spans of %d: %d bytes, %v; equal %v", n, start, max, len(got), err, bytes.Equal(got, data[start:]))
				}
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	// A damaged chunk: the spans before it are sent, the one holding it
	// fails, and no byte handed out is wrong.
	n := 20*ChunkSize + 5
	data := blobtest.Data(7, n)
	putT(t, s, "span/bad", data)
	p := storedPath(dir, "span/bad")
	raw := readFile(t, p)
	ob, err := s.Open(ctx, "span/bad")
	if err != nil {
		t.Fatal(err)
	}
	hdr := ob.(*blob).hdrLen
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	raw[hdr+11*ChunkSize+7] ^= 4
	writeFile(t, p, raw)
	for _, max := range []int64{0, ChunkSize, smallWhole} {
		ob, err := s.Open(ctx, "span/bad")
		if err != nil {
			t.Fatal(err)
		}
		b := ob.(*blob)
		got, err := spans(t, b, max, mrand.New(mrand.NewPCG(1, 2)))
		if !errors.Is(err, ErrIntegrity) || len(got) > 11*ChunkSize || !bytes.Equal(got, data[:len(got)]) {
			t.Errorf("spans of %d over a damaged chunk 11: %d bytes, %v; want at most %d good bytes and ErrIntegrity", max, len(got), err, 11*ChunkSize)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// The file cut short after Open, its checks already read: the span
	// past the cut is an integrity failure.
	t.Run("cut after open", func(t *testing.T) {
		putT(t, s, "span/cut", data)
		ob, err := s.Open(ctx, "span/cut")
		if err != nil {
			t.Fatal(err)
		}
		b := ob.(*blob)
		defer b.Close()
		if _, _, _, err := b.FileSpan(ChunkSize); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(storedPath(dir, "span/cut"), b.hdrLen+ChunkSize+100); err != nil {
			t.Fatal(err)
		}
		_, _, _, err = b.FileSpan(20 * ChunkSize)
		if !errors.Is(err, ErrIntegrity) {
			t.Fatalf("span past the cut: %v; want ErrIntegrity", err)
		}
		// Checked through the memory map, the cut is a fault in the
		// check itself (XXH3's assembly reading a page no longer in the
		// file), turned into that error, not a crash.
		if filemap.Supported && !errors.Is(err, filemap.ErrFault) {
			t.Fatalf("span past the cut: %v; want it found by the mapping's fault guard", err)
		}
	})

	// Only mode 4 on a local file is sent from its file.
	for name, st := range map[string]*Store{"verified": New(d), "encrypted": New(d, WithKeyring(newRing(t, "k1")))} {
		putT(t, st, "span/"+name, data)
		ob, err := st.Open(ctx, "span/"+name)
		if err != nil {
			t.Fatal(err)
		}
		b := ob.(*blob)
		if b.SendsFile() {
			t.Errorf("%s: SendsFile", name)
		}
		if _, _, _, err := b.FileSpan(100); err == nil {
			t.Errorf("%s: FileSpan gave a span", name)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// openCounter is a disk store that counts the opens of its files.
type openCounter struct {
	*disk.Store
	opens atomic.Int64
}

func (o *openCounter) Open(ctx context.Context, key string) (recvault.Blob, error) {
	o.opens.Add(1)
	return o.Store.Open(ctx, key)
}

// TestOpenThroughKeptMap: a blob whose file the store keeps mapped opens
// again without opening the file (found by a Stat of its name), and reads
// and spans the same bytes; a file replaced under its name is opened and
// read afresh, and a file deleted is not found though its map is kept.
func TestOpenThroughKeptMap(t *testing.T) {
	skipUnmapped(t)
	ctx := context.Background()
	d, dir := newDisk(t)
	inner := &openCounter{Store: d}
	s := New(inner, ChecksAfter())
	const key = "kept/a"
	a := blobtest.Data(11, 3*ChunkSize+77)
	putT(t, s, key, a)
	wantOpens := func(n int64, what string) {
		t.Helper()
		if got := inner.opens.Load(); got != n {
			t.Fatalf("%s: %d opens of the file, want %d", what, got, n)
		}
	}
	if got, err := readSpans(t, s, key); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("first download by spans: %d bytes, %v", len(got), err)
	}
	wantOpens(1, "first download")
	if got, err := readSpans(t, s, key); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("download through the kept map by spans: %d bytes, %v", len(got), err)
	}
	b, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(b); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("read through the kept map: %d bytes, %v", len(got), err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	wantOpens(1, "two more downloads through the kept map")
	p := storedPath(dir, key)
	old, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}

	// The same key sealed with other bytes elsewhere, renamed over the
	// file: another inode, so not the kept map.
	d2, dir2 := newDisk(t)
	other := blobtest.Data(12, 2*ChunkSize+5)
	putT(t, New(d2, ChecksAfter()), key, other)
	tmp := p + ".new"
	if err := os.WriteFile(tmp, readFile(t, storedPath(dir2, key)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if got, err := readSpans(t, s, key); err != nil || !bytes.Equal(got, other) {
		t.Fatalf("download of a file replaced under its name: %d bytes, %v (equal to the old: %v)", len(got), err, bytes.Equal(got, a))
	}
	wantOpens(2, "a replaced file")

	// An unopened blob of the old file, read after all: it opens the name,
	// finds another file, and refuses.
	u := &unopened{inner: inner, key: key, info: old}
	if _, err := u.Read(make([]byte, 10)); !errors.Is(err, errReplaced) {
		t.Fatalf("unopened blob read after its file was replaced: %v, want errReplaced", err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}

	// Deleted behind the store's back, its map still kept: not found.
	if maps, _ := s.MapStats(); maps == 0 {
		t.Fatal("no map kept")
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, key); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("open of a deleted file whose map is kept: %v, want not found", err)
	}
}
