package catalogtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

// testRetention covers policies, holds, purge candidates and the two-step
// deletion with its tombstone.
func testRetention(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	// Recordings i = 0..9 start base+i minutes; campaigns 110 (even i) and 111 (odd i).
	for i := 0; i < 10; i++ {
		if _, err := c.CreateRecording(ctx, Rec(i, int64(110+i%2), "4977")); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(recs []*recvault.Recording) string {
		var s []string
		for _, r := range recs {
			s = append(s, r.ID)
		}
		return strings.Join(s, " ")
	}
	// 30 days and 5 minutes after recording 5 started.
	now := base.Add(30*24*time.Hour + 10*time.Minute)
	if got, err := c.PurgeCandidates(ctx, now, "", 100); err != nil || len(got) != 0 {
		t.Fatalf("no policy must keep everything: %s %v", ids(got), err)
	}
	if err := c.SetRetention(ctx, &recvault.Retention{CampaignID: 0, Days: 30, SetBy: "cli", SetAt: base}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.PurgeCandidates(ctx, now, "", 100); err != nil || ids(got) != "rec0000 rec0001 rec0002 rec0003 rec0004 rec0005 rec0006 rec0007 rec0008 rec0009" {
		t.Fatalf("default 30 days, 10 min after recording 10 started: %s %v", ids(got), err)
	}
	now = base.Add(30*24*time.Hour + 5*time.Minute)
	if got, err := c.PurgeCandidates(ctx, now, "", 100); err != nil || ids(got) != "rec0000 rec0001 rec0002 rec0003 rec0004" {
		t.Fatalf("default 30 days: %s %v", ids(got), err)
	}
	// Campaign 111 keeps longer; paging by id.
	if err := c.SetRetention(ctx, &recvault.Retention{CampaignID: 111, Days: 60, SetBy: "cli", SetAt: base}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRetention(ctx, &recvault.Retention{CampaignID: 111, Days: 90, SetBy: "admin", SetAt: base}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.PurgeCandidates(ctx, now, "", 2); err != nil || ids(got) != "rec0000 rec0002" {
		t.Fatalf("first page: %s %v", ids(got), err)
	}
	if got, err := c.PurgeCandidates(ctx, now, "rec0002", 2); err != nil || ids(got) != "rec0004" {
		t.Fatalf("second page: %s %v", ids(got), err)
	}
	pol, err := c.Retentions(ctx)
	if err != nil || len(pol) != 2 || pol[0].CampaignID != 0 || pol[0].Days != 30 || pol[1].Days != 90 || pol[1].SetBy != "admin" {
		t.Fatalf("retentions: %+v %v", pol, err)
	}
	if err := c.ClearRetention(ctx, 112); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("clear missing policy: %v", err)
	}
	// Holds, by each selector.
	for _, h := range []*recvault.Hold{{CampaignID: 110, Reason: "case 1"}, {CallID: "call-2", Reason: "case 2"}, {RecordingID: "rec0004", Reason: "case 3"}} {
		h.By, h.At = "cli", base
		if err := c.AddHold(ctx, h); err != nil || h.ID == 0 {
			t.Fatalf("add hold %+v: %v", h, err)
		}
	}
	if err := c.AddHold(ctx, &recvault.Hold{CallID: "call-2", Reason: "again", At: base}); recvault.ErrorCode(err) != recvault.ECONFLICT {
		t.Fatalf("second hold on one selector: %v", err)
	}
	if got, err := c.PurgeCandidates(ctx, now, "", 100); err != nil || len(got) != 0 {
		t.Fatalf("held recordings offered for purge: %s %v", ids(got), err)
	}
	if err := c.RemoveHold(ctx, recvault.Hold{CampaignID: 110}); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveHold(ctx, recvault.Hold{CampaignID: 110}); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("remove missing hold: %v", err)
	}
	if got, err := c.PurgeCandidates(ctx, now, "", 100); err != nil || ids(got) != "rec0000" {
		t.Fatalf("call and recording holds: %s %v", ids(got), err)
	}
	holds, err := c.Holds(ctx)
	if err != nil || len(holds) != 2 || holds[0].CallID != "call-2" || holds[1].RecordingID != "rec0004" || holds[1].Reason != "case 3" {
		t.Fatalf("holds: %+v %v", holds, err)
	}
	// Deletion.
	if _, err := c.BeginDelete(ctx, "rec0004", "admin", "erasure", base); recvault.ErrorCode(err) != recvault.ECONFLICT ||
		!strings.Contains(recvault.ErrorMessage(err), "legal hold: case 3") {
		t.Fatalf("delete of a held recording: %v", err)
	}
	if _, err := c.Recording(ctx, "rec0004"); err != nil {
		t.Fatalf("refused delete removed the row: %v", err)
	}
	at := base.Add(time.Hour)
	ts, err := c.BeginDelete(ctx, "rec0000", "admin", "erasure request", at)
	if err != nil || ts.State != recvault.TombstoneDeleting || ts.BlobKey != "2026/01/01/rec0000" || ts.SHA256 != Rec(0, 110, "").SHA256 {
		t.Fatalf("begin delete: %+v %v", ts, err)
	}
	if _, err := c.Recording(ctx, "rec0000"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("deleted row still there: %v", err)
	}
	if used, err := c.BlobInUse(ctx, ts.BlobKey, base); err != nil || used {
		t.Fatalf("a deleted recording's blob still in use: %v %v", used, err)
	}
	if _, err := c.BeginDelete(ctx, "rec0000", "admin", "again", at); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	pending, err := c.Tombstones(ctx, recvault.TombstoneDeleting, 10)
	if err != nil || len(pending) != 1 || pending[0].RecordingID != "rec0000" || pending[0].CRTObjectID != "crt-0" ||
		pending[0].CallID != "call-0" || pending[0].By != "admin" || pending[0].Reason != "erasure request" || !pending[0].At.Equal(at) {
		t.Fatalf("deleting tombstones: %+v %v", pending, err)
	}
	if err := c.FinishDelete(ctx, "rec0000", at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.FinishDelete(ctx, "rec0000", at.Add(time.Hour)); err != nil {
		t.Fatalf("finish twice: %v", err)
	}
	if err := c.FinishDelete(ctx, "nope", at); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("finish without tombstone: %v", err)
	}
	if pending, err := c.Tombstones(ctx, recvault.TombstoneDeleting, 10); err != nil || len(pending) != 0 {
		t.Fatalf("deleting after finish: %+v %v", pending, err)
	}
	all, err := c.Tombstones(ctx, "", 10)
	if err != nil || len(all) != 1 || all[0].State != recvault.TombstoneDone || !all[0].DoneAt.Equal(at.Add(time.Second)) {
		t.Fatalf("tombstones: %+v %v", all, err)
	}
	// The identity is free again: a new ingest is a new recording.
	again := Rec(0, 110, "4977")
	again.ID = "rec0000b"
	if _, err := c.CreateRecording(ctx, again); err != nil {
		t.Fatalf("re-ingest after deletion: %v", err)
	}
}
