package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/catalog/cached"
)

// staleAtMost polls ok, called just after a change another process made,
// and fails unless it holds once the catalogue cache's TTL has passed:
// the bound the README promises. Every row cached before the change was
// read before it, so any check made a TTL after the change must see it;
// no slack is needed, and a slow machine cannot make the test fail.
func staleAtMost(t *testing.T, what string, ok func() bool) {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) >= cached.DefaultTTL {
			if ok() {
				return
			}
			t.Fatalf("%s: not so %v after the change (TTL %v)", what, time.Since(start).Round(time.Millisecond), cached.DefaultTTL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCacheInvalidation: the server caches sessions, users and recordings
// (catalog/cached). A logout or deletion through the server takes effect
// at once; a user disabled by the CLI, a supervisor's campaigns or role
// changed and a recording deleted by another process take effect within
// the TTL; nothing is served from a row the server itself changed.
func TestCacheInvalidation(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	rec := env.recordingID(110, "d741-6904fad1-vce-daf-638729")
	path := "/api/v1/recordings/" + rec.ID
	get := func(tok string) int {
		resp, _ := env.do("GET", path, tok, nil)
		return resp.StatusCode
	}

	// Logout on this server: refused at once, though the session was just
	// served from the cache.
	tok := env.loginDemo("supervisor@exotel.in")
	for range 3 {
		if code := get(tok); code != 200 {
			t.Fatalf("supervisor reads campaign 110: %d", code)
		}
	}
	if resp, _ := env.do("DELETE", "/api/v1/sessions/current", tok, nil); resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if code := get(tok); code != 401 {
		t.Fatalf("logged-out token right after logout: %d, want 401", code)
	}

	// Campaigns changed by another process (here the catalogue itself,
	// not the server's cache).
	tok = env.loginDemo("supervisor@exotel.in")
	if code := get(tok); code != 200 {
		t.Fatalf("before the change: %d", code)
	}
	u, err := env.app.cat.UserByLogin(ctx, "supervisor@exotel.in")
	if err != nil {
		t.Fatal(err)
	}
	u.Campaigns = []int64{120}
	if err := env.app.cat.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	staleAtMost(t, "campaign 110 taken from the supervisor", func() bool { return get(tok) == 404 })
	u.Campaigns = []int64{110}
	if err := env.app.cat.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	staleAtMost(t, "campaign 110 given back", func() bool { return get(tok) == 200 })

	// Role changed elsewhere: an inspector of nobody sees nothing.
	u.Role, u.Campaigns, u.Inspects = recvault.RoleInspector, nil, []string{"nobody"}
	if err := env.app.cat.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	staleAtMost(t, "supervisor made an inspector of nobody", func() bool { return get(tok) == 404 })
	u.Role, u.Campaigns, u.Inspects = recvault.RoleSupervisor, []int64{110}, nil
	if err := env.app.cat.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	staleAtMost(t, "made a supervisor again", func() bool { return get(tok) == 200 })

	// Disabled by the CLI (its own process state, its own catalogue).
	if code, out, errs := runCLI(t, "", "user", "disable", "--login", "supervisor@exotel.in", "--data", env.dir); code != 0 {
		t.Fatalf("user disable: %d %s%s", code, out, errs)
	}
	staleAtMost(t, "disabled user's token refused", func() bool { return get(tok) == 401 })
	if code, out, errs := runCLI(t, "", "user", "enable", "--login", "supervisor@exotel.in", "--data", env.dir); code != 0 {
		t.Fatalf("user enable: %d %s%s", code, out, errs)
	}

	// A recording deleted by the CLI while the server has it cached.
	admin := env.loginDemo("admin")
	if resp, _ := env.do("GET", path, admin, nil); resp.StatusCode != 200 {
		t.Fatalf("admin reads the recording: %d", resp.StatusCode)
	}
	if code, out, errs := runCLI(t, "", "delete", "--recording", rec.ID, "--reason", "cache test", "--data", env.dir); code != 0 {
		t.Fatalf("delete: %d %s%s", code, out, errs)
	}
	staleAtMost(t, "recording deleted by the CLI answers not found", func() bool {
		resp, _ := env.do("GET", path+"/media", admin, nil)
		return resp.StatusCode == 404
	})
}

// TestCachedRowAfterMigration: a blob migration by another process moves
// a recording the server has cached to a new blob key and deletes the old
// blob; the server's very next download still succeeds, byte-identical
// (a missing blob makes it re-read the row).
func TestCachedRowAfterMigration(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	src := wavPCM16(8000*3, 4)
	rec, _, err := env.app.svc.Ingest(ctx, nil, ingestReq(110, "cache-mig"), bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	env.replaceBlob(rec.BlobKey, nil)                                                  // drop the sealed blob ...
	if _, err := env.app.raw.Put(ctx, rec.BlobKey, bytes.NewReader(src)); err != nil { // ... for a plain one
		t.Fatal(err)
	}
	admin := env.loginDemo("admin")
	path := "/api/v1/recordings/" + rec.ID + "/media"
	if ok, body := env.fetchOK(path, "Authorization", "Bearer "+admin); !ok || !bytes.Equal(body, src) {
		t.Fatal("plain blob before the migration")
	}
	if code, out, errs := runCLI(t, "", "migrate-blobs", "--data", env.dir); code != 0 || !strings.Contains(out, "1 migrated") {
		t.Fatalf("migrate-blobs: %d %s%s", code, out, errs)
	}
	if ok, body := env.fetchOK(path, "Authorization", "Bearer "+admin); !ok || !bytes.Equal(body, src) {
		t.Fatalf("download right after another process migrated the blob: ok=%v, %d bytes", ok, len(body))
	}
}
