// Package wav reads and writes RIFF/WAVE headers for the three sample
// formats recvault stores and serves: 16-bit PCM, G.711 A-law (format tag 6)
// and G.711 µ-law (format tag 7), plain or as WAVE_FORMAT_EXTENSIBLE.
//
// Only headers are handled here. ReadHeader consumes a stream up to the
// first sample byte, so the caller goes on reading samples from the same
// io.Reader; AppendHeader produces a header for a data size known up front,
// so an output can be streamed (and its length announced) before any sample
// is converted.
package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/recvault/recvault/media/g711"
)

// Format is the sample encoding of a WAV data chunk.
type Format uint8

// Sample formats. The zero Format is invalid.
const (
	PCM16 Format = 1 // signed 16-bit little-endian linear PCM
	ALaw  Format = 6 // G.711 A-law, one byte per sample
	ULaw  Format = 7 // G.711 µ-law, one byte per sample
)

// String returns the codec name used in recvault (and by ffmpeg):
// "pcm_s16le", "alaw" or "ulaw".
func (f Format) String() string {
	switch f {
	case PCM16:
		return "pcm_s16le"
	case ALaw:
		return "alaw"
	case ULaw:
		return "ulaw"
	}
	return fmt.Sprintf("wav.Format(%d)", uint8(f))
}

// Valid reports whether f is one of PCM16, ALaw and ULaw.
func (f Format) Valid() bool { return f == PCM16 || f == ALaw || f == ULaw }

// BytesPerSample is 2 for PCM16 and 1 for G.711 (0 for an invalid Format).
func (f Format) BytesPerSample() int {
	switch f {
	case PCM16:
		return 2
	case ALaw, ULaw:
		return 1
	}
	return 0
}

// Law returns the G.711 law of an ALaw or ULaw format, and false for PCM16.
func (f Format) Law() (g711.Law, bool) {
	switch f {
	case ALaw:
		return g711.ALaw, true
	case ULaw:
		return g711.ULaw, true
	}
	return 0, false
}

// Header describes the sample data of a WAV file.
type Header struct {
	Format     Format
	SampleRate int   // sample frames per second
	Channels   int   // interleaved channels; 2 for dual-track (agent/customer) calls
	BlockAlign int   // bytes per sample frame: Channels × Format.BytesPerSample()
	DataOffset int64 // offset of the first sample byte from the start of the file
	// DataSize is the byte length of the data chunk, or -1 when the header
	// says the data runs to the end of the stream (a size of 0 or
	// 0xFFFFFFFF, as live recorders write before they know the length).
	DataSize int64
}

// Frames is the number of sample frames in the data chunk, or -1 if the
// size is not known from the header.
func (h Header) Frames() int64 {
	if h.DataSize < 0 || h.BlockAlign <= 0 {
		return -1
	}
	return h.DataSize / int64(h.BlockAlign)
}

// Duration is the playing time of the data chunk, or -1 if not known.
func (h Header) Duration() time.Duration {
	f := h.Frames()
	if f < 0 || h.SampleRate <= 0 {
		return -1
	}
	return FramesDuration(f, h.SampleRate)
}

// FramesDuration converts a frame count at a sample rate to a Duration
// without overflowing for any realistic recording length.
func FramesDuration(frames int64, rate int) time.Duration {
	sec := frames / int64(rate)
	rem := frames % int64(rate)
	return time.Duration(sec)*time.Second + time.Duration(rem)*time.Second/time.Duration(rate)
}

// Limits that keep a hostile header from describing absurd streams.
const (
	MaxChannels   = 16
	MaxSampleRate = 768000
	maxFmtRead    = 64 // bytes of a fmt chunk we look at; the rest is skipped
)

// ErrNotWAV is returned (wrapped) when the stream does not start with a
// RIFF/WAVE signature, so callers can try other formats.
var ErrNotWAV = errors.New("wav: not a RIFF/WAVE file")

// The 14 trailing bytes of KSDATAFORMAT_SUBTYPE_* GUIDs; the first two
// bytes of the sub-format GUID carry the plain format tag.
var ksSubtypeTail = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

const formatExtensible = 0xFFFE

// ReadHeader reads a RIFF/WAVE header from r and stops at the first byte of
// the data chunk, so the samples follow in r. Chunks other than fmt and data
// (LIST, fact, bext, …) are skipped with bounded memory, honouring the RIFF
// pad byte after odd-sized chunks. Unsupported or malformed headers return
// an error that names the problem.
func ReadHeader(r io.Reader) (Header, error) {
	var h Header
	var buf [maxFmtRead]byte
	if _, err := io.ReadFull(r, buf[:12]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return h, fmt.Errorf("%w (only %s)", ErrNotWAV, shortLen(err))
		}
		return h, fmt.Errorf("wav: read RIFF header: %w", err)
	}
	if string(buf[0:4]) != "RIFF" || string(buf[8:12]) != "WAVE" {
		return h, fmt.Errorf("%w (starts % x)", ErrNotWAV, buf[:12])
	}
	off := int64(12)
	haveFmt := false
	for {
		if _, err := io.ReadFull(r, buf[:8]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if !haveFmt {
					return h, fmt.Errorf("wav: no fmt chunk before end of file at offset %d", off)
				}
				return h, fmt.Errorf("wav: no data chunk before end of file at offset %d", off)
			}
			return h, fmt.Errorf("wav: read chunk header at offset %d: %w", off, err)
		}
		id := string(buf[0:4])
		size := int64(binary.LittleEndian.Uint32(buf[4:8]))
		off += 8
		switch id {
		case "fmt ":
			if haveFmt {
				return h, fmt.Errorf("wav: second fmt chunk at offset %d", off-8)
			}
			if size < 16 {
				return h, fmt.Errorf("wav: fmt chunk too short: %d bytes (need 16)", size)
			}
			n := min(size, maxFmtRead)
			if _, err := io.ReadFull(r, buf[:n]); err != nil {
				return h, fmt.Errorf("wav: fmt chunk truncated: %w", err)
			}
			if err := parseFmt(&h, buf[:n]); err != nil {
				return h, err
			}
			if err := skip(r, size-n+size&1); err != nil {
				return h, fmt.Errorf("wav: fmt chunk truncated: %w", err)
			}
			off += size + size&1
			haveFmt = true
		case "data":
			if !haveFmt {
				return h, fmt.Errorf("wav: data chunk at offset %d before any fmt chunk", off-8)
			}
			h.DataOffset = off
			h.DataSize = size
			if size == 0 || size == 0xFFFFFFFF {
				h.DataSize = -1
			}
			return h, nil
		default:
			if err := skip(r, size+size&1); err != nil {
				return h, fmt.Errorf("wav: %q chunk at offset %d truncated: header says %d bytes: %w", id, off-8, size, err)
			}
			off += size + size&1
		}
	}
}

func parseFmt(h *Header, b []byte) error {
	tag := binary.LittleEndian.Uint16(b[0:2])
	channels := int(binary.LittleEndian.Uint16(b[2:4]))
	rate := int64(binary.LittleEndian.Uint32(b[4:8]))
	blockAlign := int(binary.LittleEndian.Uint16(b[12:14]))
	bits := int(binary.LittleEndian.Uint16(b[14:16]))
	if tag == formatExtensible {
		// cbSize (2) + validBits (2) + channelMask (4) + subformat GUID (16).
		if len(b) < 40 {
			return fmt.Errorf("wav: WAVE_FORMAT_EXTENSIBLE fmt chunk too short: %d bytes (need 40)", len(b))
		}
		if cb := binary.LittleEndian.Uint16(b[16:18]); cb < 22 {
			return fmt.Errorf("wav: WAVE_FORMAT_EXTENSIBLE cbSize %d (need 22)", cb)
		}
		if !bytes.Equal(b[26:40], ksSubtypeTail) {
			return fmt.Errorf("wav: WAVE_FORMAT_EXTENSIBLE with unknown sub-format GUID % x", b[24:40])
		}
		tag = binary.LittleEndian.Uint16(b[24:26])
	}
	var f Format
	switch tag {
	case 1:
		f = PCM16
		if bits != 16 {
			return fmt.Errorf("wav: unsupported PCM sample size %d bits (only 16-bit PCM)", bits)
		}
	case 6, 7:
		f = Format(tag)
		if bits != 8 {
			return fmt.Errorf("wav: G.711 %v with %d bits per sample (must be 8)", f, bits)
		}
	case 3:
		return fmt.Errorf("wav: unsupported format tag 3 (IEEE float); supported: PCM 16-bit (1), A-law (6), µ-law (7)")
	default:
		return fmt.Errorf("wav: unsupported format tag %#x; supported: PCM 16-bit (1), A-law (6), µ-law (7)", tag)
	}
	if channels < 1 || channels > MaxChannels {
		return fmt.Errorf("wav: %d channels (supported 1 to %d)", channels, MaxChannels)
	}
	if rate < 1 || rate > MaxSampleRate {
		return fmt.Errorf("wav: sample rate %d Hz out of range (1 to %d)", rate, MaxSampleRate)
	}
	if want := channels * f.BytesPerSample(); blockAlign != want {
		return fmt.Errorf("wav: block align %d does not match %d channels of %v (want %d)", blockAlign, channels, f, want)
	}
	h.Format, h.Channels, h.SampleRate, h.BlockAlign = f, channels, int(rate), blockAlign
	return nil
}

func skip(r io.Reader, n int64) error {
	if n <= 0 {
		return nil
	}
	if s, ok := r.(io.Seeker); ok {
		// Seeking past the end would hide truncation, so only seek when we
		// can check against the end.
		cur, err1 := s.Seek(0, io.SeekCurrent)
		end, err2 := s.Seek(0, io.SeekEnd)
		if err1 == nil && err2 == nil {
			if cur+n > end {
				return fmt.Errorf("only %d bytes left", end-cur)
			}
			_, err := s.Seek(cur+n, io.SeekStart)
			return err
		}
	}
	got, err := io.CopyN(io.Discard, r, n)
	if err == io.EOF {
		return fmt.Errorf("only %d bytes left", got)
	}
	return err
}

func shortLen(err error) string {
	if errors.Is(err, io.EOF) {
		return "0 bytes"
	}
	return "a partial header"
}

// HeaderSize is the length of the header AppendHeader writes for f: 44
// bytes for PCM16, 58 for G.711 (an 18-byte fmt chunk with cbSize and a fact
// chunk, as the WAVE spec requires for non-PCM formats and as ffmpeg writes).
func HeaderSize(f Format) int {
	if f == PCM16 {
		return 44
	}
	return 58
}

// FileSize is the total length of a file written with AppendHeader for
// data of dataSize bytes: header, data, and the RIFF pad byte if dataSize is
// odd.
func FileSize(f Format, dataSize int64) int64 {
	return int64(HeaderSize(f)) + dataSize + dataSize&1
}

// AppendHeader appends the canonical header for h.Format, h.SampleRate,
// h.Channels and h.DataSize to dst (BlockAlign and DataOffset are derived,
// not read). If DataSize is odd the caller must write one zero pad byte
// after the data (FileSize counts it). DataSize -1 writes 0xFFFFFFFF
// sizes, the "length unknown" convention of streaming writers.
func AppendHeader(dst []byte, h Header) ([]byte, error) {
	if !h.Format.Valid() {
		return dst, fmt.Errorf("wav: cannot write header for %v", h.Format)
	}
	if h.Channels < 1 || h.Channels > MaxChannels {
		return dst, fmt.Errorf("wav: cannot write header for %d channels", h.Channels)
	}
	if h.SampleRate < 1 || h.SampleRate > MaxSampleRate {
		return dst, fmt.Errorf("wav: cannot write header for sample rate %d", h.SampleRate)
	}
	riffSize := uint32(0xFFFFFFFF)
	dataSize := uint32(0xFFFFFFFF)
	if h.DataSize >= 0 {
		if FileSize(h.Format, h.DataSize)-8 > 0xFFFFFFFF {
			return dst, fmt.Errorf("wav: data of %d bytes too large for a RIFF file (4 GiB limit)", h.DataSize)
		}
		riffSize = uint32(FileSize(h.Format, h.DataSize) - 8)
		dataSize = uint32(h.DataSize)
	}
	bps := h.Format.BytesPerSample()
	blockAlign := h.Channels * bps
	le := binary.LittleEndian
	dst = append(dst, "RIFF"...)
	dst = le.AppendUint32(dst, riffSize)
	dst = append(dst, "WAVEfmt "...)
	if h.Format == PCM16 {
		dst = le.AppendUint32(dst, 16)
	} else {
		dst = le.AppendUint32(dst, 18)
	}
	dst = le.AppendUint16(dst, uint16(h.Format))
	dst = le.AppendUint16(dst, uint16(h.Channels))
	dst = le.AppendUint32(dst, uint32(h.SampleRate))
	dst = le.AppendUint32(dst, uint32(h.SampleRate*blockAlign))
	dst = le.AppendUint16(dst, uint16(blockAlign))
	dst = le.AppendUint16(dst, uint16(8*bps))
	if h.Format != PCM16 {
		dst = le.AppendUint16(dst, 0) // cbSize
		dst = append(dst, "fact"...)
		dst = le.AppendUint32(dst, 4)
		frames := uint32(0xFFFFFFFF)
		if h.DataSize >= 0 {
			frames = uint32(h.DataSize / int64(blockAlign))
		}
		dst = le.AppendUint32(dst, frames)
	}
	dst = append(dst, "data"...)
	dst = le.AppendUint32(dst, dataSize)
	return dst, nil
}

// WriteHeader writes the header AppendHeader builds to w.
func WriteHeader(w io.Writer, h Header) error {
	var b [58]byte
	hdr, err := AppendHeader(b[:0], h)
	if err != nil {
		return err
	}
	_, err = w.Write(hdr)
	return err
}
