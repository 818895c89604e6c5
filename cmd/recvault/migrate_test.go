package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/sealed"
)

// makeLegacy ingests n recordings and then stores each one's bytes plain
// under its blob key, as recvault wrote blobs before sealing. It returns
// the bytes by recording id.
func makeLegacy(t *testing.T, loc locations, prefix string, n int) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	a, err := openApp(ctx, loc, appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	}()
	srcs := make(map[string][]byte, n)
	for i := range n {
		src := wavPCM16(300+i*97, i) // 0.6-49 KB: one to three 16 KiB chunks once sealed
		if i >= n-2 {
			src = wavPCM16(8000*10, i) // 160 KB: ten chunks
		}
		r, _, err := a.svc.Ingest(ctx, nil, ingestReq(320, fmt.Sprintf("%s-%d", prefix, i)), bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.raw.Delete(ctx, r.BlobKey); err != nil {
			t.Fatal(err)
		}
		if _, err := a.raw.Put(ctx, r.BlobKey, bytes.NewReader(src)); err != nil {
			t.Fatal(err)
		}
		srcs[r.ID] = src
	}
	return srcs
}

// forms counts the recordings by how their blobs are stored, and checks
// that each reads back, through the core's read path, as ingested.
func forms(t *testing.T, a *app, srcs map[string][]byte) map[sealed.Form]int {
	t.Helper()
	ctx := context.Background()
	st := sealed.New(a.raw)
	core, ok := a.blobs.(*sealed.Store)
	if !ok {
		t.Fatalf("app blob store is %T, want *sealed.Store", a.blobs)
	}
	out := map[sealed.Form]int{}
	for id, src := range srcs {
		r, err := a.cat.Recording(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		f, err := st.Form(ctx, r.BlobKey)
		if err != nil {
			t.Fatalf("recording %s: %v", id, err)
		}
		out[f]++
		var b recvault.Blob
		if r.DataKey != nil {
			b, err = core.OpenSealed(ctx, r.BlobKey, r.ID, r.DataKey, sealed.Expect(r.SHA256))
		} else {
			b, err = core.OpenVerified(ctx, r.BlobKey, r.SHA256)
		}
		if err != nil {
			t.Fatalf("recording %s (%s): %v", id, f, err)
		}
		got, err := io.ReadAll(b)
		if cerr := b.Close(); err == nil {
			err = cerr
		}
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("recording %s (%s): %d bytes, identical %v, %v", id, f, len(got), bytes.Equal(got, src), err)
		}
	}
	return out
}

// TestMigrateBlobs: plain blobs from before sealing are rewritten into
// verified chunks by `migrate-blobs`, the old blobs deleted, a rerun has
// nothing to do; with a key file a second run encrypts them (no RIFF left
// on disk) with their data keys in the catalogue; a plain blob whose bytes
// no longer match the catalogue is reported, left untouched, and fails
// the run; the runs are audited.
func TestMigrateBlobs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := testLocations(t, dir)
	srcs := makeLegacy(t, loc, "mig", 8)
	a := openWithKey(t, loc, "")
	if f := forms(t, a, srcs); f[sealed.FormLegacy] != len(srcs) {
		t.Fatalf("before: forms %v", f)
	}
	oldKeys := map[string]string{}
	for id := range srcs {
		r, err := a.cat.Recording(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		oldKeys[id] = r.BlobKey
	}
	before := rawCount(t, a)

	args := append([]string{"migrate-blobs"}, storeArgs(loc, dir)...)
	code, out, errs := runCLI(t, "", args...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("migrate-blobs: %d migrated, 0 already current", len(srcs))) {
		t.Fatalf("migrate-blobs: %d %q %q", code, out, errs)
	}
	if f := forms(t, a, srcs); f[sealed.FormVerified] != len(srcs) {
		t.Fatalf("after: forms %v, want all verified", f)
	}
	for id, k := range oldKeys {
		if b, err := a.raw.Open(ctx, k); recvault.ErrorCode(err) != recvault.ENOTFOUND {
			if err == nil {
				b.Close()
			}
			t.Fatalf("recording %s: old blob %s still there (%v)", id, k, err)
		}
	}
	if n := rawCount(t, a); n != before {
		t.Fatalf("%d blobs after migration, %d before: old copies left", n, before)
	}
	code, out, errs = runCLI(t, "", args...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("migrate-blobs: 0 migrated, %d already current", len(srcs))) {
		t.Fatalf("migrate-blobs again: %d %q %q", code, out, errs)
	}

	// With a master key, the verified blobs are encrypted in their turn.
	keyPath, _, _, _, _ := rotateKeys(t)
	code, out, errs = runCLI(t, "", append(args, "--encryption-key-file", keyPath)...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("migrate-blobs: %d migrated", len(srcs))) {
		t.Fatalf("migrate-blobs with a key: %d %q %q", code, out, errs)
	}
	ak := openWithKey(t, loc, keyPath)
	if f := forms(t, ak, srcs); f[sealed.FormEncrypted] != len(srcs) {
		t.Fatalf("after encrypting: forms %v", f)
	}
	for id := range srcs {
		r, err := ak.cat.Recording(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.DataKey == nil {
			t.Fatalf("recording %s: encrypted without a data key in the catalogue", id)
		}
		rb, err := ak.raw.Open(ctx, r.BlobKey)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := io.ReadAll(rb)
		rb.Close()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored, []byte("RIFF")) || bytes.Contains(stored, []byte("WAVE")) {
			t.Fatalf("recording %s: stored blob holds a WAV header in clear", id)
		}
	}
	scrub := append([]string{"scrub", "--encryption-key-file", keyPath, "--rate", "0"}, storeArgs(loc, dir)...)
	if code, out, errs := runCLI(t, "", scrub...); code != 0 || !strings.Contains(out, fmt.Sprintf("%d ok", len(srcs))) {
		t.Fatalf("scrub after migration: %d %q %q", code, out, errs)
	}
	// Without the key the migration does not fall back to a weaker form.
	code, out, errs = runCLI(t, "", args...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("0 migrated, %d already current", len(srcs))) {
		t.Fatalf("migrate-blobs without the key after encrypting: %d %q %q", code, out, errs)
	}

	// A plain blob that no longer matches its catalogue SHA-256.
	bad := makeLegacy(t, loc, "bad", 1)
	var badID string
	for id, src := range bad {
		badID = id
		r, err := a.cat.Recording(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		flipped := bytes.Clone(src)
		flipped[len(flipped)/2] ^= 0x40
		if err := a.raw.Delete(ctx, r.BlobKey); err != nil {
			t.Fatal(err)
		}
		if _, err := a.raw.Put(ctx, r.BlobKey, bytes.NewReader(flipped)); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs = runCLI(t, "", append(args, "--encryption-key-file", keyPath)...)
	if code == 0 || !strings.Contains(out, "0 migrated") || !strings.Contains(out, "1 corrupt") || !strings.Contains(errs, badID) {
		t.Fatalf("migrate-blobs over a corrupt plain blob: %d %q %q", code, out, errs)
	}
	r, err := a.cat.Recording(ctx, badID)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := sealed.New(a.raw).Form(ctx, r.BlobKey); err != nil || f != sealed.FormLegacy || r.DataKey != nil {
		t.Fatalf("corrupt recording after migration: form %v, %v, data key %v; want left as it was", f, err, r.DataKey != nil)
	}
	ev, err := a.cat.Audit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	for _, e := range ev {
		if e.Action == recvault.ActionStorageAdmin && strings.HasPrefix(e.Subject, "migrate blobs to ") {
			runs++
		}
	}
	if runs != 5 {
		t.Fatalf("%d migration runs audited, want 5", runs)
	}
	if code, errs, _ := runCLI(t, "", "migrate-blobs", "-h"); code != 0 || !strings.Contains(errs, "Resumable") {
		t.Errorf("migrate-blobs -h: %d %q", code, errs)
	}
}

// TestMigrateBlobsKilledMidway kills a real `migrate-blobs` process with
// SIGKILL after its first progress line: every recording still reads
// exactly (old form or new), and a rerun migrates exactly the rest.
func TestMigrateBlobsKilledMidway(t *testing.T) {
	dir := t.TempDir()
	loc := testLocations(t, dir)
	const n = 250
	srcs := makeLegacy(t, loc, "kill", n)
	args := append([]string{"migrate-blobs"}, storeArgs(loc, dir)...)
	killAfterProgress(t, args...)

	a := openWithKey(t, loc, "")
	f := forms(t, a, srcs)
	if f[sealed.FormLegacy]+f[sealed.FormVerified] != n || f[sealed.FormVerified] == 0 {
		t.Fatalf("after the kill: forms %v", f)
	}
	t.Logf("killed migration left %d legacy, %d verified", f[sealed.FormLegacy], f[sealed.FormVerified])
	code, out, errs := runCLI(t, "", args...)
	want := fmt.Sprintf("migrate-blobs: %d migrated, %d already current", f[sealed.FormLegacy], f[sealed.FormVerified])
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("migrate-blobs after the kill: %d %q %q; want %q", code, out, errs, want)
	}
	if f := forms(t, a, srcs); f[sealed.FormVerified] != n {
		t.Fatalf("after the rerun: forms %v", f)
	}
}
