package mp3enc

import (
	"math"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// mdctScale makes the forward transform the exact inverse of the decoder's
// IMDCT as 11172-3 defines it, with no normalisation: windowed
// overlap-add of that IMDCT returns 9 times the input.
const mdctScale = 1.0 / 9

// mdctWin is the long-block sine window w[k] = sin(π/36·(k+½)).
var mdctWin = func() (w [36]float64) {
	for k := range w {
		w[k] = math.Sin(math.Pi / 36 * (float64(k) + 0.5))
	}
	return w
}()

// dct4Cos[m][n] = cos(π/18·(n+½)(m+½))·mdctScale: the 18-point DCT-IV the
// MDCT reduces to after folding.
var dct4Cos = func() (t [18][18]float64) {
	for m := range 18 {
		for n := range 18 {
			t[m][n] = math.Cos(math.Pi/18*(float64(n)+0.5)*(float64(m)+0.5)) * mdctScale
		}
	}
	return t
}()

// aliasCS and aliasCA are the butterfly coefficients cs_i, ca_i.
var aliasCS, aliasCA = func() (cs, ca [8]float64) {
	for i, c := range mp3tab.AliasCoefficients {
		d := math.Sqrt(1 + c*c)
		cs[i], ca[i] = 1/d, c/d
	}
	return cs, ca
}()

// mdct18 transforms 36 subband samples (18 previous, 18 current) of one
// subband into 18 frequency lines:
//
//	X[m] = Σ_{k<36} w[k]·z[k]·cos(π/72·(2k+1+18)(2m+1))
//
// Splitting the windowed input into quarters a, b, c, d (9 samples each),
// the MDCT equals the DCT-IV of (−c_r−d, a−b_r) (r: reversed), which halves
// the multiplications.
func mdct18(prev, cur *[18]float64, out []float64) {
	w := &mdctWin
	var v [18]float64
	for n := range 9 {
		// a = prev[0:9], b = prev[9:18], c = cur[0:9], d = cur[9:18]
		v[n] = -w[26-n]*cur[8-n] - w[27+n]*cur[9+n]
		v[9+n] = w[n]*prev[n] - w[17-n]*prev[17-n]
	}
	out = out[:18]
	for m := range 18 {
		row := &dct4Cos[m]
		var acc float64
		for n := range 18 {
			acc += row[n] * v[n]
		}
		out[m] = acc
	}
}

// aliasReduce applies the encoder's alias-reduction butterflies between
// adjacent subbands: the inverse of the decoder's butterflies.
func aliasReduce(xr *[576]float64) {
	for sb := 1; sb < 32; sb++ {
		base := sb * 18
		for i := range 8 {
			a := xr[base-1-i]
			b := xr[base+i]
			xr[base-1-i] = a*aliasCS[i] + b*aliasCA[i]
			xr[base+i] = b*aliasCS[i] - a*aliasCA[i]
		}
	}
}
