package web

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

func TestParseSearchDatesInZone(t *testing.T) {
	q := url.Values{"from": {"2025-11-14"}, "to": {"2025-11-14"}, "tz": {"Asia/Kolkata"},
		"campaign": {"110"}, "minDuration": {"1.5"}, "maxDuration": {"60"}, "kind": {"voice"}}
	_, f, loc, err := parseSearch(q)
	if err != nil {
		t.Fatal(err)
	}
	// 14 November in India: 13 Nov 18:30 UTC to 14 Nov 18:30 UTC.
	if !f.From.Equal(time.Date(2025, 11, 13, 18, 30, 0, 0, time.UTC)) || !f.To.Equal(time.Date(2025, 11, 14, 18, 30, 0, 0, time.UTC)) {
		t.Fatalf("from %v to %v", f.From.UTC(), f.To.UTC())
	}
	if loc.String() != "Asia/Kolkata" || f.CampaignID != 110 || f.MinDuration != 1500*time.Millisecond ||
		f.MaxDuration != time.Minute || f.Kind != recvault.KindVoice || f.Limit != pageSize {
		t.Fatalf("filter %+v in %v", f, loc)
	}
	for _, bad := range []url.Values{
		{"campaign": {"-1"}}, {"from": {"2025-11-31"}}, {"from": {"2025-11-14T00:00:00Z"}},
		{"tz": {"Mars/Olympus"}}, {"tz": {"Local"}}, {"from": {"2025-11-15"}, "to": {"2025-11-13"}},
		{"minDuration": {"soon"}}, {"maxDuration": {"-3"}}, {"kind": {"fax"}},
	} {
		if _, _, _, err := parseSearch(bad); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Errorf("%v: %v, want invalid", bad, err)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/recordings?campaign=110": "/recordings?campaign=110", "": "", "//evil.example": "",
		"https://evil.example/": "", `/\evil.example`: "", "/ok\r\nSet-Cookie: x": "", "recordings": "",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseSearch: any query parses or is refused as invalid, without a
// panic, and a parsed date range is never inverted.
func FuzzParseSearch(f *testing.F) {
	f.Add("campaign=110&from=2025-11-14&to=2025-11-14&tz=Asia/Kolkata")
	f.Add("minDuration=1e300&maxDuration=NaN&kind=video")
	f.Add("tz=../../etc/passwd&from=0000-01-01")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		_, fl, _, err := parseSearch(q)
		if err != nil {
			if recvault.ErrorCode(err) != recvault.EINVALID {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if !fl.From.IsZero() && !fl.To.IsZero() && !fl.From.Before(fl.To) {
			t.Fatalf("%q: from %v not before to %v", raw, fl.From, fl.To)
		}
		if fl.MinDuration < 0 || fl.MaxDuration < 0 || strings.ContainsRune(string(fl.Kind), 0) {
			t.Fatalf("%q: %+v", raw, fl)
		}
	})
}
