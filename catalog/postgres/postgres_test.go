package postgres

import (
	"context"
	"net"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/catalog/catalogtest"
	"github.com/recvault/recvault/catalog/internal/cursor"
	"github.com/recvault/recvault/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openURL(t *testing.T, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url)
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
	catalogtest.Run(t, func(t *testing.T) recvault.Catalog { return openURL(t, pgtest.URL(t)) })
}

// TestCatalogSuiteSimpleProtocol runs the suite as a deployment behind a
// transaction-pooling proxy does (default_query_exec_mode=simple_protocol
// in the URL): no prepared statements, and every result in PostgreSQL's
// text format, which the audit decoder reads as well as the binary one.
func TestCatalogSuiteSimpleProtocol(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) recvault.Catalog {
		return openURL(t, withParam(pgtest.URL(t), "default_query_exec_mode=simple_protocol"))
	})
}

// withParam adds a key=value setting to a PostgreSQL URL.
func withParam(url, kv string) string {
	if strings.Contains(url, "?") {
		return url + "&" + kv
	}
	return url + "?" + kv
}

// TestMigrations starts replicas at once on an empty database: all must
// come up, with the schema applied exactly once.
func TestMigrations(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	const replicas = 4
	dbs := make([]*DB, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			dbs[i], errs[i] = Open(ctx, url)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		v, err := dbs[i].SchemaVersion(ctx)
		if err != nil || v != len(migrations) {
			t.Fatalf("replica %d: schema version %d, want %d (%v)", i, v, len(migrations), err)
		}
	}
	applied := func(db *DB) (n int, last int64) {
		t.Helper()
		if err := db.pool.QueryRow(ctx, `SELECT count(*), max(applied_at) FROM schema_migrations`).Scan(&n, &last); err != nil {
			t.Fatal(err)
		}
		return n, last
	}
	n, last := applied(dbs[0])
	if n != len(migrations) {
		t.Fatalf("%d migrations recorded, want %d", n, len(migrations))
	}
	if _, err := dbs[0].CreateRecording(ctx, catalogtest.Rec(1, 110, "4977")); err != nil {
		t.Fatal(err)
	}
	for _, db := range dbs {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// Reopening applies nothing again and keeps the data.
	db := openURL(t, url)
	if n2, last2 := applied(db); n2 != n || last2 != last {
		t.Fatalf("reopen changed schema_migrations: %d rows, last %d; was %d, %d", n2, last2, n, last)
	}
	if _, err := db.Recording(ctx, "rec0001"); err != nil {
		t.Fatalf("data lost on reopen: %v", err)
	}

	// A database from a newer binary is refused rather than misread.
	if _, err := db.pool.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, url)
	if err == nil || !strings.Contains(err.Error(), "newer") || !strings.HasPrefix(err.Error(), "catalog postgres://") {
		t.Fatalf("newer schema accepted or unclear: %v", err)
	}
	t.Log(err)
}

// TestOpenErrors gives Open bad URLs: each must fail at once with one line
// that says what is wrong, without the password.
func TestOpenErrors(t *testing.T) {
	good, err := neturl.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	const pw = "s3cret-Passw0rd"
	with := func(user, host, db string) string {
		u := *good
		u.User = neturl.UserPassword(user, pw)
		u.Host, u.Path = host, "/"+db
		return u.String()
	}
	// A loopback port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	user := good.User.Username()
	for _, tc := range []struct {
		name, url string
		want      []string
	}{
		{"malformed port", "postgres://" + user + ":" + pw + "@127.0.0.1:notaport/db", []string{"catalog", "invalid URL"}},
		{"malformed escape", "postgres://" + user + ":" + pw + "%zz@127.0.0.1/db", []string{"invalid URL"}},
		{"bad option", with(user, good.Host, "db") + "&sslmode=sometimes", []string{"catalog postgres://" + user + "@" + good.Host + "/db: invalid URL", "sslmode"}},
		{"keyword/value", "host=127.0.0.1 password=" + pw + " port=nope", []string{"catalog: invalid URL"}},
		{"unreachable", with(user, closed, "db"), []string{"catalog postgres://" + user + "@" + closed + "/db: cannot connect", "refused"}},
		{"missing database", with(user, good.Host, "no_such_db"), []string{"database does not exist", "no_such_db"}},
		{"unknown role", with("no_such_role", good.Host, "postgres"), []string{"catalog postgres://no_such_role@", "authentication failed", "no_such_role"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			began := time.Now()
			db, err := Open(ctx, tc.url)
			if err == nil {
				db.Close()
				t.Fatal("opened")
			}
			msg := err.Error()
			t.Logf("%s (%v)", msg, time.Since(began).Round(time.Millisecond))
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not say %q", w)
				}
			}
			if strings.Contains(msg, pw) || strings.Contains(msg, "Passw0rd") {
				t.Errorf("error shows the password")
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line")
			}
		})
	}
}

func TestCursorCompatible(t *testing.T) {
	// The SQLite catalog's encoding: base64url("<nanos>:<id>").
	if got, want := cursor.Encode(1767258000000000000, "rec0001"), "MTc2NzI1ODAwMDAwMDAwMDAwMDpyZWMwMDAx"; got != want {
		t.Fatalf("cursor %s, want %s", got, want)
	}
	at, id, err := cursor.Decode(cursor.Encode(-5, "a:b"))
	if err != nil || at != -5 || id != "a:b" {
		t.Fatalf("round trip: %d %q %v", at, id, err)
	}
	for _, bad := range []string{"!!", "bm9jb2xvbg", "eDph"} { // "nocolon", "x:a"
		if _, _, err := cursor.Decode(bad); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestTextPostgreSQLCannotStore: lookups by such text find nothing (as in
// SQLite), writes of it are EINVALID, and the audit trail keeps the event.
func TestTextPostgreSQLCannotStore(t *testing.T) {
	ctx := context.Background()
	db := openURL(t, pgtest.URL(t))
	bad := "x\xff\x00y"
	if _, err := db.UserByLogin(ctx, bad); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Errorf("lookup: %v", err)
	}
	if _, err := db.Recording(ctx, bad); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Errorf("recording lookup: %v", err)
	}
	if recs, _, err := db.FindRecordings(ctx, recvault.RecordingFilter{Scope: recvault.Scope{All: true}, CallID: bad}); err != nil || len(recs) != 0 {
		t.Errorf("find: %v %v", recs, err)
	}
	if err := db.CreateUser(ctx, &recvault.User{Login: "u\xff", Role: recvault.RoleAdmin}); recvault.ErrorCode(err) != recvault.EINVALID {
		t.Errorf("create: %v", err)
	}
	if err := db.AppendAudit(ctx, []*recvault.AuditEvent{{Actor: "a", Action: "download", Detail: bad, Outcome: "denied"}}); err != nil {
		t.Fatalf("audit: %v", err)
	}
	ev, err := db.Audit(ctx, 1)
	if err != nil || len(ev) != 1 || ev[0].Detail != "x\uFFFD\uFFFDy" {
		t.Fatalf("audit: %+v %v", ev, err)
	}
}

func TestDescribe(t *testing.T) {
	for _, url := range []string{
		"postgres://u:pw@db.example.com:6543/vault?sslmode=disable",
		"host=db.example.com port=6543 user=u password=pw dbname=vault sslmode=disable",
	} {
		if err := parseCheck(url, "postgres://u@db.example.com:"+strconv.Itoa(6543)+"/vault"); err != "" {
			t.Error(err)
		}
	}
}

func parseCheck(url, want string) string {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return err.Error()
	}
	if got := describe(cfg); got != want {
		return "describe(" + url + ") = " + got + ", want " + want
	}
	return ""
}

// TestAuditBackfill upgrades a catalogue of schema 10 whose audit already
// holds listings: migration 11 must index their recording ids, so that
// FindAudit still finds every record about a recording.
func TestAuditBackfill(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 10; v++ {
		if _, err := conn.Exec(ctx, migrations[v-1]); err != nil {
			t.Fatalf("migration %d: %v", v, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, 0)`, v); err != nil {
			t.Fatal(err)
		}
	}
	for i, ids := range []string{"a b c", "c", "", "bb a"} {
		if _, err := conn.Exec(ctx, `INSERT INTO audit (seq, at, actor, action, recording_id, recording_ids, outcome, detail, remote, request_id, via)
			VALUES ($1, $2, 'u', 'list', '', $3, 'granted', '', '', '', 'v1')`, i+1, i+1, ids); err != nil {
			t.Fatal(err)
		}
	}
	db := openURL(t, url)
	for id, want := range map[string]int{"a": 2, "b": 1, "bb": 1, "c": 2, "d": 0} {
		got, _, err := db.FindAudit(ctx, recvault.AuditFilter{RecordingID: id})
		if err != nil || len(got) != want {
			t.Errorf("records about %s: %d, want %d (%v)", id, len(got), want, err)
		}
	}
}

// TestMergedScopeSettingEnds: the generic-plan setting a listing of
// several campaigns runs under ends with that listing; the connection
// goes back to the pool planning as before, and the page is right.
func TestMergedScopeSettingEnds(t *testing.T) {
	ctx := context.Background()
	db := openURL(t, withParam(pgtest.URL(t), "pool_max_conns=1")) // every query on one connection
	for i := range 6 {
		if _, err := db.CreateRecording(ctx, catalogtest.Rec(i, int64(110+i%3), "4977")); err != nil {
			t.Fatal(err)
		}
	}
	recs, _, err := db.FindRecordings(ctx, recvault.RecordingFilter{Scope: recvault.Scope{Campaigns: []int64{110, 111}}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("campaigns 110 and 111: %d recordings, want 4", len(recs))
	}
	var mode string
	if err := db.pool.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "auto" {
		t.Fatalf("plan_cache_mode after the listing: %q, want auto", mode)
	}
}

// BenchmarkAppendAudit: catalogtest.BenchAppendAudit on PostgreSQL.
// ns/op is the wall time per record: the client's work, the server's
// inserts into the table and its indexes, and the round trips;
// cpu-ns/record is the client's share. The test server runs without
// fsync, so the figure is the index and protocol work, not the disk's.
func BenchmarkAppendAudit(b *testing.B) {
	db, err := Open(context.Background(), pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Error(err)
		}
	})
	catalogtest.BenchAppendAudit(b, db)
}
