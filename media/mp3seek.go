package media

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/recvault/recvault/internal/seekpos"
	"github.com/recvault/recvault/media/mp3enc"
)

// mp3Options are the encoder options of an MP3 output.
func (o *Output) mp3Options() mp3enc.Options {
	return mp3enc.Options{SampleRate: o.SampleRate, Channels: o.Channels, Bitrate: o.Bitrate,
		TotalSamples: o.outputFrames()}
}

// mp3Reader serves an MP3 output of a PCM/G.711 source at any offset: the
// encoder cuts its stream into segments that do not depend on earlier
// input (mp3enc.SegmentFrames), so a read at an offset encodes from the
// start of the segment holding it, fed from the matching source frames,
// and drops the bytes before the offset. Sequential reads continue the
// same encoder. It holds the encoder's state, one source stage and at most
// a couple of frames of output, whatever the offset.
type mp3Reader struct {
	o      *Output
	layout mp3enc.Layout
	ctx    context.Context
	blob   io.ReaderAt
	pos    int64

	enc    *mp3enc.Encoder // nil once closed, or before the first read
	src    frameReader
	in     []int16 // one MP3 frame's worth of input samples
	pend   []byte  // encoder output not read yet; pend[0] is at stream offset encPos
	encPos int64
	live   bool // enc, src and encPos describe a conversion in progress
}

func (o *Output) openMP3(ctx context.Context, blob io.ReaderAt) *mp3Reader {
	return &mp3Reader{o: o, layout: o.mp3Layout, ctx: ctx, blob: blob}
}

// Write collects the encoder's output.
func (m *mp3Reader) Write(b []byte) (int, error) {
	m.pend = append(m.pend, b...)
	return len(b), nil
}

func (m *mp3Reader) Seek(off int64, whence int) (int64, error) {
	pos, err := seekpos.Resolve(m.pos, m.o.Size, off, whence)
	if err != nil {
		return 0, fmt.Errorf("media: %w", err)
	}
	m.pos = pos
	return pos, nil
}

func (m *mp3Reader) Read(p []byte) (int, error) {
	if err := m.ctx.Err(); err != nil {
		return 0, err
	}
	if m.pos >= m.o.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Continue the running conversion when the position is within or at
	// the end of what it has produced; otherwise start at the segment.
	if !m.live || m.pos < m.encPos || m.pos > m.encPos+int64(len(m.pend)) {
		if err := m.start(); err != nil {
			return 0, err
		}
	}
	for {
		if k := m.pos - m.encPos; k > 0 {
			k = min(k, int64(len(m.pend)))
			m.pend = m.pend[:copy(m.pend, m.pend[k:])]
			m.encPos += k
		}
		if len(m.pend) > 0 {
			break
		}
		if m.enc == nil {
			m.live = false
			return 0, fmt.Errorf("media: mp3 conversion ended at byte %d of %d: %w", m.encPos, m.o.Size, io.ErrUnexpectedEOF)
		}
		if err := m.ctx.Err(); err != nil {
			return 0, err
		}
		if err := m.produce(); err != nil {
			m.live = false
			return 0, err
		}
	}
	n := copy(p, m.pend)
	m.pos += int64(n)
	return n, nil
}

// start begins a conversion at the segment holding m.pos: the source from
// the warm-up before it, the encoder at the segment.
func (m *mp3Reader) start() error {
	m.live = false
	o := m.o
	seg, off := m.layout.Segment(m.pos)
	first := m.layout.SegmentSample(seg)
	var warm []int16 // segment 0 starts from the encoder's initial state
	if seg > 0 {
		first -= mp3enc.WarmupSamples
	}
	src, err := o.sourceAt(m.blob, first)
	if err != nil {
		return err
	}
	if seg > 0 {
		warm = make([]int16, mp3enc.WarmupSamples*o.Channels)
		if err := readFramesFull(src, warm); err != nil {
			return fmt.Errorf("media: mp3 warm-up at sample %d: %w", first, err)
		}
	}
	m.pend = m.pend[:0]
	enc, err := mp3enc.NewEncoderAt(m, o.mp3Options(), seg, warm)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	if m.in == nil {
		m.in = make([]int16, 1152*o.Channels)
	}
	m.enc, m.src, m.encPos, m.live = enc, src, off, true
	return nil
}

// produce feeds the encoder one block of input, or closes it at the end
// of the source; either may add bytes to m.pend.
func (m *mp3Reader) produce() error {
	n, err := m.src.readFrames(m.in)
	if n > 0 {
		if werr := m.enc.Write(m.in[:n]); werr != nil {
			return fmt.Errorf("media: %w", werr)
		}
	}
	if err == io.EOF {
		enc := m.enc
		m.enc, m.src = nil, nil
		if cerr := enc.Close(); cerr != nil {
			if errors.Is(cerr, mp3enc.ErrLength) {
				return fmt.Errorf("media: source shorter than planned: %w: %w", io.ErrUnexpectedEOF, cerr)
			}
			return fmt.Errorf("media: %w", cerr)
		}
		return nil
	}
	return err
}

// readFramesFull fills dst from fr; past the end of the source it is
// silence (a warm-up can reach into the encoder's closing padding).
func readFramesFull(fr frameReader, dst []int16) error {
	for len(dst) > 0 {
		n, err := fr.readFrames(dst)
		dst = dst[n:]
		if err == io.EOF {
			clear(dst)
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}
