package main

import (
	"strings"
	"testing"
)

// FuzzManifest feeds arbitrary CSV to the manifest reader: it must never
// panic, and every row it returns carries a line number.
func FuzzManifest(f *testing.F) {
	f.Add("path,campaign_id,crt_object_id,call_id,agent_id,started_at,kind,original_path\na.wav,1,c,k,a,,,\n")
	f.Add("path,campaign_id,crt_object_id,call_id,agent_id\n\"unterminated,1\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := readManifest(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, r := range rows {
			if r.line <= 0 {
				t.Fatalf("row without a line number: %+v", r)
			}
			if r.err == nil && r.fields == nil {
				t.Fatal("row with neither fields nor error")
			}
		}
	})
}
