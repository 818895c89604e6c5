package media

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/recvault/recvault/internal/ctxio"
)

// MaxPeakPoints bounds how many points a waveform may ask for: more than
// any screen is wide, and small enough that the answer stays a few tens
// of kilobytes.
const MaxPeakPoints = 4000

// Peaks is the envelope of a voice recording: for each channel as stored,
// the smallest and largest sample of each of len(Min[c]) equal spans of
// the recording, scaled to [-1, 1]. A player draws its waveform from it
// instead of downloading and decoding the whole recording in the page.
type Peaks struct {
	SampleRate int         `json:"sampleRate"`
	Frames     int64       `json:"frames"` // sample frames decoded
	Min        [][]float32 `json:"min"`    // [channel][point]
	Max        [][]float32 `json:"max"`
}

// Peaks decodes the whole recording read from blob (positioned at the
// start of the stored file) and returns its envelope in points spans. The
// output must be an as-stored one (o planned from a Request with only a
// format): the envelope is of the source channels, before any selection.
// Decoding runs in fixed buffers; ctx stops it between blocks.
func (o *Output) Peaks(ctx context.Context, blob io.Reader, points int) (*Peaks, error) {
	if points < 1 || points > MaxPeakPoints {
		return nil, invalid("points must be from 1 to %d", MaxPeakPoints)
	}
	if o.sel.kind != selAsIs || o.resample {
		return nil, fmt.Errorf("media: peaks need an as-stored output")
	}
	r, err := o.sampleBytes(ctxio.Reader(ctx, blob))
	if err != nil {
		return nil, err
	}
	fr, err := o.sourceReader(r, 0)
	if err != nil {
		return nil, err
	}
	ch := fr.channels()
	// An MP3 source tells its length only once decoded: span the
	// catalogue's duration, and clamp what a last frame adds.
	total := o.outputFrames()
	if total <= 0 {
		total = int64(math.Ceil(o.Duration.Seconds() * float64(o.SampleRate)))
	}
	total = max(total, 1)
	p := &Peaks{SampleRate: o.SampleRate, Min: make([][]float32, ch), Max: make([][]float32, ch)}
	lo, hi := make([][]int16, ch), make([][]int16, ch)
	for c := range ch {
		lo[c], hi[c] = make([]int16, points), make([]int16, points)
	}
	sp := samplePool.Get().(*[]int16)
	defer samplePool.Put(sp)
	buf := (*sp)[:len(*sp)/ch*ch]
	var frame int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := fr.readFrames(buf)
		for i := 0; i+ch <= n; i += ch {
			b := min(int(frame*int64(points)/total), points-1)
			for c := range ch {
				v := buf[i+c]
				lo[c][b] = min(lo[c][b], v)
				hi[c][b] = max(hi[c][b], v)
			}
			frame++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("media: decode for peaks: %w", err)
		}
	}
	p.Frames = frame
	for c := range ch {
		p.Min[c], p.Max[c] = make([]float32, points), make([]float32, points)
		for b := range points {
			p.Min[c][b] = scalePeak(lo[c][b])
			p.Max[c][b] = scalePeak(hi[c][b])
		}
	}
	return p, nil
}

// scalePeak maps a sample to [-1, 1] rounded to 1/1000: three digits are
// more than a pixel of any waveform, and keep the JSON small.
func scalePeak(v int16) float32 {
	if v == 0 {
		return 0 // not -0
	}
	return float32(math.Round(float64(v)/32768*1000) / 1000)
}
