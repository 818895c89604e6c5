package mp3dec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recvault/recvault/media/internal/mp3tab"
)

var update = flag.Bool("update", false, "rewrite testdata/*.ref from ffmpeg's decode")

// decodeAll decodes a whole stream, reading in chunks of the given size.
func decodeAll(t testing.TB, r io.Reader, chunk int) ([]int16, *Decoder) {
	t.Helper()
	d, err := NewDecoder(r)
	if err != nil {
		t.Fatal(err)
	}
	var out []int16
	buf := make([]int16, chunk)
	for {
		n, err := d.ReadSamples(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, d
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func decodeFile(t testing.TB, path string) ([]int16, *Decoder) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return decodeAll(t, f, 4096)
}

// ffmpegDecode returns ffmpeg's interleaved s16 decode of path.
func ffmpegDecode(t testing.TB, path string) []int16 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v", path, err)
	}
	s := make([]int16, len(out)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(out[2*i:]))
	}
	return s
}

// snr is the signal-to-noise ratio in dB of got against ref, over the
// samples at positions idx(i) for i < n.
func snr(ref, got []int16) float64 {
	var sig, noise float64
	for i := range ref {
		s := float64(ref[i])
		e := float64(got[i]) - s
		sig += s * s
		noise += e * e
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// A .ref file keeps ffmpeg's decode small enough to commit: the total
// interleaved sample count, a stride, and every stride-th sample.
const refSamples = 2000

func writeRef(path string, ref []int16) error {
	stride := max(1, (len(ref)+refSamples-1)/refSamples)
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [2]uint32{uint32(len(ref)), uint32(stride)})
	for i := 0; i < len(ref); i += stride {
		binary.Write(&b, binary.LittleEndian, ref[i])
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func readRef(t *testing.T, path string) (total, stride int, samples []int16) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	if len(b) < 8 {
		t.Fatalf("%s: short", path)
	}
	total = int(binary.LittleEndian.Uint32(b))
	stride = int(binary.LittleEndian.Uint32(b[4:]))
	samples = make([]int16, (len(b)-8)/2)
	for i := range samples {
		samples[i] = int16(binary.LittleEndian.Uint16(b[8+2*i:]))
	}
	return total, stride, samples
}

// fixtures are made by testdata/gen.sh with ffmpeg's libmp3lame; samples is
// the exact interleaved count ffmpeg decodes (the encoded duration, thanks
// to the LAME tag's delay and padding, except noxing which has no tag).
var fixtures = []struct {
	name       string
	rate, ch   int
	samples    int
	shortBlock bool // must contain short-block granules
	msStereo   bool // must contain middle/side stereo frames
}{
	{"mono8k-cbr32", 8000, 1, 8000, false, false},
	{"stereo8k-cbr32", 8000, 2, 9600, false, false},
	{"mono11k-cbr24", 11025, 1, 8820, false, false},
	{"stereo12k-vbr", 12000, 2, 14400, false, false},
	{"mono16k-cbr32", 16000, 1, 9600, false, false},
	{"joint22k-cbr64", 22050, 2, 22050, false, false},
	{"mono24k-vbr", 24000, 1, 12000, false, false},
	{"stereo32k-cbr96", 32000, 2, 25600, false, false},
	{"joint44k-cbr128", 44100, 2, 35280, false, true},
	{"mono48k-vbr", 48000, 1, 19200, false, false},
	{"clicks44k-cbr128", 44100, 1, 22050, true, false},
	{"clicks8k-cbr16", 8000, 1, 8000, true, false},
	{"ms16k-cbr48", 16000, 2, 19200, false, true},
	{"crc22k-cbr48", 22050, 2, 22 * 576 * 2, false, false},
	{"noxing8k-cbr32", 8000, 1, 9 * 576, false, false},
	{"call-mono", 8000, 1, 258684, false, false},
}

// TestReference decodes every fixture and compares with ffmpeg's decode:
// exact sample count and SNR >= 60 dB, against the committed subsampled
// reference always, and against a full ffmpeg run when ffmpeg is there.
func TestReference(t *testing.T) {
	haveFFmpeg := true
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		haveFFmpeg = false
		if os.Getenv("CI") == "true" || *update {
			t.Fatalf("ffmpeg is required: %v", err)
		}
	}
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			path := filepath.Join("testdata", fx.name+".mp3")
			refPath := filepath.Join("testdata", fx.name+".ref")
			got, d := decodeFile(t, path)
			if d.SampleRate() != fx.rate || d.Channels() != fx.ch {
				t.Fatalf("rate %d channels %d, want %d %d", d.SampleRate(), d.Channels(), fx.rate, fx.ch)
			}
			if len(got) != fx.samples {
				t.Errorf("%d samples, want %d", len(got), fx.samples)
			}
			if fx.msStereo && d.l3.msFrames == 0 {
				t.Errorf("no middle/side stereo frames decoded")
			}
			if fx.shortBlock && d.l3.blockTypes[2] == 0 {
				t.Errorf("no short-block granules decoded (block types %v)", d.l3.blockTypes)
			}
			if haveFFmpeg {
				ref := ffmpegDecode(t, path)
				if len(ref) != len(got) {
					t.Fatalf("%d samples, ffmpeg %d", len(got), len(ref))
				}
				s := snr(ref, got)
				t.Logf("SNR vs ffmpeg %.1f dB over %d samples, block types %v, M/S frames %d", s, len(ref), d.l3.blockTypes, d.l3.msFrames)
				if s < 60 {
					t.Errorf("SNR vs ffmpeg %.1f dB, want >= 60", s)
				}
				if *update {
					if err := writeRef(refPath, ref); err != nil {
						t.Fatal(err)
					}
				}
			}
			total, stride, ref := readRef(t, refPath)
			if total != len(got) {
				t.Fatalf("%d samples, reference %d", len(got), total)
			}
			sub := make([]int16, len(ref))
			for i := range sub {
				sub[i] = got[i*stride]
			}
			if s := snr(ref, sub); s < 60 {
				t.Errorf("SNR vs committed reference %.1f dB, want >= 60", s)
			}
		})
	}
}

// TestChunkSizes checks that the output does not depend on how the caller
// slices its reads, including odd sizes that split stereo pairs.
func TestChunkSizes(t *testing.T) {
	data, err := os.ReadFile("testdata/stereo8k-cbr32.mp3")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decodeAll(t, bytes.NewReader(data), 10000)
	for _, chunk := range []int{1, 3, 575, 1152, 1153} {
		got, _ := decodeAll(t, bytes.NewReader(data), chunk)
		if !slicesEqual(got, want) {
			t.Errorf("chunk %d: output differs", chunk)
		}
	}
	// A one-byte-at-a-time reader exercises the buffered framing.
	got, _ := decodeAll(t, iotestOneByte{bytes.NewReader(data)}, 4096)
	if !slicesEqual(got, want) {
		t.Error("one-byte reader: output differs")
	}
}

type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func slicesEqual(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// frameOffsets lists where each audio frame of an MP3 file starts.
func frameOffsets(t *testing.T, data []byte) []int {
	t.Helper()
	var offs []int
	for i := 0; i+4 <= len(data); {
		h, err := mp3tab.ParseHeader(data[i:])
		if err != nil || h.Layer != 3 {
			i++
			continue
		}
		offs = append(offs, i)
		i += h.FrameSize()
	}
	return offs
}

// TestCorruptFrames damages a stream in several ways: the decoder must keep
// going, resynchronise, and decode the undamaged start exactly as before.
func TestCorruptFrames(t *testing.T) {
	data, err := os.ReadFile("testdata/mono8k-cbr32.mp3")
	if err != nil {
		t.Fatal(err)
	}
	clean, _ := decodeAll(t, bytes.NewReader(data), 4096)
	offs := frameOffsets(t, data)
	mid := offs[len(offs)/2]
	tests := []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"garbage inserted between frames", func(b []byte) []byte {
			junk := bytes.Repeat([]byte{0xFF, 0xE3, 0x12, 0x00, 0xAA}, 40)
			return append(append(append([]byte{}, b[:mid]...), junk...), b[mid:]...)
		}},
		{"header destroyed", func(b []byte) []byte {
			c := append([]byte{}, b...)
			copy(c[mid:], []byte{0x00, 0x00, 0x00, 0x00})
			return c
		}},
		{"main data scrambled", func(b []byte) []byte {
			c := append([]byte{}, b...)
			for i := mid + 20; i < mid+200; i++ {
				c[i] ^= byte(i * 37)
			}
			return c
		}},
		{"truncated mid-frame", func(b []byte) []byte { return b[:mid+50] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := decodeAll(t, bytes.NewReader(tt.corrupt(data)), 4096)
			// Everything before the damaged frame is identical (the
			// frame before it overlaps into it, so compare up to there).
			safe := (len(frameOffsets(t, data[:mid])) - 2) * 576
			safe -= 576 + decoderDelay // the LAME-tag trim at the start
			if len(got) < safe || !slicesEqual(got[:safe], clean[:safe]) {
				t.Fatalf("undamaged start differs (got %d samples, compared %d)", len(got), safe)
			}
			if len(got) > len(clean)+576 {
				t.Errorf("%d samples from a %d-sample stream", len(got), len(clean))
			}
		})
	}
}

func TestLeadingJunkAndID3(t *testing.T) {
	data, err := os.ReadFile("testdata/noxing8k-cbr32.mp3")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decodeAll(t, bytes.NewReader(data), 4096)
	// An ID3v2 tag whose body holds a fake frame sync, then junk.
	tag := []byte("ID3\x04\x00\x00\x00\x00\x00\x08\xFF\xFB\x90\x64\x00\x00\x00\x00")
	junk := []byte("RIFF\xFF\xFA junk \xFF")
	in := append(append(append([]byte{}, tag...), junk...), data...)
	got, _ := decodeAll(t, bytes.NewReader(in), 4096)
	if !slicesEqual(got, want) {
		t.Errorf("got %d samples, want %d identical ones", len(got), len(want))
	}
}

func TestNewDecoderErrors(t *testing.T) {
	// Two Layer II frames: sync is found, but the layer is refused.
	h := mp3tab.Header{Version: mp3tab.MPEG1, Layer: 2, Bitrate: 128, SampleRate: 48000, ChannelMode: mp3tab.Stereo}
	hb, err := h.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, h.FrameSize())
	copy(frame, hb[:])
	layer2 := append(append([]byte{}, frame...), frame...)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNoFrames},
		{"text", bytes.Repeat([]byte("not an mp3 "), 1000), ErrNoFrames},
		{"layer II", layer2, ErrUnsupported},
		{"ID3 tag only", []byte("ID3\x04\x00\x00\x00\x00\x00\x00"), ErrNoFrames},
		{"truncated ID3 tag", []byte("ID3\x04\x00\x00\x00\x00\x10\x00abc"), ErrNoFrames},
	}
	for _, tt := range tests {
		_, err := NewDecoder(bytes.NewReader(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if tt.want == ErrUnsupported && err != nil && !strings.Contains(err.Error(), "Layer 2") {
			t.Errorf("%s: message %q does not name the layer", tt.name, err)
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReadError(t *testing.T) {
	data, err := os.ReadFile("testdata/mono8k-cbr32.mp3")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	d, err := NewDecoder(io.MultiReader(bytes.NewReader(data[:2000]), errReader{boom}))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]int16, 512)
	for {
		_, err := d.ReadSamples(buf)
		if err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("error %v, want boom", err)
			}
			return
		}
	}
}

// TestHuffmanRoundTrip encodes every (x, y) of every table with mp3tab's
// codes and decodes it back through the lookup tables.
func TestHuffmanRoundTrip(t *testing.T) {
	luts := tables()
	for ti := range mp3tab.Huff {
		tab := &mp3tab.Huff[ti]
		if tab.Size == 0 {
			continue
		}
		var w bitWriter
		for j := range tab.Codes {
			w.put(tab.Codes[j], int(tab.Lens[j]))
		}
		br := bitReader{data: w.bytes()}
		for j := range tab.Codes {
			sym, ok := luts[ti].decode(&br)
			want := (j/tab.Size)<<4 | j%tab.Size
			if ti >= 32 {
				want = j
			}
			if !ok || sym != want {
				t.Fatalf("table %d entry %d: got %x ok=%v, want %x", ti, j, sym, ok, want)
			}
		}
	}
}

type bitWriter struct {
	buf  []byte
	nbit int
}

func (w *bitWriter) put(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.nbit%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>i&1 == 1 {
			w.buf[len(w.buf)-1] |= 0x80 >> (w.nbit % 8)
		}
		w.nbit++
	}
}

func (w *bitWriter) bytes() []byte { return w.buf }

func TestBitReader(t *testing.T) {
	br := bitReader{data: []byte{0xA5, 0x0F, 0xF0}}
	for i, tt := range []struct{ n, want int }{{1, 1}, {3, 2}, {4, 5}, {8, 0x0F}, {4, 0xF}, {8, 0}, {12, 0}} {
		if got := br.bits(tt.n); got != tt.want {
			t.Fatalf("read %d: bits(%d) = %x, want %x", i, tt.n, got, tt.want)
		}
	}
}

func FuzzDecoder(f *testing.F) {
	for _, name := range []string{"mono8k-cbr32", "stereo12k-vbr", "clicks8k-cbr16"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".mp3"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 1200)])
	}
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xFF\xE3\x48\xC4"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Every frame is at least 24 bytes and yields at most 1152
		// samples per channel, so the output is bounded by the input.
		limit := (len(data)/24 + 1) * 2304
		buf := make([]int16, 1000)
		total := 0
		for {
			n, err := d.ReadSamples(buf)
			total += n
			if total > limit {
				t.Fatalf("%d samples from %d bytes", total, len(data))
			}
			if err != nil {
				return
			}
		}
	})
}

func benchmarkDecode(b *testing.B, name string) {
	data, err := os.ReadFile(filepath.Join("testdata", name+".mp3"))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]int16, 4608)
	var seconds float64
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			k, err := d.ReadSamples(buf)
			n += k
			if err != nil {
				break
			}
		}
		seconds = float64(n) / float64(d.Channels()*d.SampleRate())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/seconds, "ns/audio-s")
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"call-mono", "stereo8k-cbr32", "joint44k-cbr128", "clicks44k-cbr128"} {
		b.Run(name, func(b *testing.B) { benchmarkDecode(b, name) })
	}
}
