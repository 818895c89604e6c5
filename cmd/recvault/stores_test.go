package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOperatorCommandsRefuseMissingDataDir: a typo in --data is reported,
// with what to do, instead of creating and reporting on an empty vault;
// recvault init makes one on purpose.
func TestOperatorCommandsRefuseMissingDataDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "recvualt-data")
	src := filepath.Join(t.TempDir(), "a.wav")
	if err := os.WriteFile(src, wavPCM16(800, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(t.TempDir(), "m.csv")
	if err := os.WriteFile(manifest, []byte("path,campaign_id,crt_object_id,call_id,agent_id\n"+src+",1,a,b,c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"user", "list"}, {"user", "add", "--login", "x", "--role", "admin"}, {"apikey", "list"}, {"audit", "verify"},
		{"audit", "export"}, {"retention", "list"}, {"hold", "list"}, {"deleted"}, {"purge", "--dry-run"}, {"scrub"},
		{"migrate-blobs"}, {"delete", "--recording", "x", "--reason", "y"},
		{"ingest", "--campaign", "1", "--crt-object-id", "a", "--call-id", "b", "--agent", "c", src},
		{"import", "--manifest", manifest, "--progress", "none"},
	} {
		code, _, errs := runCLI(t, "x\n", append(args, "--data", missing)...)
		if code != 1 || !strings.Contains(errs, missing+" does not exist") || !strings.Contains(errs, "recvault init --data") {
			t.Errorf("%v on a missing --data: exit %d, stderr %q", args, code, errs)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Fatalf("%v created the missing data directory", args)
		}
	}
	code, out, errs := runCLI(t, "", "init", "--data", missing)
	if code != 0 || !strings.Contains(out, "new recvault data created") {
		t.Fatalf("init: %d %q %q", code, out, errs)
	}
	if code, out, errs := runCLI(t, "", "user", "list", "--data", missing); code != 0 || !strings.Contains(out, "LOGIN") {
		t.Fatalf("user list after init: %d %q %q", code, out, errs)
	}
	if code, out, _ := runCLI(t, "", "init", "--data", missing); code != 0 || !strings.Contains(out, "existed already") {
		t.Fatalf("init again: %d %q", code, out)
	}
}
