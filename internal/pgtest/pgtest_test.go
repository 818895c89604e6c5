package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestURL checks that every call gives a database of its own, empty and
// usable, on the one server of the test binary.
func TestURL(t *testing.T) {
	ctx := context.Background()
	a, b := URL(t), URL(t)
	if a == b {
		t.Fatalf("two calls gave the same database %s", a)
	}
	for _, u := range []string{a, b} {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var tables int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("%s: new database has %d tables", u, tables)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE t (x int)`); err != nil {
			t.Errorf("%s: %v", u, err)
		}
		if err := conn.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if srv.external {
		return
	}
	if fi, err := os.Stat(srv.dir); err != nil || !fi.IsDir() {
		t.Fatalf("server dir %s: %v", srv.dir, err)
	}
}
