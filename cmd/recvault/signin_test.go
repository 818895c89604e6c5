package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/auth"
	"github.com/recvault/recvault/server"
)

// Sign-in hardening over HTTP: the throttle (vault/throttle.go) on every
// façade, CC-Gateway sign-ins that wrong passwords cannot block, answers
// that take as long for an unknown account as for a wrong password, and
// signing out everywhere.

// signinEnv is a server that believes X-Forwarded-For from the loopback
// peer, so each test request can come from a client address of its own. A
// request without the header comes from 127.0.0.1 itself.
func signinEnv(t *testing.T) *testEnv {
	t.Helper()
	return startEnvWith(t, func(c *server.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
}

// attempt is one answered sign-in, its body read, and how long it took.
type attempt struct {
	resp *http.Response
	body []byte
	took time.Duration
}

// retcode is a CC-Gateway answer's retcode ("" if it is not one).
func (a attempt) retcode() string {
	var ans ccAnswer
	if a.resp.StatusCode != 200 || json.Unmarshal(a.body, &ans) != nil {
		return ""
	}
	return ans.Retcode
}

// errorCode is a v1 error's code ("" if it is not one).
func (a attempt) errorCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.Unmarshal(a.body, &e) != nil {
		return ""
	}
	return e.Error.Code
}

// ameyo is an Ameyo error envelope.
func (a attempt) ameyo() ameyoError {
	var e ameyoError
	json.Unmarshal(a.body, &e)
	return e
}

// send makes one request as from client address from ("": the peer). It
// does not fail the test, so attackers can call it from goroutines.
func (e *testEnv) send(from, method, path, body string) (attempt, error) {
	req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if err != nil {
		return attempt{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return attempt{}, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return attempt{}, err
	}
	return attempt{resp: resp, body: b, took: time.Since(start)}, nil
}

func (e *testEnv) mustSend(from, method, path, body string) attempt {
	e.t.Helper()
	a, err := e.send(from, method, path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// The three sign-ins, as (method, path, body).
func v1SignIn(login, password string) (string, string, string) {
	b, _ := json.Marshal(map[string]string{"login": login, "password": password})
	return "POST", "/api/v1/sessions", string(b)
}

func ameyoSignIn(user, token string) (string, string, string) {
	b, _ := json.Marshal(map[string]any{"userId": user, "token": token, "forceLogin": true})
	return "POST", "/ameyorestapi/session/userLogin", string(b)
}

func ccSignInReq(agent, password string) (string, string, string) {
	b, _ := json.Marshal(map[string]string{"password": password, "phonenum": "88001"})
	return "PUT", ccgw + "/onlineagent/" + agent + "/forcelogin", string(b)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// hashTime is the median time of one password verification here.
func hashTime() time.Duration {
	var ds []time.Duration
	for range 9 {
		start := time.Now()
		auth.VerifyDummy("some password")
		ds = append(ds, time.Since(start))
	}
	return median(ds)
}

// throttledAudits counts sign-ins refused by the throttle in the audit trail.
func throttledAudits(t *testing.T, env *testEnv) int {
	t.Helper()
	ev, err := env.app.cat.Audit(context.Background(), 5000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ev {
		if e.Action == recvault.ActionLogin && e.Outcome == recvault.OutcomeDenied && e.Detail == "throttled" {
			n++
		}
	}
	return n
}

// TestSigninThrottleV1: wrong passwords from one address are refused with
// 429 and Retry-After from the fourth on, with blocks that double; a
// refused attempt costs no password hash; and the real user, from another
// address, signs in at once all the while.
func TestSigninThrottleV1(t *testing.T) {
	env := signinEnv(t)
	const attacker = "203.0.113.7"
	hash := hashTime()
	m, p, wrong := v1SignIn("admin", "wrong-password")
	var codes []int
	var last attempt
	for range 20 {
		last = env.mustSend(attacker, m, p, wrong)
		codes = append(codes, last.resp.StatusCode)
	}
	for i, c := range codes {
		if want := map[bool]int{true: 401, false: 429}[i < 3]; c != want {
			t.Fatalf("wrong password %d answered %d, want %d (all: %v)", i+1, c, want, codes)
		}
	}
	wantError(t, last.resp, last.body, http.StatusTooManyRequests, recvault.ETHROTTLED)
	if ra := last.resp.Header.Get("Retry-After"); ra != "1" {
		t.Fatalf("20th wrong password: Retry-After %q, want 1", ra)
	}
	// The block ends on time, and the next failure doubles it.
	for _, want := range []string{"2", "4", "8"} {
		env.clock.Advance(10 * time.Second)
		if a := env.mustSend(attacker, m, p, wrong); a.resp.StatusCode != 401 {
			t.Fatalf("after the block: %d %s, want 401", a.resp.StatusCode, a.body)
		}
		a := env.mustSend(attacker, m, p, wrong)
		if a.resp.StatusCode != 429 || a.resp.Header.Get("Retry-After") != want {
			t.Fatalf("doubled block: %d Retry-After %q, want 429 and %s", a.resp.StatusCode, a.resp.Header.Get("Retry-After"), want)
		}
	}

	// Blocked attempts are refused before the hash: 100 of them take far
	// less than 100 hashes. The right password is refused too while the
	// address is blocked; nothing is checked.
	before := throttledAudits(t, env)
	start := time.Now()
	for range 100 {
		if a := env.mustSend(attacker, m, p, wrong); a.resp.StatusCode != 429 {
			t.Fatalf("blocked attempt answered %d", a.resp.StatusCode)
		}
	}
	blocked := time.Since(start)
	t.Logf("password hash %v; 100 blocked attempts %v (%v each)", hash, blocked, blocked/100)
	if blocked > 100*hash/4 {
		t.Errorf("100 blocked attempts took %v, a quarter of 100 hashes is %v: the hash still runs", blocked, 100*hash/4)
	}
	_, _, right := v1SignIn("admin", demoPassword(t, "admin"))
	if a := env.mustSend(attacker, m, p, right); a.resp.StatusCode != 429 {
		t.Fatalf("right password from the blocked address: %d, want 429", a.resp.StatusCode)
	}
	if n := throttledAudits(t, env) - before; n != 101 {
		t.Errorf("%d throttled sign-ins audited, want 101", n)
	}

	// The real user, from another address and from the peer itself.
	for _, from := range []string{"198.51.100.20", ""} {
		a := env.mustSend(from, m, p, right)
		if a.resp.StatusCode != 201 {
			t.Fatalf("right password from %q while %s is blocked: %d %s", from, attacker, a.resp.StatusCode, a.body)
		}
	}
	if a := env.mustSend(attacker, m, p, wrong); a.resp.StatusCode != 429 {
		t.Fatalf("another address's success unblocked the attacker: %d", a.resp.StatusCode)
	}
}

// TestSigninThrottleFacades: Ameyo and CC-Gateway answer a throttled
// sign-in with their vendor's sign-in failure (Ameyo HTTP 512
// invalid.user.credentials with Retry-After; CC-Gateway 100-004), for
// known and unknown accounts alike, without checking the password.
func TestSigninThrottleFacades(t *testing.T) {
	env := signinEnv(t)
	t.Run("Ameyo", func(t *testing.T) {
		const attacker = "203.0.113.8"
		m, p, wrong := ameyoSignIn("supervisor@exotel.in", "wrong")
		for range 3 {
			a := env.mustSend(attacker, m, p, wrong)
			wantAmeyoError(t, a.resp, a.body, 512, "invalid.user.credentials", 51201, "invalid userId or token")
		}
		before := throttledAudits(t, env)
		_, _, right := ameyoSignIn("supervisor@exotel.in", demoPassword(t, "supervisor@exotel.in"))
		for _, body := range []string{wrong, right} {
			a := env.mustSend(attacker, m, p, body)
			wantAmeyoError(t, a.resp, a.body, 512, "invalid.user.credentials", 51201, "too many failed sign-ins")
			if ra := a.resp.Header.Get("Retry-After"); ra != "1" {
				t.Fatalf("throttled Ameyo sign-in: Retry-After %q", ra)
			}
		}
		if n := throttledAudits(t, env) - before; n != 2 {
			t.Fatalf("%d throttled Ameyo sign-ins audited, want 2", n)
		}
		if a := env.mustSend("198.51.100.21", m, p, right); a.resp.StatusCode != 200 {
			t.Fatalf("right token from another address: %d %s", a.resp.StatusCode, a.body)
		}
	})
	t.Run("CCGateway", func(t *testing.T) {
		for _, c := range []struct{ agent, attacker string }{{"4977", "203.0.113.9"}, {"9999", "203.0.113.10"}} {
			m, p, wrong := ccSignInReq(c.agent, "wrong-password")
			for range 3 {
				if rc := env.mustSend(c.attacker, m, p, wrong).retcode(); rc != "100-004" {
					t.Fatalf("agent %s wrong password: retcode %q", c.agent, rc)
				}
			}
			before := throttledAudits(t, env)
			_, _, right := ccSignInReq(c.agent, "agent-demo-pass")
			for _, body := range []string{wrong, right} {
				if rc := env.mustSend(c.attacker, m, p, body).retcode(); rc != "100-004" {
					t.Fatalf("agent %s throttled: retcode %q, want 100-004", c.agent, rc)
				}
			}
			if n := throttledAudits(t, env) - before; n != 2 {
				t.Fatalf("agent %s: %d throttled sign-ins audited, want 2", c.agent, n)
			}
		}
		env.ccSignIn("4977", "agent-demo-pass", "/forcelogin") // the agent's own address
	})
}

// TestSigninCCGatewayWrongPasswordsNeverBlockSignIn: four clients sending
// wrong passwords for work number 4977 (from addresses of their own) while
// the agent signs in 20 times: every one of the agent's sign-ins
// succeeds. (When the per-work-number lease was held during the password
// check, all 20 answered 000-007.)
func TestSigninCCGatewayWrongPasswordsNeverBlockSignIn(t *testing.T) {
	env := signinEnv(t)
	const attackers = 4
	// The account-wide key would block 4977 for everyone after 50
	// failures; the attackers' password checks stay below that. Each
	// first burns an address of its own (3 failures: blocked), then makes
	// its share of 32 checks from fresh addresses, 2 each (never blocked),
	// then hammers from the blocked address (refused unchecked).
	var fresh atomic.Int32
	fresh.Store(32)
	var checked, refused atomic.Int32
	done := make(chan struct{})
	errs := make(chan error, attackers)
	var wg sync.WaitGroup
	for i := range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			burn := fmt.Sprintf("10.66.%d.250", i)
			m, p, wrong := ccSignInReq("4977", "wrong-password")
			for n, k := 0, 0; ; n++ {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				from, check := burn, n < 3
				if !check && fresh.Add(-1) >= 0 {
					from, check = fmt.Sprintf("10.66.%d.%d", i, k/2+1), true
					k++
				}
				a, err := env.send(from, m, p, wrong)
				if err != nil {
					errs <- err
					return
				}
				if rc := a.retcode(); rc != "100-004" {
					errs <- fmt.Errorf("attacker %d from %s: retcode %q, want 100-004", i, from, rc)
					return
				}
				if check {
					checked.Add(1)
					time.Sleep(20 * time.Millisecond)
				} else {
					refused.Add(1)
					time.Sleep(2 * time.Millisecond)
				}
			}
		}()
	}
	var rcs []string
	start := time.Now()
	m, p, right := ccSignInReq("4977", "agent-demo-pass")
	for range 20 {
		rcs = append(rcs, env.mustSend("", m, p, right).retcode())
	}
	took := time.Since(start)
	during := checked.Load()
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("20 sign-ins in %v, while attackers made %d password checks and %d throttled attempts", took, during, refused.Load())
	for i, rc := range rcs {
		if rc != "0" {
			t.Errorf("correct sign-in %d answered %q (all: %q)", i+1, rc, rcs)
			break
		}
	}
	if during < 8 {
		t.Errorf("only %d wrong passwords were checked while the agent signed in: the test did not overlap", during)
	}
}

// TestSigninTimingNoEnumeration: on every API an unknown account takes as
// long to refuse as a known one with a wrong password — both run one
// password hash. A measurement (medians of 9, each attempt from an
// address of its own so that the throttle stays out), with a generous bound.
func TestSigninTimingNoEnumeration(t *testing.T) {
	env := signinEnv(t)
	hash := hashTime()
	type req func(i int) (string, string, string)
	apis := []struct {
		name           string
		unknown, known req
		refused        func(attempt) bool
	}{
		{"v1",
			func(i int) (string, string, string) {
				return v1SignIn(fmt.Sprintf("nobody-%d@example.com", i), "wrong-password")
			},
			func(int) (string, string, string) { return v1SignIn("admin", "wrong-password") },
			func(a attempt) bool { return a.resp.StatusCode == 401 && a.errorCode() == recvault.EUNAUTHENTICATED }},
		{"ameyo",
			func(i int) (string, string, string) {
				return ameyoSignIn(fmt.Sprintf("nobody-%d@example.com", i), "wrong")
			},
			func(int) (string, string, string) { return ameyoSignIn("supervisor@exotel.in", "wrong") },
			func(a attempt) bool {
				return a.resp.StatusCode == 512 && a.ameyo().Message == "invalid.user.credentials"
			}},
		{"ccgw",
			func(i int) (string, string, string) { return ccSignInReq(fmt.Sprintf("88%04d", i), "wrong-password") },
			func(int) (string, string, string) { return ccSignInReq("4977", "wrong-password") },
			func(a attempt) bool { return a.retcode() == "100-004" }},
	}
	addr := 0
	from := func() string { addr++; return fmt.Sprintf("198.18.%d.%d", addr/200, addr%200+1) }
	for _, api := range apis {
		var unknown, known []time.Duration
		for i := -1; i < 9; i++ { // i = -1: warm-up, not counted
			for _, r := range []req{api.unknown, api.known} {
				m, p, b := r(i + 1)
				a := env.mustSend(from(), m, p, b)
				if !api.refused(a) {
					t.Fatalf("%s: %s %s answered %d %s", api.name, m, p, a.resp.StatusCode, a.body)
				}
				if i < 0 {
					continue
				}
				if len(unknown) == len(known) {
					unknown = append(unknown, a.took)
				} else {
					known = append(known, a.took)
				}
			}
		}
		mu, mk := median(unknown), median(known)
		ratio := float64(max(mu, mk)) / float64(min(mu, mk))
		t.Logf("%-5s unknown account %8v, known with wrong password %8v (ratio %.2f; one hash %v)", api.name, mu, mk, ratio, hash)
		if ratio >= 3 {
			t.Errorf("%s: unknown %v vs known %v: the answer time tells them apart", api.name, mu, mk)
		}
		if mu < hash/2 || mk < hash/2 {
			t.Errorf("%s: unknown %v, known %v: one of them skips the password hash (%v)", api.name, mu, mk, hash)
		}
	}
}

// TestSigninLogoutAllSessions: DELETE /api/v1/sessions ends every session
// of the caller's user on every API (204, audited) and no one else's.
func TestSigninLogoutAllSessions(t *testing.T) {
	env := startEnv(t)
	const agent = "agent4977@example.com"
	t1, t2 := env.loginDemo(agent), env.loginDemo(agent)
	sid := env.ameyoLogin(agent, true)
	guid := env.ccSignIn("4977", "agent-demo-pass", "/forcelogin")
	admin := env.loginDemo("admin")

	resp, b := env.do("DELETE", "/api/v1/sessions", "", nil)
	wantError(t, resp, b, 401, recvault.EUNAUTHENTICATED)
	resp, b = env.do("DELETE", "/api/v1/sessions", t1, nil)
	if resp.StatusCode != 204 || len(b) != 0 {
		t.Fatalf("DELETE /api/v1/sessions: %d %s, want 204 and no body", resp.StatusCode, b)
	}
	for _, tok := range []string{t1, t2} {
		resp, b := env.do("GET", "/api/v1/recordings", tok, nil)
		wantError(t, resp, b, 401, recvault.EUNAUTHENTICATED)
	}
	resp, b = env.do("POST", "/ameyorestapi/session/keepAliveWithPingPush", "", strings.NewReader(`{"sessionId":"`+sid+`"}`),
		"Content-Type", "application/json")
	if resp.StatusCode != 401 {
		t.Fatalf("Ameyo session after logout everywhere: %d %s", resp.StatusCode, b)
	}
	hb, hbody, _ := env.rawDo("PUT", ccgw+"/onlineagent/4977/heartbeat", "", "Guid: "+guid)
	wantRetcode(t, hb, hbody, "100-006")
	if resp, b := env.do("GET", "/api/v1/recordings", admin, nil); resp.StatusCode != 200 {
		t.Fatalf("another user's session ended too: %d %s", resp.StatusCode, b)
	}
	resp, b = env.do("DELETE", "/api/v1/sessions", t1, nil)
	wantError(t, resp, b, 401, recvault.EUNAUTHENTICATED)

	ev, err := env.app.cat.Audit(context.Background(), 200)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ev {
		if e.Action == recvault.ActionLogout && e.Actor == agent && e.Outcome == recvault.OutcomeGranted && e.Detail == "all sessions (4)" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit record of signing %s out of its 4 sessions", agent)
	}
}
