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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/demo"
	"github.com/recvault/recvault/internal/testtool"
)

// The scale-out tests run recvault as a deployment would: PostgreSQL,
// an S3 server (versitygw), two `recvault serve` replicas as separate
// processes on the same --catalog/--blobs, and nginx as the load balancer
// in front of them. Nothing is shared between the replicas but the two
// backends.

// replica is one running `recvault serve` child process.
type replica struct {
	name string
	cmd  *exec.Cmd
	URL  string
	logs *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cluster is two replicas behind nginx. LB balances round-robin; Failover
// sends everything to A while it is up and to B once A is down, at a
// limited rate so that a download is still running when A is killed.
type cluster struct {
	t        *testing.T
	loc      locations
	a, b     *replica
	LB       string
	Failover string
	cat      recvault.Catalog
}

// recvaultChild returns a command that runs this test binary as recvault
// (see TestMain) with args.
func recvaultChild(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RECVAULT_TEST_ARGS="+string(js))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func startReplica(t *testing.T, name string, loc locations, extra ...string) *replica {
	t.Helper()
	args := append([]string{"serve", "--catalog", loc.Catalog, "--blobs", loc.Blobs, "--addr", "127.0.0.1:0",
		"--trusted-proxy", "127.0.0.1/32", "--shutdown-grace", "2s", "--cache-dir", t.TempDir()}, extra...)
	r := &replica{name: name, cmd: recvaultChild(t, args...), logs: &lockedBuffer{}, done: make(chan struct{})}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stderr = r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "recvault serving "); ok {
				u, _, _ := strings.Cut(rest, " ")
				urls <- u
			}
		}
	}()
	go func() { r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("replica %s log:\n%s", name, r.logs.String())
		}
	})
	select {
	case r.URL = <-urls:
	case <-r.done:
		t.Fatalf("replica %s exited at start:\n%s", name, r.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("replica %s did not start:\n%s", name, r.logs.String())
	}
	return r
}

// kill ends the replica at once, as a crash would.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.done
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// nginxBinary finds nginx (Debian installs it in /usr/sbin, which is not
// always on a test's PATH).
func nginxBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return testtool.Need(t, "nginx")
}

// startNginx runs nginx in the foreground as the load balancer of a and b
// and returns the round-robin and the failover URLs.
func startNginx(t *testing.T, a, b *replica) (lb, failover string) {
	t.Helper()
	bin := nginxBinary(t)
	dir := t.TempDir()
	hostOf := func(r *replica) string { return strings.TrimPrefix(r.URL, "http://") }
	p1, p2 := freePort(t), freePort(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	proxy := `
		proxy_http_version 1.1;
		proxy_set_header Connection "";
		proxy_set_header Host $host;
		proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
		proxy_buffering off;
		proxy_request_buffering off;
		proxy_read_timeout 60s;
		proxy_next_upstream error timeout;
		client_max_body_size 0;`
	conf := fmt.Sprintf(`
daemon off;
master_process on;
worker_processes 1;
%s
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 512; }
http {
	access_log off;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	upstream rr { server %[3]s max_fails=0; server %[4]s max_fails=0; keepalive 8; }
	upstream failover { server %[3]s max_fails=1 fail_timeout=60s; server %[4]s backup; }
	server {
		listen 127.0.0.1:%[5]d;
		location / { proxy_pass http://rr; %[7]s }
	}
	server {
		listen 127.0.0.1:%[6]d;
		location / { proxy_pass http://failover; limit_rate 8m; %[7]s }
	}
}
`, user, dir, hostOf(a), hostOf(b), p1, p2, proxy)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", cf, "-e", filepath.Join(dir, "error.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx:\n%s%s", out.String(), log)
		}
	})
	lb = fmt.Sprintf("http://127.0.0.1:%d", p1)
	failover = fmt.Sprintf("http://127.0.0.1:%d", p2)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(lb + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return lb, failover
			}
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not answering: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startCluster seeds a fresh PostgreSQL database and S3 bucket with the
// demo data and starts two replicas on them behind nginx.
func startCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	nginxBinary(t)
	loc := remoteLocations(t, t.TempDir())
	seed, err := openApp(context.Background(), loc, appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Seed(context.Background(), seed.svc, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seed.Close() })
	c := &cluster{t: t, loc: loc, cat: seed.cat}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.b = startReplica(t, "B", loc, extra...) }()
	c.a = startReplica(t, "A", loc, extra...)
	wg.Wait()
	if c.b == nil {
		t.FailNow()
	}
	c.LB, c.Failover = startNginx(t, c.a, c.b)
	return c
}

func (c *cluster) env(base string) *testEnv { return &testEnv{t: c.t, URL: base} }

// auditCount counts audit records of action on recording id.
func (c *cluster) auditCount(id, action, outcome string) int {
	c.t.Helper()
	ev, err := c.cat.Audit(context.Background(), 10000)
	if err != nil {
		c.t.Fatal(err)
	}
	n := 0
	for _, e := range ev {
		if e.RecordingID == id && string(e.Action) == action && string(e.Outcome) == outcome {
			n++
		}
	}
	return n
}

// 1. A session made through one replica works on the other, for every
// API; a logout on one is effective at once on that one and within a
// second on the other.
func TestScaleOutSessionsAcrossReplicas(t *testing.T) {
	c := startCluster(t)
	a, b, lb := c.env(c.a.URL), c.env(c.b.URL), c.env(c.LB)

	// v1 bearer token.
	tok := a.loginDemo("supervisor@exotel.in")
	if resp, body := b.do("GET", "/api/v1/recordings?campaign=110", tok, nil); resp.StatusCode != 200 || !bytes.Contains(body, []byte("d741-6904fad1-vce-daf-638729")) {
		t.Fatalf("v1 token from A on B: %d %s", resp.StatusCode, body)
	}
	for i := 0; i < 4; i++ { // round-robin: both replicas answer through the balancer
		if resp, body := lb.do("GET", "/api/v1/recordings?campaign=110", tok, nil); resp.StatusCode != 200 {
			t.Fatalf("v1 via balancer: %d %s", resp.StatusCode, body)
		}
	}
	if resp, _ := b.do("DELETE", "/api/v1/sessions/current", tok, nil); resp.StatusCode != 204 {
		t.Fatalf("v1 logout on B: %d", resp.StatusCode)
	}
	if resp, _ := b.do("GET", "/api/v1/recordings", tok, nil); resp.StatusCode != 401 {
		t.Fatalf("v1 token logged out on B still works on B: %d", resp.StatusCode)
	}
	staleAtMost(t, "v1 token logged out on B refused on A", func() bool {
		resp, _ := a.do("GET", "/api/v1/recordings", tok, nil)
		return resp.StatusCode == 401
	})

	// Ameyo Sessionid. Its prefix (the vendor's contact-centre hash) is one
	// per deployment, whichever replica made the id.
	sidA := a.ameyoLogin("supervisor@exotel.in", true)
	sid := b.ameyoLogin("supervisor@exotel.in", true)
	if pa, pb := strings.SplitN(sidA, "-", 3), strings.SplitN(sid, "-", 3); len(pa) < 3 || len(pb) < 3 || pa[0]+pa[1] != pb[0]+pb[1] {
		t.Fatalf("session-id prefixes differ between replicas: %q vs %q", sidA, sid)
	}
	q := "/ameyorestapi/cc/downloadVoiceLog?campaignId=110&crtObjectId=d741-6904fad1-vce-daf-638729&targetFormat=wav&filters=" +
		url.QueryEscape(`{"callId":"d741-6904fad1-vcall-10989826"}`)
	if resp, body := a.do("GET", q, "", nil, "Sessionid", sid); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("Ameyo session from B on A: %d %.200s", resp.StatusCode, body)
	}
	if resp, body := a.do("POST", "/ameyorestapi/session/userLogout", "", strings.NewReader(`{"sessionId":"`+sid+`"}`),
		"Sessionid", sid, "Content-Type", "application/json"); resp.StatusCode != 200 {
		t.Fatalf("Ameyo logout on A: %d %s", resp.StatusCode, body)
	}
	staleAtMost(t, "Ameyo session logged out on A refused on B", func() bool {
		resp, _ := b.do("GET", q, "", nil, "Sessionid", sid)
		return resp.StatusCode == 401
	})

	// CC-Gateway GUID: sign in on A, heartbeat and download on B, logout on
	// B, then A refuses it.
	guid := a.ccSignIn("4977", "agent-demo-pass", "")
	resp, body, _ := b.rawDo("PUT", ccgw+"/onlineagent/4977/heartbeat", "", "Guid: "+guid)
	wantRetcode(t, resp, body, "0")
	resp, body, _ = b.rawDo("GET", ccgw+"/recordfile/4977/recordfiledownloadEx?callId=1621413752-2011", "", "Guid: "+guid)
	if resp.StatusCode != 200 || len(body) < 1000 {
		t.Fatalf("CC-Gateway download on B with A's GUID: %d %.200s", resp.StatusCode, body)
	}
	// Through the balancer the same GUID keeps working, and Set-GUID keeps
	// its exact casing through nginx.
	for i := 0; i < 3; i++ {
		resp, body, _ = lb.rawDo("PUT", ccgw+"/onlineagent/4977/heartbeat", "", "Guid: "+guid)
		wantRetcode(t, resp, body, "0")
	}
	resp, body, _ = b.rawDo("DELETE", ccgw+"/onlineagent/4977/logout", "", "Guid: "+guid)
	wantRetcode(t, resp, body, "0")
	staleAtMost(t, "CC-Gateway GUID logged out on B refused on A", func() bool {
		_, body, _ := a.rawDo("PUT", ccgw+"/onlineagent/4977/heartbeat", "", "Guid: "+guid)
		return bytes.Contains(body, []byte(`"100-006"`))
	})
	guid = lb.ccSignIn("4977", "agent-demo-pass", "")
	resp, body, _ = lb.rawDo("DELETE", ccgw+"/onlineagent/4977/logout", "", "Guid: "+guid)
	wantRetcode(t, resp, body, "0")
}

// 2. Ingest through replica A, download through replica B: every output
// byte-identical to what A would serve, each download audited once.
func TestScaleOutIngestOnADownloadOnB(t *testing.T) {
	c := startCluster(t)
	a, b := c.env(c.a.URL), c.env(c.b.URL)
	tok := a.loginDemo("admin")
	src := wavPCM16(8000*20, 7)
	resp, body := a.do("POST", "/api/v1/recordings?campaign=130&crtObjectId=scale-1&callId=scale-call-1&agent=4977", tok, bytes.NewReader(src))
	if resp.StatusCode != 201 {
		t.Fatalf("ingest on A: %d %s", resp.StatusCode, body)
	}
	var rec struct{ ID, SHA256 string }
	json.Unmarshal(body, &rec)
	if rec.SHA256 != sha(src) {
		t.Fatalf("ingest hash %s, want %s", rec.SHA256, sha(src))
	}
	get := func(e *testEnv, format string, hdr ...string) (*http.Response, []byte) {
		return e.do("GET", "/api/v1/recordings/"+rec.ID+"/media?format="+format, tok, nil, hdr...)
	}
	resp, orig := get(b, "original")
	if resp.StatusCode != 200 || sha(orig) != sha(src) {
		t.Fatalf("original on B: %d, %d bytes, identical=%v", resp.StatusCode, len(orig), sha(orig) == sha(src))
	}
	for _, f := range []string{"wav", "mp3"} {
		resp, fromB := get(b, f)
		if resp.StatusCode != 200 || len(fromB) < 1000 {
			t.Fatalf("%s on B: %d %.100s", f, resp.StatusCode, fromB)
		}
		_, fromA := get(a, f)
		if !bytes.Equal(fromA, fromB) {
			t.Fatalf("%s differs between replicas (%d vs %d bytes)", f, len(fromA), len(fromB))
		}
	}
	resp, part := get(b, "original", "Range", "bytes=1000-4999")
	if resp.StatusCode != 206 || !bytes.Equal(part, src[1000:5000]) {
		t.Fatalf("Range on B: %d, %d bytes", resp.StatusCode, len(part))
	}
	// original, wav on B and A, mp3 on B and A, the range: 6 downloads.
	if n := c.auditCount(rec.ID, "download", "granted"); n != 6 {
		t.Fatalf("%d download audit records, want one per download (6)", n)
	}
	if n := c.auditCount(rec.ID, "ingest", "granted"); n != 1 {
		t.Fatalf("%d ingest audit records, want 1", n)
	}
}

// 3. The CC-Gateway two-step download with step 1 on A and step 2 on B;
// the token, once used, fails on either replica.
func TestScaleOutQualityControlTwoStep(t *testing.T) {
	c := startCluster(t)
	a, b := c.env(c.a.URL), c.env(c.b.URL)
	guid := a.ccSignIn("4977", "agent-demo-pass", "")
	resp, body, _ := a.rawDo("GET", ccgw+"/qualitycontrol/4977/localrecordpath?format=1&recordId=Y:/90/0/20210519/4977/1642329.V3", "", "Guid: "+guid)
	ans := wantRetcode(t, resp, body, "0")
	var res struct{ Token, LocalRecordPath string }
	if err := json.Unmarshal(ans.Result, &res); err != nil || res.Token == "" {
		t.Fatalf("step 1: %s", body)
	}
	target := ccgw + "/qualitycontrol/4977/recordfile?token=" + url.QueryEscape(res.Token) + "&localRecordPath=" + url.QueryEscape(res.LocalRecordPath)
	resp, body, _ = b.rawDo("GET", target, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != itoa(len(body)) || len(body) < 1000 {
		t.Fatalf("step 2 on B: %d %.200s", resp.StatusCode, body)
	}
	for _, e := range []*testEnv{a, b} {
		resp, body, _ = e.rawDo("GET", target, "")
		wantRetcode(t, resp, body, "108-016")
	}
	// Two replicas racing one token: exactly one serves the file.
	resp, body, _ = a.rawDo("GET", ccgw+"/qualitycontrol/4977/localrecordpath?format=1&recordId=Y:/90/0/20210519/4977/1642329.V3", "", "Guid: "+guid)
	json.Unmarshal(wantRetcode(t, resp, body, "0").Result, &res)
	target = ccgw + "/qualitycontrol/4977/recordfile?token=" + url.QueryEscape(res.Token) + "&localRecordPath=x.wav"
	served := make([]bool, 2)
	var wg sync.WaitGroup
	for i, e := range []*testEnv{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body, _ := e.rawDo("GET", target, "")
			served[i] = resp.StatusCode == 200 && !bytes.HasPrefix(body, []byte("{"))
		}()
	}
	wg.Wait()
	if served[0] == served[1] {
		t.Fatalf("one token raced on two replicas: served by A %v, by B %v; want exactly one", served[0], served[1])
	}
}

// 4. Two replicas racing the same exclusive sign-in: exactly one wins.
func TestScaleOutExclusiveSignInRace(t *testing.T) {
	c := startCluster(t)
	a, b := c.env(c.a.URL), c.env(c.b.URL)
	body := `{"userId":"supervisor@exotel.in","token":"supervisor-demo-pass","terminalInfo":"race"}`
	for round := 0; round < 5; round++ {
		codes := make([]int, 2)
		sids := make([]string, 2)
		var wg sync.WaitGroup
		for i, e := range []*testEnv{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, b := e.do("POST", "/ameyorestapi/session/userLogin", "", strings.NewReader(body), "Content-Type", "application/json")
				codes[i] = resp.StatusCode
				var out struct{ SessionID string }
				json.Unmarshal(b, &out)
				sids[i] = out.SessionID
			}()
		}
		wg.Wait()
		won := 0
		var sid string
		for i, code := range codes {
			switch code {
			case 200:
				won++
				sid = sids[i]
			case 409:
			default:
				t.Fatalf("round %d: sign-in answered %d", round, code)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of two racing exclusive sign-ins won (%v), want exactly 1", round, won, codes)
		}
		resp, rb := a.do("POST", "/ameyorestapi/session/userLogout", "", strings.NewReader(`{"sessionId":"`+sid+`"}`),
			"Sessionid", sid, "Content-Type", "application/json")
		if resp.StatusCode != 200 {
			t.Fatalf("logout: %d %s", resp.StatusCode, rb)
		}
	}
	// CC-Gateway: the same race, one GUID.
	signIn := `{"password":"agent-demo-pass","phonenum":"88001"}`
	rcs := make([]string, 2)
	var wg sync.WaitGroup
	for i, e := range []*testEnv{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body, _ := e.rawDo("PUT", ccgw+"/onlineagent/4977", signIn, "Content-Type: application/json")
			var ans ccAnswer
			if resp.StatusCode == 200 && json.Unmarshal(body, &ans) == nil {
				rcs[i] = ans.Retcode
			}
		}()
	}
	wg.Wait()
	if ok := (rcs[0] == "0") != (rcs[1] == "0"); !ok {
		t.Fatalf("CC-Gateway sign-in race: retcodes %q, want exactly one 0", rcs)
	}
	for _, rc := range rcs {
		if rc != "0" && rc != "100-002" && rc != "000-007" {
			t.Fatalf("losing sign-in answered %q, want 100-002 or 000-007", rc)
		}
	}
}

// 5. Kill -9 replica A in the middle of a large download through the
// balancer: `recvault get` resumes through B to an identical file.
func TestScaleOutKillReplicaMidDownload(t *testing.T) {
	c := startCluster(t)
	a := c.env(c.a.URL)
	tok := a.loginDemo("admin")
	// 32 minutes of PCM16: 30.7 MB, about 4 s at the balancer's rate; far
	// more than the socket buffers between A, nginx and the client hold, so
	// killing A really cuts the transfer.
	src := wavPCM16(8000*60*32, 3)
	resp, body := a.do("POST", "/api/v1/recordings?campaign=131&crtObjectId=big-1&callId=big-call-1&agent=4977", tok, bytes.NewReader(src))
	if resp.StatusCode != 201 {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	var rec struct{ ID string }
	json.Unmarshal(body, &rec)

	sessions := filepath.Join(t.TempDir(), "sessions.json")
	out := t.TempDir()
	client := func(args ...string) *exec.Cmd {
		cmd := recvaultChild(t, args...)
		cmd.Env = append(cmd.Env, "RECVAULT_SESSIONS="+sessions, "RECVAULT_PASSWORD=admin-demo-pass")
		return cmd
	}
	if b, err := client("login", "v1", "--server", c.Failover, "--user", "admin").CombinedOutput(); err != nil {
		t.Fatalf("login through the balancer: %v %s", err, b)
	}
	get := client("get", "v1", "--id", rec.ID, "-o", out, "--retries", "5", "--retry-wait", "200ms", "--progress", "none")
	var getOut lockedBuffer
	get.Stdout, get.Stderr = &getOut, &getOut
	if err := get.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill A once a quarter of the file has arrived.
	deadline := time.Now().Add(60 * time.Second)
	for {
		parts, _ := filepath.Glob(filepath.Join(out, ".*.recvault-part"))
		if len(parts) == 1 {
			if st, err := os.Stat(parts[0]); err == nil && st.Size() > int64(len(src)/4) {
				if st.Size() >= int64(len(src)) {
					t.Fatal("download finished before the replica could be killed")
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("download did not progress: %s", getOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.a.kill(t)
	if err := get.Wait(); err != nil {
		t.Fatalf("recvault get after replica A died: %v\n%s", err, getOut.String())
	}
	files, _ := filepath.Glob(filepath.Join(out, "[^.]*"))
	if len(files) != 1 {
		t.Fatalf("output holds %v", files)
	}
	got, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if sha(got) != sha(src) {
		t.Fatalf("resumed file differs: %d bytes, want %d", len(got), len(src))
	}
	if !strings.Contains(c.b.logs.String(), `"status":206`) {
		t.Fatalf("replica B served no ranged resume:\n%s", c.b.logs.String())
	}
}

// Every operator command works on the remote backends given by flags (and,
// in the README's walk-through, by RECVAULT_CATALOG/RECVAULT_BLOBS).
func TestOperatorCommandsOnRemoteBackends(t *testing.T) {
	loc := remoteLocations(t, t.TempDir())
	store := []string{"--catalog", loc.Catalog, "--blobs", loc.Blobs}
	t.Setenv("RECVAULT_PASSWORD", "operator-pass-1")
	cli := func(args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, "", args...)
		if code != 0 {
			t.Fatalf("recvault %v: exit %d: %s", args, code, errs)
		}
		return out
	}
	cli(append([]string{"user", "add", "--login", "ops-admin", "--role", "admin"}, store...)...)
	if out := cli(append([]string{"user", "list"}, store...)...); !strings.Contains(out, "ops-admin") {
		t.Fatalf("user list: %s", out)
	}
	src := filepath.Join(t.TempDir(), "call.wav")
	if err := os.WriteFile(src, wavPCM16(16000, 5), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := cli(append([]string{"ingest", "--campaign", "140", "--crt-object-id", "ops-1", "--call-id", "c", "--agent", "4977", src}, store...)...); !strings.Contains(out, "ingested") {
		t.Fatalf("ingest: %s", out)
	}
	manifest := filepath.Join(filepath.Dir(src), "m.csv")
	os.WriteFile(manifest, []byte("path,campaign_id,crt_object_id,call_id,agent_id\ncall.wav,140,ops-2,c2,4977\n"), 0o600)
	if out := cli(append([]string{"import", "--manifest", manifest, "--progress", "none"}, store...)...); !strings.Contains(out, `"ingested"`) {
		t.Fatalf("import: %s", out)
	}
	if out := cli(append([]string{"apikey", "add", "--name", "ops-key", "--role", "supervisor", "--campaign", "140"}, store...)...); !strings.Contains(out, "rvk_") {
		t.Fatalf("apikey add: %s", out)
	}
	// All of it is in the remote catalog and bucket: a server on them sees it.
	a, err := openApp(context.Background(), loc, appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, crt := range []string{"ops-1", "ops-2"} {
		r, err := a.cat.RecordingByIdentity(context.Background(), 140, crt)
		if err != nil {
			t.Fatalf("%s not in the remote catalog: %v", crt, err)
		}
		b, err := a.blobs.Open(context.Background(), r.BlobKey)
		if err != nil {
			t.Fatalf("%s not in the bucket: %v", crt, err)
		}
		b.Close()
	}
}

// The client address behind the balancer reaches the audit trail from
// X-Forwarded-For, and a caller-chosen X-Request-Id of sane shape is kept.
func TestScaleOutForwardedForAndRequestID(t *testing.T) {
	c := startCluster(t)
	lb, a := c.env(c.LB), c.env(c.a.URL)
	tok := lb.loginDemo("supervisor@exotel.in")
	rec, err := c.cat.RecordingByIdentity(context.Background(), 110, "d741-6904fad1-vce-daf-638729")
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := lb.do("GET", "/api/v1/recordings/"+rec.ID, tok, nil, "X-Forwarded-For", "203.0.113.9", "X-Request-Id", "lb-0123456789abcdef")
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") != "lb-0123456789abcdef" {
		t.Fatalf("through the balancer: %d, request id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	// A request id of the wrong shape is replaced (the X-Forwarded-For
	// rules themselves are server.TestClientAddr's).
	resp, _ = a.do("GET", "/api/v1/recordings/"+rec.ID, tok, nil, "X-Request-Id", "bad id with spaces")
	if id := resp.Header.Get("X-Request-Id"); id == "bad id with spaces" || len(id) != 16 {
		t.Fatalf("malformed request id kept: %q", id)
	}
	ev, err := c.cat.Audit(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev {
		if e.RequestID == "lb-0123456789abcdef" {
			if !strings.HasPrefix(e.Remote, "203.0.113.9") {
				t.Fatalf("audit remote %q, want the client 203.0.113.9 from X-Forwarded-For", e.Remote)
			}
			return
		}
	}
	t.Fatal("no audit record with the balancer's request id")
}
