package keyfile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recvault/recvault/blob/disk"
	"github.com/recvault/recvault/blob/sealed"
)

func TestGenerateLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "master.key")
	id, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
	text, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(text)); len(f) != 4 || f[0] != "recvault-master-key" || f[1] != "v1" || f[2] != id {
		t.Errorf("key file %q", text)
	}
	if _, err := Generate(p); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("second Generate: %v", err)
	}
	ring, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if ring.Current() != id {
		t.Errorf("Current() = %s, want %s", ring.Current(), id)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "0640") {
		t.Errorf("Load of a group-readable file: %v", err)
	}
}

// TestRotate goes through `keys rotate`: a new key put first, data keys
// re-wrapped, the old key dropped.
func TestRotate(t *testing.T) {
	dir := t.TempDir()
	oldPath := filepath.Join(dir, "old.key")
	if _, err := Generate(oldPath); err != nil {
		t.Fatal(err)
	}
	oldRing, err := Load(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	newPath := filepath.Join(dir, "new.key")
	newID, err := Generate(newPath)
	if err != nil {
		t.Fatal(err)
	}
	newRing, err := Load(newPath)
	if err != nil {
		t.Fatal(err)
	}
	both := filepath.Join(dir, "both.key")
	if err := Write(both, append(newRing.Keys(), oldRing.Keys()...)); err != nil {
		t.Fatal(err)
	}
	bothRing, err := Load(both)
	if err != nil {
		t.Fatal(err)
	}
	if bothRing.Current() != newID || len(bothRing.IDs()) != 2 {
		t.Fatalf("ring %v", bothRing.IDs())
	}
	d, err := disk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("call "), 50_000)
	_, wk, err := sealed.New(d, sealed.WithKeyring(oldRing)).PutSealed(ctx, "a", "rec", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	wk2, err := sealed.Rewrap(wk, bothRing, bothRing)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := wk2.KeyID(); id != newID {
		t.Errorf("rewrapped under %s, want %s", id, newID)
	}
	b, err := sealed.New(d, sealed.WithKeyring(newRing)).OpenSealed(ctx, "a", "rec", wk2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sealed.New(d, sealed.WithKeyring(oldRing)).OpenSealed(ctx, "a", "rec", wk2); !errors.Is(err, sealed.ErrUnknownKey) {
		t.Errorf("old ring: %v; want ErrUnknownKey", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"empty":     "# nothing\n\n",
		"short key": "recvault-master-key v1 k1 AAAA\n",
		"bad b64":   "recvault-master-key v1 k1 !!!!\n",
		"version":   "recvault-master-key v2 k1 AAAA\n",
		"garbage":   "hello\n",
		"dup id":    "recvault-master-key v1 k1 " + strings.Repeat("A", 43) + "=\nrecvault-master-key v1 k1 " + strings.Repeat("B", 43) + "=\n",
		"bad id":    "recvault-master-key v1 k/1 " + strings.Repeat("A", 43) + "=\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("%s: Load succeeded", name)
		} else if strings.Contains(err.Error(), strings.Repeat("A", 20)) {
			t.Errorf("%s: error quotes key material: %v", name, err)
		}
	}
}
