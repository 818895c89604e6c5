package mp3dec

import "encoding/binary"

// bitReader reads MSB-first bits from a byte slice. Reads past the end
// return zero bits instead of failing, so a corrupt part2_3_length can never
// index out of range; callers bound their loops by bit positions instead.
type bitReader struct {
	data []byte
	pos  int // in bits
}

func (b *bitReader) reset(data []byte) {
	b.data = data
	b.pos = 0
}

// peek32 returns the next 32 bits MSB-aligned without consuming them.
func (b *bitReader) peek32() uint32 {
	i := b.pos >> 3
	if i >= 0 && i+8 <= len(b.data) {
		return uint32(binary.BigEndian.Uint64(b.data[i:]) << (b.pos & 7) >> 32)
	}
	var v uint64
	for k := 0; k < 8; k++ {
		v <<= 8
		if j := i + k; j >= 0 && j < len(b.data) {
			v |= uint64(b.data[j])
		}
	}
	return uint32(v << (b.pos & 7) >> 32)
}

// bits reads n bits, 0 <= n <= 24.
func (b *bitReader) bits(n int) int {
	if n == 0 {
		return 0
	}
	v := b.peek32() >> (32 - n)
	b.pos += n
	return int(v)
}

func (b *bitReader) bit() int { return b.bits(1) }
