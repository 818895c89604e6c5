package vault_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/disk"
	"github.com/recvault/recvault/catalog/sqlite"
	"github.com/recvault/recvault/vault"
)

// twoReplicas returns two services sharing one catalog and blob store, as
// two replicas of a deployment do.
func twoReplicas(t *testing.T) (a, b *vault.Service, cat recvault.Catalog, blobs *disk.Store, dir string) {
	t.Helper()
	dir = t.TempDir()
	c, err := sqlite.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	blobs, err = disk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return vault.New(c, blobs, vault.Config{Logger: quiet}), vault.New(c, blobs, vault.Config{Logger: quiet}), c, blobs, dir
}

func putOld(t *testing.T, blobs *disk.Store, dir, key string) {
	t.Helper()
	if _, err := blobs.Put(context.Background(), key, bytes.NewReader([]byte("bytes of "+key))); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "blobs", "objects", filepath.FromSlash(key)), old, old); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, blobs *disk.Store, key string) bool {
	t.Helper()
	b, err := blobs.Open(context.Background(), key)
	if recvault.ErrorCode(err) == recvault.ENOTFOUND {
		return false
	} else if err != nil {
		t.Fatal(err)
	}
	b.Close()
	return true
}

// The orphan sweep never deletes a blob that an ingest on another replica
// is still writing (its catalog row not yet committed), however old the
// blob looks, and deletes it once that ingest has given up.
func TestSweepSparesBlobsBeingWritten(t *testing.T) {
	a, _, cat, blobs, dir := twoReplicas(t)
	ctx := context.Background()
	if err := cat.BeginBlob(ctx, "2026/01/01/writing", time.Now()); err != nil { // replica B's ingest, mid-way
		t.Fatal(err)
	}
	putOld(t, blobs, dir, "2026/01/01/writing")
	putOld(t, blobs, dir, "2026/01/01/orphan")
	_, orphans, err := a.SweepOrphans(ctx, time.Hour)
	if err != nil || orphans != 1 {
		t.Fatalf("sweep: %d orphans, %v; want the 1 orphan", orphans, err)
	}
	if !exists(t, blobs, "2026/01/01/writing") || exists(t, blobs, "2026/01/01/orphan") {
		t.Fatal("the sweep deleted the blob being written, or kept the orphan")
	}
	if err := cat.EndBlob(ctx, "2026/01/01/writing"); err != nil { // that ingest failed and gave up
		t.Fatal(err)
	}
	if _, orphans, err = a.SweepOrphans(ctx, time.Hour); err != nil || orphans != 1 || exists(t, blobs, "2026/01/01/writing") {
		t.Fatalf("abandoned blob not swept: %d %v", orphans, err)
	}
}

// Only one replica sweeps at a time: while one holds the sweep lease, the
// other's sweep does nothing.
func TestSweepRunsOnOneReplicaAtATime(t *testing.T) {
	a, b, _, blobs, dir := twoReplicas(t)
	ctx := context.Background()
	putOld(t, blobs, dir, "2026/01/01/orphan")
	release, ok, err := a.TryLease(ctx, "sweep", time.Minute) // A is sweeping
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if _, orphans, err := b.SweepOrphans(ctx, time.Hour); err != nil || orphans != 0 || !exists(t, blobs, "2026/01/01/orphan") {
		t.Fatalf("B swept while A held the lease: %d %v", orphans, err)
	}
	release()
	if _, orphans, err := b.SweepOrphans(ctx, time.Hour); err != nil || orphans != 1 {
		t.Fatalf("B's sweep after A finished: %d %v", orphans, err)
	}
}
