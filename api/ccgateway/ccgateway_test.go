package ccgateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/disk"
	"github.com/recvault/recvault/catalog/sqlite"
	"github.com/recvault/recvault/vault"
)

// A correct sign-in of an agent while another one is creating its session
// — on this replica or another one sharing the catalog — gets 000-007; a
// wrong password gets 100-004 whatever the lease (the lease is taken only
// after the password checked out). (End-to-end tests cover the rest of
// sign-in against a real server.)
func TestSignInInProgress(t *testing.T) {
	cat, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	blobs, err := disk.Open(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	other := vault.New(cat, blobs, vault.Config{Logger: quiet}) // another replica
	if err := other.AddUser(context.Background(), &recvault.User{Login: "agent4977", Role: recvault.RoleAgent, AgentID: "4977"}, "agent-pass-4977"); err != nil {
		t.Fatal(err)
	}
	release, ok, err := other.TryLease(context.Background(), "ccgw-signin:4977", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	defer release()
	h := New(vault.New(cat, blobs, vault.Config{Logger: quiet}), quiet, Config{})
	for password, want := range map[string]string{"agent-pass-4977": "000-007", "wrong-password": "100-004"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("PUT", prefix+"/onlineagent/4977", strings.NewReader(`{"password":"`+password+`"}`))
		h.ServeHTTP(rec, req)
		var a answer
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &a) != nil || a.Retcode != want {
			t.Fatalf("password %s: %d %s, want %s", password, rec.Code, rec.Body, want)
		}
	}
}

func TestRetcodeTable(t *testing.T) {
	seen := map[string]bool{}
	for _, rc := range Retcodes {
		if seen[rc.Code] || rc.Message == "" {
			t.Errorf("retcode %q duplicated or without message", rc.Code)
		}
		seen[rc.Code] = true
	}
	if RetNoRight.Message != "no right to invite resource" || !RetNoRight.Vendor {
		t.Error("000-003 must keep the vendor's message")
	}
	for _, c := range []string{"108-001", "108-014", "108-015", "108-016", "108-017"} {
		if !seen[c] {
			t.Errorf("vendor-listed %s missing", c)
		}
	}
}

func TestNewGUIDShape(t *testing.T) {
	h := New(nil, slog.Default(), Config{Node: 3})
	g := h.newGUID(nil)
	if len(g) != 36+len(".AgentGateway3") || !strings.HasSuffix(g, ".AgentGateway3") {
		t.Fatalf("guid %q", g)
	}
	for _, c := range g {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-') {
			t.Fatalf("guid %q has %q", g, c)
		}
	}
	if h.newGUID(nil) == g {
		t.Fatal("GUIDs repeat")
	}
}

func TestParseDownloadQuery(t *testing.T) {
	for q, want := range map[string]string{
		"callId=1621413752-2011": "0",
		"callId=1621413752-2011&hwFileName=Y:/90/0/20210519/4977/1642329.mp4":        "0",
		"callId=1621413752-2011&hwFileName=Y:/3/0/20240101/101/1200.V3&x=1&time=5":   "0",
		"callId=1621413752-2011&workNo=4977&resteasy_jsapi_anti_cache=1700000000000": "0",
		"":                                       "000-002",
		"callId=":                                "000-002",
		"callId=%00":                             "000-002",
		"callId=a+b":                             "000-002",
		"callId=1&workNo=49a7":                   "000-002",
		"callId=1&workNo=1234567":                "000-002",
		"callId=1&hwFileName=..%2F..%2Fetc":      "108-001",
		"callId=1&hwFileName=%2Fetc%2Fpasswd":    "108-001",
		"callId=1&hwFileName=%5C%5Chost%5Cshare": "108-001",
		"callId=1&hwFileName=Y:/a/%252e%252e/b":  "108-001",
		"callId=1&hwFileName=Y:/a%00.mp4":        "108-001",
		"callId=1&hwFileName=Y:/a/./b.mp4":       "108-001",
	} {
		_, rc, ok := parseDownloadQuery(q)
		if rc.Code != want || ok != (want == "0") {
			t.Errorf("%q: %s %v, want %s", q, rc.Code, ok, want)
		}
	}
}

// FuzzDownloadQuery: whatever the query, parsing never panics, and what it
// accepts is a well-formed call id and, if any, a path with no way out of
// the catalogue's namespace.
func FuzzDownloadQuery(f *testing.F) {
	f.Add("callId=1621413752-2011&hwFileName=Y:/90/0/20210519/4977/1642329.mp4")
	f.Add("callId=1&hwFileName=..%2F..%2Fetc%2Fpasswd&workNo=4977")
	f.Add("callId=1&hwFileName=%5C%5Chost%5Cshare%5Cx")
	f.Fuzz(func(t *testing.T, q string) {
		d, rc, ok := parseDownloadQuery(q)
		if !ok {
			if rc.Code != RetParam.Code && rc.Code != RetNoRecord.Code {
				t.Fatalf("refusal with %s", rc.Code)
			}
			return
		}
		if !validCallID(d.callID) || strings.ContainsAny(d.callID, "/\\\x00") {
			t.Fatalf("accepted call id %q", d.callID)
		}
		if d.hwFileName != "" {
			n := recvault.NormalizeVendorPath(d.hwFileName)
			if strings.Contains(n, "\x00") || strings.HasPrefix(n, "/") || strings.Contains(n, "%") {
				t.Fatalf("accepted path %q", d.hwFileName)
			}
			for _, seg := range strings.Split(n, "/") {
				if seg == ".." {
					t.Fatalf("accepted parent reference in %q", d.hwFileName)
				}
			}
		}
		if _, err := url.ParseQuery(q); err == nil && d.workNo != "" && !validAgentID(d.workNo) {
			t.Fatalf("accepted workNo %q", d.workNo)
		}
	})
}
