package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/blobtest"
	"github.com/recvault/recvault/internal/s3test"
)

// withPrefix puts the store under a key prefix, as deployments sharing a
// bucket do, so that the suite also checks that keys are relative to it.
func withPrefix(u, prefix string) string {
	return strings.Replace(u, "?", "/"+prefix+"?", 1)
}

func openT(t *testing.T, u string) *Store {
	t.Helper()
	s, err := Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBlobSuite(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) recvault.BlobStore {
		return openT(t, withPrefix(s3test.URL(t), "vault/recordings"))
	})
}

func TestBlobSuiteNoPrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	blobtest.Run(t, func(t *testing.T) recvault.BlobStore { return openT(t, s3test.URL(t)) })
}

// The prefix is the store's namespace: objects and uploads outside it are
// neither listed nor cleaned.
func TestPrefixIsolation(t *testing.T) {
	ctx := context.Background()
	u := s3test.URL(t)
	a, b := openT(t, withPrefix(u, "a")), openT(t, withPrefix(u, "b"))
	if _, err := a.Put(ctx, "k", strings.NewReader("in a")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "k", strings.NewReader("in b")); err != nil {
		t.Fatalf("same key under another prefix: %v", err)
	}
	var keys []string
	if err := a.Walk(ctx, func(k string, _ time.Time) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "k" {
		t.Fatalf("Walk under a: %v", keys)
	}
	for _, s := range []*Store{a, b} {
		if _, err := s.core.NewMultipartUpload(ctx, s.bucket, s.prefix+"stale", minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.Clean(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("Clean(hour) of a fresh upload = %d, %v", n, err)
	}
	if n, err := a.Clean(ctx, 0); err != nil || n != 1 {
		t.Fatalf("Clean(0) = %d, %v; want the one upload under a", n, err)
	}
	if n, err := b.Clean(ctx, 0); err != nil || n != 1 {
		t.Fatalf("Clean(0) under b = %d, %v; a's Clean must not have taken b's upload", n, err)
	}
}

func TestOpenErrors(t *testing.T) {
	u := s3test.URL(t)
	endpoint := u[strings.Index(u, "endpoint=")+len("endpoint=") : strings.Index(u, "&")]
	secret := os.Getenv("AWS_SECRET_ACCESS_KEY")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	if err := dead.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, url   string
		env         map[string]string
		want        error
		mustNotShow string
	}{
		{name: "http scheme", url: "http://bucket", want: ErrURL},
		{name: "no bucket", url: "s3://", want: ErrURL},
		{name: "bad bucket", url: "s3://Bad_Bucket", want: ErrURL},
		{name: "bad prefix", url: "s3://bucket/a/../b", want: ErrURL},
		{name: "unknown parameter", url: "s3://bucket?endpont=http://x", want: ErrURL},
		{name: "endpoint scheme", url: "s3://bucket?endpoint=ftp://127.0.0.1:1", want: ErrURL},
		{name: "endpoint path", url: "s3://bucket?endpoint=http://127.0.0.1:1/x", want: ErrURL},
		{name: "path-style", url: "s3://bucket?endpoint=http://127.0.0.1:1&path-style=maybe", want: ErrURL},
		{name: "twice", url: "s3://bucket?region=a&region=b", want: ErrURL},
		{name: "secret in URL", url: "s3://AKID:topsecret@bucket", want: ErrURL, mustNotShow: "topsecret"},
		{name: "unparsable", url: "s3://bucket/%zz?x", want: ErrURL},
		{name: "unreachable", url: "s3://bucket?endpoint=http://" + deadAddr, want: ErrUnreachable},
		{name: "missing bucket", url: "s3://recvault-no-such-bucket?endpoint=" + endpoint, want: ErrNoBucket},
		{name: "wrong secret", url: u, env: map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong-secret-4711"}, want: ErrCredentials, mustNotShow: "wrong-secret-4711"},
		{name: "unknown access key", url: u, env: map[string]string{"AWS_ACCESS_KEY_ID": "nobody"}, want: ErrCredentials},
		{name: "no credentials", url: u, env: map[string]string{"AWS_SECRET_ACCESS_KEY": ""}, want: ErrCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			start := time.Now()
			s, err := Open(context.Background(), tc.url)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("Open succeeded: %+v", s)
			}
			msg := err.Error()
			t.Logf("%s (%v)", msg, took.Round(time.Millisecond))
			if !errors.Is(err, tc.want) {
				t.Errorf("error is not %v", tc.want)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is more than one line")
			}
			if secret != "" && strings.Contains(msg, secret) || tc.mustNotShow != "" && strings.Contains(msg, tc.mustNotShow) {
				t.Errorf("error shows the secret")
			}
			if took > startTimeout+time.Second {
				t.Errorf("Open took %v", took)
			}
		})
	}
}

// An endpoint that accepts connections but never answers fails Open within
// the start-up timeout.
func TestOpenSilentEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("takes the start-up timeout")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "a")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "b")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	start := time.Now()
	_, err = Open(context.Background(), "s3://bucket?endpoint=http://"+l.Addr().String())
	if !errors.Is(err, ErrUnreachable) || time.Since(start) > startTimeout+time.Second {
		t.Fatalf("Open of a silent endpoint: %v after %v", err, time.Since(start))
	}
	t.Log(err)
}

// countingTransport counts the bytes received from the server on the wire
// (headers and bodies, below any buffering in the HTTP client).
func countingTransport(t *testing.T, n *atomic.Int64) http.RoundTripper {
	tr, err := minio.DefaultTransport(false)
	if err != nil {
		t.Fatal(err)
	}
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, n: n}, nil
	}
	return tr
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// A blob fetches only what is read: Open transfers the headers of its GET
// and at most the transport's first read buffer of the body, and a ReadAt
// of 10 bytes in the middle of 9 MiB transfers 10 bytes plus headers (and
// that buffer).
func TestRangedReadsTransferOnlyWhatIsRead(t *testing.T) {
	ctx := context.Background()
	var got atomic.Int64
	s, err := open(ctx, s3test.URL(t), countingTransport(t, &got))
	if err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(3, 9<<20)
	if _, err := s.Put(ctx, "big", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	const overhead = 8 << 10 // response headers, generously
	got.Store(0)
	b, err := s.Open(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Load(); n > overhead {
		t.Errorf("Open received %d bytes", n)
	}
	got.Store(0)
	p := make([]byte, 10)
	if _, err := b.ReadAt(p, 5<<20); err != nil || !bytes.Equal(p, data[5<<20:5<<20+10]) {
		t.Fatalf("ReadAt: %v", err)
	}
	if n := got.Load(); n > 10+overhead {
		t.Errorf("ReadAt of 10 bytes received %d bytes", n)
	}
	t.Logf("ReadAt(10 bytes at 5 MiB) of a 9 MiB blob received %d bytes", got.Load())
	// The counter does count bodies.
	got.Store(0)
	all, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(all, data) {
		t.Fatalf("ReadAll: %v", err)
	}
	if n := got.Load(); n < int64(len(data))-overhead { // Open's GET may have buffered its first bytes
		t.Errorf("reading %d bytes received only %d", len(data), n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// A blob's reads do not depend on the context Open was given staying alive.
func TestReadsOutliveOpenContext(t *testing.T) {
	s := openT(t, s3test.URL(t))
	if _, err := s.Put(context.Background(), "k", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b, err := s.Open(ctx, "k")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read after the Open context ended: %q, %v", got, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// endless yields n bytes without holding them.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	m := int(min(int64(len(p)), e.n))
	for i := range p[:m] {
		p[i] = byte(i * 7)
	}
	e.n -= int64(m)
	return m, nil
}

// A large Put holds about one part in memory, not the blob.
func TestPutMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s := openT(t, s3test.URL(t))
	const size = 96 << 20
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	// Twice: sync.Pool buffers of earlier tests survive one collection.
	runtime.GC()
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
		}
	}()
	info, err := s.Put(context.Background(), "huge", &endless{n: size})
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size {
		t.Fatalf("size %d", info.Size)
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("Put of %d MiB: heap grew by at most %.1f MiB", size>>20, float64(grew)/(1<<20))
	if grew > 40<<20 {
		t.Errorf("Put of %d MiB grew the heap by %d MiB", size>>20, grew>>20)
	}
}
