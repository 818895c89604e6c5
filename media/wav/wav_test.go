package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/recvault/recvault/internal/testtool"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needTool: see testtool.Need.
func needTool(t testing.TB, name string) string { return testtool.Need(t, name) }

func TestReadRealFiles(t *testing.T) {
	tests := []struct {
		file string
		want Header
	}{
		{"call-alaw-mono.wav", Header{ALaw, 8000, 1, 1, 58, 258684}},
		{"call-alaw-stereo.wav", Header{ALaw, 8000, 2, 2, 58, 517368}},
		{"call-ulaw-mono.wav", Header{ULaw, 8000, 1, 1, 58, 258684}},
		{"../../g711/testdata/call-pcm16-mono.wav", Header{PCM16, 8000, 1, 2, 44, 517368}},
	}
	for _, tc := range tests {
		f, err := os.Open(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		// Hide the Seeker so the streaming path is what is tested.
		h, err := ReadHeader(struct{ io.Reader }{f})
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if h != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.file, h, tc.want)
		}
		// The reader must be left at the first sample.
		pos, _ := f.Seek(0, io.SeekCurrent)
		if pos != h.DataOffset {
			t.Errorf("%s: reader left at %d, want %d", tc.file, pos, h.DataOffset)
		}
		if d := h.Duration(); d != 32335500*time.Microsecond { // 258684 frames at 8 kHz
			t.Errorf("%s: duration %v", tc.file, d)
		}
		f.Close()
	}
}

// chunk builds one RIFF chunk with its pad byte.
func chunk(id string, body []byte) []byte {
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func chunkSize(id string, size uint32, body []byte) []byte {
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, size)...)
	return append(b, body...)
}

func riff(chunks ...[]byte) []byte {
	body := []byte("WAVE")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func fmtBody(tag, ch uint16, rate uint32, align, bits uint16, extra ...byte) []byte {
	le := binary.LittleEndian
	b := le.AppendUint16(nil, tag)
	b = le.AppendUint16(b, ch)
	b = le.AppendUint32(b, rate)
	b = le.AppendUint32(b, rate*uint32(align))
	b = le.AppendUint16(b, align)
	b = le.AppendUint16(b, bits)
	return append(b, extra...)
}

func extensible(ch uint16, rate uint32, align, bits uint16, sub uint16, tail []byte) []byte {
	le := binary.LittleEndian
	ext := le.AppendUint16(nil, 22)
	ext = le.AppendUint16(ext, bits)
	ext = le.AppendUint32(ext, 3)
	ext = le.AppendUint16(ext, sub)
	ext = append(ext, tail...)
	return fmtBody(0xFFFE, ch, rate, align, bits, ext...)
}

func TestReadHeaderCases(t *testing.T) {
	data := chunk("data", make([]byte, 100))
	tests := []struct {
		name    string
		in      []byte
		want    Header
		wantErr string
	}{
		{"pcm", riff(chunk("fmt ", fmtBody(1, 1, 8000, 2, 16)), data),
			Header{PCM16, 8000, 1, 2, 44, 100}, ""},
		{"alaw cbSize+fact", riff(chunk("fmt ", fmtBody(6, 2, 8000, 2, 8, 0, 0)), chunk("fact", []byte{50, 0, 0, 0}), data),
			Header{ALaw, 8000, 2, 2, 58, 100}, ""},
		{"ulaw no fact", riff(chunk("fmt ", fmtBody(7, 1, 16000, 1, 8)), data),
			Header{ULaw, 16000, 1, 1, 44, 100}, ""},
		{"skip odd LIST with pad", riff(chunk("LIST", []byte("INFOabc")), chunk("fmt ", fmtBody(1, 2, 44100, 4, 16)), data),
			Header{PCM16, 44100, 2, 4, 12 + 16 + 24 + 8, 100}, ""},
		{"extensible alaw", riff(chunk("fmt ", extensible(1, 8000, 1, 8, 6, ksSubtypeTail)), data),
			Header{ALaw, 8000, 1, 1, 12 + 48 + 8, 100}, ""},
		{"extensible pcm", riff(chunk("fmt ", extensible(2, 48000, 4, 16, 1, ksSubtypeTail)), data),
			Header{PCM16, 48000, 2, 4, 68, 100}, ""},
		{"data size 0 streams to end", riff(chunk("fmt ", fmtBody(6, 1, 8000, 1, 8)), chunkSize("data", 0, make([]byte, 10))),
			Header{ALaw, 8000, 1, 1, 44, -1}, ""},
		{"data size FFFFFFFF", riff(chunk("fmt ", fmtBody(6, 1, 8000, 1, 8)), chunkSize("data", 0xFFFFFFFF, make([]byte, 10))),
			Header{ALaw, 8000, 1, 1, 44, -1}, ""},
		{"odd fmt chunk is padded", riff(chunk("fmt ", fmtBody(7, 1, 8000, 1, 8, 0, 0, 0)), data),
			Header{ULaw, 8000, 1, 1, 12 + 8 + 20 + 8, 100}, ""},

		{"empty", nil, Header{}, "not a RIFF/WAVE file"},
		{"not riff", []byte("RIFX\x00\x00\x00\x00WAVEfmt "), Header{}, "not a RIFF/WAVE file"},
		{"avi", []byte("RIFF\x00\x00\x00\x00AVI LIST"), Header{}, "not a RIFF/WAVE file"},
		{"no fmt", riff(data), Header{}, "data chunk at offset 12 before any fmt chunk"},
		{"eof before fmt", riff(chunk("LIST", []byte("INFO"))), Header{}, "no fmt chunk before end of file"},
		{"eof before data", riff(chunk("fmt ", fmtBody(1, 1, 8000, 2, 16))), Header{}, "no data chunk before end of file"},
		{"short fmt", riff(chunk("fmt ", fmtBody(1, 1, 8000, 2, 16)[:14]), data), Header{}, "fmt chunk too short: 14 bytes"},
		{"truncated fmt", riff(chunkSize("fmt ", 16, fmtBody(1, 1, 8000, 2, 16)[:10])), Header{}, "fmt chunk truncated"},
		{"truncated LIST", riff(chunkSize("LIST", 1000, []byte("INFO"))), Header{}, `"LIST" chunk at offset 12 truncated: header says 1000 bytes`},
		{"float", riff(chunk("fmt ", fmtBody(3, 1, 8000, 4, 32)), data), Header{}, "unsupported format tag 3 (IEEE float)"},
		{"gsm", riff(chunk("fmt ", fmtBody(0x31, 1, 8000, 65, 0)), data), Header{}, "unsupported format tag 0x31"},
		{"pcm 8 bit", riff(chunk("fmt ", fmtBody(1, 1, 8000, 1, 8)), data), Header{}, "unsupported PCM sample size 8 bits"},
		{"alaw 16 bit", riff(chunk("fmt ", fmtBody(6, 1, 8000, 2, 16)), data), Header{}, "G.711 alaw with 16 bits per sample"},
		{"zero channels", riff(chunk("fmt ", fmtBody(1, 0, 8000, 2, 16)), data), Header{}, "0 channels"},
		{"zero rate", riff(chunk("fmt ", fmtBody(1, 1, 0, 2, 16)), data), Header{}, "sample rate 0 Hz out of range"},
		{"bad block align", riff(chunk("fmt ", fmtBody(1, 2, 8000, 2, 16)), data), Header{}, "block align 2 does not match 2 channels"},
		{"two fmt", riff(chunk("fmt ", fmtBody(1, 1, 8000, 2, 16)), chunk("fmt ", fmtBody(1, 1, 8000, 2, 16)), data), Header{}, "second fmt chunk"},
		{"extensible short", riff(chunk("fmt ", fmtBody(0xFFFE, 1, 8000, 2, 16, 0, 0)), data), Header{}, "WAVE_FORMAT_EXTENSIBLE fmt chunk too short"},
		{"extensible bad guid", riff(chunk("fmt ", extensible(1, 8000, 2, 16, 1, make([]byte, 14))), data), Header{}, "unknown sub-format GUID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, seekable := range []bool{false, true} {
				var r io.Reader = bytes.NewReader(tc.in)
				if !seekable {
					r = struct{ io.Reader }{r}
				}
				h, err := ReadHeader(r)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("seekable=%v: err = %v, want containing %q", seekable, err, tc.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("seekable=%v: %v", seekable, err)
				}
				if h != tc.want {
					t.Fatalf("seekable=%v: got %+v, want %+v", seekable, h, tc.want)
				}
			}
		})
	}
	_, err := ReadHeader(bytes.NewReader([]byte("ID3\x04")))
	if !errors.Is(err, ErrNotWAV) {
		t.Errorf("ErrNotWAV not matched: %v", err)
	}
}

// The header of ffmpeg-written G.711 files is byte-identical to ours, so
// files we serve look exactly like the ones contact-centre tools produce.
func TestWriterMatchesFfmpegLayout(t *testing.T) {
	for _, file := range []string{"call-alaw-mono.wav", "call-alaw-stereo.wav", "call-ulaw-mono.wav", "../../g711/testdata/call-pcm16-mono.wav"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		h, err := ReadHeader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendHeader(nil, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != HeaderSize(h.Format) || !bytes.Equal(got, b[:len(got)]) {
			t.Errorf("%s: header\n got % x\nwant % x", file, got, b[:len(got)])
		}
		if FileSize(h.Format, h.DataSize) != int64(len(b)) {
			t.Errorf("%s: FileSize %d, file %d", file, FileSize(h.Format, h.DataSize), len(b))
		}
	}
}

func TestWriterRoundTrip(t *testing.T) {
	for _, f := range []Format{PCM16, ALaw, ULaw} {
		for _, ch := range []int{1, 2} {
			for _, size := range []int64{0, 7 * int64(ch), 1000 * int64(ch), -1} {
				in := Header{Format: f, SampleRate: 11025, Channels: ch, DataSize: size}
				hdr, err := AppendHeader(nil, in)
				if err != nil {
					t.Fatal(err)
				}
				if len(hdr) != HeaderSize(f) {
					t.Fatalf("%v: header %d bytes, HeaderSize %d", f, len(hdr), HeaderSize(f))
				}
				out, err := ReadHeader(bytes.NewReader(hdr))
				if err != nil {
					t.Fatalf("%v ch=%d size=%d: %v", f, ch, size, err)
				}
				want := Header{f, 11025, ch, ch * f.BytesPerSample(), int64(len(hdr)), size}
				if size == 0 {
					want.DataSize = -1 // indistinguishable from "to end" on reading
				}
				if out != want {
					t.Errorf("got %+v want %+v", out, want)
				}
			}
		}
	}
	if _, err := AppendHeader(nil, Header{Format: PCM16, SampleRate: 8000, Channels: 1, DataSize: 1 << 32}); err == nil {
		t.Error("4 GiB data accepted")
	}
	if _, err := AppendHeader(nil, Header{Format: 3, SampleRate: 8000, Channels: 1}); err == nil {
		t.Error("invalid format accepted")
	}
}

// ffprobe must accept the headers we write, including an odd G.711 data
// size with its pad byte.
func TestFfprobeAcceptsHeaders(t *testing.T) {
	ffprobe := needTool(t, "ffprobe")
	dir := t.TempDir()
	for _, f := range []Format{PCM16, ALaw, ULaw} {
		n := int64(8001 * f.BytesPerSample())
		hdr, _ := AppendHeader(nil, Header{Format: f, SampleRate: 8000, Channels: 1, DataSize: n})
		b := append(hdr, make([]byte, n+n&1)...)
		p := filepath.Join(dir, f.String()+".wav")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels,duration_ts", "-of", "compact=p=0:nk=1", p).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: ffprobe: %v %s", f, err, out)
		}
		want := map[Format]string{PCM16: "pcm_s16le", ALaw: "pcm_alaw", ULaw: "pcm_mulaw"}[f] + "|8000|1|8001"
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%v: ffprobe says %q, want %q", f, got, want)
		}
	}
}

func FuzzReadHeader(f *testing.F) {
	for _, file := range []string{"call-alaw-mono.wav", "call-alaw-stereo.wav"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:200])
	}
	f.Add(riff(chunk("LIST", []byte("INFOabc")), chunk("fmt ", extensible(2, 48000, 4, 16, 1, ksSubtypeTail)), chunk("data", []byte{1, 2, 3, 4})))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		if !h.Format.Valid() || h.Channels < 1 || h.BlockAlign != h.Channels*h.Format.BytesPerSample() {
			t.Fatalf("accepted invalid header %+v", h)
		}
		if h.DataOffset > int64(len(b)) {
			t.Fatalf("data offset %d beyond input %d", h.DataOffset, len(b))
		}
	})
}
