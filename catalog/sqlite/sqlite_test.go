package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/catalog/catalogtest"
	"github.com/recvault/recvault/catalog/internal/cursor"
)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestCatalogSuite(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) recvault.Catalog { return openTest(t) })
}

func TestWALAndMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	var sync int
	if err := db.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("synchronous = %d (want 2, FULL), %v", sync, err)
	}
	if _, err := db.CreateRecording(ctx, catalogtest.Rec(1, 110, "4977")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Reopening applies nothing twice and keeps the data.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := db.SchemaVersion(ctx)
	if err != nil || v != len(migrations) {
		t.Fatalf("schema version %d, want %d (%v)", v, len(migrations), err)
	}
	if _, err := db.Recording(ctx, "rec0001"); err != nil {
		t.Fatalf("data lost on reopen: %v", err)
	}
	// A database from a newer binary is refused rather than misread.
	db.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, len(migrations)+1)
	db.Close()
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer schema accepted: %v", err)
	}
}

// TestLookupsUseIndexes asks SQLite's planner how it runs the lookups the
// façades make, so that none of them silently becomes a table scan.
func TestLookupsUseIndexes(t *testing.T) {
	db := openTest(t)
	for q, index := range map[string]string{
		`SELECT id FROM recordings WHERE campaign_id = 1 AND crt_object_id = 'x'`:                                             "sqlite_autoindex_recordings_",
		`SELECT id FROM recordings WHERE call_id = 'x' AND agent_id = 'y'`:                                                    "recordings_call_agent",
		`SELECT id FROM recordings WHERE original_norm = 'Y:/1.mp4'`:                                                          "recordings_original",
		`SELECT id FROM recordings WHERE started_at >= 1 ORDER BY started_at DESC`:                                            "recordings_started",
		`SELECT id FROM recordings WHERE campaign_id = 1 AND (started_at, id) < (5, 'x') ORDER BY started_at DESC, id DESC`:   "recordings_campaign_started (campaign_id=? AND (started_at,id)<(?,?))",
		`SELECT id FROM recordings WHERE agent_id = 'a' AND (started_at, id) < (5, 'x') ORDER BY started_at DESC, id DESC`:    "recordings_agent_started (agent_id=? AND (started_at,id)<(?,?))",
		`SELECT id FROM recordings WHERE crt_object_id = 'x'`:                                                                 "recordings_crt",
		`SELECT id FROM audit WHERE actor = 'x' AND at >= 5 AND (at > 5 OR id > 7) ORDER BY at, id`:                           "audit_actor (actor=? AND at>?)",
		`SELECT id FROM audit WHERE id > 5 + (SELECT id_offset FROM audit_head WHERE id = 1) AND seq IS NOT NULL ORDER BY id`: "SEARCH audit USING INTEGER PRIMARY KEY (rowid>?)",
		`SELECT id FROM sessions WHERE token_hash = 'x'`:                                                                      "sqlite_autoindex_sessions_",
		`SELECT id FROM users WHERE login = 'x'`:                                                                              "sqlite_autoindex_users_",
	} {
		rows, err := db.db.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, index) {
			t.Errorf("%s\n  plan %q does not use %s", q, p, index)
		}
	}
}

func BenchmarkRecordingByIdentity(b *testing.B) {
	db := openTest(b)
	ctx := context.Background()
	for i := 0; i < 2000; i++ {
		if _, err := db.CreateRecording(ctx, catalogtest.Rec(i, 110, "4977")); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.RecordingByIdentity(ctx, 110, "crt-1000"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPages reads a page of 100 recordings and one of 100 audit
// records: what reading and converting a page's rows costs beyond the
// engine's work.
func BenchmarkPages(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	var events []*recvault.AuditEvent
	for i := 0; i < 200; i++ {
		if _, err := db.CreateRecording(ctx, catalogtest.Rec(i, 110, "4977")); err != nil {
			b.Fatal(err)
		}
		events = append(events, &recvault.AuditEvent{At: time.Unix(1767258000+int64(i), 0), Actor: "ann", Role: "supervisor",
			API: "v1", Action: recvault.ActionDownload, Outcome: recvault.OutcomeGranted, RecordingID: catalogtest.Rec(i, 110, "4977").ID,
			Remote: "10.0.0.1", RequestID: "req"})
	}
	if err := db.AppendAudit(ctx, events); err != nil {
		b.Fatal(err)
	}
	b.Run("recordings", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			recs, _, err := db.FindRecordings(ctx, recvault.RecordingFilter{CampaignID: 110, Scope: recvault.Scope{All: true}, Limit: 100})
			if err != nil || len(recs) != 100 {
				b.Fatal(len(recs), err)
			}
		}
	})
	b.Run("audit", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ev, _, err := db.FindAudit(ctx, recvault.AuditFilter{Actor: "ann", Limit: 100})
			if err != nil || len(ev) != 100 {
				b.Fatal(len(ev), err)
			}
		}
	})
}

func FuzzCursor(f *testing.F) {
	f.Add(cursor.Encode(1767258000000000000, "rec0001"))
	f.Add("")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		at, id, err := cursor.Decode(s)
		if err != nil {
			if recvault.ErrorCode(err) != recvault.EINVALID {
				t.Fatalf("cursor error %v is not EINVALID", err)
			}
			return
		}
		if again := cursor.Encode(at, id); again != s {
			// Non-canonical encodings may decode; they must still round-trip the values.
			if at2, id2, err := cursor.Decode(again); err != nil || at2 != at || id2 != id {
				t.Fatalf("cursor %q does not round-trip", s)
			}
		}
	})
}

// oldCatalog is a catalogue file at path as an earlier release left it:
// exec runs a statement on it, migrate applies migrations from to to (as
// Open would, recorded in schema_migrations), and done closes it for Open.
type oldCatalog struct {
	t   *testing.T
	raw *sql.DB
}

// openOld makes the file with no migrations applied.
func openOld(t *testing.T, path string) *oldCatalog {
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	o := &oldCatalog{t, raw}
	o.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	return o
}

func (o *oldCatalog) exec(q string, args ...any) {
	o.t.Helper()
	if _, err := o.raw.Exec(q, args...); err != nil {
		o.t.Fatalf("%s: %v", q, err)
	}
}

func (o *oldCatalog) migrate(from, to int) {
	o.t.Helper()
	for v := from; v <= to; v++ {
		o.exec(migrations[v-1])
		o.exec(`INSERT INTO schema_migrations VALUES (?, 0)`, v)
	}
}

func (o *oldCatalog) done() {
	if err := o.raw.Close(); err != nil {
		o.t.Fatal(err)
	}
}

// TestAuditBackfill upgrades a catalogue of schema 10 whose audit already
// holds listings: migration 11 must index their recording ids, so that
// FindAudit still finds every record about a recording.
func TestAuditBackfill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	old := openOld(t, path)
	old.migrate(1, 10)
	for i, ids := range []string{"a b c", "c", "", "bb a"} {
		old.exec(`INSERT INTO audit (seq, at, actor, action, recording_id, recording_ids, outcome, detail, remote, request_id, via)
			VALUES (?, ?, 'u', 'list', '', ?, 'granted', '', '', '', 'v1')`, i+1, i+1, ids)
	}
	old.done()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for id, want := range map[string]int{"a": 2, "b": 1, "bb": 1, "c": 2, "d": 0} {
		got, _, err := db.FindAudit(ctx, recvault.AuditFilter{RecordingID: id})
		if err != nil || len(got) != want {
			t.Errorf("records about %s: %d, want %d (%v)", id, len(got), want, err)
		}
	}
}

// TestAuditRowOrder: migration 14 stores the chain in row order. On a
// catalogue whose trail began before the chain (records without seq) and
// went on under it, the offset is read off the head, the index on seq
// goes, and the records appended after it continue the chain at row id
// seq + offset, so that AuditChain, reading the table in id order, returns
// every chained record once, in Seq order, each linked to the one before.
func TestAuditRowOrder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	old := openOld(t, path)
	old.migrate(1, 6)
	const unchained = 3 // records from before the chain
	for i := range unchained {
		old.exec(`INSERT INTO audit (at, actor, action, recording_id, outcome, detail, remote, request_id, via)
			VALUES (?, 'old', 'login', '', 'granted', '', '', '', 'v1')`, i+1)
	}
	old.migrate(7, 13)
	// Three records chained as the writer before migration 14 stored them:
	// the row id left to SQLite, the head moved in the same transaction.
	hash := ""
	for seq := int64(1); seq <= 3; seq++ {
		e := recvault.AuditEvent{Seq: seq, At: time.Unix(100+seq, 0), Actor: "u", API: "v1",
			Action: recvault.ActionDownload, Outcome: recvault.OutcomeGranted, RecordingID: "r1"}
		e.Hash = e.ChainHash(hash)
		old.exec(`INSERT INTO audit (seq, at, actor, action, recording_id, outcome, detail, remote, request_id, via, prev_hash, hash)
			VALUES (?, ?, 'u', 'download', 'r1', 'granted', '', '', '', 'v1', ?, ?)`, seq, e.At.UnixNano(), hash, e.Hash)
		old.exec(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, seq, e.Hash)
		hash = e.Hash
	}
	old.done()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var offset, indexes int64
	if err := db.db.QueryRowContext(ctx, `SELECT id_offset FROM audit_head WHERE id = 1`).Scan(&offset); err != nil || offset != unchained {
		t.Fatalf("id_offset %d, want %d (%v)", offset, unchained, err)
	}
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'audit_seq'`).Scan(&indexes); err != nil || indexes != 0 {
		t.Fatalf("audit_seq indexes left: %d (%v)", indexes, err)
	}
	for range 2 { // two batches after the migration
		batch := []*recvault.AuditEvent{
			{At: time.Unix(200, 0), Actor: "u", API: "v1", Action: recvault.ActionDownload, Outcome: recvault.OutcomeGranted, RecordingID: "r1"},
			{At: time.Unix(201, 0), Actor: "u", API: "v1", Action: recvault.ActionList, Outcome: recvault.OutcomeGranted, RecordingIDs: []string{"r1", "r2"}},
		}
		if err := db.AppendAudit(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	chain, err := db.AuditChain(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 7 {
		t.Fatalf("chain of %d records, want 7", len(chain))
	}
	prev := ""
	for i, e := range chain {
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.ChainHash(prev) != e.Hash {
			t.Fatalf("record %d: seq %d, links to %q (want %q), hash ok %v", i+1, e.Seq, e.PrevHash, prev, e.ChainHash(prev) == e.Hash)
		}
		prev = e.Hash
	}
	// Each chained record lies at row id seq + offset.
	var off int64
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM audit WHERE seq IS NOT NULL AND id <> seq + ?`, offset).Scan(&off); err != nil || off != 0 {
		t.Fatalf("%d chained records off their row (%v)", off, err)
	}
	// A page from the middle starts after the record asked for.
	page, err := db.AuditChain(ctx, 4, 2)
	if err != nil || len(page) != 2 || page[0].Seq != 5 || page[1].Seq != 6 {
		t.Fatalf("AuditChain(4, 2): %+v (%v)", page, err)
	}
	// The listing's ids still find their record (audit_recordings holds
	// the row id the writer chose).
	got, _, err := db.FindAudit(ctx, recvault.AuditFilter{RecordingID: "r2"})
	if err != nil || len(got) != 2 {
		t.Fatalf("records listing r2: %d, want 2 (%v)", len(got), err)
	}
	// A row already where the next record belongs (not one the writer
	// appended) fails the batch: nothing is chained around it.
	if _, err := db.db.ExecContext(ctx, `INSERT INTO audit (id, at, actor, action, recording_id, outcome, detail, remote, request_id, via)
		VALUES (?, 0, 'x', 'login', '', 'granted', '', '', '', '')`, offset+8); err != nil {
		t.Fatal(err)
	}
	e := &recvault.AuditEvent{At: time.Unix(300, 0), Actor: "u", Action: recvault.ActionLogin, Outcome: recvault.OutcomeGranted}
	if err := db.AppendAudit(ctx, []*recvault.AuditEvent{e}); err == nil || e.Seq != 0 {
		t.Fatalf("append over a foreign row: %v, seq %d", err, e.Seq)
	}
}

// TestReadsWhatSQLiteStored: SQLite converts by column affinity only what
// converts losslessly, so a row written by hand (or by another tool) may
// hold a blob in a text column or letters in an integer one. The blob
// reads as its bytes; the letters are an error, not a zero.
func TestReadsWhatSQLiteStored(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.db.ExecContext(ctx, `INSERT INTO audit (id, seq, at, actor, role, via, action, outcome, recording_id,
		recording_ids, subject, format, byte_range, detail, remote, request_id, prev_hash, hash)
		VALUES (1, '7', 1767258000000000000, 42, 'admin', 'v1', 'download', 'granted', 'rec1', '', '', '', '', 1.5, '', '', '', X'6869')`); err != nil {
		t.Fatal(err)
	}
	ev, _, err := db.FindAudit(ctx, recvault.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 || ev[0].Seq != 7 || ev[0].Actor != "42" || ev[0].Detail != "1.5" || ev[0].Hash != "hi" ||
		!ev[0].At.Equal(time.Unix(1767258000, 0)) {
		t.Fatalf("read %+v", ev)
	}
	if _, err := db.db.ExecContext(ctx, `UPDATE audit SET seq = 'x' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.FindAudit(ctx, recvault.AuditFilter{}); err == nil {
		t.Fatal("an integer column holding letters read without an error")
	}
}

// BenchmarkAppendAudit: catalogtest.BenchAppendAudit on a SQLite file,
// fsyncs included. (It was 36-42 µs of CPU a record on 2026-12-02, and
// 23 µs with one actor and one recording, as in bench/atrest.sh: the
// scattered index pages of the actor indexes cost the rest. On a slower
// machine on 2026-12-03, 58.6 µs with two actor indexes against 43.6 µs
// with one, medians of five alternating runs: schema 13 dropped the
// second.)
func BenchmarkAppendAudit(b *testing.B) { catalogtest.BenchAppendAudit(b, openTest(b)) }
