package catalogtest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

// checkChain reads the whole chain and checks that it is 1..want, each
// record's hash recomputes and links to the one before, and the head is
// the last record.
func checkChain(t *testing.T, c recvault.Catalog, want int) []recvault.AuditEvent {
	t.Helper()
	ctx := context.Background()
	var all []recvault.AuditEvent
	after := int64(0)
	for {
		page, err := c.AuditChain(ctx, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
	if len(all) != want {
		t.Fatalf("chain holds %d records, want %d", len(all), want)
	}
	prev := ""
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d: not contiguous", i, e.Seq)
		}
		if e.PrevHash != prev {
			t.Fatalf("seq %d: prevHash %q, want the previous record's hash %q", e.Seq, e.PrevHash, prev)
		}
		if h := e.ChainHash(e.PrevHash); h != e.Hash {
			t.Fatalf("seq %d: stored hash %s, recomputed %s", e.Seq, e.Hash, h)
		}
		prev = e.Hash
	}
	seq, hash, err := c.AuditHead(ctx)
	if err != nil || seq != int64(want) || hash != prev {
		t.Fatalf("head (%d, %s, %v), want (%d, %s)", seq, hash, err, want, prev)
	}
	return all
}

// testAuditChain stores records with every field set and reads them back
// exactly as they were hashed: the chain recomputes from the stored rows.
func testAuditChain(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	if seq, hash, err := c.AuditHead(ctx); err != nil || seq != 0 || hash != "" {
		t.Fatalf("empty head: %d %q %v", seq, hash, err)
	}
	full := recvault.AuditEvent{
		At: base.Add(1234567 * time.Nanosecond), Actor: "sup@example.com", Role: "supervisor", API: "v1",
		Action: recvault.ActionList, Outcome: recvault.OutcomeGranted, RecordingIDs: []string{"r1", "r2", "r3"},
		Subject: "campaign=110", Format: "mp3", Range: "bytes=0-99", Detail: "détail ✓", Remote: "10.0.0.1:5555",
		RequestID: "req-1",
	}
	odd := recvault.AuditEvent{At: base, Action: recvault.ActionDownload, Outcome: recvault.OutcomeDenied,
		RecordingID: "x", Detail: "bad \xff\x00 bytes", Subject: "sub\x00ject", RecordingIDs: []string{"has space", "", "z"}}
	batch := []*recvault.AuditEvent{&full, &odd, {Action: recvault.ActionLogin, Outcome: recvault.OutcomeDenied}}
	if err := c.AppendAudit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i, e := range batch {
		if e.Seq != int64(i+1) || e.Hash == "" || e.Hash != e.ChainHash(e.PrevHash) {
			t.Fatalf("event %d not chained on the struct: %+v", i, e)
		}
	}
	if batch[0].PrevHash != "" || batch[1].PrevHash != batch[0].Hash {
		t.Fatalf("prev hashes: %q %q", batch[0].PrevHash, batch[1].PrevHash)
	}
	if err := c.AppendAudit(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	more := &recvault.AuditEvent{At: base.Add(time.Minute), Actor: "a", Action: recvault.ActionLogout, Outcome: recvault.OutcomeGranted}
	if err := c.AppendAudit(ctx, []*recvault.AuditEvent{more}); err != nil {
		t.Fatal(err)
	}
	if more.Seq != 4 || more.PrevHash != batch[2].Hash {
		t.Fatalf("second batch does not continue the chain: %+v", more)
	}
	all := checkChain(t, c, 4)
	got := all[0]
	if !got.At.Equal(full.At) || got.Actor != full.Actor || got.Role != full.Role || got.API != full.API ||
		got.Action != full.Action || got.Outcome != full.Outcome || !slices.Equal(got.RecordingIDs, full.RecordingIDs) ||
		got.Subject != full.Subject || got.Format != full.Format || got.Range != full.Range || got.Detail != full.Detail ||
		got.Remote != full.Remote || got.RequestID != full.RequestID || got.Hash != full.Hash {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, full)
	}
	// The odd record is read back as it was hashed (the catalog may have
	// replaced text it cannot store, but then on the struct too).
	if o := all[1]; o.Detail != odd.Detail || o.Subject != odd.Subject || !slices.Equal(o.RecordingIDs, odd.RecordingIDs) {
		t.Fatalf("stored %+v, hashed %+v", o, odd)
	}
	if !slices.Equal(odd.RecordingIDs, []string{"has_space", "z"}) {
		t.Fatalf("recording ids stored as %q", odd.RecordingIDs)
	}
	// Audit, newest first, carries the new fields too.
	ev, err := c.Audit(ctx, 10)
	if err != nil || len(ev) != 4 || ev[3].Hash != full.Hash || ev[3].Format != "mp3" || len(ev[3].RecordingIDs) != 3 {
		t.Fatalf("audit: %+v %v", ev, err)
	}
}

// testAuditConcurrent appends batches from 8 goroutines at once (replicas'
// writers): the chain stays one contiguous sequence with every link intact.
func testAuditConcurrent(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	const writers, batches = 8, 6
	var mu sync.Mutex
	var seqs []int64
	total := 0
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				n := 1 + (w+b)%4
				batch := make([]*recvault.AuditEvent, n)
				for i := range batch {
					batch[i] = &recvault.AuditEvent{At: base.Add(time.Duration(w*1000+b*10+i) * time.Millisecond),
						Actor: fmt.Sprintf("writer-%d", w), Action: recvault.ActionDownload, Outcome: recvault.OutcomeGranted,
						RecordingID: fmt.Sprintf("rec-%d-%d-%d", w, b, i)}
				}
				if err := c.AppendAudit(ctx, batch); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for i, e := range batch {
					if i > 0 && e.Seq != batch[i-1].Seq+1 {
						t.Errorf("a batch is not consecutive: %d after %d", e.Seq, batch[i-1].Seq)
					}
					seqs = append(seqs, e.Seq)
				}
				total += n
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent append: %v", err)
	}
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("seqs handed out %v: not 1..%d once each", seqs, total)
		}
	}
	checkChain(t, c, total)
}

// testFindAudit: filters by time, actor and recording (acted on or
// listed), ascending, with cursor pages that miss nothing.
func testFindAudit(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	var batch []*recvault.AuditEvent
	for i := 0; i < 30; i++ {
		e := &recvault.AuditEvent{At: base.Add(time.Duration(i) * time.Minute), Actor: []string{"ann", "bob", ""}[i%3],
			Action: recvault.ActionDownload, Outcome: recvault.OutcomeGranted, RecordingID: fmt.Sprintf("rec%02d", i%5)}
		if i%10 == 9 {
			e.Action, e.RecordingID, e.RecordingIDs = recvault.ActionList, "", []string{"rec00", "rec010", "rec04"}
		}
		batch = append(batch, e)
		if len(batch) == 4 || i == 29 {
			if err := c.AppendAudit(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	// Every page, ascending by seq, nothing twice, nothing missed.
	var seqs []int64
	cur := ""
	for page := 0; ; page++ {
		ev, next, err := c.FindAudit(ctx, recvault.AuditFilter{Limit: 7, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev) > 7 {
			t.Fatalf("page of %d records, limit 7", len(ev))
		}
		for _, e := range ev {
			seqs = append(seqs, e.Seq)
		}
		if next == "" {
			break
		}
		if page > 10 {
			t.Fatal("pagination does not end")
		}
		cur = next
	}
	if len(seqs) != 30 {
		t.Fatalf("pages held %d records, want 30", len(seqs))
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("position %d: seq %d (want ascending 1..30)", i, s)
		}
	}
	count := func(f recvault.AuditFilter) int {
		t.Helper()
		f.Limit = 1000
		ev, next, err := c.FindAudit(ctx, f)
		if err != nil || next != "" {
			t.Fatalf("%+v: %v, next %q", f, err, next)
		}
		for i := 1; i < len(ev); i++ {
			if ev[i].Seq <= ev[i-1].Seq {
				t.Fatalf("not ascending: %d after %d", ev[i].Seq, ev[i-1].Seq)
			}
		}
		return len(ev)
	}
	cases := []struct {
		name string
		f    recvault.AuditFilter
		want int
	}{
		{"all", recvault.AuditFilter{}, 30},
		{"since", recvault.AuditFilter{Since: base.Add(20 * time.Minute)}, 10},
		{"until", recvault.AuditFilter{Until: base.Add(5 * time.Minute)}, 5},
		{"since until", recvault.AuditFilter{Since: base.Add(5 * time.Minute), Until: base.Add(15 * time.Minute)}, 10},
		{"actor", recvault.AuditFilter{Actor: "bob"}, 10},
		{"recording acted on or listed", recvault.AuditFilter{RecordingID: "rec04"}, 6},
		{"recording id is not a prefix match", recvault.AuditFilter{RecordingID: "rec01"}, 6},
		{"recording only listed", recvault.AuditFilter{RecordingID: "rec010"}, 3},
		{"actor and recording", recvault.AuditFilter{Actor: "ann", RecordingID: "rec00"}, 2 + 1},
		{"nothing", recvault.AuditFilter{Actor: "nobody"}, 0},
	}
	for _, tc := range cases {
		if got := count(tc.f); got != tc.want {
			t.Errorf("%s: %d records, want %d", tc.name, got, tc.want)
		}
	}
	// A filtered listing pages too.
	ev, next, err := c.FindAudit(ctx, recvault.AuditFilter{Actor: "ann", Limit: 4})
	if err != nil || len(ev) != 4 || next == "" {
		t.Fatalf("first filtered page: %d %q %v", len(ev), next, err)
	}
	rest, next2, err := c.FindAudit(ctx, recvault.AuditFilter{Actor: "ann", Limit: 100, Cursor: next})
	if err != nil || len(rest) != 6 || next2 != "" || rest[0].Seq <= ev[3].Seq {
		t.Fatalf("second filtered page: %d %q %v", len(rest), next2, err)
	}
	for _, bad := range []string{"!!not-a-cursor", "MTIzOmZvbw"} { // the latter: "123:foo", another kind of cursor
		if _, _, err := c.FindAudit(ctx, recvault.AuditFilter{Cursor: bad}); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Fatalf("bad cursor %q: %v", bad, err)
		}
	}
	if f := (recvault.AuditFilter{Limit: 5000}); f.AuditPageLimit() != 1000 {
		t.Fatalf("limit not capped: %d", f.AuditPageLimit())
	}
}

// testFindAuditByTime: a listing bounded in time, or one actor's, is in
// event-time order, ties in append order, whatever order the records were
// appended in (two replicas append events whose times interleave), with
// cursor pages that miss nothing and repeat nothing; a cursor of one
// order is refused by a listing of the other.
func testFindAuditByTime(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	// Minutes of the records in append order: out of order, with ties.
	minutes := []int{5, 1, 3, 3, 9, 0, 7, 3, 2, 8, 1, 6}
	var batch []*recvault.AuditEvent
	for i, m := range minutes {
		batch = append(batch, &recvault.AuditEvent{At: base.Add(time.Duration(m) * time.Minute), Actor: []string{"ann", "bob"}[i%2],
			Action: recvault.ActionDownload, Outcome: recvault.OutcomeGranted, RecordingID: fmt.Sprintf("rec%02d", i)})
	}
	if err := c.AppendAudit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// want lists the seqs (append positions, from 1) of the records at or
	// after minute from and before minute to, by event time then seq.
	want := func(from, to int, actor string) []int64 {
		var seqs []int64
		for m := from; m < to; m++ {
			for i, mm := range minutes {
				if mm == m && (actor == "" || []string{"ann", "bob"}[i%2] == actor) {
					seqs = append(seqs, int64(i+1))
				}
			}
		}
		return seqs
	}
	list := func(f recvault.AuditFilter, limit int) []int64 {
		t.Helper()
		var seqs []int64
		f.Limit = limit
		for page := 0; ; page++ {
			ev, next, err := c.FindAudit(ctx, f)
			if err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
			if len(ev) > limit {
				t.Fatalf("page of %d records, limit %d", len(ev), limit)
			}
			for _, e := range ev {
				seqs = append(seqs, e.Seq)
			}
			if next == "" {
				return seqs
			}
			if page > len(minutes) {
				t.Fatal("pagination does not end")
			}
			f.Cursor = next
		}
	}
	for _, tc := range []struct {
		name     string
		f        recvault.AuditFilter
		from, to int
		actor    string
	}{
		{"since", recvault.AuditFilter{Since: base}, 0, 10, ""},
		{"until", recvault.AuditFilter{Until: base.Add(4 * time.Minute)}, 0, 4, ""},
		{"since until", recvault.AuditFilter{Since: base.Add(time.Minute), Until: base.Add(8 * time.Minute)}, 1, 8, ""},
		{"since and actor", recvault.AuditFilter{Since: base.Add(2 * time.Minute), Actor: "bob"}, 2, 10, "bob"},
		{"actor", recvault.AuditFilter{Actor: "ann"}, 0, 10, "ann"},
		{"until and actor", recvault.AuditFilter{Until: base.Add(6 * time.Minute), Actor: "ann"}, 0, 6, "ann"},
	} {
		for _, limit := range []int{1, 2, 5, 100} {
			if got, w := list(tc.f, limit), want(tc.from, tc.to, tc.actor); !slices.Equal(got, w) {
				t.Errorf("%s, pages of %d: seqs %v, want %v", tc.name, limit, got, w)
			}
		}
	}
	// Unbounded: append order still.
	if got := list(recvault.AuditFilter{}, 5); !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Errorf("unbounded listing: seqs %v, want 1..12", got)
	}
	// A cursor of one order is not one of the other.
	_, timedNext, err := c.FindAudit(ctx, recvault.AuditFilter{Since: base, Limit: 2})
	if err != nil || timedNext == "" {
		t.Fatalf("timed first page: %q %v", timedNext, err)
	}
	_, plainNext, err := c.FindAudit(ctx, recvault.AuditFilter{Limit: 2})
	if err != nil || plainNext == "" {
		t.Fatalf("first page: %q %v", plainNext, err)
	}
	if _, _, err := c.FindAudit(ctx, recvault.AuditFilter{Cursor: timedNext}); recvault.ErrorCode(err) != recvault.EINVALID {
		t.Errorf("an event-time cursor on an append-order listing: %v, want EINVALID", err)
	}
	if _, _, err := c.FindAudit(ctx, recvault.AuditFilter{Since: base, Cursor: plainNext}); recvault.ErrorCode(err) != recvault.EINVALID {
		t.Errorf("an append-order cursor on an event-time listing: %v, want EINVALID", err)
	}
	if _, _, err := c.FindAudit(ctx, recvault.AuditFilter{Actor: "ann", Cursor: plainNext}); recvault.ErrorCode(err) != recvault.EINVALID {
		t.Errorf("an append-order cursor on an actor's listing: %v, want EINVALID", err)
	}
}

// BenchAppendAudit appends batches of 22 download records to c, the size
// the serve path's audit writer commits under 64 connections, by 300
// actors over 5,000 recordings, into a trail of 20,000 such records: the
// cost per record of what a download adds to the trail. ns/op is per
// record, commits included; cpu-ns/record is this process's CPU time,
// user and system, per record (all of it for SQLite, the client's share
// for a database server). Each batch has a context with a timeout, as
// the audit writer's commits do.
func BenchAppendAudit(b *testing.B, c recvault.Catalog) {
	ctx := context.Background()
	const batch = 22
	mk := func(i int) *recvault.AuditEvent {
		return &recvault.AuditEvent{At: time.Unix(1767258000, int64(i)*1000), Actor: "user" + strconv.Itoa(i%300), Role: "supervisor",
			API: "v1", Action: recvault.ActionDownload, Outcome: recvault.OutcomeGranted, RecordingID: Rec(i%5000, 110, "4977").ID,
			Subject: "id", Remote: "10.0.0.1", RequestID: "9f2c4e1a7b3d5f60"}
	}
	seed := make([]*recvault.AuditEvent, 20000)
	for i := range seed {
		seed[i] = mk(i)
	}
	if err := c.AppendAudit(ctx, seed); err != nil { // a trail to insert into
		b.Fatal(err)
	}
	events := make([]*recvault.AuditEvent, batch)
	cpu0 := CPUTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		for j := range events {
			events[j] = mk(len(seed) + i + j)
		}
		// A context that can end, as the audit writer's (a timeout per
		// commit): what a catalogue does to watch one is part of the cost.
		bctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := c.AppendAudit(bctx, events)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(CPUTime(b)-cpu0)/float64(b.N), "cpu-ns/record")
}

// CPUTime is the process's CPU time so far, user and system, in ns: the
// benchmarks' "cpu-ns/record", steadier than the wall time on a shared
// machine.
func CPUTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
