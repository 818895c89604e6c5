package media

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/recvault/recvault/internal/ctxio"
	"github.com/recvault/recvault/media/g711"
	"github.com/recvault/recvault/media/mp3dec"
	"github.com/recvault/recvault/media/mp3enc"
	"github.com/recvault/recvault/media/resample"
	"github.com/recvault/recvault/media/wav"
)

// blockFrames is the number of sample frames the stages that must keep
// input between calls (the resampler's) and the MP3 feed handle at a time:
// 4 KiB of int16 for a dual-track call, whatever the recording's length.
const blockFrames = 1024

// Per-call scratch buffers. A stream spends most of its life waiting for a
// slow client to take what it read, so buffers that only live within one
// Read are taken from these pools and given back before it returns: the
// memory is then shared by the streams that are converting at that
// moment instead of held by every open one.
const scratchBytes = 32 << 10

var (
	bytePool   = sync.Pool{New: func() any { b := make([]byte, scratchBytes); return &b }}
	samplePool = sync.Pool{New: func() any { b := make([]int16, scratchBytes/2); return &b }}
	// copyPool holds WriteTo's copy buffers: 64 KiB writes cost about
	// 10 % less time in system calls than 32 KiB ones on a long
	// conversion (measured on 60 minutes of A-law), larger gain nothing.
	copyPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
)

// frameReader is one pull stage of the pipeline: it fills dst with whole
// interleaved frames and returns the number of samples, or io.EOF at the
// end.
type frameReader interface {
	readFrames(dst []int16) (int, error)
	channels() int
}

// pcmDecoder reads PCM16 or G.711 frames from bytes. Between calls it keeps
// only the bytes of a frame a read split.
type pcmDecoder struct {
	r     io.Reader
	f     wav.Format
	law   g711.Law
	ch    int
	carry []byte // start of a partial frame; len < frame size
	err   error
}

func newPCMDecoder(r io.Reader, f wav.Format, ch int) *pcmDecoder {
	law, _ := f.Law()
	return &pcmDecoder{r: r, f: f, law: law, ch: ch}
}

func (d *pcmDecoder) channels() int { return d.ch }

func (d *pcmDecoder) readFrames(dst []int16) (int, error) {
	ba := d.ch * d.f.BytesPerSample()
	want := len(dst) / d.ch
	if want == 0 {
		return 0, nil
	}
	bp := bytePool.Get().(*[]byte)
	defer bytePool.Put(bp)
	buf := *bp
	if len(buf) < ba {
		buf = make([]byte, ba) // a frame wider than the scratch buffer
	}
	buf = buf[:min(want, len(buf)/ba)*ba]
	have := copy(buf, d.carry)
	for have < ba && d.err == nil {
		n, err := d.r.Read(buf[have:])
		have += n
		if err != nil {
			d.err = err
		}
	}
	frames := have / ba
	nb := frames * ba
	d.carry = append(d.carry[:0], buf[nb:have]...)
	if frames == 0 {
		if d.err == io.EOF && len(d.carry) > 0 {
			return 0, io.ErrUnexpectedEOF // a partial frame at the end
		}
		return 0, d.err
	}
	if d.f == wav.PCM16 {
		for i := range frames * d.ch {
			dst[i] = int16(binary.LittleEndian.Uint16(buf[2*i:]))
		}
	} else {
		d.law.Decode(dst[:frames*d.ch], buf[:nb])
	}
	return frames * d.ch, nil
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
	bp := samplePool.Get().(*[]int16)
	defer samplePool.Put(bp)
	buf := *bp
	if len(buf) < m.srcCh {
		buf = make([]int16, m.srcCh)
	}
	frames := min(len(dst)/outCh, len(buf)/m.srcCh)
	n, err := m.src.readFrames(buf[:frames*m.srcCh])
	if n == 0 {
		return 0, err
	}
	frames = n / m.srcCh
	in := buf[:n]
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

// sampleEncoder turns the frames of src into PCM16 or G.711 bytes,
// encoding straight into the caller's buffer; between calls it keeps only
// the bytes of a frame the caller had no room for.
type sampleEncoder struct {
	src     frameReader
	enc     encoding
	frame   int    // bytes per output frame
	part    []byte // encoded frame not yet read: part[partPos:]
	partPos int
	err     error
}

func newSampleEncoder(src frameReader, enc encoding) *sampleEncoder {
	return &sampleEncoder{src: src, enc: enc, frame: src.channels() * enc.bytesPerSample()}
}

// encode writes samples s to dst (room for all of them) and returns the
// bytes written.
func (e *sampleEncoder) encode(dst []byte, s []int16) int {
	switch e.enc {
	case encPCM16:
		for i, v := range s {
			binary.LittleEndian.PutUint16(dst[2*i:], uint16(v))
		}
		return 2 * len(s)
	case encALaw:
		return g711.ALaw.Encode(dst, s)
	case encULaw:
		return g711.ULaw.Encode(dst, s)
	}
	return 0
}

func (e *sampleEncoder) Read(p []byte) (int, error) {
	n := 0
	if e.partPos < len(e.part) {
		n = copy(p, e.part[e.partPos:])
		e.partPos += n
		if n == len(p) {
			return n, nil
		}
	}
	bp := samplePool.Get().(*[]int16)
	defer samplePool.Put(bp)
	buf := *bp
	ch := e.frame / e.enc.bytesPerSample()
	if len(buf) < ch {
		buf = make([]int16, ch)
	}
	// Whole frames straight into p, as many as fit.
	for e.err == nil && len(p)-n >= e.frame {
		frames := min((len(p)-n)/e.frame, len(buf)/ch)
		k, err := e.src.readFrames(buf[:frames*ch])
		n += e.encode(p[n:], buf[:k])
		if err != nil {
			e.err = err
		} else if k == 0 {
			break
		}
	}
	if n == 0 && e.err == nil {
		// p is shorter than a frame: encode one aside.
		k, err := e.src.readFrames(buf[:ch])
		if err != nil {
			e.err = err
		}
		if k > 0 {
			if cap(e.part) < e.frame {
				e.part = make([]byte, e.frame)
			}
			e.part = e.part[:e.encode(e.part[:e.frame], buf[:k])]
			e.partPos = copy(p, e.part)
			n = e.partPos
		}
	}
	if n > 0 {
		return n, nil
	}
	return 0, e.err
}

// directConverter converts PCM16/G.711 bytes to PCM16/G.711 bytes sample
// by sample, without the int16 stage, for outputs with the source's rate
// and channels: the common "A-law WAV to PCM WAV" download. It converts
// straight into the caller's buffer from a pooled input buffer, so between
// reads it keeps only the byte of a sample a read split (and the bytes of
// one sample the caller had no room for).
type directConverter struct {
	r                io.Reader
	same             bool    // output format = input format: plain reads
	carry            [1]byte // first byte of a PCM16 sample a read split
	ncarry           int
	part             [2]byte // converted sample not yet read: part[partPos:partLen]
	partPos, partLen int
	inBPS            int
	outBPS           int
	conv             func(dst, src []byte) int // returns samples converted
	err              error
}

// lawToLaw[from] maps every byte of one G.711 law to the other: the same
// decode-then-encode the int16 path does, folded into one table built once.
var lawToLaw = func() (t [2][256]byte) {
	for i := range 256 {
		t[0][i] = g711.ULaw.EncodeSample(g711.ALaw.DecodeSample(byte(i)))
		t[1][i] = g711.ALaw.EncodeSample(g711.ULaw.DecodeSample(byte(i)))
	}
	return t
}()

func newDirectConverter(r io.Reader, from wav.Format, to encoding) *directConverter {
	d := &directConverter{r: r, inBPS: from.BytesPerSample(), outBPS: to.bytesPerSample()}
	fromLaw, fromG711 := from.Law()
	switch {
	case from == to.wavFormat():
		d.same = true
	case fromG711 && to == encPCM16:
		d.conv = fromLaw.DecodeLE
	case !fromG711:
		toLaw, _ := to.wavFormat().Law()
		d.conv = toLaw.EncodeLE
	default:
		t := &lawToLaw[0]
		if fromLaw == g711.ULaw {
			t = &lawToLaw[1]
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

func (d *directConverter) Read(p []byte) (int, error) {
	if d.same {
		// No conversion: the bytes are the source's.
		return d.r.Read(p)
	}
	if d.partPos < d.partLen {
		n := copy(p, d.part[d.partPos:d.partLen])
		d.partPos += n
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	bp := bytePool.Get().(*[]byte)
	defer bytePool.Put(bp)
	samples := max(len(p)/d.outBPS, 1)
	in := (*bp)[:min(samples*d.inBPS, len(*bp))]
	have := copy(in, d.carry[:d.ncarry])
	for have < d.inBPS && d.err == nil {
		n, err := d.r.Read(in[have:])
		have += n
		if err != nil {
			d.err = err
		}
	}
	samples = have / d.inBPS
	d.ncarry = copy(d.carry[:], in[samples*d.inBPS:have])
	if samples == 0 {
		if d.err == io.EOF && d.ncarry > 0 {
			return 0, io.ErrUnexpectedEOF
		}
		return 0, d.err
	}
	if len(p) < d.outBPS {
		// p is shorter than a sample (one sample was read).
		d.conv(d.part[:d.outBPS], in[:d.inBPS])
		d.partLen = d.outBPS
		d.partPos = copy(p, d.part[:d.partLen])
		return d.partPos, nil
	}
	d.conv(p, in[:samples*d.inBPS])
	return samples * d.outBPS, nil
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
		fr = &mapper{src: fr, sel: o.sel, srcCh: o.src.Channels}
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
	r, err := o.sampleBytes(blob)
	if err != nil {
		return 0, err
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

// sampleBytes skips blob, positioned at the start of the stored file, to
// the coded samples and ends it after them. An MP3 source is handed over
// whole: the decoder skips its tags itself.
func (o *Output) sampleBytes(blob io.Reader) (io.Reader, error) {
	if _, isPCM := o.src.Format(); !isPCM {
		return blob, nil
	}
	if _, err := io.CopyN(io.Discard, blob, o.src.DataOffset); err != nil {
		return nil, fmt.Errorf("media: skip to samples: %w", noEOF(err))
	}
	return io.LimitReader(blob, o.src.DataSize), nil
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

// copyCtx copies up to limit bytes (all if limit < 0), checking ctx
// between blocks.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader, limit int64) (int64, error) {
	if limit >= 0 {
		r = io.LimitReader(r, limit)
	}
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
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
