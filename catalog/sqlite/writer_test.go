package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/catalog/catalogtest"
)

// TestAuditWriterConnection: the audit is appended on the write
// connection, with its small page cache, while the reading pool keeps its
// large one; and audit batches beside ingests from several goroutines at
// once (as a busy server makes them) all succeed, queued for that one
// connection, and leave an intact chain.
func TestAuditWriterConnection(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	for _, d := range []struct {
		name string
		kib  int
		on   *sql.DB
	}{
		{"writer", writerCacheKiB, c.w},
		{"pool", cacheKiB, c.db},
	} {
		var n int
		err := d.on.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&n)
		if err != nil || n != -d.kib {
			t.Fatalf("%s connection: cache_size %d (%v), want %d", d.name, n, err, -d.kib)
		}
	}
	// AppendAudit waits for the writer's one connection: while a caller
	// holds it, an append does not finish.
	held, err := c.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.AppendAudit(ctx, []*recvault.AuditEvent{benchAuditEvent(0)}) }()
	select {
	case err := <-done:
		t.Fatalf("append finished (%v) while the writer's connection was held: not on it", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	const writers, rounds = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for r := range rounds {
				e := benchAuditEvent(1 + w*rounds + r)
				if err := c.AppendAudit(ctx, []*recvault.AuditEvent{e}); err != nil {
					errs <- fmt.Errorf("append audit: %w", err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for r := range rounds {
				if _, err := c.CreateRecording(ctx, catalogtest.Rec(w*rounds+r, 110, "4977")); err != nil {
					errs <- fmt.Errorf("create recording: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	chain, err := c.AuditChain(ctx, 0, 1000)
	if err != nil || len(chain) != 1+writers*rounds {
		t.Fatalf("chain: %d records (%v), want %d", len(chain), err, 1+writers*rounds)
	}
	prev := ""
	for i, e := range chain {
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != e.ChainHash(prev) {
			t.Fatalf("record %d: seq %d, link %q after %q", i, e.Seq, e.PrevHash, prev)
		}
		prev = e.Hash
	}
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM recordings`).Scan(&n); err != nil || n != writers*rounds {
		t.Fatalf("recordings: %d (%v), want %d", n, err, writers*rounds)
	}
}

// benchAuditEvent is the i-th record of the benchmark below: 300 actors
// and 5,000 recordings in turn, so that the records land all over the
// actor and recording indexes, as a contact centre's do.
func benchAuditEvent(i int) *recvault.AuditEvent {
	return &recvault.AuditEvent{At: time.Unix(1767258000, int64(i)*1000), Actor: "user" + strconv.Itoa(i%300), Role: "supervisor",
		API: "v1", Action: recvault.ActionDownload, Outcome: recvault.OutcomeGranted, RecordingID: "rec" + strconv.Itoa((i*7919)%5000),
		Subject: "id", Format: "original", Remote: "10.0.0.1", RequestID: "9f2c4e1a7b3d5f6" + strconv.Itoa(i%10)}
}

// BenchmarkAppendAuditWarmPool appends audit batches of 27 records (what
// a busy server's group commit holds) to a catalogue whose pooled
// connections have each read some 20,000 pages, as a server's do once
// listings and lookups have run on a large catalogue: what a commit costs
// must not grow with what the readers cached (see writerCacheKiB). The
// seed is 300,000 records, about 19,000 pages of the audit table.
func BenchmarkAppendAuditWarmPool(b *testing.B) {
	ctx := context.Background()
	c := openTest(b)
	const seed, batch = 300_000, 27
	events := make([]*recvault.AuditEvent, 0, 5000)
	for i := 0; i < seed; i++ {
		events = append(events, benchAuditEvent(i))
		if len(events) == cap(events) {
			if err := c.AppendAudit(ctx, events); err != nil {
				b.Fatal(err)
			}
			events = events[:0]
		}
	}
	// Every pooled connection reads the whole audit table (its rows, not
	// only an index: detail is in no index), so that each holds as many
	// pages as its cache allows. Started together, they take distinct
	// connections.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n, sum int64
			errs <- c.db.QueryRowContext(ctx, `SELECT count(*), sum(length(detail) + length(hash)) FROM audit`).Scan(&n, &sum)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	events = make([]*recvault.AuditEvent, batch)
	cpu0 := catalogtest.CPUTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		for j := range events {
			events[j] = benchAuditEvent(seed + i + j)
		}
		if err := c.AppendAudit(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(catalogtest.CPUTime(b)-cpu0)/float64(b.N), "cpu-ns/record")
}

// TestWritersQueue: writes of one process queue for the write connection
// instead of racing for SQLite's lock, whose busy handler sleeps and
// retries and let a stream of ingests starve the audit: beside one on the
// pool's connections, the audit made a tenth as many commits as the
// ingests or fewer and one waited up to 6.1 s. Beside a tight loop of ingests, the
// audit now takes its turn: at least a third as many commits as the
// ingests (they alternate), none waiting 5 s or more.
func TestWritersQueue(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	var stop atomic.Bool
	ingested := make(chan int, 1)
	go func() {
		n := 0
		for !stop.Load() {
			if _, err := c.CreateRecording(ctx, catalogtest.Rec(n, 110, "4977")); err != nil {
				t.Error(err)
				break
			}
			n++
		}
		ingested <- n
	}()
	var worst time.Duration
	commits := 0
	events := make([]*recvault.AuditEvent, 27)
	for start := time.Now(); time.Since(start) < 2*time.Second; commits++ {
		for j := range events {
			events[j] = benchAuditEvent(commits*len(events) + j)
		}
		t0 := time.Now()
		if err := c.AppendAudit(ctx, events); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(t0))
	}
	stop.Store(true)
	n := <-ingested
	t.Logf("%d audit commits (the longest %v) beside %d ingests", commits, worst, n)
	if worst >= 5*time.Second || commits < 20 || n < 20 || 3*commits < n {
		t.Fatalf("%d audit commits, the longest %v, beside %d ingests: a writer starved", commits, worst, n)
	}
}
