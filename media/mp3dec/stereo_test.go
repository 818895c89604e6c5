package mp3dec

import (
	"math"
	"testing"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

// TestIntensityStereo checks intensity and middle/side decoding of a long
// block against the formulas of 11172-3 (tan ratios) and 13818-3 (powers
// of 2^-1/4), since LAME, the reference encoder here, never writes
// intensity stereo.
func TestIntensityStereo(t *testing.T) {
	tests := []struct {
		name       string
		rate       int
		pos        int     // intensity position of every band
		illegal    int     // LSF: the band's illegal position
		kl, kr     float64 // expected factors above the bound
		compress   int     // right channel scalefac_compress (LSF: bit 0 = intensity_scale)
		isExpected bool
	}{
		{"MPEG-1 pos 3", 44100, 3, 0, 0.5, 0.5, 0, true},
		{"MPEG-1 pos 0", 44100, 0, 0, 0, 1, 0, true},
		{"MPEG-1 pos 7 is not intensity", 44100, 7, 0, 0, 0, 0, false},
		{"LSF pos 1 scale 0", 22050, 1, 7, math.Pow(2, -0.25), 1, 0, true},
		{"LSF pos 2 scale 1", 22050, 2, 7, 1, math.Pow(2, -0.5), 1, true},
		{"LSF illegal pos", 8000, 3, 3, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _, _ := mp3tab.SampleRateIndex(tt.rate)
			h := mp3tab.Header{Version: v, Layer: 3, Bitrate: 64, SampleRate: tt.rate,
				ChannelMode: mp3tab.JointStereo, ModeExtension: mp3tab.ModeExtIntensity | mp3tab.ModeExtMS}
			var l layer3
			l.init(h)
			l.h = h
			l.si.gr[0][1].scalefacCompress = tt.compress
			const nz = 100
			for i := 0; i < 576; i++ {
				l.xr[0][i] = 1
				if i < nz {
					l.xr[1][i] = 0.5
				}
			}
			l.nz[1] = nz
			for sfb := range l.sf[1].l {
				l.sf[1].l[sfb] = tt.pos
				l.sf[1].lMax[sfb] = tt.illegal
			}
			l.stereo(0)
			bound := 0
			for l.sfbL[bound] < nz {
				bound++
			}
			bound = l.sfbL[bound]
			for i := 0; i < 576; i++ {
				wl, wr := 1.5/math.Sqrt2, 0.5/math.Sqrt2 // M/S of (1, 0.5)
				if i >= nz {
					wl, wr = 1/math.Sqrt2, 1/math.Sqrt2 // M/S of (1, 0)
				}
				if i >= bound && tt.isExpected {
					wl, wr = tt.kl, tt.kr
				}
				if math.Abs(l.xr[0][i]-wl) > 1e-9 || math.Abs(l.xr[1][i]-wr) > 1e-9 {
					t.Fatalf("line %d (bound %d): got (%v, %v), want (%v, %v)", i, bound, l.xr[0][i], l.xr[1][i], wl, wr)
				}
			}
		})
	}
}
