package sealed

import (
	"bytes"
	"context"
	"io"
	mrand "math/rand/v2"
	"testing"

	"github.com/recvault/recvault/blob/blobtest"
	"github.com/recvault/recvault/internal/sendfile"
)

// FuzzOpenStored: whatever bytes the inner store holds for a blob (here
// the fuzzer's changes to real sealed blobs, verified and encrypted, long
// and short), the sealed store does not panic, and every byte it hands
// out through Read, WriteTo or ReadAt is the plaintext that was sealed, at
// its offset: a damaged blob fails, it never reads as other bytes. The
// same holds for the spans FileSpan hands out in mode 4. (The
// short plaintext is a prefix of the long one, so one comparison serves
// every input.)
func FuzzOpenStored(f *testing.F) {
	ring, err := NewKeyring(MasterKey{ID: "k1", Key: bytes.Repeat([]byte{7}, MasterKeySize)})
	if err != nil {
		f.Fatal(err)
	}
	const key = "f/a"
	ctx := context.Background()
	long := blobtest.Data(1, 2*ChunkSize+100)
	short := long[:300]
	for _, data := range [][]byte{long, short} {
		for _, s := range []*Store{New(nil), New(nil, ChecksAfter()), New(nil, WithKeyring(ring))} {
			d, dir := newDisk(f)
			s.inner = d
			if _, err := s.Put(ctx, key, bytes.NewReader(data)); err != nil {
				f.Fatal(err)
			}
			f.Add(readFile(f, storedPath(dir, key)))
		}
	}
	f.Fuzz(func(t *testing.T, stored []byte) { checkStored(t, ring, stored, long) })
}

// TestMutatedChecksAfter runs FuzzOpenStored's check on random damage to
// blobs in mode 4 (a flipped byte, a cut, an extension), whose stored
// size alone decides where the plaintext ends and the checks begin: the
// cases that found a size between n and n+1 chunks taken for n chunks
// (a blob of whole chunks, extended by less than a check).
func TestMutatedChecksAfter(t *testing.T) {
	ctx := context.Background()
	long := blobtest.Data(1, 2*ChunkSize+100)
	for _, data := range [][]byte{long, long[:300], long[:ChunkSize], long[:2*ChunkSize]} {
		d, dir := newDisk(t)
		if _, err := New(d, ChecksAfter()).Put(ctx, "f/a", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		orig := readFile(t, storedPath(dir, "f/a"))
		rng := mrand.New(mrand.NewPCG(uint64(len(data)), 1))
		for i := range 300 {
			stored := bytes.Clone(orig)
			switch i % 3 {
			case 0:
				stored[rng.IntN(len(stored))] ^= byte(1 + rng.IntN(255))
			case 1:
				stored = stored[:rng.IntN(len(stored))]
			case 2:
				stored = append(stored, orig[:rng.IntN(2*tagSize+1)]...)
			}
			checkStored(t, nil, stored, long)
		}
	}
}

// checkStored stores stored as blob f/a of a fresh disk store and reads it
// through sealed stores with ring in every way there is, failing t if
// any byte handed out is not want's at its offset.
func checkStored(t *testing.T, ring *Keyring, stored, want []byte) {
	t.Helper()
	const key = "f/a"
	ctx := context.Background()
	d, _ := newDisk(t)
	if _, err := d.Put(ctx, key, bytes.NewReader(stored)); err != nil {
		t.Fatal(err)
	}
	// A store that writes mode 4 also maps a small file at Open and
	// reads its header, checks and plaintext from the map.
	for _, s := range []*Store{New(d, WithKeyring(ring)), New(d, WithKeyring(ring), ChecksAfter())} {
		checkStoredIn(t, s, want)
	}
}

// checkStoredIn reads blob f/a of s in every way there is, failing t if
// any byte handed out is not want's at its offset.
func checkStoredIn(t *testing.T, s *Store, want []byte) {
	t.Helper()
	const key = "f/a"
	ctx := context.Background()
	short := want[:300]
	for _, how := range []string{"read", "writeto", "readat", "filespan"} {
		b, err := s.Open(ctx, key)
		if err != nil {
			return
		}
		// A read error is the right answer to damage; what is checked
		// is that no byte handed out before it is wrong.
		var got []byte
		off := 0
		switch how {
		case "read":
			got, _ = io.ReadAll(struct{ io.Reader }{b})
		case "writeto":
			var w bytes.Buffer
			_, _ = b.(io.WriterTo).WriteTo(&w)
			got = w.Bytes()
		case "readat":
			off = len(short) / 2
			if b.Size() > ChunkSize {
				off = ChunkSize - 5 // across the first chunk boundary
			}
			p := make([]byte, 40)
			n, _ := b.ReadAt(p, int64(off))
			got = p[:n]
		case "filespan":
			sb := b.(*blob)
			for sb.SendsFile() {
				f, mapped, n, err := sb.FileSpan(ChunkSize + 3)
				if err != nil {
					break
				}
				p := make([]byte, n)
				if _, err := io.ReadFull(&sendfile.Span{File: f, N: n, Mapped: mapped}, p); err != nil {
					t.Fatalf("reading a span: %v", err)
				}
				got = append(got, p...)
			}
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if off+len(got) > len(want) || !bytes.Equal(got, want[off:off+len(got)]) {
			t.Fatalf("%s handed out %d bytes at %d that are not the sealed plaintext", how, len(got), off)
		}
	}
}
