package mp3dec

import (
	"math"
	"sync"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// granule is the side information of one granule of one channel.
type granule struct {
	part23Length     int
	bigValues        int
	globalGain       int
	scalefacCompress int
	windowSwitching  bool
	blockType        int
	mixed            bool
	tableSelect      [3]int
	subblockGain     [3]int
	region0Count     int
	region1Count     int
	preflag          bool
	scalefacScale    int
	count1Table      int
}

type sideInfo struct {
	mainDataBegin int
	scfsi         [2][4]bool
	gr            [2][2]granule // [granule][channel]
}

// scalefactors of one granule and channel: long bands 0..21 and short
// bands 0..12 per window. isMax holds, for MPEG-2 intensity stereo, the
// largest value each band's scalefactor can take (which marks "no
// intensity position").
type scalefactors struct {
	l     [22]int
	s     [13][3]int
	lMax  [22]int
	sMax  [13][3]int
	valid bool
}

const (
	// reservoirSize keeps the last 511 bytes of main data (the most
	// main_data_begin can point back) plus one frame's worth being appended.
	reservoirSize = 511 + maxFrameSize
)

// layer3 is the Layer III decoding state of one stream.
type layer3 struct {
	h        mp3tab.Header
	channels int
	lsf      bool
	sfbL     []int
	sfbS     []int
	// shortPos[w][j] is where line j of short window w sits in the
	// band-grouped order the bitstream uses (band, then window, then line).
	shortPos [3][192]int16

	res    [reservoirSize + 8]byte // +8: bitReader's fast path reads 8 bytes
	resLen int
	br     bitReader

	si  sideInfo
	sf  [2]scalefactors // granule 0's scalefactors stay for MPEG-1 scfsi
	xr  [2][576]float64
	nz  [2]int // lines after the last nonzero Huffman value, per channel
	out [2][1152]float32

	// blockTypes counts decoded granules by block type (4 = mixed), for
	// tests that need to know which code paths a file exercises.
	blockTypes [5]int
	msFrames   int // frames with middle/side stereo on
	isFrames   int // frames with intensity stereo on

	overlap [2][32][18]float64
	synth   [2]synthesis
	luts    *[34]huffLUT
}

func (l *layer3) init(h mp3tab.Header) {
	l.h = h
	l.channels = h.Channels()
	l.lsf = h.Version.LSF()
	l.sfbL = mp3tab.SFBLong(h.SampleRate)
	l.sfbS = mp3tab.SFBShort(h.SampleRate)
	for sfb := 0; sfb < 13; sfb++ {
		lo, hi := l.sfbS[sfb], l.sfbS[sfb+1]
		w := hi - lo
		for win := 0; win < 3; win++ {
			for j := lo; j < hi; j++ {
				l.shortPos[win][j] = int16(3*lo + win*w + (j - lo))
			}
		}
	}
	l.luts = tables()
	initTables()
	initSynth()
}

// decodeFrame decodes one frame into l.out and returns the number of
// samples per channel. A frame whose bit reservoir is missing or whose data
// is corrupt still yields its samples (silence where data is missing), so
// the output length stays that of the stream.
func (l *layer3) decodeFrame(h mp3tab.Header, f []byte, out *[2][1152]float32) int {
	l.h = h
	if h.ChannelMode == mp3tab.JointStereo {
		l.msFrames += h.ModeExtension >> 1 & 1
		l.isFrames += h.ModeExtension & 1
	}
	pos := 4
	if h.CRC {
		pos += 2
	}
	sideLen := h.SideInfoSize()
	ngr := h.Granules()
	ok := len(f) >= pos+sideLen && l.readSideInfo(f[pos:pos+sideLen])
	var main []byte
	if len(f) >= pos+sideLen {
		main = f[pos+sideLen:]
	}
	// Assemble this frame's main data: the tail of the reservoir that
	// main_data_begin points back to, then this frame's bytes.
	start := l.resLen - l.si.mainDataBegin
	if !ok || start < 0 {
		ok = false
		start = l.resLen
	}
	n := copy(l.res[l.resLen:reservoirSize], main)
	end := l.resLen + n
	clear(l.res[end:])
	l.br.reset(l.res[start:end])
	bitsAvail := (end - start) * 8

	bitPos := 0
	for gr := 0; gr < ngr; gr++ {
		for ch := 0; ch < l.channels; ch++ {
			g := &l.si.gr[gr][ch]
			if ok && bitPos+g.part23Length > bitsAvail {
				ok = false // the granule runs past the data we have
			}
			if ok {
				bt := g.blockType
				if g.mixed && bt == 2 {
					bt = 4
				}
				l.blockTypes[bt]++
				l.br.pos = bitPos
				l.readScalefactors(gr, ch, g)
				l.readSpectrum(ch, g, bitPos+g.part23Length)
				bitPos += g.part23Length
			} else {
				clear(l.xr[ch][:])
				l.nz[ch] = 0
				l.sf[ch].valid = false
			}
		}
		if ok {
			l.stereo(gr)
		}
		for ch := 0; ch < l.channels; ch++ {
			g := &l.si.gr[gr][ch]
			if !ok {
				*g = granule{}
			}
			l.hybrid(ch, g, out[ch][gr*576:gr*576+576])
		}
	}

	// Keep the last 511 bytes for the next frame's main_data_begin.
	if end > 511 {
		copy(l.res[:], l.res[end-511:end])
		l.resLen = 511
	} else {
		l.resLen = end
	}
	return ngr * 576
}

func (l *layer3) readSideInfo(b []byte) bool {
	var br bitReader
	br.reset(b)
	si := &l.si
	nch := l.channels
	if l.lsf {
		si.mainDataBegin = br.bits(8)
		br.bits(nch) // private bits
	} else {
		si.mainDataBegin = br.bits(9)
		if nch == 1 {
			br.bits(5)
		} else {
			br.bits(3)
		}
		for ch := 0; ch < nch; ch++ {
			for k := 0; k < 4; k++ {
				si.scfsi[ch][k] = br.bit() == 1
			}
		}
	}
	ngr := 2
	if l.lsf {
		ngr = 1
	}
	for gr := 0; gr < ngr; gr++ {
		for ch := 0; ch < nch; ch++ {
			g := &si.gr[gr][ch]
			*g = granule{}
			g.part23Length = br.bits(12)
			g.bigValues = br.bits(9)
			g.globalGain = br.bits(8)
			if l.lsf {
				g.scalefacCompress = br.bits(9)
			} else {
				g.scalefacCompress = br.bits(4)
			}
			g.windowSwitching = br.bit() == 1
			if g.windowSwitching {
				g.blockType = br.bits(2)
				g.mixed = br.bit() == 1
				for k := 0; k < 2; k++ {
					g.tableSelect[k] = br.bits(5)
				}
				for k := 0; k < 3; k++ {
					g.subblockGain[k] = br.bits(3)
				}
				if g.blockType == 0 {
					return false // forbidden: window switching needs a block type
				}
			} else {
				for k := 0; k < 3; k++ {
					g.tableSelect[k] = br.bits(5)
				}
				g.region0Count = br.bits(4)
				g.region1Count = br.bits(3)
			}
			if !l.lsf {
				g.preflag = br.bit() == 1
			}
			g.scalefacScale = br.bit()
			g.count1Table = br.bit()
			if g.bigValues > 288 {
				return false
			}
		}
	}
	return true
}

// readScalefactors reads part 2 of a granule: the scalefactors.
func (l *layer3) readScalefactors(gr, ch int, g *granule) {
	sf := &l.sf[ch]
	br := &l.br
	short := g.windowSwitching && g.blockType == 2
	if !l.lsf {
		slen1 := mp3tab.Slen[0][g.scalefacCompress]
		slen2 := mp3tab.Slen[1][g.scalefacCompress]
		switch {
		case short && g.mixed:
			for sfb := 0; sfb < 8; sfb++ {
				sf.l[sfb] = br.bits(slen1)
			}
			for sfb := 3; sfb < 12; sfb++ {
				n := slen1
				if sfb >= 6 {
					n = slen2
				}
				for w := 0; w < 3; w++ {
					sf.s[sfb][w] = br.bits(n)
				}
			}
		case short:
			for sfb := 0; sfb < 12; sfb++ {
				n := slen1
				if sfb >= 6 {
					n = slen2
				}
				for w := 0; w < 3; w++ {
					sf.s[sfb][w] = br.bits(n)
				}
			}
		default:
			bands := [5]int{0, 6, 11, 16, 21}
			for k := 0; k < 4; k++ {
				n := slen1
				if k >= 2 {
					n = slen2
				}
				reuse := gr == 1 && l.si.scfsi[ch][k] && sf.valid
				for sfb := bands[k]; sfb < bands[k+1]; sfb++ {
					if !reuse {
						sf.l[sfb] = br.bits(n)
					}
				}
			}
		}
		sf.l[21] = 0
		for w := 0; w < 3; w++ {
			sf.s[12][w] = 0
		}
		sf.valid = true
		return
	}

	// MPEG-2 / 2.5: four partitions of bands, each with its own bit length.
	isRight := ch == 1 && l.h.ChannelMode == mp3tab.JointStereo && l.h.ModeExtension&mp3tab.ModeExtIntensity != 0
	slen, nr, preflag := mp3tab.LSFScalefacLayout(g.scalefacCompress, isRight, g.blockType*b2i(g.windowSwitching), g.mixed)
	g.preflag = preflag
	*sf = scalefactors{valid: true}
	var vals [39]int
	var maxs [39]int
	k := 0
	for p := 0; p < 4; p++ {
		for i := 0; i < nr[p]; i++ {
			vals[k] = br.bits(slen[p])
			maxs[k] = 1<<slen[p] - 1
			k++
		}
	}
	k = 0
	switch {
	case short && g.mixed:
		for sfb := 0; sfb < 6; sfb++ {
			sf.l[sfb], sf.lMax[sfb] = vals[k], maxs[k]
			k++
		}
		for sfb := 3; sfb < 12; sfb++ {
			for w := 0; w < 3; w++ {
				sf.s[sfb][w], sf.sMax[sfb][w] = vals[k], maxs[k]
				k++
			}
		}
	case short:
		for sfb := 0; sfb < 12; sfb++ {
			for w := 0; w < 3; w++ {
				sf.s[sfb][w], sf.sMax[sfb][w] = vals[k], maxs[k]
				k++
			}
		}
	default:
		for sfb := 0; sfb < 21; sfb++ {
			sf.l[sfb], sf.lMax[sfb] = vals[k], maxs[k]
			k++
		}
	}
	// The top band has no scalefactor; intensity stereo takes its position
	// from the band below.
	sf.lMax[21] = sf.lMax[20]
	sf.sMax[12] = sf.sMax[11]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readSpectrum Huffman-decodes part 3 of a granule up to bit end and
// requantizes it into l.xr[ch], in bitstream order.
func (l *layer3) readSpectrum(ch int, g *granule, end int) {
	br := &l.br
	var is [576]int
	bigEnd := min(g.bigValues*2, 576)
	var region1, region2 int
	if g.windowSwitching {
		if g.blockType == 2 {
			region1 = l.sfbS[3] * 3
		} else {
			region1 = l.sfbL[8]
		}
		region2 = 576
	} else {
		region1 = l.sfbL[min(g.region0Count+1, 22)]
		region2 = l.sfbL[min(g.region0Count+g.region1Count+2, 22)]
	}
	region1 = min(region1, bigEnd)
	region2 = min(region2, bigEnd)

	i := 0
	bad := false
	for r := 0; r < 3 && !bad; r++ {
		limit := [3]int{region1, region2, bigEnd}[r]
		tsel := g.tableSelect[r]
		if tsel == 0 {
			i = max(i, limit)
			continue
		}
		if tsel == 4 || tsel == 14 {
			bad = true
			break
		}
		lut := &l.luts[tsel]
		linbits := mp3tab.Huff[tsel].Linbits
		for ; i < limit; i += 2 {
			if br.pos >= end {
				bad = true
				break
			}
			sym, ok := lut.decode(br)
			if !ok {
				bad = true
				break
			}
			x, y := sym>>4, sym&15
			if x == 15 && linbits > 0 {
				x += br.bits(linbits)
			}
			if x != 0 && br.bit() == 1 {
				x = -x
			}
			if y == 15 && linbits > 0 {
				y += br.bits(linbits)
			}
			if y != 0 && br.bit() == 1 {
				y = -y
			}
			is[i], is[i+1] = x, y
		}
	}
	if bad || br.pos > end {
		// Corrupt data: keep nothing from this granule.
		clear(l.xr[ch][:])
		l.nz[ch] = 0
		return
	}

	// count1 region: quadruples of -1/0/1 until the granule's bits run out.
	lut := &l.luts[32+g.count1Table]
	for i+4 <= 576 && br.pos < end {
		save := br.pos
		sym, ok := lut.decode(br)
		if !ok {
			break
		}
		var q [4]int
		for k := 0; k < 4; k++ {
			if sym&(8>>k) != 0 {
				q[k] = 1
				if br.bit() == 1 {
					q[k] = -1
				}
			}
		}
		if br.pos > end {
			// The last quadruple overran part2_3_length: encoders leave
			// stuffing there, it is not a value.
			br.pos = save
			break
		}
		is[i], is[i+1], is[i+2], is[i+3] = q[0], q[1], q[2], q[3]
		i += 4
	}
	nz := i
	for nz > 0 && is[nz-1] == 0 {
		nz--
	}
	l.nz[ch] = nz
	l.requantize(ch, g, &is, nz)
}

// requantize computes xr = sign(is) * |is|^(4/3) * 2^(gain/4) per band.
func (l *layer3) requantize(ch int, g *granule, is *[576]int, nz int) {
	xr := &l.xr[ch]
	clear(xr[:])
	sf := &l.sf[ch]
	sfShift := 2
	if g.scalefacScale == 1 {
		sfShift = 4
	}
	base := g.globalGain - 210
	short := g.windowSwitching && g.blockType == 2
	longEnd := 22 // long bands
	shortStart := 13
	if short {
		if g.mixed {
			if l.lsf {
				longEnd = 6
			} else {
				longEnd = 8
			}
			shortStart = 3
		} else {
			longEnd = 0
			shortStart = 0
		}
	}
	for sfb := 0; sfb < longEnd; sfb++ {
		lo, hi := l.sfbL[sfb], min(l.sfbL[sfb+1], nz)
		if lo >= hi {
			break
		}
		s := sf.l[sfb]
		if g.preflag {
			s += mp3tab.Pretab[sfb]
		}
		gain := gainPow(base - sfShift*s)
		for i := lo; i < hi; i++ {
			xr[i] = pow43(is[i]) * gain
		}
	}
	for sfb := shortStart; sfb < 13; sfb++ {
		lo, hi := l.sfbS[sfb], l.sfbS[sfb+1]
		w := hi - lo
		if 3*lo >= nz {
			break
		}
		for win := 0; win < 3; win++ {
			gain := gainPow(base - 8*g.subblockGain[win] - sfShift*sf.s[sfb][win])
			p := 3*lo + win*w
			for i := p; i < p+w && i < nz; i++ {
				xr[i] = pow43(is[i]) * gain
			}
		}
	}
}

var (
	pow43Tab   [8207]float64 // |is| <= 15 + 2^13 - 1
	gainTab    [512]float64  // 2^((q-gainBias)/4)
	isRatio1   [7][2]float64 // MPEG-1 intensity (left, right) factors
	isRatio2   [2][64][2]float64
	tablesInit sync.Once
)

const gainBias = 384

// initTables fills the package's math tables once; they are read-only
// functions of constants, shared by all decoders.
func initTables() {
	tablesInit.Do(func() {
		for i := range pow43Tab {
			pow43Tab[i] = math.Pow(float64(i), 4.0/3.0)
		}
		for i := range gainTab {
			gainTab[i] = math.Exp2(float64(i-gainBias) / 4)
		}
		for p := 0; p < 7; p++ {
			r := math.Tan(float64(p) * math.Pi / 12)
			isRatio1[p] = [2]float64{r / (1 + r), 1 / (1 + r)}
		}
		for s := 0; s < 2; s++ {
			io := math.Exp2(-0.25 * float64(s+1))
			for p := 0; p < 64; p++ {
				switch {
				case p == 0:
					isRatio2[s][p] = [2]float64{1, 1}
				case p&1 == 1:
					isRatio2[s][p] = [2]float64{math.Pow(io, float64(p+1)/2), 1}
				default:
					isRatio2[s][p] = [2]float64{1, math.Pow(io, float64(p)/2)}
				}
			}
		}
	})
}

func pow43(v int) float64 {
	if v < 0 {
		return -pow43Tab[min(-v, len(pow43Tab)-1)]
	}
	return pow43Tab[min(v, len(pow43Tab)-1)]
}

func gainPow(q int) float64 {
	i := q + gainBias
	if i < 0 {
		return 0
	}
	return gainTab[min(i, len(gainTab)-1)]
}
