package vault

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/catalog/catalogtest"
	"github.com/recvault/recvault/catalog/postgres"
	"github.com/recvault/recvault/catalog/sqlite"
	"github.com/recvault/recvault/internal/pgtest"
)

// catalogs opens a fresh catalog of each kind: a real SQLite file and a
// real PostgreSQL database (skipped without PostgreSQL installed).
func catalogs(t *testing.T) map[string]func(t *testing.T) recvault.Catalog {
	return map[string]func(t *testing.T) recvault.Catalog{
		"sqlite": func(t *testing.T) recvault.Catalog {
			c, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		},
		"postgres": func(t *testing.T) recvault.Catalog {
			c, err := postgres.Open(context.Background(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		},
	}
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func admin(login string) *recvault.Principal {
	return &recvault.Principal{User: &recvault.User{ID: 1, Login: login, Role: recvault.RoleAdmin}}
}

// slowAppend makes every audit transaction take a while, as a busy disk
// does, so that concurrent records certainly meet in the writer's queue.
type slowAppend struct {
	recvault.Catalog
	delay time.Duration
	fail  error
}

func (c *slowAppend) AppendAudit(ctx context.Context, events []*recvault.AuditEvent) error {
	time.Sleep(c.delay)
	if c.fail != nil {
		return c.fail
	}
	return c.Catalog.AppendAudit(ctx, events)
}

// TestGroupCommit: 50 records written at once share few transactions, and
// each is in the catalog when its record() returns.
func TestGroupCommit(t *testing.T) {
	for name, open := range catalogs(t) {
		t.Run(name, func(t *testing.T) {
			cat := &slowAppend{Catalog: open(t), delay: 5 * time.Millisecond}
			s := New(cat, nil, Config{Logger: quietLog})
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			})
			ctx := context.Background()
			before := s.AuditCommits()
			const n = 50
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					login := fmt.Sprintf("user-%02d", i)
					if err := s.record(ctx, admin(login), recvault.AuditEvent{Action: recvault.ActionMetadata,
						RecordingID: "r", Outcome: recvault.OutcomeGranted}); err != nil {
						errs <- err
						return
					}
					// Durable on return: the catalog has it already.
					ev, _, err := cat.FindAudit(ctx, recvault.AuditFilter{Actor: login})
					if err != nil || len(ev) != 1 || ev[0].Seq == 0 || ev[0].Hash == "" {
						errs <- fmt.Errorf("%s not stored when record returned: %+v %v", login, ev, err)
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			commits := s.AuditCommits() - before
			t.Logf("%d records in %d transactions", n, commits)
			if commits >= n || commits > 10 {
				t.Fatalf("%d records took %d transactions: not group-committed", n, commits)
			}
			rep, err := VerifyAudit(ctx, cat, nil)
			if err != nil || !rep.OK() || rep.Records != n {
				t.Fatalf("verify: %+v %v", rep, err)
			}
		})
	}
}

// gatedAppend holds every AppendAudit until gate is closed, and tells
// entered how many events each call brought.
type gatedAppend struct {
	recvault.Catalog
	gate    chan struct{}
	entered chan int
}

func (c *gatedAppend) AppendAudit(ctx context.Context, events []*recvault.AuditEvent) error {
	select {
	case c.entered <- len(events):
	default:
	}
	<-c.gate
	return c.Catalog.AppendAudit(ctx, events)
}

// TestBatchLinger: after a transaction of several events the writer
// waits, up to the linger, until as many are queued again, so records
// that arrive meanwhile share one transaction. The first transaction (one
// event) is held open while two more queue; they commit together. A
// record written next waits (the writer gathers a second one), and the
// second one, written later, commits with it at once: long before the
// linger (10 s here) would have ended.
func TestBatchLinger(t *testing.T) {
	for name, open := range catalogs(t) {
		t.Run(name, func(t *testing.T) {
			cat := &gatedAppend{Catalog: open(t), gate: make(chan struct{}), entered: make(chan int, 1)}
			s := New(cat, nil, Config{Logger: quietLog})
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			})
			w := s.writer()
			w.linger = 10 * time.Second // far longer than the test: only a second record may end it
			ctx := context.Background()
			write := func(logins ...string) []error {
				errs := make([]error, len(logins))
				var wg sync.WaitGroup
				for i, login := range logins {
					wg.Add(1)
					go func() {
						defer wg.Done()
						errs[i] = s.record(ctx, admin(login), recvault.AuditEvent{Action: recvault.ActionMetadata,
							RecordingID: "r", Outcome: recvault.OutcomeGranted})
					}()
				}
				wg.Wait()
				return errs
			}
			queued := func(n int) {
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					w.mu.Lock()
					q := len(w.queue)
					w.mu.Unlock()
					if q == n {
						return
					}
				}
				t.Fatalf("the queue never held %d records", n)
			}
			first := make(chan []error)
			go func() { first <- write("a") }()
			if n := <-cat.entered; n != 1 { // the writer took "a" and waits at the gate
				t.Fatalf("first transaction: %d events, want 1", n)
			}
			pair := make(chan []error)
			go func() { pair <- write("b", "c") }()
			queued(2)
			before := s.AuditCommits()
			close(cat.gate)
			for _, errs := range [][]error{<-first, <-pair} {
				for _, err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := s.AuditCommits() - before; got != 2 {
				t.Fatalf("a, then b and c: %d transactions, want 2", got)
			}
			before = s.AuditCommits()
			lone := make(chan []error)
			go func() { lone <- write("d") }()
			queued(1)
			time.Sleep(50 * time.Millisecond)
			if got := s.AuditCommits() - before; got != 0 {
				t.Fatalf("a lone record after a batch of two was committed (%d transactions) before a second one came", got)
			}
			start := time.Now()
			for _, errs := range [][]error{write("e"), <-lone} {
				for _, err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			if got, took := s.AuditCommits()-before, time.Since(start); got != 1 || took > 5*time.Second {
				t.Fatalf("d, then e: %d transactions after %v; want 1, at once", got, took)
			}
			rep, err := VerifyAudit(ctx, cat, nil)
			if err != nil || !rep.OK() || rep.Records != 5 {
				t.Fatalf("verify: %+v %v", rep, err)
			}
		})
	}
}

// TestAuditFailureRefuses: when the audit store fails, the access is
// refused with a clean internal error, and nothing is served.
func TestAuditFailureRefuses(t *testing.T) {
	ctx := context.Background()
	base := catalogs(t)["sqlite"](t)
	rec := catalogtest.Rec(1, 110, "4977")
	if _, err := base.CreateRecording(ctx, rec); err != nil {
		t.Fatal(err)
	}
	diskFull := errors.New("database or disk is full")
	s := New(&slowAppend{Catalog: base, fail: diskFull}, nil, Config{Logger: quietLog})
	defer s.Close()
	r, err := s.Recording(ctx, admin("a"), rec.ID)
	if r != nil || recvault.ErrorCode(err) != recvault.EINTERNAL || !errors.Is(err, diskFull) {
		t.Fatalf("metadata served unaudited: %v %v", r, err)
	}
	if msg := recvault.ErrorMessage(err); strings.Contains(msg, "disk") {
		t.Fatalf("the cause reaches the client: %q", msg)
	}
}

// TestAnonymousFloods: anonymous details are cut, and beyond 20 similar
// attempts a minute only a count is kept, written as one summary.
func TestAnonymousFloods(t *testing.T) {
	ctx := context.Background()
	cat := catalogs(t)["sqlite"](t)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := New(cat, nil, Config{Logger: quietLog, Now: clock})
	from := func(remote string) context.Context {
		return WithRequestInfo(ctx, RequestInfo{Remote: remote, Via: "v1"})
	}
	long := strings.Repeat("é", 100) // 200 bytes
	for i := 0; i < 30; i++ {
		// Another port each time: the same client all the same.
		if err := s.record(from(fmt.Sprintf("203.0.113.9:%d", 40000+i)), nil, recvault.AuditEvent{
			Action: recvault.ActionRequest, Outcome: recvault.OutcomeDenied, Detail: long, Subject: long}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ { // another client, and another outcome, are counted apart
		must(t, s.audit(from("198.51.100.7:1"), nil, recvault.ActionRequest, "", recvault.OutcomeDenied, "x"))
		must(t, s.audit(from("203.0.113.9:1"), nil, recvault.ActionRequest, "", recvault.OutcomeInvalid, "x"))
	}
	// Signed-in callers and the CLI are neither cut nor summarised.
	for i := 0; i < 25; i++ {
		must(t, s.audit(from("203.0.113.9:1"), admin("a"), recvault.ActionRequest, "", recvault.OutcomeDenied, long))
	}
	if err := s.record(WithRequestInfo(ctx, RequestInfo{Via: "cli"}), nil, recvault.AuditEvent{
		Action: recvault.ActionIngest, Outcome: recvault.OutcomeGranted, Detail: long}); err != nil {
		t.Fatal(err)
	}
	count := func(pred func(e recvault.AuditEvent) bool) int {
		t.Helper()
		ev, err := cat.Audit(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range ev {
			if pred(e) {
				n++
			}
		}
		return n
	}
	flood := func(e recvault.AuditEvent) bool {
		return e.Actor == "" && e.Outcome == recvault.OutcomeDenied && strings.HasPrefix(e.Remote, "203.0.113.9:")
	}
	if n := count(flood); n != 20 {
		t.Fatalf("%d records of the flood stored, want the first 20", n)
	}
	if n := count(func(e recvault.AuditEvent) bool {
		return flood(e) && (len(e.Detail) > 120 || len(e.Subject) > 120 || e.Detail != strings.Repeat("é", 60))
	}); n != 0 {
		t.Fatalf("%d anonymous records not cut to 120 bytes on a character boundary", n)
	}
	if n := count(func(e recvault.AuditEvent) bool { return e.Actor == "a" && e.Detail == long }); n != 25 {
		t.Fatalf("%d signed-in records stored whole, want 25", n)
	}
	if n := count(func(e recvault.AuditEvent) bool { return e.Actor == "cli" && e.Detail == long }); n != 1 {
		t.Fatal("CLI record cut")
	}
	if n := count(func(e recvault.AuditEvent) bool { return e.Action == recvault.ActionSuppressed }); n != 0 {
		t.Fatal("summary written before the window ended")
	}
	// The window ends: the next attempt brings the summary with it.
	advance(61 * time.Second)
	must(t, s.audit(from("203.0.113.9:2"), nil, recvault.ActionRequest, "", recvault.OutcomeDenied, "after"))
	summary := func(detail string) bool {
		return count(func(e recvault.AuditEvent) bool {
			return e.Action == recvault.ActionSuppressed && e.Detail == detail && e.Remote == "203.0.113.9" &&
				e.Outcome == recvault.OutcomeDenied && e.Subject == string(recvault.ActionRequest) && e.API == "v1"
		}) == 1
	}
	if !summary("10 similar attempts from 203.0.113.9 suppressed") {
		t.Fatal("no summary of the 10 suppressed attempts")
	}
	// A new window; Close ends it early, summary included.
	for i := 0; i < 24; i++ {
		must(t, s.audit(from("203.0.113.9:3"), nil, recvault.ActionRequest, "", recvault.OutcomeDenied, "again"))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !summary("5 similar attempts from 203.0.113.9 suppressed") {
		t.Fatal("Close did not write the open window's summary")
	}
	if n := count(func(e recvault.AuditEvent) bool { return e.Action == recvault.ActionSuppressed }); n != 2 {
		t.Fatalf("%d summaries, want 2 (the other keys stayed under the limit)", n)
	}
	rep, err := VerifyAudit(ctx, cat, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// TestCheckpointFile: each commit appends "seq hash time"; the file ends at
// the head once the service is closed, and verification accepts it.
func TestCheckpointFile(t *testing.T) {
	ctx := context.Background()
	cat := catalogs(t)["sqlite"](t)
	path := filepath.Join(t.TempDir(), "audit.checkpoint")
	s := New(cat, nil, Config{Logger: quietLog, AuditCheckpoint: path})
	for i := 0; i < 5; i++ {
		must(t, s.audit(ctx, admin("a"), recvault.ActionMetadata, fmt.Sprint(i), recvault.OutcomeGranted, ""))
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.audit(ctx, admin("b"), recvault.ActionMetadata, fmt.Sprint(i), recvault.OutcomeGranted, ""); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 6 || len(lines) > 25 {
		t.Fatalf("%d checkpoint lines for 25 records", len(lines))
	}
	seq, hash, err := cat.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := strings.Fields(lines[len(lines)-1])
	if len(last) != 3 || last[0] != "25" || last[1] != hash || seq != 25 {
		t.Fatalf("last checkpoint %q, head %d %s", lines[len(lines)-1], seq, hash)
	}
	if _, err := time.Parse(time.RFC3339, last[2]); err != nil {
		t.Fatalf("checkpoint time: %v", err)
	}
	rep, err := VerifyAudit(ctx, cat, lines)
	if err != nil || !rep.OK() || rep.Checkpoints != len(lines) {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	if _, err := VerifyAudit(ctx, cat, []string{"garbage"}); recvault.ErrorCode(err) != recvault.EINVALID {
		t.Fatalf("malformed checkpoint: %v", err)
	}
	// Written after Close: stored one by one, still chained and checkpointed.
	must(t, s.audit(ctx, admin("c"), recvault.ActionMetadata, "late", recvault.OutcomeGranted, ""))
	if seq, _, _ := cat.AuditHead(ctx); seq != 26 {
		t.Fatalf("record after Close: head %d", seq)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes: not cut in half
		{"\xff\xff\xff\xff\xff", 2, "\xff\xff"},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// must fails the test on an audit write error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
