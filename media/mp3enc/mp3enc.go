// Package mp3enc encodes 16-bit PCM into constant-bitrate MPEG audio Layer III
// (MP3) streams: MPEG-1 (32/44.1/48 kHz), MPEG-2 LSF (16/22.05/24 kHz) and
// MPEG-2.5 (8/11.025/12 kHz), mono or stereo.
//
// recvault needs it to hand call recordings (mostly 8 kHz mono speech) to
// browsers and players that do not understand G.711, without a cgo LAME
// build. The encoder follows ISO/IEC 11172-3 and 13818-3 and has no
// psychoacoustic model:
//
//   - polyphase analysis filterbank (its 32-point matrixing done as a fast
//     DCT-III) and an 18-line MDCT per subband, long blocks only: short
//     blocks (window switching) are not implemented, as they fight
//     pre-echo, a perceptual artefact SNR does not measure and telephone
//     speech at these rates rarely shows;
//   - alias-reduction butterflies;
//   - power-law quantiser with all scalefactors zero, so quantisation noise
//     is spectrally flat and, with one global gain shared by the channels,
//     equal everywhere: for a given number of bits that minimises the
//     squared error, i.e. maximises SNR, the measure recvault tests against;
//   - rate control: the global gain is the smallest whose Huffman data fits
//     the granule's bit budget (bracketing from the previous granule's gain,
//     then bisection), after which every region split is tried;
//   - Huffman coding with per-region table choice, big_values and count1
//     regions;
//   - a bit reservoir (main_data_begin) that lets loud granules use bits
//     saved by quiet ones while every frame keeps its exact CBR size, with
//     the padding bit spreading the fractional byte of 44.1 kHz-family rates
//     in a pattern fixed by the frame index; the reservoir is drained at
//     every segment boundary (SegmentFrames), so any segment can be encoded
//     on its own (NewEncoderAt) into exactly the stream's bytes;
//   - stereo as joint stereo: each frame is coded left/right or, when that
//     needs fewer bits, middle/side. Dual-track call recordings (one party
//     per channel) stay left/right.
//
// Memory is bounded and independent of the input length: one frame of PCM,
// the filterbank history, and at most a few frames waiting for reservoir
// bytes; the per-frame work areas are pooled.
//
// Every stream starts with an Info frame (the CBR form of the Xing header)
// carrying a LAME-style tag with the encoder delay and end padding, so that
// gapless decoders (ffmpeg, LAME, recvault's mp3dec) output exactly the
// samples written, aligned at sample 0. The padding and frame count are
// only known when Options.TotalSamples gives the length up front: the
// stream is written front to back and never rewritten. Without it the tag
// holds the delay alone: ffmpeg then trims the start but also decodes the
// Info frame as one frame of silence (see appendInfoFrame).
package mp3enc

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// Options configures an Encoder.
type Options struct {
	SampleRate int // Hz: one of SupportedSampleRates
	Channels   int // 1 (mono) or 2 (stereo: each frame coded left/right or middle/side)
	Bitrate    int // kbit/s: one of ValidBitrates(SampleRate)

	// TotalSamples is the number of samples per channel that will be
	// written, when known in advance (0: unknown). The Info frame then
	// records the frame count and end padding, so gapless decoders stop
	// exactly at the last input sample. Writing more is an error; Close
	// pads a shorter input with silence up to it (and reports ErrLength),
	// so the stream always matches its Info frame.
	TotalSamples int64
}

// ErrClosed is returned by Write and Close after Close.
var ErrClosed = errors.New("mp3enc: encoder closed")

// ErrLength is returned (wrapped) when the samples written differ from a
// non-zero Options.TotalSamples.
var ErrLength = errors.New("mp3enc: sample count differs from Options.TotalSamples")

// SupportedSampleRates lists the sample rates, in Hz, that MPEG-1, MPEG-2 and
// MPEG-2.5 Layer III can carry.
func SupportedSampleRates() []int {
	return []int{8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}
}

// ValidBitrates lists the Layer III bitrates in kbit/s for a sample rate,
// lowest first, free format excluded. It returns nil for an unsupported rate.
func ValidBitrates(sampleRate int) []int {
	v, _, ok := mp3tab.SampleRateIndex(sampleRate)
	if !ok {
		return nil
	}
	rates := mp3tab.Bitrates[v][2][1:]
	return append([]int(nil), rates...)
}

func intList(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, " ")
}

// Encoder turns interleaved 16-bit PCM into MP3 frames written to an
// io.Writer. It is not safe for concurrent use.
//
// Only what must outlive a frame lives here (input samples of the frame
// being filled, the filterbank history, the reservoir queue); the spectra
// and quantiser work areas are borrowed from a pool for the length of one
// frame (see frameScratch), so a stream waiting on its writer holds about
// 15–22 KiB per channel.
type Encoder struct {
	w   io.Writer
	opt Options

	header   mp3tab.Header // of the next frame; padding and mode extension vary
	granules int           // granules per frame: 2 for MPEG-1, 1 for LSF
	sideLen  int           // bytes of side information
	sfb      []int         // long-block scalefactor band boundaries
	frameLen int           // samples per channel per frame
	slotNum  int           // frame length numerator: bytes = slotNum / SampleRate (+ padding)
	padAcc   int           // running remainder deciding the padding bit
	maxResv  int           // largest main_data_begin, bytes
	frame    int64         // index of the next audio frame (the Info frame not counted)
	totalIn  int64         // samples per channel received (from the stream start)
	half     int16         // left sample waiting for its right partner (stereo)
	hasHalf  bool
	npcm     int               // samples per channel buffered in pcm
	pcm      [][]float64       // per channel: the frameLen input samples of the next frame
	fb       []polyphase       // per channel
	prevSub  [][32][18]float64 // per channel: previous granule's subband samples
	queue    []pendingFrame
	fifo     []byte    // main data not yet placed into a frame's slot
	md       bitWriter // main data of the frame being encoded
	side     bitWriter // side info of the frame being encoded
	out      []byte
	closed   bool
	err      error
	prevGain int           // global gain of the previous granule: where the next search starts
	s        *frameScratch // while a frame is coded, else nil
}

// frameScratch is the per-frame working memory of an Encoder: every field
// is recomputed from the frame's input before it is read, so it is pooled
// between frames (and streams) instead of kept per stream — 47 KiB that a
// stream waiting on a slow client would otherwise hold.
type frameScratch struct {
	xr    [2][2][576]float64 // spectrum of each granule and channel of the frame
	ch    [2]chanGranule
	saved [2]savedQuant
}

var scratchPool = sync.Pool{New: func() any { return new(frameScratch) }}

// savedQuant is a snapshot of one channel's quantisation (see Encoder.save).
type savedQuant struct {
	ix     [576]int32
	side   grSide
	count1 int
}

// pendingFrame is a frame whose header and side info are known but whose
// main-data slot still waits for bytes (possibly from later frames).
type pendingFrame struct {
	head    [36]byte
	headLen int
	slot    int
}

// NewEncoder returns an Encoder writing to w. Errors name the bad option and
// list its valid values.
func NewEncoder(w io.Writer, o Options) (*Encoder, error) {
	if w == nil {
		return nil, errors.New("mp3enc: nil writer")
	}
	e, err := newEncoder(w, o)
	if err != nil {
		return nil, err
	}
	// The Info frame goes out with the first bytes written.
	if e.out, err = e.appendInfoFrame(e.out, o.TotalSamples); err != nil {
		return nil, err
	}
	return e, nil
}

// newEncoder checks o and sets up an Encoder at the start of the audio
// frames, with no Info frame queued.
func newEncoder(w io.Writer, o Options) (*Encoder, error) {
	v, _, ok := mp3tab.SampleRateIndex(o.SampleRate)
	if !ok {
		return nil, fmt.Errorf("mp3enc: SampleRate %d Hz not supported; valid: %s", o.SampleRate, intList(SupportedSampleRates()))
	}
	if o.Channels != 1 && o.Channels != 2 {
		return nil, fmt.Errorf("mp3enc: Channels %d not supported; valid: 1 2", o.Channels)
	}
	if o.TotalSamples < 0 {
		return nil, fmt.Errorf("mp3enc: TotalSamples %d is negative; use 0 for unknown", o.TotalSamples)
	}
	if _, ok := mp3tab.BitrateIndex(v, 3, o.Bitrate); !ok {
		return nil, fmt.Errorf("mp3enc: Bitrate %d kbit/s not valid at %d Hz; valid: %s", o.Bitrate, o.SampleRate, intList(ValidBitrates(o.SampleRate)))
	}
	e := &Encoder{w: w, opt: o}
	mode := mp3tab.Mono
	if o.Channels == 2 {
		// Joint stereo lets each frame choose middle/side or plain
		// left/right (mode extension 2 or 0); no intensity stereo.
		mode = mp3tab.JointStereo
	}
	e.header = mp3tab.Header{
		Version:     v,
		Layer:       3,
		Bitrate:     o.Bitrate,
		SampleRate:  o.SampleRate,
		ChannelMode: mode,
		Original:    true,
	}
	e.sfb = mp3tab.SFBLong(o.SampleRate)
	if len(e.sfb) != 23 {
		return nil, fmt.Errorf("mp3enc: no scalefactor bands for %d Hz", o.SampleRate)
	}
	e.granules, e.slotNum, e.maxResv, e.sideLen = frameParams(v, o)
	// A decoder's input buffer need only hold one frame of the highest
	// bitrate it must support at this sample rate (320 kbit/s for MPEG-1,
	// 160 for MPEG-2, 64 for MPEG-2.5), so a frame plus the reservoir it
	// borrows from must fit in that: the strict reading of the standard,
	// which costs nothing at the bitrates recvault uses.
	maxKbps := map[mp3tab.Version]int{mp3tab.MPEG1: 320, mp3tab.MPEG2: 160, mp3tab.MPEG25: 64}[v]
	buf := e.slotNum / o.Bitrate * maxKbps / o.SampleRate
	e.maxResv = min(e.maxResv, max(buf-(e.slotNum/o.SampleRate+1), 0))
	e.frameLen = 576 * e.granules
	e.prevGain = startGain
	e.pcm = make([][]float64, o.Channels)
	for c := range e.pcm {
		e.pcm[c] = make([]float64, e.frameLen)
	}
	e.fb = make([]polyphase, o.Channels)
	e.prevSub = make([][32][18]float64, o.Channels)
	return e, nil
}

// frameParams gives the granules per frame, the frame length numerator
// (bytes = slotNum / SampleRate), the main_data_begin field limit and the
// side information length of an MPEG version.
func frameParams(v mp3tab.Version, o Options) (granules, slotNum, maxResv, sideLen int) {
	if v == mp3tab.MPEG1 {
		sideLen = 17
		if o.Channels == 2 {
			sideLen = 32
		}
		return 2, 144000 * o.Bitrate, 511, sideLen // 9-bit main_data_begin
	}
	sideLen = 9
	if o.Channels == 2 {
		sideLen = 17
	}
	return 1, 72000 * o.Bitrate, 255, sideLen // 8-bit main_data_begin
}

// startGain is the global gain the rate control's search starts from in
// the first granule of every segment.
const startGain = 210

// accept returns how many of n more samples per channel fit within
// Options.TotalSamples, recording an error when some do not.
func (e *Encoder) accept(n int) int {
	if e.opt.TotalSamples == 0 {
		return n
	}
	left := e.opt.TotalSamples - e.totalIn
	if int64(n) <= left {
		return n
	}
	e.err = fmt.Errorf("%w: more than %d samples written", ErrLength, e.opt.TotalSamples)
	return int(max(left, 0))
}

// Write encodes interleaved samples (L R L R … for stereo). Any length is
// accepted; a trailing left sample waits for its right partner.
func (e *Encoder) Write(samples []int16) error {
	if e.closed {
		return ErrClosed
	}
	if e.err != nil {
		return e.err
	}
	const scale = 1.0 / 32768
	if e.opt.Channels == 1 {
		samples = samples[:e.accept(len(samples))]
		for len(samples) > 0 {
			n := min(len(samples), e.frameLen-e.npcm)
			dst := e.pcm[0][e.npcm : e.npcm+n]
			for i, s := range samples[:n] {
				dst[i] = float64(s) * scale
			}
			samples = samples[n:]
			e.npcm += n
			e.totalIn += int64(n)
			if e.npcm == e.frameLen {
				if err := e.encodeFrame(); err != nil {
					return err
				}
			}
		}
		return e.flushOut()
	}
	if lim := e.accept((len(samples) + btoi(e.hasHalf)) / 2); lim < (len(samples)+btoi(e.hasHalf))/2 {
		samples = samples[:max(2*lim-btoi(e.hasHalf), 0)]
	}
	if e.hasHalf && len(samples) > 0 {
		e.hasHalf = false
		if err := e.push2(e.half, samples[0]); err != nil {
			return err
		}
		samples = samples[1:]
	}
	for len(samples) >= 2 {
		n := min(len(samples)/2, e.frameLen-e.npcm)
		l, r := e.pcm[0][e.npcm:e.npcm+n], e.pcm[1][e.npcm:e.npcm+n]
		for i := range n {
			l[i] = float64(samples[2*i]) * scale
			r[i] = float64(samples[2*i+1]) * scale
		}
		samples = samples[2*n:]
		e.npcm += n
		e.totalIn += int64(n)
		if e.npcm == e.frameLen {
			if err := e.encodeFrame(); err != nil {
				return err
			}
		}
	}
	if len(samples) == 1 {
		e.half, e.hasHalf = samples[0], true
	}
	if err := e.flushOut(); err != nil {
		return err
	}
	return e.err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (e *Encoder) push2(l, r int16) error {
	e.pcm[0][e.npcm] = float64(l) / 32768
	e.pcm[1][e.npcm] = float64(r) / 32768
	e.npcm++
	e.totalIn++
	if e.npcm == e.frameLen {
		return e.encodeFrame()
	}
	return nil
}

// Close pads the input with silence so that every sample received (delayed
// by the filterbank and MDCT) is inside a frame, writes the remaining frames
// and fills the last reservoir slots. With Options.TotalSamples set, a
// shorter input is first padded with silence up to it, and Close reports
// ErrLength after finishing the stream. It does not close the underlying
// writer.
func (e *Encoder) Close() error {
	if e.closed {
		return ErrClosed
	}
	e.closed = true
	if e.err != nil {
		return e.err
	}
	var lenErr error // reported once the stream is complete
	if e.hasHalf {
		// An unpaired left sample: pair it with silence rather than drop
		// it, unless that would exceed TotalSamples.
		e.hasHalf = false
		if e.accept(1) == 1 {
			if err := e.push2(e.half, 0); err != nil {
				return err
			}
		} else {
			lenErr, e.err = e.err, nil
		}
	}
	if t := e.opt.TotalSamples; t > 0 && e.totalIn < t {
		lenErr = fmt.Errorf("%w: %d of %d samples written", ErrLength, e.totalIn, t)
		if err := e.writeSilence(t - e.totalIn); err != nil {
			return err
		}
	}
	// closePad samples of silence at least, to the end of a frame: the
	// frame count follows from the sample count alone, so an encoder
	// started at a later segment (NewEncoderAt) ends where this one does.
	end := e.totalIn
	if t := e.opt.TotalSamples; t > 0 {
		end = t
	}
	for last := streamFrames(end, e.frameLen); e.frame < last; {
		for c := range e.opt.Channels {
			clear(e.pcm[c][e.npcm:])
		}
		e.npcm = e.frameLen
		if err := e.encodeFrame(); err != nil {
			return err
		}
	}
	// Fill the slots still waiting for reservoir bytes with zeros: after
	// the last frame nothing borrows them.
	for len(e.queue) > 0 {
		need := e.queue[0].slot - len(e.fifo)
		if need > 0 {
			e.fifo = appendZeros(e.fifo, need)
		}
		e.emitReady()
	}
	if err := e.flushOut(); err != nil {
		return err
	}
	return lenErr
}

// writeSilence encodes n samples per channel of silence as input.
func (e *Encoder) writeSilence(n int64) error {
	for n > 0 {
		k := int(min(n, int64(e.frameLen-e.npcm)))
		for c := range e.opt.Channels {
			clear(e.pcm[c][e.npcm : e.npcm+k])
		}
		e.npcm += k
		e.totalIn += int64(k)
		n -= int64(k)
		if e.npcm == e.frameLen {
			if err := e.encodeFrame(); err != nil {
				return err
			}
			if err := e.flushOut(); err != nil {
				return err
			}
		}
	}
	return nil
}

// delaySamples is the delay, in samples, from encoder input to decoder output
// of this encoder's analysis filterbank and MDCT as seen by a standard decoder.
const delaySamples = 481 + 576

func (e *Encoder) flushOut() error {
	if len(e.out) == 0 || e.err != nil {
		return e.err
	}
	_, err := e.w.Write(e.out)
	e.out = e.out[:0]
	if err != nil {
		e.err = fmt.Errorf("mp3enc: write: %w", err)
	}
	return e.err
}

// emitReady writes every queued frame whose main-data slot is now full.
func (e *Encoder) emitReady() {
	for len(e.queue) > 0 && len(e.fifo) >= e.queue[0].slot {
		f := &e.queue[0]
		e.out = append(e.out, f.head[:f.headLen]...)
		e.out = append(e.out, e.fifo[:f.slot]...)
		e.fifo = append(e.fifo[:0], e.fifo[f.slot:]...)
		e.queue = append(e.queue[:0], e.queue[1:]...)
	}
}
