package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/internal/testtool"
)

// browserZone is the time zone the test's browser runs in: far enough
// from UTC that a date-only search answered in UTC would find other calls.
const browserZone = "Asia/Kolkata"

// mediaRequest is one request of the page for a recording's media, as the
// browser sent it.
type mediaRequest struct {
	URL, Range string
}

// consoleBrowser is a headless Chromium driven over the DevTools protocol,
// with every media request it makes recorded.
type consoleBrowser struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	media    []mediaRequest
	statuses map[string]int64 // document URL → status of its last response
	shots    string
}

// startBrowser starts Debian's chromium (headless, as root without the
// sandbox), in browserZone, at 1280x800.
func startBrowser(t *testing.T) *consoleBrowser {
	t.Helper()
	exe := testtool.Need(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800), chromedp.Env("TZ="+browserZone),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &consoleBrowser{t: t, ctx: ctx, statuses: map[string]int64{}}
	// The first run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if strings.Contains(e.Request.URL, "/media") {
				rng, _ := e.Request.Headers["Range"].(string)
				b.mu.Lock()
				b.media = append(b.media, mediaRequest{URL: e.Request.URL, Range: rng})
				b.mu.Unlock()
			}
		case *network.EventResponseReceived:
			if e.Type == network.ResourceTypeDocument {
				b.mu.Lock()
				b.statuses[e.Response.URL] = e.Response.Status
				b.mu.Unlock()
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	b.shots = os.Getenv("RECVAULT_ARTIFACTS")
	if b.shots == "" {
		b.shots = filepath.Join(os.TempDir(), "recvault-console-artifacts")
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots go to %s", b.shots)
	return b
}

// do runs steps with a bound, failing the test with what was being done.
func (b *consoleBrowser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failed-" + regexp.MustCompile(`\W+`).ReplaceAllString(what, "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *consoleBrowser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds, through page
// loads (an evaluation cut by a navigation is tried again).
func (b *consoleBrowser) waitFor(what, cond string) {
	b.t.Helper()
	b.waitWithin(what, cond, 20*time.Second)
}

// waitWithin is waitFor with its own bound, for steps that do real work
// on a loaded machine (the first waveform of an hour-long call).
func (b *consoleBrowser) waitWithin(what, cond string, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	b.shot("failed-" + regexp.MustCompile(`\W+`).ReplaceAllString(what, "-"))
	b.t.Fatalf("%s: %s did not hold within %v (last error: %v)", what, cond, within, last)
}

func (b *consoleBrowser) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

func (b *consoleBrowser) mediaRequests() []mediaRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]mediaRequest(nil), b.media...)
}

func (b *consoleBrowser) status(u string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.statuses[u]
}

func (b *consoleBrowser) signIn(env *testEnv, login, password string) {
	b.t.Helper()
	b.do("sign in as "+login,
		chromedp.Navigate(env.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SetValue(chromedp.CSS("#login"), login),
		chromedp.SetValue(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`.signin button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("form.search")))
}

// search fills the search form's fields and submits it, and waits for the
// results page of exactly that search.
func (b *consoleBrowser) search(fields map[string]string) {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	want := url.Values{}
	for name, v := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(`form.search [name="`+name+`"]`), v))
		if v != "" {
			want.Set(name, v)
		}
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(`form.search button[type="submit"]`)))
	b.do(fmt.Sprintf("search %v", fields), steps...)
	cond := "document.readyState === 'complete' && (() => { const q = new URLSearchParams(location.search);"
	for k, v := range want {
		cond += " if (q.get(" + strconv.Quote(k) + ") !== " + strconv.Quote(v[0]) + ") return false;"
	}
	b.waitFor("results of the search", cond+" return !!document.querySelector('form.search'); })()")
}

// sameZone reports whether two zone names are one zone (Chromium may name
// Asia/Kolkata by its older alias Asia/Calcutta).
func sameZone(a, b string) bool {
	la, err1 := time.LoadLocation(a)
	lb, err2 := time.LoadLocation(b)
	if err1 != nil || err2 != nil {
		return false
	}
	for _, t := range []time.Time{time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)} {
		_, o1 := t.In(la).Zone()
		_, o2 := t.In(lb).Zone()
		if o1 != o2 {
			return false
		}
	}
	return true
}

// resultCRTs is the crtObjectIds the results table shows.
func (b *consoleBrowser) resultCRTs() []string {
	b.t.Helper()
	return eval[[]string](b, `[...document.querySelectorAll('table.results td[data-label="Recording"] a')].map(a => a.textContent)`)
}

// TestConsoleInBrowser drives the supervisor console in a real headless
// Chromium against a real server with the demo data: sign-in, searches by
// campaign and by a date range in the browser's zone, the player of a
// dual-track call (duration, playback, two waveform lanes, a seek by click
// served by a Range request, one track only), a download byte-identical to
// the API's, a supervisor of another campaign, a cross-site form, and the
// phone width. Screenshots are kept as artefacts.
func TestConsoleInBrowser(t *testing.T) {
	b := startBrowser(t)
	env := startEnv(t)
	ctx := context.Background()
	// A call at 20:00 UTC on 13 November is on the 14th in the browser's
	// zone (01:30 IST): only a search by the browser's days finds it there.
	late := ingestReq(110, "late-evening-call")
	late.StartedAt = time.Date(2025, 11, 13, 20, 0, 0, 0, time.UTC)
	if _, _, err := env.app.svc.Ingest(ctx, nil, late, bytes.NewReader(wavPCM16(8000, 3))); err != nil {
		t.Fatal(err)
	}
	other := &recvault.User{Login: "supervisor120@example.com", Role: recvault.RoleSupervisor, Campaigns: []int64{120}}
	if err := env.app.svc.AddUser(ctx, other, "supervisor-120-pass"); err != nil {
		t.Fatal(err)
	}
	const supervisor = "supervisor@exotel.in"
	dual := env.recordingID(110, "1621413752-2011-voice")

	// run runs one step as a subtest whose failures the browser helpers
	// report; a failed step ends the test (the next ones build on it).
	run := func(name string, f func(t *testing.T)) {
		ok := t.Run(name, func(t *testing.T) {
			prev := b.t
			b.t = t
			defer func() { b.t = prev }()
			f(t)
		})
		if !ok {
			t.FailNow()
		}
	}

	b.signIn(env, supervisor, demoPassword(t, supervisor))
	if got := eval[string](b, `document.querySelector('.who').textContent`); !strings.Contains(got, supervisor) {
		t.Fatalf("signed-in header shows %q", got)
	}
	cookies := eval[string](b, `document.cookie`)
	if strings.Contains(cookies, "recvault_session") {
		t.Fatalf("the session cookie is readable by scripts (not HttpOnly): %q", cookies)
	}

	run("search by campaign", func(t *testing.T) {
		b.search(map[string]string{"campaign": "110"})
		crts := b.resultCRTs()
		want := []string{"late-evening-call", "d741-6904fad1-vce-daf-638730", "d741-6904fad1-vce-daf-638729", "1621413752-2011-voice", "1621413752-2011-video"}
		sorted := append([]string(nil), crts...)
		slices.Sort(sorted)
		slices.Sort(want)
		if !slices.Equal(sorted, want) {
			t.Fatalf("campaign 110 shows %v, want %v", crts, want)
		}
		starts := eval[[]string](b, `[...document.querySelectorAll('table.results time')].map(t => t.dateTime)`)
		if !slices.IsSortedFunc(starts, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Fatalf("results not newest first: %v", starts)
		}
		loc := eval[string](b, `location.search`)
		q, _ := url.ParseQuery(strings.TrimPrefix(loc, "?"))
		if len(q) != 2 || q.Get("campaign") != "110" || !sameZone(q.Get("tz"), browserZone) {
			t.Fatalf("the URL holds %q; want only the campaign and the browser's zone", loc)
		}
		b.shot("search-campaign")
	})

	run("search by date range", func(t *testing.T) {
		b.do("clear", chromedp.Navigate(env.URL+"/recordings"), chromedp.WaitVisible(chromedp.CSS("form.search")))
		b.search(map[string]string{"from": "2025-11-14", "to": "2025-11-14"})
		if crts := b.resultCRTs(); len(crts) != 1 || crts[0] != "late-evening-call" {
			t.Fatalf("14 Nov in %s shows %v, want only the call at 01:30 that day", browserZone, crts)
		}
		b.search(map[string]string{"from": "2025-11-13", "to": "2025-11-13"})
		// Campaign 120's call of the 14th is not this supervisor's.
		if crts := b.resultCRTs(); strings.Join(crts, " ") != "d741-6904fad1-vce-daf-638730 d741-6904fad1-vce-daf-638729" {
			t.Fatalf("13 Nov shows %v", crts)
		}
	})

	// Slow the network to a little above the playing rate (PCM16 stereo
	// at 8 kHz is 32 kB/s), so the browser cannot have fetched the
	// recording ahead of a seek: a seek must be a new Range request.
	b.do("throttle", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{URLPattern: env.URL + "/api/v1/recordings/*", DownloadThroughput: 64 << 10, UploadThroughput: -1}},
		})
		return err
	}))

	run("player", func(t *testing.T) {
		b.do("open the dual-track recording",
			chromedp.Navigate(env.URL+"/recordings?campaign=110"),
			chromedp.WaitVisible(chromedp.CSS("table.results")),
			chromedp.Click(chromedp.CSS(`a[href="/recordings/`+dual.ID+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("#waveform")))
		b.waitFor("metadata", `document.getElementById('player').readyState >= 1`)
		if d := eval[float64](b, `document.getElementById('player').duration`); math.Abs(d-dual.Duration.Seconds()) > 0.1 {
			t.Fatalf("audio duration %.3f s, recording %.3f s", d, dual.Duration.Seconds())
		}
		b.waitFor("peaks", `document.getElementById('console-player').dataset.peaksLoaded === '2'`)
		if labels := eval[string](b, `document.querySelector('.lanes').textContent`); labels != "agentcustomer" {
			t.Fatalf("lane labels %q", labels)
		}
		b.do("play", chromedp.Click(chromedp.CSS("#playpause")))
		b.waitFor("playback", `document.getElementById('player').currentTime > 0.5`)
		t1 := eval[float64](b, `document.getElementById('player').currentTime`)
		time.Sleep(700 * time.Millisecond)
		if t2 := eval[float64](b, `document.getElementById('player').currentTime`); t2 <= t1 {
			t.Fatalf("currentTime went from %.2f to %.2f while playing", t1, t2)
		}
		// Two lanes, each with drawn samples: count the waveform's
		// blue pixels in each half of the canvas.
		lanes := eval[[]int](b, `(() => {
			const c = document.getElementById('waveform'), g = c.getContext('2d');
			const d = g.getImageData(0, 0, c.width, c.height).data, n = [0, 0];
			for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
				const i = (y * c.width + x) * 4;
				if (d[i + 3] > 0 && d[i + 2] > 100 && d[i + 2] > d[i] + 40) n[y < c.height / 2 ? 0 : 1]++;
			}
			return n; })()`)
		w, h := eval[int](b, `document.getElementById('waveform').width`), eval[int](b, `document.getElementById('waveform').height`)
		for i, n := range lanes {
			if n < w*h/200 {
				t.Fatalf("lane %d has %d waveform pixels of %dx%d: empty", i, n, w, h)
			}
		}
		b.shot("recording")

		// Keys: space pauses, an arrow moves 5 s, the speed control
		// changes the rate.
		b.do("focus the waveform, pause", chromedp.Focus(chromedp.CSS("#waveform")), chromedp.KeyEvent(" "))
		b.waitFor("paused by space", `document.getElementById('player').paused`)
		at := eval[float64](b, `document.getElementById('player').currentTime`)
		b.do("arrow right", chromedp.KeyEvent(kb.ArrowRight))
		b.waitFor("moved 5 s", `Math.abs(document.getElementById('player').currentTime - `+strconv.FormatFloat(at+5, 'f', 3, 64)+`) < 0.3`)
		b.do("2x", chromedp.SetValue(chromedp.CSS("#speed"), "2"),
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := chromedp.Evaluate[bool](`document.getElementById('speed').dispatchEvent(new Event('change'))`)(ctx, t)
				return err
			}))
		if r := eval[float64](b, `document.getElementById('player').playbackRate`); r != 2 {
			t.Fatalf("playback rate %v after choosing 2x", r)
		}
		b.do("play again", chromedp.Click(chromedp.CSS("#playpause")))

		before := len(b.mediaRequests())
		rect := eval[[]float64](b, `(() => { const r = document.getElementById('waveform').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
		b.do("click at 75 %", chromedp.MouseClickXY(rect[0]+0.75*rect[2], rect[1]+rect[3]/2))
		b.waitFor("seek", `Math.abs(document.getElementById('player').currentTime - 0.75 * document.getElementById('player').duration) < 1.5`)
		size := 44 + 2*dual.Format.DataSize // the PCM16 WAV of A-law: two bytes a sample
		var seekRange string
		deadline := time.Now().Add(10 * time.Second)
		for seekRange == "" && time.Now().Before(deadline) {
			for _, m := range b.mediaRequests()[before:] {
				if start, ok := rangeStart(m.Range); ok && float64(start) > 0.6*float64(size) {
					seekRange = m.Range
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if seekRange == "" {
			t.Fatalf("no Range request from about 75 %% of %d bytes after the click; media requests: %+v", size, b.mediaRequests()[before:])
		}
		t.Logf("seek to 75 %% was served by Range %s", seekRange)

		before = len(b.mediaRequests())
		b.do("agent only", chromedp.Click(chromedp.CSS(`input[name="track"][value="agent"]`)))
		b.waitFor("agent-only media", `document.getElementById('player').currentSrc.includes('channels=agent')`)
		deadline = time.Now().Add(10 * time.Second)
		agentAsked := false
		for !agentAsked && time.Now().Before(deadline) {
			for _, m := range b.mediaRequests()[before:] {
				agentAsked = agentAsked || strings.Contains(m.URL, "channels=agent")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !agentAsked {
			t.Fatalf("switching to agent only requested %+v", b.mediaRequests()[before:])
		}
		b.waitFor("agent-only playing", `document.getElementById('player').readyState >= 2`)
	})

	// A 60-minute call starts at once and seeks anywhere without what lies
	// before: at 64 kB/s, 75 % of its 57.6 MB output would take four hours.
	run("hour-long call", func(t *testing.T) {
		req := ingestReq(110, "hour-long-call")
		hour, _, err := env.app.svc.Ingest(ctx, nil, req, bytes.NewReader(alawWAV(3600)))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		b.do("open the hour-long call", chromedp.Navigate(env.URL+"/recordings/"+hour.ID), chromedp.WaitVisible(chromedp.CSS("#waveform")))
		b.waitFor("metadata", `document.getElementById('player').readyState >= 1`)
		if d := eval[float64](b, `document.getElementById('player').duration`); math.Abs(d-3600) > 0.1 {
			t.Fatalf("audio duration %.3f s, want 3600", d)
		}
		b.waitWithin("peaks of an hour", `document.getElementById('console-player').dataset.peaksLoaded === '1'`, 90*time.Second)
		before := len(b.mediaRequests())
		rect := eval[[]float64](b, `(() => { const r = document.getElementById('waveform').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
		b.do("click at 75 %", chromedp.MouseClickXY(rect[0]+0.75*rect[2], rect[1]+rect[3]/2), chromedp.Click(chromedp.CSS("#playpause")))
		b.waitWithin("playing from 45:00", `(() => { const a = document.getElementById('player'); return !a.paused && a.currentTime > 2690 && a.currentTime < 2760 && a.readyState >= 3; })()`, 60*time.Second)
		took := time.Since(start)
		size := 44 + 2*hour.Format.DataSize
		far := false
		for _, m := range b.mediaRequests()[before:] {
			if s, ok := rangeStart(m.Range); ok && float64(s) > 0.7*float64(size) {
				far = true
			}
		}
		if !far {
			t.Fatalf("no Range request from about 75 %% of the hour: %+v", b.mediaRequests()[before:])
		}
		t.Logf("hour-long call: opened, waveform drawn, and playing from 45:00 %.1f s after the page was asked for", took.Seconds())
	})

	// Plays: the Range requests of one playback are one record; the
	// agent-only output is a second play.
	run("plays audited once", func(t *testing.T) {
		plays := auditOf(t, env, dual.ID, supervisor, recvault.ActionPlay)
		if len(plays) != 2 {
			t.Fatalf("%d play records for one playback and one switch of track (%d media requests): %+v", len(plays), len(b.mediaRequests()), plays)
		}
	})

	b.do("unthrottle", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: []*network.Conditions{}})
		return err
	}))

	run("download", func(t *testing.T) {
		dir := t.TempDir()
		b.do("allow downloads", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: ptrTo(true)})
			return err
		}))
		b.do("back to the dual-track call", chromedp.Navigate(env.URL+"/recordings/"+dual.ID), chromedp.WaitVisible(chromedp.CSS(".downloads")))
		for _, format := range []string{"original", "mp3"} {
			b.do("download "+format, chromedp.Click(chromedp.CSS(`.downloads a[data-format="`+format+`"]`)))
			ext := map[string]string{"original": ".wav", "mp3": ".mp3"}[format]
			name := filepath.Join(dir, dual.CRTObjectID+ext)
			var got []byte
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				if b, err := os.ReadFile(name); err == nil && len(b) > 0 {
					if _, err := os.Stat(name + ".crdownload"); os.IsNotExist(err) {
						got = b
						break
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			tok := env.loginDemo(supervisor)
			resp, want := env.do("GET", "/api/v1/recordings/"+dual.ID+"/media?format="+format, tok, nil)
			if resp.StatusCode != 200 || len(want) == 0 {
				t.Fatalf("API download %s: %d", format, resp.StatusCode)
			}
			if !bytes.Equal(got, want) {
				entries, _ := os.ReadDir(dir)
				t.Fatalf("browser saved %d bytes as %s, the API answers %d (files: %v)", len(got), name, len(want), entries)
			}
		}
		if n := len(auditOf(t, env, dual.ID, supervisor, recvault.ActionDownload)); n < 2 {
			t.Fatalf("%d download records for two downloads", n)
		}
	})

	run("screen recording", func(t *testing.T) {
		video := env.recordingID(110, "1621413752-2011-video")
		b.do("open the screen recording", chromedp.Navigate(env.URL+"/recordings/"+video.ID), chromedp.WaitVisible(chromedp.CSS("video#player")))
		b.waitFor("video metadata", `document.getElementById('player').readyState >= 1`)
		if d := eval[float64](b, `document.getElementById('player').duration`); math.Abs(d-video.Duration.Seconds()) > 0.2 {
			t.Fatalf("video duration %.3f s, recording %.3f s", d, video.Duration.Seconds())
		}
	})

	run("cross-site form refused", func(t *testing.T) {
		// Another site (localhost, not 127.0.0.1) whose page posts to the
		// console as soon as it loads.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<form id="f" method="post" action="%s/%s"><input name="login" value="%s"><input name="password" value="%s"><input name="csrf" value="guess"></form><script>document.getElementById('f').submit()</script>`,
				env.URL, strings.TrimPrefix(r.URL.Path, "/"), supervisor, demoPassword(t, supervisor))
		})}
		go evil.Serve(ln)
		t.Cleanup(func() { evil.Close() })
		evilURL := "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		for _, target := range []string{"signin", "signout"} {
			b.do("forged "+target,
				chromedp.Navigate(evilURL+"/"+target))
			b.waitFor("the forged form's answer", `location.href.startsWith(`+strconv.Quote(env.URL)+`) && document.readyState === 'complete'`)
			if st := b.status(env.URL + "/" + target); st != http.StatusForbidden {
				t.Fatalf("a cross-site POST /%s answered %d, want 403", target, st)
			}
		}
		// Still signed in: the forged sign-out did nothing.
		b.do("still signed in", chromedp.Navigate(env.URL+"/recordings"), chromedp.WaitVisible(chromedp.CSS("form.search")))
	})

	run("phone width", func(t *testing.T) {
		b.do("390 px", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
				Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true})
			return err
		}))
		for _, path := range []string{"/recordings?campaign=110", "/recordings/" + dual.ID, "/users"} {
			b.do("open "+path, chromedp.Navigate(env.URL+path), chromedp.WaitVisible(chromedp.CSS("main")))
			sw, cw := eval[int](b, `document.documentElement.scrollWidth`), eval[int](b, `document.documentElement.clientWidth`)
			if sw > cw {
				t.Errorf("%s at 390 px scrolls sideways: content %d px wide", path, sw)
			}
		}
		b.do("recording page at 390 px", chromedp.Navigate(env.URL+"/recordings/"+dual.ID), chromedp.WaitVisible(chromedp.CSS("#waveform")))
		b.waitFor("phone peaks", `document.getElementById('console-player').dataset.peaksLoaded === '2'`)
		b.shot("recording-phone")
		b.do("desktop again", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
			return err
		}))
	})

	run("another campaign's supervisor", func(t *testing.T) {
		b.do("sign out", chromedp.Navigate(env.URL+"/recordings"), chromedp.Click(chromedp.CSS(`.signout button`)),
			chromedp.WaitVisible(chromedp.CSS("#login")))
		b.signIn(env, other.Login, "supervisor-120-pass")
		b.do("search all", chromedp.Navigate(env.URL+"/recordings"), chromedp.WaitVisible(chromedp.CSS("form.search")))
		if crts := b.resultCRTs(); len(crts) != 1 || crts[0] != "d741-6904fad1-vce-daf-700001" {
			t.Fatalf("campaign 120's supervisor sees %v", crts)
		}
		page := env.URL + "/recordings/" + dual.ID
		b.do("open campaign 110's call", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if st, h1 := b.status(page), eval[string](b, `document.querySelector('main h1').textContent`); st != http.StatusNotFound || h1 != "Not found" {
			t.Fatalf("another campaign's recording page: %d %q, want 404 Not found", st, h1)
		}
		missing := env.URL + "/recordings/00000000000000000000"
		b.do("open a missing recording", chromedp.Navigate(missing), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if b.status(missing) != http.StatusNotFound || eval[string](b, `document.body.innerHTML`) == "" {
			t.Fatalf("missing recording: %d", b.status(missing))
		}
	})
}

// auditOf lists the audit records of one action by one actor on a recording.
func auditOf(t *testing.T, env *testEnv, recID, actor string, action recvault.AuditAction) []recvault.AuditEvent {
	t.Helper()
	events, _, err := env.app.cat.FindAudit(context.Background(), recvault.AuditFilter{RecordingID: recID, Actor: actor, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []recvault.AuditEvent
	for _, e := range events {
		if e.Action == action && e.RecordingID == recID {
			out = append(out, e)
		}
	}
	return out
}

// rangeStart is the first byte of a "bytes=N-…" header.
func rangeStart(h string) (int64, bool) {
	s, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return 0, false
	}
	s, _, _ = strings.Cut(s, "-")
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func ptrTo[T any](v T) *T { return &v }
