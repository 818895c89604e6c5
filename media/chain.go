package media

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/recvault/recvault/internal/ctxio"
	"io"
	"math"

	"github.com/recvault/recvault/media/g711"
	"github.com/recvault/recvault/media/mp3dec"
	"github.com/recvault/recvault/media/mp3enc"
	"github.com/recvault/recvault/media/resample"
	"github.com/recvault/recvault/media/wav"
)

// blockFrames is the number of sample frames each stage handles at a time:
// a stage's buffer is blockFrames × channels samples (16 KiB of int16 for a
// dual-track call), whatever the recording's length.
const blockFrames = 4096

// frameReader is one pull stage of the pipeline: it fills dst with whole
// interleaved frames and returns the number of samples, or io.EOF at the
// end.
type frameReader interface {
	readFrames(dst []int16) (int, error)
	channels() int
}

// pcmDecoder reads PCM16 or G.711 frames from bytes.
type pcmDecoder struct {
	r    io.Reader
	f    wav.Format
	law  g711.Law
	ch   int
	buf  []byte
	have int // bytes in buf (a partial frame may be left over)
	err  error
}

func newPCMDecoder(r io.Reader, f wav.Format, ch int) *pcmDecoder {
	law, _ := f.Law()
	return &pcmDecoder{r: r, f: f, law: law, ch: ch, buf: make([]byte, blockFrames*ch*f.BytesPerSample())}
}

func (d *pcmDecoder) channels() int { return d.ch }

func (d *pcmDecoder) readFrames(dst []int16) (int, error) {
	bps := d.f.BytesPerSample()
	ba := d.ch * bps
	for {
		frames := min(len(dst)/d.ch, d.have/ba)
		if frames > 0 {
			nb := frames * ba
			if d.f == wav.PCM16 {
				for i := range frames * d.ch {
					dst[i] = int16(binary.LittleEndian.Uint16(d.buf[2*i:]))
				}
			} else {
				d.law.Decode(dst[:frames*d.ch], d.buf[:nb])
			}
			d.have = copy(d.buf, d.buf[nb:d.have])
			return frames * d.ch, nil
		}
		if d.err != nil {
			if d.err == io.EOF && d.have > 0 {
				return 0, io.ErrUnexpectedEOF // a partial frame at the end
			}
			return 0, d.err
		}
		n, err := d.r.Read(d.buf[d.have:])
		d.have += n
		if err != nil {
			d.err = err
		}
	}
}

// mp3Source adapts mp3dec.
type mp3Source struct {
	d *mp3dec.Decoder
}

func (m mp3Source) channels() int { return m.d.Channels() }

func (m mp3Source) readFrames(dst []int16) (int, error) {
	ch := m.d.Channels()
	n, err := m.d.ReadSamples(dst[:len(dst)/ch*ch])
	if n > 0 && err == io.EOF {
		err = nil // report EOF on the next call, with no data
	}
	return n, err
}

// mapper applies a channel selection.
type mapper struct {
	src   frameReader
	sel   selection
	srcCh int
	buf   []int16
}

func (m *mapper) channels() int {
	switch m.sel.kind {
	case selDup:
		return 2
	case selMix, selPick:
		return 1
	}
	return m.srcCh
}

func (m *mapper) readFrames(dst []int16) (int, error) {
	outCh := m.channels()
	frames := min(len(dst)/outCh, blockFrames)
	n, err := m.src.readFrames(m.buf[:frames*m.srcCh])
	if n == 0 {
		return 0, err
	}
	frames = n / m.srcCh
	in := m.buf[:n]
	switch m.sel.kind {
	case selDup:
		for i := range frames {
			dst[2*i], dst[2*i+1] = in[i], in[i]
		}
	case selPick:
		c := m.sel.ch
		for i := range frames {
			dst[i] = in[i*m.srcCh+c]
		}
	case selMix:
		// Sum in int32 and divide: no overflow, and the mean of two
		// full-scale samples stays in range.
		for i := range frames {
			var s int32
			for c := range m.srcCh {
				s += int32(in[i*m.srcCh+c])
			}
			dst[i] = int16(s / int32(m.srcCh))
		}
	}
	return frames * outCh, err
}

// resampler runs a resample.Resampler as a pull stage.
type resampler struct {
	src   frameReader
	r     *resample.Resampler
	in    []int16
	inPos int
	inLen int
	eof   bool
}

func (s *resampler) channels() int { return s.src.channels() }

func (s *resampler) readFrames(dst []int16) (int, error) {
	for {
		if s.eof {
			n := s.r.Flush(dst)
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		if s.inPos < s.inLen {
			nOut, nIn, err := s.r.Process(dst, s.in[s.inPos:s.inLen])
			s.inPos += nIn
			if err != nil {
				return 0, err
			}
			if nOut > 0 {
				return nOut, nil
			}
			if nIn > 0 {
				continue
			}
		}
		n, err := s.src.readFrames(s.in)
		s.inPos, s.inLen = 0, n
		if err == io.EOF {
			if n == 0 {
				s.eof = true
			}
		} else if err != nil {
			return 0, err
		}
	}
}

// sampleEncoder turns the frames of src into PCM16 or G.711 bytes.
type sampleEncoder struct {
	src     frameReader
	enc     encoding
	samples []int16
	out     []byte
	pos     int
	err     error
}

func newSampleEncoder(src frameReader, enc encoding) *sampleEncoder {
	n := blockFrames * src.channels()
	return &sampleEncoder{src: src, enc: enc, samples: make([]int16, n), out: make([]byte, 0, 2*n)}
}

func (e *sampleEncoder) Read(p []byte) (int, error) {
	if e.pos >= len(e.out) {
		if e.err != nil {
			return 0, e.err
		}
		n, err := e.src.readFrames(e.samples)
		e.err = err
		s := e.samples[:n]
		e.out = e.out[:cap(e.out)]
		switch e.enc {
		case encPCM16:
			for i, v := range s {
				binary.LittleEndian.PutUint16(e.out[2*i:], uint16(v))
			}
			e.out = e.out[:2*n]
		case encALaw:
			e.out = e.out[:g711.ALaw.Encode(e.out, s)]
		case encULaw:
			e.out = e.out[:g711.ULaw.Encode(e.out, s)]
		}
		e.pos = 0
		if n == 0 {
			if err == nil {
				return 0, nil
			}
			return 0, err
		}
	}
	n := copy(p, e.out[e.pos:])
	e.pos += n
	return n, nil
}

// directConverter converts PCM16/G.711 bytes to PCM16/G.711 bytes sample
// by sample, without the int16 stage, for outputs with the source's rate
// and channels: the common "A-law WAV to PCM WAV" download.
type directConverter struct {
	r      io.Reader
	in     []byte
	have   int
	out    []byte
	pos    int
	inBPS  int
	outBPS int
	conv   func(dst, src []byte) int // returns samples converted
	err    error
}

func newDirectConverter(r io.Reader, from wav.Format, to encoding) *directConverter {
	d := &directConverter{r: r, inBPS: from.BytesPerSample(), outBPS: to.bytesPerSample()}
	d.in = make([]byte, directSamples*d.inBPS)
	d.out = make([]byte, 0, directSamples*d.outBPS)
	fromLaw, fromG711 := from.Law()
	switch {
	case from == to.wavFormat():
		d.conv = func(dst, src []byte) int { return copy(dst, src) / d.inBPS }
	case fromG711 && to == encPCM16:
		d.conv = fromLaw.DecodeLE
	case !fromG711:
		toLaw, _ := to.wavFormat().Law()
		d.conv = toLaw.EncodeLE
	default:
		// A-law ↔ µ-law: the same decode-then-encode the int16 path
		// does, folded into one 256-entry table.
		toLaw, _ := to.wavFormat().Law()
		var t [256]byte
		for i := range t {
			t[i] = toLaw.EncodeSample(fromLaw.DecodeSample(byte(i)))
		}
		d.conv = func(dst, src []byte) int {
			n := min(len(dst), len(src))
			for i, b := range src[:n] {
				dst[i] = t[b]
			}
			return n
		}
	}
	return d
}

// directSamples is the block size of directConverter: large blocks mean
// few read and write calls on the fast path (A-law to PCM WAV: 128 KiB
// reads, 256 KiB writes; 384 KiB of buffers per stream). Measured on 60
// minutes of A-law, 32 Ki samples cost about 10 % more time in system calls
// than this; larger blocks gained nothing more.
const directSamples = 128 << 10

func (d *directConverter) Read(p []byte) (int, error) {
	b, err := d.chunk(len(p))
	n := copy(p, b)
	d.pos += n - len(b) // give back what did not fit
	return n, err
}

// chunk returns the next converted bytes (up to max) from the internal
// buffer, so copyCtx can write them without another copy. The slice is
// valid until the next call.
func (d *directConverter) chunk(maxLen int) ([]byte, error) {
	if d.pos == len(d.out) {
		for d.have < d.inBPS && d.err == nil {
			n, err := d.r.Read(d.in[d.have:])
			d.have += n
			d.err = err
		}
		samples := d.have / d.inBPS
		if samples == 0 {
			if d.err == io.EOF && d.have > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, d.err
		}
		d.out = d.out[:samples*d.outBPS]
		d.conv(d.out, d.in[:samples*d.inBPS])
		d.have = copy(d.in, d.in[samples*d.inBPS:d.have])
		d.pos = 0
	}
	b := d.out[d.pos:]
	b = b[:min(len(b), maxLen)]
	d.pos += len(b)
	return b, nil
}

// sampleReader returns the converted sample bytes of the output, reading
// the source from r positioned at input frame inputStart(outFrame).
func (o *Output) sampleReader(r io.Reader, outFrame int64) (io.Reader, error) {
	if f, ok := o.src.Format(); ok && o.sel.kind == selAsIs && !o.resample {
		return newDirectConverter(r, f, o.enc), nil
	}
	fr, err := o.sourceReader(r, outFrame)
	if err != nil {
		return nil, err
	}
	return newSampleEncoder(fr, o.enc), nil
}

// sourceReader builds the decode → select → resample stages for a source
// read from r, which must be positioned at the first sample byte (for PCM
// sources: of input frame inStart) and end with the samples. outFrame is the
// first output frame wanted (the resampler starts there).
func (o *Output) sourceReader(r io.Reader, outFrame int64) (frameReader, error) {
	var fr frameReader
	if f, ok := o.src.Format(); ok {
		fr = newPCMDecoder(r, f, o.src.Channels)
	} else {
		d, err := mp3dec.NewDecoder(r)
		if err != nil {
			return nil, fmt.Errorf("media: open mp3 source: %w", err)
		}
		if d.Channels() != o.src.Channels || d.SampleRate() != o.src.SampleRate {
			return nil, fmt.Errorf("media: mp3 source is %d Hz %d ch, catalog says %d Hz %d ch", d.SampleRate(), d.Channels(), o.src.SampleRate, o.src.Channels)
		}
		fr = mp3Source{d}
	}
	if o.sel.kind != selAsIs {
		fr = &mapper{src: fr, sel: o.sel, srcCh: o.src.Channels, buf: make([]int16, blockFrames*o.src.Channels)}
	}
	if o.resample {
		rs := o.rs.Clone()
		rs.Reset(outFrame)
		fr = &resampler{src: fr, r: rs, in: make([]int16, blockFrames*o.Channels)}
	}
	return fr, nil
}

// inputStart is the first source frame needed for output frame k.
func (o *Output) inputStart(k int64) int64 {
	if !o.resample {
		return k
	}
	return max(o.rs.InputStart(k), 0)
}

// WriteTo writes the whole output to w, reading the stored bytes from
// blob (positioned at the start of the stored file). It returns the number
// of bytes written. Cancelling ctx stops it at the next block with
// ctx.Err(). A source shorter than the catalog says gives
// io.ErrUnexpectedEOF after the bytes that could be made.
func (o *Output) WriteTo(ctx context.Context, w io.Writer, blob io.Reader) (int64, error) {
	cw := &countWriter{w: w}
	blob = ctxio.Reader(ctx, blob)
	if o.enc == encOriginal {
		_, err := copyCtx(ctx, cw, io.LimitReader(blob, o.src.Size), o.src.Size)
		return cw.n, err
	}
	// Skip to the samples. An MP3 source is handed over whole: the
	// decoder skips its tags itself.
	var r io.Reader = blob
	if _, isPCM := o.src.Format(); isPCM {
		if _, err := io.CopyN(io.Discard, blob, o.src.DataOffset); err != nil {
			return 0, fmt.Errorf("media: skip to samples: %w", noEOF(err))
		}
		r = io.LimitReader(blob, o.src.DataSize)
	}
	if o.enc == encMP3 {
		fr, err := o.sourceReader(r, 0)
		if err != nil {
			return 0, err
		}
		err = o.encodeMP3(ctx, cw, fr)
		return cw.n, err
	}
	sr, err := o.sampleReader(r, 0)
	if err != nil {
		return 0, err
	}
	if _, err := cw.Write(o.header); err != nil {
		return cw.n, err
	}
	n, err := copyCtx(ctx, cw, sr, o.dataSize)
	if err != nil {
		return cw.n, err
	}
	if o.dataSize >= 0 && n < o.dataSize {
		return cw.n, fmt.Errorf("media: source ended after %d of %d output bytes: %w", n, o.dataSize, io.ErrUnexpectedEOF)
	}
	if o.isWAV() && n%2 == 1 {
		_, err = cw.Write([]byte{0}) // RIFF pad byte
	}
	return cw.n, err
}

// outputFrames is the number of sample frames the output carries, or 0
// when only decoding tells (an MP3 source).
func (o *Output) outputFrames() int64 {
	f, ok := o.src.Format()
	if !ok {
		return 0
	}
	n := o.src.DataSize / int64(o.src.Channels*f.BytesPerSample())
	if o.resample {
		n = o.rs.OutputFrames(n)
	}
	return n
}

func (o *Output) encodeMP3(ctx context.Context, w io.Writer, fr frameReader) error {
	// With the length known up front the encoder's Info frame records the
	// end padding as well as the delay, so players output exactly the
	// recording's samples.
	enc, err := mp3enc.NewEncoder(w, mp3enc.Options{
		SampleRate: o.SampleRate, Channels: o.Channels, Bitrate: o.Bitrate,
		TotalSamples: o.outputFrames(),
	})
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	buf := make([]int16, blockFrames*o.Channels)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := fr.readFrames(buf)
		if n > 0 {
			if werr := enc.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return enc.Close()
}

// chunker is a reader that can hand out its internal buffer.
type chunker interface {
	chunk(maxLen int) ([]byte, error)
}

// copyCtx copies up to limit bytes (all if limit < 0), checking ctx
// between blocks.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader, limit int64) (int64, error) {
	if c, ok := r.(chunker); ok {
		return copyChunks(ctx, w, c, limit)
	}
	if limit >= 0 {
		r = io.LimitReader(r, limit)
	}
	buf := make([]byte, 64<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := r.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func copyChunks(ctx context.Context, w io.Writer, c chunker, limit int64) (int64, error) {
	var n int64
	for limit < 0 || n < limit {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		maxLen := math.MaxInt
		if limit >= 0 {
			maxLen = int(min(limit-n, math.MaxInt32))
		}
		b, err := c.chunk(maxLen)
		if len(b) > 0 {
			if _, werr := w.Write(b); werr != nil {
				return n, werr
			}
			n += int64(len(b))
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
