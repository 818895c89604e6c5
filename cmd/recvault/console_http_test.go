package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

// consoleClient is a browser-like HTTP client of the console: a cookie jar,
// no automatic redirects, and the Origin a same-site form sends.
type consoleClient struct {
	t   *testing.T
	env *testEnv
	c   *http.Client
}

func newConsoleClient(t *testing.T, env *testEnv) *consoleClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, env: env, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (cc *consoleClient) send(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	cc.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, cc.env.URL+path, body)
	if err != nil {
		cc.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", cc.env.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		cc.t.Fatal(err)
	}
	return resp, string(b)
}

func (cc *consoleClient) signIn(login, password string) *http.Response {
	cc.t.Helper()
	resp, body := cc.send("POST", "/signin", url.Values{"login": {login}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		cc.t.Fatalf("sign in %s: %d %s", login, resp.StatusCode, body)
	}
	return resp
}

// TestConsoleSignInRules: the console's session cookie, headers, sign-in
// errors and throttle, redirects that stay on the site, CSRF on sign-out,
// and the cookie accepted by the API for reads only.
func TestConsoleSignInRules(t *testing.T) {
	env := startEnv(t)
	cc := newConsoleClient(t, env)

	resp, body := cc.send("GET", "/", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `name="password"`) {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("headers: CSP %q, X-Frame-Options %q", csp, resp.Header.Get("X-Frame-Options"))
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
		t.Fatal("the page has inline script or style")
	}

	// Signed-out pages send the user to sign in and back.
	resp, _ = cc.send("GET", "/recordings?campaign=110", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/?next="+url.QueryEscape("/recordings?campaign=110") {
		t.Fatalf("signed-out search: %d to %q", resp.StatusCode, loc)
	}

	// A wrong password says so, and the throttle answers like the APIs'.
	resp, body = cc.send("POST", "/signin", url.Values{"login": {"supervisor@exotel.in"}, "password": {"wrong"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong login or password.") {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	var throttled bool
	for range 5 {
		resp, body = cc.send("POST", "/signin", url.Values{"login": {"supervisor@exotel.in"}, "password": {"wrong"}})
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled = true
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many failed sign-ins") {
				t.Fatalf("throttled answer: Retry-After %q", resp.Header.Get("Retry-After"))
			}
			break
		}
	}
	if !throttled {
		t.Fatal("repeated wrong passwords were never throttled")
	}

	// A redirect after sign-in never leaves the site.
	for _, next := range []string{"//evil.example/", "https://evil.example/", `/\evil.example`} {
		cc2 := newConsoleClient(t, env)
		resp, _ := cc2.send("POST", "/signin", url.Values{"login": {"admin"}, "password": {demoPassword(t, "admin")}, "next": {next}})
		if loc := resp.Header.Get("Location"); loc != "/recordings" {
			t.Errorf("next=%q sent the user to %q", next, loc)
		}
	}

	resp = cc.signIn("admin", demoPassword(t, "admin"))
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "recvault_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" || session.Secure {
		t.Fatalf("session cookie %+v (want HttpOnly, SameSite=Strict, not Secure over plain HTTP)", session)
	}
	if strings.Contains(resp.Header.Get("Location"), session.Value) {
		t.Fatal("the token is in a URL")
	}

	// The API takes the cookie for reads only: GET yes, DELETE no.
	resp, _ = cc.send("GET", "/api/v1/recordings?campaign=110", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/recordings with the cookie: %d", resp.StatusCode)
	}
	dual := env.recordingID(110, "1621413752-2011-voice")
	resp, _ = cc.send("DELETE", "/api/v1/recordings/"+dual.ID, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("DELETE with only the cookie: %d, want 401", resp.StatusCode)
	}

	// Sign-out needs the page's token; a guess is refused and changes nothing.
	resp, _ = cc.send("POST", "/signout", url.Values{"csrf": {"guess"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out with a wrong token: %d", resp.StatusCode)
	}
	resp, body = cc.send("GET", "/recordings", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("still signed in after a refused sign-out: %d", resp.StatusCode)
	}
	csrf := regexpFind(t, body, `name="csrf" value="([0-9a-f]+)"`)
	// A same-site post with the token but from another origin is refused too.
	resp, _ = cc.send("POST", "/signout", url.Values{"csrf": {csrf}}, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site sign-out: %d", resp.StatusCode)
	}
	resp, _ = cc.send("POST", "/signout", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", env.URL+"/api/v1/recordings", nil)
	req.AddCookie(session)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the signed-out cookie still works: %v %v", r.StatusCode, err)
	}
}

// TestConsoleAdminPagesAndPlays: the admin sees who accessed a recording
// and the users; others get not-found for both. A playback's Range
// requests are one play record; the media is inline for playback and an
// attachment for download; the peaks follow the access rule.
func TestConsoleAdminPagesAndPlays(t *testing.T) {
	env := startEnv(t)
	dual := env.recordingID(110, "1621413752-2011-voice")
	sup := newConsoleClient(t, env)
	sup.signIn("supervisor@exotel.in", demoPassword(t, "supervisor@exotel.in"))

	play := "/api/v1/recordings/" + dual.ID + "/media?format=wav&disposition=inline&play=0123456789abcdef0123456789abcdef"
	for _, rng := range []string{"bytes=0-", "bytes=700000-", "bytes=100-199", "bytes=500000-"} {
		resp, _ := sup.send("GET", play, nil, "Range", rng)
		if resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline;") {
			t.Fatalf("playback %s: %d %q", rng, resp.StatusCode, resp.Header.Get("Content-Disposition"))
		}
	}
	if n := len(auditOf(t, env, dual.ID, "supervisor@exotel.in", recvault.ActionPlay)); n != 1 {
		t.Fatalf("%d play records for the 4 requests of one playback", n)
	}
	// The playback's lease outlives no session, and the sweep removes it
	// once expired (it only keeps the table small: an expired lease is free).
	if n, err := env.app.svc.SweepLeases(context.Background()); err != nil || n != 0 {
		t.Fatalf("sweep of a live playback: %d, %v", n, err)
	}
	env.clock.Advance(13 * time.Hour)
	if n, err := env.app.svc.SweepLeases(context.Background()); err != nil || n < 1 {
		t.Fatalf("sweep after the session lifetime: %d, %v", n, err)
	}
	env.clock.Advance(-13 * time.Hour)
	resp, _ := sup.send("GET", "/api/v1/recordings/"+dual.ID+"/media?format=wav", nil)
	if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("download disposition %q", resp.Header.Get("Content-Disposition"))
	}
	for _, bad := range []string{"&disposition=inline&play=short", "&disposition=nope", "&play=0123456789abcdef0123"} {
		if resp, _ := sup.send("GET", "/api/v1/recordings/"+dual.ID+"/media?format=wav"+bad, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("media%s: %d, want 400", bad, resp.StatusCode)
		}
	}

	// Peaks: JSON lanes labelled by the mapping; video has none; a
	// recording of another campaign is not found.
	resp, body := sup.send("GET", "/api/v1/recordings/"+dual.ID+"/peaks?points=50", nil)
	var pk struct {
		Channels []struct {
			Label    string
			Min, Max []float64
		}
	}
	if err := json.Unmarshal([]byte(body), &pk); err != nil || resp.StatusCode != 200 || len(pk.Channels) != 2 ||
		pk.Channels[0].Label != "agent" || pk.Channels[1].Label != "customer" || len(pk.Channels[1].Max) != 50 {
		t.Fatalf("peaks: %d %.200s", resp.StatusCode, body)
	}
	video := env.recordingID(110, "1621413752-2011-video")
	if resp, _ := sup.send("GET", "/api/v1/recordings/"+video.ID+"/peaks", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("video peaks: %d, want 400", resp.StatusCode)
	}
	other := env.recordingID(120, "d741-6904fad1-vce-daf-700001")
	for _, path := range []string{"/api/v1/recordings/" + other.ID + "/peaks", "/recordings/" + other.ID, "/users"} {
		if resp, _ := sup.send("GET", path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("supervisor GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	resp, body = sup.send("GET", "/recordings/"+video.ID, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "<video id=\"player\"") {
		t.Fatalf("video page: %d", resp.StatusCode)
	}
	if strings.Contains(body, "Who accessed") {
		t.Fatal("a supervisor sees the access history")
	}

	admin := newConsoleClient(t, env)
	admin.signIn("admin", demoPassword(t, "admin"))
	resp, body = admin.send("GET", "/recordings/"+dual.ID, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Who accessed this recording") ||
		!strings.Contains(body, "supervisor@exotel.in") || !strings.Contains(body, ">play") {
		t.Fatalf("admin's recording page: %d, no access history with the supervisor's play", resp.StatusCode)
	}
	resp, body = admin.send("GET", "/users", nil)
	for _, login := range []string{"admin", "supervisor@exotel.in", "inspector@example.com", "agent4977@example.com"} {
		if !strings.Contains(body, ">"+login+"<") {
			t.Errorf("users page lacks %s", login)
		}
	}
	if resp.StatusCode != 200 || strings.Contains(body, "argon2") || strings.Contains(body, "$") {
		t.Fatalf("users page: %d (or it shows a password hash)", resp.StatusCode)
	}
	if resp, _ := admin.send("GET", "/no/such/page", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown page: %d", resp.StatusCode)
	}
}

// regexpFind returns the first group of pattern in s.
func regexpFind(t *testing.T, s, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in the page", pattern)
	}
	return m[1]
}
