package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

func TestRange(t *testing.T) {
	env := startEnv(t)
	tok := env.loginDemo("admin")
	rec := env.recordingID(110, "1621413752-2011-voice")
	path := "/api/v1/recordings/" + rec.ID + "/media"
	_, full := env.do("GET", path, tok, nil)
	if int64(len(full)) != rec.Size || sha(full) != rec.SHA256 {
		t.Fatalf("full download %d bytes, want %d", len(full), rec.Size)
	}
	etag := `"` + rec.SHA256[:32] + `"`
	cases := []struct {
		name     string
		hdr      []string
		status   int
		body     []byte
		rangeHdr string
	}{
		{"first bytes", []string{"Range", "bytes=0-99"}, 206, full[:100], fmt.Sprintf("bytes 0-99/%d", len(full))},
		{"middle", []string{"Range", "bytes=1000-1999"}, 206, full[1000:2000], fmt.Sprintf("bytes 1000-1999/%d", len(full))},
		{"suffix", []string{"Range", "bytes=-10"}, 206, full[len(full)-10:], fmt.Sprintf("bytes %d-%d/%d", len(full)-10, len(full)-1, len(full))},
		{"open end", []string{"Range", fmt.Sprintf("bytes=%d-", len(full)-5)}, 206, full[len(full)-5:], ""},
		{"If-Range matching", []string{"Range", "bytes=0-9", "If-Range", etag}, 206, full[:10], ""},
		{"If-Range stale", []string{"Range", "bytes=0-9", "If-Range", `"0000"`}, 200, full, ""},
		{"If-None-Match", []string{"If-None-Match", etag}, 304, nil, ""},
		{"unsatisfiable", []string{"Range", fmt.Sprintf("bytes=%d-", len(full)+10)}, 416, nil, ""},
	}
	for _, c := range cases {
		resp, b := env.do("GET", path, tok, nil, c.hdr...)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
			continue
		}
		if c.body != nil && !bytes.Equal(b, c.body) {
			t.Errorf("%s: body differs (%d bytes, want %d)", c.name, len(b), len(c.body))
		}
		if c.rangeHdr != "" && resp.Header.Get("Content-Range") != c.rangeHdr {
			t.Errorf("%s: Content-Range %q, want %q", c.name, resp.Header.Get("Content-Range"), c.rangeHdr)
		}
		if c.status == 416 && resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(full)) {
			t.Errorf("416 Content-Range %q", resp.Header.Get("Content-Range"))
		}
	}
}

func TestUnauthenticated(t *testing.T) {
	env := startEnv(t)
	rec := env.recordingID(110, "d741-6904fad1-vce-daf-638729")
	media := "/api/v1/recordings/" + rec.ID + "/media"

	check := func(name, token string) {
		t.Helper()
		resp, b := env.do("GET", media, token, nil)
		wantError(t, resp, b, 401, recvault.EUNAUTHENTICATED)
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", name)
		}
	}
	check("no token", "")
	check("garbage token", "not-a-token")
	check("long token", strings.Repeat("x", 5000))

	// Idle timeout: 30 minutes without a request.
	tok := env.loginDemo("admin")
	if resp, _ := env.do("GET", media, tok, nil); resp.StatusCode != 200 {
		t.Fatal("fresh token refused")
	}
	env.clock.Advance(29 * time.Minute)
	if resp, _ := env.do("GET", media, tok, nil); resp.StatusCode != 200 {
		t.Fatal("token refused before the idle timeout")
	}
	env.clock.Advance(31 * time.Minute)
	check("idle-expired token", tok)

	// Absolute lifetime: 12 hours even with constant activity.
	tok = env.loginDemo("admin")
	for i := 0; i < 12*3; i++ {
		env.clock.Advance(20 * time.Minute)
		if i < 12*3-1 {
			if resp, b := env.do("GET", media, tok, nil); resp.StatusCode != 200 {
				t.Fatalf("active token refused after %d min: %s", (i+1)*20, b)
			}
		}
	}
	check("token past its absolute lifetime", tok)

	// Logout revokes at once.
	tok = env.loginDemo("admin")
	if resp, _ := env.do("DELETE", "/api/v1/sessions/current", tok, nil); resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	check("logged-out token", tok)

	// Disabling a user revokes its sessions; so does a password change.
	tok = env.loginDemo("agent5001@example.com")
	if err := env.app.svc.SetDisabled(context.Background(), "agent5001@example.com", true); err != nil {
		t.Fatal(err)
	}
	check("disabled user's token", tok)
	resp, b := env.do("POST", "/api/v1/sessions", "", strings.NewReader(`{"login":"agent5001@example.com","password":"agent-demo-pass"}`))
	wantError(t, resp, b, 401, recvault.EUNAUTHENTICATED)
	tok = env.loginDemo("agent4977@example.com")
	env.app.svc.SetPassword(context.Background(), "agent4977@example.com", "a-new-password")
	check("token after password change", tok)

	// Bad logins: same answer for unknown user and wrong password.
	r1, b1 := env.do("POST", "/api/v1/sessions", "", strings.NewReader(`{"login":"admin","password":"wrong-password"}`))
	r2, b2 := env.do("POST", "/api/v1/sessions", "", strings.NewReader(`{"login":"nobody","password":"wrong-password"}`))
	wantError(t, r1, b1, 401, recvault.EUNAUTHENTICATED)
	wantError(t, r2, b2, 401, recvault.EUNAUTHENTICATED)
	if !bytes.Equal(b1, b2) {
		t.Errorf("unknown login and wrong password answer differently: %s vs %s", b1, b2)
	}
	resp, b = env.do("POST", "/api/v1/sessions", "", strings.NewReader(`not json`))
	wantError(t, resp, b, 400, recvault.EINVALID)
	if strings.Contains(env.logs.String(), "wrong-password") || strings.Contains(env.logs.String(), "admin-demo-pass") {
		t.Error("a password reached the log")
	}
}

// TestRolesAcrossRecordings downloads every demo recording as every demo
// user and checks allow/deny against the roles' rules, for media, metadata
// and listing alike.
func TestRolesAcrossRecordings(t *testing.T) {
	env := startEnv(t)
	recs := map[string]*recvault.Recording{}
	for _, crt := range []string{"d741-6904fad1-vce-daf-638729", "1621413752-2011-voice", "1621413752-2011-video", "d741-6904fad1-vce-daf-638730"} {
		recs[crt] = env.recordingID(110, crt)
	}
	recs["d741-6904fad1-vce-daf-700001"] = env.recordingID(120, "d741-6904fad1-vce-daf-700001")
	allowed := map[string][]string{
		"admin":                 {"d741-6904fad1-vce-daf-638729", "1621413752-2011-voice", "1621413752-2011-video", "d741-6904fad1-vce-daf-638730", "d741-6904fad1-vce-daf-700001"},
		"supervisor@exotel.in":  {"d741-6904fad1-vce-daf-638729", "1621413752-2011-voice", "1621413752-2011-video", "d741-6904fad1-vce-daf-638730"},
		"inspector@example.com": {"1621413752-2011-voice", "1621413752-2011-video"},
		"agent4977@example.com": {"1621413752-2011-voice", "1621413752-2011-video"},
		"agent5001@example.com": {"d741-6904fad1-vce-daf-638729", "d741-6904fad1-vce-daf-638730"},
	}
	for login, ok := range allowed {
		tok := env.loginDemo(login)
		may := map[string]bool{}
		for _, c := range ok {
			may[c] = true
		}
		for crt, rec := range recs {
			for _, path := range []string{"/api/v1/recordings/" + rec.ID, "/api/v1/recordings/" + rec.ID + "/media"} {
				resp, b := env.do("GET", path, tok, nil)
				if may[crt] {
					if resp.StatusCode != 200 {
						t.Errorf("%s GET %s (%s): %d, want 200", login, path, crt, resp.StatusCode)
					}
					if strings.HasSuffix(path, "/media") && sha(b) != rec.SHA256 {
						t.Errorf("%s: %s bytes differ", login, crt)
					}
				} else {
					wantError(t, resp, b, 404, recvault.ENOTFOUND) // not theirs: as if missing
				}
			}
		}
		resp, b := env.do("GET", "/api/v1/recordings", tok, nil)
		var list struct {
			Recordings []struct{ CRTObjectID string } `json:"recordings"`
		}
		json.Unmarshal(b, &list)
		if resp.StatusCode != 200 || len(list.Recordings) != len(ok) {
			t.Errorf("%s lists %d recordings, want %d: %s", login, len(list.Recordings), len(ok), b)
		}
		for _, r := range list.Recordings {
			if !may[r.CRTObjectID] {
				t.Errorf("%s's listing leaked %s", login, r.CRTObjectID)
			}
		}
	}
	tok := env.loginDemo("admin")
	resp, b := env.do("GET", "/api/v1/recordings/00000000000000000000/media", tok, nil)
	wantError(t, resp, b, 404, recvault.ENOTFOUND)
	resp, b = env.do("GET", "/api/v1/recordings/../../etc/passwd", tok, nil)
	if resp.StatusCode != 404 {
		t.Errorf("path games: %d %s", resp.StatusCode, b)
	}
	resp, b = env.do("GET", "/api/v1/recordings?campaign=abc", tok, nil)
	wantError(t, resp, b, 400, recvault.EINVALID)
	resp, b = env.do("GET", "/api/v1/recordings?from=yesterday", tok, nil)
	wantError(t, resp, b, 400, recvault.EINVALID)
	resp, b = env.do("GET", "/api/v1/recordings?cursor=zzz", tok, nil)
	wantError(t, resp, b, 400, recvault.EINVALID)

	// Every refused download reached the audit trail.
	ev, err := env.app.cat.Audit(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, e := range ev {
		if e.Action == "download" && e.Outcome == "denied" && e.Actor == "agent5001@example.com" && e.API == "v1" && e.RequestID != "" {
			denied++
		}
	}
	if denied != 3 {
		t.Errorf("audit holds %d denied downloads by agent5001, want 3", denied)
	}
}

func TestIngestAPI(t *testing.T) {
	env := startEnv(t)
	admin := env.loginDemo("admin")
	wav := wavPCM16(8000, 1)
	q := "/api/v1/recordings?campaign=300&crtObjectId=crt-api-1&callId=call-api-1&agent=4977&startedAt=2026-02-03T04:05:06Z"

	resp, b := env.do("POST", q, admin, bytes.NewReader(wav), "Content-Type", "audio/wav")
	if resp.StatusCode != 201 {
		t.Fatalf("ingest: %d %s", resp.StatusCode, b)
	}
	var rec struct {
		ID              string  `json:"id"`
		SHA256          string  `json:"sha256"`
		Size            int64   `json:"size"`
		DurationSeconds float64 `json:"durationSeconds"`
		Kind            string  `json:"kind"`
		StartedAt       string  `json:"startedAt"`
	}
	json.Unmarshal(b, &rec)
	if rec.SHA256 != sha(wav) || rec.Size != int64(len(wav)) || rec.DurationSeconds != 1 || rec.Kind != "voice" ||
		rec.StartedAt != "2026-02-03T04:05:06Z" || resp.Header.Get("Location") != "/api/v1/recordings/"+rec.ID {
		t.Fatalf("ingested %s", b)
	}
	// Identical again: 200, the same recording.
	resp, b = env.do("POST", q, admin, bytes.NewReader(wav))
	if resp.StatusCode != 200 || !strings.Contains(string(b), rec.ID) {
		t.Fatalf("idempotent re-ingest: %d %s", resp.StatusCode, b)
	}
	// Different bytes under the same identity: 409, and the stored bytes stay.
	resp, b = env.do("POST", q, admin, bytes.NewReader(wavPCM16(8000, 2)))
	wantError(t, resp, b, 409, recvault.ECONFLICT)
	// Same bytes, other metadata under the same identity: also 409.
	resp, b = env.do("POST", strings.Replace(q, "agent=4977", "agent=4978", 1), admin, bytes.NewReader(wav))
	wantError(t, resp, b, 409, recvault.ECONFLICT)
	_, got := env.do("GET", "/api/v1/recordings/"+rec.ID+"/media", admin, nil)
	if sha(got) != sha(wav) {
		t.Fatal("a conflicting ingest changed the stored bytes")
	}

	// Multipart, fields before the file.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for k, v := range map[string]string{"campaign": "300", "crtObjectId": "crt-api-2", "callId": "call-api-2", "agent": "4977", "kind": "voice"} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "x.wav")
	fw.Write(wavPCM16(4000, 3))
	mw.Close()
	resp, b = env.do("POST", "/api/v1/recordings", admin, &mp, "Content-Type", mw.FormDataContentType())
	if resp.StatusCode != 201 {
		t.Fatalf("multipart ingest: %d %s", resp.StatusCode, b)
	}

	// Refusals.
	bad := []struct {
		name   string
		query  string
		body   []byte
		status int
		code   string
		msg    string
	}{
		{"corrupt media", "campaign=300&crtObjectId=c3&callId=k&agent=a", []byte("this is not audio at all, just text"), 400, recvault.EINVALID, "not a recognised media format"},
		{"truncated wav", "campaign=300&crtObjectId=c4&callId=k&agent=a", wav[:30], 400, recvault.EINVALID, "wav"},
		{"empty body", "campaign=300&crtObjectId=c5&callId=k&agent=a", nil, 400, recvault.EINVALID, "empty"},
		{"no campaign", "crtObjectId=c6&callId=k&agent=a", wav, 400, recvault.EINVALID, "campaign"},
		{"no crt", "campaign=300&callId=k&agent=a", wav, 400, recvault.EINVALID, "crt object id"},
		{"bad kind", "campaign=300&crtObjectId=c7&callId=k&agent=a&kind=fax", wav, 400, recvault.EINVALID, "kind"},
		{"kind mismatch", "campaign=300&crtObjectId=c8&callId=k&agent=a&kind=video", wav, 400, recvault.EINVALID, "video"},
		{"bad codec", "campaign=300&crtObjectId=c9&callId=k&agent=a&codec=gsm", wav, 400, recvault.EINVALID, "codec"},
		{"bad time", "campaign=300&crtObjectId=c10&callId=k&agent=a&startedAt=today", wav, 400, recvault.EINVALID, "RFC 3339"},
	}
	for _, c := range bad {
		resp, b := env.do("POST", "/api/v1/recordings?"+c.query, admin, bytes.NewReader(c.body))
		wantError(t, resp, b, c.status, c.code)
		if !strings.Contains(string(b), c.msg) {
			t.Errorf("%s: message %s does not mention %q", c.name, b, c.msg)
		}
	}
	// Only admins ingest.
	sup := env.loginDemo("supervisor@exotel.in")
	resp, b = env.do("POST", "/api/v1/recordings?campaign=110&crtObjectId=x&callId=y&agent=z", sup, bytes.NewReader(wav))
	wantError(t, resp, b, 403, recvault.EFORBIDDEN)
	resp, b = env.do("POST", "/api/v1/recordings?campaign=110&crtObjectId=x&callId=y&agent=z", "", bytes.NewReader(wav))
	wantError(t, resp, b, 401, recvault.EUNAUTHENTICATED)

	// Refused ingests left no blobs behind: only the 5 demo + 2 accepted remain.
	if n := env.blobCount(); n != 7 {
		t.Errorf("%d blob files, want 7", n)
	}
}

func TestUnknownEndpointAndPanicSafety(t *testing.T) {
	env := startEnv(t)
	resp, b := env.do("GET", "/api/v1/nothing-here", "", nil)
	wantError(t, resp, b, 404, recvault.ENOTFOUND)
	resp, _ = env.do("GET", "//api//v1//recordings", "", nil)
	if resp.StatusCode != 401 {
		t.Errorf("double slashes: %d, want 401 (routed, not redirected)", resp.StatusCode)
	}
	resp, _ = env.do("GET", "/healthz", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
}
