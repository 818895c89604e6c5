// Package resample converts interleaved 16-bit audio between sample rates
// with a band-limited (Kaiser-windowed sinc, polyphase) filter, streaming in
// bounded memory.
//
// The filter is stateless in the sense that matters for serving byte
// ranges: output frame k is a fixed function of the input frames in a
// window around k·inRate/outRate (InputStart(k) … InputStart(k)+Taps()-1),
// with frames before the start and after the end of the input taken as
// silence. A Resampler reset to any output frame and fed input from
// InputStart of that frame therefore produces exactly the samples a run from
// the beginning would.
package resample

import (
	"errors"
	"fmt"
	"math"
)

// Filter design, at the lower of the two rates: the passband reaches
// cutoff−transition/2 and the stopband begins at the lower Nyquist
// frequency, so nothing above the new Nyquist folds back. halfWidth taps
// each side with Kaiser beta 8.6 give ≥ 80 dB of stopband in theory; the
// tests measure the real figure.
const (
	cutoff    = 0.4625 // of the lower rate: 3.7 kHz at 8 kHz, all of telephone speech
	halfWidth = 40     // taps each side at the lower rate
	beta      = 8.6

	// MaxPhases bounds the filter table: rates whose reduced ratio needs
	// more polyphase branches (e.g. 7999 → 48000) are refused.
	MaxPhases = 2048
	blockSize = 2048 // input frames buffered per channel
)

// Resampler converts one stream of interleaved int16 frames. It is not
// safe for concurrent use; create one per stream.
type Resampler struct {
	inRate, outRate, ch int
	l, m                int       // out/in = l/m, reduced
	h                   int       // taps each side of centre, in input frames
	taps                int       // 2h
	coef                []float32 // l phases × taps
	bypass              bool

	buf      []float32 // interleaved input frames, buf[0] is frame bufStart
	bufStart int64     // absolute input frame index of buf[0]
	next     int64     // absolute index of the next output frame
	nextIn   int64     // absolute index of the next real input frame expected
	flushing bool
	inEnd    int64 // when flushing: absolute index one past the last real frame
}

// New returns a Resampler from inRate to outRate (Hz) for frames of the
// given number of interleaved channels, positioned at output frame 0.
func New(inRate, outRate, channels int) (*Resampler, error) {
	if inRate <= 0 || outRate <= 0 {
		return nil, fmt.Errorf("resample: bad rates %d → %d Hz", inRate, outRate)
	}
	if channels < 1 || channels > 16 {
		return nil, fmt.Errorf("resample: bad channel count %d", channels)
	}
	g := gcd(inRate, outRate)
	r := &Resampler{inRate: inRate, outRate: outRate, ch: channels, l: outRate / g, m: inRate / g}
	if r.l > MaxPhases {
		return nil, fmt.Errorf("resample: %d → %d Hz needs %d filter phases (limit %d)", inRate, outRate, r.l, MaxPhases)
	}
	if r.l == r.m {
		r.bypass = true
	} else {
		r.design()
	}
	r.buf = make([]float32, 0, (blockSize+r.taps)*channels)
	r.Reset(0)
	return r, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// design builds the polyphase table. Phase p holds the taps for an output
// instant p/l of an input period after input frame n, tap j (0…taps-1)
// weighting input frame n−h+1+j.
func (r *Resampler) design() {
	scale := 1.0 // cutoff relative to the input rate
	h := halfWidth
	if r.l < r.m { // downsampling: the filter works at the (higher) input rate
		scale = float64(r.l) / float64(r.m)
		h = int(math.Ceil(halfWidth * float64(r.m) / float64(r.l)))
	}
	fc := cutoff * scale // cycles per input sample
	r.h, r.taps = h, 2*h
	r.coef = make([]float32, r.l*r.taps)
	i0b := besselI0(beta)
	row := make([]float64, r.taps)
	for p := 0; p < r.l; p++ {
		frac := float64(p) / float64(r.l)
		sum := 0.0
		for j := 0; j < r.taps; j++ {
			d := frac - float64(j-h+1) // distance from the output instant
			x := d / float64(h)
			w := 0.0
			if x > -1 && x < 1 {
				w = besselI0(beta*math.Sqrt(1-x*x)) / i0b
			}
			row[j] = 2 * fc * sinc(2*fc*d) * w
			sum += row[j]
		}
		// Unit DC gain in every phase, so silence stays silence and
		// a constant offset does not ripple.
		for j := range row {
			r.coef[p*r.taps+j] = float32(row[j] / sum)
		}
	}
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the zeroth-order modified Bessel function of the first kind
// (power series; converges fast for the arguments a Kaiser window uses).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 100; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// Taps is the number of input frames each output frame depends on (0 when
// the rates are equal and samples are copied).
func (r *Resampler) Taps() int { return r.taps }

// Channels is the number of interleaved channels per frame.
func (r *Resampler) Channels() int { return r.ch }

// OutputFrames is the number of output frames an input of inFrames frames
// gives: one per output instant k·inRate/outRate < inFrames.
func (r *Resampler) OutputFrames(inFrames int64) int64 {
	if r.bypass {
		return inFrames
	}
	return ceilDiv(inFrames*int64(r.l), int64(r.m))
}

// InputStart is the first input frame that output frame k depends on. It
// may be negative (those frames count as silence) and is never more than
// the frame under output k.
func (r *Resampler) InputStart(k int64) int64 {
	if r.bypass {
		return k
	}
	return floorDiv(k*int64(r.m), int64(r.l)) - int64(r.h) + 1
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Reset discards buffered input and positions the Resampler at output
// frame k. The caller must then feed input starting at frame
// max(0, InputStart(k)).
func (r *Resampler) Reset(k int64) {
	if k < 0 {
		k = 0
	}
	r.next = k
	r.flushing = false
	r.buf = r.buf[:0]
	start := r.InputStart(k)
	r.bufStart = start
	r.nextIn = max(start, 0)
	// Frames before the start of the input are silence.
	for i := start; i < 0; i++ {
		r.buf = append(r.buf, make([]float32, r.ch)...)
	}
}

// NextInput is the absolute index of the input frame the Resampler expects
// next.
func (r *Resampler) NextInput() int64 { return r.nextIn }

// ErrFlushed is returned by Process after Flush has been called.
var ErrFlushed = errors.New("resample: Process after Flush")

// Process consumes input frames from src and writes output frames to dst
// (both interleaved; lengths are rounded down to whole frames). It returns
// the number of samples (not frames) written and consumed. It stops when
// dst is full or all of src is consumed and no more output can be made
// without further input.
func (r *Resampler) Process(dst, src []int16) (nOut, nIn int, err error) {
	if r.flushing {
		return 0, 0, ErrFlushed
	}
	ch := r.ch
	src = src[:len(src)/ch*ch]
	dst = dst[:len(dst)/ch*ch]
	if r.bypass {
		n := copy(dst, src)
		r.nextIn += int64(n / ch)
		r.next += int64(n / ch)
		return n, n, nil
	}
	for {
		nOut += r.produce(dst[nOut:])
		if nOut == len(dst) || nIn == len(src) {
			return nOut, nIn, nil
		}
		nIn += r.fill(src[nIn:])
	}
}

// Flush, called after the last input, treats frames past the end as
// silence and writes the remaining output frames to dst. It returns the
// number of samples written; call it until it returns 0.
func (r *Resampler) Flush(dst []int16) int {
	dst = dst[:len(dst)/r.ch*r.ch]
	if !r.flushing {
		r.flushing = true
		r.inEnd = r.nextIn
	}
	if r.bypass {
		return 0
	}
	limit := r.OutputFrames(r.inEnd)
	n := 0
	for n < len(dst) && r.next < limit {
		made := r.produceUntil(dst[n:], limit)
		n += made
		if made == 0 {
			// Pad with silence to complete the last windows.
			room := cap(r.buf)/r.ch - len(r.buf)/r.ch
			if room == 0 {
				r.compact()
				room = cap(r.buf)/r.ch - len(r.buf)/r.ch
			}
			r.buf = append(r.buf, make([]float32, min(room, r.taps)*r.ch)...)
		}
	}
	return n
}

func (r *Resampler) produce(dst []int16) int {
	return r.produceUntil(dst, math.MaxInt64)
}

// produceUntil writes output frames from r.next while their window is in
// the buffer, dst has room and the frame index is below limit.
func (r *Resampler) produceUntil(dst []int16, limit int64) int {
	ch, taps := r.ch, r.taps
	frames := int64(len(r.buf) / ch)
	n := 0
	l, m := int64(r.l), int64(r.m)
	for n+ch <= len(dst) && r.next < limit {
		t := r.next * m
		start := floorDiv(t, l) - int64(r.h) + 1
		if start-r.bufStart+int64(taps) > frames {
			break
		}
		if start < r.bufStart {
			panic("resample: window before buffer") // cannot happen: compact keeps it
		}
		p := t - floorDiv(t, l)*l
		coef := r.coef[int(p)*taps : int(p)*taps+taps]
		in := r.buf[int(start-r.bufStart)*ch:]
		switch ch {
		case 1:
			dst[n] = clamp16(dot(coef, in[:taps]))
		case 2:
			in = in[:2*taps]
			var a0, a1 float32
			for j, w := range coef {
				a0 += w * in[2*j]
				a1 += w * in[2*j+1]
			}
			dst[n], dst[n+1] = clamp16(a0), clamp16(a1)
		default:
			for c := 0; c < ch; c++ {
				var acc float32
				for j, w := range coef {
					acc += w * in[j*ch+c]
				}
				dst[n+c] = clamp16(acc)
			}
		}
		n += ch
		r.next++
	}
	return n
}

// dot is the mono inner product, with four independent accumulators so
// the additions pipeline. The summation order is fixed, so results do not
// depend on where a stream started.
func dot(w, x []float32) float32 {
	x = x[:len(w)]
	var a0, a1, a2, a3 float32
	j := 0
	for ; j+4 <= len(w); j += 4 {
		a0 += w[j] * x[j]
		a1 += w[j+1] * x[j+1]
		a2 += w[j+2] * x[j+2]
		a3 += w[j+3] * x[j+3]
	}
	for ; j < len(w); j++ {
		a0 += w[j] * x[j]
	}
	return (a0 + a1) + (a2 + a3)
}

func clamp16(v float32) int16 {
	if v >= 32767 {
		return 32767
	}
	if v <= -32768 {
		return -32768
	}
	if v < 0 {
		return int16(v - 0.5) // round half away from zero, like math.Round
	}
	return int16(v + 0.5)
}

// fill copies input into the buffer (after dropping frames no future output
// needs) and returns the number of samples taken.
func (r *Resampler) fill(src []int16) int {
	r.compact()
	room := cap(r.buf) - len(r.buf)
	n := min(room, len(src))
	for _, s := range src[:n] {
		r.buf = append(r.buf, float32(s))
	}
	r.nextIn += int64(n / r.ch)
	return n
}

// compact drops buffered frames older than the next output's window.
func (r *Resampler) compact() {
	need := r.InputStart(r.next)
	drop := need - r.bufStart
	if drop <= 0 {
		return
	}
	frames := int64(len(r.buf) / r.ch)
	drop = min(drop, frames)
	n := copy(r.buf, r.buf[int(drop)*r.ch:])
	r.buf = r.buf[:n]
	r.bufStart += drop
}

// Clone returns a new Resampler for the same rates and channels,
// positioned at output frame 0. It shares the read-only filter table, so
// starting another stream (or another byte range of one) costs no filter
// design.
func (r *Resampler) Clone() *Resampler {
	c := &Resampler{inRate: r.inRate, outRate: r.outRate, ch: r.ch, l: r.l, m: r.m,
		h: r.h, taps: r.taps, coef: r.coef, bypass: r.bypass}
	c.buf = make([]float32, 0, cap(r.buf))
	c.Reset(0)
	return c
}
