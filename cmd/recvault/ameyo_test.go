package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	seedCampaign = "110"
	seedCRT      = "d741-6904fad1-vce-daf-638729"
	seedCall     = "d741-6904fad1-vcall-10989826"
	// seedQuery is the query of the seed's curl example, byte for byte.
	seedQuery = "campaignId=110&crtObjectId=d741-6904fad1-vce-daf-638729&targetFormat=mp3&filters={callId%d741-6904fad1-vcall-10989826}"
)

// ameyoLogin signs in through userLogin and returns the session id.
func (e *testEnv) ameyoLogin(user string, force bool) string {
	e.t.Helper()
	body := fmt.Sprintf(`{"userId":%q,"token":%q,"forceLogin":%v,"terminalInfo":"recvault-test"}`, user, demoPassword(e.t, user), force)
	resp, b := e.do("POST", "/ameyorestapi/session/userLogin", "", strings.NewReader(body), "Content-Type", "application/json")
	if resp.StatusCode != 200 {
		e.t.Fatalf("userLogin %s: %d %s", user, resp.StatusCode, b)
	}
	var out struct{ SessionID string }
	json.Unmarshal(b, &out)
	return out.SessionID
}

// rawGET sends a request line and headers exactly as given over a fresh
// connection, so that nothing normalises the query or the header casing.
func (e *testEnv) rawGET(target string, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	req := "GET " + target + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(e.URL, "http://") + "\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	req += "Connection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

type ameyoError struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
	Info    string `json:"info"`
	Status  int    `json:"status"`
}

func wantAmeyoError(t *testing.T, resp *http.Response, b []byte, status int, message string, code int, info string) {
	t.Helper()
	var e ameyoError
	if resp.StatusCode != status || json.Unmarshal(b, &e) != nil || e.Message != message || e.Status != status ||
		(code != 0 && e.Code != code) || !strings.Contains(e.Info, info) {
		t.Fatalf("got %d %s, want %d %s code %d info ~%q", resp.StatusCode, b, status, message, code, info)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("error Content-Type %q", resp.Header.Get("Content-Type"))
	}
}

func TestAmeyoSeedCurlByteForByte(t *testing.T) {
	curl := needTool(t, "curl")
	env := startEnv(t)
	sid := env.ameyoLogin("supervisor@exotel.in", false)
	if !regexp.MustCompile(`^[0-9a-f]{4}-[0-9a-f]{8}-ses-supervisor@exotel\.in-[A-Za-z0-9]{48}-[0-9]{5}$`).MatchString(sid) {
		t.Fatalf("session id %q is not shaped like Ameyo's", sid)
	}
	out := filepath.Join(t.TempDir(), "voicelog")
	hdrs := filepath.Join(t.TempDir(), "headers")
	cmd := exec.Command(curl, "-sS", "--location", "--globoff", "-D", hdrs, "-o", out,
		env.URL+"/ameyorestapi/cc/downloadVoiceLog?"+seedQuery, "--header", "Sessionid: "+sid)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("curl: %v %s", err, b)
	}
	h, _ := os.ReadFile(hdrs)
	if !bytes.Contains(h, []byte("200 OK")) || !bytes.Contains(bytes.ToLower(h), []byte("content-type: audio/mpeg")) ||
		!bytes.Contains(h, []byte(`filename=d741-6904fad1-vce-daf-638729.mp3`)) {
		t.Fatalf("curl headers:\n%s", h)
	}
	body, _ := os.ReadFile(out)
	if p := ffprobe(t, body); !strings.Contains(p, "codec_name=mp3") {
		t.Fatalf("saved voice log is not MP3: %s", p)
	}
	_, orig := env.do("GET", "/api/v1/recordings/"+env.recordingID(110, seedCRT).ID+"/media", env.loginDemo("admin"), nil)
	if s := snr(ffdecode(t, orig, 1), ffdecode(t, body, 1), 3000); s < 8 {
		t.Fatalf("mp3 voice log SNR %.1f dB", s)
	}
}

func TestAmeyoSeedRequestRaw(t *testing.T) {
	env := startEnv(t)
	sid := env.ameyoLogin("supervisor@exotel.in", false)
	// The same request from a Go client that keeps the raw query.
	req, _ := http.NewRequest("GET", env.URL+"/ameyorestapi/cc/downloadVoiceLog", nil)
	req.URL.RawQuery = seedQuery
	req.Header.Set("Sessionid", sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/mpeg" || len(b) < 1000 {
		t.Fatalf("raw query: %d %s %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	// Header name in any letter case, exactly as sent on the wire, and the query parameter.
	for _, h := range []string{"Sessionid: " + sid, "sessionId: " + sid, "SESSIONID: " + sid, "sessionid:" + sid} {
		resp, body := env.rawGET("/ameyorestapi/cc/downloadVoiceLog?"+seedQuery, h)
		if resp.StatusCode != 200 || !bytes.Equal(body, b) {
			t.Errorf("header %q: %d", h, resp.StatusCode)
		}
	}
	resp2, body := env.rawGET("/ameyorestapi/cc/downloadVoiceLog?" + seedQuery + "&sessionId=" + url.QueryEscape(sid))
	if resp2.StatusCode != 200 || !bytes.Equal(body, b) {
		t.Errorf("sessionId query parameter: %d %s", resp2.StatusCode, body[:min(200, len(body))])
	}
	// Range on the MP3 (now cached) and on a first, ranged request for wav.
	resp3, part := env.rawGET("/ameyorestapi/cc/downloadVoiceLog?"+seedQuery, "Sessionid: "+sid, "Range: bytes=100-299")
	if resp3.StatusCode != 206 || !bytes.Equal(part, b[100:300]) {
		t.Errorf("mp3 range: %d", resp3.StatusCode)
	}
	wavQ := strings.Replace(seedQuery, "targetFormat=mp3", "targetFormat=wav", 1)
	resp4, wav := env.rawGET("/ameyorestapi/cc/downloadVoiceLog?"+wavQ, "Sessionid: "+sid)
	if resp4.StatusCode != 200 || resp4.Header.Get("Content-Type") != "audio/wav" ||
		!strings.Contains(resp4.Header.Get("Content-Disposition"), seedCRT+".wav") {
		t.Fatalf("wav: %d %v", resp4.StatusCode, resp4.Header)
	}
	resp5, part := env.rawGET("/ameyorestapi/cc/downloadVoiceLog?"+wavQ, "Sessionid: "+sid, "Range: bytes=44-1043")
	if resp5.StatusCode != 206 || !bytes.Equal(part, wav[44:1044]) {
		t.Errorf("wav range: %d", resp5.StatusCode)
	}
}

func TestAmeyoFiltersForms(t *testing.T) {
	env := startEnv(t)
	sid := env.ameyoLogin("supervisor@exotel.in", false)
	base := "/ameyorestapi/cc/downloadVoiceLog?campaignId=110&crtObjectId=" + seedCRT + "&targetFormat=wav&filters="
	ok := []string{
		"{callId%" + seedCall + "}",
		url.QueryEscape(`{"callId":"` + seedCall + `"}`),
		`{"callId":"` + seedCall + `"}`,
		"{'callId':'" + seedCall + "'}",
		"{callId:" + seedCall + "}",
		"{callId:'" + seedCall + "'}",
		"%7B+%22callId%22+%3A+%22" + seedCall + "%22+%7D",
	}
	for _, f := range ok {
		if resp, b := env.rawGET(base+f, "Sessionid: "+sid); resp.StatusCode != 200 {
			t.Errorf("filters=%s: %d %s", f, resp.StatusCode, b)
		}
	}
	bad := []string{"", "callId", "{callId}", "{}", `{"callId":{"x":1}}`, "%7B", "{other:1}", `{"callId":"x}`, "%zz"}
	for _, f := range bad {
		resp, b := env.rawGET(base+f, "Sessionid: "+sid)
		wantAmeyoError(t, resp, b, 400, "InvalidInput", 40001, "filters")
	}
	// A callId that is not this recording's: 404.
	resp, b := env.rawGET(base+"{callId:d741-6904fad1-vcall-99999999}", "Sessionid: "+sid)
	wantAmeyoError(t, resp, b, 404, "requested.resource.not.found", 0, "")
}

func TestAmeyoErrorRows(t *testing.T) {
	env := startEnv(t)
	sid := env.ameyoLogin("supervisor@exotel.in", false)
	dl := "/ameyorestapi/cc/downloadVoiceLog?"
	full := url.Values{"campaignId": {"110"}, "crtObjectId": {seedCRT}, "targetFormat": {"mp3"}, "filters": {`{"callId":"` + seedCall + `"}`}}
	without := func(k string) string {
		v := url.Values{}
		for kk, vv := range full {
			if kk != k {
				v[kk] = vv
			}
		}
		return v.Encode()
	}
	with := func(k, val string) string {
		v := url.Values{}
		for kk, vv := range full {
			v[kk] = vv
		}
		v.Set(k, val)
		return v.Encode()
	}
	for _, c := range []struct{ q, info string }{
		{without("campaignId"), "campaignId"},
		{without("crtObjectId"), "crtObjectId"},
		{without("targetFormat"), "targetFormat"},
		{without("filters"), "filters"},
		{with("campaignId", "abc"), "campaignId"},
		{with("campaignId", "-1"), "campaignId"},
		{with("targetFormat", "ogg-vorbis"), "targetFormat must be one of original, wav"},
	} {
		resp, b := env.rawGET(dl+c.q, "Sessionid: "+sid)
		wantAmeyoError(t, resp, b, 400, "InvalidInput", 40001, c.info)
	}
	// 401: missing, unknown, expired, logged out.
	resp, b := env.rawGET(dl + full.Encode())
	wantAmeyoError(t, resp, b, 401, "invalid.authentication.token", 909090, "")
	resp, b = env.rawGET(dl+full.Encode(), "Sessionid: d741-6904fad1-ses-supervisor@exotel.in-forged-1")
	wantAmeyoError(t, resp, b, 401, "invalid.authentication.token", 909090, "")
	// 404, not 403: a supervisor of campaign 110 asking for campaign 120
	// learns nothing about what is stored there.
	resp, b = env.rawGET(dl+with("campaignId", "120"), "Sessionid: "+sid)
	wantAmeyoError(t, resp, b, 404, "requested.resource.not.found", 0, "")
	other := "campaignId=120&crtObjectId=d741-6904fad1-vce-daf-700001&targetFormat=wav&filters={callId:d741-6904fad1-vcall-20000001}"
	resp, denied := env.rawGET(dl+other, "Sessionid: "+sid)
	wantAmeyoError(t, resp, denied, 404, "requested.resource.not.found", 0, "")
	// 404: no such crtObjectId in an allowed campaign — the same bytes.
	resp, b = env.rawGET(dl+with("crtObjectId", "no-such-crt"), "Sessionid: "+sid)
	wantAmeyoError(t, resp, b, 404, "requested.resource.not.found", 0, "")
	if !bytes.Equal(b, denied) {
		t.Fatalf("denied and missing differ:\n%s\n%s", denied, b)
	}
	// 500: the stored file is gone; the client learns nothing internal.
	rec := env.recordingID(110, seedCRT)
	env.replaceBlob(rec.BlobKey, nil)
	resp, b = env.rawGET(dl+with("targetFormat", "wav"), "Sessionid: "+sid)
	wantAmeyoError(t, resp, b, 500, "internal.server.error", 50001, "request id")
	if strings.Contains(string(b), "blobs") || strings.Contains(string(b), rec.BlobKey) {
		t.Errorf("500 leaks internals: %s", b)
	}
	rid := resp.Header.Get("X-Request-Id")
	if !strings.Contains(string(b), rid) || !strings.Contains(env.logs.String(), rid) {
		t.Errorf("request id %s not in the answer and the log", rid)
	}
	// Every attempt reached the audit trail, with the façade named.
	ev, _ := env.app.cat.Audit(context.Background(), 1000)
	n := 0
	for _, e := range ev {
		// refused before authentication: "request"; after: "download"
		if e.API == "ameyo" && (e.Action == "download" || e.Action == "request") {
			n++
		}
	}
	if n < 13 {
		t.Errorf("%d ameyo download attempts audited, want at least 13", n)
	}
}

func TestAmeyoSessions(t *testing.T) {
	env := startEnv(t)
	// Newer clients' login.
	resp, b := env.do("POST", "/ameyorestapi/userLogin/login", "", strings.NewReader(
		`{"domain":"exotel","userId":"admin","token":"admin-demo-pass","forceLogin":"false"}`), "correlation", "abc-123")
	var nl struct {
		RequestID       string `json:"requestId"`
		ContactCenterID int    `json:"contactCenterId"`
		UserSessionInfo struct {
			UserID, SessionID, UserType string
			LoginTime                   int64
		} `json:"userSessionInfo"`
		AuthenticationState *string         `json:"authenticationState"`
		Configurations      json.RawMessage `json:"configurations"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &nl) != nil || nl.RequestID == "" || nl.ContactCenterID == 0 ||
		nl.UserSessionInfo.UserType != "Administrator" || nl.UserSessionInfo.UserID != "admin" ||
		nl.AuthenticationState == nil || nl.Configurations == nil || time.Since(time.UnixMilli(nl.UserSessionInfo.LoginTime)) > time.Hour {
		t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	// Without forceLogin a live session is a conflict; with it, it is replaced.
	resp, b = env.do("POST", "/ameyorestapi/userLogin/login", "", strings.NewReader(`{"userId":"admin","token":"admin-demo-pass"}`))
	wantAmeyoError(t, resp, b, 409, "user.already.logged.in", 0, "forceLogin")
	resp, b = env.do("POST", "/ameyorestapi/userLogin/login", "", strings.NewReader(`{"userId":"admin","token":"admin-demo-pass","forceLogin":true}`))
	if resp.StatusCode != 200 {
		t.Fatalf("forceLogin: %d %s", resp.StatusCode, b)
	}
	q := "/ameyorestapi/cc/downloadVoiceLog?" + strings.Replace(seedQuery, "mp3", "wav", 1)
	if resp, _ := env.rawGET(q, "Sessionid: "+nl.UserSessionInfo.SessionID); resp.StatusCode != 401 {
		t.Errorf("replaced session still works: %d", resp.StatusCode)
	}
	// userType per role; wrong password answers like Ameyo 4.x (HTTP 512).
	for login, want := range map[string]string{"supervisor@exotel.in": "Supervisor", "inspector@example.com": "Supervisor", "agent5001@example.com": "Executive"} {
		resp, b := env.do("POST", "/ameyorestapi/session/userLogin", "", strings.NewReader(
			fmt.Sprintf(`{"userId":%q,"token":%q,"forceLogin":true,"terminalInfo":{"ip":"10.0.0.1"}}`, login, demoPassword(t, login))))
		var ul struct {
			UserID, UserType, SessionID string
			TerminalInfo                map[string]string
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &ul) != nil || ul.UserType != want || ul.UserID != login || ul.TerminalInfo["ip"] != "10.0.0.1" {
			t.Errorf("%s: %d %s", login, resp.StatusCode, b)
		}
	}
	resp, b = env.do("POST", "/ameyorestapi/session/userLogin", "", strings.NewReader(`{"userId":"admin","token":"wrong"}`))
	var fe ameyoError
	if resp.StatusCode != 512 || json.Unmarshal(b, &fe) != nil || fe.Status != 512 || fe.Message == "" {
		t.Errorf("failed login: %d %s", resp.StatusCode, b)
	}
	resp, b = env.do("POST", "/ameyorestapi/session/userLogin", "", strings.NewReader(`not json`))
	wantAmeyoError(t, resp, b, 400, "InvalidInput", 40001, "userId")

	// Idle expiry, keep-alive and logout (fake clock).
	sid := env.ameyoLogin("agent5001@example.com", true)
	get := func() int {
		resp, _ := env.rawGET(q, "Sessionid: "+sid)
		return resp.StatusCode
	}
	if get() != 200 {
		t.Fatal("agent 5001 cannot fetch its own call")
	}
	env.clock.Advance(25 * time.Minute)
	resp, b = env.do("POST", "/ameyorestapi/session/keepAliveWithPingPush", "", strings.NewReader(
		`{"sessionId":"`+sid+`","listenerName":"webcore_1700000000000","pushesFollowPing":true,"lastProcessedPushId":-1}`))
	if resp.StatusCode != 200 {
		t.Fatalf("keep-alive: %d %s", resp.StatusCode, b)
	}
	env.clock.Advance(25 * time.Minute) // 50 min since login, 25 since keep-alive
	if get() != 200 {
		t.Fatal("keep-alive did not extend the idle timer")
	}
	env.clock.Advance(31 * time.Minute)
	if get() != 401 {
		t.Fatal("idle session not expired")
	}
	sid = env.ameyoLogin("agent5001@example.com", true)
	resp, b = env.do("POST", "/ameyorestapi/session/userLogout", "", strings.NewReader(`{"sessionId":"`+sid+`","reason":"done"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("logout: %d %s", resp.StatusCode, b)
	}
	if get() != 401 {
		t.Fatal("logged-out session still works")
	}
	resp, b = env.do("POST", "/ameyorestapi/session/keepAliveWithPingPush", "", strings.NewReader(`{"sessionId":"`+sid+`"}`))
	wantAmeyoError(t, resp, b, 401, "invalid.authentication.token", 909090, "")
}

func TestAmeyoRoles(t *testing.T) {
	env := startEnv(t)
	q := "/ameyorestapi/cc/downloadVoiceLog?" + strings.Replace(seedQuery, "mp3", "wav-alaw", 1)
	for user, want := range map[string]int{
		"admin": 200, "supervisor@exotel.in": 200, "agent5001@example.com": 200,
		"agent4977@example.com": 404, "inspector@example.com": 404, // not theirs: as if missing
	} {
		resp, b := env.rawGET(q, "Sessionid: "+env.ameyoLogin(user, true))
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d (%s)", user, resp.StatusCode, want, b[:min(len(b), 200)])
		}
	}
}

func TestAmeyoLegacyCommand(t *testing.T) {
	env := startEnv(t)
	sid := env.ameyoLogin("supervisor@exotel.in", false)
	for data, ctype := range map[string]string{
		`{"crtObjectId":"` + seedCRT + `","targetFormat":"mp3"}`:                  "audio/mpeg",
		url.QueryEscape(`{"crtObjectId":"` + seedCRT + `","targetFormat":"mp3"}`): "audio/mpeg",
		"{'crtObjectId':'" + seedCRT + "','targetFormat':'wav'}":                  "audio/wav",
		"{crtObjectId:'" + seedCRT + "'}":                                         "audio/mpeg",
		url.QueryEscape("{'crtObjectId':'" + seedCRT + "','campaignId':'110'}"):   "audio/mpeg",
	} {
		resp, b := env.rawGET("/ameyowebaccess/command?command=downloadVoiceLog&data="+data, "Sessionid: "+sid)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype || len(b) < 1000 {
			t.Errorf("data=%s: %d %s %s", data, resp.StatusCode, resp.Header.Get("Content-Type"), b[:min(len(b), 200)])
		}
	}
	resp, _ := env.rawGET("/ameyowebaccess/command?command=playVoiceLog&data={crtObjectId:"+seedCRT+"}", "sessionId: "+sid)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Errorf("playVoiceLog: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, c := range []struct {
		q      string
		status int
	}{
		{"command=downloadVoiceLog&data={}", 400},
		{"command=downloadVoiceLog", 400},
		{"command=deleteEverything&data={crtObjectId:x}", 400},
		{"command=downloadVoiceLog&data={crtObjectId:nope}", 404},
		{"command=downloadVoiceLog&data={crtObjectId:d741-6904fad1-vce-daf-700001}", 404}, // campaign 120: not in this supervisor's scope
	} {
		resp, b := env.rawGET("/ameyowebaccess/command?"+c.q, "Sessionid: "+sid)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", c.q, resp.StatusCode, b, c.status)
		}
	}
	resp, _ = env.rawGET("/ameyowebaccess/command?command=downloadVoiceLog&data={crtObjectId:" + seedCRT + "}")
	if resp.StatusCode != 401 {
		t.Errorf("command without session: %d", resp.StatusCode)
	}
}
