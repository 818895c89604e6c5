package mp3enc

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDCT3 checks the fast DCT-III against its definition.
func TestDCT3(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		var in, got [32]float64
		for i := range in {
			in[i] = r.Float64()*2 - 1
		}
		dct3N32(&in, &got)
		for k := range 32 {
			var want float64
			for j, v := range in {
				want += v * math.Cos(math.Pi*float64((2*k+1)*j)/64)
			}
			if math.Abs(got[k]-want) > 1e-12 {
				t.Fatalf("k=%d: got %v want %v", k, got[k], want)
			}
		}
	}
}

// TestMDCT checks the folded MDCT against the definition of 11172-3 and that
// the decoder's IMDCT (no normalisation), windowed and overlap-added,
// returns the input: the check on mdctScale.
func TestMDCT(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const blocks = 6
	x := make([]float64, 18*(blocks+1))
	for i := 18; i < len(x)-18; i++ {
		x[i] = r.Float64()*2 - 1
	}
	rec := make([]float64, len(x)+18)
	for blk := range blocks {
		var prev, cur [18]float64
		copy(prev[:], x[18*blk:])
		copy(cur[:], x[18*blk+18:])
		var got [18]float64
		mdct18(&prev, &cur, got[:])
		for m := range 18 {
			var want float64
			for k := range 36 {
				z := x[18*blk+k]
				want += z * math.Sin(math.Pi/36*(float64(k)+0.5)) * math.Cos(math.Pi/72*float64((2*k+1+18)*(2*m+1)))
			}
			want *= mdctScale
			if math.Abs(got[m]-want) > 1e-12 {
				t.Fatalf("block %d line %d: got %v want %v", blk, m, got[m], want)
			}
		}
		// Decoder IMDCT, window, overlap-add.
		for i := range 36 {
			var y float64
			for k := range 18 {
				y += got[k] * math.Cos(math.Pi/72*float64((2*i+1+18)*(2*k+1)))
			}
			rec[18*blk+i] += y * math.Sin(math.Pi/36*(float64(i)+0.5))
		}
	}
	for i := 18; i < 18*blocks; i++ {
		if math.Abs(rec[i]-x[i]) > 1e-9 {
			t.Fatalf("sample %d: reconstructed %v, input %v", i, rec[i], x[i])
		}
	}
}
