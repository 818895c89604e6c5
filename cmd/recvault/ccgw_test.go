package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/media/wav"
	"github.com/recvault/recvault/server"
)

const ccgw = "/agentgateway/resource"

// rawDo sends one raw HTTP request (method, target, headers, body) and
// returns the response and the raw bytes of its header block, so tests
// can assert header casing exactly as a vendor client sees it.
func (e *testEnv) rawDo(method, target string, body string, headers ...string) (*http.Response, []byte, string) {
	e.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	req := method + " " + target + " HTTP/1.1\r\nHost: x\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	req += "Content-Length: " + itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
	io.WriteString(conn, req)
	all, _ := io.ReadAll(conn)
	head, _, _ := bytes.Cut(all, []byte("\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(all)), nil)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, target, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, b, string(head)
}

type ccAnswer struct {
	Message string          `json:"message"`
	Retcode string          `json:"retcode"`
	Result  json.RawMessage `json:"result"`
}

func wantRetcode(t testing.TB, resp *http.Response, b []byte, code string) ccAnswer {
	t.Helper()
	var a ccAnswer
	if resp.StatusCode != 200 || json.Unmarshal(b, &a) != nil || a.Retcode != code {
		t.Fatalf("got %d %s, want HTTP 200 retcode %s", resp.StatusCode, b, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Fatalf("retcode answer Content-Type %q", ct)
	}
	return a
}

// guidLike is the vendor's GUID shape, limited to [A-Za-z0-9.-].
var guidLike = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.AgentGateway1$`)

// ccSignIn signs an agent in and returns the GUID, read as the vendor's
// Java client does: the raw "Set-GUID" header, the text after "JSESSIONID=".
func (e *testEnv) ccSignIn(agent, password string, path string) string {
	e.t.Helper()
	resp, b, head := e.rawDo("PUT", ccgw+"/onlineagent/"+agent+path,
		`{"password":"`+password+`","phonenum":"88001","autoanswer":"false","status":"4","releasephone":true,"agenttype":4}`,
		"Content-Type: application/json;charset=UTF-8")
	a := wantRetcode(e.t, resp, b, "0")
	var res struct {
		VDNID      int    `json:"vdnid"`
		Workno     string `json:"workno"`
		LoginTime  string `json:"loginTime"`
		ServerName string `json:"serverName"`
	}
	if json.Unmarshal(a.Result, &res) != nil || res.Workno != agent || res.ServerName != "AgentGateway" || res.VDNID == 0 || res.LoginTime == "" {
		e.t.Fatalf("sign-in result %s", a.Result)
	}
	var guid string
	for _, line := range strings.Split(head, "\r\n") {
		if name, v, ok := strings.Cut(line, ": "); ok && name == "Set-GUID" {
			_, guid, _ = strings.Cut(v, "JSESSIONID=")
		}
	}
	if !guidLike.MatchString(guid) {
		e.t.Fatalf("no Set-GUID with a vendor-shaped GUID in:\n%s", head)
	}
	return guid
}

// dataChunk reads a WAV answer's header and returns its sample bytes.
func dataChunk(t testing.TB, b []byte) (channels int, format wav.Format, data []byte) {
	t.Helper()
	h, err := wav.ReadHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a WAV: %v", err)
	}
	end := int64(len(b))
	if h.DataSize >= 0 {
		end = min(end, h.DataOffset+h.DataSize)
	}
	return h.Channels, h.Format, b[h.DataOffset:end]
}

func TestCCGatewayDownloads(t *testing.T) {
	env := startEnv(t)
	guid := env.ccSignIn("4977", "agent-demo-pass", "")
	g := "Guid: " + guid
	// Voice: A-law WAV, dual-track kept, sample by sample the stored A-law.
	resp, b, head := env.rawDo("GET", ccgw+"/recordfile/4977/recordfiledownloadEx?callId=1621413752-2011", "", g,
		"Content-Type: application/json;charset=UTF-8", "Accept: application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream;charset=utf-8" ||
		resp.Header.Get("Content-Length") != itoa(len(b)) || !strings.Contains(resp.Header.Get("Content-Disposition"), "1621413752-2011-voice.wav") {
		t.Fatalf("voice download: %d\n%s", resp.StatusCode, head)
	}
	voice := env.recordingID(110, "1621413752-2011-voice")
	_, stored := env.do("GET", "/api/v1/recordings/"+voice.ID+"/media", env.loginDemo("admin"), nil)
	ch, format, data := dataChunk(t, b)
	sch, _, sdata := dataChunk(t, stored)
	if ch != 2 || format != wav.ALaw || sch != 2 || !bytes.Equal(data, sdata) {
		t.Fatalf("A-law output: %d ch format %v, %d bytes, equal to the stored samples: %v", ch, format, len(data), bytes.Equal(data, sdata))
	}
	if p := ffprobe(t, b); !strings.Contains(p, "codec_name=pcm_alaw") || !strings.Contains(p, "channels=2") {
		t.Errorf("ffprobe: %s", p)
	}
	// Range.
	resp, part, _ := env.rawDo("GET", ccgw+"/recordfile/4977/recordfiledownloadEx?callId=1621413752-2011", "", g, "Range: bytes=100-199")
	if resp.StatusCode != 206 || !bytes.Equal(part, b[100:200]) {
		t.Errorf("range: %d", resp.StatusCode)
	}
	// Video by hwFileName, in the browser runtime's raw form and other spellings.
	video := env.recordingID(110, "1621413752-2011-video")
	for _, hw := range []string{"Y:/90/0/20210519/4977/1642329.mp4", "y:/90/0/20210519/4977/1642329.mp4",
		url.QueryEscape(`Y:\90\0\20210519\4977\1642329.mp4`), "Y%3A%2F90%2F0%2F20210519%2F4977%2F1642329.mp4"} {
		resp, b, _ := env.rawDo("GET", ccgw+"/recordfile/4977/recordfiledownloadEx?callId=1621413752-2011&hwFileName="+hw+"&resteasy_jsapi_anti_cache=1700000000000", "", g)
		if resp.StatusCode != 200 || sha(b) != video.SHA256 || resp.Header.Get("Content-Type") != "application/octet-stream;charset=utf-8" {
			t.Errorf("video via %s: %d %s", hw, resp.StatusCode, b[:min(100, len(b))])
		}
	}
	// The older sibling, by recorder path, either slash direction.
	for _, p := range []string{"y:/90/0/20210519/4977/1642329.V3", url.QueryEscape(`y:\90\0\20210519\4977\1642329.V3`)} {
		resp, b, _ := env.rawDo("GET", ccgw+"/recordfile/4977?recordId="+p+"&filetype=1", "", g)
		if resp.StatusCode != 200 {
			t.Errorf("recordfile %s: %d %s", p, resp.StatusCode, b)
			continue
		}
		if _, _, d := dataChunk(t, b); !bytes.Equal(d, sdata) {
			t.Errorf("recordfile %s: samples differ", p)
		}
	}
	// Path games never reach a file: all answer "not found".
	games := []string{"../../../../etc/passwd", "Y:/90/0/20210519/4977/../../../../etc/passwd", "/etc/passwd",
		`\\server\share\1642329.mp4`, "//server/share/1642329.mp4", "Y:/90/0/20210519/4977/..%2F..%2Fetc%2Fpasswd",
		"..%252F..%252Fetc%252Fpasswd", "Y:/90/0/20210519/4977/1642329.mp4%00.wav", "file:///etc/passwd",
		"Y:/90/0/20210519/4977/1642329.V3", // a voice file, not this call's video
		env.dir + "/catalog.db", "blobs/objects/" + video.BlobKey, video.BlobKey}
	for _, p := range games {
		for _, target := range []string{
			ccgw + "/recordfile/4977/recordfiledownloadEx?callId=1621413752-2011&hwFileName=" + url.QueryEscape(p),
			ccgw + "/recordfile/4977?recordId=" + url.QueryEscape(p) + "&filetype=1",
		} {
			if strings.Contains(target, "recordId") && strings.HasSuffix(p, ".V3") {
				continue // that one is a real voice path for recordfile
			}
			resp, b, _ := env.rawDo("GET", target, "", g)
			wantRetcode(t, resp, b, "108-001")
		}
	}
	// Another call's video under this call's id: not found.
	resp, b, _ = env.rawDo("GET", ccgw+"/recordfile/4977/recordfiledownloadEx?callId=other-call&hwFileName=Y:/90/0/20210519/4977/1642329.mp4", "", g)
	wantRetcode(t, resp, b, "108-001")
}

func TestCCGatewayRetcodes(t *testing.T) {
	env := startEnv(t)
	put := func(path, body string, hdr ...string) (*http.Response, []byte) {
		resp, b, _ := env.rawDo("PUT", ccgw+path, body, hdr...)
		return resp, b
	}
	// 100-001: bad work number, empty body, no password, broken JSON.
	for _, c := range []struct{ path, body string }{
		{"/onlineagent/abc", `{"password":"x"}`}, {"/onlineagent/1234567", `{"password":"x"}`},
		{"/onlineagent/4977", ``}, {"/onlineagent/4977", `{"phonenum":"1"}`}, {"/onlineagent/4977", `{"password":`},
		{"/onlineagent/4977", `{"password":""}`},
	} {
		resp, b := put(c.path, c.body)
		wantRetcode(t, resp, b, "100-001")
	}
	// 100-004: wrong password, unknown agent.
	resp, b := put("/onlineagent/4977", `{"password":"wrong-password","phonenum":"1"}`)
	wantRetcode(t, resp, b, "100-004")
	resp, b = put("/onlineagent/9999", `{"password":"agent-demo-pass"}`)
	wantRetcode(t, resp, b, "100-004")
	// Sign-in fields as strings or literals; 100-002 on a second sign-in; forcelogin replaces.
	guid := env.ccSignIn("4977", "agent-demo-pass", "")
	resp, b = put("/onlineagent/4977", `{"password":"agent-demo-pass","phonenum":88001,"status":4}`)
	wantRetcode(t, resp, b, "100-002")
	guid2 := env.ccSignIn("4977", "agent-demo-pass", "/forcelogin")
	dl := ccgw + "/recordfile/4977/recordfiledownloadEx?callId=1621413752-2011"
	get := func(target, guid string) (*http.Response, []byte) {
		resp, b, _ := env.rawDo("GET", target, "", "Guid: "+guid)
		return resp, b
	}
	resp, b = get(dl, guid)
	wantRetcode(t, resp, b, "100-006") // replaced by forcelogin
	if resp, _ := get(dl, guid2); resp.Header.Get("Content-Type") != "application/octet-stream;charset=utf-8" {
		t.Fatal("forcelogin GUID refused")
	}
	// GUID header spellings.
	for _, h := range []string{"guid: " + guid2, "GUID: " + guid2, "guid:" + guid2} {
		resp, _, _ := env.rawDo("GET", dl, "", h, "Cookie: JSESSIONID="+guid2+"; Path=/; Secure;", "Cookie:")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream;charset=utf-8" {
			t.Errorf("header %q: %d", h, resp.StatusCode)
		}
	}
	// 100-006: no GUID, unknown GUID.
	resp, b, _ = env.rawDo("GET", dl, "")
	wantRetcode(t, resp, b, "100-006")
	resp, b = get(dl, "00000000-0000-0000-0000-000000000000.AgentGateway1")
	wantRetcode(t, resp, b, "100-006")
	// 000-003: the GUID of 4977 on 5001's path; an agent asking for another agent.
	resp, b = get(ccgw+"/recordfile/5001/recordfiledownloadEx?callId=1621413752-2011", guid2)
	wantRetcode(t, resp, b, "000-003")
	resp, b = get(dl+"&workNo=5001", guid2)
	wantRetcode(t, resp, b, "000-003")
	a := wantRetcode(t, resp, b, "000-003")
	if a.Message != "no right to invite resource" {
		t.Errorf("000-003 message %q", a.Message)
	}
	// 000-002: callId missing or malformed; workNo malformed.
	for _, q := range []string{"", "?callId=", "?callId=a%20b", "?callId=a/b", "?callId=1621413752-2011&workNo=x"} {
		resp, b = get(ccgw+"/recordfile/4977/recordfiledownloadEx"+q, guid2)
		wantRetcode(t, resp, b, "000-002")
	}
	// 108-001: no such call.
	resp, b = get(ccgw+"/recordfile/4977/recordfiledownloadEx?callId=1621413752-9999", guid2)
	wantRetcode(t, resp, b, "108-001")
	// 108-014: the stored file is gone.
	voice := env.recordingID(110, "1621413752-2011-voice")
	restore := env.replaceBlob(voice.BlobKey, nil)
	resp, b = get(dl, guid2)
	wantRetcode(t, resp, b, "108-014")
	restore()
	// 108-015: a conversion that fails (a corrupt MP3 of agent 5002 asked as A-law).
	env.app.svc.AddUser(context.Background(), &recvault.User{Login: "a5002", Role: recvault.RoleAgent, AgentID: "5002"}, "agent-5002-pass")
	mp3 := env.recordingID(120, "d741-6904fad1-vce-daf-700001")
	env.replaceBlob(mp3.BlobKey, bytes.Repeat([]byte{0xff}, int(mp3.Size)))
	g5002 := env.ccSignIn("5002", "agent-5002-pass", "")
	resp, b = get(ccgw+"/recordfile/5002/recordfiledownloadEx?callId=d741-6904fad1-vcall-20000001", g5002)
	wantRetcode(t, resp, b, "108-015")
	if strings.Contains(string(b), "blobs") || strings.Contains(string(b), "mp3") {
		t.Errorf("failure leaks internals: %s", b)
	}
	// logout, then 100-006 for logout and for the GUID.
	resp, b, _ = env.rawDo("DELETE", ccgw+"/onlineagent/4977/logout", "", "Guid: "+guid2, "Content-Type: application/json;charset=UTF-8")
	wantRetcode(t, resp, b, "0")
	resp, b, _ = env.rawDo("DELETE", ccgw+"/onlineagent/4977/logout", "", "Guid: "+guid2)
	wantRetcode(t, resp, b, "100-006")
	// Idle: two minutes without a call signs out; polling keeps it alive.
	guid3 := env.ccSignIn("4977", "agent-demo-pass", "")
	for i := 0; i < 5; i++ {
		env.clock.Advance(90 * time.Second)
		resp, b = get(ccgw+"/agentevent/4977?time=1700000000000", guid3)
		a := wantRetcode(t, resp, b, "0")
		if !strings.Contains(string(b), `"event":null`) {
			t.Fatalf("poll answer %s (%v)", b, a)
		}
	}
	env.clock.Advance(2*time.Minute + time.Second)
	resp, b = get(ccgw+"/agentevent/4977", guid3)
	wantRetcode(t, resp, b, "100-006")
	// Session calls of real desktops, with double slashes as the browser runtime sends them.
	guid4 := env.ccSignIn("4977", "agent-demo-pass", "")
	for _, c := range []struct{ method, path string }{
		{"PUT", "/agentgateway/resource//onlineagent/4977/heartbeat"},
		{"POST", "/agentgateway/resource//onlineagent/4977/handshake"},
		{"POST", "/agentgateway/resource/onlineagent/4977/resetskill/true"},
	} {
		resp, b, _ := env.rawDo(c.method, c.path, "", "Guid: "+guid4)
		wantRetcode(t, resp, b, "0")
	}
	resp, b, head := env.rawDo("PUT", ccgw+"/onlineagent/4977/updateGuid", "", "Guid: "+guid4)
	a = wantRetcode(t, resp, b, "0")
	var ug struct{ Guid string }
	json.Unmarshal(a.Result, &ug)
	if !guidLike.MatchString(ug.Guid) || !strings.Contains(head, "\r\nSet-GUID: JSESSIONID="+ug.Guid) {
		t.Fatalf("updateGuid: %s\n%s", b, head)
	}
	if resp, b := get(ccgw+"/agentevent/4977", ug.Guid); resp.StatusCode != 200 || !strings.Contains(string(b), `"retcode":"0"`) {
		t.Fatalf("new GUID refused: %s", b)
	}
}

func TestCCGatewayInspector(t *testing.T) {
	env := startEnv(t)
	g := env.ccSignIn("4900", "inspector-demo-pass", "")
	base := ccgw + "/recordfile/4900/recordfiledownloadEx?callId=1621413752-2011"
	cases := []struct{ q, code string }{
		{"", "000-002"},                                        // voice without workNo
		{"&workNo=4900", "000-005"},                            // itself
		{"&workNo=5001", "104-002"},                            // not assigned
		{"&workNo=4977", "0"},                                  // assigned
		{"&hwFileName=Y:/90/0/20210519/4977/1642329.mp4", "0"}, // video of an inspected agent
	}
	for _, c := range cases {
		resp, b, _ := env.rawDo("GET", base+c.q, "", "Guid: "+g)
		if c.code == "0" {
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream;charset=utf-8" {
				t.Errorf("%s: %d %s", c.q, resp.StatusCode, b[:min(200, len(b))])
			}
			continue
		}
		wantRetcode(t, resp, b, c.code)
	}
	// An agent's call the inspector does not inspect, by recorder path.
	env.app.svc.Ingest(context.Background(), nil, ingestReqPath(110, "p5001", "5001", "Y:/1/0/20260101/5001/7.V3"), bytes.NewReader(wavPCM16(800, 9)))
	resp, b, _ := env.rawDo("GET", ccgw+"/recordfile/4900?recordId=Y:/1/0/20260101/5001/7.V3&filetype=1", "", "Guid: "+g)
	wantRetcode(t, resp, b, "108-001") // not the inspector's: as if missing
}

func TestCCGatewayDynamicGUID(t *testing.T) {
	env := startEnvWith(t, func(c *server.Config) { c.CCGateway.DynamicGUID = true })
	g1 := env.ccSignIn("4977", "agent-demo-pass", "")
	poll := func(guid string) (*http.Response, []byte, string) {
		return env.rawDo("GET", ccgw+"/agentevent/4977", "", "Guid: "+guid)
	}
	// Before 60 s: no rotation.
	env.clock.Advance(30 * time.Second)
	_, _, head := poll(g1)
	if strings.Contains(head, "Set-GUID") {
		t.Fatal("rotated before 60 s")
	}
	env.clock.Advance(31 * time.Second)
	resp, b, head := poll(g1)
	wantRetcode(t, resp, b, "0")
	var g2 string
	for _, line := range strings.Split(head, "\r\n") {
		if v, ok := strings.CutPrefix(line, "Set-GUID: JSESSIONID="); ok {
			g2 = v
		}
	}
	if !guidLike.MatchString(g2) || g2 == g1 {
		t.Fatalf("no rotated GUID on the poll answer:\n%s", head)
	}
	// The old GUID keeps working until 120 s after it was made, and does not rotate again.
	env.clock.Advance(40 * time.Second) // 101 s
	resp, b, head = poll(g1)
	wantRetcode(t, resp, b, "0")
	if strings.Contains(head, "Set-GUID") {
		t.Error("a succeeded GUID rotated again")
	}
	env.clock.Advance(20 * time.Second) // 121 s
	resp, b, _ = poll(g1)
	wantRetcode(t, resp, b, "100-006")
	resp, b, _ = poll(g2)
	wantRetcode(t, resp, b, "0")
	// Downloads (GET, binary) carry no Set-GUID even when due.
	env.clock.Advance(61 * time.Second)
	resp, _, head = env.rawDo("GET", ccgw+"/recordfile/4977/recordfiledownloadEx?callId=1621413752-2011", "", "Guid: "+g2)
	if resp.StatusCode != 200 || strings.Contains(head, "Set-GUID") {
		t.Errorf("download: %d, rotation on a file answer:\n%s", resp.StatusCode, head)
	}
}

func TestCCGatewayQualityControlTwoStep(t *testing.T) {
	env := startEnv(t)
	g := env.ccSignIn("4977", "agent-demo-pass", "")
	step1 := func() (string, string) {
		resp, b, _ := env.rawDo("GET", ccgw+"/qualitycontrol/4977/localrecordpath?format=1&recordId=Y:/90/0/20210519/4977/1642329.V3", "", "Guid: "+g)
		a := wantRetcode(t, resp, b, "0")
		var res struct{ Token, LocalRecordPath string }
		json.Unmarshal(a.Result, &res)
		if len(res.Token) < 40 || !strings.HasSuffix(res.LocalRecordPath, "/1642329.wav") {
			t.Fatalf("localrecordpath: %s", b)
		}
		return res.Token, res.LocalRecordPath
	}
	tok, lrp := step1()
	target := ccgw + "/qualitycontrol/4977/recordfile?token=" + url.QueryEscape(tok) + "&localRecordPath=" + url.QueryEscape(lrp)
	resp, b, _ := env.rawDo("GET", target, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != itoa(len(b)) || len(b) < 1000 {
		t.Fatalf("recordfile: %d %s", resp.StatusCode, b[:min(200, len(b))])
	}
	// Reused, wrong, other agent's, expired: JSON errors, never a file.
	resp, b, _ = env.rawDo("GET", target, "")
	wantRetcode(t, resp, b, "108-016")
	resp, b, _ = env.rawDo("GET", ccgw+"/qualitycontrol/4977/recordfile?token=forged&localRecordPath=/etc/passwd", "")
	wantRetcode(t, resp, b, "108-016")
	tok, _ = step1()
	resp, b, _ = env.rawDo("GET", ccgw+"/qualitycontrol/5001/recordfile?token="+url.QueryEscape(tok)+"&localRecordPath=x.wav", "")
	wantRetcode(t, resp, b, "108-016")
	env.clock.Advance(61 * time.Second)
	resp, b, _ = env.rawDo("GET", ccgw+"/qualitycontrol/4977/recordfile?token="+url.QueryEscape(tok)+"&localRecordPath=x.wav", "")
	wantRetcode(t, resp, b, "108-016")
	// The playback call by record id.
	g = env.ccSignIn("4977", "agent-demo-pass", "/forcelogin")
	resp, b, _ = env.rawDo("GET", ccgw+"/recordplay/4977/recordfilefromrecordid?recordid=Y:/90/0/20210519/4977/1642329.V3", "", "Guid: "+g)
	if resp.StatusCode != 200 || len(b) < 1000 {
		t.Fatalf("recordfilefromrecordid: %d %s", resp.StatusCode, b[:min(200, len(b))])
	}
}

// TestCCGatewayDownloadKeepsSignInAlive: a download that runs longer than
// the idle timeout keeps the agent signed in.
func TestCCGatewayDownloadKeepsSignInAlive(t *testing.T) {
	env := startEnvWith(t, func(c *server.Config) { c.CCGateway.KeepAliveEvery = 5 * time.Millisecond })
	rec, _, err := env.app.svc.Ingest(context.Background(), nil, ingestReqPath(110, "long-4977", "4977", ""), bytes.NewReader(alawWAV(20*60)))
	if err != nil {
		t.Fatal(err)
	}
	g := env.ccSignIn("4977", "agent-demo-pass", "")
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET "+ccgw+"/recordfile/4977/recordfiledownloadEx?callId="+rec.CallID+" HTTP/1.1\r\nHost: x\r\nGuid: "+g+"\r\nConnection: close\r\n\r\n")
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("download: %v %v", resp, err)
	}
	// Read slowly while three idle periods pass on the service's clock.
	buf := make([]byte, 1024)
	total := 0
	for step := 0; step < 18; step++ {
		env.clock.Advance(10 * time.Second)
		time.Sleep(15 * time.Millisecond) // let the keep-alive tick at the new time
		n, _ := io.ReadFull(resp.Body, buf)
		total += n
	}
	rest, _ := io.Copy(io.Discard, resp.Body)
	if int64(total)+rest != resp.ContentLength {
		t.Fatalf("download cut short: %d of %d", int64(total)+rest, resp.ContentLength)
	}
	// 3 minutes of service time have passed since the sign-in; the download kept it.
	r2, b2, _ := env.rawDo("GET", ccgw+"/agentevent/4977", "", "Guid: "+g)
	wantRetcode(t, r2, b2, "0")
	// Without a download, the same wait signs out.
	env.clock.Advance(2*time.Minute + time.Second)
	r2, b2, _ = env.rawDo("GET", ccgw+"/agentevent/4977", "", "Guid: "+g)
	wantRetcode(t, r2, b2, "100-006")
}

// TestCCGatewayIsCensor: the agent portal's sign-in question, "is this
// agent an inspector?", answers retcode 0 and true for the demo inspector,
// false for an agent, with and without the trailing slash it sends, and
// is refused without a live GUID.
func TestCCGatewayIsCensor(t *testing.T) {
	env := startEnv(t)
	for _, c := range []struct {
		agent, password, want string
	}{{"4900", "inspector-demo-pass", "true"}, {"4977", "agent-demo-pass", "false"}} {
		g := env.ccSignIn(c.agent, c.password, "")
		for _, suffix := range []string{"/", ""} {
			resp, b, _ := env.rawDo("GET", ccgw+"/agentgroup/"+c.agent+"/iscensor"+suffix, "", "Guid: "+g)
			if a := wantRetcode(t, resp, b, "0"); string(a.Result) != c.want {
				t.Errorf("agent %s iscensor%s: result %s, want %s", c.agent, suffix, a.Result, c.want)
			}
		}
	}
	resp, b, _ := env.rawDo("GET", ccgw+"/agentgroup/4900/iscensor/", "", "Guid: not-a-guid")
	wantRetcode(t, resp, b, "100-006")
}
