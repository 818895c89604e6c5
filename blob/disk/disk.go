// Package disk is the embedded blob store: recording bytes as files under one
// directory on the local file system.
//
// Durability: a blob is written to tmp/, hashed while written, fsynced, renamed
// into place and its directory fsynced before Put returns. A crash at any
// moment leaves either nothing or a stray file in tmp/ (removed by Clean),
// never a partial blob under its key.
package disk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/recvault/recvault/internal/ctxio"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/recvault/recvault"
)

// Store is a BlobStore rooted at a directory.
type Store struct {
	root string
}

var _ recvault.BlobStore = (*Store)(nil)

// Open creates (if needed) and opens a store rooted at dir.
func Open(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "tmp"), filepath.Join(dir, "objects")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("blob store: %w", err)
		}
	}
	return &Store{root: dir}, nil
}

// path maps a key to its file. Keys are chosen by the core, never by a
// request, but are still checked so that no key can name a file outside the
// store.
func (s *Store) path(key string) (string, error) {
	if key == "" || len(key) > 200 || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return "", recvault.Errorf(recvault.EINVALID, "invalid blob key")
	}
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '-' || c == '_' || c == '.') {
			return "", recvault.Errorf(recvault.EINVALID, "invalid blob key")
		}
	}
	return filepath.Join(s.root, "objects", filepath.FromSlash(key)), nil
}

// Put streams r into the blob key. It refuses to replace an existing blob.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (recvault.BlobInfo, error) {
	dst, err := s.path(key)
	if err != nil {
		return recvault.BlobInfo{}, err
	}
	if _, err := os.Lstat(dst); err == nil {
		return recvault.BlobInfo{}, recvault.Errorf(recvault.ECONFLICT, "blob %s exists", key)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmpName := filepath.Join(s.root, "tmp", hex.EncodeToString(rnd[:])+".part")
	f, err := os.OpenFile(tmpName, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return recvault.BlobInfo{}, fmt.Errorf("create temp blob: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmpName)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxio.Reader(ctx, r))
	if err != nil {
		return recvault.BlobInfo{}, fmt.Errorf("write blob %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return recvault.BlobInfo{}, fmt.Errorf("sync blob %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return recvault.BlobInfo{}, fmt.Errorf("close blob %s: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return recvault.BlobInfo{}, fmt.Errorf("blob dir: %w", err)
	}
	// Link rather than rename so that a concurrent Put of the same key fails
	// instead of silently replacing the first writer's blob.
	if err := os.Link(tmpName, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return recvault.BlobInfo{}, recvault.Errorf(recvault.ECONFLICT, "blob %s exists", key)
		}
		return recvault.BlobInfo{}, fmt.Errorf("place blob %s: %w", key, err)
	}
	committed = true
	os.Remove(tmpName)
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return recvault.BlobInfo{}, err
	}
	return recvault.BlobInfo{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Open opens the blob key for reading.
func (s *Store) Open(ctx context.Context, key string) (recvault.Blob, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "blob not found")
	} else if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat blob %s: %w", key, err)
	}
	return &File{File: f, size: st.Size()}, nil
}

// Delete removes the blob key; a missing blob is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}

// Clean removes temporary files older than age, the leftovers of writes
// that a crash interrupted. Age keeps it from racing a concurrent writer
// (another recvault process on the same directory).
func (s *Store) Clean(ctx context.Context, age time.Duration) (int, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "tmp"))
	if err != nil {
		return 0, fmt.Errorf("clean blob store: %w", err)
	}
	n := 0
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < age {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if os.Remove(filepath.Join(s.root, "tmp", e.Name())) == nil {
			n++
		}
	}
	return n, nil
}

// Ping checks that the store's directories are there and usable.
func (s *Store) Ping(ctx context.Context) error {
	for _, d := range []string{"tmp", "objects"} {
		st, err := os.Stat(filepath.Join(s.root, d))
		if err != nil {
			return fmt.Errorf("blob store: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("blob store: %s is not a directory", filepath.Join(s.root, d))
		}
	}
	return nil
}

// File is an open blob. It exposes the *os.File so that servers can hand it
// to sendfile instead of copying through user space.
type File struct {
	*os.File
	size int64
}

// Size is the blob's length in bytes.
func (f *File) Size() int64 { return f.size }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// OSFile returns the underlying file, so that HTTP serving can use sendfile.
func (f *File) OSFile() *os.File { return f.File }

// Walk calls fn with the key and modification time of every stored blob.
func (s *Store) Walk(ctx context.Context, fn func(key string, mod time.Time) error) error {
	root := filepath.Join(s.root, "objects")
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel), info.ModTime())
	})
}
