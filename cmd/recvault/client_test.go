package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/recvault/recvault/client"
	"github.com/recvault/recvault/server"
	"github.com/recvault/recvault/vault"
)

// The download client (`recvault login/logout/get`) against a real
// recvault server: a real data directory with the demo data, a real
// listener, over HTTP and HTTPS.

// clientSetup points the session file at a temporary path and clears the
// password, so nothing of the user running the tests is read or written.
func clientSetup(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "sessions", "sessions.json")
	t.Setenv("RECVAULT_SESSIONS", p)
	t.Setenv("RECVAULT_PASSWORD", "")
	return p
}

// cliLogin runs `recvault login` with the password in the environment,
// then clears it again.
func cliLogin(t *testing.T, server, proto, user, password string, extra ...string) {
	t.Helper()
	t.Setenv("RECVAULT_PASSWORD", password)
	defer os.Setenv("RECVAULT_PASSWORD", "")
	args := append([]string{"login", proto, "--server", server, "--user", user}, extra...)
	if code, out, errs := runCLI(t, "", args...); code != 0 {
		t.Fatalf("login %s %s: exit %d\n%s%s", proto, user, code, out, errs)
	}
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha(b)
}

// fetchSHA downloads path from the server as admin over the native API
// with a plain HTTP client: what the server holds for that request.
func fetchSHA(t *testing.T, hc *http.Client, base, path string) (string, http.Header) {
	t.Helper()
	resp, err := hc.Post(base+"/api/v1/sessions", "application/json", strings.NewReader(`{"login":"admin","password":"admin-demo-pass"}`))
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("reference fetch %s: %d %v", path, resp.StatusCode, err)
	}
	return hex.EncodeToString(h.Sum(nil)), resp.Header
}

// reportLines parses JSON-lines report output.
func reportLines(t *testing.T, out string) []outcome {
	t.Helper()
	var res []outcome
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var o outcome
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("report line %q: %v", l, err)
		}
		res = append(res, o)
	}
	return res
}

// noPartials fails if dir holds partial downloads or anything but the
// listed files (and the state file).
func noPartials(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		if client.IsPartial(e.Name()) || strings.HasPrefix(e.Name(), ".") && e.Name() != stateFile {
			t.Errorf("left behind: %s", e.Name())
		}
		if e.Name() != stateFile {
			got = append(got, e.Name())
		}
	}
	if want != nil && strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

func startTLSEnv(t *testing.T) (*testEnv, string, *http.Client) {
	certFile, keyFile, pool := selfSigned(t)
	env := startEnvWith(t, func(c *server.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	env.URL = strings.Replace(env.URL, "http://", "https://", 1)
	return env, certFile, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// TestGetEveryProtocolByteIdentical logs in and downloads with each
// protocol over HTTP and HTTPS; every saved file has the SHA-256 of what
// the server serves for the same request, and is named by its media type.
func TestGetEveryProtocolByteIdentical(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			clientSetup(t)
			var env *testEnv
			hc := http.DefaultClient
			var tlsFlags []string
			if scheme == "https" {
				var certFile string
				env, certFile, hc = startTLSEnv(t)
				tlsFlags = []string{"--cacert", certFile}
			} else {
				env = startEnv(t)
			}
			monoID := env.recordingID(110, "d741-6904fad1-vce-daf-638729").ID
			stereoID := env.recordingID(110, "1621413752-2011-voice").ID
			mp3Ref, _ := fetchSHA(t, hc, env.URL, "/api/v1/recordings/"+monoID+"/media?format=mp3")
			alawRef, _ := fetchSHA(t, hc, env.URL, "/api/v1/recordings/"+stereoID+"/media?format=wav-alaw")
			cases := []struct {
				proto, user, password string
				args                  []string
				file, sha             string
			}{
				{"v1", "supervisor@exotel.in", "supervisor-demo-pass", []string{"--id", monoID},
					"d741-6904fad1-vce-daf-638729.wav", demoSHA(t, "call-alaw-mono.wav")}, // as the server's Content-Disposition
				{"v1", "supervisor@exotel.in", "supervisor-demo-pass", []string{"--id", monoID, "--format", "mp3", "--name", "as-mp3"},
					"as-mp3.mp3", mp3Ref},
				{"ameyo", "supervisor@exotel.in", "supervisor-demo-pass", []string{"--campaign", "110",
					"--crt-object-id", "d741-6904fad1-vce-daf-638729", "--call-id", "d741-6904fad1-vcall-10989826", "--format", "mp3"},
					"d741-6904fad1-vce-daf-638729.mp3", mp3Ref},
				{"ameyo", "supervisor@exotel.in", "supervisor-demo-pass", []string{"--campaign", "110",
					"--crt-object-id", "d741-6904fad1-vce-daf-638729", "--call-id", "d741-6904fad1-vcall-10989826", "--format", "original", "--name", "orig"},
					"orig.wav", demoSHA(t, "call-alaw-mono.wav")},
				{"ccgw", "4977", "agent-demo-pass", []string{"--agent", "4977", "--call-id", "1621413752-2011"},
					"1621413752-2011.wav", alawRef},
				{"ccgw", "4977", "agent-demo-pass", []string{"--call-id", "1621413752-2011", "--hw-file-name", "Y:/90/0/20210519/4977/1642329.mp4"},
					"1621413752-2011-1642329.mp4", demoSHA(t, "screen.mp4")},
			}
			loggedIn := map[string]bool{}
			for _, c := range cases {
				if !loggedIn[c.proto] {
					cliLogin(t, env.URL, c.proto, c.user, c.password, tlsFlags...)
					loggedIn[c.proto] = true
				}
				dir := t.TempDir()
				args := append([]string{"get", c.proto, "-o", dir, "--progress", "json"}, c.args...)
				code, out, errs := runCLI(t, "", args...)
				if code != 0 {
					t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
				}
				if got := fileSHA(t, filepath.Join(dir, c.file)); got != c.sha {
					t.Fatalf("%s %v: saved sha256 %s, server holds %s", c.proto, c.args, got, c.sha)
				}
				rep := reportLines(t, out)
				if len(rep) != 1 || rep[0].Status != "downloaded" || rep[0].SHA256 != c.sha || rep[0].File != filepath.Join(dir, c.file) {
					t.Fatalf("report %+v", rep)
				}
				if !strings.Contains(errs, `"event":"progress"`) || !strings.Contains(errs, `"event":"batch"`) {
					t.Errorf("no JSON progress on stderr: %s", errs)
				}
				noPartials(t, dir, c.file)
			}
		})
	}
}

func TestInsecureWarnsAndWorks(t *testing.T) {
	clientSetup(t)
	env, _, _ := startTLSEnv(t)
	// Without trust the certificate is refused.
	t.Setenv("RECVAULT_PASSWORD", "admin-demo-pass")
	if code, _, errs := runCLI(t, "", "login", "v1", "--server", env.URL, "--user", "admin"); code != 1 || !strings.Contains(errs, "certificate") {
		t.Fatalf("untrusted certificate: exit %d %s", code, errs)
	}
	code, _, errs := runCLI(t, "", "login", "v1", "--server", env.URL, "--user", "admin", "--insecure")
	if code != 0 || !strings.Contains(errs, "warning: --insecure") {
		t.Fatalf("insecure login: exit %d %s", code, errs)
	}
	dir := t.TempDir()
	id := env.recordingID(110, "d741-6904fad1-vce-daf-638730").ID
	code, _, errs = runCLI(t, "", "get", "v1", "--id", id, "-o", dir, "--progress", "none")
	if code != 0 || !strings.Contains(errs, "warning: --insecure") {
		t.Fatalf("get with the stored insecure session: exit %d %s", code, errs)
	}
	if got := fileSHA(t, filepath.Join(dir, "d741-6904fad1-vce-daf-638730.wav")); got != demoSHA(t, "call-ulaw-mono.wav") {
		t.Fatal("insecure download differs")
	}
}

// cuttingProxy sits between client and recvault on 127.0.0.1 and drops the
// connection of the first media answer after cut bytes.
type cuttingProxy struct {
	*httptest.Server
	mu     sync.Mutex
	ranges []string
	media  atomic.Int32
	// fail answers the first len(fail) media requests with these statuses.
	fail []int
}

func newCuttingProxy(t *testing.T, target string, cut int64, fail ...int) *cuttingProxy {
	u, _ := url.Parse(target)
	p := &cuttingProxy{fail: fail}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(resp *http.Response) error {
		if isMedia(resp.Request.URL.Path) && p.media.Load() == 1+int32(len(p.fail)) && cut > 0 && resp.StatusCode == 200 {
			resp.Body = &cutBody{r: resp.Body, left: cut}
		}
		return nil
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isMedia(r.URL.Path) {
			n := p.media.Add(1)
			p.mu.Lock()
			p.ranges = append(p.ranges, r.Header.Get("Range")+"|"+r.Header.Get("If-Range"))
			p.mu.Unlock()
			if int(n) <= len(p.fail) {
				w.Header().Set("Retry-After", "0")
				http.Error(w, "try later", p.fail[n-1])
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func isMedia(p string) bool {
	return strings.HasSuffix(p, "/media") || strings.Contains(p, "downloadVoiceLog") || strings.Contains(p, "recordfiledownloadEx")
}

type cutBody struct {
	r    io.ReadCloser
	left int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("proxy cuts the connection")
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
func (c *cutBody) Close() error { return c.r.Close() }

// ingestLarge adds a 4 MB recording and returns its id and bytes' SHA-256.
func ingestLarge(t *testing.T, env *testEnv) (string, string) {
	b := wavPCM16(2_000_000, 42)
	rec, _, err := env.app.svc.Ingest(context.Background(), nil, vault.IngestRequest{CampaignID: 110,
		CRTObjectID: "big-1", CallID: "big-call-1", AgentID: "5001"}, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return rec.ID, sha(b)
}

// TestGetResumesAfterCutConnection: a proxy drops the connection 1 MB into
// a 4 MB download; the client resumes with Range + If-Range and the file is
// byte-identical, with nothing partial left.
func TestGetResumesAfterCutConnection(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	id, want := ingestLarge(t, env)
	px := newCuttingProxy(t, env.URL, 1<<20)
	cliLogin(t, px.URL, "v1", "admin", "admin-demo-pass")
	dir := t.TempDir()
	code, out, errs := runCLI(t, "", "get", "v1", "--id", id, "-o", dir, "--retry-wait", "1ms", "--progress", "none")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if got := fileSHA(t, filepath.Join(dir, "big-1.wav")); got != want {
		t.Fatalf("resumed file sha256 %s, want %s", got, want)
	}
	// The resumed request starts where the received bytes end: at most the
	// 1 MiB the proxy forwarded (bytes in flight at the reset may be lost).
	var start int64
	if len(px.ranges) == 2 {
		fmt.Sscanf(px.ranges[1], "bytes=%d-", &start)
	}
	if len(px.ranges) != 2 || start <= 0 || start > 1<<20 || !strings.Contains(px.ranges[1], "-|\"") {
		t.Fatalf("requests' Range|If-Range: %q", px.ranges)
	}
	noPartials(t, dir, "big-1.wav")
}

// TestGetRetriesServerErrors: 503 then 500 then success.
func TestGetRetriesServerErrors(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	px := newCuttingProxy(t, env.URL, 0, 503, 500)
	cliLogin(t, px.URL, "ameyo", "supervisor@exotel.in", "supervisor-demo-pass")
	dir := t.TempDir()
	code, out, errs := runCLI(t, "", "get", "ameyo", "--campaign", "110", "--crt-object-id", "d741-6904fad1-vce-daf-638729",
		"--call-id", "d741-6904fad1-vcall-10989826", "--format", "original", "-o", dir, "--retry-wait", "1ms", "--progress", "none")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if px.media.Load() != 3 {
		t.Fatalf("%d download requests, want 3", px.media.Load())
	}
	if got := fileSHA(t, filepath.Join(dir, "d741-6904fad1-vce-daf-638729.wav")); got != demoSHA(t, "call-alaw-mono.wav") {
		t.Fatal("file differs")
	}
	noPartials(t, dir, "d741-6904fad1-vce-daf-638729.wav")
}

// TestGetDoesNotRetry401And404, then renews an expired session once when
// the password is available.
func TestGetDoesNotRetry401And404(t *testing.T) {
	sessions := clientSetup(t)
	env := startEnv(t)
	px := newCuttingProxy(t, env.URL, 0)
	cliLogin(t, px.URL, "v1", "admin", "admin-demo-pass")
	dir := t.TempDir()

	code, out, errs := runCLI(t, "", "get", "v1", "--id", "no-such-recording", "-o", dir, "--retry-wait", "1ms", "--progress", "none")
	rep := reportLines(t, out)
	if code != 1 || px.media.Load() != 1 || len(rep) != 1 || rep[0].ErrorKind != "not_found" || rep[0].HTTPStatus != 404 || rep[0].ErrorCode != "not_found" {
		t.Fatalf("404: exit %d, %d requests, report %+v\n%s", code, px.media.Load(), rep, errs)
	}
	noPartials(t, dir)

	// End the session on the server: the next download gets 401.
	var f struct{ Sessions []storedSession }
	b, _ := os.ReadFile(sessions)
	json.Unmarshal(b, &f)
	old := f.Sessions[0].Token
	if resp, _ := env.do("DELETE", "/api/v1/sessions/current", old, nil); resp.StatusCode != 204 {
		t.Fatalf("server logout %d", resp.StatusCode)
	}
	id := env.recordingID(110, "d741-6904fad1-vce-daf-638729").ID
	px.media.Store(0)
	code, out, _ = runCLI(t, "", "get", "v1", "--id", id, "-o", dir, "--retry-wait", "1ms", "--progress", "none")
	rep = reportLines(t, out)
	if code != 1 || px.media.Load() != 1 || len(rep) != 1 || rep[0].ErrorKind != "unauthenticated" || rep[0].HTTPStatus != 401 {
		t.Fatalf("401: exit %d, %d requests, report %+v", code, px.media.Load(), rep)
	}
	noPartials(t, dir)

	// With the password at hand the client signs in again, once, and keeps
	// the new session.
	t.Setenv("RECVAULT_PASSWORD", "admin-demo-pass")
	px.media.Store(0)
	code, out, errs = runCLI(t, "", "get", "v1", "--id", id, "-o", dir, "--retry-wait", "1ms", "--progress", "none")
	if code != 0 || px.media.Load() != 2 {
		t.Fatalf("renewal: exit %d, %d requests\n%s%s", code, px.media.Load(), out, errs)
	}
	b, _ = os.ReadFile(sessions)
	json.Unmarshal(b, &f)
	if f.Sessions[0].Token == old || f.Sessions[0].Token == "" {
		t.Fatal("renewed session not stored")
	}
	noPartials(t, dir, "d741-6904fad1-vce-daf-638729.wav") // the server's name for it
}

// TestGetCCGatewayErrorBodyNotSaved: the gateway answers HTTP 200 with
// {"retcode":"108-001",…}; that is an error, and no file appears.
func TestGetCCGatewayErrorBodyNotSaved(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	cliLogin(t, env.URL, "ccgw", "4977", "agent-demo-pass")
	dir := t.TempDir()
	for _, c := range []struct{ callID, workNo, code, kind string }{
		{"1621413752-9999", "", "108-001", "not_found"},
		{"1621413752-2011", "5001", "000-003", "forbidden"},
	} {
		args := []string{"get", "ccgw", "--call-id", c.callID, "-o", dir, "--progress", "none", "--retry-wait", "1ms"}
		if c.workNo != "" {
			args = append(args, "--work-no", c.workNo)
		}
		code, out, errs := runCLI(t, "", args...)
		rep := reportLines(t, out)
		if code != 1 || len(rep) != 1 || rep[0].ErrorCode != c.code || rep[0].ErrorKind != c.kind || rep[0].HTTPStatus != 200 {
			t.Fatalf("%s: exit %d report %+v\n%s", c.callID, code, rep, errs)
		}
		if !strings.Contains(errs, c.code) {
			t.Errorf("stderr does not name the retcode: %s", errs)
		}
	}
	noPartials(t, dir)
	if n := countFiles(t, dir); n != 0 { // a single get keeps no state file
		t.Fatalf("%d files in the target directory", n)
	}
}

// TestGetManifest500Rows downloads a 500-row manifest with 8 in parallel;
// 21 rows are bad (unknown recordings, one row without an id). Every good
// row's file matches the server, the report has one line per row, the
// exit code says not all succeeded, and a second run skips what is done.
func TestGetManifest500Rows(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	cliLogin(t, env.URL, "v1", "admin", "admin-demo-pass")
	recs := []struct{ crt, file string }{
		{"d741-6904fad1-vce-daf-638729", "call-alaw-mono.wav"},
		{"1621413752-2011-voice", "call-alaw-stereo.wav"},
		{"d741-6904fad1-vce-daf-638730", "call-ulaw-mono.wav"},
	}
	var mf strings.Builder
	mf.WriteString("Recording_ID,name,format\n")
	want := map[string]string{} // file → sha
	bad := 0
	for i := 0; i < 500; i++ {
		name := fmt.Sprintf("row-%03d", i)
		switch {
		case i%25 == 7:
			fmt.Fprintf(&mf, "missing-%d,%s,\n", i, name)
			bad++
		case i == 499:
			fmt.Fprintf(&mf, ",%s,\n", name)
			bad++
		default:
			r := recs[i%3]
			fmt.Fprintf(&mf, "%s,%s,original\n", env.recordingID(110, r.crt).ID, name)
			want[name+".wav"] = demoSHA(t, r.file)
		}
	}
	manifest := filepath.Join(t.TempDir(), "calls.csv")
	os.WriteFile(manifest, []byte(mf.String()), 0o600)
	dir, reportDir := t.TempDir(), t.TempDir()
	report := filepath.Join(reportDir, "report.csv")
	code, out, errs := runCLI(t, "", "get", "v1", "--manifest", manifest, "--parallel", "8", "-o", dir,
		"--report", report, "--progress", "none", "--retry-wait", "1ms")
	if code != 1 || !strings.Contains(errs, fmt.Sprintf("%d of 500 downloads failed", bad)) {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	rf, _ := os.Open(report)
	rows, err := csv.NewReader(rf).ReadAll()
	rf.Close()
	if err != nil || len(rows) != 501 || strings.Join(rows[0], ",") != strings.Join(reportColumns, ",") {
		t.Fatalf("report: %d rows, %v", len(rows), err)
	}
	status := map[string]int{}
	for _, r := range rows[1:] {
		status[r[2]]++
		if r[2] == "failed" && r[8] != "not_found" && r[8] != "invalid_row" {
			t.Errorf("row %s failed with kind %q: %s", r[0], r[8], r[11])
		}
	}
	if status["downloaded"] != 500-bad || status["failed"] != bad {
		t.Fatalf("statuses %v", status)
	}
	for name, s := range want {
		if got := fileSHA(t, filepath.Join(dir, name)); got != s {
			t.Fatalf("%s: sha256 %s, want %s", name, got, s)
		}
	}
	noPartials(t, dir)
	if n := countFiles(t, dir); n != len(want)+1 {
		t.Fatalf("%d files, want %d and the state file", n, len(want))
	}

	// Run again: complete rows are skipped (checked by size and checksum),
	// the bad ones fail again; a damaged file is fetched again.
	os.WriteFile(filepath.Join(dir, "row-000.wav"), []byte("damaged"), 0o600)
	code, out, _ = runCLI(t, "", "get", "v1", "--manifest", manifest, "--parallel", "8", "-o", dir, "--progress", "none")
	status = map[string]int{}
	for _, o := range reportLines(t, out) {
		status[o.Status]++
	}
	if code != 1 || status["skipped"] != 500-bad-1 || status["downloaded"] != 1 || status["failed"] != bad {
		t.Fatalf("second run: exit %d statuses %v", code, status)
	}
	if fileSHA(t, filepath.Join(dir, "row-000.wav")) != want["row-000.wav"] {
		t.Fatal("damaged file not replaced")
	}
}

// TestVerboseHidesSecrets: -v logs every request but never a password,
// session id or GUID in full; the session file is 0600.
func TestVerboseHidesSecrets(t *testing.T) {
	sessions := clientSetup(t)
	env := startEnv(t)
	for _, c := range []struct {
		proto, user, password string
		get                   []string
	}{
		{"ameyo", "supervisor@exotel.in", "supervisor-demo-pass", []string{"--campaign", "110", "--crt-object-id",
			"d741-6904fad1-vce-daf-638729", "--call-id", "d741-6904fad1-vcall-10989826", "--format", "wav"}},
		{"ccgw", "4977", "agent-demo-pass", []string{"--call-id", "1621413752-2011"}},
		{"v1", "admin", "admin-demo-pass", []string{"--id", env.recordingID(110, "d741-6904fad1-vce-daf-638730").ID}},
	} {
		t.Setenv("RECVAULT_PASSWORD", c.password)
		code, _, loginErrs := runCLI(t, "", "login", c.proto, "--server", env.URL, "--user", c.user, "-v")
		t.Setenv("RECVAULT_PASSWORD", "")
		if code != 0 {
			t.Fatalf("login %s: %s", c.proto, loginErrs)
		}
		code, _, getErrs := runCLI(t, "", append([]string{"get", c.proto, "-o", t.TempDir(), "-v", "--progress", "none"}, c.get...)...)
		if code != 0 {
			t.Fatalf("get %s: %s", c.proto, getErrs)
		}
		var f struct{ Sessions []storedSession }
		b, _ := os.ReadFile(sessions)
		json.Unmarshal(b, &f)
		var token string
		for _, s := range f.Sessions {
			if s.Protocol == c.proto {
				token = s.Token
			}
		}
		log := loginErrs + getErrs
		if token == "" || !strings.Contains(log, "> GET ") {
			t.Fatalf("%s: no token stored or no request logged:\n%s", c.proto, log)
		}
		for _, secret := range []string{c.password, token, token[len(token)-12:]} {
			if strings.Contains(log, secret) {
				t.Fatalf("%s: -v log shows %q:\n%s", c.proto, secret, log)
			}
		}
	}
	fi, err := os.Stat(sessions)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file mode %v %v", fi.Mode(), err)
	}
}

func TestLogoutEndsServerSession(t *testing.T) {
	sessions := clientSetup(t)
	env := startEnv(t)
	cliLogin(t, env.URL, "v1", "admin", "admin-demo-pass")
	cliLogin(t, env.URL, "ccgw", "4977", "agent-demo-pass")
	var f struct{ Sessions []storedSession }
	b, _ := os.ReadFile(sessions)
	json.Unmarshal(b, &f)
	if len(f.Sessions) != 2 {
		t.Fatalf("%d sessions stored", len(f.Sessions))
	}
	code, out, errs := runCLI(t, "", "logout", "v1")
	if code != 0 || !strings.Contains(out, "logged out of") {
		t.Fatalf("logout: %d %s %s", code, out, errs)
	}
	var tok string
	for _, s := range f.Sessions {
		if s.Protocol == "v1" {
			tok = s.Token
		}
	}
	if resp, _ := env.do("GET", "/api/v1/recordings", tok, nil); resp.StatusCode != 401 {
		t.Fatalf("token still valid after logout: %d", resp.StatusCode)
	}
	b, _ = os.ReadFile(sessions)
	f.Sessions = nil
	json.Unmarshal(b, &f)
	if len(f.Sessions) != 1 || f.Sessions[0].Protocol != "ccgw" {
		t.Fatalf("sessions after logout v1: %+v", f.Sessions)
	}
	// get without a session says how to get one.
	if code, _, errs := runCLI(t, "", "get", "v1", "--id", "x", "-o", t.TempDir()); code != 1 || !strings.Contains(errs, "recvault login v1") {
		t.Fatalf("get without session: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, "", "logout"); code != 0 {
		t.Fatal("logout all")
	}
	b, _ = os.ReadFile(sessions)
	f.Sessions = nil
	json.Unmarshal(b, &f)
	if len(f.Sessions) != 0 {
		t.Fatalf("sessions after logout: %+v", f.Sessions)
	}
}

func TestGetUsageErrors(t *testing.T) {
	clientSetup(t)
	for _, args := range [][]string{
		{"get"}, {"get", "sftp"}, {"login", "v1", "--user", "a"}, {"login", "v1", "--server", "ftp://x", "--user", "a"},
		{"get", "v1", "--progress", "fancy"}, {"get", "v1", "--parallel", "0"},
	} {
		if code, _, errs := runCLI(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs)
		}
	}
}

// FuzzGetManifest: any manifest bytes give rows or an error, never a
// panic, and never more rows than lines.
func FuzzGetManifest(f *testing.F) {
	f.Add([]byte("id,name,format\nabc,row-1,wav\n,\n\"bad\"quote,x\n"))
	f.Add([]byte("campaign_id,crtObjectId,CALL-ID\n110,a,b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "m.csv")
		os.WriteFile(p, b, 0o600)
		for _, proto := range protocols {
			rows, err := readGetManifest(p, proto, map[string]string{"format": "mp3"})
			if err == nil && len(rows) > bytes.Count(b, []byte("\n"))+bytes.Count(b, []byte("\r"))+1 {
				t.Fatalf("%d rows from %d bytes", len(rows), len(b))
			}
		}
	})
}

// TestGetResumesNextRun: the connection drops and no retry is allowed, so
// the run fails and keeps its partial file; the next run continues it with
// Range + If-Range and leaves only the complete file.
func TestGetResumesNextRun(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	id, want := ingestLarge(t, env)
	px := newCuttingProxy(t, env.URL, 1500_000)
	cliLogin(t, px.URL, "v1", "admin", "admin-demo-pass")
	dir := t.TempDir()
	args := []string{"get", "v1", "--id", id, "-o", dir, "--retries", "1", "--progress", "none"}
	code, out, _ := runCLI(t, "", args...)
	if rep := reportLines(t, out); code != 1 || len(rep) != 1 || rep[0].ErrorKind != "network" {
		t.Fatalf("first run: exit %d %s", code, out)
	}
	// The proxy forwards 1,500,000 bytes and resets the connection; bytes
	// still in flight at the reset may be lost, so the partial holds at most that.
	fi, err := os.Stat(filepath.Join(dir, "."+id+client.PartSuffix))
	if err != nil || fi.Size() == 0 || fi.Size() > 1500_000 {
		t.Fatalf("partial file after the cut: %v %v", fi, err)
	}
	have := fi.Size()
	code, out, errs := runCLI(t, "", args...)
	rep := reportLines(t, out)
	if code != 0 || len(rep) != 1 || !rep[0].Resumed || rep[0].SHA256 != want {
		t.Fatalf("second run: exit %d %+v %s", code, rep, errs)
	}
	if got := fileSHA(t, filepath.Join(dir, "big-1.wav")); got != want {
		t.Fatal("resumed file differs")
	}
	if len(px.ranges) != 2 || !strings.HasPrefix(px.ranges[1], "bytes="+strconv.FormatInt(have, 10)+"-|\"") {
		t.Fatalf("Range|If-Range of the two runs: %q", px.ranges)
	}
	noPartials(t, dir, "big-1.wav")
}
