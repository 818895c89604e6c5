package mp3enc

import "github.com/recvault/recvault/media/internal/mp3tab"

// tableCap[t] is the largest absolute value big_values table t can code
// (with linbits for tables 16..31); -1 marks the unusable tables 4 and 14.
var tableCap = func() (c [32]int) {
	for t := range 32 {
		h := &mp3tab.Huff[t]
		switch {
		case t == 0:
			c[t] = 0
		case len(h.Lens) == 0:
			c[t] = -1
		case h.Linbits > 0:
			c[t] = 15 + 1<<h.Linbits - 1
		default:
			c[t] = h.Size - 1
		}
	}
	return c
}()

// noEscGroup[m] lists the tables without linbits of the smallest size able to
// code values up to m (m ≤ 15). Tables of one size share the pair index, so
// a single pass over the data prices them all.
var noEscGroup = [16][]int{
	1: {1}, 2: {2, 3}, 3: {5, 6}, 4: {7, 8, 9}, 5: {7, 8, 9},
	6: {10, 11, 12}, 7: {10, 11, 12},
	8: {13, 15}, 9: {13, 15}, 10: {13, 15}, 11: {13, 15}, 12: {13, 15},
	13: {13, 15}, 14: {13, 15}, 15: {13, 15},
}

// escTable returns the table of the family starting at first (16 or 24)
// with the fewest linbits able to code m.
func escTable(first, m int) int {
	for t := first; t < first+8; t++ {
		if tableCap[t] >= m {
			return t
		}
	}
	return -1
}

// regionTable picks the cheapest table for the pairs in ix and returns it
// with the bits it costs, sign bits and linbits included.
func regionTable(ix []int32) (table, bits int) {
	var mx int32
	nz := 0
	for _, v := range ix {
		mx = max(mx, v)
		if v != 0 {
			nz++
		}
	}
	if mx == 0 {
		return 0, 0
	}
	if mx <= 15 {
		g := noEscGroup[mx]
		size := mp3tab.Huff[g[0]].Size
		var sum [3]int
		switch len(g) {
		case 1:
			l := mp3tab.Huff[g[0]].Lens
			for i := 0; i+1 < len(ix); i += 2 {
				sum[0] += int(l[int(ix[i])*size+int(ix[i+1])])
			}
		case 2:
			l0, l1 := mp3tab.Huff[g[0]].Lens, mp3tab.Huff[g[1]].Lens
			for i := 0; i+1 < len(ix); i += 2 {
				k := int(ix[i])*size + int(ix[i+1])
				sum[0] += int(l0[k])
				sum[1] += int(l1[k])
			}
		case 3:
			l0, l1, l2 := mp3tab.Huff[g[0]].Lens, mp3tab.Huff[g[1]].Lens, mp3tab.Huff[g[2]].Lens
			for i := 0; i+1 < len(ix); i += 2 {
				k := int(ix[i])*size + int(ix[i+1])
				sum[0] += int(l0[k])
				sum[1] += int(l1[k])
				sum[2] += int(l2[k])
			}
		}
		best := 0
		for j := 1; j < len(g); j++ {
			if sum[j] < sum[best] {
				best = j
			}
		}
		return g[best], sum[best] + nz
	}
	la, lb := mp3tab.Huff[16].Lens, mp3tab.Huff[24].Lens
	sa, sb, esc := 0, 0, 0
	for i := 0; i+1 < len(ix); i += 2 {
		x, y := ix[i], ix[i+1]
		if x >= 15 {
			x = 15
			esc++
		}
		if y >= 15 {
			y = 15
			esc++
		}
		k := int(x)*16 + int(y)
		sa += int(la[k])
		sb += int(lb[k])
	}
	ta, tb := escTable(16, int(mx)), escTable(24, int(mx))
	ca := sa + esc*mp3tab.Huff[ta].Linbits
	cb := sb + esc*mp3tab.Huff[tb].Linbits
	if ca <= cb {
		return ta, ca + nz
	}
	return tb, cb + nz
}

// count1Bits prices the count1 region with tables A and B and returns the
// cheaper table and its cost.
func count1Bits(ix []int32) (table, bits int) {
	la := &mp3tab.Count1[0].Lens
	sa, nz := 0, 0
	for i := 0; i+3 < len(ix); i += 4 {
		k := ix[i]<<3 | ix[i+1]<<2 | ix[i+2]<<1 | ix[i+3]
		sa += int(la[k])
		nz += int(ix[i] + ix[i+1] + ix[i+2] + ix[i+3])
	}
	sb := 4 * (len(ix) / 4)
	if sa <= sb {
		return 0, sa + nz
	}
	return 1, sb + nz
}

// partition finds the end of the non-zero data and splits it into the
// big_values pairs and the count1 quadruples (all values ≤ 1).
func partition(ix *[576]int32) (bigValues, count1 int) {
	n := 576
	for n > 0 && ix[n-1] == 0 {
		n--
	}
	n += n & 1
	i := n
	for i >= 4 && ix[i-1]|ix[i-2]|ix[i-3]|ix[i-4] <= 1 {
		i -= 4
	}
	return i / 2, (n - i) / 4
}

// regionBounds returns the line indices where regions 1 and 2 start for
// the given region counts, clipped to the end of big_values.
func regionBounds(sfb []int, bigValues, r0, r1 int) (s1, s2 int) {
	end := 2 * bigValues
	s1 = min(sfb[min(r0+1, 22)], end)
	s2 = min(sfb[min(r0+r1+2, 22)], end)
	return s1, s2
}

// bandsIn returns how many scalefactor bands start below line end.
func bandsIn(sfb []int, end int) int {
	nb := 0
	for nb < 22 && sfb[nb] < end {
		nb++
	}
	return nb
}

// quickSplit chooses region counts without searching: region 0 and region 1
// each take about a third of the coded bands. Used inside the rate loop,
// where speed matters more than the last few bits.
func quickSplit(nb int) (r0, r1 int) {
	third := (nb + 2) / 3
	r0 = min(max(third-1, 0), 15)
	r1 = min(max(third-1, 0), 7)
	return r0, r1
}

// codeBits fills c's Huffman side info for its quantised values and returns
// part2_3_length. With search it tries every region split; otherwise it
// uses quickSplit.
func (c *chanGranule) codeBits(sfb []int, search bool) int {
	c.bigValues, c.count1 = partition(&c.ix)
	end := 2 * c.bigValues
	c1t, bits := count1Bits(c.ix[end : end+4*c.count1])
	c.count1Table = c1t
	c.tableSelect = [3]int{}
	c.region0, c.region1 = 0, 0
	if c.bigValues == 0 {
		c.part23 = bits
		return bits
	}
	nb := bandsIn(sfb, end)
	if search {
		bits += c.searchSplit(sfb, nb)
	} else {
		c.region0, c.region1 = quickSplit(nb)
		s1, s2 := regionBounds(sfb, c.bigValues, c.region0, c.region1)
		var b0, b1, b2 int
		c.tableSelect[0], b0 = regionTable(c.ix[:s1])
		c.tableSelect[1], b1 = regionTable(c.ix[s1:s2])
		c.tableSelect[2], b2 = regionTable(c.ix[s2:end])
		bits += b0 + b1 + b2
	}
	c.part23 = bits
	return bits
}

// bandStat is the cost of one scalefactor band of big_values data under
// every table that can code it.
type bandStat struct {
	max, nz, esc int
	lens         [32]int // Huffman code bits without signs or linbits; valid where max fits
}

// searchSplit tries every (region0_count, region1_count) and keeps the split
// and tables with the fewest bits, which it returns. Band costs are
// computed once so each split is priced by sums.
func (c *chanGranule) searchSplit(sfb []int, nb int) int {
	end := 2 * c.bigValues
	var st [22]bandStat
	for b := range nb {
		lo, hi := sfb[b], min(sfb[b+1], end)
		s := &st[b]
		for i := lo; i < hi; i++ {
			v := int(c.ix[i])
			s.max = max(s.max, v)
			if v != 0 {
				s.nz++
			}
			if v >= 15 {
				s.esc++
			}
		}
		// An all-zero band still costs the (0,0) codes when its region is
		// not all zero, so it is priced like any other.
		for t := 1; t < 32; t++ {
			if t == 4 || t == 14 || (t > 16 && t != 24) {
				continue
			}
			if t < 16 && tableCap[t] < s.max {
				continue
			}
			h := &mp3tab.Huff[t]
			sum := 0
			for i := lo; i+1 < hi; i += 2 {
				x, y := min(int(c.ix[i]), 15), min(int(c.ix[i+1]), 15)
				sum += int(h.Lens[x*h.Size+y])
			}
			s.lens[t] = sum
		}
	}
	// regionCost prices bands [b1, b2) with their best table.
	regionCost := func(b1, b2 int) (int, int) {
		if b1 >= b2 {
			return 0, 0
		}
		mx, nz, esc := 0, 0, 0
		for b := b1; b < b2; b++ {
			mx = max(mx, st[b].max)
			nz += st[b].nz
			esc += st[b].esc
		}
		if mx == 0 {
			return 0, 0
		}
		bestT, best := -1, 1<<30
		if mx <= 15 {
			for t := 1; t < 16; t++ {
				if tableCap[t] < mx {
					continue
				}
				sum := 0
				for b := b1; b < b2; b++ {
					sum += st[b].lens[t]
				}
				if sum < best {
					bestT, best = t, sum
				}
			}
		}
		for _, first := range [2]int{16, 24} {
			t := escTable(first, mx)
			sum := esc * mp3tab.Huff[t].Linbits
			for b := b1; b < b2; b++ {
				sum += st[b].lens[first]
			}
			if sum < best {
				bestT, best = t, sum
			}
		}
		return bestT, best + nz
	}
	type cand struct{ r0, r1, bits int }
	bestC := cand{bits: 1 << 30}
	var memo [23][23]int
	var memoT [23][23]int
	var have [23][23]bool
	cost := func(b1, b2 int) (int, int) {
		if !have[b1][b2] {
			memoT[b1][b2], memo[b1][b2] = regionCost(b1, b2)
			have[b1][b2] = true
		}
		return memoT[b1][b2], memo[b1][b2]
	}
	for r0 := range 16 {
		a := r0 + 1
		if a >= nb {
			_, b := cost(0, nb)
			if b < bestC.bits {
				bestC = cand{r0, 0, b}
			}
			break
		}
		_, b0 := cost(0, a)
		for r1 := range 8 {
			cc := a + r1 + 1
			if cc > 22 {
				break
			}
			cc = min(cc, nb)
			_, b1 := cost(a, cc)
			_, b2 := cost(cc, nb)
			if t := b0 + b1 + b2; t < bestC.bits {
				bestC = cand{r0, r1, t}
			}
			if cc == nb {
				break
			}
		}
	}
	c.region0, c.region1 = bestC.r0, bestC.r1
	a := min(bestC.r0+1, nb)
	cc := min(bestC.r0+bestC.r1+2, nb)
	c.tableSelect[0], _ = cost(0, a)
	c.tableSelect[1], _ = cost(a, cc)
	c.tableSelect[2], _ = cost(cc, nb)
	return bestC.bits
}

// writeHuffman writes c's big_values and count1 data.
func (c *chanGranule) writeHuffman(bw *bitWriter, sfb []int) {
	end := 2 * c.bigValues
	s1, s2 := regionBounds(sfb, c.bigValues, c.region0, c.region1)
	for i := 0; i < end; i += 2 {
		t := c.tableSelect[0]
		if i >= s2 {
			t = c.tableSelect[2]
		} else if i >= s1 {
			t = c.tableSelect[1]
		}
		if t == 0 {
			continue
		}
		h := &mp3tab.Huff[t]
		x, y := int(c.ix[i]), int(c.ix[i+1])
		xc, yc := x, y
		if h.Linbits > 0 {
			xc, yc = min(x, 15), min(y, 15)
		}
		k := xc*h.Size + yc
		bw.put(h.Codes[k], int(h.Lens[k]))
		if x != 0 {
			if h.Linbits > 0 && x >= 15 {
				bw.put(uint32(x-15), h.Linbits)
			}
			bw.put(uint32(c.sign[i]), 1)
		}
		if y != 0 {
			if h.Linbits > 0 && y >= 15 {
				bw.put(uint32(y-15), h.Linbits)
			}
			bw.put(uint32(c.sign[i+1]), 1)
		}
	}
	tab := &mp3tab.Count1[c.count1Table]
	for q := range c.count1 {
		i := end + 4*q
		k := c.ix[i]<<3 | c.ix[i+1]<<2 | c.ix[i+2]<<1 | c.ix[i+3]
		bw.put(uint32(tab.Codes[k]), int(tab.Lens[k]))
		for j := i; j < i+4; j++ {
			if c.ix[j] != 0 {
				bw.put(uint32(c.sign[j]), 1)
			}
		}
	}
}
