package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recvault/recvault/demo"
)

// scrape reads /metrics and returns each sample line's value by its name
// with labels, as the text format writes it.
func scrape(t *testing.T, url string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out, string(body)
}

// TestMetrics: /metrics counts requests by API, route pattern and status,
// bytes, conversions, the transcode cache, audit commits and refused
// sign-ins, has the Go runtime's metrics, and never names a recording or
// a user in a label.
func TestMetrics(t *testing.T) {
	env := startEnv(t)
	before, _ := scrape(t, env.URL+"/metrics")
	tok := env.loginDemo("admin")
	dual := env.recordingID(110, "1621413752-2011-voice")
	mp3 := env.recordingID(120, "d741-6904fad1-vce-daf-700001")
	resp, body := env.do("GET", "/api/v1/recordings/"+dual.ID+"/media", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	original := len(body)
	env.do("GET", "/api/v1/recordings/"+dual.ID+"/media?format=wav", tok, nil, "Range", "bytes=1000-1999")
	for range 2 { // a miss that converts, then a hit
		if resp, _ := env.do("GET", "/api/v1/recordings/"+mp3.ID+"/media?format=wav", tok, nil); resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode)
		}
	}
	env.do("GET", "/api/v1/recordings/00000000000000000000", tok, nil)
	env.do("POST", "/api/v1/sessions", "", strings.NewReader(`{"login":"admin","password":"wrong"}`))
	env.do("GET", "/ameyorestapi/cc/downloadVoiceLog?campaignId=110&crtObjectId=x", "", nil)

	after, text := scrape(t, env.URL+"/metrics")
	grew := func(sample string, by float64) {
		t.Helper()
		if after[sample]-before[sample] < by {
			t.Errorf("%s went from %v to %v, want +%v", sample, before[sample], after[sample], by)
		}
	}
	grew(`recvault_http_requests_total{api="v1",route="GET /api/v1/recordings/{id}/media",status="200"}`, 3)
	grew(`recvault_http_requests_total{api="v1",route="GET /api/v1/recordings/{id}/media",status="206"}`, 1)
	grew(`recvault_http_requests_total{api="v1",route="GET /api/v1/recordings/{id}",status="404"}`, 1)
	grew(`recvault_http_requests_total{api="v1",route="POST /api/v1/sessions",status="401"}`, 1)
	grew(`recvault_http_requests_total{api="ameyo",route="GET /ameyorestapi/cc/downloadVoiceLog",status="401"}`, 1)
	grew(`recvault_http_response_bytes_total{api="v1"}`, float64(original))
	grew(`recvault_http_request_duration_seconds_count{api="v1",route="GET /api/v1/recordings/{id}/media"}`, 4)
	grew(`recvault_transcodes_total{format="wav",mode="by-offset"}`, 1)
	grew(`recvault_transcodes_total{format="wav",mode="whole"}`, 1)
	grew(`recvault_transcode_duration_seconds_count{format="wav"}`, 1)
	grew(`recvault_transcode_cache_lookups_total{result="miss"}`, 1)
	grew(`recvault_transcode_cache_lookups_total{result="hit"}`, 1)
	grew(`recvault_audit_records_total`, 6)
	grew(`recvault_audit_commit_seconds_count`, 1)
	grew(`recvault_signin_refusals_total{reason="failed"}`, 1)
	for _, name := range []string{"recvault_downloads_in_flight", "recvault_audit_queue_depth", "recvault_transcode_cache_bytes",
		"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := after[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	if after["recvault_transcode_cache_bytes"] <= 0 {
		t.Errorf("transcode cache bytes %v after a cached conversion", after["recvault_transcode_cache_bytes"])
	}
	for _, secret := range []string{dual.ID, mp3.ID, "00000000000000000000", "admin\"", "supervisor@", tok} {
		if strings.Contains(text, secret) {
			t.Errorf("the metrics name %q", secret)
		}
	}
	if m := regexp.MustCompile(`route="[^"]*[0-9a-f]{20}[^"]*"`).FindString(text); m != "" {
		t.Errorf("a route label holds an id: %s", m)
	}
}

// TestRequestLog: a request's log line names the API, the route pattern,
// the principal (never a token), the format and the bytes; a download the
// client hangs up on is marked cut.
func TestRequestLog(t *testing.T) {
	env := startEnv(t)
	tok := env.loginDemo("supervisor@exotel.in")
	dual := env.recordingID(110, "1621413752-2011-voice")
	resp, body := env.do("GET", "/api/v1/recordings/"+dual.ID+"/media?format=mp3", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	line := findLog(t, env, func(m map[string]any) bool {
		return m["route"] == "GET /api/v1/recordings/{id}/media" && m["format"] == "mp3"
	})
	if line["api"] != "v1" || line["principal"] != "supervisor@exotel.in" || line["bytes"] != float64(len(body)) || line["cut"] != nil {
		t.Fatalf("log line %v", line)
	}
	if strings.Contains(env.logs.String(), tok) {
		t.Fatal("the token is in the log")
	}

	// A 16 MB recording whose client reads 4 KB and hangs up.
	admin := env.loginDemo("admin")
	big := wavPCM16(8_000_000, 9)
	resp, b := env.do("POST", "/api/v1/recordings?campaign=110&crtObjectId=big-log&callId=big-log&agent=4977", admin, bytes.NewReader(big))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("ingest: %d %s", resp.StatusCode, b)
	}
	id := env.recordingID(110, "big-log").ID
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /api/v1/recordings/"+id+"/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+admin+"\r\n\r\n")
	if _, err := io.ReadFull(bufio.NewReader(conn), make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	line = findLog(t, env, func(m map[string]any) bool {
		return m["route"] == "GET /api/v1/recordings/{id}/media" && m["principal"] == "admin"
	})
	if line["cut"] != true || line["status"] != float64(200) || line["bytes"].(float64) >= float64(len(big)) {
		t.Fatalf("a download cut by its client logged as %v", line)
	}
}

// findLog waits for a request log line that match accepts.
func findLog(t *testing.T, env *testEnv, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(env.logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" && match(m) {
				return m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no such request log line in:\n%s", env.logs.String())
	return nil
}

// TestConfigPrecedence: a flag beats RECVAULT_<FLAG>, which beats the
// config file; repeatable flags take lists; a typo in the file is an error.
func TestConfigPrecedence(t *testing.T) {
	parse := func(env map[string]string, file string, args ...string) (*flag.FlagSet, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("addr", "127.0.0.1:8080", "")
		fs.Duration("session-idle", 30*time.Minute, "")
		fs.Int("max-conns-per-client", 256, "")
		var proxies multiFlag
		fs.Var(&proxies, "trusted-proxy", "")
		fs.String("catalog", "", "")
		fs.String("config", "", "")
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		return fs, applyConfig(fs, file, func(k string) string { return env[k] })
	}
	file := filepath.Join(t.TempDir(), "recvault.conf")
	os.WriteFile(file, []byte("# settings\naddr = 0.0.0.0:9000\nsession-idle = 5m\nmax-conns-per-client = 10\n"+
		"trusted-proxy = 10.0.0.0/8\ntrusted-proxy = 10.1.0.0/16\n"), 0o600)
	fs, err := parse(map[string]string{"RECVAULT_SESSION_IDLE": "7m", "RECVAULT_ADDR": "127.0.0.1:9100"}, file, "--addr", "127.0.0.1:9200")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"addr": "127.0.0.1:9200", "session-idle": "7m0s", "max-conns-per-client": "10",
		"trusted-proxy": "10.0.0.0/8,10.1.0.0/16"} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	fs, err = parse(map[string]string{"RECVAULT_TRUSTED_PROXY": "10.2.0.0/16, 10.3.0.0/16", "RECVAULT_CATALOG": "sqlite:///x/catalog.db"}, "")
	if err != nil || fs.Lookup("trusted-proxy").Value.String() != "10.2.0.0/16,10.3.0.0/16" || fs.Lookup("catalog").Value.String() != "sqlite:///x/catalog.db" {
		t.Fatalf("env list: %v %v", fs.Lookup("trusted-proxy").Value, err)
	}
	if _, err := parse(map[string]string{"RECVAULT_SESSION_IDLE": "soon"}, ""); err == nil || !strings.Contains(err.Error(), "RECVAULT_SESSION_IDLE") {
		t.Errorf("a bad variable: %v", err)
	}
	os.WriteFile(file, []byte("sesion-idle = 5m\n"), 0o600)
	if _, err := parse(nil, file); err == nil || !strings.Contains(err.Error(), `unknown setting "sesion-idle"`) || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("a typo in the file: %v", err)
	}
}

// TestServeMetricsAddrAndPortInUse: RECVAULT_METRICS_ADDR moves /metrics
// to a listener of its own (and off the public one); a port in use is
// said with the flag to change.
func TestServeMetricsAddrAndPortInUse(t *testing.T) {
	dir := t.TempDir()
	cmd := recvaultChild(t, "serve", "--data", dir, "--addr", "127.0.0.1:0")
	cmd.Env = append(cmd.Env, "RECVAULT_METRICS_ADDR=127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	var public, metricsURL string
	sc := bufio.NewScanner(stdout)
	for (public == "" || metricsURL == "") && sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "recvault serving "); ok {
			public, _, _ = strings.Cut(rest, " ")
		}
		if rest, ok := strings.CutPrefix(line, "metrics on "); ok {
			metricsURL = rest
		}
	}
	if public == "" || metricsURL == "" {
		t.Fatalf("no addresses printed; log:\n%s", logs.String())
	}
	if _, text := scrape(t, metricsURL); !strings.Contains(text, "recvault_http_requests_total") && !strings.Contains(text, "go_goroutines") {
		t.Fatal("the metrics listener serves no metrics")
	}
	resp, err := http.Get(public + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("public /metrics with a metrics address: %d, want 404", resp.StatusCode)
	}

	// The public address is taken now: a second server says so.
	code, _, stderr := runCLI(t, "", "serve", "--data", t.TempDir(), "--addr", strings.TrimPrefix(public, "http://"))
	if code == 0 || !strings.Contains(stderr, "already in use") || !strings.Contains(stderr, "--addr") {
		t.Fatalf("port in use: exit %d, %q", code, stderr)
	}
}

// TestDemoOnExistingDataSaysWhereThePasswordsAre: seeding again keeps the
// passwords and says where the demo ones are written down.
func TestDemoOnExistingDataSaysWhereThePasswordsAre(t *testing.T) {
	env := startEnv(t) // seeded once already
	var out bytes.Buffer
	if err := demo.Seed(context.Background(), env.app.svc, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "listed in the README") || !strings.Contains(out.String(), "recvault user passwd") {
		t.Fatalf("second seeding says:\n%s", out.String())
	}
}

// TestHealthcheckCommand: the container probe exits 0 for a live server
// and 1 for a dead address or a wrong answer.
func TestHealthcheckCommand(t *testing.T) {
	env := startEnv(t)
	if code, out, errs := runCLI(t, "", "healthcheck", "--url", env.URL+"/healthz"); code != 0 || !strings.Contains(out, "healthy") {
		t.Fatalf("live server: exit %d %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", "healthcheck", "--url", env.URL+"/no-such-page"); code != 1 || !strings.Contains(errs, "404") {
		t.Fatalf("a 404: exit %d %q", code, errs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	if code, _, errs := runCLI(t, "", "healthcheck", "--url", "http://"+dead+"/healthz", "--timeout", "2s"); code != 1 || !strings.Contains(errs, "unhealthy") {
		t.Fatalf("dead address: exit %d %q", code, errs)
	}
}

// TestRouteLabels: every request's access log line names its API and
// route pattern, whether the API's router noted the pattern it matched
// (httputil.Serve) or the server had to route the request again to name
// it: a redirect, a preflight the API refused before routing, a
// cross-site form post refused in front of the router, a catch-all.
func TestRouteLabels(t *testing.T) {
	env := startEnv(t)
	tok := env.loginDemo("supervisor@exotel.in")
	dual := env.recordingID(110, "1621413752-2011-voice")
	ccgw := "/agentgateway/resource/recordfile/1001/recordfiledownloadEx"
	for i, c := range []struct {
		method, path string
		hdr          []string
		api, route   string
	}{
		{"GET", "/api/v1/recordings/" + dual.ID + "/media", nil, "v1", "GET /api/v1/recordings/{id}/media"},
		{"GET", "/api/v1/no/such/thing", nil, "v1", "unmatched"},
		{"GET", "/api/v1", nil, "v1", "/api/v1/"},
		{"GET", "/ameyorestapi/cc/downloadVoiceLog", nil, "ameyo", "GET /ameyorestapi/cc/downloadVoiceLog"},
		{"GET", "/ameyorestapi/no-such", nil, "ameyo", "unmatched"},
		{"GET", ccgw, nil, "ccgw", "GET /agentgateway/resource/recordfile/{agentid}/recordfiledownloadEx"},
		{"OPTIONS", ccgw, []string{"Origin", "http://elsewhere.example", "Access-Control-Request-Method", "GET"}, "ccgw", "unmatched"},
		{"GET", "/", nil, "web", "GET /{$}"},
		{"POST", "/signin", []string{"Sec-Fetch-Site", "cross-site", "Content-Type", "application/x-www-form-urlencoded"}, "web", "POST /signin"},
		{"GET", "/healthz", nil, "ops", "GET /healthz"},
	} {
		rid := fmt.Sprintf("route-labels-%02d", i)
		resp, _ := env.do(c.method, c.path, tok, nil, append([]string{"X-Request-Id", rid}, c.hdr...)...)
		line := findLog(t, env, func(m map[string]any) bool { return m["request_id"] == rid })
		if line["api"] != c.api || line["route"] != c.route {
			t.Errorf("%s %s (%d): logged as api %v route %v, want %s %q", c.method, c.path, resp.StatusCode, line["api"], line["route"], c.api, c.route)
		}
	}
}
