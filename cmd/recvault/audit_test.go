package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/backend"
	"github.com/recvault/recvault/internal/pgtest"
	"github.com/recvault/recvault/vault"
)

// auditStore is a catalog the audit tests tamper with: where it is, the
// CLI flags that reach it, and a way to run raw SQL on it as an intruder
// with database access would.
type auditStore struct {
	loc   locations
	flags []string
	exec  func(t *testing.T, q string)
}

// auditStores returns openers of a real SQLite file and a real PostgreSQL
// database (the latter skipped without PostgreSQL).
func auditStores() map[string]func(t *testing.T) auditStore {
	return map[string]func(t *testing.T) auditStore{
		"sqlite": func(t *testing.T) auditStore {
			dir := t.TempDir()
			loc := dirLocations(dir)
			path := strings.TrimPrefix(loc.Catalog, "sqlite://")
			return auditStore{loc: loc, flags: []string{"--data", dir}, exec: func(t *testing.T, q string) {
				t.Helper()
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}}
		},
		"postgres": func(t *testing.T) auditStore {
			dir := t.TempDir()
			u := pgtest.URL(t)
			_, blobs := backend.Embedded(dir)
			loc := locations{Catalog: u, Blobs: blobs, Cache: filepath.Join(dir, "cache")}
			return auditStore{loc: loc, flags: []string{"--catalog", u, "--blobs", blobs}, exec: func(t *testing.T, q string) {
				t.Helper()
				ctx := context.Background()
				conn, err := pgx.Connect(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				if _, err := conn.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}}
		},
	}
}

// writeTrail writes n audit records through a server's core, with a
// checkpoint file, and closes it (flushing the checkpoint).
func writeTrail(t *testing.T, st auditStore, n int) (checkpoint string) {
	t.Helper()
	checkpoint = filepath.Join(t.TempDir(), "audit.checkpoint")
	a, err := openApp(context.Background(), st.loc, appOptions{AuditCheckpoint: checkpoint})
	if err != nil {
		t.Fatal(err)
	}
	ctx := vault.WithRequestInfo(context.Background(), vault.RequestInfo{Via: "v1", Remote: "192.0.2.1:4000", RequestID: "rq"})
	p := &recvault.Principal{User: &recvault.User{Login: "auditor-test", Role: recvault.RoleAdmin}}
	for i := 1; i <= n; i++ {
		// Any core operation that audits will do; Refuse writes exactly one
		// record and answers EINVALID.
		if err := a.svc.Refuse(ctx, p, recvault.ActionDownload, fmt.Sprintf("rec-%02d", i), "test record"); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return checkpoint
}

// chainRecord reads record seq of the chain at loc.
func chainRecord(t *testing.T, loc locations, seq int64) recvault.AuditEvent {
	t.Helper()
	cat, err := backend.OpenCatalog(context.Background(), loc.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	ev, err := cat.AuditChain(context.Background(), seq-1, 1)
	if err != nil || len(ev) != 1 || ev[0].Seq != seq {
		t.Fatalf("record %d: %+v %v", seq, ev, err)
	}
	return ev[0]
}

// TestAuditVerifyDetectsTampering: `audit verify` passes on an intact
// trail and, after each kind of tampering with the database, fails naming
// the first broken record, on SQLite and on PostgreSQL.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	verify := func(t *testing.T, st auditStore, checkpoint string) (int, string) {
		t.Helper()
		args := []string{"audit", "verify"}
		if checkpoint != "" {
			args = append(args, "--checkpoint", checkpoint)
		}
		code, out, errs := runCLI(t, "", append(args, st.flags...)...)
		t.Logf("exit %d: %s%s", code, out, errs)
		return code, out + errs
	}
	wantBroken := func(t *testing.T, code int, out, what string) {
		t.Helper()
		if code != 1 || !strings.Contains(out, what) {
			t.Fatalf("exit %d, want 1 naming %q: %s", code, what, out)
		}
	}
	for name, open := range auditStores() {
		t.Run(name, func(t *testing.T) {
			t.Run("intact", func(t *testing.T) {
				st := open(t)
				ckpt := writeTrail(t, st, 30)
				last := chainRecord(t, st.loc, 30)
				code, out := verify(t, st, ckpt)
				want := "audit chain intact: 30 records, head seq 30 hash " + last.Hash
				if code != 0 || !strings.Contains(out, want) {
					t.Fatalf("exit %d, want 0 and %q: %s", code, want, out)
				}
			})
			t.Run("deleted", func(t *testing.T) {
				st := open(t)
				ckpt := writeTrail(t, st, 30)
				st.exec(t, `DELETE FROM audit WHERE seq = 12`)
				code, out := verify(t, st, ckpt)
				wantBroken(t, code, out, "broken at record 12 (missing)")
			})
			t.Run("edited", func(t *testing.T) {
				st := open(t)
				ckpt := writeTrail(t, st, 30)
				st.exec(t, `UPDATE audit SET actor = 'someone-else' WHERE seq = 7`)
				code, out := verify(t, st, ckpt)
				wantBroken(t, code, out, "broken at record 7 (altered)")
			})
			t.Run("tail cut", func(t *testing.T) {
				st := open(t)
				ckpt := writeTrail(t, st, 30)
				st.exec(t, `DELETE FROM audit WHERE seq > 27`)
				code, out := verify(t, st, "") // the head alone sees a clumsy cut
				wantBroken(t, code, out, "broken at record 28 (tail cut)")
				// A careful intruder moves the head back too: the chain
				// alone is consistent again; the checkpoint is not fooled.
				st.exec(t, `DELETE FROM audit WHERE seq > 25`)
				st.exec(t, `UPDATE audit_head SET seq = 25, hash = (SELECT hash FROM audit WHERE seq = 25) WHERE id = 1`)
				if code, out := verify(t, st, ""); code != 0 || !strings.Contains(out, "intact: 25 records") {
					t.Fatalf("without checkpoint: exit %d: %s", code, out)
				}
				code, out = verify(t, st, ckpt)
				wantBroken(t, code, out, "broken at record 26 (tail cut)")
			})
			t.Run("inserted", func(t *testing.T) {
				st := open(t)
				ckpt := writeTrail(t, st, 30)
				prev := chainRecord(t, st.loc, 15)
				// Make room after record 15, then put a well-formed record
				// there, hashed and linked to record 15 as the writer would,
				// and move the head along.
				st.exec(t, `UPDATE audit SET seq = -seq WHERE seq > 15`)
				st.exec(t, `UPDATE audit SET seq = 1 - seq WHERE seq < 0`)
				forged := recvault.AuditEvent{Seq: 16, At: prev.At.Add(time.Millisecond), Actor: "forger", API: "v1",
					Action: recvault.ActionDownload, Outcome: recvault.OutcomeGranted, RecordingID: "rec-99"}
				forged.Hash = forged.ChainHash(prev.Hash)
				st.exec(t, fmt.Sprintf(`INSERT INTO audit (seq, at, actor, action, recording_id, outcome, detail, remote, request_id, via, prev_hash, hash)
					VALUES (16, %d, 'forger', 'download', 'rec-99', 'granted', '', '', '', 'v1', '%s', '%s')`,
					forged.At.UnixNano(), prev.Hash, forged.Hash))
				st.exec(t, `UPDATE audit_head SET seq = seq + 1 WHERE id = 1`)
				code, out := verify(t, st, ckpt)
				wantBroken(t, code, out, "broken at record 16 (inserted)")
			})
			t.Run("reordered", func(t *testing.T) {
				st := open(t)
				ckpt := writeTrail(t, st, 30)
				// Records 7 and 8 trade numbers (through a free one:
				// PostgreSQL's seq is unique).
				st.exec(t, `UPDATE audit SET seq = -1 WHERE seq = 7`)
				st.exec(t, `UPDATE audit SET seq = 7 WHERE seq = 8`)
				st.exec(t, `UPDATE audit SET seq = 8 WHERE seq = -1`)
				code, out := verify(t, st, ckpt)
				wantBroken(t, code, out, "broken at record 7 (out of order)")
			})
			if name == "sqlite" {
				// The chain is stored in row order (migration 14): rows
				// moved out of it, their numbers left alone, are found.
				t.Run("stored out of order", func(t *testing.T) {
					st := open(t)
					ckpt := writeTrail(t, st, 30)
					st.exec(t, `UPDATE audit SET id = -id WHERE seq IN (7, 8)`)
					st.exec(t, `UPDATE audit SET id = (SELECT id_offset FROM audit_head) + 15 - seq WHERE seq IN (7, 8)`)
					code, out := verify(t, st, ckpt)
					wantBroken(t, code, out, "broken at record 7 (out of order)")
				})
			}
			t.Run("inserted beyond the head", func(t *testing.T) {
				st := open(t)
				writeTrail(t, st, 30)
				last := chainRecord(t, st.loc, 30)
				forged := recvault.AuditEvent{Seq: 31, At: last.At, Actor: "forger", Action: recvault.ActionLogin, Outcome: recvault.OutcomeGranted}
				forged.Hash = forged.ChainHash(last.Hash)
				st.exec(t, fmt.Sprintf(`INSERT INTO audit (seq, at, actor, action, recording_id, outcome, detail, remote, request_id, via, prev_hash, hash)
					VALUES (31, %d, 'forger', 'login', '', 'granted', '', '', '', '', '%s', '%s')`, last.At.UnixNano(), last.Hash, forged.Hash))
				code, out := verify(t, st, "")
				wantBroken(t, code, out, "broken at record 31 (inserted)")
			})
		})
	}
	t.Run("help", func(t *testing.T) {
		for _, args := range [][]string{{"audit", "-h"}, {"audit", "verify", "-h"}, {"audit", "export", "-h"}} {
			if code, out, errs := runCLI(t, "", args...); code != 0 || !strings.Contains(out+errs, "audit") {
				t.Errorf("%v: exit %d: %s%s", args, code, out, errs)
			}
		}
		if code, _, _ := runCLI(t, "", "audit"); code != 2 {
			t.Errorf("audit without subcommand: exit %d, want 2", code)
		}
		if code, _, _ := runCLI(t, "", "audit", "verify", "--checkpoint", "/no/such/file", "--data", t.TempDir()); code != 1 {
			t.Errorf("missing checkpoint file: exit %d, want 1", code)
		}
	})
}

// exportJSONL runs `audit export` with args and decodes its lines.
func exportJSONL(t *testing.T, env *testEnv, args ...string) []recvault.AuditEvent {
	t.Helper()
	code, out, errs := runCLI(t, "", append([]string{"audit", "export", "--data", env.dir}, args...)...)
	if code != 0 {
		t.Fatalf("export %v: exit %d: %s", args, code, errs)
	}
	var ev []recvault.AuditEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e recvault.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		ev = append(ev, e)
	}
	return ev
}

// TestAuditExport: `audit export` writes the records oldest first, as
// JSON lines that still recompute to their hashes or as CSV, filtered by
// time, recording and actor; the export is itself audited.
func TestAuditExport(t *testing.T) {
	env := startEnv(t)
	rec := env.recordingID(110, "d741-6904fad1-vce-daf-638729")
	admin := env.loginDemo("admin")
	agent := env.loginDemo("agent5001@example.com")
	env.do("GET", "/api/v1/recordings/"+rec.ID, admin, nil)
	env.do("GET", "/api/v1/recordings/"+rec.ID+"/media", agent, nil)
	env.do("GET", "/api/v1/recordings", admin, nil)

	all := exportJSONL(t, env)
	if len(all) < 5 {
		t.Fatalf("export holds %d records", len(all))
	}
	for i, e := range all {
		if i > 0 && e.Seq <= all[i-1].Seq {
			t.Fatalf("not oldest first: seq %d after %d", e.Seq, all[i-1].Seq)
		}
		if e.Hash == "" || e.ChainHash(e.PrevHash) != e.Hash {
			t.Fatalf("exported record %d does not recompute to its hash", e.Seq)
		}
		if i > 0 && e.PrevHash != all[i-1].Hash {
			t.Fatalf("exported record %d does not link to the one before", e.Seq)
		}
	}
	last, err := env.app.cat.Audit(context.Background(), 1)
	if err != nil || len(last) != 1 || last[0].Action != recvault.ActionAuditRead || last[0].Actor != "cli" || last[0].Outcome != recvault.OutcomeGranted {
		t.Fatalf("the export was not audited: %+v %v", last, err)
	}

	byRec := exportJSONL(t, env, "--recording", rec.ID)
	if len(byRec) < 2 {
		t.Fatalf("%d records about %s", len(byRec), rec.ID)
	}
	for _, e := range byRec {
		if e.RecordingID != rec.ID && !slices.Contains(e.RecordingIDs, rec.ID) {
			t.Fatalf("record %d is not about %s: %+v", e.Seq, rec.ID, e)
		}
	}
	byAgent := exportJSONL(t, env, "--actor", "agent5001@example.com")
	for _, e := range byAgent {
		if e.Actor != "agent5001@example.com" {
			t.Fatalf("record %d of actor %q", e.Seq, e.Actor)
		}
	}
	if len(byAgent) < 2 { // login and the refused download
		t.Fatalf("%d records of the agent", len(byAgent))
	}
	mid := all[len(all)/2].At
	since := exportJSONL(t, env, "--since", mid.Add(time.Second).Format(time.RFC3339))
	until := exportJSONL(t, env, "--until", mid.Add(-time.Second).Format(time.RFC3339))
	for _, e := range since {
		if e.At.Before(mid) {
			t.Fatalf("--since: record at %v", e.At)
		}
	}
	for _, e := range until {
		if !e.At.Before(mid) {
			t.Fatalf("--until: record at %v", e.At)
		}
	}
	if got := exportJSONL(t, env, "--since", env.clock.Now().Add(time.Hour).Format(time.RFC3339)); len(got) != 0 {
		t.Fatalf("future --since: %d records", len(got))
	}

	// CSV: a header naming every field, then one row per record.
	code, out, errs := runCLI(t, "", "audit", "export", "--data", env.dir, "--format", "csv", "--actor", "agent5001@example.com")
	if code != 0 {
		t.Fatalf("csv export: exit %d: %s", code, errs)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], auditCSVHeader) || len(rows) != len(byAgent)+1 {
		t.Fatalf("csv: header %q, %d rows for %d records", rows[0], len(rows)-1, len(byAgent))
	}
	if rows[1][0] != fmt.Sprint(byAgent[0].Seq) || rows[1][2] != "agent5001@example.com" || rows[1][16] != byAgent[0].Hash {
		t.Fatalf("csv row %q for %+v", rows[1], byAgent[0])
	}
	for _, bad := range [][]string{{"--since", "yesterday"}, {"--format", "xml"}} {
		if code, _, _ := runCLI(t, "", append([]string{"audit", "export", "--data", env.dir}, bad...)...); code != 2 {
			t.Errorf("export %v: exit %d, want 2", bad, code)
		}
	}
}

// auditPage is the wire form of GET /api/v1/audit.
type auditPage struct {
	Records []recvault.AuditEvent `json:"records"`
	Next    string                `json:"next"`
}

// TestAuditAPI: GET /api/v1/audit is for admins only, pages with a cursor
// through the whole trail oldest first, filters, and audits each read.
func TestAuditAPI(t *testing.T) {
	env := startEnv(t)
	rec := env.recordingID(110, "d741-6904fad1-vce-daf-638729")
	admin := env.loginDemo("admin")
	agent := env.loginDemo("agent5001@example.com")
	env.do("GET", "/api/v1/recordings/"+rec.ID, admin, nil)
	env.do("GET", "/api/v1/recordings/"+rec.ID+"/media", agent, nil)

	get := func(query, token string) (*http.Response, auditPage) {
		t.Helper()
		resp, b := env.do("GET", "/api/v1/audit"+query, token, nil)
		var p auditPage
		if resp.StatusCode == 200 {
			if err := json.Unmarshal(b, &p); err != nil || p.Records == nil {
				t.Fatalf("answer %s: %v", b, err)
			}
		}
		return resp, p
	}
	// Walk every page: ascending, each link intact, nothing twice.
	var seqs []int64
	prevHash := ""
	cursor := ""
	pages := 0
	for {
		q := "?limit=3"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		resp, p := get(q, admin)
		if resp.StatusCode != 200 || len(p.Records) > 3 {
			t.Fatalf("page %d: %d, %d records", pages, resp.StatusCode, len(p.Records))
		}
		pages++
		for _, e := range p.Records {
			if len(seqs) > 0 && e.Seq != seqs[len(seqs)-1]+1 {
				t.Fatalf("seq %d after %d", e.Seq, seqs[len(seqs)-1])
			}
			if e.PrevHash != prevHash || e.ChainHash(e.PrevHash) != e.Hash {
				t.Fatalf("record %d as served does not chain", e.Seq)
			}
			seqs, prevHash = append(seqs, e.Seq), e.Hash
		}
		if p.Next == "" {
			break
		}
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
		cursor = p.Next
	}
	if seqs[0] != 1 || pages < 3 {
		t.Fatalf("walked %d pages from seq %d", pages, seqs[0])
	}
	// Each page read left its own record.
	_, mine := get("?actor=admin&limit=1000", admin)
	reads := 0
	for _, e := range mine.Records {
		if e.Actor != "admin" {
			t.Fatalf("actor filter let %q through", e.Actor)
		}
		if e.Action == recvault.ActionAuditRead && e.Outcome == recvault.OutcomeGranted && e.API == "v1" {
			reads++
		}
	}
	if reads < pages {
		t.Fatalf("%d audit reads recorded for %d pages", reads, pages)
	}
	_, about := get("?recording="+rec.ID, admin)
	if len(about.Records) < 2 {
		t.Fatalf("%d records about the recording", len(about.Records))
	}
	for _, e := range about.Records {
		if e.RecordingID != rec.ID && !slices.Contains(e.RecordingIDs, rec.ID) {
			t.Fatalf("recording filter let %+v through", e)
		}
	}
	future := url.QueryEscape(env.clock.Now().Add(time.Hour).Format(time.RFC3339))
	if _, p := get("?since="+future, admin); len(p.Records) != 0 || p.Next != "" {
		t.Fatalf("future since: %+v", p)
	}

	// Others are refused, through the API's error form, and that is audited.
	resp, b := env.do("GET", "/api/v1/audit", agent, nil)
	wantError(t, resp, b, 403, recvault.EFORBIDDEN)
	resp, b = env.do("GET", "/api/v1/audit", "", nil)
	wantError(t, resp, b, 401, recvault.EUNAUTHENTICATED)
	for _, q := range []string{"?since=yesterday", "?until=2026-13-01T00:00:00Z", "?limit=0", "?limit=5000", "?cursor=zzz"} {
		resp, b := env.do("GET", "/api/v1/audit"+q, admin, nil)
		wantError(t, resp, b, 400, recvault.EINVALID)
	}
	_, denied := get("?actor=agent5001@example.com", admin)
	found := false
	for _, e := range denied.Records {
		found = found || (e.Action == recvault.ActionAuditRead && e.Outcome == recvault.OutcomeDenied)
	}
	if !found {
		t.Fatal("the agent's refused read of the audit trail was not audited")
	}
}

// TestAnonymousFloodOverHTTP: unauthenticated requests are audited with
// cut details, and a burst from one client is summarised after 20.
func TestAnonymousFloodOverHTTP(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	before, _, err := env.app.cat.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 300)
	for i := 0; i < 30; i++ {
		env.do("GET", "/api/v1/recordings/"+long+"/media", "", nil)
	}
	burst, err := env.app.cat.AuditChain(ctx, before, 1000)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ action, outcome string }
	stored := map[key]int{}
	for _, e := range burst {
		if e.Actor != "" {
			continue
		}
		if len(e.Detail) > 120 || len(e.Subject) > 120 {
			t.Fatalf("anonymous record %d not cut: %d/%d bytes", e.Seq, len(e.Detail), len(e.Subject))
		}
		stored[key{string(e.Action), string(e.Outcome)}]++
	}
	top := key{}
	for k, n := range stored {
		if n > stored[top] {
			top = k
		}
	}
	if stored[top] != 20 {
		t.Fatalf("anonymous records stored per kind %v: want the first 20 of 30", stored)
	}
	// The minute ends; the next attempt writes the summary.
	env.clock.Advance(2 * time.Minute)
	env.do("GET", "/api/v1/recordings/x/media", "", nil)
	ev, err := env.app.cat.Audit(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev {
		if e.Action == recvault.ActionSuppressed && e.Detail == "10 similar attempts from 127.0.0.1 suppressed" &&
			e.Subject == top.action && string(e.Outcome) == top.outcome {
			return
		}
	}
	t.Fatalf("no summary of the suppressed attempts in %+v", ev)
}

// serve offers --audit-checkpoint (its effect, through openApp, is what
// writeTrail relies on).
func TestServeAuditCheckpointFlag(t *testing.T) {
	code, errs, _ := runCLI(t, "", "serve", "-h") // help is on stdout
	if code != 0 || !strings.Contains(errs, "-audit-checkpoint") {
		t.Fatalf("serve -h: exit %d, no --audit-checkpoint: %s", code, errs)
	}
}
