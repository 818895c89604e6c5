package probe

import "testing"

func TestIdentify(t *testing.T) {
	for _, c := range []struct{ head, want string }{
		{"fLaC\x00\x00\x00\x22\x10\x00\x10\x00", "FLAC audio"},
		{"FORM\x00\x00\x10\x00AIFFCOMM", "AIFF audio"},
		{"RIFF\x00\x00\x10\x00AVI LIST", "AVI video"},
		{"RIFF\x00\x00\x10\x00WAVEfmt ", ""},                     // read by Probe
		{"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", ""},         // MP4
		{"\xd5\x55\x2a\xaa\xd5\x55\x2a\xaa\xd5\x55\x2a\xaa", ""}, // raw A-law
	} {
		if got := Identify([]byte(c.head)); got != c.want {
			t.Errorf("Identify(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}
