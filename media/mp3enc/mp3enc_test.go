package mp3enc

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

func TestNewEncoderOptions(t *testing.T) {
	tests := []struct {
		o       Options
		wantErr string // substring; "" means valid
	}{
		{Options{SampleRate: 8000, Channels: 1, Bitrate: 32}, ""},
		{Options{SampleRate: 8000, Channels: 2, Bitrate: 8}, ""},
		{Options{SampleRate: 11025, Channels: 1, Bitrate: 160}, ""},
		{Options{SampleRate: 44100, Channels: 2, Bitrate: 320}, ""},
		{Options{SampleRate: 48000, Channels: 1, Bitrate: 32}, ""},
		{Options{SampleRate: 44000, Channels: 1, Bitrate: 32}, "SampleRate 44000 Hz not supported; valid: 8000 11025 12000 16000 22050 24000 32000 44100 48000"},
		{Options{SampleRate: 0, Channels: 1, Bitrate: 32}, "SampleRate 0"},
		{Options{SampleRate: 8000, Channels: 3, Bitrate: 32}, "Channels 3 not supported; valid: 1 2"},
		{Options{SampleRate: 8000, Channels: 0, Bitrate: 32}, "Channels 0"},
		{Options{SampleRate: 8000, Channels: 1, Bitrate: 33}, "Bitrate 33 kbit/s not valid at 8000 Hz; valid: 8 16 24 32 40 48 56 64 80 96 112 128 144 160"},
		{Options{SampleRate: 44100, Channels: 1, Bitrate: 16}, "Bitrate 16 kbit/s not valid at 44100 Hz; valid: 32 40 48 56 64 80 96 112 128 160 192 224 256 320"},
		{Options{SampleRate: 16000, Channels: 1, Bitrate: 0}, "Bitrate 0"},
	}
	for _, tt := range tests {
		_, err := NewEncoder(&bytes.Buffer{}, tt.o)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%+v: %v", tt.o, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%+v: error %v, want it to contain %q", tt.o, err, tt.wantErr)
		}
	}
	if _, err := NewEncoder(nil, Options{SampleRate: 8000, Channels: 1, Bitrate: 32}); err == nil {
		t.Error("nil writer accepted")
	}
}

func TestValidBitrates(t *testing.T) {
	lsf := []int{8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
	mpeg1 := []int{32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	for _, sr := range SupportedSampleRates() {
		want := lsf
		if sr >= 32000 {
			want = mpeg1
		}
		if got := ValidBitrates(sr); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ValidBitrates(%d) = %v, want %v", sr, got, want)
		}
	}
	if got := ValidBitrates(44000); got != nil {
		t.Errorf("ValidBitrates(44000) = %v, want nil", got)
	}
	if got := fmt.Sprint(SupportedSampleRates()); got != "[8000 11025 12000 16000 22050 24000 32000 44100 48000]" {
		t.Errorf("SupportedSampleRates() = %s", got)
	}
}

func TestBitWriter(t *testing.T) {
	var b bitWriter
	b.put(0b101, 3)
	b.put(0x1F, 5)
	b.put(0xABCD, 16)
	b.put(1, 1)
	b.put(0xFFFFFFFF, 32)
	if b.bits() != 57 {
		t.Fatalf("bits = %d, want 57", b.bits())
	}
	b.align()
	want := []byte{0xBF, 0xAB, 0xCD, 0xFF, 0xFF, 0xFF, 0xFF, 0x80}
	if !bytes.Equal(b.buf, want) {
		t.Fatalf("got % X, want % X", b.buf, want)
	}
}

// sideInfo is the part of a frame's side info the layout test checks.
type sideInfo struct {
	mainDataBegin int
	part23        []int // per granule and channel
}

// parseSideInfo reads main_data_begin and the part2_3_lengths of a frame.
func parseSideInfo(h mp3tab.Header, frame []byte) sideInfo {
	pos := 32
	get := func(n int) int {
		v := 0
		for range n {
			v = v<<1 | int(frame[pos/8]>>(7-pos%8))&1
			pos++
		}
		return v
	}
	nch := h.Channels()
	var s sideInfo
	if h.Version == mp3tab.MPEG1 {
		s.mainDataBegin = get(9)
		get(map[int]int{1: 5, 2: 3}[nch] + 4*nch)
	} else {
		s.mainDataBegin = get(8)
		get(nch)
	}
	for range h.Granules() {
		for range nch {
			s.part23 = append(s.part23, get(12))
			if h.Version == mp3tab.MPEG1 {
				get(9 + 8 + 4 + 1 + 15 + 4 + 3 + 3)
			} else {
				get(9 + 8 + 9 + 1 + 15 + 4 + 3 + 2)
			}
		}
	}
	return s
}

// checkLayout checks the byte layout of a stream: an Info frame first
// (see checkInfo), then audio frames with identical headers but for
// padding, every frame exactly its CBR size, the padding spread so the
// stream averages the bitrate exactly, and main_data_begin within limits
// and pointing only at data of earlier frames. It returns the number of
// audio frames.
func checkLayout(t *testing.T, o Options, mp3 []byte) int {
	t.Helper()
	hs, sizes := frames(t, mp3)
	if len(hs) == 0 {
		t.Fatal("no frames")
	}
	info := checkInfo(t, o, mp3)
	mp3, hs, sizes = mp3[sizes[0]:], hs[1:], sizes[1:]
	if info.frames != 0 && info.frames != len(hs) {
		t.Fatalf("Info frame: %d frames, stream has %d", info.frames, len(hs))
	}
	if len(hs) == 0 {
		return 0
	}
	v, _, _ := mp3tab.SampleRateIndex(o.SampleRate)
	mode := mp3tab.Mono
	if o.Channels == 2 {
		mode = mp3tab.JointStereo
	}
	slotNum := 144000 * o.Bitrate
	maxMDB, maxKbps := 511, 320
	if v != mp3tab.MPEG1 {
		slotNum /= 2
		maxMDB, maxKbps = 255, 160
		if v == mp3tab.MPEG25 {
			maxKbps = 64
		}
	}
	// Frame plus reservoir within one frame of the highest bitrate.
	maxMDB = min(maxMDB, max(0, slotNum/o.Bitrate*maxKbps/o.SampleRate-slotNum/o.SampleRate-1))
	off, prevSlots, total := 0, 0, 0
	for i, h := range hs {
		want := h
		want.Version, want.Layer, want.Bitrate, want.SampleRate = v, 3, o.Bitrate, o.SampleRate
		want.ChannelMode, want.CRC, want.Original = mode, false, true
		want.Private, want.Copyright, want.Emphasis = false, false, 0
		if h.ModeExtension != 0 && (mode != mp3tab.JointStereo || h.ModeExtension != mp3tab.ModeExtMS) {
			t.Fatalf("frame %d: mode extension %d", i, h.ModeExtension)
		}
		if h != want {
			t.Fatalf("frame %d header %+v, want %+v", i, h, want)
		}
		// Frame i ends at byte floor((i+1)·slotNum/rate) of an exact CBR stream.
		total += sizes[i]
		if exact := (i + 1) * slotNum / o.SampleRate; total != exact {
			t.Fatalf("frame %d: stream is %d bytes after it, exact CBR gives %d", i, total, exact)
		}
		si := parseSideInfo(h, mp3[off:])
		if si.mainDataBegin > maxMDB || si.mainDataBegin > prevSlots {
			t.Fatalf("frame %d: main_data_begin %d (max %d, earlier slots %d)", i, si.mainDataBegin, maxMDB, prevSlots)
		}
		bits := 0
		for _, p := range si.part23 {
			if p > 4095 {
				t.Fatalf("frame %d: part2_3_length %d", i, p)
			}
			bits += p
		}
		slot := sizes[i] - 4 - h.SideInfoSize()
		if bits > 8*(slot+si.mainDataBegin) {
			t.Fatalf("frame %d: %d bits of main data, room for %d", i, bits, 8*(slot+si.mainDataBegin))
		}
		prevSlots += slot
		off += sizes[i]
	}
	return len(hs)
}

// infoTag is what an Info frame records.
type infoTag struct {
	frames, bytes  int // 0 when unknown
	delay, padding int
	size           int // of the Info frame
}

// checkInfo parses and checks the Info frame that starts every stream:
// header, all-zero side info, "Info" with the frame count (and the byte
// count and seek table when known and they fit), the LAME tag with this
// encoder's delay, and the tag CRC. A known length must match the stream.
func checkInfo(t *testing.T, o Options, mp3 []byte) infoTag {
	t.Helper()
	h, err := mp3tab.ParseHeader(mp3)
	if err != nil {
		t.Fatalf("Info frame: %v", err)
	}
	if h.SampleRate != o.SampleRate || h.Channels() != o.Channels || h.Padding || h.ModeExtension != 0 {
		t.Fatalf("Info frame header %+v for %+v", h, o)
	}
	n := h.FrameSize()
	if n > len(mp3) {
		t.Fatalf("Info frame: %d bytes, stream %d", n, len(mp3))
	}
	f := mp3[:n]
	side := f[4 : 4+h.SideInfoSize()]
	if !bytes.Equal(side, make([]byte, len(side))) {
		t.Fatalf("Info frame side info % X, want zeros", side)
	}
	p := 4 + len(side)
	if string(f[p:p+4]) != "Info" {
		t.Fatalf("Info frame: %q at byte %d", f[p:p+4], p)
	}
	be := func(b []byte) int { return int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3]) }
	flags := be(f[p+4:])
	if flags&1 == 0 || flags&^7 != 0 {
		t.Fatalf("Info frame flags %#x", flags)
	}
	tag := infoTag{size: n, frames: be(f[p+8:])}
	p += 12
	if flags&2 != 0 {
		tag.bytes = be(f[p:])
		p += 4
	}
	if flags&4 != 0 {
		for i := range 100 {
			if int(f[p+i]) != i*256/100 {
				t.Fatalf("seek table entry %d = %d", i, f[p+i])
			}
		}
		p += 100
	}
	lt := f[p : p+36]
	if string(lt[:4]) != "LAME" || lt[9] != 1 || int(lt[20]) != min(o.Bitrate, 255) {
		t.Fatalf("LAME tag % X", lt)
	}
	v := int(lt[21])<<16 | int(lt[22])<<8 | int(lt[23])
	tag.delay, tag.padding = v>>12, v&0xFFF
	if tag.delay != delaySamples-529 {
		t.Fatalf("LAME tag delay %d, want %d", tag.delay, delaySamples-529)
	}
	if music := be(lt[28:]); music != tag.bytes && flags&2 != 0 {
		t.Fatalf("LAME tag music length %d, Xing bytes %d", music, tag.bytes)
	}
	if got, want := int(lt[34])<<8|int(lt[35]), int(crc16(f[:p+34])); got != want {
		t.Fatalf("LAME tag CRC %#04x, want %#04x", got, want)
	}
	if !bytes.Equal(f[p+36:], make([]byte, n-p-36)) {
		t.Fatal("Info frame: non-zero bytes after the LAME tag")
	}
	if tag.frames == 0 {
		if tag.padding != 0 || tag.bytes != 0 {
			t.Fatalf("unknown length but padding %d, bytes %d", tag.padding, tag.bytes)
		}
		return tag
	}
	if music := be(lt[28:]); music != len(mp3) {
		t.Fatalf("LAME tag music length %d, stream has %d bytes", music, len(mp3))
	}
	if want := o.TotalSamples; want > 0 {
		spf := h.SamplesPerFrame()
		if got := int64(tag.frames*spf - tag.delay - tag.padding); got != want {
			t.Fatalf("Info frame describes %d samples, want %d", got, want)
		}
	}
	return tag
}

// TestCRC16 checks the LAME tag checksum against the CRC-16/ARC check
// value (the CRC of "123456789").
func TestCRC16(t *testing.T) {
	if got := crc16([]byte("123456789")); got != 0xBB3D {
		t.Errorf("crc16 = %#04x, want 0xbb3d", got)
	}
}

func TestHeaderBytes(t *testing.T) {
	tests := []struct {
		o    Options
		want []byte
	}{
		{Options{SampleRate: 8000, Channels: 1, Bitrate: 32}, []byte{0xFF, 0xE3, 0x48, 0xC4}},   // MPEG-2.5, 32 kbit/s, 8 kHz, mono
		{Options{SampleRate: 16000, Channels: 1, Bitrate: 32}, []byte{0xFF, 0xF3, 0x48, 0xC4}},  // MPEG-2
		{Options{SampleRate: 44100, Channels: 2, Bitrate: 128}, []byte{0xFF, 0xFB, 0x90, 0x44}}, // MPEG-1, joint stereo, L/R
		{Options{SampleRate: 48000, Channels: 2, Bitrate: 64}, []byte{0xFF, 0xFB, 0x54, 0x44}},
	}
	for _, tt := range tests {
		mp3 := encode(t, tt.o, make([]int16, 100*tt.o.Channels))
		if !bytes.Equal(mp3[:4], tt.want) {
			t.Errorf("%+v: header % X, want % X", tt.o, mp3[:4], tt.want)
		}
		checkLayout(t, tt.o, mp3)
	}
}

// TestLayoutAllRates encodes a short signal at every sample rate and a
// spread of bitrates and checks the byte layout (no external tools).
func TestLayoutAllRates(t *testing.T) {
	for _, sr := range SupportedSampleRates() {
		for _, br := range ValidBitrates(sr) {
			for ch := 1; ch <= 2; ch++ {
				o := Options{SampleRate: sr, Channels: ch, Bitrate: br}
				n := sr / 4
				pcm := speechNoise(n, sr, uint64(sr+br))
				if ch == 2 {
					pcm = interleave(pcm, sine(n, sr, 1000, 8000))
				}
				nf := checkLayout(t, o, encode(t, o, pcm))
				frameLen := 1152
				if sr < 32000 {
					frameLen = 576
				}
				// Input plus the 1057-sample delay plus the flush granule.
				if want := (n + delaySamples + 576 + frameLen - 1) / frameLen; nf != want {
					t.Errorf("%+v: %d frames, want %d", o, nf, want)
				}
			}
		}
	}
}

// TestHuffmanCount checks that the bit counts used by rate control match
// what the Huffman writer emits, for random data of every magnitude.
func TestHuffmanCount(t *testing.T) {
	sfb := mp3tab.SFBLong(8000)
	var c chanGranule
	for it := range 400 {
		clear(c.ix[:])
		mx := []int{1, 2, 3, 5, 7, 15, 16, 20, 100, 8191}[it%10]
		n := (it * 37) % 577
		for i := range n {
			if (i*7+it)%3 == 0 {
				c.ix[i] = int32((i*31 + it*17) % (mx + 1))
			}
			c.sign[i] = uint8(i & 1)
		}
		for _, search := range []bool{false, true} {
			want := c.codeBits(sfb, search)
			var bw bitWriter
			c.writeHuffman(&bw, sfb)
			if bw.bits() != want {
				t.Fatalf("case %d (max %d, search %v): counted %d bits, wrote %d", it, mx, search, want, bw.bits())
			}
		}
	}
}

// config is one encoder setting with the minimum SNR (dB) each 2 s test
// signal must reach after an ffmpeg round trip (voice: the whole 32 s call
// recording). Thresholds sit 2-4 dB below the measured values noted at the
// end of each line; in stereo the right channel carries the signal inverted
// at half level, so its SNR is ~5 dB lower and sets the threshold.
type config struct {
	o                         Options
	tone, sweep, noise, voice float64
}

var configs = []config{
	{Options{SampleRate: 8000, Channels: 1, Bitrate: 16}, 52, 38, 12, 16},  // 56.1 42.2 14.1 18.3 (LAME -b 16: voice 14.2)
	{Options{SampleRate: 8000, Channels: 1, Bitrate: 24}, 56, 44, 17, 22},  // 60.2 47.9 19.5 24.4 (LAME -b 24: voice 17.8)
	{Options{SampleRate: 8000, Channels: 1, Bitrate: 32}, 60, 50, 22, 28},  // 64.4 53.5 24.6 30.3 (LAME -b 32: voice 20.1)
	{Options{SampleRate: 11025, Channels: 1, Bitrate: 32}, 60, 48, 19, 0},  // 63.7 51.3 21.6
	{Options{SampleRate: 12000, Channels: 2, Bitrate: 64}, 56, 49, 17, 0},  // right: 60.1 52.0 19.3
	{Options{SampleRate: 16000, Channels: 1, Bitrate: 32}, 58, 46, 17, 0},  // 62.8 50.0 20.0
	{Options{SampleRate: 22050, Channels: 1, Bitrate: 64}, 66, 57, 25, 0},  // 70.2 61.4 29.3
	{Options{SampleRate: 24000, Channels: 2, Bitrate: 96}, 62, 49, 20, 0},  // right: 65.9 52.6 23.0
	{Options{SampleRate: 32000, Channels: 1, Bitrate: 64}, 67, 57, 26, 0},  // 71.8 61.1 28.9
	{Options{SampleRate: 44100, Channels: 2, Bitrate: 128}, 65, 46, 23, 0}, // right: 69.0 49.7 26.3
	{Options{SampleRate: 48000, Channels: 2, Bitrate: 128}, 64, 51, 23, 0}, // right: 68.0 55.3 26.4
	{Options{SampleRate: 48000, Channels: 1, Bitrate: 64}, 66, 52, 25, 0},  // 70.8 56.2 28.6
}

// TestRoundTrip encodes generated signals (and the real call recording at
// 8 kHz), decodes them with ffmpeg and checks errors, stream properties and
// SNR.
func TestRoundTrip(t *testing.T) {
	voice, vrate, _ := readWAV(t, "testdata/call-pcm16-mono.wav")
	if vrate != 8000 {
		t.Fatalf("voice sample: %d Hz", vrate)
	}
	for _, cf := range configs {
		o := cf.o
		t.Run(fmt.Sprintf("%d_%dch_%dk", o.SampleRate, o.Channels, o.Bitrate), func(t *testing.T) {
			t.Parallel() // most of the time is spent waiting for ffmpeg
			sr := o.SampleRate
			n := sr * 2
			signals := []struct {
				name string
				pcm  []int16
				min  float64
			}{
				{"tone", sine(n, sr, 440, 12000), cf.tone},
				{"sweep", sweep(n, sr, 60, float64(sr)*0.45, 12000), cf.sweep},
				{"noise", speechNoise(n, sr, 7), cf.noise},
			}
			if cf.voice > 0 {
				v := voice
				signals = append(signals, struct {
					name string
					pcm  []int16
					min  float64
				}{"voice", v, cf.voice})
			}
			for i, sig := range signals {
				pcm := sig.pcm
				if o.Channels == 2 {
					// Right channel: the same signal, inverted and at
					// half level, so a swapped or mixed channel shows.
					r := make([]int16, len(pcm))
					for j, s := range pcm {
						r[j] = -s / 2
					}
					pcm = interleave(pcm, r)
				}
				mp3 := encode(t, o, pcm)
				nf := checkLayout(t, o, mp3)
				dec := ffmpegDecode(t, mp3, o.Channels, sr)
				sameLength(t, sig.name, pcm, dec)
				for c := range o.Channels {
					got := snr(pcm, dec, o.Channels, c)
					t.Logf("%s ch%d: SNR %.1f dB (min %.0f) at lag 0", sig.name, c, got, sig.min)
					if got < sig.min {
						t.Errorf("%s ch%d: SNR %.1f dB, want ≥ %.0f", sig.name, c, got, sig.min)
					}
				}
				if i > 0 {
					continue
				}
				p := ffprobe(t, mp3)
				frameLen := 1152
				if sr < 32000 {
					frameLen = 576
				}
				frameDur := float64(frameLen) / float64(sr)
				if p.sampleRate != sr || p.channels != o.Channels || p.bitRate != o.Bitrate*1000 {
					t.Errorf("ffprobe: %+v, want %d Hz, %d channels, %d bit/s", p, sr, o.Channels, o.Bitrate*1000)
				}
				// ffprobe reports the Info frame's count of audio frames.
				if want := float64(nf) * frameDur; math.Abs(p.duration-want) > 1e-3 {
					t.Errorf("ffprobe duration %.4f s, want %.4f (%d frames)", p.duration, want, nf)
				}
			}
		})
	}
}

// goertzel returns the power of one frequency in a channel of interleaved
// samples.
func goertzel(pcm []int16, ch, c int, freq, rate float64) float64 {
	w := 2 * math.Pi * freq / rate
	k := 2 * math.Cos(w)
	var s1, s2 float64
	for i := c; i < len(pcm); i += ch {
		s0 := float64(pcm[i]) + k*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - k*s1*s2
}

// TestStereoChannels puts a different tone in each channel and checks that
// each comes back in its own channel only.
func TestStereoChannels(t *testing.T) {
	for _, o := range []Options{{SampleRate: 44100, Channels: 2, Bitrate: 128}, {SampleRate: 8000, Channels: 2, Bitrate: 32}, {SampleRate: 22050, Channels: 2, Bitrate: 64}} {
		sr := o.SampleRate
		n := sr
		fl, fr := 440.0, 1250.0
		pcm := interleave(sine(n, sr, fl, 10000), sine(n, sr, fr, 10000))
		dec := ffmpegDecode(t, encode(t, o, pcm), 2, sr)
		for c, f := range []float64{fl, fr} {
			other := []float64{fr, fl}[c]
			own := goertzel(dec, 2, c, f, float64(sr))
			leak := goertzel(dec, 2, c, other, float64(sr))
			ratio := 10 * math.Log10(own/leak)
			if ratio < 50 {
				t.Errorf("%+v channel %d: %.0f Hz only %.1f dB above %.0f Hz", o, c, f, ratio, other)
			}
		}
	}
}

// TestSilence checks that digital silence encodes to frames that decode to
// exact silence.
func TestSilence(t *testing.T) {
	o := Options{SampleRate: 8000, Channels: 1, Bitrate: 32}
	mp3 := encode(t, o, make([]int16, 8000))
	checkLayout(t, o, mp3)
	for i, s := range ffmpegDecode(t, mp3, 1, 8000) {
		if s != 0 {
			t.Fatalf("sample %d = %d, want 0", i, s)
		}
	}
}

// TestFullScale encodes a clipped full-scale square wave, the largest
// spectrum 16-bit input can produce, to check the quantiser's range limit.
func TestFullScale(t *testing.T) {
	for _, o := range []Options{{SampleRate: 8000, Channels: 1, Bitrate: 160}, {SampleRate: 48000, Channels: 2, Bitrate: 320}, {SampleRate: 8000, Channels: 1, Bitrate: 8}} {
		n := o.SampleRate / 2
		sq := make([]int16, n*o.Channels)
		for i := range sq {
			if (i/o.Channels/7)%2 == 0 {
				sq[i] = 32767
			} else {
				sq[i] = -32768
			}
		}
		mp3 := encode(t, o, sq)
		checkLayout(t, o, mp3)
		dec := ffmpegDecode(t, mp3, o.Channels, o.SampleRate)
		sameLength(t, fmt.Sprintf("%+v", o), sq, dec)
		got := snr(sq, dec, o.Channels, 0)
		t.Logf("%+v: square wave SNR %.1f dB", o, got)
		if o.Bitrate >= 160 && got < 15 {
			t.Errorf("%+v: SNR %.1f dB", o, got)
		}
	}
}

// TestAgainstLAME compares the SNR on the real call recording with LAME at
// the same bitrate (`lame -b N --resample 8 -m m`): recvault's encoder must
// not be more than 3 dB worse.
func TestAgainstLAME(t *testing.T) {
	lame := needTool(t, "lame")
	pcm, _, _ := readWAV(t, "testdata/call-pcm16-mono.wav")
	for _, br := range []int{16, 24, 32} {
		out := filepath.Join(t.TempDir(), "lame.mp3")
		cmd := exec.Command(lame, "--silent", "-b", fmt.Sprint(br), "--resample", "8", "-m", "m",
			"testdata/call-pcm16-mono.wav", out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("lame: %v: %s", err, msg)
		}
		ref, err := readFile(out)
		if err != nil {
			t.Fatal(err)
		}
		// LAME's own stream is not always gapless (at 16 kbit/s its tag
		// is not used), so its SNR is taken at its best lag.
		lameSNR, _ := snrBestLag(pcm, ffmpegDecode(t, ref, 1, 8000), 1, 0, 3000)
		ourDec := ffmpegDecode(t, encode(t, Options{SampleRate: 8000, Channels: 1, Bitrate: br}, pcm), 1, 8000)
		sameLength(t, "recvault", pcm, ourDec)
		ours := snr(pcm, ourDec, 1, 0)
		t.Logf("%d kbit/s: recvault %.1f dB, LAME %.1f dB", br, ours, lameSNR)
		if ours < lameSNR-3 {
			t.Errorf("%d kbit/s: SNR %.1f dB, LAME %.1f dB", br, ours, lameSNR)
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	e, err := NewEncoder(&failWriter{n: 1}, Options{SampleRate: 8000, Channels: 1, Bitrate: 32})
	if err != nil {
		t.Fatal(err)
	}
	pcm := speechNoise(8000, 8000, 1)
	var werr error
	for i := 0; i < 20 && werr == nil; i++ {
		werr = e.Write(pcm)
	}
	if werr == nil || !strings.Contains(werr.Error(), "disk full") {
		t.Fatalf("Write error %v, want the writer's", werr)
	}
	if err := e.Write(pcm); err != werr {
		t.Errorf("Write after failure: %v, want %v", err, werr)
	}
	if err := e.Close(); err != werr {
		t.Errorf("Close after failure: %v", err)
	}
	if err := e.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if err := e.Write(pcm); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

// TestBoundedMemory feeds ten minutes of audio and checks that the
// encoder's buffers stay at their steady-state size.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	var sink countWriter
	e, err := NewEncoder(&sink, Options{SampleRate: 8000, Channels: 1, Bitrate: 32})
	if err != nil {
		t.Fatal(err)
	}
	chunk := speechNoise(8000, 8000, 9)
	quiet := make([]int16, 8000) // silence fills the reservoir: the worst case for queued frames
	for s := range 600 {
		in := chunk
		if s%3 == 0 {
			in = quiet
		}
		if err := e.Write(in); err != nil {
			t.Fatal(err)
		}
		if len(e.queue) > 8 || cap(e.fifo) > 4096 || cap(e.out) > 64<<10 {
			t.Fatalf("second %d: queue %d frames, fifo cap %d, out cap %d", s, len(e.queue), cap(e.fifo), cap(e.out))
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if want := int64(600 * 4000); sink.n < want || sink.n > want+2000 {
		t.Errorf("%d bytes for 600 s at 32 kbit/s", sink.n)
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// FuzzEncode drives the encoder with arbitrary samples, options and chunk
// sizes: it must never fail or panic, and the stream must keep its layout.
func FuzzEncode(f *testing.F) {
	f.Add([]byte{0, 0, 3, 5, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(bytes.Repeat([]byte{0xFF, 0x7F, 0x00, 0x80}, 700))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		rates := SupportedSampleRates()
		sr := rates[int(data[0])%len(rates)]
		brs := ValidBitrates(sr)
		o := Options{SampleRate: sr, Channels: 1 + int(data[1])%2, Bitrate: brs[int(data[2])%len(brs)]}
		chunk := 1 + int(data[2])
		known := data[1]&2 != 0
		data = data[3:]
		pcm := make([]int16, len(data)/2)
		total := len(pcm)
		for i := range pcm {
			pcm[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
		}
		if known {
			// Length known up front (an odd stereo count is completed
			// with silence).
			o.TotalSamples = int64((total + o.Channels - 1) / o.Channels)
		}
		var buf bytes.Buffer
		e, err := NewEncoder(&buf, o)
		if err != nil {
			t.Fatal(err)
		}
		for len(pcm) > 0 {
			n := min(chunk, len(pcm))
			if err := e.Write(pcm[:n]); err != nil {
				t.Fatal(err)
			}
			pcm = pcm[n:]
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		nf := checkLayout(t, o, buf.Bytes())
		if total == 0 && nf != 0 {
			// No input: the Info frame alone. (An unpaired left sample
			// is paired with silence, so any input makes frames.)
			t.Fatalf("%d audio frames for no input", nf)
		}
	})
}

// TestLAMEDecoder decodes with a second, independent decoder (LAME's
// mpglib, `lame --decode`), which checks main_data_begin, the Huffman data
// and the side info in its own way.
func TestLAMEDecoder(t *testing.T) {
	lame := needTool(t, "lame")
	for _, tc := range []struct {
		o   Options
		min float64
	}{
		{Options{SampleRate: 8000, Channels: 1, Bitrate: 32}, 22},   // measured 24.8
		{Options{SampleRate: 22050, Channels: 1, Bitrate: 64}, 26},  // 28.9
		{Options{SampleRate: 44100, Channels: 2, Bitrate: 128}, 30}, // 33.8 left, 48.0 right
	} {
		o := tc.o
		n := o.SampleRate
		pcm := speechNoise(n, o.SampleRate, 11)
		if o.Channels == 2 {
			pcm = interleave(pcm, sweep(n, o.SampleRate, 100, 10000, 9000))
		}
		dir := t.TempDir()
		in, out := filepath.Join(dir, "in.mp3"), filepath.Join(dir, "out.raw")
		if err := writeFile(in, encode(t, o, pcm)); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(lame, "--decode", "--silent", "-t", in, out)
		msg, err := cmd.CombinedOutput()
		if err != nil || len(msg) != 0 {
			t.Fatalf("%+v: lame --decode: %v: %s", o, err, msg)
		}
		raw, err := readFile(out)
		if err != nil {
			t.Fatal(err)
		}
		dec := make([]int16, len(raw)/2)
		for i := range dec {
			dec[i] = int16(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
		sameLength(t, fmt.Sprintf("%+v: lame --decode", o), pcm, dec)
		for c := range o.Channels {
			got := snr(pcm, dec, o.Channels, c)
			t.Logf("%+v ch%d: SNR %.1f dB at lag 0", o, c, got)
			if got < tc.min {
				t.Errorf("%+v ch%d: SNR %.1f dB, want ≥ %.0f", o, c, got, tc.min)
			}
		}
	}
}

// alawDecode expands one G.711 A-law byte (ITU-T G.711 Table 1a).
func alawDecode(a byte) int16 {
	a ^= 0x55
	t := int16(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if a&0x80 == 0 {
		return -t
	}
	return t
}

// TestDualTrackCall encodes the real dual-track recording (one party per
// channel, taking turns; 8 kHz A-law) as 8 kHz stereo and checks each
// channel's SNR: the silent channel must cost next to nothing so the
// talking one gets the bits.
func TestDualTrackCall(t *testing.T) {
	b, err := readFile("testdata/call-alaw-stereo.wav")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("data"))
	if i < 0 || string(b[8:12]) != "WAVE" || b[20] != 6 || b[22] != 2 {
		t.Fatal("testdata/call-alaw-stereo.wav: not 2-channel A-law WAV")
	}
	data := b[i+8:]
	pcm := make([]int16, len(data))
	for j, a := range data {
		pcm[j] = alawDecode(a)
	}
	for _, tc := range []struct {
		br  int
		min [2]float64
	}{
		{32, [2]float64{27, 27}}, // measured 29.4 29.5
		{48, [2]float64{36, 36}}, // 39.1 39.0
	} {
		o := Options{SampleRate: 8000, Channels: 2, Bitrate: tc.br}
		mp3 := encode(t, o, pcm)
		checkLayout(t, o, mp3)
		dec := ffmpegDecode(t, mp3, 2, 8000)
		sameLength(t, "dual-track", pcm, dec)
		for c := range 2 {
			got := snr(pcm, dec, 2, c)
			t.Logf("%d kbit/s ch%d: SNR %.1f dB at lag 0", tc.br, c, got)
			if got < tc.min[c] {
				t.Errorf("%d kbit/s ch%d: SNR %.1f dB, want ≥ %.0f", tc.br, c, got, tc.min[c])
			}
		}
	}
}

// msFrames counts the frames coded middle/side.
func msFrames(t *testing.T, mp3 []byte) (ms, total int) {
	hs, _ := frames(t, mp3)
	hs = hs[1:] // the Info frame
	for _, h := range hs {
		if h.ModeExtension == mp3tab.ModeExtMS {
			ms++
		}
	}
	return ms, len(hs)
}

// TestMidSide checks the per-frame stereo decision: identical channels are
// coded middle/side (the side channel is free, so both channels get the SNR
// of a mono stream at the full bitrate) and unrelated channels left/right.
func TestMidSide(t *testing.T) {
	o := Options{SampleRate: 8000, Channels: 2, Bitrate: 32}
	n := 8000 * 2
	same := speechNoise(n, 8000, 21)
	mp3 := encode(t, o, interleave(same, same))
	ms, total := msFrames(t, mp3)
	if ms < total-3 { // the flush frames of silence may go either way
		t.Errorf("identical channels: %d of %d frames middle/side", ms, total)
	}
	dec := ffmpegDecode(t, mp3, 2, 8000)
	for c := range 2 {
		got := snr(interleave(same, same), dec, 2, c)
		t.Logf("identical channels ch%d: SNR %.1f dB", c, got)
		if got < 22 { // mono at 32 kbit/s: 24.6 dB; left/right would give ~14
			t.Errorf("identical channels ch%d: SNR %.1f dB, want ≥ 22", c, got)
		}
	}
	other := speechNoise(n, 8000, 22)
	ms, total = msFrames(t, encode(t, o, interleave(same, other)))
	if ms > total/10 {
		t.Errorf("unrelated channels: %d of %d frames middle/side", ms, total)
	}
}
