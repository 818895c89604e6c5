package vault

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/media/probe"
)

// DefaultMaxIngestBytes is the largest recording Ingest takes when
// Config.MaxIngestBytes is zero: far above any call or screen capture, low
// enough that one runaway upload cannot fill the store.
const DefaultMaxIngestBytes = 4 << 30

// SetMaxIngestBytes changes Config.MaxIngestBytes after New (0: the
// default, negative: no limit). It exists for the serve command, which
// learns the limit from a flag after the constructor shared with the other
// commands has run. It is safe while ingests run; each uses the limit in
// force when it starts.
func (s *Service) SetMaxIngestBytes(n int64) { atomic.StoreInt64(&s.cfg.MaxIngestBytes, n) }

// maxIngestBytes is the limit in force; 0 means none.
func (s *Service) maxIngestBytes() int64 {
	switch n := atomic.LoadInt64(&s.cfg.MaxIngestBytes); {
	case n == 0:
		return DefaultMaxIngestBytes
	case n < 0:
		return 0
	default:
		return n
	}
}

// ingestRefusal is the error an ingestBody reader fails with. Blob stores
// wrap their source's read errors, so Ingest finds it again with
// errors.As and reports it as it is (EINVALID) instead of as a storage
// failure.
type ingestRefusal struct{ err *recvault.Error }

func (e *ingestRefusal) Error() string { return e.err.Error() }
func (e *ingestRefusal) Unwrap() error { return e.err }

// refusedIngest returns the client-facing error of a Put that failed
// because ingestBody refused the upload, or nil.
func refusedIngest(err error) error {
	var r *ingestRefusal
	if errors.As(err, &r) {
		return r.err
	}
	return nil
}

// Sniffing windows. A signature sits in the first 12 bytes; an MP3 may
// start with junk, which the prober skips for up to 64 KiB before it wants
// mp3ChainFrames consecutive frames (each at most 1441 bytes in Layer III).
const (
	sniffHead      = 12
	mp3SyncWindow  = 64 << 10
	mp3ChainFrames = 4
	sniffMax       = mp3SyncWindow + mp3ChainFrames*1441 + 4
)

// guardIngest returns body as Put should read it: refused, with an
// ingestRefusal, as soon as its first bytes show it is no supported media
// (so that a large upload of anything else is not stored first and probed
// after), and once it grows past the size limit. Headerless G.711 (codec
// set) has no signature and is only size-limited.
func (s *Service) guardIngest(body io.Reader, codec string) io.Reader {
	return &ingestBody{r: body, max: s.maxIngestBytes(), sniffed: codec != ""}
}

// ingestBody is the reader of guardIngest.
type ingestBody struct {
	r       io.Reader
	max     int64 // 0: no limit
	n       int64
	sniffed bool
	err     error // sticky refusal
}

func (b *ingestBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if !b.sniffed {
		b.sniffed = true
		if err := b.sniff(); err != nil {
			return 0, err
		}
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.max > 0 && b.n > b.max {
		b.err = &ingestRefusal{recvault.Errorf(recvault.EINVALID, "recording too large (max %s)", sizeText(b.max))}
		return 0, b.err
	}
	return n, err
}

// sniff reads the first bytes, checks them, and puts them back in front of
// the rest of the body. Only bytes without a signature at the start (an MP3
// after junk, or no media at all) cost more than sniffHead bytes of reading.
func (b *ingestBody) sniff() error {
	head := make([]byte, sniffHead, sniffMax)
	n, err := io.ReadFull(b.r, head)
	head = head[:n]
	eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if err != nil && !eof {
		return fmt.Errorf("read first bytes: %w", err)
	}
	if n == 0 {
		return nil // empty: Ingest says so in its own words
	}
	if !hasSignature(head) && !eof {
		m, err := io.ReadFull(b.r, head[n:sniffMax])
		head = head[:n+m]
		eof = errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return fmt.Errorf("read first bytes: %w", err)
		}
	}
	if !hasSignature(head) && !hasMP3Chain(head, eof) {
		if name := probe.Identify(head); name != "" {
			b.err = &ingestRefusal{recvault.Errorf(recvault.EINVALID,
				"unsupported media: the file is %s; recvault stores WAV, MP3 or MP4 (convert it first)", name)}
			return b.err
		}
		b.err = &ingestRefusal{recvault.Errorf(recvault.EINVALID,
			"unsupported or corrupt media: not a recognised media format (first bytes % x): "+
				"send WAV, MP3 or MP4, or give codec alaw or ulaw for headerless G.711", head[:min(len(head), 16)])}
		return b.err
	}
	b.r = io.MultiReader(bytes.NewReader(head), b.r)
	return nil
}

// hasSignature reports whether b starts like a format the prober reads:
// RIFF/WAVE, an MP4 ftyp box, an ID3v2 tag or an MPEG audio frame sync.
// It decides nothing about the rest; the prober does, once it is stored.
func hasSignature(b []byte) bool {
	switch {
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WAVE":
		return true
	case len(b) >= 8 && string(b[4:8]) == "ftyp":
		return true
	case len(b) >= 3 && string(b[0:3]) == "ID3":
		return true
	case len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0:
		return true
	}
	return false
}

// hasMP3Chain reports whether a run of MPEG Layer III frames starts in the
// first mp3SyncWindow bytes of b, as the prober demands of an MP3 with
// leading junk: mp3ChainFrames consecutive frames of one stream, or at
// least two that end exactly at the end of a file that b holds whole
// (eof), optionally followed by an ID3v1 tag. It must accept whatever the
// prober would, lest a recording it reads be refused here.
func hasMP3Chain(b []byte, eof bool) bool {
	for i := 0; i+4 <= min(len(b), mp3SyncWindow); i++ {
		first, ok := mp3Header(b[i:])
		if !ok || first.layer != 3 {
			continue
		}
		off, h, chained := i, first, true
		for k := 1; k < mp3ChainFrames; k++ {
			off += h.size
			if eof && (off == len(b) || off+128 == len(b) && string(b[off:off+3]) == "TAG") {
				chained = k >= 2
				break
			}
			next, ok := mp3Header(b[min(off, len(b)):])
			if !ok || next.version != first.version || next.layer != first.layer || next.rate != first.rate {
				chained = false
				break
			}
			h = next
		}
		if chained {
			return true
		}
	}
	return false
}

// mp3Frame is what hasMP3Chain needs of a frame header.
type mp3Frame struct {
	version int // 1, 2, or 25 for MPEG-2.5
	layer   int
	rate    int // Hz
	size    int // bytes, header included (Layer III only; 0 otherwise)
}

// Layer III bitrates in kbit/s by bitrate index, and sample rates by index.
var (
	mp3RatesV1  = [15]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	mp3RatesLSF = [15]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
	mp3Hz       = map[int][3]int{1: {44100, 48000, 32000}, 2: {22050, 24000, 16000}, 25: {11025, 12000, 8000}}
)

// mp3Header parses a 4-byte MPEG audio frame header with the prober's
// rules: reserved versions, layers, bitrates and sample rates, and free
// format, are not frames.
func mp3Header(b []byte) (mp3Frame, bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return mp3Frame{}, false
	}
	var f mp3Frame
	switch (b[1] >> 3) & 3 {
	case 0:
		f.version = 25
	case 2:
		f.version = 2
	case 3:
		f.version = 1
	default:
		return mp3Frame{}, false
	}
	layer := int(b[1]>>1) & 3
	bi, si := int(b[2]>>4), int(b[2]>>2)&3
	if layer == 0 || bi == 0 || bi == 15 || si == 3 {
		return mp3Frame{}, false
	}
	f.layer = 4 - layer
	f.rate = mp3Hz[f.version][si]
	if f.layer == 3 {
		pad := int(b[2]>>1) & 1
		if f.version == 1 {
			f.size = 144*mp3RatesV1[bi]*1000/f.rate + pad
		} else {
			f.size = 72*mp3RatesLSF[bi]*1000/f.rate + pad
		}
	}
	return f, true
}

// sizeText writes a byte count as the operator configured it.
func sizeText(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
