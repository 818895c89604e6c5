package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/sealed"
)

// ingestSome stores one recording per n in ns (n samples, 2n+44 bytes)
// in the data directory dir, and returns them in that order.
func ingestSome(t *testing.T, dir string, ns ...int) []*recvault.Recording {
	t.Helper()
	ctx := context.Background()
	a, err := openApp(ctx, dirLocations(dir), appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	}()
	var recs []*recvault.Recording
	for i, n := range ns {
		r, _, err := a.svc.Ingest(ctx, nil, ingestReq(210, "scrub-"+string(rune('a'+i))), bytes.NewReader(wavPCM16(n, i)))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

func blobFile(dir string, r *recvault.Recording) string {
	return filepath.Join(dir, "blobs", "objects", filepath.FromSlash(r.BlobKey))
}

// TestScrub damages one blob file and deletes another on disk, and shows
// that scrub names exactly those two, with what is wrong, and fails; and
// that it passes on the intact store.
func TestScrub(t *testing.T) {
	dir := t.TempDir()
	recs := ingestSome(t, dir, 120_000, 120_000, 120_000, 20_000) // 240 KB ×3, 40 KB
	if code, out, errs := runCLI(t, "", "scrub", "--data", dir); code != 0 || !strings.Contains(out, "4 recordings: 4 ok, 0 corrupt, 0 missing, 0 errors") {
		t.Fatalf("intact store: exit %d, %q %q", code, out, errs)
	}

	// One flipped byte well inside chunk 1: the header and the last chunk
	// (checked at open) are intact, so only reading everything finds it.
	p := blobFile(dir, recs[1])
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("RIFF")) {
		t.Fatalf("verified (unencrypted) blob should hold the WAV as is")
	}
	b[70000] ^= 0x40
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(blobFile(dir, recs[2])); err != nil {
		t.Fatal(err)
	}

	code, out, errs := runCLI(t, "", "scrub", "--data", dir, "--rate", "0")
	if code != 1 {
		t.Fatalf("damaged store: exit %d, %q %q", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 2 bad lines and a summary, got %q", out)
	}
	var corrupt, missing string
	for _, l := range lines[:2] {
		switch {
		case strings.HasPrefix(l, "corrupt "):
			corrupt = l
		case strings.HasPrefix(l, "missing "):
			missing = l
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	if !strings.Contains(corrupt, recs[1].ID) || !strings.Contains(corrupt, "campaign 210 crtObjectId "+recs[1].CRTObjectID) ||
		!strings.Contains(corrupt, "integrity") {
		t.Errorf("corrupt line %q, want recording %s", corrupt, recs[1].ID)
	}
	if !strings.Contains(missing, recs[2].ID) || !strings.Contains(missing, recs[2].CRTObjectID) {
		t.Errorf("missing line %q, want recording %s", missing, recs[2].ID)
	}
	for _, r := range []*recvault.Recording{recs[0], recs[3]} {
		if strings.Contains(out, r.ID) {
			t.Errorf("intact recording %s reported: %q", r.ID, out)
		}
	}
	if !strings.Contains(lines[2], "4 recordings: 2 ok, 1 corrupt, 1 missing, 0 errors") {
		t.Errorf("summary %q", lines[2])
	}
	if !strings.Contains(errs, "1 corrupt, 1 missing") {
		t.Errorf("stderr %q", errs)
	}

	// Each run left one summary record in the audit trail naming the bad
	// recordings.
	code, out, errs = runCLI(t, "", "audit", "export", "--data", dir, "--format", "jsonl")
	if code != 0 {
		t.Fatalf("audit export: %d %q", code, errs)
	}
	if n := strings.Count(out, `"action":"scrub"`); n != 2 {
		t.Errorf("%d scrub audit records, want 2: %s", n, out)
	}
	if !strings.Contains(out, recs[1].ID) || !strings.Contains(out, "1 corrupt") {
		t.Errorf("scrub audit record does not name the corrupt recording: %s", out)
	}
}

// TestScrubRate shows that --rate bounds the average read rate: ~2 MB at
// 1 MB/s cannot finish in much less than 2 s. Only a lower bound is
// checked: a slow machine may take as long as it likes.
func TestScrubRate(t *testing.T) {
	dir := t.TempDir()
	ingestSome(t, dir, 500_000, 500_000) // 2 × 1 MB
	start := time.Now()
	code, out, errs := runCLI(t, "", "scrub", "--data", dir, "--rate", "1")
	took := time.Since(start)
	if code != 0 || !strings.Contains(out, "2 ok") {
		t.Fatalf("scrub: exit %d, %q %q", code, out, errs)
	}
	if took < 1500*time.Millisecond {
		t.Errorf("2 MB at 1 MB/s took %v, want ≥ 1.5 s", took)
	}
}

func TestScrubUsage(t *testing.T) {
	if code, errs, _ := runCLI(t, "", "scrub", "-h"); code != 0 || !strings.Contains(errs, "Read every recording") || !strings.Contains(errs, "-rate") {
		t.Errorf("scrub -h: %d %q", code, errs)
	}
	for _, args := range [][]string{{"scrub", "--rate", "-1"}, {"scrub", "extra"}, {"keys"}, {"keys", "rotate"}, {"keys", "generate"}} {
		if code, _, errs := runCLI(t, "", args...); code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	if code, out, _ := runCLI(t, "", "help"); code != 0 || !strings.Contains(out, "recvault scrub") || !strings.Contains(out, "recvault keys generate") {
		t.Errorf("usage lacks scrub or keys: %q", out)
	}
}

// TestKeysGenerateEncrypts generates a key file, and shows that with it
// the vault stores a recording encrypted (no WAV header in the blob file)
// and reads it back byte for byte; that the file is refused a second
// time; and that scrub verifies encrypted blobs.
func TestKeysGenerateEncrypts(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "master.key")
	code, out, errs := runCLI(t, "", "keys", "generate", keyPath)
	if code != 0 || !strings.HasPrefix(out, "k") || !strings.Contains(errs, "apart from the data") {
		t.Fatalf("keys generate: %d %q %q", code, out, errs)
	}
	st, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	before, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(before), strings.TrimSpace(out)) {
		t.Errorf("printed id %q not in the key file", out)
	}
	if code, _, errs := runCLI(t, "", "keys", "generate", keyPath); code != 1 || !strings.Contains(errs, "refusing to overwrite") {
		t.Errorf("second keys generate: %d %q", code, errs)
	}
	if after, err := os.ReadFile(keyPath); err != nil || !bytes.Equal(before, after) {
		t.Errorf("key file changed by the refused generate (err %v)", err)
	}
	if code, errs, _ := runCLI(t, "", "keys", "generate", "-h"); code != 0 || !strings.Contains(errs, "recvault-master-key v1") ||
		!strings.Contains(errs, "WITHOUT the key") {
		t.Errorf("keys generate -h: %d %q", code, errs)
	}

	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "call.wav")
	wav := wavPCM16(150_000, 3) // 300 KB: several chunks
	if err := os.WriteFile(src, wav, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, "", "ingest", "--data", dir, "--encryption-key-file", keyPath, "--campaign", "220",
		"--crt-object-id", "enc-1", "--call-id", "c-enc", "--agent", "4977", src)
	if code != 0 {
		t.Fatalf("ingest: %d %q %q", code, out, errs)
	}

	ctx := context.Background()
	loc := dirLocations(dir)
	loc.KeyFile = keyPath
	a, err := openApp(ctx, loc, appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	}()
	r, err := a.cat.RecordingByIdentity(ctx, 220, "enc-1")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(blobFile(dir, r))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte("RIFF")) || bytes.Contains(stored, wav[44:1044]) {
		t.Error("blob file holds the recording in the clear")
	}
	// The data key is in the catalogue, not in the blob header.
	if r.DataKey == nil {
		t.Fatal("encrypted recording has no data key in the catalogue")
	}
	vs, ok := a.blobs.(interface {
		OpenSealed(ctx context.Context, key, recordingID string, wk sealed.WrappedKey, opts ...sealed.OpenOption) (recvault.Blob, error)
	})
	if !ok {
		t.Fatalf("blob store %T does not seal", a.blobs)
	}
	b, err := vs.OpenSealed(ctx, r.BlobKey, r.ID, r.DataKey, sealed.Expect(r.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wav) {
		t.Errorf("read back %d bytes, not the %d ingested", len(got), len(wav))
	}

	if code, out, errs := runCLI(t, "", "scrub", "--data", dir, "--encryption-key-file", keyPath, "--rate", "0"); code != 0 || !strings.Contains(out, "1 ok") {
		t.Errorf("scrub with the key: %d %q %q", code, out, errs)
	}
	// Without the key the encrypted blob cannot be verified: not ok.
	if code, out, errs := runCLI(t, "", "scrub", "--data", dir, "--rate", "0"); code != 1 || !strings.Contains(out, r.ID) {
		t.Errorf("scrub without the key: %d %q %q", code, out, errs)
	}
}

// TestScrubCancel shows that a scrub stops soon after its context ends,
// even mid-recording and while throttled, and says so.
func TestScrubCancel(t *testing.T) {
	dir := t.TempDir()
	ingestSome(t, dir, 500_000) // 1 MB: 10 s at 100 kB/s
	a, err := openApp(context.Background(), dirLocations(dir), appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	sum, err := a.svc.Scrub(ctx, 100_000, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Scrub: %v, want the context's end", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cancelled scrub took %v", took)
	}
	if sum.Recordings != 0 || sum.Bytes >= 1_000_000 {
		t.Errorf("cut scrub judged %d recordings, read %d bytes", sum.Recordings, sum.Bytes)
	}
}
