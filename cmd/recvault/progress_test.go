package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// screen replays what a terminal shows for output written with the
// escapes multiBar uses: cursor up (ESC[nA), clear line (ESC[2K), clear to
// the end of the screen (ESC[J), carriage return and newline.
func screen(out string) []string {
	var lines [][]rune
	row, col := 0, 0
	put := func(r rune) {
		for len(lines) <= row {
			lines = append(lines, nil)
		}
		for len(lines[row]) <= col {
			lines[row] = append(lines[row], ' ')
		}
		lines[row][col] = r
		col++
	}
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
				j++
			}
			n, _ := strconv.Atoi(string(rs[i+2 : j]))
			switch rs[j] {
			case 'A':
				row = max(row-n, 0)
			case 'K':
				if row < len(lines) {
					lines[row] = nil
				}
			case 'J':
				if row < len(lines) {
					lines[row] = lines[row][:min(col, len(lines[row]))]
					lines = lines[:row+1]
				}
			}
			i = j
		case r == '\r':
			col = 0
		case r == '\n':
			row, col = row+1, 0
		default:
			put(r)
		}
	}
	out2 := make([]string, len(lines))
	for i, l := range lines {
		out2[i] = strings.TrimRight(string(l), " ")
	}
	return out2
}

// reportOnScreen checks that every report line is whole, on a line of its
// own, and returns how many there are.
func reportOnScreen(t *testing.T, lines []string) int {
	t.Helper()
	n := 0
	for _, l := range lines {
		if strings.Contains(l, `{"line"`) {
			var v map[string]any
			if !strings.HasPrefix(l, `{"line"`) || json.Unmarshal([]byte(l), &v) != nil {
				t.Errorf("a report line shares its line with a bar: %q", l)
				continue
			}
			n++
		}
	}
	return n
}

// TestReportNeverSharesBarLine: with bars on stderr and the JSON report on
// stdout, both on one terminal, every report line stays whole on its own
// line, for get --manifest and for import.
func TestReportNeverSharesBarLine(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	cliLogin(t, env.URL, "v1", "admin", "admin-demo-pass")
	ids := []string{env.recordingID(110, "d741-6904fad1-vce-daf-638729").ID, env.recordingID(110, "1621413752-2011-voice").ID}
	var mf strings.Builder
	mf.WriteString("id,name,format\n")
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&mf, "%s,row-%02d,%s\n", ids[i%2], i, []string{"original", "mp3"}[i%2])
	}
	manifest := filepath.Join(t.TempDir(), "calls.csv")
	if err := os.WriteFile(manifest, []byte(mf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var term syncBuffer
	code := run(context.Background(), []string{"get", "v1", "--manifest", manifest, "-o", t.TempDir(), "--progress", "bar", "--parallel", "4"},
		strings.NewReader(""), &term, &term)
	if code != 0 {
		t.Fatalf("get: exit %d\n%s", code, term.String())
	}
	lines := screen(term.String())
	if n := reportOnScreen(t, lines); n != 12 {
		t.Errorf("%d whole report lines on the screen, want 12:\n%s", n, strings.Join(lines, "\n"))
	}
	if last := lines[len(lines)-2]; !strings.Contains(last, "12/12 files") {
		t.Errorf("the batch line is not last: %q", last)
	}

	dir, tree := t.TempDir(), t.TempDir()
	rows := []string{"path,campaign_id,crt_object_id,call_id,agent_id"}
	for i := 0; i < 8; i++ {
		name := fmt.Sprintf("c%d.wav", i)
		if err := os.WriteFile(filepath.Join(tree, name), wavPCM16(400, i), 0o600); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, fmt.Sprintf("%s,110,p-%d,call,4977", name, i))
	}
	im := filepath.Join(tree, "m.csv")
	if err := os.WriteFile(im, []byte(strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var term2 syncBuffer
	if code := run(context.Background(), []string{"import", "--data", dir, "--manifest", im, "--progress", "bar"},
		strings.NewReader(""), &term2, &term2); code != 0 {
		t.Fatalf("import: exit %d\n%s", code, term2.String())
	}
	lines = screen(term2.String())
	if n := reportOnScreen(t, lines); n != 8 || !strings.Contains(term2.String(), "8/8 files") {
		t.Errorf("import: %d whole report lines, want 8:\n%s", n, strings.Join(lines, "\n"))
	}
}

// TestSingleGetWithoutTerminal: one download, output not a terminal: the
// report once, no progress lines, no state file.
func TestSingleGetWithoutTerminal(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	cliLogin(t, env.URL, "v1", "admin", "admin-demo-pass")
	id := env.recordingID(110, "d741-6904fad1-vce-daf-638729").ID
	dir := t.TempDir()
	var out syncBuffer
	if code := run(context.Background(), []string{"get", "v1", "--id", id, "-o", dir}, strings.NewReader(""), &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"status":"downloaded"`) {
		t.Fatalf("output %q, want the one report line", out.String())
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 || ents[0].Name() != "d741-6904fad1-vce-daf-638729.wav" {
		t.Fatalf("folder holds %v (%v), want just the file", ents, err)
	}
}

// TestFailedGetLeavesNoFolder: a run that fails before any download
// leaves no folder behind, single or manifest.
func TestFailedGetLeavesNoFolder(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	cliLogin(t, env.URL, "v1", "admin", "admin-demo-pass")
	manifest := filepath.Join(t.TempDir(), "m.csv")
	if err := os.WriteFile(manifest, []byte("id\nno-such-1\nno-such-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--id", "no-such-recording"}, {"--manifest", manifest}} {
		dir := filepath.Join(t.TempDir(), "new", "calls")
		code, out, errs := runCLI(t, "", append([]string{"get", "v1", "-o", dir, "--progress", "none", "--retries", "1"}, args...)...)
		if code != 1 {
			t.Fatalf("%v: exit %d %s%s", args, code, out, errs)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			ents, _ := os.ReadDir(dir)
			t.Errorf("%v: the failed run left %s (holding %v)", args, dir, ents)
		}
	}
}

// TestBarUnknownSize: a download of unknown size shows its bytes and rate.
func TestBarUnknownSize(t *testing.T) {
	var out bytes.Buffer
	clock := time.Unix(0, 0)
	m := newMultiBar(&out, 0)
	m.now = func() time.Time { return clock }
	m.update(1, "call.mp3", 0, -1)
	clock = clock.Add(2 * time.Second)
	out.Reset()
	m.update(1, "call.mp3", 3<<20, -1)
	frame := out.String()
	if !strings.Contains(frame, "3.0 MiB 1.5 MiB/s") || !strings.Contains(frame, "size unknown") || strings.Contains(frame, "files") {
		t.Fatalf("frame %q", frame)
	}
}
