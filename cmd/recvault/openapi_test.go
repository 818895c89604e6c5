package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	v1 "github.com/recvault/recvault/api/v1"
	"github.com/recvault/recvault/demo"
)

// apiContract drives a real server and checks every answer against the
// OpenAPI document the server serves, so that the document cannot drift
// from the API: an answer whose status, headers or JSON body the document
// does not describe fails, and so does an operation of the document that no
// request reached.
type apiContract struct {
	t      *testing.T
	env    *testEnv
	doc    *openapi3.T
	router routers.Router
	// answered counts, per operation ("GET /api/v1/recordings"), the
	// statuses it was seen to answer with.
	answered map[string]map[int]bool
}

// call is one request of the contract test.
type call struct {
	name    string
	method  string
	path    string // with the query
	token   string // bearer token; "" for none
	cookie  string // console session cookie; "" for none
	ctype   string // request Content-Type
	body    []byte
	header  []string // extra request headers, name and value pairs
	want    []int    // acceptable statuses (usually one)
	badCall bool     // the request itself breaks the document (a 400 is expected): skip request validation
}

// loadOpenAPI loads the embedded document and validates it as OpenAPI 3.1.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(v1.OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json is OpenAPI %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3.1 document: %v", err)
	}
	return doc
}

func newAPIContract(t *testing.T, env *testEnv) *apiContract {
	doc := loadOpenAPI(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return &apiContract{t: t, env: env, doc: doc, router: router, answered: map[string]map[int]bool{}}
}

// do sends c to the server, checks its status against c.want, validates the
// request (unless c.badCall) and the answer against the document, and
// returns the answer with its body read.
func (a *apiContract) do(c call) (*http.Response, []byte) {
	a.t.Helper()
	build := func() *http.Request {
		req, err := http.NewRequest(c.method, a.env.URL+c.path, bytes.NewReader(c.body))
		if err != nil {
			a.t.Fatalf("%s: %v", c.name, err)
		}
		if c.body == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		if c.cookie != "" {
			req.AddCookie(&http.Cookie{Name: "recvault_session", Value: c.cookie})
		}
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		for i := 0; i+1 < len(c.header); i += 2 {
			req.Header.Set(c.header[i], c.header[i+1])
		}
		return req
	}
	resp, err := http.DefaultClient.Do(build())
	if err != nil {
		a.t.Fatalf("%s: %v", c.name, err)
	}
	body, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		a.t.Fatalf("%s: read answer: %v", c.name, err)
	}
	if !slices.Contains(c.want, resp.StatusCode) {
		a.t.Fatalf("%s: %s %s answered %d, want %v: %s", c.name, c.method, c.path, resp.StatusCode, c.want, body)
	}

	// The router matches on the path alone (the document has no servers),
	// so the request to validate is the one sent, rebuilt with its body.
	req := build()
	route, params, err := a.router.FindRoute(req)
	if err != nil {
		a.t.Fatalf("%s: %s %s is not in openapi.json: %v", c.name, c.method, c.path, err)
	}
	op := c.method + " " + route.Path
	if a.answered[op] == nil {
		a.answered[op] = map[int]bool{}
	}
	a.answered[op][resp.StatusCode] = true

	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if !c.badCall {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			a.t.Fatalf("%s: the request breaks openapi.json: %v", c.name, err)
		}
	}

	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	binary := len(body) > 0 && mt != "application/json"
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true, // an undocumented status fails
			// Media bodies are checked by their headers and status only:
			// decoding megabytes of audio as a schema value says nothing.
			ExcludeResponseBody: binary,
			MultiError:          true,
		},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		a.t.Fatalf("%s: the answer %d breaks openapi.json: %v\nheaders %v\nbody %.500s", c.name, resp.StatusCode, err, resp.Header, body)
	}
	// What ValidateResponse lets through: a body where the document
	// describes none, and (for binary bodies, which it was told to skip) a
	// Content-Type the document does not list.
	described := route.Operation.Responses.Status(resp.StatusCode)
	if described == nil || described.Value == nil {
		a.t.Fatalf("%s: status %d of %s is not described", c.name, resp.StatusCode, op)
	}
	content := described.Value.Content
	switch {
	case len(body) > 0 && len(content) == 0:
		a.t.Fatalf("%s: %s answered %d with a %q body the document does not describe: %.200s", c.name, op, resp.StatusCode, ct, body)
	case len(body) > 0 && content.Get(ct) == nil:
		a.t.Fatalf("%s: %s answered %d with Content-Type %q; openapi.json lists %v", c.name, op, resp.StatusCode, ct, slices.Sorted(maps.Keys(content)))
	}
	return resp, body
}

// everyOperationAnswered fails for an operation of the document that no
// request reached with a success, so that the document describes nothing
// the test does not try.
func (a *apiContract) everyOperationAnswered() {
	a.t.Helper()
	var missing []string
	for path, item := range a.doc.Paths.Map() {
		for method := range item.Operations() {
			op := method + " " + path
			ok := false
			for status := range a.answered[op] {
				ok = ok || status/100 == 2
			}
			if !ok {
				missing = append(missing, op)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		a.t.Fatalf("operations of openapi.json that the test never saw succeed: %v", missing)
	}
}

// TestOpenAPIDocumentServed checks that the document is served without a
// credential, as JSON, byte for byte the embedded one.
func TestOpenAPIDocumentServed(t *testing.T) {
	env := startEnv(t)
	resp, b := env.do("GET", "/api/v1/openapi.json", "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(b, v1.OpenAPI()) {
		t.Fatal("served document differs from the embedded one")
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("served document: openapi %q, %v", doc.OpenAPI, err)
	}
}

// TestOpenAPIDescribesRealAnswers drives every route of the native API on a
// real server with demo data, successes and errors alike, and validates
// each request and answer with kin-openapi against the served document.
func TestOpenAPIDescribesRealAnswers(t *testing.T) {
	env := startEnv(t)
	a := newAPIContract(t, env)
	jsonBody := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	login := func(name, password string, want int) string {
		_, b := a.do(call{name: "login " + name, method: "POST", path: "/api/v1/sessions", ctype: "application/json",
			body: jsonBody(map[string]string{"login": name, "password": password}), want: []int{want}})
		var s struct{ Token string }
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("login answer %s: %v", b, err)
		}
		return s.Token
	}

	a.do(call{name: "document", method: "GET", path: "/api/v1/openapi.json", want: []int{200}})

	// Sessions.
	admin := login("admin", demoPassword(t, "admin"), 201)
	sup := login("supervisor@exotel.in", demoPassword(t, "supervisor@exotel.in"), 201)
	agent := login("agent4977@example.com", demoPassword(t, "agent4977@example.com"), 201)
	a.do(call{name: "login, bad body", method: "POST", path: "/api/v1/sessions", ctype: "application/json",
		body: []byte(`{"login":"admin"}`), want: []int{400}, badCall: true})
	for range 3 { // an unknown account: the demo users stay unthrottled
		login("openapi-nobody", "wrong", 401)
	}
	resp, _ := a.do(call{name: "login, throttled", method: "POST", path: "/api/v1/sessions", ctype: "application/json",
		body: jsonBody(map[string]string{"login": "openapi-nobody", "password": "wrong"}), want: []int{429}})
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}

	// Listing: filters, pages, errors.
	_, b := a.do(call{name: "list", method: "GET", path: "/api/v1/recordings", token: admin, want: []int{200}})
	var page struct {
		Recordings []struct{ ID, Kind, CRTObjectID string } `json:"recordings"`
		Next       string                                   `json:"next"`
	}
	if err := json.Unmarshal(b, &page); err != nil || len(page.Recordings) != len(demo.Recordings) {
		t.Fatalf("list: %d recordings, %v: %s", len(page.Recordings), err, b)
	}
	a.do(call{name: "list, filters", method: "GET", token: sup, want: []int{200},
		path: "/api/v1/recordings?campaign=110&agent=4977&call=1621413752-2011&from=2021-05-01T00:00:00Z&to=2021-06-01T00:00:00%2B05:30"})
	a.do(call{name: "list, crtObjectId", method: "GET", token: sup, want: []int{200},
		path: "/api/v1/recordings?crtObjectId=1621413752-2011-voice"})
	// A date-only from/to.
	a.do(call{name: "list, dates", method: "GET", token: admin, want: []int{200},
		path: "/api/v1/recordings?from=2025-11-13&to=2025-11-14"})
	// A misspelt filter is refused, not ignored.
	a.do(call{name: "list, unknown parameter", method: "GET", token: admin, want: []int{400},
		path: "/api/v1/recordings?campain=110"})
	_, b = a.do(call{name: "list, page 1", method: "GET", path: "/api/v1/recordings?limit=2", token: admin, want: []int{200}})
	if err := json.Unmarshal(b, &page); err != nil || page.Next == "" {
		t.Fatalf("page 1 without next: %s", b)
	}
	a.do(call{name: "list, page 2", method: "GET", path: "/api/v1/recordings?limit=2&cursor=" + url.QueryEscape(page.Next), token: admin, want: []int{200}})
	a.do(call{name: "list, console cookie", method: "GET", path: "/api/v1/recordings", cookie: sup, want: []int{200}})
	a.do(call{name: "list, bad limit", method: "GET", path: "/api/v1/recordings?limit=0", token: admin, want: []int{400}, badCall: true})
	a.do(call{name: "list, bad campaign", method: "GET", path: "/api/v1/recordings?campaign=x", token: admin, want: []int{400}, badCall: true})
	a.do(call{name: "list, bad from", method: "GET", path: "/api/v1/recordings?from=yesterday", token: admin, want: []int{400}})
	a.do(call{name: "list, no credential", method: "GET", path: "/api/v1/recordings", want: []int{401}})
	a.do(call{name: "list, bad token", method: "GET", path: "/api/v1/recordings", token: "not-a-token", want: []int{401}})

	// One recording: metadata, media, peaks.
	voice := env.recordingID(110, "1621413752-2011-voice") // stereo A-law, agent 4977
	video := env.recordingID(110, "1621413752-2011-video")
	other := env.recordingID(120, "d741-6904fad1-vce-daf-700001") // MP3, not the supervisor's
	rec := "/api/v1/recordings/" + voice.ID
	a.do(call{name: "get", method: "GET", path: rec, token: sup, want: []int{200}})
	a.do(call{name: "get, agent's own", method: "GET", path: rec, token: agent, want: []int{200}})
	a.do(call{name: "get, not the caller's", method: "GET", path: "/api/v1/recordings/" + other.ID, token: sup, want: []int{404}})
	a.do(call{name: "get, no such id", method: "GET", path: "/api/v1/recordings/no-such-id", token: admin, want: []int{404}})
	a.do(call{name: "get, no credential", method: "GET", path: rec, want: []int{401}})

	resp, b = a.do(call{name: "media, original", method: "GET", path: rec + "/media", token: sup, want: []int{200}})
	if sha(b) != voice.SHA256 {
		t.Fatal("original media differs from the stored bytes")
	}
	etag := resp.Header.Get("ETag")
	a.do(call{name: "media, wav agent track", method: "GET", path: rec + "/media?format=wav&channels=agent&rate=16000", token: sup, want: []int{200}})
	a.do(call{name: "media, mp3", method: "GET", path: rec + "/media?format=mp3&channels=mono&bitrate=32", token: sup, want: []int{200}})
	a.do(call{name: "media, mp3 stored", method: "GET", path: "/api/v1/recordings/" + other.ID + "/media", token: admin, want: []int{200}})
	a.do(call{name: "media, video", method: "GET", path: "/api/v1/recordings/" + video.ID + "/media", token: sup, want: []int{200}})
	a.do(call{name: "media, ulaw", method: "GET", path: rec + "/media?format=ulaw", token: sup, want: []int{200}})
	a.do(call{name: "media, inline play", method: "GET", path: rec + "/media?disposition=inline&play=openapi-playback-1", cookie: sup, want: []int{200}})
	resp, _ = a.do(call{name: "media, range", method: "GET", path: rec + "/media", token: sup, header: []string{"Range", "bytes=0-99"}, want: []int{206}})
	if resp.Header.Get("Content-Range") == "" || resp.ContentLength != 100 {
		t.Fatalf("206 with Content-Range %q, length %d", resp.Header.Get("Content-Range"), resp.ContentLength)
	}
	a.do(call{name: "media, two ranges", method: "GET", path: rec + "/media?format=wav", token: sup, header: []string{"Range", "bytes=0-9,100-199"}, want: []int{206}})
	a.do(call{name: "media, range past the end", method: "GET", path: rec + "/media", token: sup, header: []string{"Range", "bytes=999999999-"}, want: []int{416}})
	a.do(call{name: "media, not modified", method: "GET", path: rec + "/media", token: sup, header: []string{"If-None-Match", etag}, want: []int{304}})
	a.do(call{name: "media, bad format", method: "GET", path: rec + "/media?format=flac", token: sup, want: []int{400}, badCall: true})
	a.do(call{name: "media, original with channels", method: "GET", path: rec + "/media?channels=mono", token: sup, want: []int{400}})
	a.do(call{name: "media, bad disposition", method: "GET", path: rec + "/media?disposition=download", token: sup, want: []int{400}, badCall: true})
	a.do(call{name: "media, play without inline", method: "GET", path: rec + "/media?play=openapi-playback-1", token: sup, want: []int{400}})
	a.do(call{name: "media, bad play id", method: "GET", path: rec + "/media?disposition=inline&play=p1", token: sup, want: []int{400}, badCall: true})
	a.do(call{name: "media, bad rate", method: "GET", path: rec + "/media?format=wav&rate=-1", token: sup, want: []int{400}, badCall: true})
	a.do(call{name: "media, video converted", method: "GET", path: "/api/v1/recordings/" + video.ID + "/media?format=wav", token: sup, want: []int{400}})
	a.do(call{name: "media, not the caller's", method: "GET", path: "/api/v1/recordings/" + other.ID + "/media", token: sup, want: []int{404}})
	a.do(call{name: "media, no credential", method: "GET", path: rec + "/media", want: []int{401}})

	_, b = a.do(call{name: "peaks", method: "GET", path: rec + "/peaks?points=50", token: sup, want: []int{200}})
	var pk struct {
		Channels []struct{ Label string } `json:"channels"`
	}
	if err := json.Unmarshal(b, &pk); err != nil || len(pk.Channels) != 2 {
		t.Fatalf("peaks of a stereo call: %s", b)
	}
	a.do(call{name: "peaks, default points", method: "GET", path: "/api/v1/recordings/" + other.ID + "/peaks", token: admin, want: []int{200}})
	a.do(call{name: "peaks, bad points", method: "GET", path: rec + "/peaks?points=0", token: sup, want: []int{400}, badCall: true})
	a.do(call{name: "peaks, video", method: "GET", path: "/api/v1/recordings/" + video.ID + "/peaks", token: sup, want: []int{400}})
	a.do(call{name: "peaks, not the caller's", method: "GET", path: "/api/v1/recordings/" + other.ID + "/peaks", token: sup, want: []int{404}})

	// Ingest: created, the same again, a conflict, refusals.
	wav := demoBytes(t, "call-ulaw-mono.wav")
	q := "/api/v1/recordings?campaign=130&crtObjectId=openapi-1&callId=openapi-call-1&agent=4977&startedAt=2026-11-30T09:00:00Z"
	resp, b = a.do(call{name: "ingest", method: "POST", path: q, token: admin, ctype: "audio/wav", body: wav, want: []int{201}})
	var created struct{ ID string }
	if err := json.Unmarshal(b, &created); err != nil || resp.Header.Get("Location") != "/api/v1/recordings/"+created.ID {
		t.Fatalf("ingest: Location %q for %s", resp.Header.Get("Location"), b)
	}
	a.do(call{name: "ingest, again", method: "POST", path: q, token: admin, ctype: "audio/wav", body: wav, want: []int{200}})
	a.do(call{name: "ingest, conflict", method: "POST", path: q, token: admin, ctype: "audio/wav", body: demoBytes(t, "call-alaw-mono.wav"), want: []int{409}})
	a.do(call{name: "ingest, not admin", method: "POST", path: q, token: sup, ctype: "audio/wav", body: wav, want: []int{403}})
	a.do(call{name: "ingest, no campaign", method: "POST", path: "/api/v1/recordings?crtObjectId=x&callId=y&agent=z", token: admin, ctype: "audio/wav", body: wav, want: []int{400}})
	a.do(call{name: "ingest, no credential", method: "POST", path: q, ctype: "audio/wav", body: wav, want: []int{401}})
	a.do(call{name: "ingest, cookie refused", method: "POST", path: q, cookie: admin, ctype: "audio/wav", body: wav, want: []int{401}})
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for _, f := range [][2]string{{"campaign", "130"}, {"crtObjectId", "openapi-2"}, {"callId", "openapi-call-2"}, {"agent", "5001"}} {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", "call.wav")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(wav); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	_, b = a.do(call{name: "ingest, multipart", method: "POST", path: "/api/v1/recordings", token: admin, ctype: mw.FormDataContentType(), body: mp.Bytes(), want: []int{201}})
	var second struct{ ID string }
	if err := json.Unmarshal(b, &second); err != nil {
		t.Fatal(err)
	}

	// Delete.
	a.do(call{name: "delete, not admin", method: "DELETE", path: "/api/v1/recordings/" + voice.ID + "?reason=test", token: sup, want: []int{403}})
	a.do(call{name: "delete, not the caller's", method: "DELETE", path: "/api/v1/recordings/" + other.ID + "?reason=test", token: sup, want: []int{404}})
	a.do(call{name: "delete, bad body", method: "DELETE", path: "/api/v1/recordings/" + created.ID, token: admin, ctype: "application/json", body: []byte("{"), want: []int{400}, badCall: true})
	a.do(call{name: "delete", method: "DELETE", path: "/api/v1/recordings/" + created.ID + "?reason=openapi+test", token: admin, want: []int{204}})
	a.do(call{name: "delete, JSON reason", method: "DELETE", path: "/api/v1/recordings/" + second.ID, token: admin, ctype: "application/json",
		body: jsonBody(map[string]string{"reason": "openapi test"}), want: []int{204}})
	a.do(call{name: "delete, gone", method: "DELETE", path: "/api/v1/recordings/" + created.ID + "?reason=again", token: admin, want: []int{404}})
	a.do(call{name: "get, deleted", method: "GET", path: "/api/v1/recordings/" + created.ID, token: admin, want: []int{404}})

	// The audit trail.
	_, b = a.do(call{name: "audit", method: "GET", path: "/api/v1/audit?limit=5", token: admin, want: []int{200}})
	var audit struct{ Next string }
	if err := json.Unmarshal(b, &audit); err != nil || audit.Next == "" {
		t.Fatalf("audit page without next: %s", b)
	}
	a.do(call{name: "audit, page 2", method: "GET", path: "/api/v1/audit?limit=1000&cursor=" + url.QueryEscape(audit.Next), token: admin, want: []int{200}})
	a.do(call{name: "audit, filters", method: "GET", token: admin, want: []int{200},
		path: "/api/v1/audit?recording=" + voice.ID + "&actor=supervisor%40exotel.in&since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z"})
	a.do(call{name: "audit, console cookie", method: "GET", path: "/api/v1/audit", cookie: admin, want: []int{200}})
	a.do(call{name: "audit, not admin", method: "GET", path: "/api/v1/audit", token: sup, want: []int{403}})
	a.do(call{name: "audit, bad since", method: "GET", path: "/api/v1/audit?since=monday", token: admin, want: []int{400}, badCall: true})
	a.do(call{name: "audit, no credential", method: "GET", path: "/api/v1/audit", want: []int{401}})

	// Signing out.
	a.do(call{name: "logout, cookie refused", method: "DELETE", path: "/api/v1/sessions/current", cookie: sup, want: []int{401}})
	a.do(call{name: "logout", method: "DELETE", path: "/api/v1/sessions/current", token: sup, want: []int{204}})
	a.do(call{name: "after logout", method: "GET", path: "/api/v1/recordings", token: sup, want: []int{401}})
	a.do(call{name: "logout everywhere", method: "DELETE", path: "/api/v1/sessions", token: agent, want: []int{204}})
	a.do(call{name: "logout everywhere again", method: "DELETE", path: "/api/v1/sessions", token: agent, want: []int{401}})
	a.do(call{name: "logout, no credential", method: "DELETE", path: "/api/v1/sessions/current", want: []int{401}})

	a.everyOperationAnswered()
}

// TestOpenAPIRejectsUndescribedAnswers checks that the contract test would
// catch drift: an answer with a field, a status or a Content-Type the
// document does not have must fail validation.
func TestOpenAPIRejectsUndescribedAnswers(t *testing.T) {
	doc := loadOpenAPI(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", "http://recvault.test/api/v1/recordings/abc", nil)
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	hdr := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "X-Request-Id": {"0123456789abcdef"},
		"Www-Authenticate": {`Bearer realm="recvault"`}}
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
	}{
		{"undescribed status", 418, hdr, `{"error":{"code":"invalid","message":"x"}}`},
		{"error body with an extra field", 404, hdr, `{"error":{"code":"not_found","message":"x","hint":"y"}}`},
		{"error code outside the list", 404, hdr, `{"error":{"code":"gone","message":"x"}}`},
		{"text error", 401, http.Header{"Content-Type": {"text/plain"}, "Cache-Control": {"no-store"}, "X-Request-Id": {"0123456789abcdef"},
			"Www-Authenticate": {`Bearer realm="recvault"`}}, "unauthorized"},
		{"missing request id", 404, http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}, `{"error":{"code":"not_found","message":"x"}}`},
		{"recording without mediaUrl", 200, hdr, `{"id":"abc","campaignId":1,"crtObjectId":"c","callId":"c","agentId":"a","kind":"voice",
			"format":{"container":"wav","codec":"alaw","sampleRate":8000,"channels":1,"agentChannel":-1,"customerChannel":-1},
			"startedAt":"2026-01-01T00:00:00Z","size":1,"sha256":"` + strings.Repeat("0", 64) + `","createdAt":"2026-01-01T00:00:00Z","durationSeconds":1}`},
	} {
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: tc.status, Header: tc.header,
			Body: io.NopCloser(strings.NewReader(tc.body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err == nil {
			t.Errorf("%s: validated", tc.name)
		}
	}
}

// demoBytes returns the bytes of a demo recording file.
func demoBytes(t *testing.T, name string) []byte {
	t.Helper()
	r, err := demo.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
