// Package disk is the embedded blob store: recording bytes as files under one
// directory on the local file system.
//
// Durability: a blob is written to tmp/, hashed while written, fsynced, renamed
// into place and its directory fsynced before Put returns. A crash at any
// moment leaves either nothing or a stray file in tmp/ (removed by Clean,
// which tells it from a running write by the write's flock on it), never a
// partial blob under its key.
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
	"syscall"
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
	f, tmpName, err := s.createTemp()
	if err != nil {
		return recvault.BlobInfo{}, err
	}
	committed := false
	defer func() {
		if !committed {
			// Best effort, the write's error says what failed; a name
			// left behind is unlocked once closed, so Clean takes it.
			// Removed before closing: the name goes while still locked.
			_ = os.Remove(tmpName)
			_ = f.Close()
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
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return recvault.BlobInfo{}, fmt.Errorf("blob dir: %w", err)
	}
	// Link rather than rename so that a concurrent Put of the same key fails
	// instead of silently replacing the first writer's blob. The file stays
	// open (locked) until its temporary name is gone, lest Clean take it
	// for a crashed write's and remove it under us.
	if err := os.Link(tmpName, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return recvault.BlobInfo{}, recvault.Errorf(recvault.ECONFLICT, "blob %s exists", key)
		}
		return recvault.BlobInfo{}, fmt.Errorf("place blob %s: %w", key, err)
	}
	committed = true
	rmErr := os.Remove(tmpName)
	// Synced data cannot be lost by close; an error here is reported, and
	// the placed blob is then an orphan for the sweep.
	if err := f.Close(); err != nil {
		return recvault.BlobInfo{}, fmt.Errorf("close blob %s: %w", key, err)
	}
	if rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		return recvault.BlobInfo{}, fmt.Errorf("remove temporary name of blob %s: %w", key, rmErr)
	}
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
	f, err := openRead(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "blob not found")
	} else if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("stat blob %s: %w", key, err), f.Close())
	}
	return &File{File: f, info: st}, nil
}

// Stat returns the FileInfo of blob key's file, found by its name and not
// opened: what a reader that keeps memory maps of files (blob/sealed)
// looks a kept map up by, so that a blob read again needs no open, Stat
// and close of its file. A missing blob, or anything but a regular file
// under its name, is ENOTFOUND, as Open has it.
func (s *Store) Stat(ctx context.Context, key string) (os.FileInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "blob not found")
	} else if err != nil {
		return nil, fmt.Errorf("stat blob %s: %w", key, err)
	}
	return fi, nil
}

// openRead opens the file p to read it, by the open call and one fcntl.
// os.Open would also offer a regular file to the runtime's poller, which
// Linux refuses, and undo that: four more system calls (fcntl three times
// and epoll_ctl) on every download. os.NewFile takes the descriptor as
// it is, blocking, which is what a regular file is read as anyway.
// (syscall.Open adds O_LARGEFILE where it matters.)
func openRead(p string) (*os.File, error) {
	for {
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return os.NewFile(uintptr(fd), p), nil
	}
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

// createTemp creates a temporary file in tmp/ and takes an exclusive flock
// on it, held until the file is closed: the lock is how Clean tells a live
// write (in this or another process, such as a CLI ingest beside the
// server) from a crashed one's leftover, whose lock the kernel released.
// Between create and lock, Clean may find the file unlocked and take it;
// then the lock fails or the name no longer leads to our file, and a new
// name is tried.
func (s *Store) createTemp() (*os.File, string, error) {
	for range 5 {
		var rnd [8]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, "", fmt.Errorf("temp blob name: %w", err)
		}
		name := filepath.Join(s.root, "tmp", hex.EncodeToString(rnd[:])+".part")
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, "", fmt.Errorf("create temp blob: %w", err)
		}
		locked, err := tryLock(f)
		if err != nil && !errors.Is(err, errNoLocks) {
			return nil, "", errors.Join(fmt.Errorf("lock temp blob: %w", err), f.Close(), os.Remove(name))
		}
		if errors.Is(err, errNoLocks) || locked && sameFile(f, name) {
			return f, name, nil // without locks, Clean goes by age
		}
		// Clean has it: it removes the name; ours is the file alone.
		if err := f.Close(); err != nil {
			return nil, "", fmt.Errorf("close temp blob: %w", err)
		}
	}
	return nil, "", errors.New("create temp blob: its name kept being cleaned away")
}

// errNoLocks is wrapped by tryLock's error when the file system has no
// flock (some network and FUSE file systems).
var errNoLocks = errors.New("file locks not supported")

// tryLock takes an exclusive flock on f without waiting. It reports false
// when another open file holds the lock.
func tryLock(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if lerr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return false, err
	}
	switch {
	case lerr == nil:
		return true, nil
	case errors.Is(lerr, syscall.EWOULDBLOCK):
		return false, nil
	case errors.Is(lerr, syscall.ENOTSUP), errors.Is(lerr, syscall.EOPNOTSUPP):
		return false, fmt.Errorf("%w: %w", errNoLocks, lerr)
	}
	return false, lerr
}

// sameFile reports whether name still leads to the open file f.
func sameFile(f *os.File, name string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	ni, err := os.Lstat(name)
	return err == nil && os.SameFile(fi, ni)
}

// Clean removes the leftovers of writes that a crash interrupted: every
// temporary file whose lock it can take, however young (the writer that
// held it is gone), but none whose lock is held (a write running in this
// or another process). Where the file system has no locks, or the entry is
// not a plain file, it falls back to age: only files older than age go.
func (s *Store) Clean(ctx context.Context, age time.Duration) (int, error) {
	dir := filepath.Join(s.root, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("clean blob store: %w", err)
	}
	n := 0
	var errs []error // one bad entry must not keep the others
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		removed, err := cleanTemp(filepath.Join(dir, e.Name()), e, age)
		if err != nil {
			errs = append(errs, err)
		}
		if removed {
			n++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("clean blob store: %w", err)
	}
	return n, nil
}

// cleanTemp removes one temporary file if it is a crashed write's. A file
// that vanished meanwhile (its write finished) is not an error.
func cleanTemp(p string, e fs.DirEntry, age time.Duration) (bool, error) {
	byAge := func() (bool, error) {
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		} else if err != nil {
			return false, fmt.Errorf("stat %s: %w", p, err)
		}
		if time.Since(info.ModTime()) < age {
			return false, nil
		}
		return remove(p)
	}
	if !e.Type().IsRegular() {
		return byAge()
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close() // read-only: nothing to lose on close; releases the lock
	locked, err := tryLock(f)
	switch {
	case errors.Is(err, errNoLocks):
		return byAge()
	case err != nil:
		return false, fmt.Errorf("lock %s: %w", p, err)
	case !locked:
		return false, nil // a live write
	}
	// Held, so no writer can take it now; remove it while still held.
	return remove(p)
}

func remove(p string) (bool, error) {
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("temporary file: %w", err)
	}
	return true, nil
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
	info os.FileInfo // the open's Stat
}

// Info returns the file's FileInfo as Open found it (no system call): the
// identity by which the blob store's memory maps find the file.
func (f *File) Info() os.FileInfo { return f.info }

// Size is the blob's length in bytes.
func (f *File) Size() int64 { return f.info.Size() }

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
