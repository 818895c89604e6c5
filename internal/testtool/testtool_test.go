package testtool

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestSkipsAreReported runs this test binary again, without -v, on a test
// that needs a tool nobody has: the summary line names the tool and test.
func TestSkipsAreReported(t *testing.T) {
	if os.Getenv("TESTTOOL_CHILD") == "1" {
		return
	}
	out := filepath.Join(t.TempDir(), "summary")
	cmd := exec.Command(os.Args[0], "-test.run=^TestNeedsMissingTool$")
	cmd.Env = append(os.Environ(), "TESTTOOL_CHILD=1", "CI=", SummaryEnv+"="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no summary written: %v", err)
	}
	if s := string(b); !strings.Contains(s, "1 test(s) skipped") || !strings.Contains(s, "no-such-tool-x9 (TestNeedsMissingTool)") {
		t.Fatalf("summary %q", s)
	}
}

func TestNeedsMissingTool(t *testing.T) {
	if os.Getenv("TESTTOOL_CHILD") != "1" {
		t.Skip("run by TestSkipsAreReported")
	}
	Need(t, "no-such-tool-x9")
}
