// Package mp3tab holds the tables and frame-header facts of MPEG audio
// Layer III (ISO/IEC 11172-3, ISO/IEC 13818-3 and the MPEG-2.5 extension)
// that recvault's MP3 encoder (media/mp3enc) and decoder (media/mp3dec) share,
// so both sides read one copy of the standard's numbers.
//
// Everything here is read-only: callers must not modify the slices and arrays
// the package exposes.
package mp3tab

import (
	"errors"
	"fmt"
)

// Version is the MPEG audio version of a frame.
type Version int

// MPEG audio versions. MPEG25 is the unofficial 2.5 extension (8, 11.025 and
// 12 kHz) that call recorders write; it uses MPEG-2's low-sampling-frequency
// (LSF) syntax.
const (
	MPEG1 Version = iota
	MPEG2
	MPEG25
)

func (v Version) String() string {
	switch v {
	case MPEG1:
		return "MPEG-1"
	case MPEG2:
		return "MPEG-2"
	case MPEG25:
		return "MPEG-2.5"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// LSF reports whether v uses the low-sampling-frequency syntax of ISO/IEC
// 13818-3 (one granule per frame, 9 or 17 bytes of side info).
func (v Version) LSF() bool { return v != MPEG1 }

// ChannelMode is the mode field of a frame header.
type ChannelMode int

// Channel modes, in header bit order.
const (
	Stereo ChannelMode = iota
	JointStereo
	DualChannel
	Mono
)

func (m ChannelMode) String() string {
	switch m {
	case Stereo:
		return "stereo"
	case JointStereo:
		return "joint stereo"
	case DualChannel:
		return "dual channel"
	case Mono:
		return "mono"
	}
	return fmt.Sprintf("ChannelMode(%d)", int(m))
}

// Mode-extension bits of a JointStereo Layer III frame.
const (
	ModeExtIntensity = 1 // intensity stereo on
	ModeExtMS        = 2 // middle/side stereo on
)

// Header is a decoded 4-byte MPEG audio frame header.
type Header struct {
	Version       Version
	Layer         int // 1, 2 or 3
	Bitrate       int // kbit/s; never 0 (free format is refused by ParseHeader)
	SampleRate    int // Hz
	Padding       bool
	ChannelMode   ChannelMode
	ModeExtension int  // 0..3; meaningful in JointStereo
	CRC           bool // a 16-bit CRC follows the header
	Private       bool
	Copyright     bool
	Original      bool
	Emphasis      int // 0 none, 1 50/15 µs, 2 reserved, 3 CCITT J.17
}

// Errors returned by ParseHeader. A decoder hunting for sync treats all of
// them as "not a frame here".
var (
	ErrShortHeader = errors.New("mp3tab: header needs 4 bytes")
	ErrNoSync      = errors.New("mp3tab: no frame sync")
	ErrReserved    = errors.New("mp3tab: reserved value in frame header")
	ErrFreeFormat  = errors.New("mp3tab: free-format bitrate not supported")
)

// Bitrates in kbit/s, indexed [Version][Layer-1][bitrate_index]. Index 0 is
// free format and 15 is forbidden; MPEG-2.5 uses MPEG-2's rates.
var Bitrates = [3][3][15]int{
	MPEG1: {
		{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
	},
	MPEG2: {
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
	},
	MPEG25: {
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
	},
}

// SampleRates in Hz, indexed [Version][sampling_frequency index].
var SampleRates = [3][3]int{
	MPEG1:  {44100, 48000, 32000},
	MPEG2:  {22050, 24000, 16000},
	MPEG25: {11025, 12000, 8000},
}

// ParseHeader decodes the 4-byte frame header at the start of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < 4 {
		return Header{}, ErrShortHeader
	}
	// 11 sync bits; MPEG-2.5 reuses the 12th sync bit as a version bit.
	if b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return Header{}, ErrNoSync
	}
	var h Header
	switch (b[1] >> 3) & 3 {
	case 0:
		h.Version = MPEG25
	case 2:
		h.Version = MPEG2
	case 3:
		h.Version = MPEG1
	default:
		return Header{}, ErrReserved
	}
	layer := (b[1] >> 1) & 3
	if layer == 0 {
		return Header{}, ErrReserved
	}
	h.Layer = 4 - int(layer)
	h.CRC = b[1]&1 == 0
	bi := int(b[2] >> 4)
	si := int(b[2]>>2) & 3
	if bi == 15 || si == 3 {
		return Header{}, ErrReserved
	}
	if bi == 0 {
		return Header{}, ErrFreeFormat
	}
	h.Bitrate = Bitrates[h.Version][h.Layer-1][bi]
	h.SampleRate = SampleRates[h.Version][si]
	h.Padding = b[2]&2 != 0
	h.Private = b[2]&1 != 0
	h.ChannelMode = ChannelMode(b[3] >> 6)
	h.ModeExtension = int(b[3]>>4) & 3
	h.Copyright = b[3]&8 != 0
	h.Original = b[3]&4 != 0
	h.Emphasis = int(b[3] & 3)
	return h, nil
}

// BitrateIndex returns the header index of a bitrate in kbit/s.
func BitrateIndex(v Version, layer, kbps int) (int, bool) {
	if v < MPEG1 || v > MPEG25 || layer < 1 || layer > 3 {
		return 0, false
	}
	for i, r := range Bitrates[v][layer-1] {
		if i > 0 && r == kbps {
			return i, true
		}
	}
	return 0, false
}

// SampleRateIndex returns the version and header index of a sample rate.
func SampleRateIndex(sampleRate int) (Version, int, bool) {
	for v := MPEG1; v <= MPEG25; v++ {
		for i, r := range SampleRates[v] {
			if r == sampleRate {
				return v, i, true
			}
		}
	}
	return 0, 0, false
}

// Bytes encodes h as a 4-byte frame header. It fails when the bitrate or the
// sample rate has no index for h's version and layer.
func (h Header) Bytes() ([4]byte, error) {
	var b [4]byte
	if h.Layer < 1 || h.Layer > 3 {
		return b, fmt.Errorf("mp3tab: layer %d", h.Layer)
	}
	bi, ok := BitrateIndex(h.Version, h.Layer, h.Bitrate)
	if !ok {
		return b, fmt.Errorf("mp3tab: no %v layer %d bitrate %d kbit/s", h.Version, h.Layer, h.Bitrate)
	}
	v, si, ok := SampleRateIndex(h.SampleRate)
	if !ok || v != h.Version {
		return b, fmt.Errorf("mp3tab: no %v sample rate %d Hz", h.Version, h.SampleRate)
	}
	var vbits byte
	switch h.Version {
	case MPEG1:
		vbits = 3
	case MPEG2:
		vbits = 2
	case MPEG25:
		vbits = 0
	}
	b[0] = 0xFF
	b[1] = 0xE0 | vbits<<3 | byte(4-h.Layer)<<1
	if !h.CRC {
		b[1] |= 1
	}
	b[2] = byte(bi)<<4 | byte(si)<<2
	if h.Padding {
		b[2] |= 2
	}
	if h.Private {
		b[2] |= 1
	}
	b[3] = byte(h.ChannelMode&3)<<6 | byte(h.ModeExtension&3)<<4 | byte(h.Emphasis&3)
	if h.Copyright {
		b[3] |= 8
	}
	if h.Original {
		b[3] |= 4
	}
	return b, nil
}

// SamplesPerFrame is the number of PCM samples per channel a frame carries.
func (h Header) SamplesPerFrame() int {
	switch {
	case h.Layer == 1:
		return 384
	case h.Layer == 3 && h.Version.LSF():
		return 576
	}
	return 1152
}

// FrameSize is the length in bytes of the whole frame, header included.
func (h Header) FrameSize() int {
	if h.SampleRate == 0 {
		return 0
	}
	pad := 0
	if h.Padding {
		pad = 1
	}
	bps := h.Bitrate * 1000
	switch {
	case h.Layer == 1:
		return (12*bps/h.SampleRate + pad) * 4
	case h.Layer == 3 && h.Version.LSF():
		return 72*bps/h.SampleRate + pad
	}
	return 144*bps/h.SampleRate + pad
}

// Channels is 1 for Mono and 2 otherwise.
func (h Header) Channels() int {
	if h.ChannelMode == Mono {
		return 1
	}
	return 2
}

// SideInfoSize is the length in bytes of the Layer III side information that
// follows the header (and its CRC, if any).
func (h Header) SideInfoSize() int {
	switch {
	case h.Version == MPEG1 && h.ChannelMode == Mono:
		return 17
	case h.Version == MPEG1:
		return 32
	case h.ChannelMode == Mono:
		return 9
	}
	return 17
}

// Granules is the number of granules in a Layer III frame: 2 for MPEG-1, 1
// for MPEG-2 and MPEG-2.5.
func (h Header) Granules() int {
	if h.Version.LSF() {
		return 1
	}
	return 2
}

// rateIndex maps a sample rate to 0..8: MPEG-1 44.1/48/32, MPEG-2
// 22.05/24/16, MPEG-2.5 11.025/12/8 kHz.
func rateIndex(sampleRate int) int {
	v, i, ok := SampleRateIndex(sampleRate)
	if !ok {
		return -1
	}
	return int(v)*3 + i
}

// Scalefactor band boundaries (Tables B.8 of 11172-3 and B.2 of 13818-3),
// in frequency lines: long blocks 0..576, short blocks 0..192 per window.
// The 24 kHz long table has 330 as 13818-3 prints it (some decoders use
// 332); the decoder tests match ffmpeg's output only with 330.
var sfbLong = [9][23]int{
	{0, 4, 8, 12, 16, 20, 24, 30, 36, 44, 52, 62, 74, 90, 110, 134, 162, 196, 238, 288, 342, 418, 576},
	{0, 4, 8, 12, 16, 20, 24, 30, 36, 42, 50, 60, 72, 88, 106, 128, 156, 190, 230, 276, 330, 384, 576},
	{0, 4, 8, 12, 16, 20, 24, 30, 36, 44, 54, 66, 82, 102, 126, 156, 194, 240, 296, 364, 448, 550, 576},
	{0, 6, 12, 18, 24, 30, 36, 44, 54, 66, 80, 96, 116, 140, 168, 200, 238, 284, 336, 396, 464, 522, 576},
	{0, 6, 12, 18, 24, 30, 36, 44, 54, 66, 80, 96, 114, 136, 162, 194, 232, 278, 330, 394, 464, 540, 576},
	{0, 6, 12, 18, 24, 30, 36, 44, 54, 66, 80, 96, 116, 140, 168, 200, 238, 284, 336, 396, 464, 522, 576},
	{0, 6, 12, 18, 24, 30, 36, 44, 54, 66, 80, 96, 116, 140, 168, 200, 238, 284, 336, 396, 464, 522, 576},
	{0, 6, 12, 18, 24, 30, 36, 44, 54, 66, 80, 96, 116, 140, 168, 200, 238, 284, 336, 396, 464, 522, 576},
	{0, 12, 24, 36, 48, 60, 72, 88, 108, 132, 160, 192, 232, 280, 336, 400, 476, 566, 568, 570, 572, 574, 576},
}

var sfbShort = [9][14]int{
	{0, 4, 8, 12, 16, 22, 30, 40, 52, 66, 84, 106, 136, 192},
	{0, 4, 8, 12, 16, 22, 28, 38, 50, 64, 80, 100, 126, 192},
	{0, 4, 8, 12, 16, 22, 30, 42, 58, 78, 104, 138, 180, 192},
	{0, 4, 8, 12, 18, 24, 32, 42, 56, 74, 100, 132, 174, 192},
	{0, 4, 8, 12, 18, 26, 36, 48, 62, 80, 104, 136, 180, 192},
	{0, 4, 8, 12, 18, 26, 36, 48, 62, 80, 104, 134, 174, 192},
	{0, 4, 8, 12, 18, 26, 36, 48, 62, 80, 104, 134, 174, 192},
	{0, 4, 8, 12, 18, 26, 36, 48, 62, 80, 104, 134, 174, 192},
	{0, 8, 16, 24, 36, 52, 72, 96, 124, 160, 162, 164, 166, 192},
}

// SFBLong returns the 23 long-block scalefactor band boundaries (22 bands,
// the last ending at line 576) for a sample rate, or nil for an unknown rate.
// The slice is shared: do not modify it.
func SFBLong(sampleRate int) []int {
	i := rateIndex(sampleRate)
	if i < 0 {
		return nil
	}
	return sfbLong[i][:]
}

// SFBShort returns the 14 short-block scalefactor band boundaries (13 bands
// within one 192-line window) for a sample rate, or nil for an unknown rate.
// The slice is shared: do not modify it.
func SFBShort(sampleRate int) []int {
	i := rateIndex(sampleRate)
	if i < 0 {
		return nil
	}
	return sfbShort[i][:]
}

// HuffTable is one big_values Huffman table of Table 3-B.7. Codes[x*Size+y]
// is the code for the pair (x, y), written MSB first in Lens[x*Size+y] bits;
// the sign bits and linbits that follow a code are not included. Size is
// xlen = ylen: 16 for tables 13 and 15..31, where the value 15 escapes to
// 15 + Linbits extra bits.
type HuffTable struct {
	Linbits int
	Size    int
	Codes   []uint32
	Lens    []uint8
}

// Huff holds tables 0..31 for big_values and, at 32 and 33, count1 tables A
// and B laid out as 4x4 tables indexed by v<<3|w<<2|x<<1|y (Size 4, so
// x*Size+y is that index when x = v<<1|w and y = x<<1|y). Tables 0, 4 and 14
// are empty: table 0 codes all-zero regions, 4 and 14 are never used.
var Huff = [34]HuffTable{
	1:  {0, 2, huffCodes1, huffLens1},
	2:  {0, 3, huffCodes2, huffLens2},
	3:  {0, 3, huffCodes3, huffLens3},
	5:  {0, 4, huffCodes5, huffLens5},
	6:  {0, 4, huffCodes6, huffLens6},
	7:  {0, 6, huffCodes7, huffLens7},
	8:  {0, 6, huffCodes8, huffLens8},
	9:  {0, 6, huffCodes9, huffLens9},
	10: {0, 8, huffCodes10, huffLens10},
	11: {0, 8, huffCodes11, huffLens11},
	12: {0, 8, huffCodes12, huffLens12},
	13: {0, 16, huffCodes13, huffLens13},
	15: {0, 16, huffCodes15, huffLens15},
	16: {1, 16, huffCodes16, huffLens16},
	17: {2, 16, huffCodes16, huffLens16},
	18: {3, 16, huffCodes16, huffLens16},
	19: {4, 16, huffCodes16, huffLens16},
	20: {6, 16, huffCodes16, huffLens16},
	21: {8, 16, huffCodes16, huffLens16},
	22: {10, 16, huffCodes16, huffLens16},
	23: {13, 16, huffCodes16, huffLens16},
	24: {4, 16, huffCodes24, huffLens24},
	25: {5, 16, huffCodes24, huffLens24},
	26: {6, 16, huffCodes24, huffLens24},
	27: {7, 16, huffCodes24, huffLens24},
	28: {8, 16, huffCodes24, huffLens24},
	29: {9, 16, huffCodes24, huffLens24},
	30: {11, 16, huffCodes24, huffLens24},
	31: {13, 16, huffCodes24, huffLens24},
	32: {0, 4, count1CodesA32, count1LensA[:]},
	33: {0, 4, count1CodesB32, count1LensB[:]},
}

// Count1 holds the quadruple tables A (count1table_select 0) and B (1),
// indexed by v<<3|w<<2|x<<1|y.
var Count1 = [2]struct{ Codes, Lens [16]uint8 }{
	{count1CodesA, count1LensA},
	{count1CodesB, count1LensB},
}

// Huff's count1 entries need []uint32 codes; they are built from the byte
// arrays so the values are transcribed once.
var (
	count1CodesA32 = u8to32(count1CodesA)
	count1CodesB32 = u8to32(count1CodesB)
)

func u8to32(a [16]uint8) []uint32 {
	s := make([]uint32, 16)
	for i, v := range a {
		s[i] = uint32(v)
	}
	return s
}

// Pretab is added to the long-block scalefactors when preflag is set
// (Table B.6 of 11172-3), indexed by scalefactor band 0..21.
var Pretab = [22]int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 2, 0}

// Slen gives slen1 (Slen[0]) and slen2 (Slen[1]), the scalefactor bit
// lengths of bands 0..10 and 11..20, for MPEG-1 scalefac_compress 0..15.
var Slen = [2][16]int{
	{0, 0, 0, 0, 3, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4},
	{0, 1, 2, 3, 0, 1, 2, 3, 1, 2, 3, 1, 2, 3, 2, 3},
}

// NrOfSfb is nr_of_sfb_block of 13818-3 Table B.4: the number of scalefactor
// bands in each of the four LSF scalefactor partitions, indexed
// [table 0..5][block 0 long, 1 short, 2 mixed][partition].
var NrOfSfb = [6][3][4]int{
	{{6, 5, 5, 5}, {9, 9, 9, 9}, {6, 9, 9, 9}},
	{{6, 5, 7, 3}, {9, 9, 12, 6}, {6, 9, 12, 6}},
	{{11, 10, 0, 0}, {18, 18, 0, 0}, {15, 18, 0, 0}},
	{{7, 7, 7, 0}, {12, 12, 12, 0}, {6, 15, 12, 0}},
	{{6, 6, 6, 3}, {12, 9, 9, 6}, {6, 12, 9, 6}},
	{{8, 8, 5, 0}, {15, 12, 9, 0}, {6, 18, 9, 0}},
}

// LSFScalefacLayout expands an MPEG-2/2.5 scalefac_compress (9 bits) into
// the bit length of each partition's scalefactors (slen), the number of
// scalefactors in each partition (nr, counting short-block windows
// separately), and preflag. intensityRight is true for the right channel of
// an intensity-stereo frame, which uses the second half of the table.
// blockType 2 with mixed selects the mixed-block column.
func LSFScalefacLayout(scalefacCompress int, intensityRight bool, blockType int, mixed bool) (slen, nr [4]int, preflag bool) {
	sfc := scalefacCompress & 511
	var tab int
	if !intensityRight {
		switch {
		case sfc < 400:
			slen = [4]int{(sfc >> 4) / 5, (sfc >> 4) % 5, (sfc & 15) >> 2, sfc & 3}
			tab = 0
		case sfc < 500:
			sfc -= 400
			slen = [4]int{(sfc >> 2) / 5, (sfc >> 2) % 5, sfc & 3, 0}
			tab = 1
		default:
			sfc -= 500
			slen = [4]int{sfc / 3, sfc % 3, 0, 0}
			tab = 2
			preflag = true
		}
	} else {
		isc := sfc >> 1
		switch {
		case isc < 180:
			slen = [4]int{isc / 36, (isc % 36) / 6, (isc % 36) % 6, 0}
			tab = 3
		case isc < 244:
			isc -= 180
			slen = [4]int{(isc % 64) >> 4, (isc % 16) >> 2, isc % 4, 0}
			tab = 4
		default:
			isc -= 244
			slen = [4]int{isc / 3, isc % 3, 0, 0}
			tab = 5
		}
	}
	blk := 0
	if blockType == 2 {
		blk = 1
		if mixed {
			blk = 2
		}
	}
	nr = NrOfSfb[tab][blk]
	return slen, nr, preflag
}

// AliasCoefficients are the c_i of the alias-reduction butterflies
// (Table B.9 of 11172-3); cs_i = 1/sqrt(1+c_i²), ca_i = c_i/sqrt(1+c_i²).
var AliasCoefficients = [8]float64{-0.6, -0.535, -0.33, -0.185, -0.095, -0.041, -0.0142, -0.0037}

// SynthWindow returns D[i], i in 0..511, the synthesis window of Table 3-B.3.
func SynthWindow(i int) float64 {
	return float64(synthWindow65536[i&511]) / 65536
}
