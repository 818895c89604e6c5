package httputil

import (
	"mime"
	"testing"
)

// FuzzDisposition: the header Attachment and Inline write is what
// mime.FormatMediaType writes for the cleaned name (cleanFilename) (the fast path for a
// token must not change a byte), and it parses back to that name.
func FuzzDisposition(f *testing.F) {
	for _, s := range []string{"small.wav", "4977-110.mp3", "", "a b.wav", "naïve.wav", `q"uote`, "semi;colon", "x=y", "tab\t", "/etc/passwd", "über", "a\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, kind := range []string{"attachment", "inline"} {
			got := disposition(kind, name)
			clean := cleanFilename(name)
			want := mime.FormatMediaType(kind, map[string]string{"filename": clean})
			if want == "" {
				want = kind
			}
			if got != want {
				t.Fatalf("disposition(%q, %q) = %q, FormatMediaType gives %q", kind, name, got, want)
			}
			typ, params, err := mime.ParseMediaType(got)
			if want != kind && (err != nil || typ != kind || params["filename"] != clean) {
				t.Fatalf("disposition(%q, %q) = %q parses as %q %v, %v", kind, name, got, typ, params, err)
			}
		}
	})
}
