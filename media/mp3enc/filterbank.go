package mp3enc

import (
	"math"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// analysisWindow is the encoder window C[i] of 11172-3 Annex C. It equals
// the synthesis window divided by 32, so it is derived from mp3tab's single
// copy of D[i].
var analysisWindow = func() (c [512]float64) {
	for i := range c {
		c[i] = mp3tab.SynthWindow(i) / 32
	}
	return c
}()

// dct3Scale[lvl][k] = 1/(2·cos(π(2k+1)/(2N))) for N = 32>>lvl: the odd-part
// weights of the recursive DCT-III below.
var dct3Scale = func() (s [5][16]float64) {
	for lvl := range 5 {
		n := 32 >> lvl
		for k := range n / 2 {
			s[lvl][k] = 1 / (2 * math.Cos(math.Pi*float64(2*k+1)/float64(2*n)))
		}
	}
	return s
}()

// The dct3N functions compute out[k] = Σ_n in[n]·cos(π(2k+1)n/(2N)) by
// Lee's split into even and odd halves: with g[m] = in[2m] and
// h[m] = in[2m+1] + in[2m-1], out[k] = G[k] + H[k]/(2cos(π(2k+1)/(2N))) and
// out[N-1-k] = G[k] - H[k]/(2cos(π(2k+1)/(2N))), where G and H are the
// half-size transforms: N/2·log2 N multiplications instead of N². One
// function per size keeps the arrays on the stack and the calls cheap.

func dct3N32(in, out *[32]float64) {
	var g, h, ge, he [16]float64
	for m := range 16 {
		g[m] = in[2*m]
		h[m] = in[2*m+1]
		if m > 0 {
			h[m] += in[2*m-1]
		}
	}
	dct3N16(&g, &ge)
	dct3N16(&h, &he)
	sc := &dct3Scale[0]
	for k := range 16 {
		o := he[k] * sc[k]
		out[k] = ge[k] + o
		out[31-k] = ge[k] - o
	}
}

func dct3N16(in, out *[16]float64) {
	var g, h, ge, he [8]float64
	for m := range 8 {
		g[m] = in[2*m]
		h[m] = in[2*m+1]
		if m > 0 {
			h[m] += in[2*m-1]
		}
	}
	dct3N8(&g, &ge)
	dct3N8(&h, &he)
	sc := &dct3Scale[1]
	for k := range 8 {
		o := he[k] * sc[k]
		out[k] = ge[k] + o
		out[15-k] = ge[k] - o
	}
}

func dct3N8(in, out *[8]float64) {
	var g, h, ge, he [4]float64
	for m := range 4 {
		g[m] = in[2*m]
		h[m] = in[2*m+1]
		if m > 0 {
			h[m] += in[2*m-1]
		}
	}
	dct3N4(&g, &ge)
	dct3N4(&h, &he)
	sc := &dct3Scale[2]
	for k := range 4 {
		o := he[k] * sc[k]
		out[k] = ge[k] + o
		out[7-k] = ge[k] - o
	}
}

func dct3N4(in, out *[4]float64) {
	// N=2 inline: out = {x0 + x1·√½, x0 - x1·√½}.
	const r = math.Sqrt2 / 2
	g0, g1 := in[0]+in[2]*r, in[0]-in[2]*r
	h1 := (in[3] + in[1]) * r
	h0, hh1 := in[1]+h1, in[1]-h1
	sc := &dct3Scale[3]
	o0, o1 := h0*sc[0], hh1*sc[1]
	out[0], out[3] = g0+o0, g0-o0
	out[1], out[2] = g1+o1, g1-o1
}

// polyphase is one channel's 32-band analysis filterbank.
type polyphase struct {
	// x holds the last 512 input samples twice so that X[i] (age i, X[0]
	// newest) is x[pos+i] without wrapping.
	x   [1024]float64
	pos int
}

// filter shifts in 32 samples (oldest first) and writes the 32 subband
// samples of the 11172-3 analysis filterbank to s.
func (p *polyphase) filter(in []float64, s *[32]float64) {
	p.pos = (p.pos - 32) & 511
	in = in[:32]
	for j, v := range in {
		q := p.pos + 31 - j
		p.x[q] = v
		p.x[q+512] = v
	}
	x := p.x[p.pos : p.pos+512]
	c := &analysisWindow
	var y [64]float64
	for k := range 64 {
		y[k] = c[k]*x[k] + c[k+64]*x[k+64] + c[k+128]*x[k+128] + c[k+192]*x[k+192] +
			c[k+256]*x[k+256] + c[k+320]*x[k+320] + c[k+384]*x[k+384] + c[k+448]*x[k+448]
	}
	var t [32]float64
	t[0] = y[16]
	for n := 1; n <= 16; n++ {
		t[n] = y[16+n] + y[16-n]
	}
	for n := 17; n < 32; n++ {
		t[n] = y[16+n] - y[80-n]
	}
	dct3N32(&t, s)
}
