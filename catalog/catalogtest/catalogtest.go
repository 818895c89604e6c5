// Package catalogtest is the behaviour every recvault.Catalog must have,
// as one test suite that each implementation (SQLite, PostgreSQL) runs.
package catalogtest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

// Run runs the suite; open returns a fresh, empty catalog.
func Run(t *testing.T, open func(t *testing.T) recvault.Catalog) {
	t.Run("RecordingIdentity", func(t *testing.T) { testIdentity(t, open(t)) })
	t.Run("FindScopeFiltersCursor", func(t *testing.T) { testFind(t, open(t)) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("AuditChainRoundTrip", func(t *testing.T) { testAuditChain(t, open(t)) })
	t.Run("AuditConcurrentBatches", func(t *testing.T) { testAuditConcurrent(t, open(t)) })
	t.Run("FindAuditFiltersCursor", func(t *testing.T) { testFindAudit(t, open(t)) })
	t.Run("FindAuditByEventTime", func(t *testing.T) { testFindAuditByTime(t, open(t)) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, open(t)) })
	t.Run("PendingBlobs", func(t *testing.T) { testPendingBlobs(t, open(t)) })
	t.Run("RotateSessionOnce", func(t *testing.T) { testRotate(t, open(t)) })
	t.Run("GrantsSingleUse", func(t *testing.T) { testGrants(t, open(t)) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, open(t)) })
	t.Run("Settings", func(t *testing.T) { testSettings(t, open(t)) })
	t.Run("LoginThrottle", func(t *testing.T) { testLoginThrottle(t, open(t)) })
	t.Run("RetentionHoldsTombstones", func(t *testing.T) { testRetention(t, open(t)) })
	t.Run("DataKeys", func(t *testing.T) { testDataKeys(t, open(t)) })
	t.Run("ReplaceBlob", func(t *testing.T) { testReplaceBlob(t, open(t)) })
	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

var base = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// Rec returns a valid recording for tests.
func Rec(i int, campaign int64, agent string) *recvault.Recording {
	return &recvault.Recording{
		ID: fmt.Sprintf("rec%04d", i), CampaignID: campaign, CRTObjectID: fmt.Sprintf("crt-%d", i),
		CallID: fmt.Sprintf("call-%d", i), AgentID: agent, Kind: recvault.KindVoice,
		Format:    recvault.MediaFormat{Container: "wav", Codec: "alaw", SampleRate: 8000, Channels: 2, AgentChannel: 0, CustomerChannel: 1, DataOffset: 58, DataSize: 984},
		StartedAt: base.Add(time.Duration(i) * time.Minute), Duration: 61500 * time.Millisecond, Size: 1000 + int64(i),
		SHA256: fmt.Sprintf("%064d", i), BlobKey: fmt.Sprintf("2026/01/01/rec%04d", i),
		OriginalPath: fmt.Sprintf("Y:/90/0/20260101/%s/%d.V3", agent, i), CreatedAt: base,
	}
}

func testIdentity(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	r := Rec(1, 110, "4977")
	if ex, err := c.CreateRecording(ctx, r); err != nil || ex != nil {
		t.Fatalf("create: %v %v", ex, err)
	}
	got, err := c.Recording(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}
	if got.DataKey != nil {
		t.Fatalf("recording stored without a data key reads back with %x", got.DataKey)
	}
	if used, err := c.BlobInUse(ctx, r.BlobKey, base); err != nil || !used {
		t.Fatalf("blob of a recording not referenced: %v %v", used, err)
	}
	if used, err := c.BlobInUse(ctx, "2026/01/01/none", base); err != nil || used {
		t.Fatalf("unknown blob referenced: %v %v", used, err)
	}
	if got, err := c.RecordingByIdentity(ctx, 110, "crt-1"); err != nil || got.ID != r.ID {
		t.Fatalf("by identity: %v %v", got, err)
	}
	dup := Rec(2, 110, "4977")
	dup.CRTObjectID = "crt-1"
	ex, err := c.CreateRecording(ctx, dup)
	if recvault.ErrorCode(err) != recvault.ECONFLICT || ex == nil || ex.ID != r.ID {
		t.Fatalf("duplicate identity: %v %v", ex, err)
	}
	// Same crt in another campaign is another recording.
	other := Rec(3, 111, "4977")
	other.CRTObjectID = "crt-1"
	if _, err := c.CreateRecording(ctx, other); err != nil {
		t.Fatalf("same crt, other campaign: %v", err)
	}
	if _, err := c.Recording(ctx, "nope"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("missing: %v", err)
	}
	if _, err := c.RecordingByIdentity(ctx, 110, "nope"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("missing identity: %v", err)
	}
}

// testDataKeys checks that a recording's wrapped data key round-trips,
// that SetDataKey replaces it (what a master key rotation does) and that
// RecordingsWithDataKeys pages, by id, through exactly the keyed rows.
func testDataKeys(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	var keyed []string
	for i := range 7 {
		r := Rec(i, 110, "4977")
		if i%3 != 0 {
			r.DataKey = []byte(fmt.Sprintf("\x01\x02k1wrapped-%d\x00\xff", i))
			keyed = append(keyed, r.ID)
		}
		if _, err := c.CreateRecording(ctx, r); err != nil {
			t.Fatal(err)
		}
		got, err := c.Recording(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
	var seen []string
	after := ""
	for page := 0; ; page++ {
		recs, err := c.RecordingsWithDataKeys(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		if page > 10 {
			t.Fatal("paging does not end")
		}
		for _, r := range recs {
			if len(r.DataKey) == 0 {
				t.Fatalf("%s listed without a data key", r.ID)
			}
			seen = append(seen, r.ID)
		}
		after = recs[len(recs)-1].ID
	}
	if !reflect.DeepEqual(seen, keyed) {
		t.Fatalf("recordings with data keys %v, want %v (by id)", seen, keyed)
	}
	nk := []byte("\x01\x02k2rewrapped")
	if err := c.SetDataKey(ctx, keyed[0], nk); err != nil {
		t.Fatal(err)
	}
	got, err := c.Recording(ctx, keyed[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.DataKey, nk) {
		t.Fatalf("after SetDataKey: %q, want %q", got.DataKey, nk)
	}
	if err := c.SetDataKey(ctx, "nope", nk); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("SetDataKey of a missing recording: %v", err)
	}
	// A recording's key goes with its row: deleting it must not leave the
	// key anywhere a listing finds it.
	if _, err := c.BeginDelete(ctx, keyed[0], "admin", "test", base); err != nil {
		t.Fatal(err)
	}
	recs, err := c.RecordingsWithDataKeys(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(keyed)-1 || recs[0].ID != keyed[1] {
		t.Fatalf("after deleting %s: %d keyed recordings, first %v", keyed[0], len(recs), recs)
	}
}

func testFind(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	agents := []string{"4977", "5001", "5002"}
	for i := 0; i < 30; i++ {
		if _, err := c.CreateRecording(ctx, Rec(i, int64(110+i%2), agents[i%3])); err != nil {
			t.Fatal(err)
		}
	}
	all := recvault.Scope{All: true}
	// Walk every page: newest first, nothing twice, nothing missed.
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		recs, next, err := c.FindRecordings(ctx, recvault.RecordingFilter{Scope: all, Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if next == "" {
			break
		}
		if page > 10 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	if len(ids) != 30 {
		t.Fatalf("pages held %d recordings, want 30", len(ids))
	}
	for i, id := range ids {
		if want := fmt.Sprintf("rec%04d", 29-i); id != want {
			t.Fatalf("position %d: %s, want %s (newest first)", i, id, want)
		}
	}
	// Scopes of several campaigns and agents, overlapping and repeated
	// (a catalogue may list each value separately): every page newest
	// first, nothing twice, nothing missed, across the cursor.
	for _, sc := range []struct {
		scope recvault.Scope
		want  int
	}{
		{recvault.Scope{Campaigns: []int64{110, 111, 110}}, 30},
		{recvault.Scope{Campaigns: []int64{110}, AgentIDs: []string{"5001", "5001"}}, 20},
		{recvault.Scope{AgentIDs: []string{"4977", "5002"}}, 20},
		// Three values and five: not a power of two (a catalogue may
		// round the branches up), one of them matching nothing.
		{recvault.Scope{AgentIDs: []string{"4977", "5001", "5002"}}, 30},
		{recvault.Scope{Campaigns: []int64{110, 112, 111}, AgentIDs: []string{"5002", "9999"}}, 30},
	} {
		var got []*recvault.Recording
		cursor := ""
		for page := 0; ; page++ {
			recs, next, err := c.FindRecordings(ctx, recvault.RecordingFilter{Scope: sc.scope, Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, recs...)
			if next == "" {
				break
			}
			if page > 20 {
				t.Fatal("pagination does not end")
			}
			cursor = next
		}
		if len(got) != sc.want {
			t.Fatalf("scope %+v: pages held %d recordings, want %d", sc.scope, len(got), sc.want)
		}
		for i, r := range got {
			if !sc.scope.Allows(r) {
				t.Fatalf("scope %+v: out of scope: %+v", sc.scope, r)
			}
			if i > 0 && got[i-1].ID <= r.ID {
				t.Fatalf("scope %+v: %s after %s (not newest first, or twice)", sc.scope, r.ID, got[i-1].ID)
			}
		}
	}
	count := func(f recvault.RecordingFilter) int {
		t.Helper()
		f.Limit = 1000
		recs, _, err := c.FindRecordings(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if !f.Scope.Allows(r) {
				t.Fatalf("out of scope: %+v", r)
			}
		}
		return len(recs)
	}
	cases := []struct {
		name string
		f    recvault.RecordingFilter
		want int
	}{
		{"empty scope sees nothing", recvault.RecordingFilter{}, 0},
		{"campaign scope", recvault.RecordingFilter{Scope: recvault.Scope{Campaigns: []int64{110}}}, 15},
		{"agent scope", recvault.RecordingFilter{Scope: recvault.Scope{AgentIDs: []string{"4977"}}}, 10},
		{"two agents", recvault.RecordingFilter{Scope: recvault.Scope{AgentIDs: []string{"4977", "5001"}}}, 20},
		{"campaign or agent", recvault.RecordingFilter{Scope: recvault.Scope{Campaigns: []int64{110}, AgentIDs: []string{"5001"}}}, 20},
		// A filter within a scope of several values applies to every one.
		{"two agents, from", recvault.RecordingFilter{Scope: recvault.Scope{AgentIDs: []string{"4977", "5001"}}, From: base.Add(20 * time.Minute)}, 6},
		{"campaign or agent, from to", recvault.RecordingFilter{Scope: recvault.Scope{Campaigns: []int64{110}, AgentIDs: []string{"5001"}},
			From: base.Add(5 * time.Minute), To: base.Add(10 * time.Minute)}, 3},
		{"filter campaign", recvault.RecordingFilter{Scope: all, CampaignID: 111}, 15},
		{"filter agent within scope", recvault.RecordingFilter{Scope: recvault.Scope{Campaigns: []int64{110}}, AgentID: "5001"}, 5},
		{"filter call", recvault.RecordingFilter{Scope: all, CallID: "call-7"}, 1},
		{"filter crt", recvault.RecordingFilter{Scope: all, CRTObject: "crt-8"}, 1},
		{"filter kind", recvault.RecordingFilter{Scope: all, Kind: recvault.KindVideo}, 0},
		{"filter kind voice", recvault.RecordingFilter{Scope: all, Kind: recvault.KindVoice}, 30},
		{"original path, other slashes and case", recvault.RecordingFilter{Scope: all, OriginalPath: `y:\90\0\20260101\5001\4.V3`}, 1},
		{"original path of another call", recvault.RecordingFilter{Scope: all, CallID: "call-5", OriginalPath: "Y:/90/0/20260101/5001/4.V3"}, 0},
		{"from", recvault.RecordingFilter{Scope: all, From: base.Add(20 * time.Minute)}, 10},
		{"from to", recvault.RecordingFilter{Scope: all, From: base.Add(5 * time.Minute), To: base.Add(10 * time.Minute)}, 5},
		{"min duration, inclusive", recvault.RecordingFilter{Scope: all, MinDuration: 61500 * time.Millisecond}, 30},
		{"min duration above", recvault.RecordingFilter{Scope: all, MinDuration: 61501 * time.Millisecond}, 0},
		{"max duration, inclusive", recvault.RecordingFilter{Scope: all, MaxDuration: 61500 * time.Millisecond}, 30},
		{"max duration below", recvault.RecordingFilter{Scope: all, MaxDuration: 61 * time.Second}, 0},
		{"duration range in a campaign", recvault.RecordingFilter{Scope: all, CampaignID: 110, MinDuration: time.Minute, MaxDuration: 62 * time.Second}, 15},
		{"filter outside scope", recvault.RecordingFilter{Scope: recvault.Scope{AgentIDs: []string{"4977"}}, AgentID: "5001"}, 0},
	}
	for _, tc := range cases {
		if got := count(tc.f); got != tc.want {
			t.Errorf("%s: %d recordings, want %d", tc.name, got, tc.want)
		}
	}
	if _, _, err := c.FindRecordings(ctx, recvault.RecordingFilter{Scope: all, Cursor: "!!not-a-cursor"}); recvault.ErrorCode(err) != recvault.EINVALID {
		t.Fatalf("bad cursor: %v", err)
	}
}

func testUsers(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	u := &recvault.User{Login: "insp@example.com", Role: recvault.RoleInspector, AgentID: "4900",
		Inspects: []string{"4977", "4978"}, PasswordHash: "$argon2id$x", CreatedAt: base}
	if err := c.CreateUser(ctx, u); err != nil || u.ID == 0 {
		t.Fatalf("create: %v id %d", err, u.ID)
	}
	if err := c.CreateUser(ctx, &recvault.User{Login: "insp@example.com", Role: recvault.RoleAdmin}); recvault.ErrorCode(err) != recvault.ECONFLICT {
		t.Fatalf("duplicate login: %v", err)
	}
	got, err := c.UserByLogin(ctx, "insp@example.com")
	if err != nil || got.ID != u.ID || got.Role != recvault.RoleInspector || len(got.Inspects) != 2 || got.PasswordHash != u.PasswordHash {
		t.Fatalf("by login: %+v %v", got, err)
	}
	got.Disabled = true
	got.Inspects = []string{"4979"}
	got.Campaigns = []int64{7}
	if err := c.UpdateUser(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, _ := c.UserByID(ctx, u.ID)
	if !again.Disabled || len(again.Inspects) != 1 || again.Inspects[0] != "4979" || len(again.Campaigns) != 1 {
		t.Fatalf("after update: %+v", again)
	}
	if _, err := c.UserByLogin(ctx, "nobody"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("missing user: %v", err)
	}
	if err := c.UpdateUser(ctx, &recvault.User{ID: 9999, Role: recvault.RoleAdmin}); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("update missing: %v", err)
	}
	c.CreateUser(ctx, &recvault.User{Login: "a", Role: recvault.RoleAdmin, CreatedAt: base})
	c.CreateUser(ctx, &recvault.User{Login: "ag", Role: recvault.RoleAgent, AgentID: "4977", CreatedAt: base})
	if got, err := c.UserByAgentID(ctx, "4977"); err != nil || got.Login != "ag" {
		t.Fatalf("by agent id: %v %v", got, err)
	}
	if _, err := c.UserByAgentID(ctx, "4979"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("disabled/unknown agent id: %v", err)
	}
	users, err := c.Users(ctx)
	if err != nil || len(users) != 3 || users[0].Login != "a" {
		t.Fatalf("users: %v %v", users, err)
	}
}

func testSessions(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	u := &recvault.User{Login: "s", Role: recvault.RoleAdmin, CreatedAt: base}
	c.CreateUser(ctx, u)
	s := &recvault.Session{TokenHash: "h1", UserID: u.ID, Kind: "v1", CreatedAt: base, LastSeen: base, ExpiresAt: base.Add(time.Hour), Idle: 2 * time.Minute}
	if err := c.CreateSession(ctx, s); err != nil || s.ID == 0 {
		t.Fatal(err)
	}
	got, err := c.SessionByTokenHash(ctx, "h1")
	if err != nil || got.UserID != u.ID || !got.ExpiresAt.Equal(s.ExpiresAt) || got.Kind != "v1" || got.Idle != 2*time.Minute {
		t.Fatalf("%+v %v", got, err)
	}
	if err := c.SetSessionExpiry(ctx, s.ID, base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.SessionByTokenHash(ctx, "h1"); !got.ExpiresAt.Equal(base.Add(2 * time.Minute)) {
		t.Fatalf("expiry not moved: %v", got.ExpiresAt)
	}
	later := base.Add(10 * time.Minute)
	c.TouchSession(ctx, s.ID, later)
	c.TouchSession(ctx, s.ID, base) // never moves backwards
	if got, _ := c.SessionByTokenHash(ctx, "h1"); !got.LastSeen.Equal(later) {
		t.Fatalf("last seen %v, want %v", got.LastSeen, later)
	}
	c.CreateSession(ctx, &recvault.Session{TokenHash: "h2", UserID: u.ID, Kind: "v1", CreatedAt: base, LastSeen: base, ExpiresAt: base.Add(time.Hour)})
	if ss, err := c.UserSessions(ctx, u.ID); err != nil || len(ss) != 2 || ss[0].TokenHash != "h1" {
		t.Fatalf("user sessions: %v %v", ss, err)
	}
	if err := c.DeleteSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SessionByTokenHash(ctx, "h1"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("deleted session found: %v", err)
	}
	c.DeleteUserSessions(ctx, u.ID)
	if _, err := c.SessionByTokenHash(ctx, "h2"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("user's sessions not deleted: %v", err)
	}
}

func testAudit(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := c.AppendAudit(ctx, []*recvault.AuditEvent{{At: base.Add(time.Duration(i) * time.Second), Actor: "a",
			Action: "download", RecordingID: fmt.Sprint(i), Outcome: "granted", API: "v1"}}); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := c.Audit(ctx, 2)
	if err != nil || len(ev) != 2 || ev[0].RecordingID != "2" || ev[1].RecordingID != "1" || ev[0].API != "v1" {
		t.Fatalf("audit: %+v %v", ev, err)
	}
	if ev[0].Seq != 3 || ev[1].Seq != 2 || ev[0].PrevHash != ev[1].Hash || ev[0].Hash == "" {
		t.Fatalf("audit records not chained: %+v", ev)
	}
}

func testAPIKeys(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	k := &recvault.APIKey{Name: "archiver", KeyHash: "kh", Role: recvault.RoleSupervisor, Campaigns: []int64{110},
		Hosts: []string{"archiver.local"}, CreatedAt: base}
	if err := c.CreateAPIKey(ctx, k); err != nil || k.ID == 0 {
		t.Fatal(err)
	}
	if err := c.CreateAPIKey(ctx, &recvault.APIKey{Name: "archiver", KeyHash: "other", Role: recvault.RoleAdmin}); recvault.ErrorCode(err) != recvault.ECONFLICT {
		t.Fatalf("duplicate name: %v", err)
	}
	got, err := c.APIKeyByHash(ctx, "kh")
	if err != nil || got.Name != "archiver" || got.Campaigns[0] != 110 || got.Hosts[0] != "archiver.local" || got.Revoked {
		t.Fatalf("%+v %v", got, err)
	}
	got.Revoked, got.LastUsed = true, base.Add(time.Hour)
	if err := c.UpdateAPIKey(ctx, got); err != nil {
		t.Fatal(err)
	}
	keys, err := c.APIKeys(ctx)
	if err != nil || len(keys) != 1 || !keys[0].Revoked || !keys[0].LastUsed.Equal(base.Add(time.Hour)) {
		t.Fatalf("%+v %v", keys, err)
	}
	if _, err := c.APIKeyByHash(ctx, "nope"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("missing key: %v", err)
	}
}

// testReplaceBlob checks the compare-and-swap of a recording's blob that a
// blob migration commits: it happens only from the blob the caller saw,
// exactly once among racing callers, and never for a deleted recording.
func testReplaceBlob(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	r := Rec(1, 110, "4977")
	if _, err := c.CreateRecording(ctx, r); err != nil {
		t.Fatal(err)
	}
	old := r.BlobKey
	wk := []byte("\x01\x02k1sealed")
	if err := c.ReplaceBlob(ctx, r.ID, old, old+".s1", wk); err != nil {
		t.Fatal(err)
	}
	got, err := c.Recording(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.BlobKey != old+".s1" || !bytes.Equal(got.DataKey, wk) {
		t.Fatalf("after ReplaceBlob: key %q data key %q", got.BlobKey, got.DataKey)
	}
	if err := c.ReplaceBlob(ctx, r.ID, old, old+".s2", nil); recvault.ErrorCode(err) != recvault.ECONFLICT {
		t.Fatalf("ReplaceBlob from a key no longer used: %v, want ECONFLICT", err)
	}
	// nil clears the data key (a blob rewritten in mode verified).
	if err := c.ReplaceBlob(ctx, r.ID, old+".s1", old+".s3", nil); err != nil {
		t.Fatal(err)
	}
	if got, err = c.Recording(ctx, r.ID); err != nil || got.DataKey != nil || got.BlobKey != old+".s3" {
		t.Fatalf("after clearing: %+v, %v", got, err)
	}
	// Racing replacements from the same key: exactly one wins.
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.ReplaceBlob(ctx, r.ID, old+".s3", fmt.Sprintf("%s.race%d", old, i), nil)
			switch recvault.ErrorCode(err) {
			case "":
				wins.Add(1)
			case recvault.ECONFLICT:
				conflicts.Add(1)
			default:
				t.Errorf("racing ReplaceBlob: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 7 {
		t.Fatalf("racing ReplaceBlob: %d won, %d conflicted; want 1 and 7", wins.Load(), conflicts.Load())
	}
	if got, err = c.Recording(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BeginDelete(ctx, r.ID, "admin", "test", base); err != nil {
		t.Fatal(err)
	}
	if err := c.ReplaceBlob(ctx, r.ID, got.BlobKey, got.BlobKey+".late", nil); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("ReplaceBlob of a deleted recording: %v, want ENOTFOUND", err)
	}
	if err := c.ReplaceBlob(ctx, "nope", "a", "b", nil); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("ReplaceBlob of a missing recording: %v, want ENOTFOUND", err)
	}
}
