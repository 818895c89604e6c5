// Package cache is the transcode cache: converted outputs whose size is not
// known in advance (MP3) kept as files, so that a repeated or ranged request
// becomes a plain file serve. It is bounded in bytes with least-recently-used
// eviction, fills atomically (temporary file, then rename), and coalesces
// concurrent requests for one output into a single conversion.
package cache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Cache is a directory of converted outputs.
type Cache struct {
	dir string
	max int64

	mu       sync.Mutex
	size     int64
	lru      *list.List               // of *entry, most recent at the front
	entries  map[string]*list.Element // by file name
	inflight map[string]*fill
	fills    int // conversions started, for tests and metrics
}

type entry struct {
	name string
	size int64
	// key is what the output was filled under; "" for an output adopted
	// from a previous run (file names are one-way hashes of keys).
	key string
}

type fill struct {
	done chan struct{}
	err  error
}

// Open opens (creating if needed) a cache in dir holding at most maxBytes.
// Outputs already there are kept, oldest first in line for eviction;
// temporary files of interrupted fills are removed.
func Open(dir string, maxBytes int64) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("transcode cache: %w", err)
	}
	c := &Cache{dir: dir, max: maxBytes, lru: list.New(), entries: map[string]*list.Element{}, inflight: map[string]*fill{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("transcode cache: %w", err)
	}
	type found struct {
		name string
		size int64
		mod  int64
	}
	var fs []found
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if strings.HasSuffix(e.Name(), ".tmp") {
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		if strings.HasSuffix(e.Name(), ".out") {
			fs = append(fs, found{e.Name(), info.Size(), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].mod > fs[j].mod })
	for _, f := range fs {
		c.entries[f.name] = c.lru.PushBack(&entry{name: f.name, size: f.size})
		c.size += f.size
	}
	c.mu.Lock()
	c.evictLocked()
	c.mu.Unlock()
	return c, nil
}

func fileName(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:16]) + ".out"
}

// Get opens the cached output for key, if present, and marks it recently used.
func (c *Cache) Get(key string) (*os.File, bool) {
	name := fileName(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[name]
	if !ok {
		return nil, false
	}
	f, err := os.Open(filepath.Join(c.dir, name))
	if err != nil {
		// Removed behind our back: forget it.
		c.removeLocked(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return f, true
}

// Produce writes a whole output to w; it must stop when ctx ends.
type Produce func(ctx context.Context, w io.Writer) error

// Fill returns the cached output for key, converting it with produce if it
// is not cached. If tee is not nil the output is also streamed to tee while
// it is produced (the client of the first request gets its first bytes at
// once); a failing tee (a client gone) stops the conversion. Concurrent
// Fills of one key run produce once: the others wait for it and then read
// the file (or, if it failed, try again themselves).
//
// The returned file is open for reading at its start; the caller closes
// it. streamed reports whether the output already went to tee (this call
// converted it); if not, the caller copies the file to its client.
func (c *Cache) Fill(ctx context.Context, key string, tee io.Writer, produce Produce) (f *os.File, streamed bool, err error) {
	name := fileName(key)
	for {
		if f, ok := c.Get(key); ok {
			return f, false, nil
		}
		c.mu.Lock()
		if fl, ok := c.inflight[name]; ok {
			c.mu.Unlock()
			select {
			case <-fl.done:
				if fl.err == nil {
					continue // now cached (or too big to keep: then we convert ourselves)
				}
				if ctx.Err() != nil {
					return nil, false, ctx.Err()
				}
				continue // the leader failed (its client left): try as leader
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
		}
		if _, ok := c.entries[name]; ok { // filled between Get and Lock
			c.mu.Unlock()
			continue
		}
		fl := &fill{done: make(chan struct{})}
		c.inflight[name] = fl
		c.fills++
		c.mu.Unlock()

		f, err := c.fill(ctx, name, key, tee, produce)
		c.mu.Lock()
		delete(c.inflight, name)
		fl.err = err
		close(fl.done)
		c.mu.Unlock()
		return f, tee != nil && err == nil, err
	}
}

func (c *Cache) fill(ctx context.Context, name, key string, tee io.Writer, produce Produce) (*os.File, error) {
	tmp, err := os.CreateTemp(c.dir, "fill-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("transcode cache: %w", err)
	}
	tmpName := tmp.Name()
	var w io.Writer = tmp
	if tee != nil {
		w = io.MultiWriter(tmp, tee)
	}
	err = produce(ctx, w)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmpName)
		return nil, err
	}
	info, err := tmp.Stat()
	if err != nil {
		tmp.Close()
		os.Remove(tmpName)
		return nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		os.Remove(tmpName)
		return nil, err
	}
	if info.Size() > c.max {
		// Too big to keep: hand out the (unlinked) file and forget it.
		os.Remove(tmpName)
		return tmp, nil
	}
	if err := os.Rename(tmpName, filepath.Join(c.dir, name)); err != nil {
		tmp.Close()
		os.Remove(tmpName)
		return nil, fmt.Errorf("transcode cache: %w", err)
	}
	c.mu.Lock()
	c.entries[name] = c.lru.PushFront(&entry{name: name, size: info.Size(), key: key})
	c.size += info.Size()
	c.evictLocked()
	c.mu.Unlock()
	return tmp, nil
}

// evictLocked removes least recently used outputs until the cache fits.
// Readers that have a file open keep reading it: Unix keeps the data until
// the last descriptor closes.
func (c *Cache) evictLocked() {
	for c.size > c.max {
		el := c.lru.Back()
		if el == nil {
			return
		}
		c.removeLocked(el)
	}
}

func (c *Cache) removeLocked(el *list.Element) {
	e := el.Value.(*entry)
	c.lru.Remove(el)
	delete(c.entries, e.name)
	c.size -= e.size
	if err := os.Remove(filepath.Join(c.dir, e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = err // best effort: a leftover file is re-adopted at the next Open
	}
}

// DropPrefix removes every output whose key starts with prefix (a deleted
// recording's conversions, keyed by its SHA-256), and every output adopted
// from a previous run, whose key cannot be known: when the content must be
// destroyed, dropping a few outputs too many only costs conversions. A
// reader that has a file open keeps it until it closes the file. It
// returns how many outputs it removed.
func (c *Cache) DropPrefix(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*entry); e.key == "" || strings.HasPrefix(e.key, prefix) {
			c.removeLocked(el)
			n++
		}
		el = next
	}
	return n
}

// Stats reports the bytes held, the number of outputs and how many
// conversions have been started.
func (c *Cache) Stats() (bytes int64, outputs int, fills int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size, len(c.entries), c.fills
}
