package vault_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/disk"
	"github.com/recvault/recvault/catalog/sqlite"
	"github.com/recvault/recvault/media/cache"
	"github.com/recvault/recvault/vault"
)

type retentionEnv struct {
	svc   *vault.Service
	cat   recvault.Catalog
	blobs *disk.Store
	cache *cache.Cache
	now   time.Time
}

func newRetentionEnv(t *testing.T) *retentionEnv {
	t.Helper()
	dir := t.TempDir()
	c, err := sqlite.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	blobs, err := disk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := cache.Open(filepath.Join(dir, "cache"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	e := &retentionEnv{cat: c, blobs: blobs, cache: ch, now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	e.svc = vault.New(c, blobs, vault.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Cache: ch,
		Now: func() time.Time { return e.now }})
	t.Cleanup(func() { e.svc.Close() })
	return e
}

// add stores recording i of campaign, started age ago, with its blob.
func (e *retentionEnv) add(t *testing.T, i int, campaign int64, call string, age time.Duration) *recvault.Recording {
	t.Helper()
	ctx := context.Background()
	body := []byte(fmt.Sprintf("bytes of recording %d", i))
	r := &recvault.Recording{ID: fmt.Sprintf("r%02d", i), CampaignID: campaign, CRTObjectID: fmt.Sprintf("crt-%d", i), CallID: call,
		AgentID: "4977", Kind: recvault.KindVoice, StartedAt: e.now.Add(-age), BlobKey: fmt.Sprintf("2026/r%02d", i), CreatedAt: e.now}
	info, err := e.blobs.Put(ctx, r.BlobKey, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Size, r.SHA256 = info.Size, info.SHA256
	if _, err := e.cat.CreateRecording(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *retentionEnv) live(t *testing.T) string {
	t.Helper()
	recs, _, err := e.cat.FindRecordings(context.Background(), recvault.RecordingFilter{Scope: recvault.Scope{All: true}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	return strings.Join(ids, " ")
}

const day = 24 * time.Hour

// TestRetentionPurgeKeepsHeldAndRecent: the purge removes exactly the
// recordings past their policy that no hold (of any selector) covers; a
// dry run removes nothing.
func TestRetentionPurgeKeepsHeldAndRecent(t *testing.T) {
	e := newRetentionEnv(t)
	ctx := vault.WithRequestInfo(context.Background(), vault.RequestInfo{Via: "cli"})
	recs := []*recvault.Recording{
		e.add(t, 1, 110, "c1", 40*day),  // past the default: purged
		e.add(t, 2, 110, "c2", 10*day),  // within it: kept
		e.add(t, 3, 120, "c3", 40*day),  // campaign 120 keeps 90 days: kept
		e.add(t, 4, 130, "c4", 40*day),  // held by campaign
		e.add(t, 5, 110, "c5", 40*day),  // held by call
		e.add(t, 6, 110, "c6", 40*day),  // held by recording
		e.add(t, 7, 120, "c7", 100*day), // past 120's policy: purged
	}
	if rep, err := e.svc.Purge(ctx, false); err != nil || len(rep.Items) != 0 {
		t.Fatalf("no policy must keep everything: %+v %v", rep, err)
	}
	if err := e.svc.SetRetention(ctx, 0, 30); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetRetention(ctx, 120, 90); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetRetention(ctx, 120, 0); recvault.ErrorCode(err) != recvault.EINVALID {
		t.Fatalf("0 days: %v", err)
	}
	for _, h := range []recvault.Hold{{CampaignID: 130, Reason: "case A"}, {CallID: "c5", Reason: "case B"}, {RecordingID: "r06", Reason: "case C"}} {
		if _, err := e.svc.AddHold(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.AddHold(ctx, recvault.Hold{CampaignID: 1, CallID: "x", Reason: "two"}); recvault.ErrorCode(err) != recvault.EINVALID {
		t.Fatalf("two selectors: %v", err)
	}
	rep, err := e.svc.Purge(ctx, true)
	if err != nil || len(rep.Items) != 2 || rep.Items[0].Recording.ID != "r01" || rep.Items[1].Recording.ID != "r07" || rep.Items[1].Days != 90 {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	if got := e.live(t); got != "r01 r02 r03 r04 r05 r06 r07" {
		t.Fatalf("dry run deleted: %s", got)
	}
	rep, err = e.svc.Purge(ctx, false)
	if err != nil || rep.Deleted != 2 || rep.Failed != 0 {
		t.Fatalf("purge: %+v %v", rep, err)
	}
	if got := e.live(t); got != "r02 r03 r04 r05 r06" {
		t.Fatalf("after purge: %s", got)
	}
	for _, r := range recs {
		gone := r.ID == "r01" || r.ID == "r07"
		if exists(t, e.blobs, r.BlobKey) == gone {
			t.Errorf("blob of %s exists: %v", r.ID, !gone)
		}
	}
	ts, err := e.svc.Tombstones(ctx, 10)
	if err != nil || len(ts) != 2 || ts[0].State != recvault.TombstoneDone || ts[0].By != "cli" || !strings.HasPrefix(ts[0].Reason, "retention") {
		t.Fatalf("tombstones: %+v %v", ts, err)
	}
	// Lifting a hold exposes its recording to the next purge.
	if err := e.svc.RemoveHold(ctx, recvault.Hold{CallID: "c5"}); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.svc.Purge(ctx, false); err != nil || rep.Deleted != 1 || rep.Items[0].Recording.ID != "r05" {
		t.Fatalf("purge after lifting a hold: %+v %v", rep, err)
	}
}

// TestRetentionDeleteRules: delete is refused while held, authorised like
// a read (not visible: not found) and then for admins only.
func TestRetentionDeleteRules(t *testing.T) {
	e := newRetentionEnv(t)
	ctx := context.Background()
	r := e.add(t, 1, 110, "c1", day)
	sup := &recvault.Principal{User: &recvault.User{Login: "sup", Role: recvault.RoleSupervisor, Campaigns: []int64{110}}}
	other := &recvault.Principal{User: &recvault.User{Login: "other", Role: recvault.RoleSupervisor, Campaigns: []int64{120}}}
	admin := &recvault.Principal{User: &recvault.User{Login: "boss", Role: recvault.RoleAdmin}}
	if err := e.svc.Delete(ctx, other, r.ID, "x"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("not visible: %v", err)
	}
	if err := e.svc.Delete(ctx, sup, r.ID, "x"); recvault.ErrorCode(err) != recvault.EFORBIDDEN {
		t.Fatalf("visible, not admin: %v", err)
	}
	if err := e.svc.Delete(ctx, admin, r.ID, ""); recvault.ErrorCode(err) != recvault.EINVALID {
		t.Fatalf("no reason: %v", err)
	}
	if _, err := e.svc.AddHold(ctx, recvault.Hold{CampaignID: 110, Reason: "case 7"}); err != nil {
		t.Fatal(err)
	}
	err := e.svc.Delete(ctx, admin, r.ID, "erasure")
	if recvault.ErrorCode(err) != recvault.ECONFLICT || recvault.ErrorMessage(err) != "recording is under legal hold: case 7" {
		t.Fatalf("held: %v", err)
	}
	if err := e.svc.RemoveHold(ctx, recvault.Hold{CampaignID: 110}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Delete(ctx, admin, r.ID, "erasure"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Recording(ctx, admin, r.ID); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("deleted recording readable: %v", err)
	}
	if exists(t, e.blobs, r.BlobKey) {
		t.Fatal("blob left behind")
	}
	if err := e.svc.Delete(ctx, admin, r.ID, "erasure"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	ev, _, err := e.cat.FindAudit(ctx, recvault.AuditFilter{RecordingID: r.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range ev {
		if a.Action == recvault.ActionDelete && a.Outcome == recvault.OutcomeGranted && a.Actor == "boss" && a.Detail == "erasure" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no granted delete in the audit: %+v", ev)
	}
}

// TestRetentionResumeAfterCrash: a deletion cut after its catalog step
// (tombstone "deleting", blob still there) is finished by ResumeDeletes,
// and by the next purge.
func TestRetentionResumeAfterCrash(t *testing.T) {
	e := newRetentionEnv(t)
	ctx := context.Background()
	a := e.add(t, 1, 110, "c1", day)
	b := e.add(t, 2, 110, "c2", day)
	for _, r := range []*recvault.Recording{a, b} {
		if _, err := e.cat.BeginDelete(ctx, r.ID, "cli", "crash test", e.now); err != nil {
			t.Fatal(err)
		}
	}
	if !exists(t, e.blobs, a.BlobKey) {
		t.Fatal("the simulated crash lost the blob")
	}
	if _, err := e.cat.Recording(ctx, a.ID); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("row still visible after the catalog step: %v", err)
	}
	// One is finished by ResumeDeletes (serve start) ...
	if err := e.cat.FinishDelete(ctx, b.ID, e.now); err != nil { // b: pretend it finished, to test a itself
		t.Fatal(err)
	}
	n, err := e.svc.ResumeDeletes(ctx)
	if err != nil || n != 1 || exists(t, e.blobs, a.BlobKey) {
		t.Fatalf("resume: %d %v, blob left: %v", n, err, exists(t, e.blobs, a.BlobKey))
	}
	if pending, err := e.cat.Tombstones(ctx, recvault.TombstoneDeleting, 10); err != nil || len(pending) != 0 {
		t.Fatalf("still deleting: %+v %v", pending, err)
	}
	// ... and another by the next purge.
	c := e.add(t, 3, 110, "c3", day)
	if _, err := e.cat.BeginDelete(ctx, c.ID, "cli", "crash test", e.now); err != nil {
		t.Fatal(err)
	}
	rep, err := e.svc.Purge(ctx, false)
	if err != nil || rep.Resumed != 1 || exists(t, e.blobs, c.BlobKey) {
		t.Fatalf("purge did not resume: %+v %v", rep, err)
	}
	// b was marked done with its blob left: no row refers to that blob,
	// so the orphan sweep may remove it.
	if used, err := e.cat.BlobInUse(ctx, b.BlobKey, e.now); err != nil || used {
		t.Fatalf("blob of a deleted recording in use: %v %v", used, err)
	}
}

// TestRetentionDeleteDropsCachedConversions: deleting drops the cached
// outputs of the recording, and not those of another recording with the
// same bytes, nor anything else.
func TestRetentionDeleteDropsCachedConversions(t *testing.T) {
	e := newRetentionEnv(t)
	ctx := vault.WithRequestInfo(context.Background(), vault.RequestInfo{Via: "cli"})
	a := e.add(t, 1, 110, "c1", day)
	twin := *a
	twin.ID, twin.CRTObjectID, twin.BlobKey = "twin", "crt-twin", "2026/twin"
	if _, err := e.blobs.Put(ctx, twin.BlobKey, strings.NewReader("bytes of recording 1")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cat.CreateRecording(ctx, &twin); err != nil {
		t.Fatal(err)
	}
	fill := func(key string) {
		f, _, err := e.cache.Fill(ctx, key, nil, func(_ context.Context, w io.Writer) error {
			_, err := io.WriteString(w, "converted")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	fill(vault.ConversionKey(a, "mp3"))
	fill(vault.ConversionKey(a, "wav"))
	fill(vault.ConversionKey(&twin, "mp3"))
	fill("other|mp3")
	if err := e.svc.Delete(ctx, nil, a.ID, "erasure"); err != nil {
		t.Fatal(err)
	}
	if _, outputs, _ := e.cache.Stats(); outputs != 2 {
		t.Fatalf("%d outputs left after deleting a recording with 2 of 4, want 2", outputs)
	}
	if _, ok := e.cache.Get(vault.ConversionKey(a, "mp3")); ok {
		t.Fatal("conversion of a deleted recording still cached")
	}
	if f, ok := e.cache.Get(vault.ConversionKey(&twin, "mp3")); !ok {
		t.Fatal("the twin's conversion was dropped")
	} else {
		f.Close()
	}
	if err := e.svc.Delete(ctx, nil, twin.ID, "erasure"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.cache.Get(vault.ConversionKey(&twin, "mp3")); ok {
		t.Fatal("conversion of the deleted twin still cached")
	}
	if f, ok := e.cache.Get("other|mp3"); !ok {
		t.Fatal("another content's conversion was dropped")
	} else {
		f.Close()
	}
}
