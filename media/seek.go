package media

import (
	"context"
	"fmt"
	"io"

	"github.com/recvault/recvault/internal/seekpos"
)

// Open returns the output as an io.ReadSeeker of Size bytes that reads the
// stored bytes through blob (the whole stored file) only where needed: the
// bytes at any offset are computed from the matching source frames (plus
// the filter window when resampling; for MP3, from the start of the
// encoder segment holding the offset, at most mp3enc.SegmentFrames frames
// and a warm-up earlier), so serving a Range costs about as much as its
// length. Sequential reads continue one conversion stream;
// a seek elsewhere restarts it at the new offset. It fails with
// ErrNotSeekable when Seekable is false. Reads fail with ctx.Err() once ctx
// is done.
func (o *Output) Open(ctx context.Context, blob io.ReaderAt) (io.ReadSeeker, error) {
	if !o.Seekable {
		return nil, ErrNotSeekable
	}
	switch o.enc {
	case encOriginal:
		return &ctxReadSeeker{ctx: ctx, rs: io.NewSectionReader(blob, 0, o.src.Size)}, nil
	case encMP3:
		return o.openMP3(ctx, blob), nil
	}
	return &seekReader{o: o, ctx: ctx, blob: blob, chainPos: -1}, nil
}

type ctxReadSeeker struct {
	ctx context.Context
	rs  io.ReadSeeker
}

func (c *ctxReadSeeker) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.rs.Read(p)
}

func (c *ctxReadSeeker) Seek(off int64, whence int) (int64, error) { return c.rs.Seek(off, whence) }

// seekReader serves header, converted samples and the RIFF pad byte of a
// PCM/G.711 output from a PCM/G.711 source.
type seekReader struct {
	o    *Output
	ctx  context.Context
	blob io.ReaderAt
	pos  int64

	chain    io.Reader // conversion stream, valid at chainPos
	chainPos int64
}

func (s *seekReader) Seek(off int64, whence int) (int64, error) {
	pos, err := seekpos.Resolve(s.pos, s.o.Size, off, whence)
	if err != nil {
		return 0, fmt.Errorf("media: %w", err)
	}
	s.pos = pos
	return pos, nil
}

func (s *seekReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	o := s.o
	if s.pos >= o.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	hl := int64(len(o.header))
	if s.pos < hl {
		n := copy(p, o.header[s.pos:])
		s.pos += int64(n)
		return n, nil
	}
	dataEnd := hl + o.dataSize
	if s.pos >= dataEnd { // the RIFF pad byte
		n := int(min(int64(len(p)), o.Size-s.pos))
		clear(p[:n])
		s.pos += int64(n)
		return n, nil
	}
	if s.chain == nil || s.chainPos != s.pos {
		if err := s.startChain(); err != nil {
			return 0, err
		}
	}
	p = p[:min(int64(len(p)), dataEnd-s.pos)]
	n, err := s.chain.Read(p)
	s.pos += int64(n)
	s.chainPos = s.pos
	if err == io.EOF {
		s.chain = nil
		if s.pos < dataEnd {
			return n, fmt.Errorf("media: source ended %d bytes before the planned output end: %w", dataEnd-s.pos, io.ErrUnexpectedEOF)
		}
		err = nil
	}
	return n, err
}

// startChain starts a conversion stream at s.pos (inside the samples).
func (s *seekReader) startChain() error {
	o := s.o
	q := s.pos - int64(len(o.header))
	outBA := int64(o.Channels * o.enc.bytesPerSample())
	k := q / outBA
	skip := q % outBA
	sr, err := o.sampleReader(o.sourceSection(s.blob, k), k)
	if err != nil {
		return err
	}
	s.chain = sr
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, s.chain, skip); err != nil {
			s.chain = nil
			return fmt.Errorf("media: start conversion at byte %d: %w", s.pos, noEOF(err))
		}
	}
	s.chainPos = s.pos
	return nil
}

// sourceSection returns the stored samples from the first source frame
// output frame k needs to the end (empty past the end).
func (o *Output) sourceSection(blob io.ReaderAt, k int64) *io.SectionReader {
	srcFmt, _ := o.src.Format()
	srcBA := int64(o.src.Channels * srcFmt.BytesPerSample())
	inFrames := o.src.DataSize / srcBA
	in := min(o.inputStart(k), inFrames)
	return io.NewSectionReader(blob, o.src.DataOffset+in*srcBA, (inFrames-in)*srcBA)
}

// sourceAt returns the decode → select → resample stages from output
// frame k of a PCM/G.711 source.
func (o *Output) sourceAt(blob io.ReaderAt, k int64) (frameReader, error) {
	return o.sourceReader(o.sourceSection(blob, k), k)
}
