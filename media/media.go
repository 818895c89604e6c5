// Package media turns a stored voice recording into the output a client
// asked for: a container and codec (WAV PCM, WAV or raw G.711, MP3, or the
// stored bytes as they are), a channel selection (both tracks, a mono mix,
// or the agent or customer track of a dual-track call) and a sample rate,
// streamed with fixed buffers whatever the recording's length.
//
// Plan checks a request against what the catalog knows about the stored
// bytes and describes the output (content type, exact size when it is known
// in advance, a cache key). When the size is known — PCM or G.711 stored,
// PCM, G.711 or MP3 wanted — Open gives an io.ReadSeeker that computes the
// bytes at any offset from the matching part of the source (for MP3, from
// the start of the encoder segment holding the offset, see
// mp3enc.SegmentFrames), so http.ServeContent can answer Range requests
// without converting from the start. WriteTo streams any output.
//
// Content types: audio/wav for the three WAV outputs, audio/x-alaw-basic for
// raw A-law (the name used by most telephony tools; audio/PCMA is an RTP
// payload type that needs rate parameters), audio/basic for raw µ-law
// (RFC 2046), audio/mpeg for MP3; original bytes keep their container's type.
package media

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/recvault/recvault/media/mp3enc"
	"github.com/recvault/recvault/media/probe"
	"github.com/recvault/recvault/media/resample"
	"github.com/recvault/recvault/media/wav"
)

// Output formats a Request may name.
const (
	FormatOriginal = "original" // the stored bytes, unchanged ("" means the same)
	FormatWAV      = "wav"      // WAV, 16-bit PCM
	FormatWAVALaw  = "wav-alaw" // WAV, G.711 A-law
	FormatWAVULaw  = "wav-ulaw" // WAV, G.711 µ-law
	FormatALaw     = "alaw"     // headerless G.711 A-law
	FormatULaw     = "ulaw"     // headerless G.711 µ-law
	FormatMP3      = "mp3"      // MPEG-1/2/2.5 Layer III, constant bitrate
)

// Channel selections a Request may name.
const (
	ChannelsAsStored = ""         // keep the stored channels
	ChannelsStereo   = "stereo"   // two channels (a mono source is duplicated)
	ChannelsMono     = "mono"     // average of all channels (no overflow)
	ChannelsAgent    = "agent"    // the agent's track of a dual-track call
	ChannelsCustomer = "customer" // the other track
)

// Formats and ChannelModes list the accepted values, in the order error
// messages show them.
var (
	Formats      = []string{FormatOriginal, FormatWAV, FormatWAVALaw, FormatWAVULaw, FormatALaw, FormatULaw, FormatMP3}
	ChannelModes = []string{ChannelsStereo, ChannelsMono, ChannelsAgent, ChannelsCustomer}
)

// Sample rates an output may have (Hz). MP3 outputs are further limited
// to the rates MPEG audio defines (mp3enc.SupportedSampleRates).
const (
	MinSampleRate = 8000
	MaxSampleRate = 48000
)

// Source is what the catalog knows about the stored bytes of a recording.
type Source struct {
	probe.Info
	Size int64 // length of the stored blob in bytes
}

// Request says which output a client wants.
type Request struct {
	Format   string // one of Formats; "" is FormatOriginal
	Channels string // one of ChannelModes, or "" for as stored
	// AgentChannel is the source channel (0 or 1) that carries the agent
	// in a dual-track recording; the customer is on the other one.
	AgentChannel int
	SampleRate   int // Hz; 0 keeps the source rate (or the nearest MP3 rate above it)
	Bitrate      int // kbit/s, MP3 only; 0 picks a default for the rate and channels
}

// ErrInvalid is wrapped by every error Plan returns for a request that
// cannot be served (as opposed to a failure while converting), so a façade
// can answer 400 rather than 500.
var ErrInvalid = errors.New("invalid media request")

// ErrNotSeekable is returned by Open for outputs whose bytes cannot be
// computed at an arbitrary offset (those of MP3 sources).
var ErrNotSeekable = errors.New("media: output is not seekable; use WriteTo")

// Output is a planned conversion of one Source. It is immutable and may be
// used by several goroutines; each Open or WriteTo call has its own state.
type Output struct {
	Format      string // normalised: one of Formats
	ContentType string
	Ext         string        // file name extension with the dot, e.g. ".wav"
	SampleRate  int           // of the output audio; for original, of the source
	Channels    int           // of the output audio; for original, of the source
	Bitrate     int           // kbit/s for MP3 output, else 0
	Duration    time.Duration // playing time (the source's; conversion keeps it)
	// Size is the exact byte length of the output, or -1 when it is only
	// known after converting (a decoded MP3 source).
	Size     int64
	Seekable bool // Open works (the size is known and bytes can be computed at any offset)

	src       Source
	enc       encoding
	sel       selection
	resample  bool
	rs        *resample.Resampler // prototype: OutputFrames, InputStart and Clone only
	header    []byte              // container header for wav outputs
	dataSize  int64               // bytes of samples after the header, -1 if unknown
	mp3Layout mp3enc.Layout       // MP3 output of a PCM/G.711 source
	key       string
}

// encoding is how output samples are written.
type encoding uint8

const (
	encOriginal encoding = iota
	encPCM16
	encALaw
	encULaw
	encMP3
)

// selection maps source channels to output channels.
type selection struct {
	kind selKind
	ch   int // source channel for selPick
}

type selKind uint8

const (
	selAsIs selKind = iota
	selDup          // mono → stereo
	selMix          // all → mono
	selPick         // one source channel → mono
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Plan checks req against src and describes the output. Errors wrap
// ErrInvalid and say which value is wrong and what is accepted.
func Plan(src Source, req Request) (*Output, error) {
	f := strings.ToLower(strings.TrimSpace(req.Format))
	if f == "" {
		f = FormatOriginal
	}
	if !slices.Contains(Formats, f) {
		return nil, invalid("unknown format %q; accepted: %s", req.Format, strings.Join(Formats, ", "))
	}
	chMode := strings.ToLower(strings.TrimSpace(req.Channels))
	if chMode != ChannelsAsStored && !slices.Contains(ChannelModes, chMode) {
		return nil, invalid("unknown channels %q; accepted: %s (or empty for as stored)", req.Channels, strings.Join(ChannelModes, ", "))
	}
	if src.Size < 0 {
		return nil, invalid("source size %d", src.Size)
	}
	o := &Output{Format: f, src: src, SampleRate: src.SampleRate, Channels: src.Channels, Duration: src.Duration}
	if f == FormatOriginal {
		if chMode != ChannelsAsStored || req.SampleRate != 0 || req.Bitrate != 0 {
			return nil, invalid("format original serves the stored bytes: channels, sample rate and bitrate cannot be changed (ask for wav, mp3, … instead)")
		}
		o.ContentType, o.Ext = originalType(src.Info)
		o.Size, o.Seekable = src.Size, true
		o.key = "original"
		return o, nil
	}
	if src.Kind != probe.Voice {
		return nil, invalid("%s recordings are served as stored only (format original)", src.Kind)
	}
	srcFmt, isPCM := src.Format()
	if !isPCM && src.Container != probe.MP3 {
		return nil, invalid("cannot convert %s/%s audio; only format original", src.Container, src.Codec)
	}
	if src.Channels < 1 || src.SampleRate < 1 {
		return nil, invalid("source has %d channels at %d Hz", src.Channels, src.SampleRate)
	}

	// Channels.
	switch chMode {
	case ChannelsAsStored:
		o.sel = selection{kind: selAsIs}
	case ChannelsStereo:
		switch src.Channels {
		case 1:
			o.sel, o.Channels = selection{kind: selDup}, 2
		case 2:
			o.sel = selection{kind: selAsIs}
		default:
			return nil, invalid("channels stereo: the recording has %d channels; ask for mono or one track", src.Channels)
		}
	case ChannelsMono:
		o.sel, o.Channels = selection{kind: selMix}, 1
		if src.Channels == 1 {
			o.sel = selection{kind: selAsIs}
		}
	case ChannelsAgent, ChannelsCustomer:
		if src.Channels != 2 {
			return nil, invalid("channels %s needs a dual-track (2-channel) recording; this one has %d channel(s)", chMode, src.Channels)
		}
		if req.AgentChannel != 0 && req.AgentChannel != 1 {
			return nil, invalid("agent channel %d; must be 0 or 1", req.AgentChannel)
		}
		c := req.AgentChannel
		if chMode == ChannelsCustomer {
			c = 1 - c
		}
		o.sel, o.Channels = selection{kind: selPick, ch: c}, 1
	}

	// Codec, rate and bitrate.
	switch f {
	case FormatWAV:
		o.enc, o.ContentType, o.Ext = encPCM16, "audio/wav", ".wav"
	case FormatWAVALaw:
		o.enc, o.ContentType, o.Ext = encALaw, "audio/wav", ".wav"
	case FormatWAVULaw:
		o.enc, o.ContentType, o.Ext = encULaw, "audio/wav", ".wav"
	case FormatALaw:
		o.enc, o.ContentType, o.Ext = encALaw, "audio/x-alaw-basic", ".alaw"
	case FormatULaw:
		o.enc, o.ContentType, o.Ext = encULaw, "audio/basic", ".ulaw"
	case FormatMP3:
		o.enc, o.ContentType, o.Ext = encMP3, "audio/mpeg", ".mp3"
	}
	if req.SampleRate != 0 && (req.SampleRate < MinSampleRate || req.SampleRate > MaxSampleRate) {
		return nil, invalid("sample rate %d Hz; accepted: %d to %d", req.SampleRate, MinSampleRate, MaxSampleRate)
	}
	if req.SampleRate != 0 {
		o.SampleRate = req.SampleRate
	}
	if o.enc == encMP3 {
		if o.Channels > 2 {
			return nil, invalid("mp3 carries at most 2 channels; the recording has %d: ask for channels mono or one track", o.Channels)
		}
		rates := mp3enc.SupportedSampleRates()
		if req.SampleRate != 0 && !slices.Contains(rates, req.SampleRate) {
			return nil, invalid("sample rate %d Hz not possible in mp3; accepted: %s", req.SampleRate, joinInts(rates))
		}
		if req.SampleRate == 0 && !slices.Contains(rates, o.SampleRate) {
			o.SampleRate = nearestAbove(rates, o.SampleRate)
		}
		valid := mp3enc.ValidBitrates(o.SampleRate)
		if req.Bitrate == 0 {
			o.Bitrate = defaultBitrate(o.SampleRate, o.Channels, valid)
		} else if !slices.Contains(valid, req.Bitrate) {
			return nil, invalid("bitrate %d kbit/s not possible for mp3 at %d Hz; accepted: %s", req.Bitrate, o.SampleRate, joinInts(valid))
		} else {
			o.Bitrate = req.Bitrate
		}
	} else if req.Bitrate != 0 {
		return nil, invalid("bitrate applies to mp3 only, not %s", f)
	}
	if o.SampleRate != src.SampleRate {
		if src.SampleRate < MinSampleRate/2 || src.SampleRate > 4*MaxSampleRate {
			return nil, invalid("cannot resample a %d Hz recording", src.SampleRate)
		}
		rs, err := resample.New(src.SampleRate, o.SampleRate, o.Channels)
		if err != nil {
			return nil, invalid("cannot resample %d Hz to %d Hz: %v", src.SampleRate, o.SampleRate, err)
		}
		o.resample, o.rs = true, rs
	}

	// Size: known when the source frame count is (PCM/G.711 stored) and
	// the output is PCM/G.711.
	o.Size, o.dataSize = -1, -1
	if isPCM && o.enc != encMP3 {
		inFrames := src.DataSize / int64(src.Channels*srcFmt.BytesPerSample())
		outFrames := inFrames
		if o.resample {
			outFrames = o.rs.OutputFrames(inFrames)
		}
		o.dataSize = outFrames * int64(o.Channels*o.enc.bytesPerSample())
		o.Size = o.dataSize
		o.Seekable = true
	}
	if isPCM && o.enc == encMP3 {
		// The encoder's segments make every byte computable from a
		// bounded stretch of the source, and its frame sizes follow
		// from the frame index, so the size is known up front too.
		l, err := mp3enc.NewLayout(o.mp3Options())
		if err != nil {
			return nil, invalid("%v", err)
		}
		o.mp3Layout, o.Size, o.Seekable = l, l.Size(), true
	}
	if o.isWAV() {
		h := wav.Header{Format: o.enc.wavFormat(), SampleRate: o.SampleRate, Channels: o.Channels, DataSize: o.dataSize}
		hdr, err := wav.AppendHeader(nil, h)
		if err != nil {
			return nil, invalid("%v", err)
		}
		o.header = hdr
		if o.Size >= 0 {
			o.Size = wav.FileSize(h.Format, o.dataSize)
		}
	}
	ver := keyVersion
	if o.enc == encMP3 {
		ver = mp3KeyVersion
	}
	o.key = fmt.Sprintf("%s.%s.%s.%d", ver, f, o.sel.key(src.Channels), o.SampleRate)
	if o.enc == encMP3 {
		o.key += fmt.Sprintf(".%dk", o.Bitrate)
	}
	return o, nil
}

// keyVersion starts every conversion key. Bump it whenever a change to the
// pipeline (filter, rounding, encoder) changes output bytes, so caches and
// ETags of the old bytes are not reused.
const keyVersion = "v1"

// mp3KeyVersion replaces keyVersion in the keys of MP3 outputs, whose
// bytes changed alone. v2: the stream starts with an Info frame carrying
// the encoder delay and padding (gapless playback). v3: the stream is cut
// into independently coded segments (mp3enc.SegmentFrames), so its bytes
// can be computed at any offset.
const mp3KeyVersion = "v3"

// Key names this exact output (format, channel selection, rate, bitrate,
// and the conversion version) for ETags and cache keys. Requests that give
// the same bytes get the same key: "customer" with agent channel 1 and
// "agent" with agent channel 0 are both "c0".
func (o *Output) Key() string { return o.key }

func (s selection) key(srcCh int) string {
	switch s.kind {
	case selDup:
		return "dup"
	case selMix:
		return "mix"
	case selPick:
		return fmt.Sprintf("c%d", s.ch)
	}
	return fmt.Sprintf("%dch", srcCh)
}

func (o *Output) isWAV() bool {
	return o.Format == FormatWAV || o.Format == FormatWAVALaw || o.Format == FormatWAVULaw
}

func (e encoding) bytesPerSample() int {
	if e == encPCM16 {
		return 2
	}
	return 1
}

func (e encoding) wavFormat() wav.Format {
	switch e {
	case encALaw:
		return wav.ALaw
	case encULaw:
		return wav.ULaw
	}
	return wav.PCM16
}

func originalType(i probe.Info) (contentType, ext string) {
	switch i.Container {
	case probe.WAV:
		return "audio/wav", ".wav"
	case probe.MP3:
		return "audio/mpeg", ".mp3"
	case probe.MP4:
		if i.Kind == probe.Video {
			return "video/mp4", ".mp4"
		}
		return "audio/mp4", ".m4a"
	case probe.Raw:
		switch i.Codec {
		case probe.CodecALaw:
			return "audio/x-alaw-basic", ".alaw"
		case probe.CodecULaw:
			return "audio/basic", ".ulaw"
		}
	}
	return "application/octet-stream", ".bin"
}

// defaultBitrate gives about 4 bits per mono sample at telephone rates
// (32 kbit/s at 8 kHz, the figure LAME users pick for speech), less per
// sample at higher rates, doubled for stereo, then the nearest valid rate.
func defaultBitrate(rate, channels int, valid []int) int {
	want := 32
	switch {
	case rate >= 32000:
		want = 64
	case rate >= 16000:
		want = 48
	}
	want *= channels
	best := valid[0]
	for _, v := range valid {
		if abs(v-want) < abs(best-want) {
			best = v
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func nearestAbove(rates []int, r int) int {
	for _, v := range rates { // ascending
		if v >= r {
			return v
		}
	}
	return rates[len(rates)-1]
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
