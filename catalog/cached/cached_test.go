package cached_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/catalog/cached"
	"github.com/recvault/recvault/catalog/catalogtest"
	"github.com/recvault/recvault/catalog/sqlite"
)

func openSQLite(t *testing.T) recvault.Catalog {
	t.Helper()
	c, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCatalogSuite: the cache in front of SQLite is a catalogue like any
// other — every change through it is visible at once.
func TestCatalogSuite(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) recvault.Catalog { return cached.New(openSQLite(t), 0) })
}

// TestOtherProcessChangesSeenWithinTTL: changes made behind the cache's
// back (another replica, a CLI command) are served stale for at most the
// TTL, changes made through it never; a returned row changed by its caller
// does not change the cache.
func TestOtherProcessChangesSeenWithinTTL(t *testing.T) {
	ctx := context.Background()
	raw := openSQLite(t)
	const ttl = 200 * time.Millisecond
	c := cached.New(raw, ttl)
	u := &recvault.User{Login: "sup@example.com", Role: recvault.RoleSupervisor, Campaigns: []int64{110}, PasswordHash: "x", CreatedAt: time.Now()}
	if err := raw.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s := &recvault.Session{TokenHash: "h1", UserID: u.ID, Kind: "v1", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	if err := raw.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := c.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	got.Role = recvault.RoleAdmin // the caller's copy only
	if _, err := c.SessionByTokenHash(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	// Behind the cache's back: another process changes the role and ends
	// the session.
	changed := *u
	changed.Campaigns = []int64{120}
	if err := raw.UpdateUser(ctx, &changed); err != nil {
		t.Fatal(err)
	}
	if err := raw.DeleteSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	// Both rows were cached before the change, so once a TTL has passed
	// since it every read must see it (a bound with no slack, which a slow
	// machine cannot break); before that, a read may be stale.
	start := time.Now()
	for {
		late := time.Since(start) >= ttl // taken before the reads
		cu, uerr := c.UserByID(ctx, u.ID)
		_, serr := c.SessionByTokenHash(ctx, "h1")
		if uerr != nil {
			t.Fatal(uerr)
		}
		if cu.Role != recvault.RoleSupervisor {
			t.Fatal("a caller's change to a returned user reached the cache")
		}
		if len(cu.Campaigns) == 1 && cu.Campaigns[0] == 120 && recvault.ErrorCode(serr) == recvault.ENOTFOUND {
			break
		}
		if late {
			t.Fatalf("a change behind the cache still not seen %v after it (TTL %v)", time.Since(start), ttl)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Through the cache: at once, even with a long TTL.
	c = cached.New(raw, time.Hour)
	s2 := &recvault.Session{TokenHash: "h2", UserID: u.ID, Kind: "v1", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	if err := c.CreateSession(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SessionByTokenHash(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UserByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	changed.Disabled = true
	if err := c.UpdateUser(ctx, &changed); err != nil {
		t.Fatal(err)
	}
	if cu, err := c.UserByID(ctx, u.ID); err != nil || !cu.Disabled {
		t.Fatalf("disabled through the cache, still served enabled: %+v %v", cu, err)
	}
	if err := c.DeleteUserSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SessionByTokenHash(ctx, "h2"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("session ended through the cache still served: %v", err)
	}
}

// TestIdentityAfterDelete: a recording cached by identity and deleted
// through the cache is not found by identity at once, and a new recording
// under the same identity is found, not the old one.
func TestIdentityAfterDelete(t *testing.T) {
	ctx := context.Background()
	c := cached.New(openSQLite(t), time.Hour)
	r := catalogtest.Rec(1, 110, "4977")
	if _, err := c.CreateRecording(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := c.RecordingByIdentity(ctx, r.CampaignID, r.CRTObjectID); err != nil || got.ID != r.ID {
		t.Fatalf("by identity: %+v %v", got, err)
	}
	if _, err := c.BeginDelete(ctx, r.ID, "admin", "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecordingByIdentity(ctx, r.CampaignID, r.CRTObjectID); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("deleted recording by identity: %v, want ENOTFOUND", err)
	}
	again := catalogtest.Rec(1, 110, "4977")
	again.ID, again.BlobKey = "again", "2026/again"
	if _, err := c.CreateRecording(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got, err := c.RecordingByIdentity(ctx, r.CampaignID, r.CRTObjectID); err != nil || got.ID != "again" {
		t.Fatalf("new recording under the old identity: %+v %v", got, err)
	}
}
