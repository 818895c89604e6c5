package mp3enc

import (
	"math"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// analysisWindow is C[i] of 11172-3 Table 3-C.1. The standard defines it as
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

// dct3 computes out[k] = Σ_n in[n]·cos(π(2k+1)n/(2N)), N = len(in) a power
// of two ≤ 32, by Lee's recursive split into even and odd halves:
// N/2·log2 N multiplications instead of N². in is overwritten.
func dct3(in, out []float64, lvl int) {
	n := len(in)
	if n == 2 {
		// cos(π(2k+1)/4) = ±√½
		h := in[1] * math.Sqrt2 / 2
		out[0], out[1] = in[0]+h, in[0]-h
		return
	}
	half := n / 2
	var buf [64]float64
	g, h := buf[:half], buf[half:n]
	for m := range half {
		g[m] = in[2*m]
		h[m] = in[2*m+1]
		if m > 0 {
			h[m] += in[2*m-1]
		}
	}
	var obuf [32]float64
	ge, he := obuf[:half], obuf[half:n]
	dct3(g, ge, lvl+1)
	dct3(h, he, lvl+1)
	sc := &dct3Scale[lvl]
	for k := range half {
		o := he[k] * sc[k]
		out[k] = ge[k] + o
		out[n-1-k] = ge[k] - o
	}
}

// polyphase is one channel's 32-band analysis filterbank.
type polyphase struct {
	// x holds the last 512 input samples twice so that X[i] (age i, X[0]
	// newest) is x[pos+i] without wrapping.
	x   [1024]float64
	pos int
}

// filter shifts in 32 samples (oldest first) and writes the 32 subband
// samples of 11172-3 C.1.3 to s.
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
	dct3(t[:], s[:], 0)
}
