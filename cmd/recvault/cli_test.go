package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/server"
)

// runCLI runs one command in-process and returns exit code, stdout, stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// child starts this test binary as `recvault args...`.
func child(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RECVAULT_TEST_ARGS="+string(a))
	return cmd
}

// TestIngestKilledMidwayLeavesNothing kills a real `recvault ingest` process
// while it is receiving a recording on stdin, then shows that nothing partial
// is visible, that the data directory still works, and that the same ingest
// run again succeeds.
func TestIngestKilledMidwayLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	wav := wavPCM16(400_000, 7) // 800 KB
	args := []string{"ingest", "--data", dir, "--campaign", "900", "--crt-object-id", "crash-1", "--call-id", "c1", "--agent", "4977", "-"}
	cmd := child(t, args...)
	stdin, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write(wav[:300_000]); err != nil {
		t.Fatal(err)
	}
	// Wait until the partial upload is on disk, then kill -9.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ents, _ := os.ReadDir(filepath.Join(dir, "blobs", "tmp"))
		if len(ents) == 1 {
			if info, _ := ents[0].Info(); info != nil && info.Size() > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never started writing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	stdin.Close()

	a, err := openApp(context.Background(), dirLocations(dir), appOptions{})
	if err != nil {
		t.Fatalf("data directory unusable after the crash: %v", err)
	}
	if _, err := a.cat.RecordingByIdentity(context.Background(), 900, "crash-1"); recvault.ErrorCode(err) != recvault.ENOTFOUND {
		t.Fatalf("a killed ingest is visible: %v", err)
	}
	recs, _, err := a.cat.FindRecordings(context.Background(), recvault.RecordingFilter{Scope: recvault.Scope{All: true}})
	if err != nil || len(recs) != 0 {
		t.Fatalf("catalog holds %d recordings after a killed ingest (%v)", len(recs), err)
	}
	if n := countFiles(t, filepath.Join(dir, "blobs", "objects")); n != 0 {
		t.Fatalf("%d blobs placed by a killed ingest", n)
	}
	if n, _ := a.blobs.Clean(context.Background(), 0); n != 1 {
		t.Fatalf("Clean removed %d temporaries, want the 1 partial", n)
	}
	// A crash after the blob was placed but before its row was committed
	// leaves an unreferenced blob: the sweep removes it, and only it.
	if _, err := a.blobs.Put(context.Background(), "2026/01/01/orphan", bytes.NewReader([]byte("orphan"))); err != nil {
		t.Fatal(err)
	}
	if _, n, err := a.svc.SweepOrphans(context.Background(), 0); err != nil || n != 1 {
		t.Fatalf("sweep removed %d (%v), want the 1 orphan", n, err)
	}
	a.Close()

	// Nothing was lost: the same ingest, run to the end, succeeds.
	src := filepath.Join(t.TempDir(), "call.wav")
	os.WriteFile(src, wav, 0o600)
	args[len(args)-1] = src
	code, out, errs := runCLI(t, "", args...)
	if code != 0 || !strings.Contains(out, "ingested") {
		t.Fatalf("re-ingest after crash: %d %s %s", code, out, errs)
	}
	// And an acknowledged ingest survives the process: a fresh open finds it.
	a, _ = openApp(context.Background(), dirLocations(dir), appOptions{})
	defer a.Close()
	r, err := a.cat.RecordingByIdentity(context.Background(), 900, "crash-1")
	if err != nil || r.SHA256 != sha(wav) {
		t.Fatalf("acknowledged ingest: %v %v", r, err)
	}
	if _, n, _ := a.svc.SweepOrphans(context.Background(), 0); n != 0 {
		t.Fatalf("sweep removed %d referenced blobs", n)
	}
	if _, err := a.blobs.Open(context.Background(), r.BlobKey); err != nil {
		t.Fatalf("a referenced blob is gone: %v", err)
	}
}

func TestIngestCLI(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "a.wav")
	os.WriteFile(src, wavPCM16(16000, 1), 0o600)
	base := []string{"ingest", "--data", dir, "--campaign", "110", "--crt-object-id", "cli-1", "--call-id", "c", "--agent", "4977"}
	code, out, errs := runCLI(t, "", append(base, "--started-at", "2026-01-02T03:04:05Z", src)...)
	if code != 0 || !strings.Contains(out, "ingested") || !strings.Contains(out, "pcm_s16le 8000 Hz 1 ch 2.0 s") {
		t.Fatalf("ingest: %d %q %q", code, out, errs)
	}
	code, out, _ = runCLI(t, "", append(base, "--started-at", "2026-01-02T03:04:05Z", src)...)
	if code != 0 || !strings.Contains(out, "already present") {
		t.Fatalf("idempotent ingest: %d %q", code, out)
	}
	other := filepath.Join(t.TempDir(), "b.wav")
	os.WriteFile(other, wavPCM16(16000, 2), 0o600)
	code, _, errs = runCLI(t, "", append(base, other)...)
	if code != 1 || !strings.Contains(errs, "already has a different recording") {
		t.Fatalf("conflict: %d %q", code, errs)
	}
	// Raw G.711 needs --codec; with it, it is accepted.
	raw := filepath.Join(t.TempDir(), "call.alaw")
	os.WriteFile(raw, bytes.Repeat([]byte{0xd5, 0x55, 0x2a, 0xaa}, 4000), 0o600)
	code, _, errs = runCLI(t, "", "ingest", "--data", dir, "--campaign", "110", "--crt-object-id", "raw-1", "--call-id", "c", "--agent", "1", raw)
	if code != 1 || !strings.Contains(errs, "add --codec alaw or --codec ulaw") {
		t.Fatalf("raw without codec: %d %q", code, errs)
	}
	code, out, errs = runCLI(t, "", "ingest", "--data", dir, "--campaign", "110", "--crt-object-id", "raw-1", "--call-id", "c", "--agent", "1", "--codec", "alaw", raw)
	if code != 0 || !strings.Contains(out, "raw/alaw 8000 Hz 1 ch 2.0 s") {
		t.Fatalf("raw with codec: %d %q %q", code, out, errs)
	}
	// Usage errors exit 2 with a message.
	for _, args := range [][]string{
		{"ingest", "--data", dir, src},
		{"ingest", "--data", dir, "--campaign", "x", "--crt-object-id", "a", "--call-id", "b", "--agent", "c", src},
		{"ingest", "--data", dir, "--nope", src},
		{"frobnicate"},
	} {
		code, _, errs := runCLI(t, "", args...)
		if code == 0 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	if code, _, errs := runCLI(t, "", append(base[:len(base):len(base)], filepath.Join(dir, "missing.wav"))...); code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: %d %q", code, errs)
	}
}

func TestImportManifest(t *testing.T) {
	dir := t.TempDir()
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "2026", "01"), 0o755)
	var rows []string
	rows = append(rows, "path,campaign_id,crt_object_id,call_id,agent_id,started_at,kind,original_path")
	for i := 0; i < 6; i++ {
		name := filepath.Join("2026", "01", "call"+itoa(i)+".wav")
		os.WriteFile(filepath.Join(tree, name), wavPCM16(800*(i+1), i), 0o600)
		rows = append(rows, name+",110,imp-"+itoa(i)+",call-"+itoa(i)+",4977,2026-01-0"+itoa(i+1)+"T10:00:00Z,voice,Y:/1/0/2026010"+itoa(i)+"/4977/"+itoa(i)+".V3")
	}
	os.WriteFile(filepath.Join(tree, "junk.wav"), []byte("junk"), 0o600)
	rows = append(rows,
		"2026/01/missing.wav,110,imp-x,call-x,4977,,voice,",      // line 8: no such file
		"2026/01/call0.wav,notanumber,imp-y,call-y,4977,,voice,", // line 9: bad campaign
		"junk.wav,110,imp-z,call-z,4977,,,",                      // line 10: not media
		"2026/01/call1.wav,110,imp-w,call-w,4977,yesterday,,",    // line 11: bad time
	)
	manifest := filepath.Join(tree, "calls.csv")
	os.WriteFile(manifest, []byte(strings.Join(rows, "\n")+"\n"), 0o600)

	code, out, errs := runCLI(t, "", "import", "--data", dir, "--manifest", manifest, "--progress", "none")
	if code != 1 {
		t.Fatalf("import with bad rows exit %d, want 1: %s", code, errs)
	}
	results := parseReport(t, out)
	if len(results) != 10 {
		t.Fatalf("%d report lines, want 10: %s", len(results), out)
	}
	failedLines := map[int]string{}
	for _, r := range results {
		switch r.Status {
		case "ingested":
		case "failed":
			failedLines[r.Line] = r.Error
		default:
			t.Errorf("first import: unexpected status %+v", r)
		}
	}
	for line, want := range map[int]string{8: "no such file", 9: "campaign", 10: "no WAV, MP3 or MP4 header", 11: "RFC 3339"} {
		if !strings.Contains(failedLines[line], want) {
			t.Errorf("line %d: error %q, want it to mention %q", line, failedLines[line], want)
		}
		if !strings.Contains(errs, "line "+itoa(line)+":") {
			t.Errorf("stderr does not report line %d: %s", line, errs)
		}
	}
	if !strings.Contains(errs, "6 ingested, 0 already present, 4 failed, of 10 rows") {
		t.Errorf("summary: %s", errs)
	}
	// Resume: the same import again stores nothing new and writes no blob.
	before := countFiles(t, filepath.Join(dir, "blobs", "objects"))
	_, _, errs = runCLI(t, "", "import", "--data", dir, "--manifest", manifest, "--progress", "none")
	if !strings.Contains(errs, "0 ingested, 6 already present, 4 failed") {
		t.Errorf("re-run summary: %s", errs)
	}
	if after := countFiles(t, filepath.Join(dir, "blobs", "objects")); after != before || before != 6 {
		t.Errorf("blobs %d → %d, want 6 → 6", before, after)
	}
	a, _ := openApp(context.Background(), dirLocations(dir), appOptions{})
	defer a.Close()
	r, err := a.cat.RecordingByIdentity(context.Background(), 110, "imp-3")
	if err != nil || r.OriginalPath != "Y:/1/0/20260103/4977/3.V3" || r.StartedAt.Format(time.RFC3339) != "2026-01-04T10:00:00Z" {
		t.Fatalf("imported row: %+v %v", r, err)
	}
	// A bad header is refused as a whole.
	bad := filepath.Join(tree, "bad.csv")
	os.WriteFile(bad, []byte("file,campaign\nx,1\n"), 0o600)
	if code, _, errs := runCLI(t, "", "import", "--data", dir, "--manifest", bad); code != 1 || !strings.Contains(errs, `lacks column "path"`) {
		t.Errorf("bad header: %d %s", code, errs)
	}
}

type reportLine struct {
	Line   int    `json:"line"`
	Status string `json:"status"`
	Error  string `json:"error"`
	ID     string `json:"id"`
}

func parseReport(t *testing.T, out string) []reportLine {
	var res []reportLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r reportLine
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		res = append(res, r)
	}
	return res
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RECVAULT_PASSWORD", "s3cret-passw0rd")
	code, out, errs := runCLI(t, "", "user", "add", "--data", dir, "--login", "sup@example.com", "--role", "supervisor", "--campaign", "110", "--campaign", "120")
	if code != 0 || !strings.Contains(out, "added") {
		t.Fatalf("add: %d %s %s", code, out, errs)
	}
	runCLI(t, "", "user", "add", "--data", dir, "--login", "insp@example.com", "--role", "inspector", "--agent-id", "4900", "--inspects", "4977")
	if code, _, errs := runCLI(t, "", "user", "add", "--data", dir, "--login", "sup@example.com", "--role", "admin"); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("duplicate: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "", "user", "add", "--data", dir, "--login", "x", "--role", "agent"); code != 1 || !strings.Contains(errs, "agent id") {
		t.Errorf("agent without id: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "", "user", "add", "--data", dir, "--login", "x", "--role", "king"); code != 1 || !strings.Contains(errs, "role must be") {
		t.Errorf("bad role: %d %s", code, errs)
	}
	t.Setenv("RECVAULT_PASSWORD", "")
	if code, _, errs := runCLI(t, "short\n", "user", "add", "--data", dir, "--login", "y", "--role", "admin"); code != 1 || !strings.Contains(errs, "at least 8") {
		t.Errorf("short password from stdin: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "long-enough-pw\n", "user", "add", "--data", dir, "--login", "z", "--role", "admin"); code != 0 {
		t.Errorf("password from stdin: %d %s", code, errs)
	}
	code, out, _ = runCLI(t, "", "user", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "sup@example.com") || !strings.Contains(out, "110,120") || !strings.Contains(out, "4977") {
		t.Fatalf("list: %s", out)
	}
	if strings.Contains(out, "argon2") || strings.Contains(out, "s3cret") {
		t.Fatal("list shows secrets")
	}
	runCLI(t, "", "user", "disable", "--data", dir, "--login", "insp@example.com")
	_, out, _ = runCLI(t, "", "user", "list", "--data", dir)
	if !regexpLine(out, "insp@example.com", "disabled") {
		t.Fatalf("disable not shown: %s", out)
	}
	t.Setenv("RECVAULT_PASSWORD", "another-passw0rd")
	if code, out, _ := runCLI(t, "", "user", "passwd", "--data", dir, "--login", "sup@example.com"); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("passwd: %d %s", code, out)
	}
	a, _ := openApp(context.Background(), dirLocations(dir), appOptions{})
	defer a.Close()
	if _, _, err := a.svc.Login(context.Background(), "sup@example.com", "another-passw0rd", "v1"); err != nil {
		t.Fatalf("new password refused: %v", err)
	}
	if _, _, err := a.svc.Login(context.Background(), "sup@example.com", "s3cret-passw0rd", "v1"); err == nil {
		t.Fatal("old password still works")
	}
	if code, _, _ := runCLI(t, "", "user", "disable", "--data", dir, "--login", "ghost"); code != 1 {
		t.Error("disabling an unknown user succeeded")
	}
}

func regexpLine(out, a, b string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, a) && strings.Contains(l, b) {
			return true
		}
	}
	return false
}

// TestGracefulShutdownLetsDownloadsFinish starts a download of a large
// recording, reads it slowly, shuts the server down midway, and checks that
// the download completes intact while new connections are refused.
func TestGracefulShutdownLetsDownloadsFinish(t *testing.T) {
	dir := t.TempDir()
	a, err := openApp(context.Background(), dirLocations(dir), appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	big := wavPCM16(8_000_000, 5) // 16 MB, more than socket buffers hold
	rec, _, err := a.svc.Ingest(context.Background(), nil, ingestReq(900, "big"), bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("RECVAULT_PASSWORD", "")
	a.svc.AddUser(context.Background(), &recvault.User{Login: "root", Role: recvault.RoleAdmin}, "root-password")
	token, _, _ := a.svc.Login(context.Background(), "root", "root-password", "v1")

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := server.New(a.svc, server.Config{ShutdownGrace: 20 * time.Second, Logger: quietLog})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()

	req, _ := http.NewRequest("GET", url+"/api/v1/recordings/"+rec.ID+"/media", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	time.Sleep(200 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("new connections accepted during shutdown")
	}
	select {
	case <-shut:
		t.Fatal("shutdown returned while a download was running")
	default:
	}
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("download cut by shutdown: %v", err)
	}
	if got := append(first, rest...); sha(got) != sha(big) {
		t.Fatalf("download after shutdown began: %d bytes, want %d", len(got), len(big))
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
