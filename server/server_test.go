package server

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// X-Forwarded-For is believed only from a trusted proxy, and then only up
// to the first address that is not a trusted proxy itself: a client cannot
// choose the address the audit trail records by sending the header.
func TestClientAddr(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	cases := []struct {
		peer, xff, want string
	}{
		{"10.1.2.3:4000", "203.0.113.9", "203.0.113.9:0"},
		{"10.1.2.3:4000", "198.51.100.1, 203.0.113.9", "203.0.113.9:0"}, // the last untrusted hop
		{"10.1.2.3:4000", "203.0.113.9, 10.9.9.9", "203.0.113.9:0"},     // a second proxy of ours
		{"10.1.2.3:4000", "", "10.1.2.3:4000"},                          // no header: the proxy itself
		{"10.1.2.3:4000", "10.7.7.7", "10.1.2.3:4000"},                  // only proxies: the peer
		{"10.1.2.3:4000", "203.0.113.9, not-an-ip", "10.1.2.3:4000"},    // malformed: believe nothing
		{"192.0.2.7:5555", "203.0.113.9", "192.0.2.7:5555"},             // untrusted peer: header ignored
		{"[::1]:8080", "2001:db8::5", "[2001:db8::5]:0"},                // IPv6
		{"10.1.2.3:4000", "::ffff:203.0.113.9", "203.0.113.9:0"},        // v4-mapped unmapped
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := s.clientAddr(r); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %q, want %q", c.peer, c.xff, got, c.want)
		}
	}
	untrusting := &Server{}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:4000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got := untrusting.clientAddr(r); got != "10.1.2.3:4000" {
		t.Errorf("without --trusted-proxy the header was believed: %q", got)
	}
}

func TestRequestID(t *testing.T) {
	for in, keep := range map[string]bool{
		"lb-0123456789abcdef": true, "a1b2c3d4": true, "trace:abc.def_01-2": true,
		"short": false, "has space 123456": false, "<script>alert(1)</script>": false,
		"0123456789012345678901234567890123456789012345678901234567890123456789": false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Request-Id", in)
		if got := requestID(r); (got == in) != keep || len(got) == 0 {
			t.Errorf("X-Request-Id %q → %q (kept %v, want %v)", in, got, got == in, keep)
		}
	}
}

// FuzzClientAddr: whatever X-Forwarded-For holds, the client address is a
// valid host:port, and from an untrusted peer always the peer itself.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.1.2.3:4000", "203.0.113.9, 10.9.9.9")
	f.Add("192.0.2.7:5555", "1.1.1.1")
	f.Add("10.0.0.1:1", ",,, ::ffff:1.2.3.4 , zz")
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		got := s.clientAddr(r)
		ap, err := netip.ParseAddrPort(peer)
		if err != nil || !ap.Addr().Unmap().Is4() || !netip.MustParsePrefix("10.0.0.0/8").Contains(ap.Addr().Unmap()) {
			if got != peer {
				t.Fatalf("untrusted peer %q: client %q", peer, got)
			}
			return
		}
		if _, err := netip.ParseAddrPort(got); err != nil {
			t.Fatalf("peer %q xff %q: client %q is no address", peer, xff, got)
		}
	})
}
