package mp3tab

import (
	"bytes"
	"math"
	"math/big"
	"testing"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		want  Header
		size  int
		spf   int
		side  int
		chans int
	}{
		{
			name: "MPEG-1 128k 44.1k joint",
			in:   []byte{0xFF, 0xFB, 0x90, 0x64},
			want: Header{Version: MPEG1, Layer: 3, Bitrate: 128, SampleRate: 44100,
				ChannelMode: JointStereo, ModeExtension: 2, Original: true},
			size: 417, spf: 1152, side: 32, chans: 2,
		},
		{
			name: "MPEG-1 128k 44.1k padded",
			in:   []byte{0xFF, 0xFB, 0x92, 0x64},
			want: Header{Version: MPEG1, Layer: 3, Bitrate: 128, SampleRate: 44100, Padding: true,
				ChannelMode: JointStereo, ModeExtension: 2, Original: true},
			size: 418, spf: 1152, side: 32, chans: 2,
		},
		{
			name: "MPEG-2.5 32k 8k mono",
			in:   []byte{0xFF, 0xE3, 0x48, 0xC4},
			want: Header{Version: MPEG25, Layer: 3, Bitrate: 32, SampleRate: 8000,
				ChannelMode: Mono, Original: true},
			size: 288, spf: 576, side: 9, chans: 1,
		},
		{
			name: "MPEG-2 64k 22.05k stereo CRC",
			in:   []byte{0xFF, 0xF2, 0x80, 0x00},
			want: Header{Version: MPEG2, Layer: 3, Bitrate: 64, SampleRate: 22050,
				ChannelMode: Stereo, CRC: true},
			size: 208, spf: 576, side: 17, chans: 2,
		},
		{
			name: "MPEG-1 layer 2 192k 48k",
			in:   []byte{0xFF, 0xFD, 0xA4, 0x00},
			want: Header{Version: MPEG1, Layer: 2, Bitrate: 192, SampleRate: 48000,
				ChannelMode: Stereo},
			size: 576, spf: 1152, side: 32, chans: 2,
		},
		{
			name: "MPEG-1 layer 1 384k 32k",
			in:   []byte{0xFF, 0xFF, 0xC8, 0xC0},
			want: Header{Version: MPEG1, Layer: 1, Bitrate: 384, SampleRate: 32000,
				ChannelMode: Mono},
			size: 576, spf: 384, side: 17, chans: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if h != tt.want {
				t.Fatalf("got %+v, want %+v", h, tt.want)
			}
			if got := h.FrameSize(); got != tt.size {
				t.Errorf("FrameSize = %d, want %d", got, tt.size)
			}
			if got := h.SamplesPerFrame(); got != tt.spf {
				t.Errorf("SamplesPerFrame = %d, want %d", got, tt.spf)
			}
			if got := h.SideInfoSize(); got != tt.side {
				t.Errorf("SideInfoSize = %d, want %d", got, tt.side)
			}
			if got := h.Channels(); got != tt.chans {
				t.Errorf("Channels = %d, want %d", got, tt.chans)
			}
			b, err := h.Bytes()
			if err != nil || !bytes.Equal(b[:], tt.in) {
				t.Errorf("Bytes = % x, %v; want % x", b, err, tt.in)
			}
		})
	}
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		in   []byte
		want error
	}{
		{[]byte{0xFF, 0xFB, 0x90}, ErrShortHeader},
		{[]byte{0xFE, 0xFB, 0x90, 0x64}, ErrNoSync},
		{[]byte{0xFF, 0xDB, 0x90, 0x64}, ErrNoSync},
		{[]byte{0xFF, 0xEB, 0x90, 0x64}, ErrReserved}, // version 01
		{[]byte{0xFF, 0xF9, 0x90, 0x64}, ErrReserved}, // layer 00
		{[]byte{0xFF, 0xFB, 0xF0, 0x64}, ErrReserved}, // bitrate 15
		{[]byte{0xFF, 0xFB, 0x9C, 0x64}, ErrReserved}, // sample rate 3
		{[]byte{0xFF, 0xFB, 0x00, 0x64}, ErrFreeFormat},
	}
	for _, tt := range tests {
		if _, err := ParseHeader(tt.in); err != tt.want {
			t.Errorf("ParseHeader(% x) = %v, want %v", tt.in, err, tt.want)
		}
	}
}

// TestHeaderRoundTrip parses every possible header and checks that Bytes
// gives back the same 4 bytes and FrameSize is in Layer III's range.
func TestHeaderRoundTrip(t *testing.T) {
	valid := 0
	for b1 := 0xE0; b1 <= 0xFF; b1++ {
		for b2 := 0; b2 < 256; b2++ {
			in := []byte{0xFF, byte(b1), byte(b2), 0x6D}
			h, err := ParseHeader(in)
			if err != nil {
				continue
			}
			valid++
			out, err := h.Bytes()
			if err != nil || !bytes.Equal(out[:], in) {
				t.Fatalf("% x -> %+v -> % x, %v", in, h, out, err)
			}
			if h.Layer == 3 {
				if n := h.FrameSize(); n < 24 || n > 1441 {
					t.Fatalf("%+v: FrameSize %d", h, n)
				}
			}
		}
	}
	// 3 versions x 3 layers x 14 bitrates x 3 rates x 2 CRC x 2 padding x 2 private.
	if want := 3 * 3 * 14 * 3 * 8; valid != want {
		t.Fatalf("%d valid headers, want %d", valid, want)
	}
}

func TestSFB(t *testing.T) {
	rates := []int{44100, 48000, 32000, 22050, 24000, 16000, 11025, 12000, 8000}
	for _, sr := range rates {
		l, s := SFBLong(sr), SFBShort(sr)
		if len(l) != 23 || l[0] != 0 || l[22] != 576 {
			t.Errorf("%d: long %v", sr, l)
		}
		if len(s) != 14 || s[0] != 0 || s[13] != 192 {
			t.Errorf("%d: short %v", sr, s)
		}
		for i := 1; i < len(l); i++ {
			if l[i] <= l[i-1] || (l[i]-l[i-1])%2 != 0 {
				t.Errorf("%d: long band %d width %d", sr, i-1, l[i]-l[i-1])
			}
		}
		for i := 1; i < len(s); i++ {
			if s[i] <= s[i-1] || (s[i]-s[i-1])%2 != 0 {
				t.Errorf("%d: short band %d width %d", sr, i-1, s[i]-s[i-1])
			}
		}
	}
	// Spot values from the standards' tables.
	if got := SFBLong(44100)[21]; got != 418 {
		t.Errorf("44.1k long[21] = %d", got)
	}
	if got := SFBShort(8000)[9]; got != 160 {
		t.Errorf("8k short[9] = %d", got)
	}
	if SFBLong(44000) != nil || SFBShort(0) != nil {
		t.Error("unknown rate must give nil")
	}
}

// TestHuffmanTables checks every big_values and count1 table: the sizes the
// standard gives, no code a prefix of another, and a complete code (Kraft
// sum exactly 1, which Table 3-B.7 satisfies for every table).
func TestHuffmanTables(t *testing.T) {
	sizes := map[int]int{1: 2, 2: 3, 3: 3, 5: 4, 6: 4, 7: 6, 8: 6, 9: 6, 10: 8, 11: 8, 12: 8, 13: 16, 15: 16, 32: 4, 33: 4}
	linbits := []int{16: 1, 2, 3, 4, 6, 8, 10, 13, 4, 5, 6, 7, 8, 9, 11, 13}
	for i := 16; i < 32; i++ {
		sizes[i] = 16
	}
	for i, tab := range Huff {
		want, used := sizes[i]
		if !used {
			if tab.Size != 0 || len(tab.Codes) != 0 {
				t.Errorf("table %d should be empty", i)
			}
			continue
		}
		if tab.Size != want || len(tab.Codes) != want*want || len(tab.Lens) != want*want {
			t.Errorf("table %d: size %d, %d codes, %d lens; want %d", i, tab.Size, len(tab.Codes), len(tab.Lens), want)
			continue
		}
		if i >= 16 && i < 32 && tab.Linbits != linbits[i] {
			t.Errorf("table %d: linbits %d, want %d", i, tab.Linbits, linbits[i])
		}
		kraft := new(big.Rat)
		seen := map[[2]uint32]int{}
		for j, c := range tab.Codes {
			n := tab.Lens[j]
			if n == 0 || n > 19 || c>>n != 0 {
				t.Fatalf("table %d entry %d: code %b in %d bits", i, j, c, n)
			}
			kraft.Add(kraft, big.NewRat(1, 1<<n))
			seen[[2]uint32{c, uint32(n)}] = j
		}
		if kraft.Cmp(big.NewRat(1, 1)) != 0 {
			t.Errorf("table %d: Kraft sum %v, want 1", i, kraft)
		}
		// Prefix-free: no proper prefix of any code is itself a code.
		for j, c := range tab.Codes {
			n := tab.Lens[j]
			for k := uint8(1); k < n; k++ {
				if o, ok := seen[[2]uint32{c >> (n - k), uint32(k)}]; ok {
					t.Errorf("table %d: code %d is a prefix of code %d", i, o, j)
				}
			}
		}
	}
	// Spot checks against Table 3-B.7.
	spot := []struct {
		table, x, y int
		code        uint32
		len         uint8
	}{
		{1, 0, 0, 0b1, 1}, {1, 0, 1, 0b001, 3}, {1, 1, 0, 0b01, 2}, {1, 1, 1, 0b000, 3},
		{2, 2, 2, 0b000000, 6}, {13, 15, 12, 1, 19}, {15, 0, 0, 0b111, 3},
		{16, 0, 15, 0b000010001, 9}, {24, 0, 0, 0b1111, 4}, {24, 15, 15, 0b0011, 4},
	}
	for _, s := range spot {
		tab := Huff[s.table]
		j := s.x*tab.Size + s.y
		if tab.Codes[j] != s.code || tab.Lens[j] != s.len {
			t.Errorf("table %d (%d,%d) = %b/%d, want %b/%d", s.table, s.x, s.y, tab.Codes[j], tab.Lens[j], s.code, s.len)
		}
	}
	for v := 0; v < 16; v++ {
		if Count1[1].Codes[v] != uint8(15-v) || Count1[1].Lens[v] != 4 {
			t.Errorf("count1 B %d = %b/%d", v, Count1[1].Codes[v], Count1[1].Lens[v])
		}
	}
	if Count1[0].Codes[0] != 1 || Count1[0].Lens[0] != 1 || Count1[0].Codes[11] != 0 || Count1[0].Lens[11] != 6 {
		t.Error("count1 A spot values")
	}
}

func TestLSFScalefacLayout(t *testing.T) {
	wantSum := [3]int{21, 36, 33}
	for sfc := 0; sfc < 512; sfc++ {
		for _, is := range []bool{false, true} {
			for blk, bt := range []struct {
				typ   int
				mixed bool
			}{{0, false}, {2, false}, {2, true}} {
				slen, nr, _ := LSFScalefacLayout(sfc, is, bt.typ, bt.mixed)
				sum := 0
				for p := 0; p < 4; p++ {
					sum += nr[p]
					if slen[p] < 0 || slen[p] > 5 || (nr[p] == 0 && slen[p] != 0) {
						t.Fatalf("sfc %d is %v: slen %v nr %v", sfc, is, slen, nr)
					}
				}
				if sum != wantSum[blk] {
					t.Fatalf("sfc %d is %v blk %d: %d scalefactors", sfc, is, blk, sum)
				}
			}
		}
	}
	slen, nr, pre := LSFScalefacLayout(0x1F5, false, 0, false) // 501: third row
	if slen != [4]int{0, 1, 0, 0} || nr != [4]int{11, 10, 0, 0} || !pre {
		t.Errorf("501: %v %v %v", slen, nr, pre)
	}
	slen, _, _ = LSFScalefacLayout(255, false, 0, false) // 15,15 -> 3,0,3,3
	if slen != [4]int{3, 0, 3, 3} {
		t.Errorf("255: %v", slen)
	}
}

func TestSynthWindow(t *testing.T) {
	if d := SynthWindow(256); math.Abs(d-1.144989014) > 1e-9 {
		t.Errorf("D[256] = %v", d)
	}
	if d := SynthWindow(255); math.Abs(d+1.144287109) > 1e-9 {
		t.Errorf("D[255] = %v", d)
	}
	if d := SynthWindow(64); math.Abs(d-0.003250122) > 1e-9 {
		t.Errorf("D[64] = %v", d)
	}
	// D is odd-symmetric about 256 except at multiples of 64, where it is even.
	for i := 1; i < 256; i++ {
		want := -SynthWindow(i)
		if i%64 == 0 {
			want = -want
		}
		if SynthWindow(512-i) != want {
			t.Errorf("D[%d] = %v, D[%d] = %v", 512-i, SynthWindow(512-i), i, SynthWindow(i))
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0xFF, 0xFB, 0x90, 0x64})
	f.Add([]byte{0xFF, 0xE3, 0x48, 0xC4})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		out, err := h.Bytes()
		if err != nil || !bytes.Equal(out[:], b[:4]) {
			t.Fatalf("% x -> % x, %v", b[:4], out, err)
		}
		if h.FrameSize() <= 4 {
			t.Fatalf("% x: FrameSize %d", b[:4], h.FrameSize())
		}
	})
}

func BenchmarkParseHeader(b *testing.B) {
	in := []byte{0xFF, 0xFB, 0x90, 0x64}
	for b.Loop() {
		if _, err := ParseHeader(in); err != nil {
			b.Fatal(err)
		}
	}
}
