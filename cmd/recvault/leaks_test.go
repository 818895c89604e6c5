package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/recvault/recvault"
)

// TestDeniedLooksMissing: on every route that names a recording, a
// recording the caller may not see is answered byte for byte like one that
// does not exist (the request id header aside), while the audit trail
// records the first as denied and the second as not found.
func TestDeniedLooksMissing(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	seed := env.recordingID(110, seedCRT) // agent 5001's call
	video := env.recordingID(110, "1621413752-2011-video")
	same := func(route string, denied, missing []byte, dCode, mCode int) {
		t.Helper()
		if dCode != mCode || !bytes.Equal(denied, missing) {
			t.Errorf("%s: denied %d %q, missing %d %q", route, dCode, denied, mCode, missing)
		}
	}

	// Native API, as agent 4977 (not 5001's calls) and as a supervisor of
	// campaign 110 asking for another campaign's video by its kind.
	tok := env.loginDemo("agent4977@example.com")
	for _, suffix := range []string{"", "/media", "/media?format=wav", "/media?format=mp3&channels=agent"} {
		r1, b1 := env.do("GET", "/api/v1/recordings/"+seed.ID+suffix, tok, nil)
		r2, b2 := env.do("GET", "/api/v1/recordings/00000000000000000000"+suffix, tok, nil)
		same("v1 "+suffix, b1, b2, r1.StatusCode, r2.StatusCode)
		if r1.StatusCode != 404 {
			t.Errorf("v1 %s denied: %d", suffix, r1.StatusCode)
		}
	}
	// Formats are validated after authorisation: asking another agent's
	// video as MP3 must not answer "400: a video" (which tells its kind).
	tok5001 := env.loginDemo("agent5001@example.com")
	r1, b1 := env.do("GET", "/api/v1/recordings/"+video.ID+"/media?format=mp3", tok5001, nil)
	r2, b2 := env.do("GET", "/api/v1/recordings/00000000000000000000/media?format=mp3", tok5001, nil)
	same("v1 video as mp3", b1, b2, r1.StatusCode, r2.StatusCode)

	// Ameyo downloadVoiceLog and the legacy command, as agent 4977.
	sid := env.ameyoLogin("agent4977@example.com", true)
	dl := "/ameyorestapi/cc/downloadVoiceLog?campaignId=110&targetFormat=wav&filters={callId:d741-6904fad1-vcall-10989826}&crtObjectId="
	ra, ba := env.rawGET(dl+seedCRT, "Sessionid: "+sid)
	rb, bb := env.rawGET(dl+"no-such-crt", "Sessionid: "+sid)
	same("ameyo downloadVoiceLog", ba, bb, ra.StatusCode, rb.StatusCode)
	cmd := "/ameyowebaccess/command?command=downloadVoiceLog&data={crtObjectId:'"
	ra, ba = env.rawGET(cmd+seedCRT+"'}", "Sessionid: "+sid)
	rb, bb = env.rawGET(cmd+"no-such-crt'}", "Sessionid: "+sid)
	same("ameyo command", ba, bb, ra.StatusCode, rb.StatusCode)

	// CC-Gateway, as agent 5001 (whose calls are not 4977's) and as the
	// inspector 4900 (who inspects 4977, not 5001).
	env.app.svc.Ingest(ctx, nil, ingestReqPath(110, "p4977", "4977", "Y:/1/0/20260101/4977/9.V3"), bytes.NewReader(wavPCM16(800, 3)))
	g := env.ccSignIn("5001", "agent-demo-pass", "")
	for _, pair := range [][2]string{
		{"/recordfile/5001/recordfiledownloadEx?callId=1621413752-2011", "/recordfile/5001/recordfiledownloadEx?callId=1621413752-9999"},
		{"/recordfile/5001?recordId=Y:/1/0/20260101/4977/9.V3&filetype=1", "/recordfile/5001?recordId=Y:/1/0/20260101/4977/0.V3&filetype=1"},
		{"/recordplay/5001/recordfilefromrecordid?recordid=Y:/1/0/20260101/4977/9.V3", "/recordplay/5001/recordfilefromrecordid?recordid=Y:/1/0/20260101/4977/0.V3"},
		{"/qualitycontrol/5001/localrecordpath?format=1&recordId=Y:/1/0/20260101/4977/9.V3", "/qualitycontrol/5001/localrecordpath?format=1&recordId=Y:/1/0/20260101/4977/0.V3"},
	} {
		ra, ba, _ := env.rawDo("GET", ccgw+pair[0], "", "Guid: "+g)
		rb, bb, _ := env.rawDo("GET", ccgw+pair[1], "", "Guid: "+g)
		same("ccgw "+pair[0], ba, bb, ra.StatusCode, rb.StatusCode)
		wantRetcode(t, ra, ba, "108-001")
	}
	env.app.svc.Ingest(ctx, nil, ingestReqPath(110, "p5001", "5001", "Y:/1/0/20260101/5001/7.V3"), bytes.NewReader(wavPCM16(800, 9)))
	gi := env.ccSignIn("4900", "inspector-demo-pass", "")
	ra, ba, _ = env.rawDo("GET", ccgw+"/recordfile/4900?recordId=Y:/1/0/20260101/5001/7.V3&filetype=1", "", "Guid: "+gi)
	rb, bb, _ = env.rawDo("GET", ccgw+"/recordfile/4900?recordId=Y:/1/0/20260101/5001/8.V3&filetype=1", "", "Guid: "+gi)
	same("ccgw inspector by path", ba, bb, ra.StatusCode, rb.StatusCode)

	// The audit trail tells them apart.
	ev, err := env.app.cat.Audit(ctx, 500)
	if err != nil {
		t.Fatal(err)
	}
	var denied, missing int
	for _, e := range ev {
		if e.RecordingID == seed.ID && e.Outcome == recvault.OutcomeDenied {
			denied++
		}
		if e.Outcome == recvault.OutcomeNotFound {
			missing++
		}
	}
	if denied < 5 || missing < 6 { // v1 ×4 and downloadVoiceLog; the command searches only the caller's scope
		t.Fatalf("audit: %d denials of the seed recording, %d not-found records; want both recorded as such", denied, missing)
	}
}

// TestListAndMetadataAudited: a listing is audited with its filter and the
// ids it returned; a metadata read is audited too.
func TestListAndMetadataAudited(t *testing.T) {
	env := startEnv(t)
	tok := env.loginDemo("supervisor@exotel.in")
	resp, b := env.do("GET", "/api/v1/recordings?campaign=110", tok, nil, "X-Request-Id", "list-request-0001")
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	seed := env.recordingID(110, seedCRT)
	env.do("GET", "/api/v1/recordings/"+seed.ID, tok, nil, "X-Request-Id", "meta-request-0001")
	ev, err := env.app.cat.Audit(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var list, meta *recvault.AuditEvent
	for i := range ev {
		switch ev[i].RequestID {
		case "list-request-0001":
			list = &ev[i]
		case "meta-request-0001":
			meta = &ev[i]
		}
	}
	if list == nil || list.Action != recvault.ActionList || list.Outcome != recvault.OutcomeGranted ||
		list.Subject != "campaign=110" || len(list.RecordingIDs) != 4 || list.Actor != "supervisor@exotel.in" ||
		list.Role != "supervisor" || list.API != "v1" {
		t.Fatalf("list audit record: %+v", list)
	}
	if meta == nil || meta.Action != recvault.ActionMetadata || meta.RecordingID != seed.ID || meta.Outcome != recvault.OutcomeGranted {
		t.Fatalf("metadata audit record: %+v", meta)
	}
}

// TestAdminChangesAudited: user and key administration from the command
// line lands in the audit trail with what changed.
func TestAdminChangesAudited(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RECVAULT_PASSWORD", "admin-change-pass")
	for _, args := range [][]string{
		{"user", "add", "--data", dir, "--login", "ops@example.com", "--role", "admin"},
		{"user", "disable", "--data", dir, "--login", "ops@example.com"},
		{"apikey", "add", "--data", dir, "--name", "k1", "--role", "supervisor", "--campaign", "1"},
		{"apikey", "revoke", "--data", dir, "--name", "k1"},
	} {
		if code, _, errs := runCLI(t, "", args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
	}
	if code, _, _ := runCLI(t, "", "user", "disable", "--data", dir, "--login", "nobody@example.com"); code == 0 {
		t.Fatal("disabling an unknown user succeeded")
	}
	a, err := openApp(context.Background(), dirLocations(dir), appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ev, err := a.cat.Audit(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]recvault.AuditOutcome{
		"add user ops@example.com role admin":     recvault.OutcomeGranted,
		"set disabled=true on ops@example.com":    recvault.OutcomeGranted,
		"add key k1 role supervisor":              recvault.OutcomeGranted,
		"revoke key k1":                           recvault.OutcomeGranted,
		"set disabled=true on nobody@example.com": recvault.OutcomeNotFound,
	}
	for _, e := range ev {
		if o, ok := want[e.Subject]; ok && o == e.Outcome && e.Actor == "cli" && (e.Action == recvault.ActionUserAdmin || e.Action == recvault.ActionKeyAdmin) {
			delete(want, e.Subject)
		}
	}
	if len(want) > 0 {
		t.Fatalf("administrative changes not audited: %v", want)
	}
}
