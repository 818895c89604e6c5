// Package testtool lets tests use external reference tools (ffmpeg,
// ffprobe, sox, lame, curl): a test skips when one is missing on a
// developer's machine, and fails under CI=true, where .ci/run installs them.
// A package's TestMain calls Main (or Report after its own m.Run) so that
// the skips are said in one line even without -v.
package testtool

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

var (
	mu      sync.Mutex
	skipped = map[string][]string{} // tool → tests skipped for want of it
)

// Need returns the path of the named tool, or skips (fails under CI=true).
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true (.ci/run installs it)", name)
		}
		mu.Lock()
		if !slices.Contains(skipped[name], t.Name()) {
			skipped[name] = append(skipped[name], t.Name())
		}
		mu.Unlock()
		t.Skipf("%s not installed", name)
	}
	return p
}

// Main runs the tests, then reports the skips; its result is the exit code.
func Main(m *testing.M) int {
	code := m.Run()
	Report()
	return code
}

// SummaryEnv names a file the summary line is appended to instead (tests of
// this package read it there).
const SummaryEnv = "TESTTOOL_SUMMARY_TO"

// Report writes one line naming the tests skipped for a missing tool, if
// any. "go test ./..." hides all output of a package that passes, so the
// line goes to the controlling terminal, where a developer sees it in any
// mode (stderr when there is none: under CI=true nothing is skipped).
func Report() {
	line := Summary()
	if line == "" {
		return
	}
	var w io.Writer = os.Stderr
	if p := os.Getenv(SummaryEnv); p != "" {
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			defer f.Close()
			w = f
		}
	} else if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		w = tty
	}
	fmt.Fprintln(w, line)
}

// Summary is the report line: "" when nothing was skipped.
func Summary() string {
	mu.Lock()
	defer mu.Unlock()
	if len(skipped) == 0 {
		return ""
	}
	tools := make([]string, 0, len(skipped))
	n := 0
	for tool, tests := range skipped {
		tools = append(tools, fmt.Sprintf("%s (%s)", tool, strings.Join(tests, ", ")))
		n += len(tests)
	}
	sort.Strings(tools)
	return fmt.Sprintf("testtool: %d test(s) skipped for missing tools: %s; install them (CI=true makes this an error)",
		n, strings.Join(tools, "; "))
}
