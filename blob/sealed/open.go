package sealed

import (
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/internal/filemap"
	"github.com/recvault/recvault/internal/seekpos"
)

// OpenOption configures one OpenSealed.
type OpenOption func(*openConfig)

type openConfig struct {
	expect string
}

// Expect gives the plaintext's expected SHA-256 (lower-case hex, as
// BlobInfo has it). It matters only for a legacy (unsealed) blob, which it
// lets open with sequential reads verified; a sealed blob verifies itself
// chunk by chunk.
func Expect(sha string) OpenOption { return func(c *openConfig) { c.expect = sha } }

// Open opens the blob key, taking the key as recording id and the wrapped
// data key from the header (as Put wrote it).
func (s *Store) Open(ctx context.Context, key string) (recvault.Blob, error) {
	return s.OpenSealed(ctx, key, key, nil)
}

// OpenSealed opens the blob key of recording recordingID. wk is the wrapped
// data key PutSealed returned; nil takes it from the blob header. A non-nil
// wk also demands an encrypted blob, so that a blob swapped for one in mode
// verified (whose checks anyone can compute) is refused. The Blob
// reads and verifies (and decrypts) only the chunks a read touches; it
// holds at most two chunk buffers, one for Read and one for ReadAt.
func (s *Store) OpenSealed(ctx context.Context, key, recordingID string, wk WrappedKey, opts ...OpenOption) (recvault.Blob, error) {
	var cfg openConfig
	for _, o := range opts {
		o(&cfg)
	}
	if err := validRecordingID(recordingID); err != nil {
		return nil, err
	}
	if in, m := s.openKept(ctx, key); m != nil {
		b, err := s.openMapped(in, m, key, recordingID, wk, cfg)
		if err != nil {
			return nil, errors.Join(err, in.Close())
		}
		return b, nil
	}
	in, err := s.inner.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	b, err := s.open(in, key, recordingID, wk, cfg)
	if err != nil {
		return nil, errors.Join(err, in.Close())
	}
	return b, nil
}

// statter is an inner store that finds a blob's file by name without
// opening it (blob/disk's).
type statter interface {
	Stat(ctx context.Context, key string) (os.FileInfo, error)
}

// openKept finds blob key's file by a Stat of its name and, if the store
// keeps a map of that very file (device, inode and size: see
// filemap.Lookup), returns the map and the blob unopened: the map holds
// everything a read, a check and a span need, so that a blob read again
// costs one stat call instead of open, fstat and close. It returns a nil
// map otherwise (not a local file, not mapped, any error), and the caller
// opens the blob as usual: a missing blob is then reported by the open.
func (s *Store) openKept(ctx context.Context, key string) (*unopened, *filemap.Map) {
	st, ok := s.inner.(statter)
	if !ok || s.maps == nil {
		return nil, nil
	}
	fi, err := st.Stat(ctx, key)
	if err != nil {
		return nil, nil
	}
	m := s.maps.Lookup(fi)
	if m == nil {
		return nil, nil
	}
	return &unopened{inner: s.inner, key: key, info: fi}, m
}

func (s *Store) open(in recvault.Blob, key, recordingID string, wk WrappedKey, cfg openConfig) (_ recvault.Blob, err error) {
	lf, local := in.(localFile)
	// A local file is read through a map the store keeps across opens
	// (internal/filemap), its header included, so that a read costs a
	// copy from the page cache and no read call: a small recording
	// downloaded whole costs no read call at all. What is copied is checked
	// in the process's own memory, as what is read is; only FileSpan checks
	// in place (see there). No mapped byte is handed to a caller, so that
	// a file cut shorter under the map faults only inside filemap.Guard.
	// A map that cannot be made is no reason to fail: the file is read, as
	// where files are not mapped.
	var m *filemap.Map
	if local {
		var fi os.FileInfo // the open's own Stat, where the inner store kept it
		if st, ok := in.(infoFile); ok {
			fi = st.Info()
		}
		var mm *filemap.Map
		var merr error
		if fi != nil && fi.Size() == in.Size() {
			mm, merr = s.maps.AcquireInfo(lf.OSFile(), fi, key)
		} else {
			mm, merr = s.maps.Acquire(lf.OSFile(), in.Size(), key)
		}
		if merr == nil {
			m = mm
		}
	}
	return s.openMapped(in, m, key, recordingID, wk, cfg)
}

// openMapped is open of in with the map m of its file (nil: none), which
// is the blob's from here on (released by its Close, or here on failure).
func (s *Store) openMapped(in recvault.Blob, m *filemap.Map, key, recordingID string, wk WrappedKey, cfg openConfig) (_ recvault.Blob, err error) {
	_, local := in.(localFile)
	defer func() {
		if m != nil { // not handed to the blob
			err = errors.Join(err, s.maps.Release(m))
		}
	}()
	src := io.Reader(in)
	if m != nil {
		src = &mapReader{data: m.Bytes()}
	}
	fixed := make([]byte, fixedHeader)
	n, err := io.ReadFull(src, fixed)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	if n < len(magic) || string(fixed[:len(magic)]) != magic {
		if n >= len(magic) && nearMagic(fixed[:len(magic)]) {
			return nil, fmt.Errorf("open blob %s: %w: damaged header (magic)", key, ErrIntegrity)
		}
		return s.openLegacy(in, key, cfg)
	}
	if n < fixedHeader {
		return nil, fmt.Errorf("open blob %s: %w: header truncated", key, ErrIntegrity)
	}
	w := int(binary.BigEndian.Uint16(fixed[14:16]))
	if w > maxWrapped {
		return nil, fmt.Errorf("open blob %s: %w: damaged header (key length %d)", key, ErrIntegrity, w)
	}
	rest := make([]byte, w+sumSize)
	if _, err := io.ReadFull(src, rest); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("open blob %s: %w: header truncated", key, ErrIntegrity)
		}
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	h := sha256.New()
	h.Write(fixed)
	h.Write(rest[:w])
	check := h.Sum(nil)
	if subtle.ConstantTimeCompare(check, rest[w:]) != 1 {
		return nil, fmt.Errorf("open blob %s: %w: header check does not match", key, ErrIntegrity)
	}
	// The header is as written; its fields may still be unsupported.
	ver, mode, csize := fixed[8], fixed[9], int64(binary.BigEndian.Uint32(fixed[10:14]))
	if ver != version {
		return nil, fmt.Errorf("open blob %s: sealed format version %d not supported", key, ver)
	}
	if csize < minChunk || csize > maxChunk {
		return nil, fmt.Errorf("open blob %s: chunk size %d not supported", key, csize)
	}
	b := &blob{in: in, key: key, chunk: csize, adPrefix: check, recID: recordingID, local: local, maps: s.maps,
		hdrLen: int64(fixedHeader + w + sumSize), inPos: int64(fixedHeader + w + sumSize), mapped: m}
	if m != nil {
		b.inPos = 0 // the header came from the map
	}
	switch mode {
	case modeVerified, modeSHA256, modeAfter:
		if wk != nil {
			// The catalogue holds a data key, so the blob was sealed
			// encrypted: a blob in mode verified here was replaced, and
			// anyone can compute its unkeyed checks.
			return nil, fmt.Errorf("open blob %s: %w: a data key was given but the blob is not encrypted", key, ErrIntegrity)
		}
		b.tag, b.after = tagSize, mode == modeAfter
		if mode == modeSHA256 {
			b.tag, b.sha = sumSize, sha256.New()
		}
	case modeEncrypt:
		b.tag = tagSize
		if wk == nil {
			wk = WrappedKey(rest[:w])
		}
		if len(wk) == 0 {
			return nil, fmt.Errorf("open blob %s: encrypted, and its wrapped data key is kept outside the blob: pass it to OpenSealed", key)
		}
		if s.ring == nil {
			return nil, fmt.Errorf("open blob %s: encrypted, and the store has no key ring", key)
		}
		dk, err := s.ring.unwrap(wk)
		if err != nil {
			return nil, fmt.Errorf("open blob %s: %w", key, err)
		}
		a, err := newGCM(dk)
		clear(dk)
		if err != nil {
			return nil, fmt.Errorf("open blob %s: %w", key, err)
		}
		b.aead = a
	default:
		return nil, fmt.Errorf("open blob %s: sealed mode %d not supported", key, mode)
	}
	if err := b.geometry(in.Size()); err != nil {
		return nil, err
	}
	// Verify the first chunk now, through the sequential stream that a
	// whole-file read goes on with (on an object store: the one GET Open
	// made), so that a wrong recording, key or header fails at Open with
	// no extra request. The last chunk is not checked here — that would
	// cost a second request per download on an object store — so Size()
	// is what the stored length implies: a blob cut at a chunk boundary or
	// with chunks appended fails as soon as the chunk that is now last (or
	// no longer last) is read, because the last-chunk flag is
	// authenticated with every chunk. No byte of a bad chunk is returned.
	b.at.idx, b.rd.idx = -1, -1
	if b.mapped != nil && b.after {
		// Checked where it lies, from where FileSpan sends it; a read
		// loads it when it needs it.
		if err := b.checkMapped(0, 1); err != nil {
			return nil, err
		}
	} else if err := b.load(&b.rd, 0, false); err != nil {
		return nil, err
	}
	m = nil // the blob's now, released by Close
	return b, nil
}

// mapReader reads a mapped file from its start, as Open reads the header
// of a file it has mapped. A fault (the file cut shorter under the map)
// is ErrIntegrity, as a short read is.
type mapReader struct {
	data []byte
	off  int
}

func (r *mapReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	var n int
	if err := filemap.Guard(func() error { n = copy(p, r.data[r.off:]); return nil }); err != nil {
		return 0, fmt.Errorf("%w: stored blob shorter than at open (%w)", ErrIntegrity, err)
	}
	r.off += n
	return n, nil
}

// nearMagic reports whether p (8 bytes, not the magic) is the magic with 1
// to 4 bytes changed: a damaged sealed header rather than a legacy file.
func nearMagic(p []byte) bool {
	same := 0
	for i := range len(magic) {
		if p[i] == magic[i] {
			same++
		}
	}
	return same >= len(magic)-4
}

// blob is an open sealed blob. Read and ReadAt each keep one chunk buffer
// holding the last chunk they verified, so that small consecutive reads
// within a chunk read it once. ReadAt calls are serialised by a mutex.
type blob struct {
	in       recvault.Blob
	key      string
	aead     cipher.AEAD // nil in mode verified
	adPrefix []byte
	recID    string
	chunk    int64 // plaintext bytes per chunk
	tag      int   // check bytes per chunk
	hdrLen   int64
	nchunks  int64
	lastLen  int64
	size     int64
	closed   bool
	local    bool // in is a local file: a chunk read again costs no request

	pos   int64 // plaintext offset of the next Read
	inPos int64 // offset of in's Read position, or -1 when unknown
	rd    chunkBuf

	// mu serialises every method: Read and ReadAt keep separate chunk
	// buffers, but a blob read only by ReadAt (a conversion) takes over
	// the buffer Open verified chunk 0 into, so it holds one chunk, not two.
	mu       sync.Mutex
	readUsed bool      // Read, WriteTo or Seek has been called
	sha      hash.Hash // mode 1 (SHA-256 checks): reused for every chunk
	at       chunkBuf

	// Mode 4: the checks lie after the plaintext, from tableOff; cks holds
	// those of checkBlock chunks from chunk cksFirst (cksLen of them), so
	// that reading chunk after chunk reads the checks once per block.
	after    bool
	tableOff int64
	cks      []byte
	cksFirst int64
	cksLen   int64

	// A local file is read through a memory map of the whole stored file
	// from maps, held from Open to Close; nil where files are not mapped
	// or mapping failed (the file is then read).
	maps   *filemap.Cache
	mapped *filemap.Map

	ad    []byte   // chunkAD's buffer
	nonce [12]byte // check's AES-GCM nonce
}

// checkBlock is how many chunks' checks a mode-4 blob reads at once: 1 KiB
// of checks for 16 MiB of plaintext, one read call per 16 chunks read.
const checkBlock = 64

type chunkBuf struct {
	buf  []byte
	idx  int64 // chunk in data, or -1
	data []byte
}

// geometry derives the chunk count and plaintext size from the stored size
// (see the package doc); a stored size no writer produces is ErrIntegrity.
func (b *blob) geometry(stored int64) error {
	body := stored - b.hdrLen
	if b.after {
		// body = size + tag*n with (n-1)*C < size <= n*C, or size 0 and n 1.
		if body < int64(b.tag) {
			return fmt.Errorf("open blob %s: %w: truncated (no check after the header)", b.key, ErrIntegrity)
		}
		b.nchunks = max(1, (body+b.chunk-1)/(b.chunk+int64(b.tag)))
		b.size = body - b.nchunks*int64(b.tag)
		b.lastLen = b.size - (b.nchunks-1)*b.chunk
		b.tableOff = b.hdrLen + b.size
		if b.lastLen > b.chunk || b.lastLen < 1 && b.size > 0 {
			// Between the sizes of n and n+1 chunks: no writer makes it.
			return fmt.Errorf("open blob %s: %w: stored size %d fits no number of chunks", b.key, ErrIntegrity, stored)
		}
		return nil
	}
	full := b.chunk + int64(b.tag)
	if body < int64(b.tag) {
		return fmt.Errorf("open blob %s: %w: truncated (no chunk after the header)", b.key, ErrIntegrity)
	}
	b.nchunks = (body + full - 1) / full
	b.lastLen = body - (b.nchunks-1)*full - int64(b.tag)
	if b.lastLen < 0 || b.lastLen == 0 && b.nchunks > 1 {
		return fmt.Errorf("open blob %s: %w: stored size %d ends inside a chunk's check", b.key, ErrIntegrity, stored)
	}
	b.size = (b.nchunks-1)*b.chunk + b.lastLen
	return nil
}

func (b *blob) Size() int64 { return b.size }

// load reads, verifies and (if encrypted) decrypts chunk idx into c. With
// at it reads by ReadAt, else by in's sequential Read (which on S3 keeps
// one streamed GET for a whole-file read). On failure c holds no chunk.
func (b *blob) load(c *chunkBuf, idx int64, at bool) error {
	if c.idx == idx {
		return nil
	}
	c.idx = -1
	if c.buf == nil {
		c.buf = getChunkBuf(int(b.chunk) + b.tag)
	}
	plen := b.chunk
	if idx == b.nchunks-1 {
		plen = b.lastLen
	}
	off := b.hdrLen + idx*(b.chunk+int64(b.tag))
	raw := c.buf[:plen+int64(b.tag)]
	read := raw // what is read from off: the chunk and, but in mode 4, its check
	if b.after {
		off, read = b.hdrLen+idx*b.chunk, raw[:plen]
	}
	if err := b.readChunk(raw, read, off, idx, at); err != nil {
		return err
	}
	data, err := b.check(raw, idx)
	if err != nil {
		return err
	}
	c.data, c.idx = data, idx
	return nil
}

// readChunk reads chunk idx as stored into raw: read (raw, or in mode 4
// its plaintext part) from stored offset off, and in mode 4 the chunk's
// check after it. With at it reads by ReadAt, else by in's sequential
// Read; through the blob's map, either is a copy from the page cache.
func (b *blob) readChunk(raw, read []byte, off, idx int64, at bool) error {
	if b.after {
		ck, err := b.checkOf(idx)
		if err != nil {
			return err
		}
		copy(raw[len(read):], ck)
	}
	var err error
	if at {
		err = b.readAt(read, off)
	} else {
		err = b.readSeq(read, off)
	}
	if err != nil {
		return fmt.Errorf("chunk %d: %w", idx, err)
	}
	return nil
}

// readAt reads p from stored offset off: copied from the map if the blob
// has one (a fault there, the file cut shorter meanwhile, is
// ErrIntegrity), else by in's ReadAt. A short read is ErrIntegrity.
func (b *blob) readAt(p []byte, off int64) error {
	if b.mapped != nil {
		return b.copyMapped(p, off)
	}
	n, err := b.in.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	return b.readErr(err)
}

// readSeq is readAt by in's sequential Read (which on S3 keeps one
// streamed GET for a whole-file read), from off.
func (b *blob) readSeq(p []byte, off int64) error {
	if b.mapped != nil {
		return b.copyMapped(p, off)
	}
	if err := b.seekIn(off); err != nil {
		return err
	}
	if _, err := io.ReadFull(b.in, p); err != nil {
		return b.readErr(err)
	}
	b.inPos = off + int64(len(p))
	return nil
}

// copyMapped copies p from the map, from stored offset off. Like a read,
// it reads nothing for an empty p, and comes short past the end of the
// file as it was at Open (ErrIntegrity).
func (b *blob) copyMapped(p []byte, off int64) error {
	data := b.mapped.Bytes()
	if len(p) == 0 {
		return nil
	}
	if off < 0 || off+int64(len(p)) > int64(len(data)) {
		return b.readErr(nil)
	}
	return b.mapFault(filemap.Guard(func() error { copy(p, data[off:off+int64(len(p))]); return nil }))
}

// readErr is the error of a read that came short with err.
func (b *blob) readErr(err error) error {
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("read blob %s: %w: stored blob shorter than at open", b.key, ErrIntegrity)
	}
	return fmt.Errorf("read blob %s: %w", b.key, err)
}

// checkOf returns the stored check of chunk idx of a mode-4 blob, reading
// the block of checks it is in unless that block is the one held.
func (b *blob) checkOf(idx int64) ([]byte, error) {
	tag := int64(b.tag)
	if idx < b.cksFirst || idx >= b.cksFirst+b.cksLen {
		first := idx - idx%checkBlock
		count := min(checkBlock, b.nchunks-first)
		if b.cks == nil {
			b.cks = make([]byte, min(checkBlock, b.nchunks)*tag)
		}
		b.cksLen = 0
		if err := b.readAt(b.cks[:count*tag], b.tableOff+first*tag); err != nil {
			return nil, fmt.Errorf("checks of chunk %d: %w", idx, err)
		}
		b.cksFirst, b.cksLen = first, count
	}
	at := (idx - b.cksFirst) * tag
	return b.cks[at : at+tag], nil
}

// seekIn positions in's read at stored offset off, unless it is there
// already (a whole read continues one stream, on S3 one GET).
func (b *blob) seekIn(off int64) error {
	if b.inPos == off {
		return nil
	}
	b.inPos = -1
	if _, err := b.in.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("read blob %s: %w", b.key, err)
	}
	return nil
}

// check verifies (or decrypts and authenticates) chunk idx as stored in
// raw, its plaintext followed by its check bytes, and returns the
// plaintext, which lies at the start of raw.
func (b *blob) check(raw []byte, idx int64) ([]byte, error) {
	plen := len(raw) - b.tag
	ad := b.chunkAD(idx)
	if b.aead != nil {
		putChunkNonce(&b.nonce, uint64(idx))
		p, err := b.aead.Open(raw[:0], b.nonce[:], raw, ad)
		if err != nil {
			return nil, fmt.Errorf("read blob %s: chunk %d: %w: does not authenticate", b.key, idx, ErrIntegrity)
		}
		return p, nil
	}
	if err := b.verify(raw[:plen], raw[plen:], idx, ad); err != nil {
		return nil, err
	}
	return raw[:plen], nil
}

// chunkAD returns chunk idx's AD in b's buffer for it, valid until the
// next call (b.mu is held).
func (b *blob) chunkAD(idx int64) []byte {
	b.ad = appendChunkAD(b.ad[:0], b.adPrefix, uint64(idx), idx == b.nchunks-1, b.recID)
	return b.ad
}

// verify checks plain, the plaintext of chunk idx in a verified mode,
// against want, its stored check; ad is the chunk's AD.
func (b *blob) verify(plain, want []byte, idx int64, ad []byte) error {
	var got []byte
	if b.sha != nil {
		h := b.sha
		h.Reset()
		h.Write(ad)
		h.Write(plain)
		got = h.Sum(nil) // through the interface: a buffer here would escape
	} else {
		var sum [tagSize]byte // stays on the stack
		got = appendXXH(sum[:0], ad, plain)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("read blob %s: chunk %d: %w: check does not match", b.key, idx, ErrIntegrity)
	}
	return nil
}

func (b *blob) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.readUsed = true
	if b.closed {
		return 0, os.ErrClosed
	}
	if b.pos >= b.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && b.pos < b.size {
		idx := b.pos / b.chunk
		if err := b.load(&b.rd, idx, false); err != nil {
			return n, err
		}
		m := copy(p[n:], b.rd.data[b.pos-idx*b.chunk:])
		n += m
		b.pos += int64(m)
	}
	return n, nil
}

// WriteTo writes the blob from the Read position to its end straight from
// each verified chunk, so that a download needs no copy buffer besides
// the chunk (io.Copy and http.ServeContent use it). w must not keep the
// slices it is given, as io.Writer requires. The position advances by
// what w took; a chunk failing verification is never written.
func (b *blob) WriteTo(w io.Writer) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.readUsed = true
	if b.pos == 0 && b.size > 0 && b.size <= smallWhole && !b.closed {
		return b.writeSmall(w)
	}
	var total int64
	for b.pos < b.size {
		if b.closed {
			return total, os.ErrClosed
		}
		idx := b.pos / b.chunk
		if err := b.load(&b.rd, idx, false); err != nil {
			return total, err
		}
		n, err := w.Write(b.rd.data[b.pos-idx*b.chunk:])
		total += int64(n)
		b.pos += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// SendsFile reports whether FileSpan can hand out this blob's bytes: it is
// in mode 4 (the plaintext contiguous in the stored file) and a local file.
func (b *blob) SendsFile() bool { return b.after && b.local }

// FileSpan verifies the next bytes from the Read position, at most max and
// at most mappedSpanChunks chunks, and returns how many there are and
// either, when the file is mapped, the same bytes in the map (mapped; the
// file nil: a blob read through a kept map need not have opened it), or
// the stored file positioned at the first of them; the Read position
// moves past them. A server sends them from the file (sendfile) or has the kernel
// copy them from the map (a write call), so that they pass through no
// buffer of the process: they were read and checked just before, and the
// kernel sends them from the same page cache. mapped is for the kernel
// alone: a read of it in the process, outside filemap.Guard, would fault
// if the file were cut shorter meanwhile; a write call given it fails
// with EFAULT instead. It is valid until the next call on the blob. (A page of
// the file evicted and read again from a failing disk in between would
// escape the check; that window is one span's verification, microseconds,
// against the whole download before.) At the end it returns io.EOF. The
// file stays the blob's: the caller does not close it, and may not use it
// once it calls the blob again. It holds no buffer of its own between
// calls, so that a download blocked on a slow client costs only what the
// kernel holds.
//
// It checks the bytes where they lie in the page cache, through a memory
// map of the file that the store keeps across opens (internal/filemap;
// held by the blob until Close): no copy into the process, and no mapping
// made per call, which measured slower than a read. A fault reading the
// map (the file cut shorter meanwhile) is ErrIntegrity, as a short read
// is. Where files are not mapped, or mapping failed, it reads at most
// spanChunks chunks into a pooled buffer and checks them there.
func (b *blob) FileSpan(max int64) (*os.File, []byte, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.readUsed = true
	switch {
	case b.closed:
		return nil, nil, 0, os.ErrClosed
	case !b.SendsFile():
		return nil, nil, 0, fmt.Errorf("read blob %s: cannot be sent from its file", b.key)
	case b.pos >= b.size:
		return nil, nil, 0, io.EOF
	case max <= 0:
		return nil, nil, 0, fmt.Errorf("read blob %s: span of %d bytes", b.key, max)
	}
	// The chunk buffer Open verified chunk 0 into is not needed: give it
	// back rather than hold it for the rest of a slow download.
	putChunkBuf(b.rd.buf)
	b.rd = chunkBuf{idx: -1}
	chunks := int64(spanChunks)
	if b.mapped != nil {
		chunks = mappedSpanChunks
	}
	first := b.pos / b.chunk
	end := min(b.size, b.pos+max, (first+chunks)*b.chunk)
	// The whole chunks holding [b.pos, end), as stored from hdrLen.
	lo, hi := first*b.chunk, min(b.size, ((end-1)/b.chunk+1)*b.chunk)
	if b.mapped != nil {
		if err := b.checkMapped(first, (hi-1)/b.chunk+1); err != nil {
			return nil, nil, 0, err
		}
	} else {
		// Read into a buffer to be checked.
		span := hi - lo
		bp := smallBufs.Get().(*[]byte)
		defer smallBufs.Put(bp)
		if int64(cap(*bp)) < span {
			*bp = make([]byte, 0, span)
		}
		if err := b.readAfter((*bp)[:span], first); err != nil {
			return nil, nil, 0, err
		}
	}
	n := end - b.pos
	if b.mapped != nil {
		mapped := b.mapped.Bytes()[b.hdrLen+b.pos : b.hdrLen+end]
		b.pos = end
		return nil, mapped, n, nil
	}
	f := b.in.(localFile).OSFile()
	if f == nil {
		return nil, nil, 0, fmt.Errorf("read blob %s: %w", b.key, errReplaced)
	}
	b.inPos = -1 // the caller's sendfile moves the file's offset
	if _, err := f.Seek(b.hdrLen+b.pos, io.SeekStart); err != nil {
		return nil, nil, 0, fmt.Errorf("read blob %s: %w", b.key, err)
	}
	b.pos = end
	return f, nil, n, nil
}

// spanChunks is the most chunks one FileSpan verifies: 128 KiB less the
// checks, the buffer it reads them into for the check (pooled, and not
// held while the span is sent), and one sendfile call. Spans of 512 KiB
// and 1 MiB measured within noise of it on a 9.6 MB download (1,413 and
// 1,444 against 1,372 MB/s), for up to eight times the pooled buffers.
const spanChunks = smallWhole / (ChunkSize + tagSize)

// mappedSpanChunks is the most chunks one FileSpan checks through a
// memory map: no buffer to bound, so 1 MiB, one sendfile call for as
// many bytes.
const mappedSpanChunks = (1 << 20) / ChunkSize

// checkMapped checks chunks [first, end) of a mode-4 blob where its map
// holds them (the checks are read from the map by checkOf).
func (b *blob) checkMapped(first, end int64) error {
	data := b.mapped.Bytes()
	p := data[b.hdrLen+first*b.chunk : b.hdrLen+min(b.size, end*b.chunk)]
	return b.mapFault(filemap.Guard(func() error { return b.verifyAfter(p, first, end) }))
}

// mapFault is err, or for a fault reading the map (the file cut shorter
// meanwhile) ErrIntegrity, as a short read is. A fault a nested read of
// the map already reported as such is returned as it is.
func (b *blob) mapFault(err error) error {
	if errors.Is(err, filemap.ErrFault) && !errors.Is(err, ErrIntegrity) {
		return fmt.Errorf("read blob %s: %w: stored blob shorter than at open (%w)", b.key, ErrIntegrity, err)
	}
	return err
}

// smallWhole is the largest blob that WriteTo sends whole in one write:
// its stored chunks after the first are read with one read call, each is
// verified in the buffer, the plaintexts are closed up over the check
// bytes, and the client gets one write. A recording of 100 KB then costs
// two system calls instead of two per 16 KiB chunk (half of the serve
// path's system calls), for a buffer that a slow client of a small file
// holds: at most this much, and only for files this small.
const smallWhole = 128 << 10

// smallBufs holds writeSmall's buffers: a whole small blob as stored,
// smallWhole bytes and the check bytes of its chunks (blobs of larger,
// older chunks have fewer; a buffer too small is made afresh).
var smallBufs = sync.Pool{New: func() any { b := make([]byte, 0, smallWhole+(smallWhole/ChunkSize+1)*sumSize); return &b }}

// writeSmall is WriteTo for a small blob read from its start. Nothing is
// written unless every chunk verifies: a corrupt small recording gets a
// clean error answer, never a cut transfer.
func (b *blob) writeSmall(w io.Writer) (int64, error) {
	if err := b.load(&b.rd, 0, false); err != nil {
		return 0, err
	}
	stored := b.size + b.nchunks*int64(b.tag)
	bp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(bp)
	if int64(cap(*bp)) < stored {
		*bp = make([]byte, 0, stored)
	}
	buf := (*bp)[:stored]
	first := copy(buf, b.rd.data)
	if b.after {
		if err := b.readAfter(buf[first:b.size], 1); err != nil {
			return 0, err
		}
	} else if b.nchunks > 1 {
		// The rest as stored, right after chunk 0's plaintext (whose check
		// bytes Open already verified and that are not kept).
		off := b.hdrLen + b.chunk + int64(b.tag)
		rest := buf[first : stored-int64(b.tag)]
		if err := b.readSeq(rest, off); err != nil {
			return 0, err
		}
		dst, src := int64(first), int64(first)
		for idx := int64(1); idx < b.nchunks; idx++ {
			plen := b.chunk
			if idx == b.nchunks-1 {
				plen = b.lastLen
			}
			p, err := b.check(buf[src:src+plen+int64(b.tag)], idx)
			if err != nil {
				return 0, err
			}
			dst += int64(copy(buf[dst:], p))
			src += plen + int64(b.tag)
		}
	}
	n, err := w.Write(buf[:b.size])
	b.pos = int64(n)
	return int64(n), err
}

// readAfter reads into p the plaintext of a mode-4 blob from the start
// of chunk first (len(p) bytes: whole chunks, but for the blob's last)
// with one read call, and verifies it chunk by chunk against the stored
// checks.
func (b *blob) readAfter(p []byte, first int64) error {
	if err := b.readAt(p, b.hdrLen+first*b.chunk); err != nil {
		return err
	}
	return b.verifyAfter(p, first, first+(int64(len(p))+b.chunk-1)/b.chunk)
}

// verifyAfter checks chunks [first, end) of a mode-4 blob, whose
// plaintext p holds from the start of chunk first, against the stored
// checks. (An empty blob's one chunk is empty and checked all the same.)
func (b *blob) verifyAfter(p []byte, first, end int64) error {
	for idx := first; idx < end; idx++ {
		at := (idx - first) * b.chunk
		plain := p[at:min(int64(len(p)), at+b.chunk)]
		ck, err := b.checkOf(idx)
		if err != nil {
			return err
		}
		if err := b.verify(plain, ck, idx, b.chunkAD(idx)); err != nil {
			return err
		}
	}
	return nil
}

func (b *blob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read blob %s: negative offset %d", b.key, off)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, os.ErrClosed
	}
	if b.at.buf == nil && !b.readUsed && b.rd.buf != nil {
		b.at, b.rd = b.rd, chunkBuf{idx: -1}
	}
	n := 0
	for n < len(p) && off < b.size {
		idx := off / b.chunk
		if err := b.load(&b.at, idx, true); err != nil {
			return n, err
		}
		m := copy(p[n:], b.at.data[off-idx*b.chunk:])
		n += m
		off += int64(m)
	}
	if b.local && !b.readUsed {
		// A conversion reads by offset and then writes what it made to a
		// client, which may block for as long as the client pleases: the
		// chunk goes back to the pool rather than sit in the blocked
		// stream (16 of the 70 KiB a slow WAV conversion held). Reading
		// and checking it again from a local file costs a copy from its
		// map and the check (about 3 µs per call when it was a read call);
		// from an object store it would cost a request, so there the
		// chunk is kept.
		putChunkBuf(b.at.buf)
		b.at = chunkBuf{idx: -1}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (b *blob) Seek(offset int64, whence int) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.readUsed = true
	if b.closed {
		return 0, os.ErrClosed
	}
	pos, err := seekpos.Resolve(b.pos, b.size, offset, whence)
	if err != nil {
		return 0, fmt.Errorf("seek blob %s: %w", b.key, err)
	}
	b.pos = pos
	return pos, nil
}

func (b *blob) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return os.ErrClosed
	}
	b.closed = true
	// Every method holds mu and checks closed first, so no read can use
	// these buffers once they are back in the pool, nor the mapping once
	// it is released.
	putChunkBuf(b.rd.buf)
	putChunkBuf(b.at.buf)
	b.rd, b.at = chunkBuf{}, chunkBuf{}
	err := b.maps.Release(b.mapped)
	b.mapped = nil
	return errors.Join(b.in.Close(), err)
}

// openLegacy returns an unsealed blob: checked against cfg.expect on
// sequential reads, or unverified if the store allows legacy blobs.
func (s *Store) openLegacy(in recvault.Blob, key string, cfg openConfig) (recvault.Blob, error) {
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	if cfg.expect == "" {
		if !s.legacy {
			return nil, fmt.Errorf("open blob %s: %w: not sealed, and no expected SHA-256 given", key, ErrIntegrity)
		}
		return in, nil
	}
	want, err := hex.DecodeString(cfg.expect)
	if err != nil || len(want) != sha256.Size {
		return nil, recvault.Errorf(recvault.EINVALID, "expected SHA-256 %q is not 64 hex digits", cfg.expect)
	}
	return &legacyBlob{Blob: in, key: key, want: want, h: sha256.New()}, nil
}

// legacyBlob hashes a sequential read from offset 0 and fails at its end
// if the hash is not the expected one. ReadAt and reads after a Seek away
// from the hashed prefix pass through unverified (see the package doc).
type legacyBlob struct {
	recvault.Blob
	key    string
	want   []byte
	h      hash.Hash
	pos    int64 // Read position
	hashed int64 // bytes [0, hashed) went into h
}

func (l *legacyBlob) Read(p []byte) (int, error) {
	n, err := l.Blob.Read(p)
	if l.hashed == l.pos { // still the sequential read from 0
		l.h.Write(p[:n])
		l.hashed += int64(n)
	}
	l.pos += int64(n)
	if err == io.EOF && l.hashed == l.Size() {
		if subtle.ConstantTimeCompare(l.h.Sum(nil), l.want) != 1 {
			return n, fmt.Errorf("read blob %s: %w: SHA-256 of the legacy blob is not the catalogue's", l.key, ErrIntegrity)
		}
	}
	return n, err
}

func (l *legacyBlob) Seek(offset int64, whence int) (int64, error) {
	pos, err := l.Blob.Seek(offset, whence)
	if err != nil {
		return pos, err
	}
	l.pos = pos
	return pos, nil
}

// Walk lists the inner store's keys.
func (s *Store) Walk(ctx context.Context, fn func(key string, mod time.Time) error) error {
	return s.inner.Walk(ctx, fn)
}

// MapStats returns how many stored files the store holds memory-mapped
// (local files, read through their maps), and their bytes.
func (s *Store) MapStats() (maps int, bytes int64) { return s.maps.Stats() }

// Delete removes the blob key from the inner store, and ends this
// store's memory maps of it (a mapping would keep a deleted file's space).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.inner.Delete(ctx, key); err != nil {
		return err
	}
	if err := s.maps.Forget(key); err != nil {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}

// Clean cleans the inner store's leftovers.
func (s *Store) Clean(ctx context.Context, age time.Duration) (int, error) {
	return s.inner.Clean(ctx, age)
}

// Ping pings the inner store.
func (s *Store) Ping(ctx context.Context) error { return s.inner.Ping(ctx) }

// OpenVerified opens the blob key as Put wrote it (the key as recording id,
// any wrapped data key in the header) and, for a legacy blob written before
// sealing, verifies whole sequential reads against sha (the catalogue's
// SHA-256). It is what the core calls for a recording's bytes.
func (s *Store) OpenVerified(ctx context.Context, key, sha string) (recvault.Blob, error) {
	return s.OpenSealed(ctx, key, key, nil, Expect(sha))
}

// Form is how a blob is stored.
type Form int

const (
	FormLegacy    Form = iota // plain bytes, written before sealing
	FormVerified              // sealed, a check per chunk (XXH3-128, or SHA-256 in mode 1)
	FormEncrypted             // sealed, AES-256-GCM per chunk
)

func (f Form) String() string {
	switch f {
	case FormLegacy:
		return "legacy"
	case FormVerified:
		return "verified"
	case FormEncrypted:
		return "encrypted"
	}
	return fmt.Sprintf("form(%d)", int(f))
}

// Form tells how the blob key is stored, from the first bytes of its
// header (one short read; nothing is verified): what a blob migration asks
// to decide whether a blob needs rewriting. A blob whose header is damaged
// or of an unknown mode is ErrIntegrity, as Open would find it.
func (s *Store) Form(ctx context.Context, key string) (Form, error) {
	in, err := s.inner.Open(ctx, key)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	hdr := make([]byte, 10)
	n, err := in.ReadAt(hdr, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("form of blob %s: %w", key, err)
	}
	if n < len(magic) || string(hdr[:len(magic)]) != magic {
		if n >= len(magic) && nearMagic(hdr[:len(magic)]) {
			return 0, fmt.Errorf("form of blob %s: %w: damaged header (magic)", key, ErrIntegrity)
		}
		return FormLegacy, nil
	}
	if n < len(hdr) {
		return 0, fmt.Errorf("form of blob %s: %w: header truncated", key, ErrIntegrity)
	}
	switch hdr[9] {
	case modeVerified, modeSHA256, modeAfter:
		return FormVerified, nil
	case modeEncrypt:
		return FormEncrypted, nil
	}
	return 0, fmt.Errorf("form of blob %s: %w: unknown mode %d", key, ErrIntegrity, hdr[9])
}

// localFile is an inner blob that is a file on this machine (blob/disk's).
type localFile interface{ OSFile() *os.File }

// infoFile is an inner blob that kept the FileInfo of its open's own Stat
// (blob/disk's): the identity a map is found by, and an unopened blob
// checks its late open against.
type infoFile interface{ Info() os.FileInfo }

// unopened is an inner blob found by openKept: a local file known by a
// Stat of its name and read through the store's map of it, so not opened.
// Nothing a mapped blob does needs the file itself; should anything read
// it all the same, it is opened then, and only if it is still the file
// the Stat found (device, inode, size): else the read fails rather than
// mix two files' bytes.
type unopened struct {
	inner recvault.BlobStore
	key   string
	info  os.FileInfo
	f     recvault.Blob // nil until opened
}

var _ localFile = (*unopened)(nil)

// errReplaced is the error of reading an unopened blob whose file was
// replaced (or deleted) after the Stat that found it.
var errReplaced = errors.New("stored file replaced since the blob was opened")

func (u *unopened) file() (recvault.Blob, error) {
	if u.f != nil {
		return u.f, nil
	}
	f, err := u.inner.Open(context.Background(), u.key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errReplaced, err)
	}
	st, ok := f.(infoFile)
	if !ok || !os.SameFile(st.Info(), u.info) || st.Info().Size() != u.info.Size() {
		return nil, errors.Join(errReplaced, f.Close())
	}
	u.f = f
	return f, nil
}

func (u *unopened) Read(p []byte) (int, error) {
	f, err := u.file()
	if err != nil {
		return 0, err
	}
	return f.Read(p)
}

func (u *unopened) ReadAt(p []byte, off int64) (int, error) {
	f, err := u.file()
	if err != nil {
		return 0, err
	}
	return f.ReadAt(p, off)
}

func (u *unopened) Seek(off int64, whence int) (int64, error) {
	f, err := u.file()
	if err != nil {
		return 0, err
	}
	return f.Seek(off, whence)
}

// OSFile is the opened file, or nil if it could not be opened as the same
// file (FileSpan, the one caller, refuses a nil file).
func (u *unopened) OSFile() *os.File {
	f, err := u.file()
	if err != nil {
		return nil
	}
	lf, ok := f.(localFile)
	if !ok {
		return nil
	}
	return lf.OSFile()
}

func (u *unopened) Size() int64       { return u.info.Size() }
func (u *unopened) Info() os.FileInfo { return u.info }
func (u *unopened) Close() error {
	if u.f == nil {
		return nil
	}
	return u.f.Close()
}

// chunkBufSize is the buffer a chunk as written now needs (ChunkSize and
// its check), which is also what a mode-1 chunk of the size written before
// needs (16 KiB less a SHA-256, and the SHA-256); chunks of other sizes
// (older blobs) get their own.
const chunkBufSize = ChunkSize + tagSize

// chunkBufs recycles chunk buffers between opens: a small download would
// otherwise leave one 16 KiB buffer of garbage behind.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkBufSize); return &b }}

func getChunkBuf(n int) []byte {
	if n > chunkBufSize {
		return make([]byte, n)
	}
	return (*chunkBufs.Get().(*[]byte))[:n]
}

// putChunkBuf gives b back to the pool if it is one of its buffers. The
// pointer the pool holds is made only then: taking the address of the
// parameter itself moved it to the heap on every call, nil buffers
// included (two allocations a download, from a blob's Close).
func putChunkBuf(b []byte) {
	if cap(b) != chunkBufSize {
		return
	}
	p := new([]byte)
	*p = b[:chunkBufSize]
	chunkBufs.Put(p)
}
