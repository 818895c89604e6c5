package mp3dec

import (
	"math"
	"sync"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

var (
	synthOnce  sync.Once
	aliasCS    [8]float64
	aliasCA    [8]float64
	imdctLong  [36][18]float64 // cos(π/72 (2i+1+18)(2k+1))
	imdctShort [12][6]float64  // cos(π/24 (2i+1+6)(2k+1))
	winLong    [4][36]float64  // IMDCT windows by block type (2 unused)
	winShort   [12]float64
	synthN     [64][32]float64 // cos((16+i)(2k+1)π/64)
	synthD     [512]float64
)

func initSynth() {
	synthOnce.Do(func() {
		for i, c := range mp3tab.AliasCoefficients {
			sq := math.Sqrt(1 + c*c)
			aliasCS[i] = 1 / sq
			aliasCA[i] = c / sq
		}
		for i := 0; i < 36; i++ {
			for k := 0; k < 18; k++ {
				imdctLong[i][k] = math.Cos(math.Pi / 72 * float64((2*i+1+18)*(2*k+1)))
			}
		}
		for i := 0; i < 12; i++ {
			for k := 0; k < 6; k++ {
				imdctShort[i][k] = math.Cos(math.Pi / 24 * float64((2*i+1+6)*(2*k+1)))
			}
			winShort[i] = math.Sin(math.Pi / 12 * (float64(i) + 0.5))
		}
		for i := 0; i < 36; i++ {
			winLong[0][i] = math.Sin(math.Pi / 36 * (float64(i) + 0.5))
		}
		for i := 0; i < 36; i++ {
			switch {
			case i < 18:
				winLong[1][i] = winLong[0][i]
			case i < 24:
				winLong[1][i] = 1
			case i < 30:
				winLong[1][i] = math.Sin(math.Pi / 12 * (float64(i-18) + 0.5))
			}
			switch {
			case i < 6:
			case i < 12:
				winLong[3][i] = math.Sin(math.Pi / 12 * (float64(i-6) + 0.5))
			case i < 18:
				winLong[3][i] = 1
			default:
				winLong[3][i] = winLong[0][i]
			}
		}
		for i := 0; i < 64; i++ {
			for k := 0; k < 32; k++ {
				synthN[i][k] = math.Cos(float64((16+i)*(2*k+1)) * math.Pi / 64)
			}
		}
		for i := range synthD {
			synthD[i] = mp3tab.SynthWindow(i)
		}
	})
}

// hybrid runs the hybrid filterbank on one granule of one channel: alias
// reduction, IMDCT with overlap-add, frequency inversion, then the
// polyphase synthesis into 576 output samples.
func (l *layer3) hybrid(ch int, g *granule, out []float32) {
	xr := &l.xr[ch]
	short := g.windowSwitching && g.blockType == 2
	longSb := 32
	if short {
		longSb = 0
		if g.mixed {
			longSb = 2
		}
	}
	blockType := 0
	if g.windowSwitching {
		blockType = g.blockType
	}

	// Alias reduction between adjacent long subbands.
	for sb := 1; sb < longSb; sb++ {
		for i := 0; i < 8; i++ {
			a, b := xr[sb*18-1-i], xr[sb*18+i]
			xr[sb*18-1-i] = a*aliasCS[i] - b*aliasCA[i]
			xr[sb*18+i] = b*aliasCS[i] + a*aliasCA[i]
		}
	}

	var res [18][32]float64 // [time slot][subband]
	ov := &l.overlap[ch]
	for sb := 0; sb < 32; sb++ {
		var z [36]float64
		if sb < longSb {
			win := &winLong[blockType]
			if short {
				win = &winLong[0] // the long subbands of a mixed block
			}
			x := xr[sb*18 : sb*18+18]
			nonzero := false
			for _, v := range x {
				if v != 0 {
					nonzero = true
					break
				}
			}
			if nonzero {
				for i := 0; i < 36; i++ {
					c := &imdctLong[i]
					s := 0.0
					for k := 0; k < 18; k++ {
						s += x[k] * c[k]
					}
					z[i] = s * win[i]
				}
			}
		} else {
			for w := 0; w < 3; w++ {
				var x [6]float64
				nonzero := false
				for k := 0; k < 6; k++ {
					x[k] = xr[l.shortPos[w][sb*6+k]]
					nonzero = nonzero || x[k] != 0
				}
				if !nonzero {
					continue
				}
				for i := 0; i < 12; i++ {
					c := &imdctShort[i]
					s := x[0]*c[0] + x[1]*c[1] + x[2]*c[2] + x[3]*c[3] + x[4]*c[4] + x[5]*c[5]
					z[6+6*w+i] += s * winShort[i]
				}
			}
		}
		for i := 0; i < 18; i++ {
			v := z[i] + ov[sb][i]
			ov[sb][i] = z[18+i]
			// Frequency inversion: odd time samples of odd subbands.
			if sb&1 == 1 && i&1 == 1 {
				v = -v
			}
			res[i][sb] = v
		}
	}
	for i := 0; i < 18; i++ {
		l.synth[ch].run(&res[i], out[i*32:i*32+32])
	}
}

// synthesis is the polyphase synthesis filterbank state of one channel:
// the V vector of ISO/IEC 11172-3 as a ring buffer. Each new V is written
// twice, at off and off+1024, so the windowing reads one linear slice.
type synthesis struct {
	v   [2048]float64
	off int
}

// run turns 32 subband samples into 32 PCM samples.
func (s *synthesis) run(in *[32]float64, out []float32) {
	s.off = (s.off - 64) & 1023
	// V[i] = sum_k cos((16+i)(2k+1)π/64) S[k] is a 32-point DCT-II X[m]
	// of S, read at m = 16+i folded by the cosine's symmetries.
	var x [32]float64
	dct32(in, &x)
	v := s.v[s.off : s.off+64]
	w := s.v[s.off+1024 : s.off+1024+64]
	for i := 0; i < 16; i++ {
		v[i] = x[16+i]
		v[48+i] = -x[i]
	}
	v[16] = 0
	for i := 17; i < 48; i++ {
		v[i] = -x[48-i]
	}
	copy(w, v)

	var sum [32]float64
	for i := 0; i < 8; i++ {
		v0 := s.v[s.off+i*128 : s.off+i*128+32]
		v1 := s.v[s.off+i*128+96 : s.off+i*128+128]
		d0 := synthD[i*64 : i*64+32]
		d1 := synthD[i*64+32 : i*64+64]
		for j := range sum {
			sum[j] += v0[j]*d0[j] + v1[j]*d1[j]
		}
	}
	out = out[:32]
	for j, v := range sum {
		out[j] = float32(v)
	}
}

// dctScaleN holds 1/(2 cos((2k+1)π/(2N))) for the butterflies of a size-N
// DCT-II step.
var (
	dctScale32 = dctScale(32)
	dctScale16 = dctScale(16)
	dctScale8  = dctScale(8)
	dctScale4  = dctScale(4)
	dctScale2  = dctScale(2)
)

func dctScale(n int) []float64 {
	c := make([]float64, n/2)
	for k := range c {
		c[k] = 1 / (2 * math.Cos(float64(2*k+1)*math.Pi/float64(2*n)))
	}
	return c
}

// dct32 computes X[m] = sum_k x[k] cos((2k+1)mπ/64) with Lee's recursive
// factorisation: 80 multiplications instead of 1024.
func dct32(in *[32]float64, out *[32]float64) {
	var a, b, ea, eb [16]float64
	c := dctScale32
	for k := 0; k < 16; k++ {
		a[k] = in[k] + in[31-k]
		b[k] = (in[k] - in[31-k]) * c[k]
	}
	dct16(&a, &ea)
	dct16(&b, &eb)
	for m := 0; m < 16; m++ {
		out[2*m] = ea[m]
		out[2*m+1] = eb[m]
		if m < 15 {
			out[2*m+1] += eb[m+1]
		}
	}
}

func dct16(in *[16]float64, out *[16]float64) {
	var a, b, ea, eb [8]float64
	c := dctScale16
	for k := 0; k < 8; k++ {
		a[k] = in[k] + in[15-k]
		b[k] = (in[k] - in[15-k]) * c[k]
	}
	dct8(&a, &ea)
	dct8(&b, &eb)
	for m := 0; m < 8; m++ {
		out[2*m] = ea[m]
		out[2*m+1] = eb[m]
		if m < 7 {
			out[2*m+1] += eb[m+1]
		}
	}
}

func dct8(in *[8]float64, out *[8]float64) {
	var a, b, ea, eb [4]float64
	c := dctScale8
	for k := 0; k < 4; k++ {
		a[k] = in[k] + in[7-k]
		b[k] = (in[k] - in[7-k]) * c[k]
	}
	dct4(&a, &ea)
	dct4(&b, &eb)
	for m := 0; m < 4; m++ {
		out[2*m] = ea[m]
		out[2*m+1] = eb[m]
		if m < 3 {
			out[2*m+1] += eb[m+1]
		}
	}
}

func dct4(in *[4]float64, out *[4]float64) {
	c4, c2 := dctScale4, dctScale2
	a0, a1 := in[0]+in[3], in[1]+in[2]
	b0, b1 := (in[0]-in[3])*c4[0], (in[1]-in[2])*c4[1]
	// Size-2 DCT-II: X0 = x0 + x1, X1 = (x0 - x1) cos(π/4).
	ea0, ea1 := a0+a1, (a0-a1)*c2[0]
	eb0, eb1 := b0+b1, (b0-b1)*c2[0]
	out[0] = ea0
	out[1] = eb0 + eb1
	out[2] = ea1
	out[3] = eb1
}
