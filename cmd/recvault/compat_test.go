package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault/server"
)

// Conformance tests for what deployed vendor clients send and read
// (shared/WIRE-NOTES.md). Requests go out as raw HTTP wherever a Go client
// would normalise them.

func TestCompatSetGUIDCasingAndExtraction(t *testing.T) {
	env := startEnv(t)
	_, _, head := env.rawDo("PUT", ccgw+"/onlineagent/4977", `{"password":"agent-demo-pass","phonenum":"1"}`,
		"Content-Type: application/json;charset=UTF-8")
	i := strings.Index(head, "\r\nSet-GUID: ")
	if i < 0 {
		t.Fatalf("no header spelled exactly Set-GUID:\n%s", head)
	}
	line := head[i+2:]
	line, _, _ = strings.Cut(line, "\r\n")
	value := strings.TrimPrefix(line, "Set-GUID: ")
	// The three ways vendor clients cut the GUID out must agree.
	parts := strings.Split(value, "=")
	betweenFirstAndSecond := parts[1]
	withoutColonsAndEquals := strings.NewReplacer(":", "", "=", "").Replace(strings.TrimPrefix(value, "JSESSIONID"))
	_, afterFirst, _ := strings.Cut(value, "=")
	if betweenFirstAndSecond != afterFirst || withoutColonsAndEquals != afterFirst || !guidLike.MatchString(afterFirst) {
		t.Fatalf("clients disagree on %q: %q %q %q", value, betweenFirstAndSecond, withoutColonsAndEquals, afterFirst)
	}
}

func TestCompatDoubleSlashesEverywhere(t *testing.T) {
	env := startEnv(t)
	g := env.ccSignIn("4977", "agent-demo-pass", "")
	sid := env.ameyoLogin("supervisor@exotel.in", false)
	for _, c := range []struct{ method, target, hdr string }{
		{"PUT", "/agentgateway/resource//onlineagent/4977/heartbeat", "Guid: " + g},
		{"GET", "/agentgateway/resource//agentevent/4977", "Guid: " + g},
		{"GET", "/agentgateway//resource//recordfile/4977/recordfiledownloadEx?callId=1621413752-2011", "Guid: " + g},
		{"GET", "//agentgateway/resource/recordfile//4977?recordId=y:/90/0/20210519/4977/1642329.V3&filetype=1", "Guid: " + g},
		{"GET", "/ameyorestapi//cc//downloadVoiceLog?" + strings.Replace(seedQuery, "mp3", "wav", 1), "Sessionid: " + sid},
		{"GET", "//healthz", ""},
	} {
		var hdrs []string
		if c.hdr != "" {
			hdrs = append(hdrs, c.hdr)
		}
		resp, b, _ := env.rawDo(c.method, c.target, "", hdrs...)
		if resp.StatusCode != 200 || strings.Contains(string(b), `"retcode":"1`) || strings.Contains(string(b), `"retcode":"0-`) {
			t.Errorf("%s %s: %d %s", c.method, c.target, resp.StatusCode, b[:min(len(b), 120)])
		}
	}
}

func TestCompatCCGatewayTolerance(t *testing.T) {
	env := startEnv(t)
	g := env.ccSignIn("4977", "agent-demo-pass", "")
	json := "Content-Type: application/json;charset=UTF-8"
	// Java clients: JSON content type on GET and DELETE, empty PUT bodies;
	// browser runtime: Accept: application/json on downloads, anti-cache
	// parameters, raw ':' '/' in query values.
	resp, b, _ := env.rawDo("GET", ccgw+"/recordfile/4977/recordfiledownloadEx?callId=1621413752-2011&resteasy_jsapi_anti_cache=1700000000000",
		"", "Guid: "+g, json, "Accept: application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream;charset=utf-8" || len(b) < 1000 {
		t.Fatalf("download with Accept: application/json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, b, _ = env.rawDo("PUT", ccgw+"/onlineagent/4977/heartbeat", "", "Guid: "+g, json)
	wantRetcode(t, resp, b, "0")
	resp, b, _ = env.rawDo("GET", ccgw+"/agentevent/4977?time=1700000000000&resteasy_jsapi_anti_cache=1", "", "Guid: "+g, json)
	wantRetcode(t, resp, b, "0")
	// Static mode by default: no GUID rotation on polls, even after minutes.
	for i := 0; i < 3; i++ {
		env.clock.Advance(70 * time.Second)
		resp, b, head := env.rawDo("GET", ccgw+"/agentevent/4977", "", "Guid: "+g)
		wantRetcode(t, resp, b, "0")
		if strings.Contains(head, "Set-GUID") {
			t.Fatal("static mode rotated a GUID")
		}
	}
	// forcelogout ends the sign-in.
	resp, b, _ = env.rawDo("DELETE", ccgw+"/onlineagent/4977/forcelogout", "", "Guid: "+g, json)
	wantRetcode(t, resp, b, "0")
	resp, b, _ = env.rawDo("GET", ccgw+"/agentevent/4977", "", "Guid: "+g)
	wantRetcode(t, resp, b, "100-006")
	// IVR voice messages (filetype 2) are found where catalogued.
	env.app.svc.Ingest(context.Background(), nil, ingestReqPath(110, "ivr-1", "4977", "y:/1/record/20210519/4977/77.V3"), strings.NewReader(string(wavPCM16(800, 3))))
	g = env.ccSignIn("4977", "agent-demo-pass", "")
	resp, b, _ = env.rawDo("GET", ccgw+"/recordfile/4977?recordId=Y:/1/record/20210519/4977/77.V3&filetype=2", "", "Guid: "+g)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream;charset=utf-8" {
		t.Fatalf("filetype 2: %d %s", resp.StatusCode, b[:min(len(b), 200)])
	}
	resp, b, _ = env.rawDo("GET", ccgw+"/recordfile/4977?recordId=Y:/1/record/20210519/4977/77.V3&filetype=9", "", "Guid: "+g)
	wantRetcode(t, resp, b, "000-002")
}

func TestCompatCORS(t *testing.T) {
	env := startEnvWith(t, func(c *server.Config) { c.CCGateway.CORSOrigins = []string{"https://desk.example.com"} })
	// Preflight from the configured origin.
	resp, _, _ := env.rawDo("OPTIONS", ccgw+"/onlineagent/4977", "", "Origin: https://desk.example.com",
		"Access-Control-Request-Method: PUT", "Access-Control-Request-Headers: guid, content-type")
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://desk.example.com" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Guid") || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, h)
	}
	// The sign-in answer exposes Set-GUID to the page.
	resp, _, _ = env.rawDo("PUT", ccgw+"/onlineagent/4977", `{"password":"agent-demo-pass"}`, "Origin: https://desk.example.com")
	if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Set-GUID") {
		t.Fatalf("Set-GUID not exposed: %v", resp.Header)
	}
	// Other origins, and requests without Origin, get no CORS headers.
	for _, hdr := range [][]string{{"Origin: https://evil.example.net"}, nil} {
		resp, _, _ := env.rawDo("PUT", ccgw+"/onlineagent/5001", `{"password":"x"}`, hdr...)
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%v: CORS header %s sent", hdr, k)
			}
		}
	}
	resp, _, _ = env.rawDo("OPTIONS", ccgw+"/onlineagent/4977", "", "Origin: https://evil.example.net", "Access-Control-Request-Method: PUT")
	if resp.StatusCode == 204 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin answered: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestCompatAmeyoRefreshTokenAndAuthorization(t *testing.T) {
	env := startEnv(t)
	sid := env.ameyoLogin("supervisor@exotel.in", false)
	resp, b := env.do("POST", "/ameyorestapi/session/refreshToken", "", strings.NewReader(`{"userId":"supervisor@exotel.in"}`), "sessionId", sid)
	var out struct{ JwtToken string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || strings.Count(out.JwtToken, ".") != 2 {
		t.Fatalf("refreshToken: %d %s", resp.StatusCode, b)
	}
	q := "/ameyorestapi/cc/downloadVoiceLog?" + strings.Replace(seedQuery, "mp3", "wav", 1)
	for _, h := range []string{"Authorization: " + out.JwtToken, "Authorization: Bearer " + out.JwtToken} {
		if resp, _ := env.rawGET(q, h); resp.StatusCode != 200 {
			t.Errorf("%s…: %d", h[:22], resp.StatusCode)
		}
	}
	if resp, _ := env.rawGET(q, "Authorization: "+out.JwtToken+"x"); resp.StatusCode != 401 {
		t.Errorf("tampered token: %d", resp.StatusCode)
	}
	// Another user's id is refused.
	resp, b = env.do("POST", "/ameyorestapi/session/refreshToken", "", strings.NewReader(`{"userId":"admin"}`), "Sessionid", sid)
	wantAmeyoError(t, resp, b, 403, "access.denied", 0, "")
	resp, b = env.do("POST", "/ameyorestapi/session/refreshToken", "", strings.NewReader(`{"userId":"admin"}`))
	wantAmeyoError(t, resp, b, 401, "invalid.authentication.token", 909090, "")
}

func TestCompatAmeyoAPIKeys(t *testing.T) {
	env := startEnv(t)
	code, out, errs := runCLI(t, "", "apikey", "add", "--data", env.dir, "--name", "archiver", "--role", "supervisor",
		"--campaign", "110", "--host", "archiver.example.com")
	secret := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	if code != 0 || !strings.HasPrefix(secret, "rvk_") {
		t.Fatalf("apikey add: %d %q %s", code, out, errs)
	}
	key := []string{"hash-key: " + secret, "policy-name: token-based-authorization-policy", "requesting-host: archiver.example.com"}
	// The command interface, raw unencoded data as one published integration sends it.
	resp, b := env.rawGET("/ameyowebaccess/command?command=downloadVoiceLog&data={crtObjectId:'"+seedCRT+"'}", key...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/mpeg" {
		t.Fatalf("command with API key: %d %s", resp.StatusCode, b[:min(len(b), 200)])
	}
	// POST with a form body.
	form := "command=downloadVoiceLog&data=" + url.QueryEscape(`{"crtObjectId":"`+seedCRT+`","targetFormat":"wav"}`)
	resp2, b2, _ := env.rawDo("POST", "/ameyowebaccess/command", form, append(key, "Content-Type: application/x-www-form-urlencoded")...)
	if resp2.StatusCode != 200 || resp2.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("POST command: %d %s", resp2.StatusCode, b2[:min(len(b2), 200)])
	}
	// And downloadVoiceLog.
	if resp, b := env.rawGET("/ameyorestapi/cc/downloadVoiceLog?"+seedQuery, key...); resp.StatusCode != 200 {
		t.Fatalf("downloadVoiceLog with API key: %d %s", resp.StatusCode, b)
	}
	// The key's scope holds: campaign 120 is not its.
	other := "campaignId=120&crtObjectId=d741-6904fad1-vce-daf-700001&targetFormat=wav&filters={callId:d741-6904fad1-vcall-20000001}"
	if resp, _ := env.rawGET("/ameyorestapi/cc/downloadVoiceLog?"+other, key...); resp.StatusCode != 404 {
		t.Errorf("key outside its campaigns: %d", resp.StatusCode)
	}
	// Wrong host, wrong policy, unknown key.
	for _, hdrs := range [][]string{
		{key[0], key[1], "requesting-host: elsewhere.example.com"},
		{key[0], "policy-name: something-else", key[2]},
		{"hash-key: rvk_forged", key[1], key[2]},
	} {
		resp, b := env.rawGET("/ameyorestapi/cc/downloadVoiceLog?"+seedQuery, hdrs...)
		wantAmeyoError(t, resp, b, 401, "invalid.authentication.token", 909090, "")
	}
	// Listed with its last use, never with its secret; revoked keys stop working.
	_, out, _ = runCLI(t, "", "apikey", "list", "--data", env.dir)
	if !strings.Contains(out, "archiver") || strings.Contains(out, secret) || strings.Contains(out, "never") {
		t.Errorf("apikey list: %s", out)
	}
	if code, _, _ := runCLI(t, "", "apikey", "revoke", "--data", env.dir, "--name", "archiver"); code != 0 {
		t.Fatal("revoke failed")
	}
	resp, b = env.rawGET("/ameyorestapi/cc/downloadVoiceLog?"+seedQuery, key...)
	wantAmeyoError(t, resp, b, 401, "invalid.authentication.token", 909090, "")
}

func TestCompatAmeyoPushesAndKeepAlive(t *testing.T) {
	env := startEnvWith(t, func(c *server.Config) { c.Ameyo.PushWait = 30 * time.Millisecond })
	sid := env.ameyoLogin("supervisor@exotel.in", false)
	resp, b := env.do("POST", "/ameyorestapi/pushes?listener-name=webcore_1700000000000&lastProcessedPush=-1", "",
		strings.NewReader(`{"sessionId":"`+sid+`"}`), "sessionId", sid)
	if resp.StatusCode != 200 || string(b) != "--DON'T_PANIC!_more_will_follow" {
		t.Fatalf("pushes: %d %q", resp.StatusCode, b)
	}
	resp, _ = env.do("POST", "/ameyorestapi/pushes?listener-name=x&lastProcessedPush=-1", "", nil)
	if resp.StatusCode != 401 {
		t.Errorf("pushes without session: %d", resp.StatusCode)
	}
}

func TestCompatAmeyoArchiveDownload(t *testing.T) {
	// Off by default.
	env := startEnv(t)
	if resp, _ := env.rawGET("/dacx/archive?dacxURI=dacx://voicelog-archiver-storage-path/" + seedCall + "&fileId=1&errorHandle=true&mediaType=AUDIO"); resp.StatusCode != 404 {
		t.Fatalf("archive download served while off: %d", resp.StatusCode)
	}
	// On, for loopback clients only.
	env = startEnvWith(t, func(c *server.Config) {
		c.Ameyo.ArchivePath = "/dacx/archive"
		c.Ameyo.ArchiveAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	target := "/dacx/archive?dacxURI=dacx://voicelog-archiver-storage-path/" + seedCall + "&fileId=1&errorHandle=true&mediaType=AUDIO"
	resp, b := env.rawGET(target)
	rec := env.recordingID(110, seedCRT)
	if resp.StatusCode != 200 || sha(b) != rec.SHA256 {
		t.Fatalf("archive download: %d", resp.StatusCode)
	}
	resp, b = env.rawGET("/dacx/archive?dacxURI=dacx://elsewhere/x&fileId=1")
	wantAmeyoError(t, resp, b, 400, "InvalidInput", 40001, "dacxURI")
	resp, b = env.rawGET("/dacx/archive?dacxURI=dacx://voicelog-archiver-storage-path/no-such-call&fileId=1&mediaType=AUDIO")
	wantAmeyoError(t, resp, b, 404, "requested.resource.not.found", 0, "")
	// A network not allowed and no key: refused.
	env3 := startEnvWith(t, func(c *server.Config) {
		c.Ameyo.ArchivePath = "/dacx/archive"
		c.Ameyo.ArchiveAllow = []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}
	})
	resp, b = env3.rawGET(target)
	wantAmeyoError(t, resp, b, 401, "invalid.authentication.token", 909090, "")
	// Every use is audited.
	ev, _ := env.app.cat.Audit(context.Background(), 100)
	n := 0
	for _, e := range ev {
		if strings.HasPrefix(e.Actor, "archive-network:127.0.0.1") || e.Action == "archive-download" {
			n++
		}
	}
	if n < 3 {
		t.Errorf("%d archive uses audited, want 3 or more", n)
	}
}

// TestCompatAmeyoPushesHeadersAtOnce: a push poll sends its status and
// headers at once and holds only the body, as Ameyo's server does: a
// client that waits one second for the headers (as the vendor's connector
// does) does not time out while the poll is held.
func TestCompatAmeyoPushesHeadersAtOnce(t *testing.T) {
	env := startEnvWith(t, func(c *server.Config) { c.Ameyo.PushWait = 2 * time.Second })
	sid := env.ameyoLogin("supervisor@exotel.in", false)
	client := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: time.Second}}
	req, _ := http.NewRequest("POST", env.URL+"/ameyorestapi/pushes?listener-name=webcore_1700000000000&lastProcessedPush=-1",
		strings.NewReader(`{"sessionId":"`+sid+`"}`))
	req.Header.Set("sessionId", sid)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("headers of a held push poll: %v", err)
	}
	defer resp.Body.Close()
	headers := time.Since(start)
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(b) != "--DON'T_PANIC!_more_will_follow" {
		t.Fatalf("pushes: %d %q %v", resp.StatusCode, b, err)
	}
	if whole := time.Since(start); whole < 2*time.Second || headers > time.Second {
		t.Fatalf("headers after %v, body after %v; want headers at once and the body after the 2 s hold", headers, whole)
	}
}
