// Package testtool lets tests use external reference tools (ffmpeg,
// ffprobe, sox, lame, curl): a test skips when one is missing on a
// developer's machine, and fails under CI=true, where .ci/run installs them.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of the named tool, or skips (fails under CI=true).
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true (.ci/run installs it)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}
