package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/sealed"
	"github.com/recvault/recvault/blob/sealed/keyfile"
)

// rotateKeys makes an old and a new key file, and one holding both with
// the new key first (what an operator runs with after a rotation).
func rotateKeys(t *testing.T) (oldPath, newPath, bothPath string, oldRing, newRing *sealed.Keyring) {
	t.Helper()
	dir := t.TempDir()
	oldPath, newPath, bothPath = filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key"), filepath.Join(dir, "both.key")
	for _, p := range []string{oldPath, newPath} {
		if _, err := keyfile.Generate(p); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if oldRing, err = keyfile.Load(oldPath); err != nil {
		t.Fatal(err)
	}
	if newRing, err = keyfile.Load(newPath); err != nil {
		t.Fatal(err)
	}
	if err := keyfile.Write(bothPath, append(newRing.Keys(), oldRing.Keys()...)); err != nil {
		t.Fatal(err)
	}
	return oldPath, newPath, bothPath, oldRing, newRing
}

// storeArgs are the store flags that reach loc, for commands run on it.
func storeArgs(loc locations, dir string) []string {
	if testBackend == "remote" {
		return []string{"--catalog", loc.Catalog, "--blobs", loc.Blobs, "--cache-dir", loc.Cache}
	}
	return []string{"--data", dir}
}

// ingestN ingests n small recordings with the key file keyPath and returns
// their bytes by recording id.
func ingestN(t *testing.T, loc locations, keyPath string, n int) map[string][]byte {
	t.Helper()
	loc.KeyFile = keyPath
	a, err := openApp(context.Background(), loc, appOptions{})
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
		src := wavPCM16(400+i, i)
		r, _, err := a.svc.Ingest(context.Background(), nil, ingestReq(310, fmt.Sprintf("rot-%d", i)), bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		srcs[r.ID] = src
	}
	return srcs
}

// keyIDs counts the recordings by the master key their data key is
// wrapped under, failing on any recording without a catalogue data key.
func keyIDs(t *testing.T, cat recvault.Catalog) map[string]int {
	t.Helper()
	ctx := context.Background()
	recs, _, err := cat.FindRecordings(ctx, recvault.RecordingFilter{Scope: recvault.Scope{All: true}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, r := range recs {
		if r.DataKey == nil {
			t.Fatalf("recording %s has no data key in the catalogue", r.ID)
		}
		id, err := sealed.WrappedKey(r.DataKey).KeyID()
		if err != nil {
			t.Fatalf("recording %s: %v", r.ID, err)
		}
		ids[id]++
	}
	return ids
}

// readAllWith opens every recording in srcs through a sealed store on the
// raw blobs with ring alone, with the catalogue's data key, and checks the
// bytes are the ingested ones.
func readAllWith(t *testing.T, a *app, ring *sealed.Keyring, srcs map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	st := sealed.New(a.raw, sealed.WithKeyring(ring))
	for id, src := range srcs {
		r, err := a.cat.Recording(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		b, err := st.OpenSealed(ctx, r.BlobKey, r.ID, r.DataKey, sealed.Expect(r.SHA256))
		if err != nil {
			t.Fatalf("recording %s with ring %v: %v", id, ring.IDs(), err)
		}
		got, err := io.ReadAll(b)
		if cerr := b.Close(); err == nil {
			err = cerr
		}
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("recording %s with ring %v: %d bytes, identical %v, %v", id, ring.IDs(), len(got), bytes.Equal(got, src), err)
		}
	}
}

func openWithKey(t *testing.T, loc locations, keyPath string) *app {
	t.Helper()
	loc.KeyFile = keyPath
	a, err := openApp(context.Background(), loc, appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	return a
}

// TestKeysRotate: with a key file, an ingested recording's data key is in
// the catalogue and not in its blob, so deleting the row crypto-shreds the
// blob; `keys rotate` re-wraps every data key under the new key touching
// no blob, a rerun has nothing to do, and the recordings read
// byte-identical with the new key first and the old after it, and with the
// new key alone; `scrub` verifies them all with the new key alone.
func TestKeysRotate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := testLocations(t, dir)
	oldPath, newPath, bothPath, oldRing, newRing := rotateKeys(t)
	srcs := ingestN(t, loc, oldPath, 6)

	a := openWithKey(t, loc, oldPath)
	if ids := keyIDs(t, a.cat); ids[oldRing.Current()] != len(srcs) {
		t.Fatalf("data keys by master key %v, want all %d under %s", ids, len(srcs), oldRing.Current())
	}
	var shredID string
	for id := range srcs {
		shredID = id
		break
	}
	r, err := a.cat.Recording(ctx, shredID)
	if err != nil {
		t.Fatal(err)
	}
	// The blob header holds no wrapped key: the blob alone, even with the
	// master key, does not open.
	rb, err := a.raw.Open(ctx, r.BlobKey)
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 16)
	_, err = io.ReadFull(rb, hdr)
	if cerr := rb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(hdr[:8]) != "RVSEAL1\n" || hdr[9] != 2 || hdr[14] != 0 || hdr[15] != 0 {
		t.Fatalf("blob header %q: want sealed, encrypted, no wrapped key in it", hdr)
	}
	oldStore := sealed.New(a.raw, sealed.WithKeyring(oldRing))
	if b, err := oldStore.OpenVerified(ctx, r.BlobKey, r.SHA256); err == nil {
		b.Close()
		t.Fatal("an encrypted blob opened without its catalogue data key")
	}
	// Crypto-shredding: once the row is gone (the blob deliberately left
	// in place, as a surviving copy would be), nothing opens it.
	ts, err := a.cat.BeginDelete(ctx, shredID, "test", "crypto-shred", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, open := range []func() (recvault.Blob, error){
		func() (recvault.Blob, error) { return oldStore.OpenVerified(ctx, ts.BlobKey, ts.SHA256) },
		func() (recvault.Blob, error) { return oldStore.OpenSealed(ctx, ts.BlobKey, shredID, nil) },
	} {
		if b, err := open(); err == nil {
			b.Close()
			t.Fatal("a deleted recording's surviving blob opened with the master key")
		}
	}
	delete(srcs, shredID)

	args := append([]string{"keys", "rotate", "--encryption-key-file", oldPath, "--new-key-file", newPath}, storeArgs(loc, dir)...)
	code, out, errs := runCLI(t, "", args...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("keys rotate: %d rewrapped, 0 already current", len(srcs))) {
		t.Fatalf("keys rotate: %d %q %q", code, out, errs)
	}
	code, out, errs = runCLI(t, "", args...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("keys rotate: 0 rewrapped, %d already current", len(srcs))) {
		t.Fatalf("keys rotate again: %d %q %q", code, out, errs)
	}
	if ids := keyIDs(t, a.cat); ids[newRing.Current()] != len(srcs) || len(ids) != 1 {
		t.Fatalf("after rotation, data keys by master key %v, want all %d under %s", ids, len(srcs), newRing.Current())
	}
	// Both runs are in the audit trail, with their counts.
	ev, err := a.cat.Audit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var runs []string
	for _, e := range ev {
		if e.Action == recvault.ActionStorageAdmin && e.Outcome == recvault.OutcomeGranted {
			runs = append(runs, e.Subject)
		}
	}
	wantRuns := []string{
		fmt.Sprintf("rotate data keys to master key %s: %d rewrapped, 0 already current, 0 deleted meanwhile, 0 failed", newRing.Current(), len(srcs)),
		fmt.Sprintf("rotate data keys to master key %s: 0 rewrapped, %d already current, 0 deleted meanwhile, 0 failed", newRing.Current(), len(srcs)),
	}
	slices.Sort(runs)
	slices.Sort(wantRuns)
	if !slices.Equal(runs, wantRuns) {
		t.Fatalf("audited rotations %q, want %q", runs, wantRuns)
	}
	bothRing, err := keyfile.Load(bothPath)
	if err != nil {
		t.Fatal(err)
	}
	readAllWith(t, a, bothRing, srcs)
	readAllWith(t, a, newRing, srcs)
	// The old key alone no longer unwraps anything.
	for id := range srcs {
		r, err := a.cat.Recording(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := oldStore.OpenSealed(ctx, r.BlobKey, r.ID, r.DataKey); !errors.Is(err, sealed.ErrUnknownKey) {
			if err == nil {
				b.Close()
			}
			t.Fatalf("recording %s with the old key alone after rotation: %v, want ErrUnknownKey", id, err)
		}
	}
	// The core's read path (scrub reads as downloads do) with the new key.
	scrub := append([]string{"scrub", "--encryption-key-file", newPath, "--rate", "0"}, storeArgs(loc, dir)...)
	if code, out, errs := runCLI(t, "", scrub...); code != 0 || !strings.Contains(out, fmt.Sprintf("%d ok", len(srcs))) {
		t.Fatalf("scrub with the new key: %d %q %q", code, out, errs)
	}
	if code, errs, _ := runCLI(t, "", "keys", "rotate", "-h"); code != 0 || !strings.Contains(errs, "holds the new key") { // help is on stdout
		t.Errorf("keys rotate -h: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, "", append([]string{"keys", "rotate", "--encryption-key-file", oldPath}, storeArgs(loc, dir)...)...); code != 2 {
		t.Errorf("keys rotate without --new-key-file: %d %q", code, errs)
	}
}

// TestKeysRotateKilledMidway kills a real `keys rotate` process with
// SIGKILL after its first progress line: every recording's data key is
// then under the old key or the new one, all read with both keys, and a
// rerun finishes the job, after which the new key alone reads them all.
func TestKeysRotateKilledMidway(t *testing.T) {
	dir := t.TempDir()
	loc := testLocations(t, dir)
	oldPath, newPath, bothPath, oldRing, newRing := rotateKeys(t)
	const n = 300
	srcs := ingestN(t, loc, oldPath, n)

	args := append([]string{"keys", "rotate", "--encryption-key-file", oldPath, "--new-key-file", newPath}, storeArgs(loc, dir)...)
	killAfterProgress(t, args...)

	a := openWithKey(t, loc, bothPath)
	ids := keyIDs(t, a.cat)
	if ids[oldRing.Current()]+ids[newRing.Current()] != n || len(ids) > 2 {
		t.Fatalf("after the kill, data keys by master key %v: want each of %d under %s or %s",
			ids, n, oldRing.Current(), newRing.Current())
	}
	t.Logf("killed rotation left %d under the old key, %d under the new", ids[oldRing.Current()], ids[newRing.Current()])
	bothRing, err := keyfile.Load(bothPath)
	if err != nil {
		t.Fatal(err)
	}
	readAllWith(t, a, bothRing, srcs)

	code, out, errs := runCLI(t, "", args...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("rewrapped, %d already current", ids[newRing.Current()])) ||
		!strings.Contains(out, fmt.Sprintf("keys rotate: %d rewrapped", ids[oldRing.Current()])) {
		t.Fatalf("rotate after the kill: %d %q %q", code, out, errs)
	}
	if ids := keyIDs(t, a.cat); ids[newRing.Current()] != n {
		t.Fatalf("after the rerun, data keys by master key %v, want all %d under %s", ids, n, newRing.Current())
	}
	readAllWith(t, a, newRing, srcs)
}

// killAfterProgress runs the command args in a child process and kills it
// with SIGKILL as soon as it has printed its first "progress: " line, as
// a crash or an operator's kill -9 would stop it mid-way.
func killAfterProgress(t *testing.T, args ...string) {
	t.Helper()
	cmd := child(t, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "progress: ") {
		t.Fatalf("first line of %s: %q %v", args[0], line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s after %q: %v", args[0], strings.TrimSpace(line), cmd.Wait())
}
