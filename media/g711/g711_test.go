package g711

import (
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/zaf/g711"
)

// Known points of the G.711 tables (ITU-T G.711 tables 1a/2a, G.191 outputs).
func TestSpecValues(t *testing.T) {
	tests := []struct {
		law  Law
		b    byte
		want int16
	}{
		{ALaw, 0xD5, 8}, {ALaw, 0x55, -8},
		{ALaw, 0xD4, 24}, {ALaw, 0xAA, 32256}, {ALaw, 0x2A, -32256},
		{ALaw, 0xC5, 264}, // first step of segment 1
		{ULaw, 0xFF, 0}, {ULaw, 0x7F, 0},
		{ULaw, 0xFE, 8}, {ULaw, 0x80, 32124}, {ULaw, 0x00, -32124},
	}
	for _, tc := range tests {
		if got := tc.law.DecodeSample(tc.b); got != tc.want {
			t.Errorf("%v decode %#02x = %d, want %d", tc.law, tc.b, got, tc.want)
		}
	}
	enc := []struct {
		law  Law
		in   int16
		want byte
	}{
		{ALaw, 0, 0xD5}, {ALaw, -1, 0x55}, {ALaw, 15, 0xD5}, {ALaw, 16, 0xD4}, {ALaw, -16, 0x55},
		{ALaw, 32767, 0xAA}, {ALaw, -32768, 0x2A},
		{ULaw, 0, 0xFF}, {ULaw, -1, 0x7F}, {ULaw, 32767, 0x80}, {ULaw, -32768, 0x00},
	}
	for _, tc := range enc {
		if got := tc.law.EncodeSample(tc.in); got != tc.want {
			t.Errorf("%v encode %d = %#02x, want %#02x", tc.law, tc.in, got, tc.want)
		}
	}
}

// TestAgainstReference compares every decode entry and every one of the 65536
// encoder inputs with github.com/zaf/g711, an independent implementation that
// is verified bit-exact against ITU-T G.191.
func TestAgainstReference(t *testing.T) {
	refs := []struct {
		law Law
		enc func(int16) uint8
		dec func(uint8) int16
	}{
		{ALaw, g711.EncodeAlawFrame, g711.DecodeAlawFrame},
		{ULaw, g711.EncodeUlawFrame, g711.DecodeUlawFrame},
	}
	for _, r := range refs {
		for b := 0; b < 256; b++ {
			if got, want := r.law.DecodeSample(byte(b)), r.dec(byte(b)); got != want {
				t.Errorf("%v decode %#02x = %d, reference %d", r.law, b, got, want)
			}
		}
		bad := 0
		for i := math.MinInt16; i <= math.MaxInt16; i++ {
			if got, want := r.law.EncodeSample(int16(i)), r.enc(int16(i)); got != want {
				if bad++; bad < 10 {
					t.Errorf("%v encode %d = %#02x, reference %#02x", r.law, i, got, want)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%v: %d of 65536 encoder outputs differ from the reference", r.law, bad)
		}
	}
}

// Encoding a decoded value must give back the same code, except µ-law 0x7F
// (negative zero), which decodes to 0 and so re-encodes as 0xFF.
func TestIdempotent(t *testing.T) {
	for _, law := range []Law{ALaw, ULaw} {
		for b := 0; b < 256; b++ {
			got := law.EncodeSample(law.DecodeSample(byte(b)))
			if got != byte(b) && !(law == ULaw && b == 0x7F) {
				t.Errorf("%v: encode(decode(%#02x)) = %#02x", law, b, got)
			}
		}
	}
}

func TestSliceAndLE(t *testing.T) {
	src := make([]int16, 4096)
	for i := range src {
		src[i] = int16(i*37 - 40000)
	}
	for _, law := range []Law{ALaw, ULaw} {
		enc := make([]byte, len(src))
		if n := law.Encode(enc, src); n != len(src) {
			t.Fatalf("Encode n=%d", n)
		}
		le := make([]byte, 2*len(src))
		for i, s := range src {
			binary.LittleEndian.PutUint16(le[2*i:], uint16(s))
		}
		enc2 := make([]byte, len(src))
		law.EncodeLE(enc2, le)
		dec := make([]int16, len(src))
		law.Decode(dec, enc)
		decLE := make([]byte, 2*len(src))
		if n := law.DecodeLE(decLE, enc); n != len(src) {
			t.Fatalf("DecodeLE n=%d", n)
		}
		for i := range src {
			if enc[i] != law.EncodeSample(src[i]) || enc2[i] != enc[i] {
				t.Fatalf("%v sample %d: slice encode mismatch", law, i)
			}
			if dec[i] != law.DecodeSample(enc[i]) || int16(binary.LittleEndian.Uint16(decLE[2*i:])) != dec[i] {
				t.Fatalf("%v sample %d: slice decode mismatch", law, i)
			}
		}
	}
}

// TestSpeechSNR checks the quantisation quality on a real call: companding
// 16-bit speech through either law must keep SNR ≥ 37 dB (G.711 gives about
// 38 dB over a wide range of levels).
func TestSpeechSNR(t *testing.T) {
	f, err := os.ReadFile("testdata/call-pcm16-mono.wav")
	if err != nil {
		t.Fatal(err)
	}
	pcm := f[44:]
	src := make([]int16, len(pcm)/2)
	for i := range src {
		src[i] = int16(binary.LittleEndian.Uint16(pcm[2*i:]))
	}
	for _, law := range []Law{ALaw, ULaw} {
		var sig, noise float64
		for _, s := range src {
			d := law.DecodeSample(law.EncodeSample(s))
			sig += float64(s) * float64(s)
			e := float64(s) - float64(d)
			noise += e * e
		}
		snr := 10 * math.Log10(sig/noise)
		t.Logf("%v: speech SNR %.2f dB", law, snr)
		if snr < 37 {
			t.Errorf("%v: speech SNR %.2f dB < 37", law, snr)
		}
	}
}

// TestDecodeLEPairs checks the two-bytes-at-a-time path of DecodeLE (long
// inputs) against the per-sample table: every byte pair, an odd length so
// the tail loop runs, and a short dst that limits the count.
func TestDecodeLEPairs(t *testing.T) {
	src := make([]byte, 2*65536+5)
	for i := range 65536 {
		src[2*i], src[2*i+1] = byte(i), byte(i>>8)
	}
	if len(src) < pairMin {
		t.Fatal("input too short for the pair path")
	}
	for _, law := range []Law{ALaw, ULaw} {
		dst := make([]byte, 2*len(src))
		if n := law.DecodeLE(dst, src); n != len(src) {
			t.Fatalf("%v: DecodeLE n=%d, want %d", law, n, len(src))
		}
		for i, b := range src {
			if got, want := int16(binary.LittleEndian.Uint16(dst[2*i:])), law.DecodeSample(b); got != want {
				t.Fatalf("%v: sample %d (byte %#02x) = %d, want %d", law, i, b, got, want)
			}
		}
		short := make([]byte, 2*pairMin+3)
		if n := law.DecodeLE(short, src); n != pairMin+1 {
			t.Fatalf("%v: DecodeLE into %d bytes: n=%d", law, len(short), n)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	src := make([]int16, 8000)
	for i := range src {
		src[i] = int16(math.Sin(float64(i)*0.05) * 12000)
	}
	dst := make([]byte, len(src))
	for _, law := range []Law{ALaw, ULaw} {
		b.Run(law.String(), func(b *testing.B) {
			b.SetBytes(int64(len(src) * 2))
			for b.Loop() {
				law.Encode(dst, src)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	b.Run("short", func(b *testing.B) { benchDecode(b, 8000) })
	b.Run("long", func(b *testing.B) { benchDecode(b, 128<<10) }) // the pair table path of DecodeLE
}

func benchDecode(b *testing.B, size int) {
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := make([]int16, len(src))
	le := make([]byte, 2*len(src))
	for _, law := range []Law{ALaw, ULaw} {
		b.Run(law.String(), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				law.Decode(dst, src)
			}
		})
		b.Run(law.String()+"LE", func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				law.DecodeLE(le, src)
			}
		})
	}
}
