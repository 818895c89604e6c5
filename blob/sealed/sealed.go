// Package sealed stores recordings as independently verifiable chunks, and
// optionally encrypts them, over any recvault.BlobStore.
//
// Why: a plain blob file with one flipped byte is served as good. Here a
// blob is cut into chunks of about 16 KiB, each stored with its own check — a
// 128-bit XXH3 (mode "verified"; a SHA-256 in blobs written before it) or an
// AES-256-GCM tag (mode "encrypted") — so
// that every read (whole file, an HTTP Range at any offset, the media
// engine's ReadAt calls) reads and verifies only the chunks it touches
// before any of their bytes is used. A chunk that fails is never returned:
// the read fails with an error wrapping ErrIntegrity.
//
// # Format
//
// All integers are big-endian. The header:
//
//	off  len  field
//	0    8    magic "RVSEAL1\n"
//	8    1    version, 1
//	9    1    mode: 3 verified (XXH3-128 per chunk), 4 verified with the
//	          checks after the data, 2 encrypted (AES-256-GCM),
//	          1 verified with SHA-256 per chunk (read, no longer written)
//	10   4    chunk size C (16368 as written now; 16352 and 65536 before)
//	14   2    W, length of the wrapped data key in the header; 0 when the
//	          caller keeps it (PutSealed), always 0 in mode verified
//	16   W    wrapped data key (see WrappedKey)
//	16+W 32   SHA-256 of bytes [0, 16+W): the header check
//
// Then chunks 0..n-1, back to back: every chunk holds C plaintext bytes
// except the last, which holds 1..C (0 only when the whole blob is empty:
// an empty blob still has one, final, chunk, so that a file cut back to
// its header is detected). A chunk is stored as
//
//	verified:  plaintext || XXH3-128(plaintext, seed XXH3-64(AD)), 16 bytes,
//	           high 64 bits first
//	mode 1:    plaintext || SHA-256(AD || plaintext)
//	encrypted: AES-256-GCM(data key, nonce, plaintext, AD) (ciphertext || 16-byte tag)
//	           nonce = 4 zero bytes || chunk index (8 bytes)
//	AD = header check (32) || chunk index (8) || final flag (1: 1 for the
//	     last chunk) || len(recording id) (2) || recording id
//
// Mode 4 (ChecksAfter) stores the same checks as mode 3, but apart: all
// the plaintext, contiguous, then the n checks of 16 bytes in chunk
// order. The plaintext size is what the stored size implies as before
// (stored = header + size + 16n, n = max(1, ceil(size/C)), one size for
// each stored size), and a cut or an extension moves the checks, so that
// the chunks read their checks from the wrong bytes and fail. A verified
// range is then a range of the stored file, which a server can hand to
// sendfile (Blob.FileSpan) instead of copying it through user space twice.
// The writer keeps the checks until the end: 16 bytes per chunk, 0.1 % of
// the blob.
//
// The nonce needs no storage: the data key is random per blob, so a
// counter never repeats under one key. The AD binds each chunk to its
// place (swapping or reordering chunks fails), to its recording (a chunk
// or a whole blob copied under another recording fails) and to its header
// (a changed chunk size, mode or wrapped key fails). The plaintext length
// is not in the header, because Put streams and a stored header cannot be
// rewritten once its bytes are sent to the inner store; instead it follows
// from the stored size, and the final flag authenticates it (the STREAM
// construction): a file cut at a chunk boundary ends with a chunk sealed
// as not final, one with chunks appended has a final chunk in the middle.
// Open verifies the last chunk, so that Size() is known good before any
// read (one extra chunk read per open; on S3 one extra ranged GET).
//
// Mode verified protects against corruption (bit rot, a truncated copy, a
// chunk or blob in the wrong place), not against someone who can write the
// store: he can recompute any unkeyed check, SHA-256 included. Mode
// encrypted protects against both, and keeps the bytes secret. That is why
// mode verified's check is XXH3-128 rather than SHA-256 (mode 1): against
// accidental damage the two are equally sure — a damaged chunk passes a
// 128-bit check by chance once in 2^128 — but XXH3 checks about 20 times
// faster (16 KiB: 0.6 µs against 11.6 µs here), and SHA-256 was a fifth
// of a download's CPU. The recording's identity in the catalogue stays its
// SHA-256, computed once at ingest.
//
// # Keys
//
// Envelope encryption: each Put draws a random 256-bit data key, seals the
// chunks with it and wraps it (AES-256-GCM) under the key ring's current
// master key, whose id travels with the wrapped key (see WrappedKey).
//
// Where the wrapped key lives is the caller's choice, and that is why there
// are two sets of methods. PutSealed and OpenSealed hand the wrapped key to
// the caller, who keeps it in the catalogue beside the recording: rotating
// a master key (Rewrap) then rewrites a few bytes per recording in the
// catalogue and never the recording itself, and the header check, which
// covers the header's (then empty) key field, stays valid. The plain
// recvault.BlobStore methods (Put, Open), which have nowhere to return a
// key, keep it in the blob header instead, with the blob key as recording
// id; such blobs cannot be re-keyed without rewriting them, so they suit
// the conformance suite and tools, not the vault's recordings.
//
// # Legacy blobs
//
// A blob written before sealing has no magic. OpenSealed with Expect(sha)
// opens it and checks sequential reads against sha: a read that starts at
// offset 0 and goes on without seeking hashes as it goes, and instead of
// io.EOF it fails with ErrIntegrity if the hash differs. Bytes read before
// the end have been handed out by then, so a streaming client must treat
// the error as "discard what you got". Ranged reads (ReadAt, or a Read
// after a Seek) of a legacy blob are NOT verified: nothing in a plain file
// allows checking part of it. Without Expect a legacy blob opens only if
// the store was made with AllowLegacy, unverified. A file whose first 8
// bytes differ from the magic in 1 to 4 places is taken for a sealed blob
// with a damaged header (ErrIntegrity), never for a legacy one: no WAV,
// MP3 or MP4 starts that close to the magic.
package sealed

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/zeebo/xxh3"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/internal/filemap"
)

// ErrIntegrity is wrapped by every error that reports stored bytes failing
// verification: a damaged header, a chunk whose hash or tag does not match,
// a truncated or extended blob, a wrapped key that does not authenticate,
// a legacy blob whose hash is not the expected one.
var ErrIntegrity = recvault.ErrIntegrity

// ChunkSize is the plaintext size of every chunk but the last, as written
// (any size from 1 KiB to 16 MiB is read). 16 KiB less a 16-byte check, so
// that a chunk and its check fit one 16 KiB buffer (as does a mode-1 chunk
// of 16 KiB less its SHA-256): an open blob holds one such
// buffer, and that is most of what a slow download costs the server (a
// slow stream held 115 KiB with 64 KiB chunks, 75 KiB with 32 KiB, 58 KiB
// with 16 KiB: BenchmarkSlowStreamMemory in cmd/recvault). The overhead stays small (16
// bytes a chunk, 0.1%) and a ranged read's extra work bounded (at
// most 2 chunks read for any short range). Blobs written with 64 KiB
// chunks (before this size) read as before.
const ChunkSize = 16<<10 - tagSize

// CheckSize is the number of check bytes stored after each chunk as
// written now, in either mode (an XXH3-128 or an AES-GCM tag).
const CheckSize = tagSize

const (
	magic        = "RVSEAL1\n"
	version      = 1
	modeSHA256   = 1 // verified by SHA-256: read, no longer written
	modeEncrypt  = 2
	modeVerified = 3 // verified by XXH3-128
	modeAfter    = 4 // verified by XXH3-128, the checks after the plaintext
	fixedHeader  = 16
	sumSize      = sha256.Size // the largest check, mode 1's
	tagSize      = 16          // the AES-GCM tag, and the XXH3-128 check
	minChunk     = 1 << 10
	maxChunk     = 16 << 20
	maxWrapped   = 1024
)

// Store seals the blobs it writes into an inner store and verifies the
// blobs it reads. It implements recvault.BlobStore.
type Store struct {
	inner  recvault.BlobStore
	ring   *Keyring
	legacy bool
	after  bool
	// maps holds memory maps of the local files blobs are read through,
	// kept across opens (see open and FileSpan).
	maps *filemap.Cache
}

var _ recvault.BlobStore = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithKeyring makes the store encrypt what it writes, wrapping data keys
// under ring's current key, and lets it open blobs wrapped under any of
// ring's keys. Without it, the store writes mode verified and cannot open
// encrypted blobs.
func WithKeyring(ring *Keyring) Option { return func(s *Store) { s.ring = ring } }

// AllowLegacy lets Open (and OpenSealed without Expect) return unsealed
// blobs unverified, as the inner store has them. Without it they fail
// with ErrIntegrity, so that a store meant to be sealed never silently
// serves unchecked bytes.
func AllowLegacy() Option { return func(s *Store) { s.legacy = true } }

// ChecksAfter makes the store write mode verified with the plaintext
// contiguous and every chunk's check after it (mode 4), so that a
// verified range of the blob is a range of the stored file and can be
// sent from it by sendfile (see Blob.FileSpan). It is for stores of local
// files: on an object store each block of checks would cost one more
// ranged request. It does not apply to encrypted blobs, whose stored
// bytes are not the plaintext.
func ChecksAfter() Option { return func(s *Store) { s.after = true } }

// New returns a store sealing into inner.
func New(inner recvault.BlobStore, opts ...Option) *Store {
	s := &Store{inner: inner, maps: filemap.New(0, 0)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Encrypting reports whether the store has a key ring and so encrypts what
// it writes. The vault asks before choosing PutSealed: only an encrypted
// blob has a data key worth keeping in the catalogue, and a blob in mode
// verified must keep the blob key as its recording id so that Open (and
// OpenVerified) can check it without the catalogue.
func (s *Store) Encrypting() bool { return s.ring != nil }

// Put seals r into key, keeping the wrapped data key (if encrypting) in the
// blob header and using key as the recording id. The BlobInfo is the
// plaintext's.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (recvault.BlobInfo, error) {
	return s.put(ctx, key, key, r, true)
}

// PutSealed seals r into key for the recording recordingID and returns the
// plaintext's BlobInfo and the wrapped data key, which the caller must keep
// (in the catalogue) to open the blob: it is not in the blob. Without a key
// ring the blob is in mode verified and the WrappedKey is nil.
func (s *Store) PutSealed(ctx context.Context, key, recordingID string, r io.Reader) (recvault.BlobInfo, WrappedKey, error) {
	sr, err := s.newSealer(recordingID, r, false)
	if err != nil {
		return recvault.BlobInfo{}, nil, err
	}
	info, err := s.putWith(ctx, key, sr)
	if err != nil {
		return recvault.BlobInfo{}, nil, err
	}
	return info, sr.wk, nil
}

func (s *Store) put(ctx context.Context, key, recordingID string, r io.Reader, keyInHeader bool) (recvault.BlobInfo, error) {
	sr, err := s.newSealer(recordingID, r, keyInHeader)
	if err != nil {
		return recvault.BlobInfo{}, err
	}
	return s.putWith(ctx, key, sr)
}

func (s *Store) putWith(ctx context.Context, key string, sr *sealer) (recvault.BlobInfo, error) {
	defer sr.wipe()
	if _, err := s.inner.Put(ctx, key, sr); err != nil {
		return recvault.BlobInfo{}, err
	}
	if !sr.done || len(sr.out) > 0 || sr.after && !sr.tableOut {
		// The inner store returned without reading to the end. No store
		// should, but the short blob it kept would fail every open: remove
		// it and say so now rather than at the first download.
		return recvault.BlobInfo{}, errors.Join(fmt.Errorf("seal blob %s: inner store stopped reading early", key),
			s.inner.Delete(context.WithoutCancel(ctx), key))
	}
	return recvault.BlobInfo{Size: sr.size, SHA256: hex.EncodeToString(sr.sum.Sum(nil))}, nil
}

func validRecordingID(id string) error {
	if len(id) > 0xffff {
		return recvault.Errorf(recvault.EINVALID, "recording id too long")
	}
	return nil
}

// sealer is the sealed form of a plaintext reader, produced as the inner
// store reads it: one chunk buffer, no goroutine.
type sealer struct {
	src       io.Reader
	aead      cipher.AEAD // nil in mode verified
	wk        WrappedKey
	dk        []byte
	adPrefix  []byte // the header check, which starts every chunk's AD
	recID     string
	buf       []byte // C+1 plaintext bytes, then the sealed chunk
	out       []byte // sealed bytes not yet read
	after     bool   // mode 4: chunks go out as plaintext, checks into table
	table     []byte // mode 4: the checks of the chunks sealed so far
	tableOut  bool   // mode 4: table has been put in out
	look      byte   // the look-ahead byte, when hasLook
	hasLook   bool
	idx       uint64
	size      int64
	sum       hash.Hash
	done, eof bool
	err       error
}

func (s *Store) newSealer(recordingID string, r io.Reader, keyInHeader bool) (*sealer, error) {
	if err := validRecordingID(recordingID); err != nil {
		return nil, err
	}
	sr := &sealer{src: r, recID: recordingID, sum: sha256.New(), buf: make([]byte, ChunkSize+tagSize+1)}
	mode := byte(modeVerified)
	if s.after && s.ring == nil {
		mode, sr.after = modeAfter, true
	}
	var hdrKey []byte
	if s.ring != nil {
		mode = modeEncrypt
		sr.dk = make([]byte, MasterKeySize)
		if _, err := rand.Read(sr.dk); err != nil {
			return nil, fmt.Errorf("seal: data key: %w", err)
		}
		a, err := newGCM(sr.dk)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		sr.aead = a
		wk, err := s.ring.wrap(sr.dk)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		sr.wk = wk
		if keyInHeader {
			hdrKey = wk
		}
	}
	hdr := make([]byte, 0, fixedHeader+len(hdrKey)+sumSize)
	hdr = append(hdr, magic...)
	hdr = append(hdr, version, mode)
	hdr = binary.BigEndian.AppendUint32(hdr, ChunkSize)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(hdrKey)))
	hdr = append(hdr, hdrKey...)
	check := sha256.Sum256(hdr)
	hdr = append(hdr, check[:]...)
	sr.out = hdr
	sr.adPrefix = check[:]
	return sr, nil
}

func (sr *sealer) wipe() { clear(sr.dk) }

func (sr *sealer) Read(p []byte) (int, error) {
	for len(sr.out) == 0 {
		if sr.err != nil {
			return 0, sr.err
		}
		if sr.done {
			if sr.after && !sr.tableOut {
				sr.out, sr.tableOut = sr.table, true
				continue
			}
			return 0, io.EOF
		}
		if err := sr.next(); err != nil {
			sr.err = err
			return 0, err
		}
	}
	n := copy(p, sr.out)
	sr.out = sr.out[n:]
	return n, nil
}

// next reads and seals one chunk, in place in buf. It reads one byte
// beyond the chunk to learn whether the chunk is the last, which its AD
// must say; that look-ahead byte starts the next chunk and is put in
// place only here, once the sealed chunk occupying buf has been read out.
func (sr *sealer) next() error {
	b := sr.buf[:ChunkSize+1]
	n := 0
	if sr.hasLook {
		b[0], n, sr.hasLook = sr.look, 1, false
	}
	if !sr.eof {
		m, err := io.ReadFull(sr.src, b[n:])
		n += m
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			sr.eof = true
		default:
			return err
		}
	}
	final := n <= ChunkSize
	plain := b[:min(n, ChunkSize)]
	if !final {
		sr.look, sr.hasLook = b[ChunkSize], true
	}
	sr.sum.Write(plain)
	sr.size += int64(len(plain))
	ad := chunkAD(sr.adPrefix, sr.idx, final, sr.recID)
	switch {
	case sr.aead != nil:
		sr.out = sr.aead.Seal(plain[:0], chunkNonce(sr.idx), plain, ad)
	case sr.after:
		sr.out, sr.table = plain, appendXXH(sr.table, ad, plain)
	default:
		sr.out = appendXXH(plain, ad, plain)
	}
	sr.idx++
	sr.done = final
	return nil
}

// appendXXH appends mode verified's check of a chunk, plain under ad, to dst.
func appendXXH(dst, ad, plain []byte) []byte {
	s := xxh3.Hash128Seed(plain, xxh3.Hash(ad))
	dst = binary.BigEndian.AppendUint64(dst, s.Hi)
	return binary.BigEndian.AppendUint64(dst, s.Lo)
}

func chunkNonce(idx uint64) []byte {
	var n [12]byte
	putChunkNonce(&n, idx)
	return n[:]
}

// putChunkNonce writes chunk idx's nonce into n, for a reader that keeps
// one nonce buffer rather than let chunkNonce's escape per chunk.
func putChunkNonce(n *[12]byte, idx uint64) { binary.BigEndian.PutUint64(n[4:], idx) }

func chunkAD(check []byte, idx uint64, final bool, recID string) []byte {
	return appendChunkAD(make([]byte, 0, len(check)+8+1+2+len(recID)), check, idx, final, recID)
}

// appendChunkAD appends chunk idx's AD to ad: the reader keeps one buffer
// for it rather than make one per chunk checked (1.4 % of the server's CPU
// on a large download).
func appendChunkAD(ad, check []byte, idx uint64, final bool, recID string) []byte {
	ad = append(ad, check...)
	ad = binary.BigEndian.AppendUint64(ad, idx)
	f := byte(0)
	if final {
		f = 1
	}
	ad = append(ad, f)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(recID)))
	return append(ad, recID...)
}
