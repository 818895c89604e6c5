package mp3enc

import (
	"fmt"
	"math"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// appendZeros appends n zero bytes to b without a temporary slice.
func appendZeros(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, 0)
	}
	return b
}

// grSide is the side information of one granule of one channel.
type grSide struct {
	part23, bigValues, gain, count1Table int
	tableSelect                          [3]int
	region0, region1                     int
}

// maxPart23 is the largest part2_3_length the 12-bit side-info field holds.
const maxPart23 = 4095

// encodeFrame encodes the frameLen samples per channel buffered in e.pcm,
// appends the frame to the reservoir queue and emits finished frames. An
// error is kept: the stream cannot continue after a lost frame.
func (e *Encoder) encodeFrame() error {
	e.npcm = 0
	e.s = scratchPool.Get().(*frameScratch)
	err := e.codeFrame()
	scratchPool.Put(e.s)
	e.s = nil
	e.frame++
	if err != nil {
		e.err = err
		return err
	}
	return nil
}

func (e *Encoder) codeFrame() error {
	nch := e.opt.Channels

	// Frame length: the padding bit adds one byte whenever the running
	// remainder of slotNum/SampleRate reaches a whole byte, so the stream
	// averages exactly Bitrate.
	frameBytes := e.slotNum / e.opt.SampleRate
	e.padAcc += e.slotNum % e.opt.SampleRate
	e.header.Padding = false
	if e.padAcc >= e.opt.SampleRate {
		e.padAcc -= e.opt.SampleRate
		e.header.Padding = true
		frameBytes++
	}
	slot := frameBytes - 4 - e.sideLen

	// main_data_begin: the part of earlier frames' slots not yet filled.
	// A segment's first frame borrows nothing, and starts from the same
	// rate-control state whatever came before (see SegmentFrames).
	queued := 0
	for _, f := range e.queue {
		queued += f.slot
	}
	mdb := queued - len(e.fifo)
	maxResv := e.maxResv
	segStart := e.frame%SegmentFrames == 0
	segEnd := (e.frame+1)%SegmentFrames == 0
	if segStart {
		maxResv = 0
		e.prevGain = startGain
	}
	if mdb > maxResv {
		// Too much left unused: stuff it with zeros (ancillary data the
		// decoder skips) so main_data_begin fits its field.
		e.fifo = appendZeros(e.fifo, mdb-maxResv)
		e.emitReady()
		mdb = maxResv
	}

	avail := 8 * (mdb + slot) // bits this frame may use
	meanGr := 8 * slot / e.granules
	used := 0
	e.md.reset()
	var side [2][2]grSide
	sc := e.s
	// Analyse the whole frame first: the stereo mode is chosen per frame.
	for gr := range e.granules {
		for c := range nch {
			e.analyse(c, gr)
		}
	}
	ms := nch == 2 && e.msPays()
	e.header.ModeExtension = 0
	if ms {
		e.header.ModeExtension = mp3tab.ModeExtMS
	}
	for gr := range e.granules {
		for c := range nch {
			ch := &sc.ch[c]
			if ms {
				// Middle/side with the √½ normalisation, so
				// the decoder's L = (M+S)/√2, R = (M−S)/√2 inverts it.
				l, r, dst := &sc.xr[gr][0], &sc.xr[gr][1], &ch.xr
				sgn := 1.0
				if c == 1 {
					sgn = -1
				}
				for i := range dst {
					dst[i] = (l[i] + sgn*r[i]) * math.Sqrt2 / 2
				}
			} else {
				ch.xr = sc.xr[gr][c]
			}
			ch.prepare()
		}
		resv := 8*mdb + gr*meanGr - used // reservoir as seen by this granule
		maxBits := resv + meanGr
		if gr == e.granules-1 {
			maxBits = avail - used
		}
		maxBits = min(maxBits, maxPart23*nch)
		target := min(meanGr+resv/2, maxBits)
		if segEnd {
			// The next frame borrows nothing: spend what is left
			// rather than stuff it.
			target = min((avail-used)/(e.granules-gr), maxBits)
		}
		bits := e.rateControl(target, maxBits)
		used += bits
		for c := range nch {
			ch := &sc.ch[c]
			start := e.md.bits()
			ch.writeHuffman(&e.md, e.sfb)
			if got := e.md.bits() - start; got != ch.part23 {
				return fmt.Errorf("mp3enc: internal error: counted %d bits, wrote %d", ch.part23, got)
			}
			side[gr][c] = grSide{
				gain: ch.gain, bigValues: ch.bigValues, count1Table: ch.count1Table,
				tableSelect: ch.tableSelect, region0: ch.region0, region1: ch.region1,
				part23: ch.part23,
			}
		}
	}
	e.md.align()
	if len(e.md.buf) > mdb+slot {
		return fmt.Errorf("mp3enc: internal error: %d bytes of main data, room for %d", len(e.md.buf), mdb+slot)
	}

	f := pendingFrame{slot: slot}
	hb, err := e.header.Bytes()
	if err != nil {
		return fmt.Errorf("mp3enc: %w", err)
	}
	copy(f.head[:4], hb[:])
	e.side.reset()
	e.writeSideInfo(&e.side, mdb, &side)
	f.headLen = 4 + copy(f.head[4:], e.side.buf)
	if f.headLen != 4+e.sideLen {
		return fmt.Errorf("mp3enc: internal error: side info %d bytes", f.headLen-4)
	}
	e.queue = append(e.queue, f)
	e.fifo = append(e.fifo, e.md.buf...)
	e.emitReady()
	if len(e.out) >= 16<<10 {
		return e.flushOut()
	}
	return nil
}

// msPays reports whether middle/side coding of this frame should cost fewer
// bits than left/right. Huffman bits per line grow with the logarithm of
// the magnitude, so per band the pair with the smaller product of energies
// is cheaper; M/S keeps the total energy, so it is SNR-neutral. Two
// unrelated channels (a dual-track call) stay left/right.
func (e *Encoder) msPays() bool {
	const floor = 1e-9 // per-line energy treated as silence (≈ -90 dBFS)
	var lr, ms float64
	for gr := range e.granules {
		l, r := &e.s.xr[gr][0], &e.s.xr[gr][1]
		for b := range 22 {
			var el, er, em, es float64
			for i := e.sfb[b]; i < e.sfb[b+1]; i++ {
				el += l[i] * l[i]
				er += r[i] * r[i]
				m, s := l[i]+r[i], l[i]-r[i]
				em += m * m
				es += s * s
			}
			w := float64(e.sfb[b+1] - e.sfb[b])
			lr += w * math.Log((el/w+floor)*(er/w+floor))
			ms += w * math.Log((em/w/2+floor)*(es/w/2+floor))
		}
	}
	// Demand a clear saving (0.2 nats per line): for unrelated channels of
	// similar level the two estimates differ only by chance.
	return ms < lr-0.2*576*float64(e.granules)
}

// analyse runs the filterbank and MDCT for granule gr of channel c into
// e.s.xr[gr][c].
func (e *Encoder) analyse(c, gr int) {
	e.analyseSamples(c, e.pcm[c][gr*576:gr*576+576], &e.s.xr[gr][c])
}

// analyseSamples runs the filterbank and MDCT over one granule of channel
// c's input into xr. The result depends only on these 576 samples and the
// 576 + 480 before them (the previous granule's subband samples, and the
// filterbank's 512-tap window), which is what lets NewEncoderAt rebuild the
// state from a short warm-up.
func (e *Encoder) analyseSamples(c int, pcm []float64, xr *[576]float64) {
	var sub [18][32]float64
	for t := range 18 {
		e.fb[c].filter(pcm[t*32:t*32+32], &sub[t])
		if t&1 == 1 {
			// Frequency inversion: the decoder negates odd samples of
			// odd subbands after its IMDCT, so the encoder does so before.
			for sb := 1; sb < 32; sb += 2 {
				sub[t][sb] = -sub[t][sb]
			}
		}
	}
	for sb := range 32 {
		var cur [18]float64
		for t := range 18 {
			cur[t] = sub[t][sb]
		}
		mdct18(&e.prevSub[c][sb], &cur, xr[sb*18:sb*18+18])
		e.prevSub[c][sb] = cur
	}
	aliasReduce(xr)
}

// rateControl quantises every channel of the granule with the smallest
// global gain whose Huffman data fits target bits, then refines the region
// split. It returns the bits used, never more than maxBits, and no channel
// exceeds maxPart23.
//
// All channels share one gain: an equal quantiser step gives equal noise,
// which maximises the signal-to-noise ratio for the bits spent.
func (e *Encoder) rateControl(target, maxBits int) int {
	nch := e.opt.Channels
	steps := &stepCache
	chs := &e.s.ch
	lo := 0
	for c := range nch {
		lo = max(lo, chs[c].minGain(steps))
	}
	quick := func(g int) int {
		sum := 0
		for c := range nch {
			ch := &chs[c]
			ch.quantize(g, steps)
			sum += ch.codeBits(e.sfb, false)
		}
		return sum
	}
	// Bits fall as the gain (the quantiser step) grows. Bracket the
	// smallest fitting gain starting from the previous granule's, which is
	// usually close, then bisect.
	fit, fail := -1, lo-1 // smallest gain known to fit, largest known not to
	failBits := 0
	g0 := min(max(e.prevGain, lo), 255)
	if b := quick(g0); b <= target {
		fit = g0
		for step := 2; fit > lo; step *= 2 {
			g := max(fit-step, lo)
			b := quick(g)
			if b > target {
				fail, failBits = g, b
				break
			}
			fit = g
		}
	} else {
		fail, failBits = g0, b
		for step := 2; fit < 0; step *= 2 {
			g := min(fail+step, 255)
			if b := quick(g); b <= target || g == 255 {
				fit = g
			} else {
				fail, failBits = g, b
			}
		}
	}
	for fit-fail > 1 {
		mid := (fit + fail) / 2
		if b := quick(mid); b <= target {
			fit = mid
		} else {
			fail, failBits = mid, b
		}
	}
	g := fit
	e.prevGain = g
	// At the chosen gain, search the region split, which only ever saves
	// bits. If the saving would let one step finer fit, try it.
	quickBits := quick(g)
	bits := e.searchAll()
	if fail == g-1 && fail >= lo && failBits-(quickBits-bits) <= target {
		e.save()
		e.requantize(g - 1)
		if b := e.searchAll(); b <= target && e.channelsFit() {
			bits = b
		} else {
			e.restore()
		}
	}
	// A channel above the part2_3_length limit gets its own coarser step.
	for c := range nch {
		ch := &e.s.ch[c]
		for ch.part23 > maxPart23 && ch.gain < 255 {
			ch.quantize(ch.gain+1, steps)
			ch.codeBits(e.sfb, true)
		}
	}
	bits = 0
	for c := range nch {
		bits += e.s.ch[c].part23
	}
	for bits > maxBits {
		// Only reachable if the part2_3_length fix-up above pushed the
		// granule over its budget: coarsen every channel, and if the
		// coarsest step still does not fit, send silence.
		bits = 0
		changed := false
		for c := range nch {
			ch := &e.s.ch[c]
			if ch.gain < 255 {
				ch.quantize(ch.gain+1, steps)
				changed = true
			} else if !changed && c == nch-1 {
				for c2 := range nch {
					clear(e.s.ch[c2].ix[:])
				}
			}
		}
		for c := range nch {
			bits += e.s.ch[c].codeBits(e.sfb, true)
		}
	}
	return bits
}

func (e *Encoder) requantize(g int) {
	for c := range e.opt.Channels {
		e.s.ch[c].quantize(g, &stepCache)
	}
}

// searchAll codes every channel's current values with the full region
// search and returns the total bits.
func (e *Encoder) searchAll() int {
	sum := 0
	for c := range e.opt.Channels {
		sum += e.s.ch[c].codeBits(e.sfb, true)
	}
	return sum
}

// save and restore keep one quantisation of all channels so that a failed
// attempt at a finer step does not have to be recomputed.
func (e *Encoder) save() {
	for c := range e.opt.Channels {
		ch := &e.s.ch[c]
		s := &e.s.saved[c]
		s.ix = ch.ix
		s.side = grSide{part23: ch.part23, bigValues: ch.bigValues, gain: ch.gain,
			count1Table: ch.count1Table, tableSelect: ch.tableSelect,
			region0: ch.region0, region1: ch.region1}
		s.count1 = ch.count1
	}
}

func (e *Encoder) restore() {
	for c := range e.opt.Channels {
		ch := &e.s.ch[c]
		s := &e.s.saved[c]
		ch.ix = s.ix
		ch.part23, ch.bigValues, ch.gain = s.side.part23, s.side.bigValues, s.side.gain
		ch.count1Table, ch.tableSelect = s.side.count1Table, s.side.tableSelect
		ch.region0, ch.region1 = s.side.region0, s.side.region1
		ch.count1 = s.count1
	}
}

func (e *Encoder) channelsFit() bool {
	for c := range e.opt.Channels {
		if e.s.ch[c].part23 > maxPart23 {
			return false
		}
	}
	return true
}

// writeSideInfo writes the Layer III side information of 11172-3 (MPEG-1) or
// 13818-3 (LSF) with all scalefactors zero and long blocks only.
func (e *Encoder) writeSideInfo(bw *bitWriter, mdb int, side *[2][2]grSide) {
	nch := e.opt.Channels
	if e.granules == 2 {
		bw.put(uint32(mdb), 9)
		if nch == 1 {
			bw.put(0, 5) // private bits
		} else {
			bw.put(0, 3)
		}
		bw.put(0, 4*nch) // scfsi: scalefactors are sent in every granule
	} else {
		bw.put(uint32(mdb), 8)
		bw.put(0, nch) // private bits
	}
	for gr := range e.granules {
		for c := range nch {
			s := &side[gr][c]
			bw.put(uint32(s.part23), 12)
			bw.put(uint32(s.bigValues), 9)
			bw.put(uint32(s.gain), 8)
			if e.granules == 2 {
				bw.put(0, 4) // scalefac_compress 0: slen1 = slen2 = 0
			} else {
				bw.put(0, 9) // scalefac_compress 0: all slen 0, no preflag
			}
			bw.put(0, 1) // window_switching_flag: long blocks only
			for r := range 3 {
				bw.put(uint32(s.tableSelect[r]), 5)
			}
			bw.put(uint32(s.region0), 4)
			bw.put(uint32(s.region1), 3)
			if e.granules == 2 {
				bw.put(0, 1) // preflag
			}
			bw.put(0, 1) // scalefac_scale
			bw.put(uint32(s.count1Table), 1)
		}
	}
	bw.align()
}
