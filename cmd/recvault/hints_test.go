package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestErrorsNameTheFlag: the errors an operator meets first say what is
// wrong in terms of the flag to change, and how.
func TestErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	base := []string{"ingest", "--data", dir, "--crt-object-id", "a", "--call-id", "b", "--agent", "4977"}
	wavFile := filepath.Join(t.TempDir(), "a.wav")
	if err := os.WriteFile(wavFile, wavPCM16(800, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "", append(base, wavFile)...); code != 2 || !strings.Contains(errs, "--campaign is required") {
		t.Errorf("missing --campaign: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, "", append(base, "--campaign", "x", wavFile)...); code != 2 || !strings.Contains(errs, "--campaign must be a positive integer") {
		t.Errorf("bad --campaign: %d %q", code, errs)
	}
	raw := filepath.Join(t.TempDir(), "call.alaw")
	if err := os.WriteFile(raw, bytes.Repeat([]byte{0xd5, 0x55, 0x2a, 0xaa}, 4000), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, "", append(base, "--campaign", "1", raw)...)
	if code != 1 || !strings.Contains(errs, "add --codec alaw or --codec ulaw") || strings.Contains(errs, "d5 55") {
		t.Errorf("raw A-law without --codec: %d %q", code, errs)
	}
	flac := filepath.Join(t.TempDir(), "call.flac")
	if err := os.WriteFile(flac, append([]byte("fLaC\x00\x00\x00\x22"), make([]byte, 4000)...), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCLI(t, "", append(base, "--campaign", "1", flac)...)
	if code != 1 || !strings.Contains(errs, "FLAC audio") || strings.Contains(errs, "66 4c 61 43") {
		t.Errorf("FLAC: %d %q", code, errs)
	}
	// Standard input too.
	code, _, errs = runCLI(t, "OggS\x00\x02"+strings.Repeat("\x00", 3000), append(base, "--campaign", "1", "-")...)
	if code != 1 || !strings.Contains(errs, "Ogg") {
		t.Errorf("Ogg on stdin: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, "", "user", "disable", "--data", dir, "--login", "ghost@example.com"); code != 1 ||
		!strings.Contains(errs, `user "ghost@example.com" not found`) {
		t.Errorf("unknown user: %d %q", code, errs)
	}
	clientSetup(t)
	if code, _, errs := runCLI(t, "", "get", "ameyo", "--crt-object-id", "a", "--call-id", "b", "-o", t.TempDir()); code != 2 ||
		!strings.Contains(errs, "--campaign is required") {
		t.Errorf("get ameyo without --campaign: %d %q", code, errs)
	}
}

// TestTLSTrustFailureSuggestsCACert: a self-signed server's certificate
// is refused with the flag that fixes it.
func TestTLSTrustFailureSuggestsCACert(t *testing.T) {
	clientSetup(t)
	env, _, _ := startTLSEnv(t)
	t.Setenv("RECVAULT_PASSWORD", "admin-demo-pass")
	code, _, errs := runCLI(t, "", "login", "v1", "--server", env.URL, "--user", "admin", "--retries", "1")
	if code != 1 || !strings.Contains(errs, "not trusted") || !strings.Contains(errs, "--cacert") {
		t.Fatalf("login to a self-signed server: %d %q", code, errs)
	}
}

// TestCCGatewayExpiredSessionSaysWhatToDo: CC-Gateway ends a sign-in
// after 2 minutes without requests; a later get says how to sign in again.
func TestCCGatewayExpiredSessionSaysWhatToDo(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	cliLogin(t, env.URL, "ccgw", "4977", "agent-demo-pass")
	env.clock.Advance(2*time.Minute + time.Second)
	code, _, errs := runCLI(t, "", "get", "ccgw", "--call-id", "1621413752-2011", "-o", t.TempDir(), "--progress", "none")
	if code != 1 || !strings.Contains(errs, "2 minutes") || !strings.Contains(errs, "recvault login ccgw --server "+env.URL+" --user 4977") ||
		!strings.Contains(errs, "RECVAULT_PASSWORD") {
		t.Fatalf("get on an expired CC-Gateway session: %d %q", code, errs)
	}
}
