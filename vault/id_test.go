package vault

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// TestRecordingIDsInIngestOrder: a recording id is 20 lower-case hex
// digits, the form ids always had, led by the ingest second (2026-12-02
// 21:00:00 UTC is 0x6b1086d0), so that ids made in a later second sort
// after those of an earlier one and ingests append to the catalogue's key
// index; ids made in the same second differ in their random part.
func TestRecordingIDsInIngestOrder(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{20}$`)
	at := time.Date(2026, 12, 2, 21, 0, 0, 0, time.UTC)
	if id := newRecordingID(at); id[:8] != "6b1086d0" {
		t.Fatalf("id %q made at %v: want it to start with 6b1086d0", id, at)
	}
	seen := map[string]bool{}
	last := ""
	for s := range 50 {
		now := at.Add(time.Duration(s) * time.Second)
		first := ""
		for ms := range 20 {
			id := newRecordingID(now.Add(time.Duration(ms*50) * time.Millisecond))
			switch {
			case !form.MatchString(id):
				t.Fatalf("id %q: want 20 lower-case hex digits", id)
			case id[:8] != fmt.Sprintf("%08x", now.Unix()):
				t.Fatalf("id %q made at %v: want the second %08x first", id, now, now.Unix())
			case seen[id]:
				t.Fatalf("id %q made twice", id)
			case id <= last:
				t.Fatalf("id %q made at %v sorts before %q, made a second earlier", id, now, last)
			}
			seen[id] = true
			first = max(first, id)
		}
		last = first
	}
}
