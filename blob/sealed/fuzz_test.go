package sealed

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/recvault/recvault/blob/blobtest"
)

// FuzzOpenStored: whatever bytes the inner store holds for a blob (here
// the fuzzer's changes to real sealed blobs, verified and encrypted, long
// and short), the sealed store does not panic, and every byte it hands
// out through Read, WriteTo or ReadAt is the plaintext that was sealed, at
// its offset: a damaged blob fails, it never reads as other bytes. (The
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
		for _, s := range []*Store{New(nil), New(nil, WithKeyring(ring))} {
			d, dir := newDisk(f)
			s.inner = d
			if _, err := s.Put(ctx, key, bytes.NewReader(data)); err != nil {
				f.Fatal(err)
			}
			f.Add(readFile(f, storedPath(dir, key)))
		}
	}
	f.Fuzz(func(t *testing.T, stored []byte) {
		want := long
		d, _ := newDisk(t)
		if _, err := d.Put(ctx, key, bytes.NewReader(stored)); err != nil {
			t.Fatal(err)
		}
		s := New(d, WithKeyring(ring))
		for _, how := range []string{"read", "writeto", "readat"} {
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
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if off+len(got) > len(want) || !bytes.Equal(got, want[off:off+len(got)]) {
				t.Fatalf("%s handed out %d bytes at %d that are not the sealed plaintext", how, len(got), off)
			}
		}
	})
}
