// Package probe identifies a stored recording from its bytes: container,
// codec, sample rate, channels and duration, plus where the samples of a
// WAV or raw G.711 file lie. Ingest uses it to catalogue uploads and the
// media pipeline to plan conversions.
//
// Probe reads through an io.ReaderAt so it works the same on local files and
// on ranged object-store reads. It reads headers only, in bounded buffers,
// except that an MP3 without a Xing/Info/VBRI frame count has its frame
// headers walked (sequentially, 64 KiB at a time) to measure the duration.
package probe

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/recvault/recvault/media/internal/mp3tab"
	"github.com/recvault/recvault/media/wav"
)

// Kind says whether a recording is a voice call or a screen/video capture.
type Kind string

// Kinds of recording.
const (
	Voice Kind = "voice"
	Video Kind = "video"
)

// Container is the file format around the coded media.
type Container string

// Containers recognised by Probe.
const (
	WAV Container = "wav"
	Raw Container = "raw" // headerless samples; only with a Hint
	MP3 Container = "mp3"
	MP4 Container = "mp4" // ISO base media (MP4, M4A, 3GP, QuickTime with ftyp)
)

// Codec names, as ffmpeg spells them where a name exists.
const (
	CodecPCM16   = "pcm_s16le"
	CodecALaw    = "alaw"
	CodecULaw    = "ulaw"
	CodecMP3     = "mp3"
	CodecH264    = "h264"
	CodecHEVC    = "hevc"
	CodecAAC     = "aac"
	CodecOpus    = "opus"
	CodecUnknown = "unknown"
)

// Info is what Probe learnt about a recording.
type Info struct {
	Kind      Kind
	Container Container
	// Codec is the audio codec of a voice recording, or the video codec
	// of a video one (see AudioCodec for its sound track).
	Codec      string
	AudioCodec string // for MP4: codec of the first sound track, "" if none
	SampleRate int    // Hz, of the audio (0 if the file has no audio)
	Channels   int    // audio channels (0 if unknown or no audio)
	Duration   time.Duration
	Bitrate    int // kbit/s: MP3 average bitrate, 0 where not meaningful
	Width      int // MP4 video track pixels, 0 for voice
	Height     int

	// For WAV and raw: the samples are DataSize bytes from DataOffset,
	// whole sample frames only (a trailing partial frame is left out).
	// For MP3: the first audio frame and the length to the last whole
	// frame. Zero for MP4.
	DataOffset int64
	DataSize   int64
}

// Format returns the WAV/raw sample format of a PCM or G.711 recording and
// false for anything else.
func (i Info) Format() (wav.Format, bool) {
	if i.Container != WAV && i.Container != Raw {
		return 0, false
	}
	switch i.Codec {
	case CodecPCM16:
		return wav.PCM16, true
	case CodecALaw:
		return wav.ALaw, true
	case CodecULaw:
		return wav.ULaw, true
	}
	return 0, false
}

// Hint supplies what cannot be read from the bytes. Headerless G.711 (or
// PCM) has no signature, so a caller that knows a file is raw says so with
// Raw; the bytes are then not examined. Zero SampleRate means 8000 and zero
// Channels means 1.
type Hint struct {
	Raw        wav.Format // 0: detect from the bytes
	SampleRate int
	Channels   int
}

// ErrUnrecognised is wrapped by the error Probe returns for bytes that
// match none of the supported formats (as opposed to a recognised but
// corrupt file).
var ErrUnrecognised = errors.New("not a recognised media format")

// Probe identifies the recording of the given size readable through r.
// Unknown, truncated or corrupt input returns an error naming the problem.
func Probe(r io.ReaderAt, size int64, hint Hint) (Info, error) {
	if size < 0 {
		return Info{}, fmt.Errorf("probe: negative size %d", size)
	}
	if hint.Raw != 0 {
		return probeRaw(size, hint)
	}
	var head [64]byte
	n, err := r.ReadAt(head[:min(size, int64(len(head)))], 0)
	if err != nil && !(errors.Is(err, io.EOF) && int64(n) == min(size, int64(len(head)))) {
		return Info{}, fmt.Errorf("probe: read first bytes: %w", err)
	}
	h := head[:n]
	switch {
	case n == 0:
		return Info{}, fmt.Errorf("%w (empty file)", ErrUnrecognised)
	case n >= 12 && string(h[0:4]) == "RIFF" && string(h[8:12]) == "WAVE":
		return probeWAV(r, size)
	case n >= 8 && string(h[4:8]) == "ftyp":
		return probeMP4(r, size)
	case n >= 3 && string(h[0:3]) == "ID3", n >= 2 && h[0] == 0xFF && h[1]&0xE0 == 0xE0:
		return probeMP3(r, size)
	}
	// An MP3 may start with junk before its first frame; only a run of
	// valid consecutive frames counts, so other bytes are not taken for it.
	if info, err := probeMP3(r, size); err == nil {
		return info, nil
	}
	return Info{}, fmt.Errorf("%w (first bytes % x)", ErrUnrecognised, h[:min(n, 16)])
}

func probeRaw(size int64, hint Hint) (Info, error) {
	if !hint.Raw.Valid() {
		return Info{}, fmt.Errorf("probe: hint has unsupported raw format %v", hint.Raw)
	}
	rate, ch := hint.SampleRate, hint.Channels
	if rate == 0 {
		rate = 8000
	}
	if ch == 0 {
		ch = 1
	}
	if rate < 1 || rate > wav.MaxSampleRate || ch < 1 || ch > wav.MaxChannels {
		return Info{}, fmt.Errorf("probe: hint has bad rate %d or channels %d", rate, ch)
	}
	ba := int64(ch * hint.Raw.BytesPerSample())
	frames := size / ba
	return Info{
		Kind: Voice, Container: Raw, Codec: hint.Raw.String(),
		SampleRate: rate, Channels: ch,
		Duration:   wav.FramesDuration(frames, rate),
		DataOffset: 0, DataSize: frames * ba,
	}, nil
}

func probeWAV(r io.ReaderAt, size int64) (Info, error) {
	h, err := wav.ReadHeader(io.NewSectionReader(r, 0, size))
	if err != nil {
		return Info{}, err
	}
	avail := size - h.DataOffset
	ds := h.DataSize
	if ds < 0 {
		ds = avail // streaming recorder: the data runs to the end
	} else if ds > avail {
		return Info{}, fmt.Errorf("wav: data chunk truncated: header says %d bytes, file has %d", ds, avail)
	}
	frames := ds / int64(h.BlockAlign)
	return Info{
		Kind: Voice, Container: WAV, Codec: h.Format.String(),
		SampleRate: h.SampleRate, Channels: h.Channels,
		Duration:   wav.FramesDuration(frames, h.SampleRate),
		DataOffset: h.DataOffset, DataSize: frames * int64(h.BlockAlign),
	}, nil
}

// MP3 detection parameters.
const (
	mp3SyncWindow  = 64 << 10 // how far past ID3v2 to look for the first frame
	mp3NeedFrames  = 4        // consecutive valid frames that prove an MP3
	maxID3Tags     = 4        // stacked ID3v2 tags tolerated at the start
	mp3WalkBufSize = 64 << 10
)

func probeMP3(r io.ReaderAt, size int64) (Info, error) {
	off := int64(0)
	for range maxID3Tags {
		var b [10]byte
		if _, err := r.ReadAt(b[:], off); err != nil || string(b[:3]) != "ID3" {
			break
		}
		if b[3] == 0xFF || b[4] == 0xFF || (b[6]|b[7]|b[8]|b[9])&0x80 != 0 {
			return Info{}, fmt.Errorf("mp3: malformed ID3v2 tag at offset %d", off)
		}
		tag := int64(b[6])<<21 | int64(b[7])<<14 | int64(b[8])<<7 | int64(b[9])
		off += 10 + tag
		if b[5]&0x10 != 0 { // footer present
			off += 10
		}
		if off > size {
			return Info{}, fmt.Errorf("mp3: ID3v2 tag of %d bytes runs past the end of the %d-byte file", tag, size)
		}
	}
	first, hdr, err := findMP3Sync(r, off, size)
	if err != nil {
		return Info{}, err
	}
	info := Info{
		Kind: Voice, Container: MP3, Codec: CodecMP3,
		SampleRate: hdr.SampleRate, Channels: hdr.Channels(),
		DataOffset: first,
	}
	spf := int64(hdr.SamplesPerFrame())
	if frames, bytes, ok := xingFrames(r, first, hdr); ok {
		info.Duration = wav.FramesDuration(frames*spf, hdr.SampleRate)
		if bytes > size-first {
			return Info{}, fmt.Errorf("mp3: truncated: %s header says %d bytes from offset %d, file has %d", xingName(r, first, hdr), bytes, first, size-first)
		}
		if bytes <= 0 {
			bytes = size - first
		}
		info.DataSize = bytes
		if info.Duration > 0 {
			info.Bitrate = kbps(bytes, frames*spf, hdr.SampleRate)
		}
		return info, nil
	}
	frames, end, err := walkMP3(r, first, size, hdr)
	if err != nil {
		return Info{}, err
	}
	info.Duration = wav.FramesDuration(frames*spf, hdr.SampleRate)
	info.DataSize = end - first
	if frames > 0 {
		info.Bitrate = kbps(end-first, frames*spf, hdr.SampleRate)
	}
	return info, nil
}

// kbps is the average bitrate, rounded to the nearest kbit/s.
func kbps(bytes, samples int64, rate int) int {
	return int((bytes*8*int64(rate)/samples + 500) / 1000)
}

// sameStream reports whether b can follow a in one MP3 stream (bitrate,
// padding and stereo mode may change from frame to frame; the rest not).
func sameStream(a, b mp3tab.Header) bool {
	return a.Version == b.Version && a.Layer == b.Layer && a.SampleRate == b.SampleRate
}

func findMP3Sync(r io.ReaderAt, start, size int64) (int64, mp3tab.Header, error) {
	buf := make([]byte, min(mp3SyncWindow, max(size-start, 0)))
	n, err := r.ReadAt(buf, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, mp3tab.Header{}, fmt.Errorf("mp3: read: %w", err)
	}
	buf = buf[:n]
	for i := 0; i+4 <= len(buf); i++ {
		if buf[i] != 0xFF || buf[i+1]&0xE0 != 0xE0 {
			continue
		}
		h, err := mp3tab.ParseHeader(buf[i:])
		if err != nil || h.Layer != 3 {
			continue
		}
		if chainOK(r, start+int64(i), size, h) {
			return start + int64(i), h, nil
		}
	}
	return 0, mp3tab.Header{}, fmt.Errorf("%w (no run of %d valid MP3 frames in the first %d bytes after offset %d)", ErrUnrecognised, mp3NeedFrames, len(buf), start)
}

// chainOK checks that mp3NeedFrames frames follow each other from off, or
// that at least two do and the chain ends exactly at the end of the file
// (a very short recording).
func chainOK(r io.ReaderAt, off, size int64, first mp3tab.Header) bool {
	h := first
	var b [4]byte
	for i := 1; i < mp3NeedFrames; i++ {
		off += int64(h.FrameSize())
		if off == size || (off+128 == size && hasID3v1(r, off)) {
			return i >= 2
		}
		if _, err := r.ReadAt(b[:], off); err != nil {
			return false
		}
		next, err := mp3tab.ParseHeader(b[:])
		if err != nil || !sameStream(first, next) {
			return false
		}
		h = next
	}
	return true
}

func hasID3v1(r io.ReaderAt, off int64) bool {
	var b [3]byte
	_, err := r.ReadAt(b[:], off)
	return err == nil && string(b[:]) == "TAG"
}

// xingFrames reads the frame count of a Xing/Info (LAME, ffmpeg) or VBRI
// (Fraunhofer) header in the first frame, which is itself silent and not
// counted.
func xingFrames(r io.ReaderAt, first int64, h mp3tab.Header) (frames, size int64, ok bool) {
	var b [64]byte
	n, _ := r.ReadAt(b[:], first)
	fs := h.FrameSize()
	x := 4 + h.SideInfoSize()
	if h.CRC {
		x += 2
	}
	if x+16 <= n && x+16 <= fs {
		tag := string(b[x : x+4])
		if tag == "Xing" || tag == "Info" {
			flags := binary.BigEndian.Uint32(b[x+4:])
			if flags&1 == 0 {
				return 0, 0, false
			}
			frames = int64(binary.BigEndian.Uint32(b[x+8:]))
			if flags&2 != 0 {
				size = int64(binary.BigEndian.Uint32(b[x+12:]))
			}
			return frames, size, frames > 0
		}
	}
	// VBRI sits 32 bytes after the header: id, version, delay, quality,
	// bytes (4), frames (4).
	if v := 4 + 32; v+18 <= n && v+18 <= fs && string(b[v:v+4]) == "VBRI" {
		size = int64(binary.BigEndian.Uint32(b[v+10:]))
		frames = int64(binary.BigEndian.Uint32(b[v+14:]))
		return frames, size, frames > 0
	}
	return 0, 0, false
}

func xingName(r io.ReaderAt, first int64, h mp3tab.Header) string {
	x := 4 + h.SideInfoSize()
	if h.CRC {
		x += 2
	}
	var b [4]byte
	if _, err := r.ReadAt(b[:], first+int64(x)); err == nil && (string(b[:]) == "Xing" || string(b[:]) == "Info") {
		return string(b[:])
	}
	return "VBRI"
}

// walkMP3 counts frames from off by their headers until the data stops
// being frames of the same stream (a trailing tag, junk or the end). A last
// frame cut short by the end of the file is not counted.
func walkMP3(r io.ReaderAt, off, size int64, first mp3tab.Header) (frames, end int64, err error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, off, size-off), mp3WalkBufSize)
	pos := off
	for {
		b, err := br.Peek(4)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return frames, pos, nil
			}
			return 0, 0, fmt.Errorf("mp3: read frame header at offset %d: %w", pos, err)
		}
		h, perr := mp3tab.ParseHeader(b)
		if perr != nil || !sameStream(first, h) {
			return frames, pos, nil
		}
		fs := int64(h.FrameSize())
		if pos+fs > size {
			return frames, pos, nil
		}
		if _, err := br.Discard(int(fs)); err != nil {
			return 0, 0, fmt.Errorf("mp3: read frame at offset %d: %w", pos, err)
		}
		pos += fs
		frames++
	}
}

// MP4 walking limits: they bound the work a hostile file can cause.
const (
	maxBoxDepth = 8
	maxBoxes    = 4096
)

type mp4State struct {
	r     io.ReaderAt
	boxes int
	info  Info
	// per-track state while inside a trak
	handler   string
	codec     string
	ch, rate  int
	w, h      int
	haveVideo bool
	haveAudio bool
	timescale uint32
	duration  uint64
	haveMvhd  bool
	foundMoov bool
}

func probeMP4(r io.ReaderAt, size int64) (Info, error) {
	s := &mp4State{r: r}
	s.info = Info{Kind: Voice, Container: MP4, Codec: CodecUnknown}
	if err := s.walk(0, size, 0, ""); err != nil {
		return Info{}, err
	}
	if !s.foundMoov {
		return Info{}, errors.New("mp4: no moov box (file truncated or not finalised)")
	}
	if !s.haveMvhd {
		return Info{}, errors.New("mp4: moov has no mvhd box")
	}
	if s.timescale == 0 {
		return Info{}, errors.New("mp4: mvhd timescale is 0")
	}
	info := s.info
	if s.duration != 0xFFFFFFFF && s.duration != 0xFFFFFFFFFFFFFFFF {
		sec := s.duration / uint64(s.timescale)
		rem := s.duration % uint64(s.timescale)
		if sec > uint64(1<<33) {
			return Info{}, fmt.Errorf("mp4: implausible duration %d/%d", s.duration, s.timescale)
		}
		info.Duration = time.Duration(sec)*time.Second + time.Duration(rem)*time.Second/time.Duration(s.timescale)
	}
	if s.haveVideo {
		info.Kind = Video
	} else if s.haveAudio {
		info.Codec = info.AudioCodec
	}
	return info, nil
}

// walk visits the boxes in [off, end) of the container at the given path.
func (s *mp4State) walk(off, end int64, depth int, path string) error {
	if depth > maxBoxDepth {
		return fmt.Errorf("mp4: boxes nested deeper than %d at offset %d", maxBoxDepth, off)
	}
	first := true
	for off < end {
		if s.boxes++; s.boxes > maxBoxes {
			return fmt.Errorf("mp4: more than %d boxes", maxBoxes)
		}
		if end-off < 8 {
			if path == "" {
				return nil // trailing bytes at top level are tolerated
			}
			return fmt.Errorf("mp4: %d stray bytes at end of %s box", end-off, path)
		}
		var b [16]byte
		if _, err := s.r.ReadAt(b[:8], off); err != nil {
			return fmt.Errorf("mp4: read box header at offset %d: %w", off, err)
		}
		size := int64(binary.BigEndian.Uint32(b[:4]))
		typ := string(b[4:8])
		hdr := int64(8)
		switch size {
		case 0: // box runs to the end of its container
			size = end - off
		case 1:
			if _, err := s.r.ReadAt(b[8:16], off+8); err != nil {
				return fmt.Errorf("mp4: read 64-bit size of %q box at offset %d: %w", typ, off, err)
			}
			u := binary.BigEndian.Uint64(b[8:16])
			if u > 1<<62 {
				return fmt.Errorf("mp4: %q box at offset %d has size %d", typ, off, u)
			}
			size, hdr = int64(u), 16
		}
		if size < hdr {
			return fmt.Errorf("mp4: %q box at offset %d has size %d, smaller than its header", printable(typ), off, size)
		}
		if off+size > end {
			if path == "" && typ == "mdat" && s.foundMoov {
				return nil // mdat cut short after a complete moov: duration still known
			}
			where := "file"
			if path != "" {
				where = path + " box"
			}
			return fmt.Errorf("mp4: %q box truncated: at offset %d it says %d bytes, the %s has %d left", printable(typ), off, size, where, end-off)
		}
		if path == "" && first && typ != "ftyp" {
			return fmt.Errorf("mp4: first box is %q, not ftyp", printable(typ))
		}
		first = false
		body, bodyEnd := off+hdr, off+size
		child := path + "/" + typ
		var err error
		switch child {
		case "/moov":
			s.foundMoov = true
			err = s.walk(body, bodyEnd, depth+1, child)
		case "/moov/trak":
			s.handler, s.codec, s.ch, s.rate, s.w, s.h = "", "", 0, 0, 0, 0
			err = s.walk(body, bodyEnd, depth+1, child)
			s.endTrack()
		case "/moov/trak/mdia", "/moov/trak/mdia/minf", "/moov/trak/mdia/minf/stbl":
			err = s.walk(body, bodyEnd, depth+1, child)
		case "/moov/mvhd":
			err = s.mvhd(body, bodyEnd)
		case "/moov/trak/tkhd":
			err = s.tkhd(body, bodyEnd)
		case "/moov/trak/mdia/hdlr":
			err = s.hdlr(body, bodyEnd)
		case "/moov/trak/mdia/minf/stbl/stsd":
			err = s.stsd(body, bodyEnd)
		}
		if err != nil {
			return err
		}
		off = bodyEnd
	}
	return nil
}

func printable(s string) string {
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7E {
			return fmt.Sprintf("% x", []byte(s))
		}
	}
	return s
}

func (s *mp4State) read(off, end int64, n int) ([]byte, error) {
	if end-off < int64(n) {
		return nil, fmt.Errorf("%d bytes, need %d", end-off, n)
	}
	b := make([]byte, n)
	if _, err := s.r.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *mp4State) mvhd(off, end int64) error {
	b, err := s.read(off, end, 32)
	if err != nil {
		return fmt.Errorf("mp4: mvhd box too short: %w", err)
	}
	if b[0] == 1 {
		s.timescale = binary.BigEndian.Uint32(b[20:24])
		s.duration = binary.BigEndian.Uint64(b[24:32])
	} else {
		s.timescale = binary.BigEndian.Uint32(b[12:16])
		s.duration = uint64(binary.BigEndian.Uint32(b[16:20]))
	}
	s.haveMvhd = true
	return nil
}

func (s *mp4State) tkhd(off, end int64) error {
	// Width and height are the last 8 bytes (16.16 fixed point) of both
	// versions (84 and 96 bytes).
	if end-off != 84 && end-off != 96 {
		return nil
	}
	b, err := s.read(end-8, end, 8)
	if err != nil {
		return fmt.Errorf("mp4: tkhd: %w", err)
	}
	s.w = int(binary.BigEndian.Uint32(b[0:4]) >> 16)
	s.h = int(binary.BigEndian.Uint32(b[4:8]) >> 16)
	return nil
}

func (s *mp4State) hdlr(off, end int64) error {
	b, err := s.read(off, end, 12)
	if err != nil {
		return fmt.Errorf("mp4: hdlr box too short: %w", err)
	}
	s.handler = string(b[8:12])
	return nil
}

func (s *mp4State) stsd(off, end int64) error {
	// version/flags, entry count, then the first sample entry box.
	b, err := s.read(off, end, 8+36)
	if err != nil {
		if end-off >= 16 {
			b, err = s.read(off, end, 16)
		}
		if err != nil {
			return fmt.Errorf("mp4: stsd box too short: %w", err)
		}
	}
	if binary.BigEndian.Uint32(b[4:8]) == 0 {
		return nil
	}
	format := string(b[12:16])
	switch format {
	case "avc1", "avc3":
		s.codec = CodecH264
	case "hvc1", "hev1":
		s.codec = CodecHEVC
	case "mp4a":
		s.codec = CodecAAC
	case "Opus":
		s.codec = CodecOpus
	case ".mp3":
		s.codec = CodecMP3
	default:
		s.codec = CodecUnknown
	}
	if len(b) >= 44 {
		// Audio sample entry: 8 box header, 8 reserved+index, 8 reserved,
		// channel count (2), sample size (2), 4 reserved, rate 16.16.
		s.ch = int(binary.BigEndian.Uint16(b[8+24 : 8+26]))
		s.rate = int(binary.BigEndian.Uint32(b[8+32:8+36]) >> 16)
	}
	if format == "mp4a" {
		// The entry's channel count is usually a fixed 2; the true
		// layout is in the AudioSpecificConfig inside esds.
		entrySize := int64(binary.BigEndian.Uint32(b[8:12]))
		entryEnd := min(off+8+entrySize, end)
		if ch, rate, ok := s.esds(off+8+36, entryEnd); ok {
			s.ch, s.rate = ch, rate
		}
	}
	return nil
}

// esds finds the AudioSpecificConfig (ISO/IEC 14496-3) in an esds box
// inside an mp4a sample entry and returns its channel count and rate.
func (s *mp4State) esds(off, end int64) (ch, rate int, ok bool) {
	if end-off < 8 || end-off > 4096 {
		return 0, 0, false
	}
	b := make([]byte, end-off)
	if _, err := s.r.ReadAt(b, off); err != nil {
		return 0, 0, false
	}
	if string(b[4:8]) != "esds" || len(b) < 12 {
		return 0, 0, false
	}
	p := b[12:] // after box header and version/flags
	// Walk descriptors: tag, expandable length, body. ES_Descriptor (3)
	// and DecoderConfigDescriptor (4) contain the ones we want.
	for len(p) >= 2 {
		tag := p[0]
		p = p[1:]
		n := 0
		for i := 0; i < 4 && len(p) > 0; i++ {
			c := p[0]
			p = p[1:]
			n = n<<7 | int(c&0x7F)
			if c&0x80 == 0 {
				break
			}
		}
		switch tag {
		case 3: // ES_ID(2), flags(1) then optional fields
			if len(p) < 3 {
				return 0, 0, false
			}
			flags := p[2]
			p = p[3:]
			if flags&0x80 != 0 && len(p) >= 2 {
				p = p[2:]
			}
			if flags&0x40 != 0 && len(p) >= 1 {
				p = p[min(len(p), 1+int(p[0])):]
			}
			if flags&0x20 != 0 && len(p) >= 2 {
				p = p[2:]
			}
		case 4: // objectType, streamType, bufferSize(3), max(4), avg(4)
			if len(p) < 13 {
				return 0, 0, false
			}
			p = p[13:]
		case 5:
			if n < 2 || len(p) < 2 {
				return 0, 0, false
			}
			v := uint32(p[0])<<24 | uint32(p[1])<<16
			if len(p) >= 5 {
				v |= uint32(p[2])<<8 | uint32(p[3])
			}
			obj := v >> 27
			v <<= 5
			if obj == 31 {
				v <<= 6 // escape: 6 more bits of object type
				if len(p) < 6 {
					return 0, 0, false
				}
			}
			fi := v >> 28
			v <<= 4
			rates := [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
			switch {
			case int(fi) < len(rates):
				rate = rates[fi]
			case fi == 15:
				return 0, 0, false // explicit 24-bit rate: keep the entry's values
			default:
				return 0, 0, false
			}
			cc := int(v >> 28)
			switch {
			case cc >= 1 && cc <= 6:
				ch = cc
			case cc == 7:
				ch = 8
			default:
				return 0, 0, false
			}
			return ch, rate, true
		default:
			p = p[min(len(p), n):]
		}
	}
	return 0, 0, false
}

func (s *mp4State) endTrack() {
	switch s.handler {
	case "vide":
		if !s.haveVideo {
			s.haveVideo = true
			s.info.Codec = s.codec
			s.info.Width, s.info.Height = s.w, s.h
		}
	case "soun":
		if !s.haveAudio {
			s.haveAudio = true
			s.info.AudioCodec = s.codec
			s.info.Channels, s.info.SampleRate = s.ch, s.rate
		}
	}
}
