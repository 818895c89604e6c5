// Package filemap keeps read-only memory maps of files open across uses,
// so that a file read again and again (a recording downloaded by many
// clients) is checked straight from the page cache, or copied from it
// without a read call: no page-cache lookup per read, no mapping set up
// and torn down per read. A mapping made per read was measured slower than a read call;
// one kept across reads is what pays.
//
// A mapping is found by the file's identity (device, inode, size), never
// by its name, so that the bytes a caller checks through it are those of
// the very file it opened: a file replaced under the same name is another
// inode and gets its own mapping.
//
// What a mapping keeps, and for how long:
//   - While it is in use (between Acquire and Release) it is never
//     unmapped.
//   - Once unused it stays for Idle, to serve the next reader, and then
//     goes; it goes at once when the Cache holds more than Limit bytes or
//     MaxUnused mappings unused (least recently used first), when a new
//     one needs its place under MaxMaps, or when Forget names it.
//   - There are never more than MaxMaps, in use or not: past that,
//     Acquire maps nothing and the caller reads the file.
//   - A mapping holds its file's inode: a file deleted while mapped keeps
//     its disk space, and its bytes, until the mapping goes. Forget (on
//     deletion by this process) and the idle bound (on deletion by any
//     other) end that.
//
// A file cut shorter while mapped makes reading the lost pages a fault
// (SIGBUS), which Guard turns into an error instead of a crash.
package filemap

import (
	"container/list"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// Defaults for New's zero arguments.
const (
	// DefaultLimit bounds the unused mappings kept, in mapped bytes: a
	// mapping costs address space and the page-table entries of the pages
	// read (2 MiB of tables per GiB), not memory of its own; the pages are
	// the page cache's.
	DefaultLimit = 1 << 30
	// DefaultIdle is how long an unused mapping is kept: long enough for
	// the next download of a recording in demand, short enough that a
	// blob deleted by another process frees its space soon.
	DefaultIdle = 10 * time.Second
	// MaxUnused bounds the unused mappings kept, in number: each is one
	// of the process's memory areas, of which Linux allows 65,530 by
	// default (vm.max_map_count), and the Go runtime needs its own.
	MaxUnused = 4096
	// MaxMaps bounds the mappings in all, in use or not: past it Acquire
	// maps nothing and the caller reads the file, so that reads in
	// progress never take the memory areas the Go runtime needs for its
	// own (an mmap it cannot make is a fatal out of memory).
	MaxMaps = 16384
)

// ErrFault is the error Guard returns for a fault reading a mapping.
var ErrFault = errors.New("fault reading a mapped file (cut shorter while mapped?)")

// Supported reports whether this platform maps files; where it does not,
// Acquire returns nil and callers read as before.
const Supported = supported

// Cache holds the mappings. Its methods are safe for concurrent use. A
// nil *Cache maps nothing: Acquire returns nil.
type Cache struct {
	limit     int64
	idle      time.Duration
	maxUnused int
	maxMaps   int

	// live counts the mappings not yet unmapped, Forget's in use included.
	live int

	mu     sync.Mutex
	byID   map[fileID]*Map
	unused list.List // of *Map with refs 0, least recently used first
	idleB  int64     // bytes of the unused mappings
	timer  *time.Timer
	closed bool
	// expireErr is the first unmap failure of the idle timer, which has
	// no caller to tell: Close returns it.
	expireErr error
}

type fileID struct {
	dev, ino uint64
	size     int64
}

// Map is one mapping, shared by every holder of its file.
type Map struct {
	id     fileID
	tag    string
	data   []byte
	refs   int
	gone   bool          // Forget named it while in use: unmap at the last Release
	used   time.Time     // last Release (monotonic)
	unused *list.Element // in Cache.unused while refs is 0
}

// Bytes returns the mapped file. Read it only inside Guard, and only
// between Acquire and Release.
func (m *Map) Bytes() []byte { return m.data }

// New returns a Cache keeping at most limit bytes of unused mappings, each
// for at most idle (0: DefaultLimit, DefaultIdle).
func New(limit int64, idle time.Duration) *Cache {
	if limit <= 0 {
		limit = DefaultLimit
	}
	if idle <= 0 {
		idle = DefaultIdle
	}
	return &Cache{limit: limit, idle: idle, maxUnused: MaxUnused, maxMaps: MaxMaps, byID: map[fileID]*Map{}}
}

// Acquire returns a mapping of the first size bytes of f, shared with
// every other holder of the same file, and tagged with tag (for Forget).
// It returns nil, nil where files are not mapped, for an empty file, when
// MaxMaps mappings are in use, and after Close. Release it when done.
func (c *Cache) Acquire(f *os.File, size int64, tag string) (*Map, error) {
	if c == nil || !Supported || size <= 0 {
		return nil, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", f.Name(), err)
	}
	return c.acquire(f, fi, size, tag)
}

// AcquireInfo is Acquire of the whole of f for a caller that has f's
// FileInfo from a Stat of the open file (never of its name): a download
// spares a system call. The mapping is of fi.Size() bytes.
func (c *Cache) AcquireInfo(f *os.File, fi os.FileInfo, tag string) (*Map, error) {
	if c == nil || !Supported || fi.Size() <= 0 {
		return nil, nil
	}
	return c.acquire(f, fi, fi.Size(), tag)
}

// Lookup returns the mapping of the whole file fi describes if the Cache
// holds one, and nil if not: a caller that found fi by a Stat of the
// file's name reads it through the map without opening the file. The
// mapping keeps its inode alive, so no other file can have its device
// and inode number meanwhile: a match is that very file, at the size the
// Stat saw. Release a mapping it returns.
func (c *Cache) Lookup(fi os.FileInfo) *Map {
	if c == nil || !Supported || fi.Size() <= 0 {
		return nil
	}
	dev, ino, err := identity(fi)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byID[fileID{dev, ino, fi.Size()}]
	if m == nil || c.closed {
		return nil
	}
	c.takeLocked(m)
	return m
}

// takeLocked counts one more holder of m, taking it off the unused list.
func (c *Cache) takeLocked(m *Map) {
	if m.unused != nil {
		c.unused.Remove(m.unused)
		m.unused = nil
		c.idleB -= int64(len(m.data))
	}
	m.refs++
}

func (c *Cache) acquire(f *os.File, fi os.FileInfo, size int64, tag string) (*Map, error) {
	dev, ino, err := identity(fi)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", f.Name(), err)
	}
	id := fileID{dev, ino, size}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil
	}
	if m := c.byID[id]; m != nil {
		c.takeLocked(m)
		return m, nil
	}
	if err := c.trimLocked(1); err != nil {
		return nil, err
	}
	if c.live >= c.maxMaps {
		return nil, nil
	}
	data, err := mapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", f.Name(), err)
	}
	m := &Map{id: id, tag: tag, data: data, refs: 1}
	c.byID[id] = m
	c.live++
	return m, nil
}

// Release gives back a mapping from Acquire. The error is that of
// unmapping, when this was the last holder of a mapping that had to go.
func (c *Cache) Release(m *Map) error {
	if c == nil || m == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m.refs--
	if m.refs > 0 {
		return nil
	}
	if m.gone || c.closed {
		return c.unmapLocked(m)
	}
	m.used = time.Now()
	m.unused = c.unused.PushBack(m)
	c.idleB += int64(len(m.data))
	err := c.trimLocked(0)
	if c.timer == nil {
		c.timer = time.AfterFunc(c.idle, c.expire)
	}
	return err
}

// Forget ends the mappings tagged tag (a deleted blob's): unused ones at
// once, ones in use at their last Release.
func (c *Cache) Forget(tag string) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, m := range c.byID {
		if m.tag != tag {
			continue
		}
		if m.refs > 0 {
			m.gone = true
			delete(c.byID, m.id) // the next Acquire maps the file afresh
			continue
		}
		errs = append(errs, c.unmapLocked(m))
	}
	return errors.Join(errs...)
}

// Close unmaps the unused mappings, and the others at their last Release;
// Acquire returns nil after it.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	errs := []error{c.expireErr}
	for c.unused.Len() > 0 {
		errs = append(errs, c.unmapLocked(c.unused.Front().Value.(*Map)))
	}
	return errors.Join(errs...)
}

// Stats returns how many mappings there are and their bytes, in use or
// not (for tests and metrics).
func (c *Cache) Stats() (maps int, bytes int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.byID {
		maps++
		bytes += int64(len(m.data))
	}
	return maps, bytes
}

// expire is the timer's: it unmaps the mappings unused for idle, and sets
// the timer again for the oldest left, if any.
func (c *Cache) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timer = nil
	if c.closed {
		return
	}
	now := time.Now()
	for c.unused.Len() > 0 {
		m := c.unused.Front().Value.(*Map)
		if wait := c.idle - now.Sub(m.used); wait > 0 {
			c.timer = time.AfterFunc(wait, c.expire)
			return
		}
		if err := c.unmapLocked(m); err != nil && c.expireErr == nil {
			c.expireErr = err
		}
	}
}

// trimLocked unmaps unused mappings, oldest first, until they fit limit
// and maxUnused, and until room is left for more new ones under maxMaps.
func (c *Cache) trimLocked(more int) error {
	var errs []error
	for (c.idleB > c.limit || c.unused.Len() > c.maxUnused || c.live+more > c.maxMaps) && c.unused.Len() > 0 {
		errs = append(errs, c.unmapLocked(c.unused.Front().Value.(*Map)))
	}
	return errors.Join(errs...)
}

// unmapLocked removes m (refs 0) from c and unmaps it.
func (c *Cache) unmapLocked(m *Map) error {
	if m.unused != nil {
		c.unused.Remove(m.unused)
		m.unused = nil
		c.idleB -= int64(len(m.data))
	}
	if c.byID[m.id] == m {
		delete(c.byID, m.id)
	}
	data := m.data
	m.data = nil
	c.live--
	if err := unmap(data); err != nil {
		return fmt.Errorf("unmap: %w", err)
	}
	return nil
}

// Guard runs fn, which reads mappings, with a fault turned into an error
// (ErrFault) rather than a crash of the process. It is for the goroutine
// it runs on only.
func Guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			f, ok := r.(interface{ Addr() uintptr })
			if !ok {
				panic(r) // not a memory fault: not ours to hide
			}
			err = fmt.Errorf("%w: at %#x", ErrFault, f.Addr())
		}
	}()
	return fn()
}
