package probe

import "fmt"

// magics are the signatures of formats recordings arrive in that Probe
// does not read, so that a refusal can name the format instead of showing
// its first bytes in hex.
var magics = []struct {
	off   int
	magic string
	name  string
}{
	{0, "fLaC", "FLAC audio"},
	{0, "OggS", "Ogg (Vorbis or Opus) audio"},
	{0, "#!AMR", "AMR audio"},
	{0, "caff", "Core Audio (CAF) audio"},
	{0, ".snd", "Sun/NeXT AU audio"},
	{0, "RF64", "RF64 (64-bit WAV) audio"},
	{0, "\x1a\x45\xdf\xa3", "Matroska or WebM media"},
	{0, "\x30\x26\xb2\x75\x8e\x66\xcf\x11", "ASF (WMA or WMV) media"},
	{0, "%PDF", "a PDF document"},
	{0, "PK\x03\x04", "a ZIP archive"},
	{0, "\x1f\x8b", "a gzip archive"},
	{0, "\x89PNG", "a PNG image"},
	{0, "\xff\xd8\xff", "a JPEG image"},
}

// Identify names the format b (a file's first bytes, 16 or more) is in
// when it is a known one Probe does not read: FLAC, Ogg, AIFF, AVI, …; ""
// otherwise (a supported format, or unknown bytes such as raw G.711).
func Identify(b []byte) string {
	if len(b) >= 12 {
		switch form, kind := string(b[0:4]), string(b[8:12]); {
		case form == "FORM" && (kind == "AIFF" || kind == "AIFC"):
			return "AIFF audio"
		case form == "RIFF" && kind == "AVI ":
			return "AVI video"
		case form == "RIFF" && kind != "WAVE":
			return fmt.Sprintf("a RIFF %q file (not WAVE)", kind)
		}
	}
	for _, m := range magics {
		if len(b) >= m.off+len(m.magic) && string(b[m.off:m.off+len(m.magic)]) == m.magic {
			return m.name
		}
	}
	return ""
}
