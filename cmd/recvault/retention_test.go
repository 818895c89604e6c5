package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/vault"
)

// The demo recordings (all older than 30 days): campaign 110 has
// d741-…-638729 (call …826), 1621413752-2011-voice and -video (call
// 1621413752-2011) and d741-…-638730 (call …827); campaign 120 has
// d741-…-700001.

// TestRetentionPurgeCLI: with a 30-day default, purge keeps what a hold
// covers (by call, by recording, by campaign) and what is within
// retention, and removes the rest; --dry-run removes nothing.
func TestRetentionPurgeCLI(t *testing.T) {
	env := startEnv(t)
	cli := func(want int, args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, "", append(args, "--data", env.dir)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, errs)
		}
		return out + errs
	}
	// A recording within retention.
	src := filepath.Join(t.TempDir(), "fresh.wav")
	if err := os.WriteFile(src, wavPCM16(16000, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(0, "ingest", "--campaign", "110", "--crt-object-id", "fresh-1", "--call-id", "fresh-call", "--agent", "4977",
		"--started-at", time.Now().Add(-24*time.Hour).UTC().Format(time.RFC3339), src)
	for _, args := range [][]string{{"retention", "-h"}, {"hold", "-h"}, {"delete", "-h"}, {"purge", "-h"}, {"deleted", "-h"}, {"retention", "set", "-h"}} {
		if code, _, _ := runCLI(t, "", args...); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	cli(2, "retention", "set", "--default", "--days", "0")
	cli(2, "retention", "set", "--campaign", "110", "--default", "--days", "3")
	cli(2, "hold", "add", "--campaign", "120", "--call-id", "x", "--reason", "two selectors")
	cli(2, "hold", "add", "--campaign", "120")
	// No policy: nothing to purge.
	if out := cli(0, "purge", "--dry-run"); !strings.Contains(out, "dry run: 0 recordings would be deleted") {
		t.Fatalf("purge without a policy: %s", out)
	}
	cli(0, "retention", "set", "--default", "--days", "30")
	cli(0, "retention", "set", "--campaign", "120", "--days", "3650")
	cli(0, "retention", "clear", "--campaign", "120")
	if out := cli(0, "retention", "list"); !strings.Contains(out, "default   30") || strings.Contains(out, "120") {
		t.Fatalf("retention list: %s", out)
	}
	rec638730 := env.recordingID(110, "d741-6904fad1-vce-daf-638730")
	cli(0, "hold", "add", "--call-id", "1621413752-2011", "--reason", "case 11")
	cli(0, "hold", "add", "--recording", rec638730.ID, "--reason", "case 12")
	cli(0, "hold", "add", "--campaign", "120", "--reason", "case 13")
	if out := cli(1, "hold", "add", "--campaign", "120", "--reason", "again"); !strings.Contains(out, "already under legal hold") {
		t.Fatalf("second hold: %s", out)
	}
	if out := cli(0, "hold", "list"); !strings.Contains(out, "call 1621413752-2011") || !strings.Contains(out, "case 12") || !strings.Contains(out, "campaign 120") {
		t.Fatalf("hold list: %s", out)
	}
	blobs := env.blobCount()
	out := cli(0, "purge", "--dry-run")
	if !strings.Contains(out, "would delete") || !strings.Contains(out, "d741-6904fad1-vce-daf-638729") ||
		!strings.Contains(out, "dry run: 1 recordings would be deleted") {
		t.Fatalf("dry run: %s", out)
	}
	if env.blobCount() != blobs {
		t.Fatal("dry run deleted blobs")
	}
	victim := env.recordingID(110, "d741-6904fad1-vce-daf-638729")
	out = cli(0, "purge")
	if !strings.Contains(out, "deleted "+victim.ID) || !strings.Contains(out, "purge: 1 deleted, 0 failed") {
		t.Fatalf("purge: %s", out)
	}
	if env.blobCount() != blobs-1 {
		t.Fatalf("blobs %d, want %d", env.blobCount(), blobs-1)
	}
	if _, err := env.app.cat.Recording(context.Background(), victim.ID); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("purged recording still there: %v", err)
	}
	for _, crt := range []string{"fresh-1", "1621413752-2011-voice", "1621413752-2011-video", "d741-6904fad1-vce-daf-638730", "d741-6904fad1-vce-daf-700001"} {
		env.recordingID(map[bool]int64{true: 120, false: 110}[crt == "d741-6904fad1-vce-daf-700001"], crt)
	}
	if out := cli(0, "deleted"); !strings.Contains(out, victim.ID) || !strings.Contains(out, "retention: older than 30 days") || !strings.Contains(out, "done") {
		t.Fatalf("deleted: %s", out)
	}
	// Lifting a hold lets the next purge remove its recordings.
	cli(0, "hold", "remove", "--campaign", "120")
	cli(1, "hold", "remove", "--campaign", "120")
	if out := cli(0, "purge"); !strings.Contains(out, "d741-6904fad1-vce-daf-700001") || !strings.Contains(out, "purge: 1 deleted") {
		t.Fatalf("purge after lifting: %s", out)
	}
	// The purge and the admin commands are audited.
	if out := cli(0, "audit", "export"); !strings.Contains(out, `"action":"purge"`) || !strings.Contains(out, `"action":"hold-admin"`) ||
		!strings.Contains(out, `"action":"retention-admin"`) || !strings.Contains(out, `"action":"delete"`) {
		t.Fatalf("audit lacks retention records:\n%s", out)
	}
}

// TestRetentionDeleteAPI: DELETE is 404 for a caller who cannot see the
// recording, 403 for one who can but is no admin, 409 while held; after
// an admin's 204 the recording is gone from the blob store and every API
// answers not found; its tombstone is listed and the audit has the delete.
func TestRetentionDeleteAPI(t *testing.T) {
	env := startEnv(t)
	voice := env.recordingID(110, "1621413752-2011-voice")
	path := "/api/v1/recordings/" + voice.ID
	admin := env.loginDemo("admin")
	sid := env.ameyoLogin("supervisor@exotel.in", false)
	ameyoQ := "/ameyorestapi/cc/downloadVoiceLog?campaignId=110&crtObjectId=1621413752-2011-voice&targetFormat=wav&filters={callId%1621413752-2011}"
	ccQ := ccgw + "/recordfile/4977/recordfiledownloadEx?callId=1621413752-2011"
	guid := env.ccSignIn("4977", "agent-demo-pass", "")
	if resp, b := env.rawGET(ameyoQ, "Sessionid: "+sid); resp.StatusCode != 200 {
		t.Fatalf("ameyo before deletion: %d %s", resp.StatusCode, b)
	}
	if resp, b, _ := env.rawDo("GET", ccQ, "", "Guid: "+guid); resp.StatusCode != 200 || len(b) < 1000 {
		t.Fatalf("ccgw before deletion: %d %s", resp.StatusCode, b)
	}
	resp, b := env.do("DELETE", path+"?reason=x", env.loginDemo("agent5001@example.com"), nil)
	wantError(t, resp, b, 404, recvault.ENOTFOUND)
	resp, b = env.do("DELETE", path+"?reason=x", env.loginDemo("supervisor@exotel.in"), nil)
	wantError(t, resp, b, 403, recvault.EFORBIDDEN)
	resp, b = env.do("DELETE", path, admin, nil)
	wantError(t, resp, b, 400, recvault.EINVALID)
	if code, out, errs := runCLI(t, "", "hold", "add", "--recording", voice.ID, "--reason", "case 42", "--data", env.dir); code != 0 {
		t.Fatalf("hold: %s%s", out, errs)
	}
	resp, b = env.do("DELETE", path, admin, strings.NewReader(`{"reason":"erasure request 7"}`), "Content-Type", "application/json")
	wantError(t, resp, b, 409, recvault.ECONFLICT)
	if !strings.Contains(string(b), "recording is under legal hold: case 42") {
		t.Fatalf("held: %s", b)
	}
	if code, out, errs := runCLI(t, "", "delete", "--recording", voice.ID, "--reason", "r", "--data", env.dir); code != 1 || !strings.Contains(errs, "legal hold: case 42") {
		t.Fatalf("CLI delete of a held recording: %d %s%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "", "hold", "remove", "--recording", voice.ID, "--data", env.dir); code != 0 {
		t.Fatalf("hold remove: %s%s", out, errs)
	}
	blobs := env.blobCount()
	resp, b = env.do("DELETE", path, admin, strings.NewReader(`{"reason":"erasure request 7"}`), "Content-Type", "application/json")
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	if env.blobCount() != blobs-1 {
		t.Fatalf("blobs %d, want %d", env.blobCount(), blobs-1)
	}
	if _, err := env.app.blobs.Open(context.Background(), voice.BlobKey); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("blob still there: %v", err)
	}
	resp, b = env.do("GET", path, admin, nil)
	wantError(t, resp, b, 404, recvault.ENOTFOUND)
	resp, b = env.do("GET", path+"/media", admin, nil)
	wantError(t, resp, b, 404, recvault.ENOTFOUND)
	resp, b = env.do("DELETE", path+"?reason=again", admin, nil)
	wantError(t, resp, b, 404, recvault.ENOTFOUND)
	resp, b = env.rawGET(ameyoQ, "Sessionid: "+sid)
	wantAmeyoError(t, resp, b, 404, "requested.resource.not.found", 0, "")
	resp, b, _ = env.rawDo("GET", ccQ, "", "Guid: "+guid)
	wantRetcode(t, resp, b, "108-001")
	// The tombstone, and the audit record of the deletion.
	code, out, errs := runCLI(t, "", "deleted", "--data", env.dir)
	if code != 0 || !strings.Contains(out, voice.ID) || !strings.Contains(out, "1621413752-2011-voice") || !strings.Contains(out, voice.SHA256) ||
		!strings.Contains(out, "admin") || !strings.Contains(out, "erasure request 7") || !strings.Contains(out, "done") {
		t.Fatalf("deleted: %d %s%s", code, out, errs)
	}
	code, out, _ = runCLI(t, "", "audit", "export", "--recording", voice.ID, "--data", env.dir)
	found := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e recvault.AuditEvent
		if json.Unmarshal([]byte(line), &e) == nil && e.Action == recvault.ActionDelete && e.Outcome == recvault.OutcomeGranted &&
			e.Actor == "admin" && e.Detail == "erasure request 7" {
			found = true
		}
	}
	if code != 0 || !found {
		t.Fatalf("no granted delete in the audit:\n%s", out)
	}
	// The identity is free: ingesting it again makes a new recording.
	src := filepath.Join(t.TempDir(), "again.wav")
	if err := os.WriteFile(src, wavPCM16(16000, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI(t, "", "ingest", "--campaign", "110", "--crt-object-id", "1621413752-2011-voice", "--call-id", "1621413752-2011",
		"--agent", "4977", "--data", env.dir, src); code != 0 {
		t.Fatalf("re-ingest: %s%s", out, errs)
	}
	if again := env.recordingID(110, "1621413752-2011-voice"); again.ID == voice.ID {
		t.Fatal("re-ingest resurrected the deleted id")
	}
}

// TestRetentionResumeAfterCrash: a deletion cut by a crash after its
// catalog step (tombstone "deleting", blob present) is finished by the
// next purge, on whichever backend the suite runs.
func TestRetentionResumeAfterCrash(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	rec := env.recordingID(120, "d741-6904fad1-vce-daf-700001")
	if _, err := env.app.cat.BeginDelete(ctx, rec.ID, "cli", "crash test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := env.app.blobs.Open(ctx, rec.BlobKey); err != nil {
		t.Fatalf("blob gone before resume: %v", err)
	}
	resp, b := env.do("GET", "/api/v1/recordings/"+rec.ID, env.loginDemo("admin"), nil)
	wantError(t, resp, b, 404, recvault.ENOTFOUND)
	code, out, errs := runCLI(t, "", "purge", "--data", env.dir)
	if code != 0 || !strings.Contains(out, "1 interrupted deletions finished") {
		t.Fatalf("purge: %d %s%s", code, out, errs)
	}
	if _, err := env.app.blobs.Open(ctx, rec.BlobKey); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("blob not removed by the resumed deletion: %v", err)
	}
	ts, err := env.app.cat.Tombstones(ctx, "", 10)
	if err != nil || len(ts) != 1 || ts[0].State != recvault.TombstoneDone {
		t.Fatalf("tombstones: %+v %v", ts, err)
	}
}

// TestRetentionServePurge: serve finishes interrupted deletions at start
// and runs the purge every --purge-every.
func TestRetentionServePurge(t *testing.T) {
	dir := t.TempDir()
	loc := testLocations(t, dir)
	stores := []string{"--catalog", loc.Catalog, "--blobs", loc.Blobs, "--cache-dir", filepath.Join(dir, "cache")}
	cli := func(args ...string) {
		t.Helper()
		if code, out, errs := runCLI(t, "", append(args, stores...)...); code != 0 {
			t.Fatalf("%v: %d %s%s", args, code, out, errs)
		}
	}
	src := filepath.Join(t.TempDir(), "a.wav")
	if err := os.WriteFile(src, wavPCM16(16000, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, at := range []string{"2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z", time.Now().UTC().Format(time.RFC3339)} {
		cli("ingest", "--campaign", "110", "--crt-object-id", "s-"+itoa(i), "--call-id", "c-"+itoa(i), "--agent", "4977", "--started-at", at, src)
	}
	cli("retention", "set", "--default", "--days", "30")
	ctx := context.Background()
	a, err := openApp(ctx, loc, appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	crashed, err := a.cat.RecordingByIdentity(ctx, 110, "s-0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.cat.BeginDelete(ctx, crashed.ID, "cli", "crash test", time.Now()); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	var out, errs syncBuffer
	go func() {
		done <- run(sctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--purge-every", "50ms"}, stores...), strings.NewReader(""), &out, &errs)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := a.cat.RecordingByIdentity(ctx, 110, "s-1")
		pending, perr := a.cat.Tombstones(ctx, recvault.TombstoneDeleting, 10)
		if perr != nil {
			t.Fatal(perr)
		}
		if recvault.ErrorCode(err) == recvault.ENOTFOUND && len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			<-done
			t.Fatalf("serve did not purge (err %v, %d deleting):\n%s", err, len(pending), &errs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d:\n%s", code, &errs)
	}
	if _, err := a.cat.RecordingByIdentity(ctx, 110, "s-2"); err != nil {
		t.Fatalf("recording within retention purged: %v", err)
	}
	for _, key := range []string{crashed.BlobKey} {
		if _, err := a.blobs.Open(ctx, key); recvault.ErrorCode(err) != recvault.ENOTFOUND {
			t.Fatalf("blob of the interrupted deletion left: %v", err)
		}
	}
}

// TestPurgeKilledMidway kills a real `recvault purge` process with
// SIGKILL while it deletes: every recording is then either whole (its row
// and its readable blob) or tombstoned, never a row whose bytes are gone;
// a purge started before the dead run's lease expires says so clearly,
// and the first purge after it finishes the interrupted deletions and the
// rest.
func TestPurgeKilledMidway(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := testLocations(t, dir)
	a := openWithKey(t, loc, "")
	const n = 400
	old := time.Now().Add(-100 * 24 * time.Hour)
	srcs := map[string][]byte{}
	for i := range n {
		req := ingestReq(330, fmt.Sprintf("old-%d", i))
		req.StartedAt = old
		src := wavPCM16(200+i, i)
		r, _, err := a.svc.Ingest(ctx, nil, req, bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		srcs[r.ID] = src
	}
	store := storeArgs(loc, dir)
	if code, out, errs := runCLI(t, "", append([]string{"retention", "set", "--campaign", "330", "--days", "30"}, store...)...); code != 0 {
		t.Fatalf("retention set: %s%s", out, errs)
	}
	cmd := child(t, append([]string{"purge"}, store...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ts, err := a.cat.Tombstones(ctx, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("purge deleted nothing in 30 s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("purge killed: %v", cmd.Wait())

	tomb := map[string]string{}
	all, err := a.cat.Tombstones(ctx, "", 10*n)
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range all {
		tomb[ts.RecordingID] = ts.State
	}
	alive := 0
	for id, src := range srcs {
		r, err := a.cat.Recording(ctx, id)
		if recvault.ErrorCode(err) == recvault.ENOTFOUND {
			if tomb[id] == "" {
				t.Fatalf("recording %s gone without a tombstone", id)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if tomb[id] != "" {
			t.Fatalf("recording %s has a row and a tombstone (%s)", id, tomb[id])
		}
		b, err := a.blobs.(interface {
			OpenVerified(context.Context, string, string) (recvault.Blob, error)
		}).OpenVerified(ctx, r.BlobKey, r.SHA256)
		if err != nil {
			t.Fatalf("recording %s has a row but its bytes are gone: %v", id, err)
		}
		got, err := io.ReadAll(b)
		b.Close()
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("recording %s after the kill: %d bytes, %v", id, len(got), err)
		}
		alive++
	}
	deleting := 0
	for _, st := range tomb {
		if st == recvault.TombstoneDeleting {
			deleting++
		}
	}
	t.Logf("the kill left %d recordings, %d tombstones (%d still deleting)", alive, len(tomb), deleting)
	if alive == 0 {
		t.Fatal("the purge finished before it was killed: nothing was cut")
	}
	// The dead run still holds the purge lease.
	code, out, errs := runCLI(t, "", append([]string{"purge"}, store...)...)
	if code == 0 || !strings.Contains(errs, "another purge is running") || !strings.Contains(errs, "lease") {
		t.Fatalf("purge right after the kill: %d %q %q", code, out, errs)
	}
	// Once the lease has run out, the next purge finishes everything.
	later := time.Now().Add(11 * time.Minute)
	loc2 := loc
	b, err := openApp(ctx, loc2, appOptions{Logger: quietLog, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rep, err := b.svc.Purge(vault.WithRequestInfo(ctx, vault.RequestInfo{Via: "cli"}), false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resumed != deleting || rep.Deleted != alive || rep.Failed != 0 {
		t.Fatalf("purge after the lease: %d resumed, %d deleted, %d failed; want %d, %d, 0", rep.Resumed, rep.Deleted, rep.Failed, deleting, alive)
	}
	for id := range srcs {
		if _, err := b.cat.Recording(ctx, id); recvault.ErrorCode(err) != recvault.ENOTFOUND {
			t.Fatalf("recording %s survived the purge: %v", id, err)
		}
	}
	if pending, err := b.cat.Tombstones(ctx, recvault.TombstoneDeleting, 10); err != nil || len(pending) != 0 {
		t.Fatalf("deletions still pending: %d %v", len(pending), err)
	}
	if left := rawCount(t, b); left != 0 {
		t.Fatalf("%d blobs left after purging every recording", left)
	}
}

// TestDeleteDropsCachedConversions: deleting a recording through the API
// drops its outputs from the transcode cache (conversions of MP3 sources
// are cached; those of PCM and G.711 are computed by offset).
func TestDeleteDropsCachedConversions(t *testing.T) {
	env := startEnv(t)
	src, err := os.ReadFile("../../media/testdata/call-mono.mp3")
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := env.app.svc.Ingest(context.Background(), nil, ingestReq(110, "mp3-del"), bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	admin := env.loginDemo("admin")
	path := "/api/v1/recordings/" + rec.ID
	for _, q := range []string{"?format=wav", "?format=wav&rate=16000"} {
		if resp, b := env.do("GET", path+"/media"+q, admin, nil); resp.StatusCode != 200 {
			t.Fatalf("%s before deletion: %d %s", q, resp.StatusCode, b)
		}
	}
	_, cached, _ := env.app.cache.Stats()
	if cached != 2 {
		t.Fatalf("%d outputs cached after two conversions of an MP3, want 2", cached)
	}
	if resp, b := env.do("DELETE", path+"?reason=erasure", admin, nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	if _, left, _ := env.app.cache.Stats(); left != 0 {
		t.Fatalf("%d outputs cached after the deletion: its conversions were kept", left)
	}
}
