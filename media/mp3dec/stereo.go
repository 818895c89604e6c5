package mp3dec

import (
	"math"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// stereo undoes joint-stereo coding of granule gr in l.xr (bitstream
// order): middle/side, and intensity stereo above the last nonzero line of
// the right channel.
func (l *layer3) stereo(gr int) {
	if l.channels != 2 || l.h.ChannelMode != mp3tab.JointStereo {
		return
	}
	ms := l.h.ModeExtension&mp3tab.ModeExtMS != 0
	if l.h.ModeExtension&mp3tab.ModeExtIntensity == 0 {
		if ms {
			l.msLines(0, 576)
		}
		return
	}
	g := &l.si.gr[gr][1] // intensity positions live in the right channel
	sf := &l.sf[1]
	xr1 := &l.xr[1]
	short := g.windowSwitching && g.blockType == 2
	longEnd, shortStart := 22, 13
	if short {
		longEnd, shortStart = 0, 0
		if g.mixed {
			shortStart = 3
			longEnd = 8
			if l.lsf {
				longEnd = 6
			}
		}
	}

	// Short bands, window by window: intensity starts above the window's
	// last band with a nonzero right-channel line.
	shortNonzero := false
	for w := 0; w < 3 && shortStart < 13; w++ {
		start := shortStart
		for sfb := 12; sfb >= shortStart; sfb-- {
			lo, hi := l.sfbS[sfb], l.sfbS[sfb+1]
			p := 3*lo + w*(hi-lo)
			if anyNonzero(xr1[p : p+hi-lo]) {
				start = sfb + 1
				shortNonzero = true
				break
			}
		}
		for sfb := shortStart; sfb < 13; sfb++ {
			lo, hi := l.sfbS[sfb], l.sfbS[sfb+1]
			p := 3*lo + w*(hi-lo)
			src := min(sfb, 11)
			if sfb < start || !l.intensity(g, sf.s[src][w], sf.sMax[sfb][w], p, p+hi-lo) {
				if ms {
					l.msLines(p, p+hi-lo)
				}
			}
		}
	}

	// Long bands: intensity starts at the first band wholly above the last
	// nonzero right-channel line (none if a short band of a mixed block
	// has data).
	start := longEnd
	if !shortNonzero {
		start = 0
		for start < longEnd && l.sfbL[start] < l.nz[1] {
			start++
		}
	}
	for sfb := 0; sfb < longEnd; sfb++ {
		lo, hi := l.sfbL[sfb], l.sfbL[sfb+1]
		src := min(sfb, 20)
		if sfb < start || !l.intensity(g, sf.l[src], sf.lMax[sfb], lo, hi) {
			if ms {
				l.msLines(lo, hi)
			}
		}
	}
}

// intensity applies intensity stereo with position pos to lines [lo, hi)
// and reports whether pos was a legal position (else the band is coded
// as plain or M/S stereo).
func (l *layer3) intensity(g *granule, pos, illegal, lo, hi int) bool {
	var kl, kr float64
	if !l.lsf {
		if pos >= 7 {
			return false
		}
		kl, kr = isRatio1[pos][0], isRatio1[pos][1]
	} else {
		if pos == illegal || pos < 0 || pos >= 64 {
			return false
		}
		r := isRatio2[g.scalefacCompress&1][pos]
		kl, kr = r[0], r[1]
	}
	x0, x1 := &l.xr[0], &l.xr[1]
	for i := lo; i < hi; i++ {
		v := x0[i]
		x0[i] = v * kl
		x1[i] = v * kr
	}
	return true
}

func (l *layer3) msLines(lo, hi int) {
	x0, x1 := &l.xr[0], &l.xr[1]
	for i := lo; i < hi; i++ {
		m, s := x0[i], x1[i]
		x0[i] = (m + s) * math.Sqrt2 / 2
		x1[i] = (m - s) * math.Sqrt2 / 2
	}
}

func anyNonzero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return true
		}
	}
	return false
}
