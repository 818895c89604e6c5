package sealed

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/blobtest"
)

const benchSize = 64 << 20

// benchRead reads a 64 MiB blob sequentially in 32 KiB reads (what
// io.Copy, and so HTTP serving, does), as MB/s of plaintext.
func benchRead(b *testing.B, s recvault.BlobStore) {
	ctx := context.Background()
	if _, err := s.Put(ctx, "bench/a", bytes.NewReader(blobtest.Data(1, benchSize))); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		bl, err := s.Open(ctx, "bench/a")
		if err != nil {
			b.Fatal(err)
		}
		n := int64(0)
		for {
			m, err := bl.Read(buf)
			n += int64(m)
			if err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		if n != benchSize {
			b.Fatalf("read %d bytes", n)
		}
		if err := bl.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadPlain(b *testing.B) {
	d, _ := newDisk(b)
	benchRead(b, d)
}

func BenchmarkReadVerified(b *testing.B) {
	d, _ := newDisk(b)
	benchRead(b, New(d))
}

func BenchmarkReadEncrypted(b *testing.B) {
	d, _ := newDisk(b)
	benchRead(b, New(d, WithKeyring(newRing(b, "k1"))))
}
