// Package g711 converts between 16-bit linear PCM and ITU-T G.711 A-law and
// µ-law bytes, the codecs contact-centre recorders store calls in.
//
// The mapping is bit-exact with the ITU-T G.191 reference implementation
// (alaw_compress/alaw_expand, ulaw_compress/ulaw_expand): decoding is a
// 256-entry table, encoding a 65536-entry table built on first use, so both
// directions cost one load per sample.
package g711

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// Law selects one of the two G.711 companding laws.
type Law uint8

// The two G.711 laws. The zero Law is invalid so a forgotten field is caught.
const (
	ALaw Law = 1 // European/international telephony, used by most EU/IN recorders
	ULaw Law = 2 // North American / Japanese telephony
)

// String returns the codec name used across recvault ("alaw" or "ulaw").
func (l Law) String() string {
	switch l {
	case ALaw:
		return "alaw"
	case ULaw:
		return "ulaw"
	}
	return fmt.Sprintf("g711.Law(%d)", uint8(l))
}

// Valid reports whether l is ALaw or ULaw.
func (l Law) Valid() bool { return l == ALaw || l == ULaw }

// Silence is the byte that decodes to (nearly) zero: 0xD5 (+8) for A-law,
// 0xFF (0) for µ-law. Useful for padding.
func (l Law) Silence() byte {
	if l == ULaw {
		return 0xFF
	}
	return 0xD5
}

// EncodeSample companders one linear sample.
func (l Law) EncodeSample(s int16) byte {
	return l.encTable()[uint16(s)]
}

// DecodeSample expands one G.711 byte to linear PCM.
func (l Law) DecodeSample(b byte) int16 {
	if l == ULaw {
		return ulawDec[b]
	}
	return alawDec[b]
}

// Encode companders min(len(dst), len(src)) samples and returns that count.
func (l Law) Encode(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	t := l.encTable()
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = t[uint16(s)]
	}
	return n
}

// Decode expands min(len(dst), len(src)) bytes and returns that count.
func (l Law) Decode(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	t := &alawDec
	if l == ULaw {
		t = &ulawDec
	}
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = t[b]
	}
	return n
}

// DecodeTable returns a copy of the 256-entry expansion table of l.
func (l Law) DecodeTable() [256]int16 {
	if l == ULaw {
		return ulawDec
	}
	return alawDec
}

func (l Law) encTable() *[65536]byte {
	if l == ULaw {
		return ulawEncTable()
	}
	return alawEncTable()
}

var (
	alawDec = buildDec(alawExpand)
	ulawDec = buildDec(ulawExpand)

	// The 64 KiB encode tables are built lazily so programs that only
	// decode (the common download path) never pay for them.
	alawEncTable = sync.OnceValue(func() *[65536]byte { return buildEnc(alawCompress) })
	ulawEncTable = sync.OnceValue(func() *[65536]byte { return buildEnc(ulawCompress) })
)

func buildDec(f func(byte) int16) [256]int16 {
	var t [256]int16
	for i := range t {
		t[i] = f(byte(i))
	}
	return t
}

func buildEnc(f func(int16) byte) *[65536]byte {
	t := new([65536]byte)
	for i := range t {
		t[i] = f(int16(uint16(i)))
	}
	return t
}

// alawCompress is G.191 alaw_compress: 16-bit input, magnitude taken as the
// one's complement for negatives (so -1..-16 mirror 0..15), 13-bit
// segment/mantissa, even bits inverted.
func alawCompress(lin int16) byte {
	var ix int
	if lin < 0 {
		ix = int(^lin) >> 4
	} else {
		ix = int(lin) >> 4
	}
	if ix > 15 {
		exp := 1
		for ix > 16+15 {
			ix >>= 1
			exp++
		}
		ix -= 16
		ix += exp << 4
	}
	if lin >= 0 {
		ix |= 0x80
	}
	return byte(ix ^ 0x55)
}

// alawExpand is G.191 alaw_expand: reconstruction at the middle of the step.
func alawExpand(b byte) int16 {
	ix := int(b^0x55) & 0x7F
	exp := ix >> 4
	mant := ix & 0x0F
	if exp > 0 {
		mant += 16
	}
	mant = mant<<4 + 8
	if exp > 1 {
		mant <<= exp - 1
	}
	if b > 127 {
		return int16(mant)
	}
	return int16(-mant)
}

// ulawCompress is G.191 ulaw_compress: 14-bit magnitude plus the 33 bias,
// clipped at 0x1FFF, bits inverted.
func ulawCompress(lin int16) byte {
	var abs int
	if lin < 0 {
		abs = int(^lin)>>2 + 33
	} else {
		abs = int(lin)>>2 + 33
	}
	abs = min(abs, 0x1FFF)
	seg := 1
	for i := abs >> 6; i != 0; i >>= 1 {
		seg++
	}
	hi := 8 - seg
	lo := 0x0F - (abs>>seg)&0x0F
	out := hi<<4 | lo
	if lin >= 0 {
		out |= 0x80
	}
	return byte(out)
}

// ulawExpand is G.191 ulaw_expand.
func ulawExpand(b byte) int16 {
	sign := -1
	if b >= 0x80 {
		sign = 1
	}
	m := ^int(b)
	exp := (m >> 4) & 7
	seg := exp + 1
	m &= 0x0F
	step := 4 << seg
	return int16(sign * ((0x80 << exp) + step*m + step/2 - 4*33))
}

// DecodeLE expands src straight into little-endian 16-bit PCM bytes, the
// layout of a WAV data chunk: dst must hold 2 bytes per input byte.
// It returns the number of input bytes consumed (min(len(dst)/2, len(src))).
func (l Law) DecodeLE(dst []byte, src []byte) int {
	n := min(len(dst)/2, len(src))
	if n >= pairMin {
		return l.decodePairs(dst, src, n)
	}
	t := &alawDec
	if l == ULaw {
		t = &ulawDec
	}
	dst, src = dst[:2*n], src[:n]
	// Four samples per 8-byte store: about three times faster than
	// storing byte by byte, and this is the hot loop of A-law → WAV.
	i := 0
	for ; i+4 <= n; i += 4 {
		s := src[i : i+4 : i+4]
		v := uint64(uint16(t[s[0]])) | uint64(uint16(t[s[1]]))<<16 |
			uint64(uint16(t[s[2]]))<<32 | uint64(uint16(t[s[3]]))<<48
		binary.LittleEndian.PutUint64(dst[2*i:], v)
	}
	for ; i < n; i++ {
		binary.LittleEndian.PutUint16(dst[2*i:], uint16(t[src[i]]))
	}
	return n
}

// pairMin is the smallest input DecodeLE expands two bytes at a time. The
// pair table (256 KiB, built on first use in about 60 µs) makes the loop
// about 1.7 times faster; only long inputs repay building it, and the
// pipeline's fast path hands over blocks of 128 Ki samples.
const pairMin = 64 << 10

// decodePairs is DecodeLE for long inputs: each 16-bit load of two input
// bytes indexes a table of both expansions already in little-endian order.
func (l Law) decodePairs(dst, src []byte, n int) int {
	t := alawPairs()
	if l == ULaw {
		t = ulawPairs()
	}
	dst, src = dst[:2*n], src[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		x := binary.LittleEndian.Uint64(src[i:])
		d := dst[2*i : 2*i+16 : 2*i+16]
		binary.LittleEndian.PutUint64(d, uint64(t[uint16(x)])|uint64(t[uint16(x>>16)])<<32)
		binary.LittleEndian.PutUint64(d[8:], uint64(t[uint16(x>>32)])|uint64(t[uint16(x>>48)])<<32)
	}
	dec := l.DecodeTable()
	for ; i < n; i++ {
		binary.LittleEndian.PutUint16(dst[2*i:], uint16(dec[src[i]]))
	}
	return n
}

// buildPairs builds the two-byte expansion table of a law: entry b0|b1<<8
// holds the 16-bit expansions of b0 (low half) and b1 (high half), which
// stored little-endian are the four output bytes of the pair.
func buildPairs(dec *[256]int16) *[65536]uint32 {
	t := new([65536]uint32)
	for hi := range 256 {
		h := uint32(uint16(dec[hi])) << 16
		row := t[hi<<8 : hi<<8+256]
		for lo := range row {
			row[lo] = uint32(uint16(dec[lo])) | h
		}
	}
	return t
}

var (
	alawPairs = sync.OnceValue(func() *[65536]uint32 { return buildPairs(&alawDec) })
	ulawPairs = sync.OnceValue(func() *[65536]uint32 { return buildPairs(&ulawDec) })
)

// EncodeLE companders little-endian 16-bit PCM bytes from src into dst and
// returns the number of samples written (min(len(dst), len(src)/2)).
func (l Law) EncodeLE(dst []byte, src []byte) int {
	n := min(len(dst), len(src)/2)
	t := l.encTable()
	dst, src = dst[:n], src[:2*n]
	for i := range dst {
		dst[i] = t[uint16(src[2*i])|uint16(src[2*i+1])<<8]
	}
	return n
}
