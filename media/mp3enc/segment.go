package mp3enc

import (
	"errors"
	"fmt"
	"io"
)

// SegmentFrames is the number of audio frames in a segment. Every stream is
// cut into segments whose bytes depend only on the input from shortly
// before the segment on: a segment's first frame borrows nothing from the
// bit reservoir (main_data_begin 0, the previous segment's last frame
// spends what it saved instead), the rate control's search restarts from
// the same gain, and the analysis filterbank and MDCT, being finite
// windows, are rebuilt exactly from WarmupSamples of input. So an encoder
// started at any segment (NewEncoderAt) writes exactly the bytes a stream
// from sample 0 has from that point on, which lets a server answer a byte
// range of an MP3 conversion without converting what precedes it.
//
// 32 frames is 2.3 s at 8 kHz (0.77 s at 48 kHz): at worst a range start
// costs encoding that much audio, about 3 ms at 8 kHz, while giving up the
// reservoir once per 32 frames costs under 0.1 dB of SNR.
const SegmentFrames = 32

// WarmupSamples is the input, in samples per channel, that NewEncoderAt
// needs from before the segment: two granules, the first to fill the
// filterbank's 512-sample window, the second to give the MDCT the previous
// granule's subband samples.
const WarmupSamples = 2 * 576

// Layout is the byte layout of the stream an Encoder writes for Options
// with a known TotalSamples: its size and where each segment starts.
type Layout struct {
	infoSize int64
	slotNum  int
	rate     int
	frameLen int
	frames   int64
}

// NewLayout returns the layout of the stream NewEncoder(w, o) writes when
// given exactly o.TotalSamples samples per channel.
func NewLayout(o Options) (Layout, error) {
	e, err := newEncoder(io.Discard, o)
	if err != nil {
		return Layout{}, err
	}
	size, err := e.infoFrameSize()
	if err != nil {
		return Layout{}, err
	}
	return Layout{infoSize: int64(size), slotNum: e.slotNum, rate: o.SampleRate, frameLen: e.frameLen,
		frames: streamFrames(o.TotalSamples, e.frameLen)}, nil
}

// Size is the length of the whole stream in bytes, the Info frame included.
func (l Layout) Size() int64 { return l.FrameOffset(l.frames) }

// Frames is the number of audio frames (the Info frame not counted).
func (l Layout) Frames() int64 { return l.frames }

// FrameOffset is the stream offset of audio frame i: the frame sizes
// follow from the index alone (the padding bit of frame i is set when
// ⌊(i+1)·r/rate⌋ > ⌊i·r/rate⌋, r = slotNum mod rate), so this is exact.
func (l Layout) FrameOffset(i int64) int64 {
	return l.infoSize + streamBytes(i, l.slotNum, l.rate)
}

// Segments is the number of segments.
func (l Layout) Segments() int64 { return (l.frames + SegmentFrames - 1) / SegmentFrames }

// Segment returns the segment whose bytes include stream offset off (the
// last one for off ≥ Size) and the offset where its bytes start: 0 for
// segment 0, which begins with the Info frame.
func (l Layout) Segment(off int64) (seg, start int64) {
	if l.frames == 0 || off < l.FrameOffset(SegmentFrames) {
		return 0, 0
	}
	// The frame holding off, from the mean frame size, then corrected
	// for the rounding of the padding pattern.
	i := (off - l.infoSize) * int64(l.rate) / int64(l.slotNum)
	for i > 0 && l.FrameOffset(i) > off {
		i--
	}
	for i+1 < l.frames && l.FrameOffset(i+1) <= off {
		i++
	}
	seg = min(i/SegmentFrames, l.Segments()-1)
	return seg, l.FrameOffset(seg * SegmentFrames)
}

// SegmentSample is the first input sample (per channel) of segment seg.
func (l Layout) SegmentSample(seg int64) int64 { return seg * SegmentFrames * int64(l.frameLen) }

// ErrSegment is returned (wrapped) by NewEncoderAt for a segment outside
// the stream or a warm-up of the wrong length.
var ErrSegment = errors.New("mp3enc: bad segment start")

// NewEncoderAt returns an Encoder that writes the stream NewEncoder(w, o)
// would write, from the start of segment seg (Layout.Segment gives its
// byte offset) to the end. o.TotalSamples must be set. warmup holds the
// WarmupSamples interleaved samples per channel that precede the segment
// (ignored for segment 0); then Write is given the input from
// Layout.SegmentSample(seg) on, and Close ends the stream as NewEncoder's
// would.
func NewEncoderAt(w io.Writer, o Options, seg int64, warmup []int16) (*Encoder, error) {
	if seg == 0 {
		return NewEncoder(w, o)
	}
	if w == nil {
		return nil, errors.New("mp3enc: nil writer")
	}
	if o.TotalSamples <= 0 {
		return nil, fmt.Errorf("%w: segment %d of a stream of unknown length", ErrSegment, seg)
	}
	e, err := newEncoder(w, o)
	if err != nil {
		return nil, err
	}
	frames := streamFrames(o.TotalSamples, e.frameLen)
	if seg < 0 || seg*SegmentFrames >= frames {
		return nil, fmt.Errorf("%w: segment %d of %d", ErrSegment, seg, (frames+SegmentFrames-1)/SegmentFrames)
	}
	if len(warmup) != WarmupSamples*o.Channels {
		return nil, fmt.Errorf("%w: %d warm-up samples, want %d", ErrSegment, len(warmup), WarmupSamples*o.Channels)
	}
	e.frame = seg * SegmentFrames
	e.totalIn = e.frame * int64(e.frameLen)
	r := int64(e.slotNum % o.SampleRate)
	e.padAcc = int(e.frame * r % int64(o.SampleRate))
	e.warm(warmup)
	return e, nil
}

// warm runs the analysis over the warm-up samples, discarding the spectra:
// afterwards the filterbank history and the previous granule's subband
// samples are what a stream from sample 0 has at this point.
func (e *Encoder) warm(pcm []int16) {
	nch := e.opt.Channels
	e.s = scratchPool.Get().(*frameScratch)
	defer func() { scratchPool.Put(e.s); e.s = nil }()
	var buf [576]float64
	for gr := range WarmupSamples / 576 {
		for c := range nch {
			for i := range buf {
				buf[i] = float64(pcm[(gr*576+i)*nch+c]) / 32768
			}
			e.analyseSamples(c, buf[:], &e.s.xr[0][c])
		}
	}
}

// infoFrameSize is the length of the Info frame.
func (e *Encoder) infoFrameSize() (int, error) {
	b, err := e.appendInfoFrame(nil, e.opt.TotalSamples)
	return len(b), err
}
