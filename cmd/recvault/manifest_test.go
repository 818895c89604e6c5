package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportManifestMalformedLines: an unbalanced quote and a line with a
// wrong number of columns each fail on their own line, with its number;
// every later line is still imported, and the summary counts every line.
func TestImportManifestMalformedLines(t *testing.T) {
	dir, tree := t.TempDir(), t.TempDir()
	lines := []string{"path,campaign_id,crt_object_id,call_id,agent_id"}
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("c%d.wav", i)
		if err := os.WriteFile(filepath.Join(tree, name), wavPCM16(400, i), 0o600); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 3: // line 5
			lines = append(lines, `"`+name+`,110,m-3,call,4977`)
		case 7: // line 9
			lines = append(lines, name+",110,m-7,call")
		case 8: // line 10
			lines = append(lines, name+",110,m-8,call,4977,extra")
		case 9: // line 11: blank lines are skipped, not rows
			lines = append(lines, "", name+`,110,"m-9",call,4977`)
		default:
			lines = append(lines, fmt.Sprintf("%s,110,m-%d,call,4977", name, i))
		}
	}
	manifest := filepath.Join(tree, "calls.csv")
	if err := os.WriteFile(manifest, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "", "import", "--data", dir, "--manifest", manifest, "--progress", "none")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for line, want := range map[int]string{5: "unbalanced or stray quote", 9: "4 columns, the header has 5", 10: "6 columns, the header has 5"} {
		if !strings.Contains(errs, fmt.Sprintf("line %d: malformed CSV: ", line)) || !strings.Contains(errs, want) {
			t.Errorf("stderr does not report line %d (%s): %s", line, want, errs)
		}
	}
	if !strings.Contains(errs, "37 ingested, 0 already present, 3 failed, of 40 rows") {
		t.Errorf("summary: %s", errs)
	}
	got := map[int]string{}
	for _, r := range parseReport(t, out) {
		got[r.Line] = r.Status
	}
	if len(got) != 40 || got[5] != "failed" || got[12] != "ingested" || got[41] != "ingested" {
		t.Errorf("report by line: %v", got)
	}
}

// TestGetManifestMalformedLines: the same for get --manifest, against a
// real server: the bad lines fail in the report with their numbers, the
// rows after them are downloaded.
func TestGetManifestMalformedLines(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	cliLogin(t, env.URL, "v1", "admin", "admin-demo-pass")
	id := env.recordingID(110, "d741-6904fad1-vce-daf-638729").ID
	mf := "id,name\n" + id + ",a\n\"" + id + ",b\n" + id + ",c,extra\n" + id + ",d\n"
	manifest := filepath.Join(t.TempDir(), "calls.csv")
	if err := os.WriteFile(manifest, []byte(mf), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, out, errs := runCLI(t, "", "get", "v1", "--manifest", manifest, "-o", dir, "--progress", "none")
	if code != 1 || !strings.Contains(errs, "2 of 4 downloads failed") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	byLine := map[int]outcome{}
	for _, o := range reportLines(t, out) {
		byLine[o.Line] = o
	}
	if byLine[2].Status != "downloaded" || byLine[5].Status != "downloaded" ||
		!strings.Contains(byLine[3].Error, "quote") || !strings.Contains(byLine[4].Error, "3 columns, the header has 2") {
		t.Fatalf("report: %+v", byLine)
	}
}
