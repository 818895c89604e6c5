package sqlite

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzUnpackTexts: what auditCols' concat() packs, unpackTexts splits
// back into the very fields, whatever bytes they hold (colons and digits
// included); any other string is an error, never a panic or a field cut
// from the wrong place.
func FuzzUnpackTexts(f *testing.F) {
	f.Add("sup@example.com", "10.0.0.1:5555", "", "3:abc")
	f.Add("bad \xff\x00 bytes", "12:", ":", "détail ✓")
	f.Fuzz(func(t *testing.T, a, b, c, raw string) {
		want := make([]string, len(auditTexts))
		for i := range want {
			want[i] = []string{a, b, c}[i%3]
		}
		var p strings.Builder
		for _, v := range want {
			p.WriteString(strconv.Itoa(len(v)) + ":" + v)
		}
		got := make([]string, len(auditTexts))
		if err := unpackTexts(p.String(), got, auditTexts[:]); err != nil {
			t.Fatalf("unpack of a packing: %v", err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("field %d (%s) = %q, packed %q", i, auditTexts[i], got[i], want[i])
			}
		}
		if err := unpackTexts(p.String()+"x", got, auditTexts[:]); err == nil {
			t.Fatal("a packing with a byte more unpacked")
		}
		_ = unpackTexts(raw, got, auditTexts[:]) // anything: an error or fields, no panic
	})
}
