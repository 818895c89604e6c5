package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recvault/recvault/internal/testtool"
)

// readme returns the repository's README.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMEConfigTable: the configuration table of "Operating recvault"
// lists every serve flag, with its variable, and nothing else.
func TestREADMEConfigTable(t *testing.T) {
	_, help, _ := runCLI(t, "", "serve", "-h")
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(help, -1) {
		flags = append(flags, m[1])
	}
	doc := readme(t)
	start := strings.Index(doc, "## Operating recvault")
	if start < 0 {
		t.Fatal("no Operating recvault section")
	}
	section := doc[start:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\| `([A-Z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		listed = append(listed, m[1])
		want := envName(m[1])
		if m[1] == "config" {
			want = "RECVAULT_CONFIG"
		}
		if m[2] != want {
			t.Errorf("--%s is documented with %s, the variable is %s", m[1], m[2], want)
		}
	}
	slices.Sort(flags)
	slices.Sort(listed)
	if len(flags) < 20 || !slices.Equal(flags, listed) {
		t.Fatalf("serve flags %v\nREADME table %v", flags, listed)
	}
}

// readmeBlock is one ```sh example of the README.
type readmeBlock struct {
	line int // of the opening fence
	text string
	skip string // why it is not run ("" to run it)
}

// shellBlocks returns the README's ```sh blocks. A block right after a
// line "<!-- readme-test: not run (why) -->" is returned with skip set.
func shellBlocks(doc string) []readmeBlock {
	var out []readmeBlock
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```sh" {
			continue
		}
		b := readmeBlock{line: i + 1}
		if i > 0 {
			if m := regexp.MustCompile(`^<!-- readme-test: not run \((.*)\) -->$`).FindStringSubmatch(lines[i-1]); m != nil {
				b.skip = m[1]
			}
		}
		var body []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			body = append(body, lines[i])
		}
		b.text = strings.Join(body, "\n")
		out = append(out, b)
	}
	return out
}

// sniff names what a saved file holds, by its first bytes.
func sniff(b []byte) string {
	switch {
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WAVE":
		return "wav"
	case len(b) >= 3 && (string(b[:3]) == "ID3" || b[0] == 0xFF && b[1]&0xE0 == 0xE0):
		return "mp3"
	case len(b) >= 8 && string(b[4:8]) == "ftyp":
		return "mp4"
	case len(b) > 0 && (b[0] == '{' || b[0] == '<'):
		return "json or html"
	}
	return "unknown"
}

// TestREADMEExamples runs the README's shell examples, as a reader would
// paste them, in one bash against a real demo server started from a
// freshly built recvault (on a free port instead of 8080, the only
// change besides `go run ./cmd/recvault` standing for the built binary),
// and checks that what they save is media, not an error page saved
// under a media file's name.
func TestREADMEExamples(t *testing.T) {
	testtool.Need(t, "curl")
	bash := testtool.Need(t, "bash")
	dir := t.TempDir()
	bin, work := filepath.Join(dir, "bin"), filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "recvault"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := exec.Command(filepath.Join(bin, "recvault"), "serve", "--demo", "--addr", addr)
	srv.Dir = work
	var srvLog lockedBuffer
	srv.Stdout, srv.Stderr = &srvLog, &srvLog
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo server not ready:\n%s", srvLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	script := "set -eE -o pipefail\ntrap 'echo \"README example of line $BLOCK failed (exit $?)\" >&2' ERR\n"
	ran := 0
	for _, b := range shellBlocks(readme(t)) {
		if b.skip != "" {
			t.Logf("README line %d not run: %s", b.line, b.skip)
			continue
		}
		text := strings.NewReplacer("localhost:8080", addr, "127.0.0.1:8080", addr,
			"go install ./cmd/recvault", ": built by the test", "go run ./cmd/recvault", "recvault").Replace(b.text)
		script += "BLOCK=" + strconv.Itoa(b.line) + "\n" + text + "\n"
		ran++
	}
	if ran < 6 {
		t.Fatalf("only %d README examples found", ran)
	}
	sh := exec.Command(bash, "-c", script)
	sh.Dir = work
	sh.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+dir,
		"RECVAULT_SESSIONS="+filepath.Join(dir, "sessions.json"))
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("README examples: %v\n%s\nserver log:\n%.4000s", err, out, srvLog.String())
	}
	// What the examples saved is media of the right kind.
	want := map[string]string{"voicelog.mp3": "mp3", "call.wav": "wav", "screen.mp4": "mp4", "call.mp3": "mp3",
		"d741-6904fad1-vce-daf-638729.wav": "wav"}
	for name, kind := range want {
		b, err := os.ReadFile(filepath.Join(work, name))
		if err != nil || sniff(b) != kind {
			t.Errorf("%s: %s (%v), want %s", name, sniff(b), err, kind)
		}
	}
	saved, err := os.ReadDir(filepath.Join(work, "calls"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range saved {
		if e.Name() == ".recvault-state.jsonl" {
			continue // the manifest run's own state
		}
		b, err := os.ReadFile(filepath.Join(work, "calls", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		k := sniff(b)
		kinds[k]++
		if k == "json or html" || k == "unknown" {
			t.Errorf("calls/%s holds %s: %.100q", e.Name(), k, b)
		}
	}
	if kinds["wav"] < 2 || kinds["mp3"] < 1 || kinds["mp4"] < 1 {
		t.Errorf("calls/ holds %v, want the get examples' WAV, MP3 and MP4 files", kinds)
	}
}
