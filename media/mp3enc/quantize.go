package mp3enc

import "math"

// chanGranule is one channel of one granule: its spectrum, quantised values
// and side info.
type chanGranule struct {
	xr    [576]float64
	xr34  [576]float64 // |xr|^(3/4), computed once per granule
	ix    [576]int32   // quantised magnitudes
	sign  [576]uint8   // 1 where xr < 0
	max34 float64
	nzEnd int // lines at and past nzEnd are exactly zero

	gain        int
	bigValues   int
	count1      int
	count1Table int
	tableSelect [3]int
	region0     int
	region1     int
	part23      int
}

// maxIx caps the quantised magnitudes. The 13-bit escapes of tables 23 and
// 31 could express 8206; 8191 (2^13 - 1) leaves a margin inside every
// decoder's dequantisation range and costs nothing: only full-scale input
// at the finest step gets near it.
const maxIx = 8191

// stepTable holds 2^(-3/16·(gain-210)), the factor applied to |xr|^(3/4) for
// each global_gain.
type stepTable [256]float64

// stepCache is the one step table all encoders read: it depends on nothing
// but the gain, so it is computed once rather than per stream.
var stepCache = func() (s stepTable) {
	for g := range s {
		s[g] = math.Pow(2, -0.1875*float64(g-210))
	}
	return s
}()

// prepare computes the power-law magnitudes and signs of c.xr.
func (c *chanGranule) prepare() {
	c.max34 = 0
	c.nzEnd = 0
	for i, v := range c.xr {
		a := v
		s := uint8(0)
		if a < 0 {
			a, s = -a, 1
		}
		c.sign[i] = s
		if a == 0 {
			c.xr34[i] = 0
			continue
		}
		x := math.Sqrt(a * math.Sqrt(a))
		c.xr34[i] = x
		c.max34 = max(c.max34, x)
		c.nzEnd = i + 1
	}
}

// minGain is the smallest global_gain whose quantised values stay ≤ maxIx.
func (c *chanGranule) minGain(steps *stepTable) int {
	if c.max34 == 0 {
		return 0
	}
	g := int(math.Floor(210 + 16.0/3*math.Log2(c.max34/maxIx)))
	g = max(g, 0)
	for g < 255 && c.max34*steps[g]+roundOffset > maxIx {
		g++
	}
	return g
}

// roundOffset is 1 - 0.5946: rounding |xr|^(3/4)/step at 0.5946 instead of
// 0.5 puts the decision threshold near the midpoint of the reconstruction
// levels q^(4/3), which is what minimises the squared error.
const roundOffset = 0.4054

// quantize sets c.ix for global_gain g.
func (c *chanGranule) quantize(g int, steps *stepTable) {
	c.gain = g
	step := steps[g]
	n := c.nzEnd
	for i, x := range c.xr34[:n] {
		c.ix[i] = int32(x*step + roundOffset)
	}
	clear(c.ix[n:])
}
