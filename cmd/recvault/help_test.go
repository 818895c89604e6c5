package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/recvault/recvault/internal/testtool"
)

// TestHelpEveryCommand walks the command table: every command and
// subcommand answers -h and --help with its own usage on stdout and exit
// 0, doing nothing else (no data directory appears); an unknown
// subcommand is named with the valid ones, exit 2.
func TestHelpEveryCommand(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("RECVAULT_SESSIONS", filepath.Join(t.TempDir(), "sessions.json"))
	var paths [][]string
	for _, c := range commands {
		paths = append(paths, []string{c.name})
		for _, s := range c.subs {
			paths = append(paths, []string{c.name, s})
		}
	}
	paths = append(paths, []string{}) // recvault -h itself
	for _, p := range paths {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, p...), h)
			code, out, errs := runCLI(t, "", args...)
			want := "recvault " + strings.Join(p, " ")
			if code != 0 || errs != "" || !strings.Contains(out, "Usage") || !strings.Contains(out, want) {
				t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit 0 and a usage naming %q on stdout", args, code, errs, out, want)
			}
		}
		if len(p) == 2 && p[0] != "completion" {
			// A subcommand's usage lists its flags.
			if _, out, _ := runCLI(t, "", p[0], p[1], "-h"); !strings.Contains(out, "\n  -") && p[1] != "generate" {
				t.Errorf("%v -h lists no flags: %q", p, out)
			}
		}
	}
	if _, err := os.Stat("recvault-data"); err == nil {
		t.Error("a -h created the default data directory")
	}
	if code, out, _ := runCLI(t, "", "help", "user", "list"); code != 0 || !strings.Contains(out, "recvault user list") {
		t.Errorf("help user list: %d %q", code, out)
	}
	for _, c := range commands {
		if len(c.subs) == 0 {
			continue
		}
		code, out, errs := runCLI(t, "", c.name, "frobnicate")
		if code != 2 || out != "" || !strings.Contains(errs, `unknown `+c.name+` subcommand "frobnicate"`) {
			t.Errorf("%s frobnicate: exit %d, stdout %q, stderr %q", c.name, code, out, errs)
		}
		for _, s := range c.subs {
			if !strings.Contains(errs, s) {
				t.Errorf("%s frobnicate: stderr %q does not list %q", c.name, errs, s)
			}
		}
	}
	if code, _, errs := runCLI(t, "", "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %q", code, errs)
	}
}

// TestUsageErrorPointsToHelp: a flag mistake prints one line naming it and
// where the usage is, not the whole flag list.
func TestUsageErrorPointsToHelp(t *testing.T) {
	code, out, errs := runCLI(t, "", "user", "add", "--nope")
	if code != 2 || out != "" || !strings.Contains(errs, "-nope") || !strings.Contains(errs, `"recvault user add -h"`) ||
		strings.Contains(errs, "Flags:") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestVersion: --version and version print the module version and the VCS
// revision; the revision of a real build is the repository's HEAD.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, errs := runCLI(t, "", args...)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "recvault ") || !strings.Contains(out, "revision ") ||
			!strings.Contains(out, " go1.") {
			t.Errorf("%v: %d %q %q", args, code, out, errs)
		}
	}
	// The lines a stamped build carries (go build in a git checkout; this
	// machine's GOFLAGS has -buildvcs=false, so test binaries carry none).
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/recvault/recvault", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "25dd525f6d27"}, {Key: "vcs.time", Value: "2026-11-30T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"}}}
	if got, want := versionLine(bi), "recvault v1.4.0 (revision 25dd525f6d27, 2026-11-30T10:00:00Z, modified) go1.26.8"; got != want {
		t.Errorf("versionLine = %q, want %q", got, want)
	}
}

// TestCompletionScripts: the scripts come from the command table and are
// valid shell (bash -n; zsh -n where zsh is installed).
func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh"} {
		code, out, errs := runCLI(t, "", "completion", shell)
		if code != 0 || errs != "" {
			t.Fatalf("completion %s: %d %q", shell, code, errs)
		}
		for _, want := range []string{"serve", "ingest", "retention", "--crt-object-id", "--manifest", "--cacert", "revoke"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s script lacks %q", shell, want)
			}
		}
		p := filepath.Join(t.TempDir(), "recvault."+shell)
		if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		sh, err := exec.LookPath(shell)
		if err != nil {
			if shell == "bash" {
				testtool.Need(t, shell)
			}
			t.Logf("%s not installed: its script is not syntax-checked", shell)
			continue
		}
		if b, err := exec.Command(sh, "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, b)
		}
	}
	// bash: the function completes a subcommand's flags.
	bash := testtool.Need(t, "bash")
	_, script, _ := runCLI(t, "", "completion", "bash")
	cmd := exec.Command(bash, "-c", script+`
COMP_WORDS=(recvault user add --lo); COMP_CWORD=3; _recvault; echo "${COMPREPLY[@]}"
COMP_WORDS=(recvault ret); COMP_CWORD=1; _recvault; echo "${COMPREPLY[@]}"`)
	b, err := cmd.CombinedOutput()
	if err != nil || string(b) != "--login\nretention\n" {
		t.Fatalf("bash completion: %v %q", err, b)
	}
}
