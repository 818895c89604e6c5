package mp3enc

// bitWriter appends bits MSB first to a byte slice.
type bitWriter struct {
	buf  []byte
	acc  uint64 // pending bits, right-aligned
	nacc uint   // number of pending bits (< 8 between calls)
}

// put appends the low n bits of v (n ≤ 32).
func (b *bitWriter) put(v uint32, n int) {
	if n == 0 {
		return
	}
	b.acc = b.acc<<uint(n) | uint64(v)&(1<<uint(n)-1)
	b.nacc += uint(n)
	for b.nacc >= 8 {
		b.nacc -= 8
		b.buf = append(b.buf, byte(b.acc>>b.nacc))
	}
}

// bits returns the number of bits written so far.
func (b *bitWriter) bits() int { return 8*len(b.buf) + int(b.nacc) }

// align pads with zero bits to a byte boundary.
func (b *bitWriter) align() {
	if b.nacc > 0 {
		b.put(0, int(8-b.nacc))
	}
}

func (b *bitWriter) reset() {
	b.buf = b.buf[:0]
	b.acc, b.nacc = 0, 0
}
