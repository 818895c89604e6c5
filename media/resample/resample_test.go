package resample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// run resamples all of src in chunks of the given size.
func run(t testing.TB, r *Resampler, src []int16, chunk int) []int16 {
	t.Helper()
	var out []int16
	dst := make([]int16, 777*r.Channels())
	chunk = max(chunk/r.Channels(), 1) * r.Channels()
	for len(src) > 0 {
		c := min(chunk, len(src))
		in := src[:c]
		for len(in) > 0 {
			nOut, nIn, err := r.Process(dst, in)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, dst[:nOut]...)
			in = in[nIn:]
			if nOut == 0 && nIn == 0 {
				t.Fatal("Process made no progress")
			}
		}
		src = src[c:]
	}
	for {
		n := r.Flush(dst)
		if n == 0 {
			break
		}
		out = append(out, dst[:n]...)
	}
	return out
}

func sine(n, rate int, freq, amp float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
	}
	return s
}

// toneLevel measures the amplitude of freq in x (least-squares fit of a
// sine and cosine over the middle of the signal, away from edge effects).
func toneLevel(x []int16, rate int, freq float64) float64 {
	lo, hi := len(x)/8, len(x)*7/8
	var ss, sc, cc, xs, xc float64
	for i := lo; i < hi; i++ {
		w := 2 * math.Pi * freq * float64(i) / float64(rate)
		s, c := math.Sin(w), math.Cos(w)
		ss += s * s
		cc += c * c
		sc += s * c
		xs += float64(x[i]) * s
		xc += float64(x[i]) * c
	}
	det := ss*cc - sc*sc
	a := (xs*cc - xc*sc) / det
	b := (xc*ss - xs*sc) / det
	return math.Hypot(a, b)
}

func rms[T int16 | float64](x []T) float64 {
	lo, hi := len(x)/8, len(x)*7/8
	var e float64
	for _, v := range x[lo:hi] {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(hi-lo))
}

func db(x float64) float64 { return 20 * math.Log10(x) }

func TestPassband(t *testing.T) {
	tests := []struct {
		in, out int
		freq    float64
	}{
		{8000, 16000, 1000}, {8000, 16000, 3400}, {16000, 8000, 1000}, {16000, 8000, 3400},
		{8000, 44100, 2000}, {44100, 8000, 3000}, {8000, 11025, 3400}, {48000, 44100, 15000}, {8000, 22050, 300},
	}
	for _, tc := range tests {
		r, err := New(tc.in, tc.out, 1)
		if err != nil {
			t.Fatal(err)
		}
		const amp = 10000
		out := run(t, r, sine(tc.in/2, tc.in, tc.freq, amp), 1000)
		if want := r.OutputFrames(int64(tc.in / 2)); int64(len(out)) != want {
			t.Errorf("%d→%d: %d frames out, want %d", tc.in, tc.out, len(out), want)
		}
		lvl := toneLevel(out, tc.out, tc.freq)
		errDB := db(lvl / amp)
		// Residual after removing the tone: distortion and noise.
		resid := rms(subtractTone(out, tc.out, tc.freq)) / (amp / math.Sqrt2)
		t.Logf("%d→%d Hz, %.0f Hz tone: gain %+.3f dB, residual %.1f dB", tc.in, tc.out, tc.freq, errDB, db(resid))
		if math.Abs(errDB) > 0.5 {
			t.Errorf("%d→%d Hz, %.0f Hz: gain %+.3f dB (limit ±0.5)", tc.in, tc.out, tc.freq, errDB)
		}
		if db(resid) > -60 {
			t.Errorf("%d→%d Hz, %.0f Hz: residual %.1f dB (limit -60)", tc.in, tc.out, tc.freq, db(resid))
		}
	}
}

func subtractTone(x []int16, rate int, freq float64) []float64 {
	lo, hi := len(x)/8, len(x)*7/8
	var ss, sc, cc, xs, xc float64
	for i := lo; i < hi; i++ {
		w := 2 * math.Pi * freq * float64(i) / float64(rate)
		s, c := math.Sin(w), math.Cos(w)
		ss, cc, sc = ss+s*s, cc+c*c, sc+s*c
		xs, xc = xs+float64(x[i])*s, xc+float64(x[i])*c
	}
	det := ss*cc - sc*sc
	a := (xs*cc - xc*sc) / det
	b := (xc*ss - xs*sc) / det
	y := make([]float64, len(x))
	for i := range x {
		w := 2 * math.Pi * freq * float64(i) / float64(rate)
		y[i] = float64(x[i]) - a*math.Sin(w) - b*math.Cos(w)
	}
	return y
}

// A tone above the output Nyquist frequency must not alias into the
// output: everything left must be ≥ 60 dB below the input tone.
func TestStopband(t *testing.T) {
	tests := []struct {
		in, out int
		freq    float64
	}{
		{16000, 8000, 4100}, {16000, 8000, 5000}, {16000, 8000, 7000},
		{44100, 8000, 4200}, {44100, 8000, 12000}, {48000, 16000, 8300},
		{11025, 8000, 5000}, {22050, 8000, 10000},
	}
	for _, tc := range tests {
		r, err := New(tc.in, tc.out, 1)
		if err != nil {
			t.Fatal(err)
		}
		const amp = 20000
		out := run(t, r, sine(tc.in/2, tc.in, tc.freq, amp), 4096)
		att := db(rms(out) / (amp / math.Sqrt2))
		t.Logf("%d→%d Hz, %.0f Hz tone: output at %.1f dB", tc.in, tc.out, tc.freq, att)
		if att > -60 {
			t.Errorf("%d→%d Hz, %.0f Hz: only %.1f dB attenuation (need ≥ 60)", tc.in, tc.out, tc.freq, -att)
		}
	}
}

// Starting at any output frame, fed from InputStart, must reproduce the
// same samples as a run from the beginning.
func TestSeekIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ in, out, ch int }{{8000, 16000, 1}, {16000, 8000, 2}, {8000, 44100, 2}, {44100, 8000, 1}, {8000, 11025, 1}, {8000, 8000, 2}} {
		src := make([]int16, 6000*tc.ch)
		for i := range src {
			src[i] = int16(rng.IntN(40000) - 20000)
		}
		r, err := New(tc.in, tc.out, tc.ch)
		if err != nil {
			t.Fatal(err)
		}
		full := run(t, r, src, 999)
		for _, k := range []int64{0, 1, 7, 100, 1031, int64(len(full)/tc.ch) - 3, int64(len(full)/tc.ch) - 1} {
			r.Reset(k)
			start := max(r.InputStart(k), 0)
			got := run(t, r, src[start*int64(tc.ch):], 313)
			want := full[k*int64(tc.ch):]
			if len(got) != len(want) {
				t.Fatalf("%+v from %d: %d samples, want %d", tc, k, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%+v from %d: sample %d = %d, full run %d", tc, k, i, got[i], want[i])
				}
			}
		}
	}
}

func TestChannelsIndependent(t *testing.T) {
	// Left 500 Hz, right 1500 Hz: each must come out on its own side.
	l := sine(8000, 8000, 500, 8000)
	rr := sine(8000, 8000, 1500, 8000)
	src := make([]int16, 16000)
	for i := range l {
		src[2*i], src[2*i+1] = l[i], rr[i]
	}
	r, _ := New(8000, 16000, 2)
	out := run(t, r, src, 1234)
	left, right := make([]int16, len(out)/2), make([]int16, len(out)/2)
	for i := range left {
		left[i], right[i] = out[2*i], out[2*i+1]
	}
	if g := toneLevel(left, 16000, 500); math.Abs(db(g/8000)) > 0.1 {
		t.Errorf("left gain %.2f dB", db(g/8000))
	}
	if g := toneLevel(left, 16000, 1500); db(g/8000) > -60 {
		t.Errorf("right leaks into left at %.1f dB", db(g/8000))
	}
	if g := toneLevel(right, 16000, 1500); math.Abs(db(g/8000)) > 0.1 {
		t.Errorf("right gain %.2f dB", db(g/8000))
	}
}

func TestErrorsAndEdges(t *testing.T) {
	for _, tc := range []struct{ in, out, ch int }{{0, 8000, 1}, {8000, -1, 1}, {8000, 16000, 0}, {7999, 48000, 1}} {
		if _, err := New(tc.in, tc.out, tc.ch); err == nil {
			t.Errorf("New(%d,%d,%d) accepted", tc.in, tc.out, tc.ch)
		}
	}
	r, _ := New(8000, 16000, 1)
	if out := run(t, r, nil, 10); len(out) != 0 {
		t.Errorf("empty input gave %d samples", len(out))
	}
	if _, _, err := r.Process(make([]int16, 10), []int16{1}); err != ErrFlushed {
		t.Errorf("Process after Flush: %v", err)
	}
	// Full-scale square wave must clip, not wrap around.
	sq := make([]int16, 4000)
	for i := range sq {
		sq[i] = 32767
		if i/20%2 == 1 {
			sq[i] = -32768
		}
	}
	r, _ = New(8000, 16000, 1)
	out := run(t, r, sq, 4000)
	for i := 1; i < len(out); i++ {
		if d := int(out[i]) - int(out[i-1]); d > 40000 || d < -40000 {
			t.Fatalf("wrap-around at %d: %d → %d", i, out[i-1], out[i])
		}
	}
	// DC stays DC.
	dc := make([]int16, 2000)
	for i := range dc {
		dc[i] = 1000
	}
	r, _ = New(8000, 11025, 1)
	out = run(t, r, dc, 2000)
	for i := 200; i < len(out)-200; i++ {
		if out[i] != 1000 {
			t.Fatalf("DC sample %d = %d", i, out[i])
		}
	}
}

func BenchmarkResample(b *testing.B) {
	for _, tc := range []struct{ in, out, ch int }{{8000, 16000, 1}, {16000, 8000, 1}, {8000, 44100, 2}, {44100, 8000, 1}} {
		b.Run(fmt.Sprintf("%dto%d_%dch", tc.in, tc.out, tc.ch), func(b *testing.B) {
			r, _ := New(tc.in, tc.out, tc.ch)
			src := sine(tc.in*tc.ch, tc.in, 440, 10000) // one second
			dst := make([]int16, 4096*tc.ch)
			b.SetBytes(int64(len(src) * 2))
			for b.Loop() {
				r.Reset(0)
				in := src
				for len(in) > 0 {
					_, n, _ := r.Process(dst, in)
					in = in[n:]
				}
				for r.Flush(dst) > 0 {
				}
			}
		})
	}
}
