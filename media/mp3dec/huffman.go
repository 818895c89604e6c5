package mp3dec

import (
	"sync"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// huffLUT is a two-level lookup table built from one of mp3tab's code
// tables: the first level is indexed by the next primaryBits bits; codes
// longer than that point to a second-level table indexed by the bits that
// follow. This decodes any code with at most two table reads.
//
// Entry layout: bit 31 set means "second level": bits 16..23 hold the
// second level's index width and bits 0..15 its offset. Otherwise bits
// 16..23 hold the total code length and bits 0..15 the symbol (x<<4|y, or
// the count1 quadruple). Length 0 marks a bit pattern that is no code.
type huffLUT struct {
	primary int
	entries []uint32
}

const primaryBits = 8

var (
	lutOnce sync.Once
	luts    [34]huffLUT
)

// tables returns the decode tables, built once from mp3tab on first use.
func tables() *[34]huffLUT {
	lutOnce.Do(func() {
		for i := range mp3tab.Huff {
			t := &mp3tab.Huff[i]
			if t.Size == 0 {
				continue
			}
			if i > 16 && i < 24 && luts[16].entries != nil {
				luts[i] = luts[16] // same codes as table 16, other linbits
				continue
			}
			if i > 24 && i < 32 && luts[24].entries != nil {
				luts[i] = luts[24]
				continue
			}
			luts[i] = buildLUT(t, i >= 32)
		}
	})
	return &luts
}

// buildLUT builds the decode table of t; quad marks the count1 tables,
// whose symbol is the plain index v<<3|w<<2|x<<1|y.
func buildLUT(t *mp3tab.HuffTable, quad bool) huffLUT {
	maxLen := 0
	for _, n := range t.Lens {
		maxLen = max(maxLen, int(n))
	}
	p := min(primaryBits, maxLen)
	l := huffLUT{primary: p, entries: make([]uint32, 1<<p)}
	// Longest code below each first-level prefix decides the width of that
	// prefix's second-level table.
	subMax := make([]int, 1<<p)
	for j, c := range t.Codes {
		n := int(t.Lens[j])
		if n > p {
			pre := int(c >> (n - p))
			subMax[pre] = max(subMax[pre], n-p)
		}
	}
	for pre, w := range subMax {
		if w > 0 {
			l.entries[pre] = 1<<31 | uint32(w)<<16 | uint32(len(l.entries))
			l.entries = append(l.entries, make([]uint32, 1<<w)...)
		}
	}
	for j, c := range t.Codes {
		n := int(t.Lens[j])
		sym := uint32(j/t.Size)<<4 | uint32(j%t.Size)
		if quad {
			sym = uint32(j)
		}
		leaf := uint32(n)<<16 | sym
		if n <= p {
			base := int(c) << (p - n)
			for k := 0; k < 1<<(p-n); k++ {
				l.entries[base+k] = leaf
			}
			continue
		}
		pre := int(c >> (n - p))
		e := l.entries[pre]
		w := int(e>>16) & 0xFF
		off := int(e & 0xFFFF)
		suffix := int(c) & (1<<(n-p) - 1)
		base := off + suffix<<(w-(n-p))
		for k := 0; k < 1<<(w-(n-p)); k++ {
			l.entries[base+k] = leaf
		}
	}
	return l
}

// decode reads one code and returns its symbol, or ok=false for a bit
// pattern that is not a code.
func (l *huffLUT) decode(br *bitReader) (sym int, ok bool) {
	v := br.peek32()
	e := l.entries[v>>(32-l.primary)]
	if e&(1<<31) != 0 {
		w := int(e>>16) & 0xFF
		off := int(e & 0xFFFF)
		e = l.entries[off+int((v<<l.primary)>>(32-w))]
	}
	n := int(e>>16) & 0xFF
	if n == 0 {
		return 0, false
	}
	br.pos += n
	return int(e & 0xFFFF), true
}
