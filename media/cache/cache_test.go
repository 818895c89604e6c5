package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func produceBytes(b []byte, delay time.Duration) Produce {
	return func(ctx context.Context, w io.Writer) error {
		for i := 0; i < len(b); i += 10 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
			if _, err := w.Write(b[i:min(i+10, len(b))]); err != nil {
				return err
			}
		}
		return nil
	}
}

func readAll(t *testing.T, f *os.File) []byte {
	t.Helper()
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tmpFiles(t *testing.T, dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	return m
}

func TestFillThenServeFromFile(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir, 1<<20)
	want := bytes.Repeat([]byte("mp3!"), 100)
	var tee bytes.Buffer
	f, streamed, err := c.Fill(context.Background(), "rec1|mp3|32k", &tee, produceBytes(want, 0))
	if err != nil || !streamed {
		t.Fatal(err, streamed)
	}
	f.Close()
	if !bytes.Equal(tee.Bytes(), want) {
		t.Fatal("the first client did not get the stream")
	}
	g, ok := c.Get("rec1|mp3|32k")
	if !ok || !bytes.Equal(readAll(t, g), want) {
		t.Fatal("cached output missing or different")
	}
	if _, _, fills := c.Stats(); fills != 1 {
		t.Fatalf("%d conversions", fills)
	}
	if _, ok := c.Get("rec1|mp3|64k"); ok {
		t.Fatal("another output key hit")
	}
}

func TestConcurrentFillsCoalesce(t *testing.T) {
	c, _ := Open(t.TempDir(), 1<<20)
	want := bytes.Repeat([]byte("0123456789"), 50)
	var wg sync.WaitGroup
	results := make([][]byte, 8)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f, _, err := c.Fill(context.Background(), "k", nil, produceBytes(want, time.Millisecond))
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = readAll(t, f)
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if !bytes.Equal(r, want) {
			t.Fatalf("request %d got %d bytes", i, len(r))
		}
	}
	if _, _, fills := c.Stats(); fills != 1 {
		t.Fatalf("8 concurrent requests ran %d conversions, want 1", fills)
	}
}

type brokenClient struct{ after int }

func (b *brokenClient) Write(p []byte) (int, error) {
	if b.after <= 0 {
		return 0, errors.New("broken pipe")
	}
	b.after -= len(p)
	return len(p), nil
}

// A leader whose client disconnects stops at once and leaves no file; a
// waiting follower then converts by itself.
func TestLeaderClientGone(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir, 1<<20)
	want := bytes.Repeat([]byte("abcdefghij"), 40)
	calls := 0
	var mu sync.Mutex
	counted := func(ctx context.Context, w io.Writer) error {
		mu.Lock()
		calls++
		mu.Unlock()
		return produceBytes(want, time.Millisecond)(ctx, w)
	}
	leaderErr := make(chan error, 1)
	go func() {
		_, _, err := c.Fill(context.Background(), "k", &brokenClient{after: 50}, counted)
		leaderErr <- err
	}()
	time.Sleep(5 * time.Millisecond)
	f, streamed, err := c.Fill(context.Background(), "k", &bytes.Buffer{}, counted)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, f), want) {
		t.Fatal("follower got wrong bytes")
	}
	if !streamed {
		t.Fatal("the retrying follower converted, so it streamed")
	}
	if err := <-leaderErr; err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("leader: %v", err)
	}
	if calls != 2 {
		t.Fatalf("%d conversions, want 2 (the failed one and the retry)", calls)
	}
	if tmp := tmpFiles(t, dir); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir, 1<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, _, err := c.Fill(ctx, "k", nil, produceBytes(make([]byte, 10000), time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if tmp := tmpFiles(t, dir); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
	if _, n, _ := c.Stats(); n != 0 {
		t.Fatal("a cancelled fill was cached")
	}
}

func TestLRUEvictionAndReopen(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir, 250)
	fill := func(k string) {
		f, _, err := c.Fill(context.Background(), k, nil, produceBytes(bytes.Repeat([]byte(k[:1]), 100), 0))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	fill("a")
	fill("b")
	if f, ok := c.Get("a"); ok { // a is now the most recent
		f.Close()
	}
	fill("c") // 300 > 250: evicts b, the least recently used
	if _, ok := c.Get("b"); ok {
		t.Fatal("b should have been evicted")
	}
	for _, k := range []string{"a", "c"} {
		f, ok := c.Get(k)
		if !ok {
			t.Fatalf("%s evicted", k)
		}
		f.Close()
	}
	size, n, _ := c.Stats()
	if size != 200 || n != 2 {
		t.Fatalf("size %d n %d", size, n)
	}
	// An output bigger than the whole cache is served but not kept.
	f, _, err := c.Fill(context.Background(), "huge", nil, produceBytes(make([]byte, 400), 0))
	if err != nil || len(readAll(t, f)) != 400 {
		t.Fatalf("huge: %v", err)
	}
	if _, ok := c.Get("huge"); ok {
		t.Fatal("an output larger than the cache was kept")
	}
	// Reopening adopts what is there and drops stray temporaries.
	os.WriteFile(filepath.Join(dir, "fill-123.tmp"), []byte("partial"), 0o600)
	c2, err := Open(dir, 250)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c2.Get("a"); !ok {
		t.Fatal("reopened cache lost a")
	}
	if tmp := tmpFiles(t, dir); len(tmp) != 0 {
		t.Fatalf("stray temporaries kept: %v", tmp)
	}
}
