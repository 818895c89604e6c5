package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/recvault/recvault/internal/testtool"
)

const execPath = "/usr/local/bin/recvault"

// unitWithBinary copies recvault.service into a temporary directory with
// its ExecStart pointing at a stand-in executable there, since
// systemd-analyze verify refuses a unit whose binary does not exist and
// the test must not install one in /usr/local/bin. It returns the copy's
// path.
func unitWithBinary(t *testing.T) string {
	t.Helper()
	unit, err := os.ReadFile("recvault.service")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("ExecStart="+execPath+" serve\n")) {
		t.Fatalf("recvault.service: ExecStart is not %s serve (serve reads its settings from RECVAULT_<FLAG>)", execPath)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "recvault")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "recvault.service")
	if err := os.WriteFile(path, bytes.Replace(unit, []byte("ExecStart="+execPath), []byte("ExecStart="+bin), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit: unknown
// or misspelt directives, bad values and a bad ExecStart fail, and so does
// any warning it prints.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := testtool.Need(t, "systemd-analyze")
	out, err := exec.Command(analyze, "verify", "--man=no", unitWithBinary(t)).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify recvault.service: %v\n%s", err, out)
	}
}

// TestSystemdUnitSandbox runs systemd-analyze security on the unit offline
// and fails when its exposure rises above 2.0 (of 10; the unit scores 1.4
// with the network it needs): a hardening line removed or weakened shows
// here.
func TestSystemdUnitSandbox(t *testing.T) {
	analyze := testtool.Need(t, "systemd-analyze")
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "systemd", "system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("recvault.service")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "recvault.service"), unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "security", "--offline=true", "--root="+root, "--threshold=20", "--no-pager", "recvault.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Overall exposure level for recvault.service") {
		t.Fatalf("systemd-analyze security gave no rating:\n%s", out)
	}
}

// TestUnitDefaultsEveryVariable checks that each ${VAR} of ExecStart has a
// default in the unit, so that a missing or partial environment file
// never passes an empty flag value, and that the example environment file
// sets only variables recvault or the unit reads.
func TestUnitDefaultsEveryVariable(t *testing.T) {
	unit, err := os.ReadFile("recvault.service")
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile("recvault.env")
	if err != nil {
		t.Fatal(err)
	}
	execStart := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindSubmatch(unit)
	if execStart == nil {
		t.Fatal("no ExecStart")
	}
	for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllSubmatch(execStart[1], -1) {
		if !bytes.Contains(unit, []byte("\nEnvironment="+string(m[1])+"=")) {
			t.Errorf("ExecStart uses ${%s} without an Environment= default", m[1])
		}
	}
	// recvault serve reads RECVAULT_<FLAG> for each of its flags: the
	// flags are the string literals the serve and store flag sets declare.
	var src []byte
	for _, f := range []string{"../cmd/recvault/serve.go", "../cmd/recvault/main.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	for _, m := range regexp.MustCompile(`(?m)^#?(RECVAULT_\w+|AWS_\w+)=`).FindAllSubmatch(env, -1) {
		name := string(m[1])
		flagName := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "RECVAULT_")), "_", "-")
		if !strings.HasPrefix(name, "AWS_") && !bytes.Contains(src, []byte(`"`+flagName+`",`)) {
			t.Errorf("recvault.env sets %s, but recvault serve has no --%s", name, flagName)
		}
	}
}

// TestDockerfileBuildsThisModule checks what the image build would trip
// on late: the golang build stage must be the Go release go.mod asks for
// (else the toolchain download fails offline), and the packages it builds
// must exist.
func TestDockerfileBuildsThisModule(t *testing.T) {
	df, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	from := regexp.MustCompile(`(?m)^FROM golang:(\d+\.\d+)`).FindSubmatch(df)
	if goLine == nil || from == nil || !bytes.Equal(goLine[1], from[1]) {
		t.Fatalf("Dockerfile builds with golang:%s, go.mod wants go %s", from, goLine)
	}
	for _, m := range regexp.MustCompile(`go build [^\n]*-o \S+ (\./\S+)`).FindAllSubmatch(df, -1) {
		if _, err := os.Stat(filepath.Join("..", string(m[1]))); err != nil {
			t.Errorf("Dockerfile builds %s: %v", m[1], err)
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "USER 65532", "VOLUME", "EXPOSE 8080", "HEALTHCHECK"} {
		if !bytes.Contains(df, []byte(want)) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}
