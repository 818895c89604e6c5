package mp3dec

import (
	"math"
	"math/rand"
	"testing"
)

// TestDCT32 checks the fast DCT against the definition.
func TestDCT32(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var in, out [32]float64
	for i := range in {
		in[i] = rng.Float64()*2 - 1
	}
	dct32(&in, &out)
	for m := 0; m < 32; m++ {
		want := 0.0
		for k := 0; k < 32; k++ {
			want += in[k] * math.Cos(float64((2*k+1)*m)*math.Pi/64)
		}
		if math.Abs(out[m]-want) > 1e-12 {
			t.Errorf("X[%d] = %v, want %v", m, out[m], want)
		}
	}
}

// TestSynthesisMatrix checks the folded DCT against the standard's
// matrixing V[i] = sum_k cos((16+i)(2k+1)π/64) S[k].
func TestSynthesisMatrix(t *testing.T) {
	initSynth()
	rng := rand.New(rand.NewSource(2))
	var in [32]float64
	for i := range in {
		in[i] = rng.Float64()*2 - 1
	}
	var s synthesis
	out := make([]float32, 32)
	s.run(&in, out)
	for i := 0; i < 64; i++ {
		want := 0.0
		for k := 0; k < 32; k++ {
			want += synthN[i][k] * in[k]
		}
		if got := s.v[s.off+i]; math.Abs(got-want) > 1e-12 || s.v[s.off+1024+i] != got {
			t.Errorf("V[%d] = %v, want %v", i, got, want)
		}
	}
}

func BenchmarkSynthesis(b *testing.B) {
	initSynth()
	var in [32]float64
	for i := range in {
		in[i] = float64(i) / 32
	}
	var s synthesis
	out := make([]float32, 32)
	for b.Loop() {
		s.run(&in, out)
	}
}
