package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

// TestListRejectsUnknownParamsAndTakesDates: a misspelt filter is a 400
// naming it (not every recording); from/to take a date meaning the whole
// UTC day.
func TestListRejectsUnknownParamsAndTakesDates(t *testing.T) {
	env := startEnv(t)
	tok := env.loginDemo("admin")
	for i, at := range []string{"2026-11-29T23:59:59Z", "2026-11-30T00:00:00Z", "2026-11-30T23:59:59Z", "2026-12-01T00:00:00Z"} {
		req := ingestReq(777, "day-"+itoa(i))
		req.StartedAt, _ = time.Parse(time.RFC3339, at)
		if _, _, err := env.app.svc.Ingest(context.Background(), nil, req, bytes.NewReader(wavPCM16(800, i))); err != nil {
			t.Fatal(err)
		}
	}
	list := func(query string) []string {
		t.Helper()
		resp, b := env.do("GET", "/api/v1/recordings?"+query, tok, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", query, resp.StatusCode, b)
		}
		var l struct {
			Recordings []struct{ CRTObjectID string }
		}
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range l.Recordings {
			out = append(out, r.CRTObjectID)
		}
		return out
	}
	if got := strings.Join(list("campaign=777&from=2026-11-30&to=2026-11-30"), " "); got != "day-2 day-1" {
		t.Errorf("one day: %q, want day-2 day-1", got)
	}
	if got := strings.Join(list("campaign=777&from=2026-11-30"), " "); got != "day-3 day-2 day-1" {
		t.Errorf("from a day: %q", got)
	}
	if got := strings.Join(list("campaign=777&to=2026-11-29T23:59:59Z"), " "); got != "" {
		t.Errorf("to is exclusive: %q", got)
	}
	resp, b := env.do("GET", "/api/v1/recordings?campain=777&limt=5", tok, nil)
	wantError(t, resp, b, 400, recvault.EINVALID)
	if !strings.Contains(string(b), `\"campain\", \"limt\"`) || !strings.Contains(string(b), "campaign") {
		t.Errorf("the 400 does not name the unknown parameters: %s", b)
	}
	resp, b = env.do("GET", "/api/v1/recordings?from=30/11/2026", tok, nil)
	wantError(t, resp, b, 400, recvault.EINVALID)
}
