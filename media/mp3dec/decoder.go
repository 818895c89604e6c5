// Package mp3dec decodes MPEG audio Layer III (MP3) to 16-bit PCM: MPEG-1,
// MPEG-2 and the MPEG-2.5 extension (8, 11.025 and 12 kHz, what call
// recorders write), CBR and VBR, mono and stereo. recvault has its own
// decoder because the only pure-Go alternative refuses MPEG-2.5.
//
// The decoder streams: it holds one frame, the bit reservoir and the
// filterbank state, whatever the length of the recording. Corrupt frames are
// skipped by resynchronising on the next valid header; bad input returns an
// error or is dropped, never panics.
//
// When the first frame is a Xing/Info frame with a LAME tag, the encoder
// delay and padding it records are trimmed (as ffmpeg and other gapless
// players do), so the output has exactly the samples that were encoded.
package mp3dec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// Errors returned by NewDecoder.
var (
	ErrNoFrames    = errors.New("mp3dec: no MPEG audio frame found")
	ErrUnsupported = errors.New("mp3dec: only MPEG audio Layer III is supported")
)

const (
	maxFrameSize = 1441 // 320 kbit/s at 32 kHz, or 160 kbit/s at 8 kHz, padded
	// maxSearch bounds how far NewDecoder looks for the first frame, so a
	// file that is not MP3 at all fails fast instead of being read whole.
	maxSearch = 1 << 20
	// decoderDelay is the delay of the standard's synthesis filterbank plus
	// IMDCT overlap that LAME's delay field does not include.
	decoderDelay = 529
)

// Decoder decodes one MP3 stream.
type Decoder struct {
	r   *bufio.Reader
	err error // sticky error from the source; io.EOF at the end

	version    mp3tab.Version
	sampleRate int
	channels   int
	spf        int // samples per frame per channel

	frame [maxFrameSize]byte
	l3    layer3

	pcm    [2 * 1152]int16
	pcmPos int
	pcmLen int

	// Gapless trimming from a LAME tag, in samples per channel.
	skip      int   // still to drop at the start
	remaining int64 // still to output; -1 when the length is unknown
}

// NewDecoder reads r up to the first audio frame: it skips ID3v2 tags and
// a leading Xing/Info/VBRI frame. It fails when no Layer III frame is found
// in the first megabyte, or when the stream is Layer I or II.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d := &Decoder{r: bufio.NewReaderSize(r, 4096), remaining: -1}
	h, err := d.findFirst()
	if err != nil {
		return nil, err
	}
	d.version = h.Version
	d.sampleRate = h.SampleRate
	d.channels = h.Channels()
	d.spf = h.SamplesPerFrame()
	d.l3.init(h)
	n := h.FrameSize()
	fb, _ := d.r.Peek(n)
	if len(fb) == n && d.parseInfoFrame(h, fb) {
		_, _ = d.r.Discard(n) // the info frame carries no audio
	}
	return d, nil
}

// SampleRate is the sample rate in Hz.
func (d *Decoder) SampleRate() int { return d.sampleRate }

// Channels is 1 or 2, as coded in the stream.
func (d *Decoder) Channels() int { return d.channels }

// ReadSamples fills dst with interleaved samples (left, right for stereo)
// and returns how many it wrote. At the end of the stream it returns 0 and
// io.EOF.
func (d *Decoder) ReadSamples(dst []int16) (int, error) {
	n := 0
	for n < len(dst) {
		if d.pcmPos == d.pcmLen {
			if !d.decodeNext() {
				break
			}
			continue
		}
		c := copy(dst[n:], d.pcm[d.pcmPos:d.pcmLen])
		n += c
		d.pcmPos += c
	}
	if n == 0 && len(dst) > 0 {
		return 0, d.err
	}
	return n, nil
}

// decodeNext decodes frames until one yields samples to output. It returns
// false at the end of the stream, with d.err set.
func (d *Decoder) decodeNext() bool {
	for d.err == nil {
		if d.remaining == 0 {
			d.err = io.EOF
			return false
		}
		h, f, err := d.nextFrame()
		if err != nil {
			d.err = err
			return false
		}
		out := &d.l3.out
		ns := d.l3.decodeFrame(h, f, out)
		start := min(d.skip, ns)
		d.skip -= start
		end := ns
		if d.remaining >= 0 && int64(end-start) > d.remaining {
			end = start + int(d.remaining)
		}
		if end <= start {
			continue
		}
		if d.remaining >= 0 {
			d.remaining -= int64(end - start)
		}
		k := 0
		for i := start; i < end; i++ {
			for ch := 0; ch < d.channels; ch++ {
				d.pcm[k] = toInt16(out[ch][i])
				k++
			}
		}
		d.pcmPos, d.pcmLen = 0, k
		return true
	}
	return false
}

// toInt16 converts a sample in [-1, 1) with rounding to nearest and
// clipping, as ffmpeg's float-to-s16 conversion does.
func toInt16(v float32) int16 {
	x := math.RoundToEven(float64(v) * 32768)
	if x > 32767 {
		return 32767
	}
	if x < -32768 {
		return -32768
	}
	return int16(x)
}

// matches reports whether h belongs to the stream the decoder locked on;
// a header that differs in version, rate or channel count is taken for a
// false sync inside corrupt data.
func (d *Decoder) matches(h mp3tab.Header) bool {
	return h.Layer == 3 && h.Version == d.version && h.SampleRate == d.sampleRate && h.Channels() == d.channels
}

// nextFrame returns the next frame of the stream, skipping bytes that are
// not one (garbage, tags, frames of another stream) until a valid header.
// Every pass of its loop consumes at least one byte, so it always ends.
func (d *Decoder) nextFrame() (mp3tab.Header, []byte, error) {
	resync := false
	for {
		b, err := d.r.Peek(4)
		if len(b) < 4 {
			return mp3tab.Header{}, nil, eofOr(err)
		}
		if h, err := mp3tab.ParseHeader(b); err == nil && d.matches(h) {
			n := h.FrameSize()
			fb, err := d.r.Peek(n)
			if len(fb) < n {
				// A truncated last frame: nothing decodable follows it.
				return mp3tab.Header{}, nil, eofOr(err)
			}
			// After skipping garbage, accept a header only if the next
			// frame's header agrees too (or the stream ends there).
			if !resync || d.nextAgrees(n) {
				copy(d.frame[:], fb)
				_, _ = d.r.Discard(n)
				return h, d.frame[:n], nil
			}
		}
		if skipped, err := d.skipID3(); err != nil {
			return mp3tab.Header{}, nil, err
		} else if skipped {
			continue
		}
		resync = true
		_, _ = d.r.Discard(1)
	}
}

// nextAgrees reports whether a matching header (or the end of the stream)
// follows the frame of n bytes at the read position.
func (d *Decoder) nextAgrees(n int) bool {
	b, _ := d.r.Peek(n + 4)
	if len(b) < n+4 {
		return true
	}
	h, err := mp3tab.ParseHeader(b[n:])
	return err == nil && d.matches(h)
}

func eofOr(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return io.EOF
	}
	return err
}

// skipID3 discards an ID3v2 tag at the read position, if there is one.
func (d *Decoder) skipID3() (bool, error) {
	b, _ := d.r.Peek(10)
	if len(b) < 10 || !bytes.Equal(b[:3], []byte("ID3")) || b[3] == 0xFF || b[4] == 0xFF {
		return false, nil
	}
	size := 0
	for _, c := range b[6:10] {
		if c&0x80 != 0 {
			return false, nil // sizes are syncsafe: 7 bits a byte
		}
		size = size<<7 | int(c)
	}
	size += 10
	if b[5]&0x10 != 0 {
		size += 10 // footer
	}
	if _, err := d.r.Discard(size); err != nil {
		return true, eofOr(err)
	}
	return true, nil
}

// findFirst finds the first Layer III frame: a valid header whose frame is
// followed by a header of the same stream (or by the end of the input), so
// that a stray 0xFFE pattern in a tag or in garbage is not taken for sync.
func (d *Decoder) findFirst() (mp3tab.Header, error) {
	for searched := 0; searched < maxSearch; {
		if skipped, err := d.skipID3(); err != nil {
			if err == io.EOF {
				return mp3tab.Header{}, ErrNoFrames // a tag and nothing after it
			}
			return mp3tab.Header{}, fmt.Errorf("mp3dec: skip ID3 tag: %w", err)
		} else if skipped {
			continue
		}
		b, err := d.r.Peek(4)
		if len(b) < 4 {
			if err != nil && !errors.Is(err, io.EOF) {
				return mp3tab.Header{}, fmt.Errorf("mp3dec: find first frame: %w", err)
			}
			return mp3tab.Header{}, ErrNoFrames
		}
		if h, err := mp3tab.ParseHeader(b); err == nil {
			n := h.FrameSize()
			fb, _ := d.r.Peek(n + 4)
			next, err := mp3tab.ParseHeader(fb[min(n, len(fb)):])
			ok := len(fb) < n+4 && len(fb) >= n // last frame of the input
			if err == nil && next.Version == h.Version && next.Layer == h.Layer && next.SampleRate == h.SampleRate {
				ok = true
			}
			if ok {
				if h.Layer != 3 {
					return mp3tab.Header{}, fmt.Errorf("%w (found Layer %d)", ErrUnsupported, h.Layer)
				}
				return h, nil
			}
		}
		_, _ = d.r.Discard(1)
		searched++
	}
	return mp3tab.Header{}, ErrNoFrames
}

// parseInfoFrame recognises a Xing, Info or VBRI frame (a frame of
// metadata that decodes to silence) and reads the LAME tag's encoder delay
// and padding from it. It reports whether f is such a frame and is to be
// skipped.
//
// Like ffmpeg, it skips a Xing/Info frame only when the frame records a
// frame count or a byte count: one with neither (what an encoder writes
// when it does not know the length in advance) is decoded as an ordinary,
// silent frame, while its encoder delay is still trimmed. A frame count of
// zero means the length is unknown, not an empty stream. Keeping ffmpeg's
// reading makes both decoders output the same samples from such streams.
func (d *Decoder) parseInfoFrame(h mp3tab.Header, f []byte) bool {
	off := 4 + h.SideInfoSize()
	if h.CRC {
		off += 2
	}
	if len(f) >= 36+4 && string(f[36:40]) == "VBRI" {
		return true
	}
	if len(f) < off+8 {
		return false
	}
	tag := string(f[off : off+4])
	if tag != "Xing" && tag != "Info" {
		return false
	}
	flags := be32(f[off+4:])
	p := off + 8
	frames, size := int64(0), uint32(0)
	if flags&1 != 0 {
		if len(f) < p+4 {
			return true
		}
		frames = int64(be32(f[p:]))
		p += 4
	}
	if flags&2 != 0 {
		if len(f) >= p+4 {
			size = be32(f[p:])
		}
		p += 4 // stream bytes
	}
	skip := frames != 0 || size != 0
	if flags&4 != 0 {
		p += 100 // seek table
	}
	if flags&8 != 0 {
		p += 4 // quality
	}
	// LAME extension: 9-byte encoder name, then delay and padding (12 bits
	// each) at byte 21.
	if len(f) < p+24 {
		return skip
	}
	enc := string(f[p : p+4])
	if enc != "LAME" && enc != "Lavf" && enc != "Lavc" {
		return skip
	}
	v := int(f[p+21])<<16 | int(f[p+22])<<8 | int(f[p+23])
	delay, padding := v>>12, v&0xFFF
	d.skip = delay + decoderDelay
	if frames > 0 {
		total := frames*int64(d.spf) - int64(delay) - int64(padding)
		d.remaining = max(total, 0)
	}
	return skip
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
