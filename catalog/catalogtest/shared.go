package catalogtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

// race runs f n times at once and returns how many calls reported true.
// The catalog is shared state of every replica: each of these operations
// must let exactly one of several concurrent callers win.
func race(t *testing.T, n int, f func(i int) (bool, error)) int {
	t.Helper()
	var wins atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			ok, err := f(i)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				wins.Add(1)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent call: %v", err)
	}
	return int(wins.Load())
}

func testPendingBlobs(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	key := "2026/01/01/pending"
	if err := c.BeginBlob(ctx, key, base); err != nil {
		t.Fatal(err)
	}
	if used, err := c.BlobInUse(ctx, key, base.Add(-time.Hour)); err != nil || !used {
		t.Fatalf("blob being written not in use: %v %v", used, err)
	}
	// A mark older than the cut-off is a crashed write: no longer protects.
	if used, err := c.BlobInUse(ctx, key, base.Add(time.Hour)); err != nil || used {
		t.Fatalf("stale mark still protects the blob: %v %v", used, err)
	}
	if err := c.BeginBlob(ctx, key, base.Add(2*time.Hour)); err != nil {
		t.Fatalf("begin again: %v", err)
	}
	if used, _ := c.BlobInUse(ctx, key, base.Add(time.Hour)); !used {
		t.Fatal("renewed mark does not protect")
	}
	if err := c.EndBlob(ctx, key); err != nil {
		t.Fatal(err)
	}
	if used, err := c.BlobInUse(ctx, key, base.Add(-time.Hour)); err != nil || used {
		t.Fatalf("ended write still in use: %v %v", used, err)
	}
	if err := c.EndBlob(ctx, "never/begun"); err != nil {
		t.Fatalf("end of unknown key: %v", err)
	}
}

func testRotate(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	u := &recvault.User{Login: "r", Role: recvault.RoleAgent, AgentID: "4977", CreatedAt: base}
	if err := c.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	old := &recvault.Session{TokenHash: "old", UserID: u.ID, Kind: "ccgw", CreatedAt: base, LastSeen: base,
		ExpiresAt: base.Add(12 * time.Hour), Idle: 2 * time.Minute}
	if err := c.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	until := base.Add(2 * time.Minute)
	succs := make([]*recvault.Session, 8)
	wins := race(t, len(succs), func(i int) (bool, error) {
		succs[i] = &recvault.Session{TokenHash: fmt.Sprintf("new%d", i), UserID: u.ID, Kind: "ccgw",
			CreatedAt: base.Add(time.Minute), LastSeen: base.Add(time.Minute), ExpiresAt: base.Add(13 * time.Hour), Idle: 2 * time.Minute}
		return c.RotateSession(ctx, old.ID, old.ExpiresAt, until, succs[i])
	})
	if wins != 1 {
		t.Fatalf("%d concurrent rotations won, want exactly 1", wins)
	}
	all, err := c.UserSessions(ctx, u.ID)
	if err != nil || len(all) != 2 {
		t.Fatalf("after rotation %d sessions (%v), want the old one and one successor", len(all), err)
	}
	got, err := c.SessionByTokenHash(ctx, "old")
	if err != nil || !got.ExpiresAt.Equal(until) {
		t.Fatalf("old session: %+v %v; want expiry %v", got, err, until)
	}
	for _, s := range succs {
		if s.ID == 0 {
			continue
		}
		n, err := c.SessionByTokenHash(ctx, s.TokenHash)
		if err != nil || n.ID != s.ID || n.Kind != "ccgw" || n.Idle != 2*time.Minute || !n.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("successor: %+v %v", n, err)
		}
	}
	// A rotation that read an expiry since changed does nothing.
	late := &recvault.Session{TokenHash: "late", UserID: u.ID, Kind: "ccgw", CreatedAt: base, LastSeen: base, ExpiresAt: base.Add(time.Hour)}
	if ok, err := c.RotateSession(ctx, old.ID, old.ExpiresAt, until, late); err != nil || ok {
		t.Fatalf("stale rotation: %v %v", ok, err)
	}
	if _, err := c.SessionByTokenHash(ctx, "late"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("stale rotation stored a session: %v", err)
	}
}

func testGrants(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	g := &recvault.Grant{Hash: "g1", Kind: "ccgw-quality", UserID: 7, AgentID: "4977", RecordingID: "rec1",
		CreatedAt: base, ExpiresAt: base.Add(time.Minute)}
	if err := c.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateGrant(ctx, g); recvault.ErrorCode(err) != recvault.ECONFLICT {
		t.Fatalf("duplicate grant: %v", err)
	}
	// Another agent cannot take it, and its try does not use it up.
	if _, err := c.TakeGrant(ctx, "g1", "5001", base); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("other agent took the grant: %v", err)
	}
	var mu sync.Mutex
	var got *recvault.Grant
	wins := race(t, 8, func(int) (bool, error) {
		tg, err := c.TakeGrant(ctx, "g1", "4977", base.Add(time.Second))
		if recvault.ErrorCode(err) == recvault.ENOTFOUND {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		mu.Lock()
		got = tg
		mu.Unlock()
		return true, nil
	})
	if wins != 1 {
		t.Fatalf("grant taken %d times, want exactly once", wins)
	}
	if got.UserID != 7 || got.RecordingID != "rec1" || got.Kind != "ccgw-quality" || !got.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("taken grant: %+v", got)
	}
	// Expired: refused.
	c.CreateGrant(ctx, &recvault.Grant{Hash: "g2", Kind: "ccgw-quality", UserID: 7, AgentID: "4977", RecordingID: "rec1",
		CreatedAt: base, ExpiresAt: base.Add(time.Minute)})
	if _, err := c.TakeGrant(ctx, "g2", "4977", base.Add(time.Minute)); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("expired grant taken: %v", err)
	}
	if _, err := c.TakeGrant(ctx, "unknown", "4977", base); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("unknown grant: %v", err)
	}
	// Making a grant drops the expired ones.
	c.CreateGrant(ctx, &recvault.Grant{Hash: "g3", Kind: "k", AgentID: "1", CreatedAt: base, ExpiresAt: base.Add(time.Second)})
	c.CreateGrant(ctx, &recvault.Grant{Hash: "g4", Kind: "k", AgentID: "1", CreatedAt: base.Add(time.Hour), ExpiresAt: base.Add(2 * time.Hour)})
	if _, err := c.TakeGrant(ctx, "g3", "1", base); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("expired grant kept: %v", err)
	}
}

func testLeases(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	wins := race(t, 8, func(i int) (bool, error) {
		return c.AcquireLease(ctx, "sweep", fmt.Sprintf("replica-%d", i), base, base.Add(time.Minute))
	})
	if wins != 1 {
		t.Fatalf("lease taken by %d holders at once, want 1", wins)
	}
	if ok, err := c.AcquireLease(ctx, "other", "a", base, base.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("independent lease: %v %v", ok, err)
	}
	if ok, _ := c.AcquireLease(ctx, "other", "b", base.Add(30*time.Second), base.Add(2*time.Minute)); ok {
		t.Fatal("held lease taken by another holder")
	}
	if ok, _ := c.AcquireLease(ctx, "other", "a", base.Add(30*time.Second), base.Add(2*time.Minute)); !ok {
		t.Fatal("holder cannot renew its lease")
	}
	if ok, _ := c.AcquireLease(ctx, "other", "b", base.Add(time.Minute), base.Add(3*time.Minute)); ok {
		t.Fatal("renewed lease taken before its new expiry")
	}
	if ok, _ := c.AcquireLease(ctx, "other", "b", base.Add(2*time.Minute), base.Add(3*time.Minute)); !ok {
		t.Fatal("expired lease not taken over")
	}
	if err := c.ReleaseLease(ctx, "other", "a"); err != nil { // no longer a's: no effect
		t.Fatal(err)
	}
	if ok, _ := c.AcquireLease(ctx, "other", "c", base.Add(2*time.Minute), base.Add(3*time.Minute)); ok {
		t.Fatal("a released b's lease")
	}
	if err := c.ReleaseLease(ctx, "other", "b"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.AcquireLease(ctx, "other", "c", base.Add(2*time.Minute), base.Add(3*time.Minute)); !ok {
		t.Fatal("released lease not free")
	}
	// Expiry: "sweep" ends at base+1m, "other" at base+3m.
	if n, err := c.ExpireLeases(ctx, base.Add(time.Minute-time.Second)); err != nil || n != 0 {
		t.Fatalf("expire before any lease ended: %d, %v", n, err)
	}
	if n, err := c.ExpireLeases(ctx, base.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("expire after one lease ended: %d, %v; want 1", n, err)
	}
	if ok, _ := c.AcquireLease(ctx, "other", "d", base.Add(2*time.Minute), base.Add(4*time.Minute)); ok {
		t.Fatal("expiring others removed a live lease")
	}
	if ok, _ := c.AcquireLease(ctx, "sweep", "new", base.Add(2*time.Minute), base.Add(4*time.Minute)); !ok {
		t.Fatal("an expired-and-removed lease cannot be taken")
	}
}

func testSettings(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	vals := make([]string, 8)
	race(t, len(vals), func(i int) (bool, error) {
		v, err := c.EnsureSetting(ctx, "ameyo.prefix", fmt.Sprintf("value-%d", i))
		vals[i] = v
		return true, err
	})
	for _, v := range vals {
		if v != vals[0] || v == "" {
			t.Fatalf("replicas disagree on a setting: %q", vals)
		}
	}
	if v, err := c.EnsureSetting(ctx, "ameyo.prefix", "later"); err != nil || v != vals[0] {
		t.Fatalf("setting replaced: %q %v", v, err)
	}
}
