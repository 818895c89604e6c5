package ameyo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/recvault/recvault/client"
)

func TestDecodeError(t *testing.T) {
	cases := []struct {
		status int
		body   string
		kind   error
		code   string
	}{
		{200, `{"sessionId":"x","status":200}`, nil, ""},
		{200, `{"message":"invalid.user.credentials","status":512,"info":"bad"}`, client.ErrUnauthenticated, "512"},
		{512, `{"message":"invalid.user.credentials","code":51201,"info":"bad","status":512}`, client.ErrUnauthenticated, "51201"},
		{401, `{"message":"invalid.authentication.token","code":909090,"info":"","status":401}`, client.ErrUnauthenticated, "909090"},
		{403, `{"message":"access.denied","code":40301,"status":403}`, client.ErrForbidden, "40301"},
		{404, `{"message":"requested.resource.not.found","code":40401,"status":404}`, client.ErrNotFound, "40401"},
		{400, `{"message":"InvalidInput","code":40001,"info":"campaignId is required","status":400}`, client.ErrInvalid, "40001"},
		{500, `<html>oops</html>`, client.ErrServer, ""},
		{200, `{"message":"internal","status":"500"}`, client.ErrServer, "500"},
	}
	for _, c := range cases {
		e := DecodeError(c.status, []byte(c.body))
		if c.kind == nil {
			if e != nil {
				t.Errorf("%d %s: %v", c.status, c.body, e)
			}
			continue
		}
		if e == nil || !errors.Is(e, c.kind) || e.Code != c.code {
			t.Errorf("%d %s: %#v, want %v code %q", c.status, c.body, e, c.kind, c.code)
		}
		// Only a real HTTP 5xx is worth retrying.
		if e != nil && e.Temporary() != (c.status >= 500 && c.status != 512) {
			t.Errorf("%d %s: Temporary %v", c.status, c.body, e.Temporary())
		}
	}
}

// TestWireFormat checks the requests against a fake Ameyo server: the
// userLogin body, the Sessionid header, the keep-alive body, and the
// download query with URL-encoded JSON filters.
func TestWireFormat(t *testing.T) {
	var seen []*http.Request
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r)
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		bodies = append(bodies, m)
		switch r.URL.Path {
		case "/ameyorestapi/session/userLogin":
			io.WriteString(w, `{"userId":"supervisor@exotel.in","sessionId":"d741-6904fad1-ses-x","userType":"Supervisor"}`)
		case "/ameyorestapi/cc/downloadVoiceLog":
			w.Header().Set("Content-Type", "audio/mpeg")
			io.WriteString(w, "ID3\x03\x00 mp3 bytes")
		default:
			io.WriteString(w, `{"status":200}`)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, nil)
	ctx := context.Background()
	if _, err := c.Login(ctx, "supervisor@exotel.in", "pw", true); err != nil {
		t.Fatal(err)
	}
	if err := c.KeepAlive(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := c.Download(ctx, Request{CampaignID: 110, CRTObjectID: "d741-6904fad1-vce-daf-638729", CallID: "d741-6904fad1-vcall-10989826"}, io.Discard)
	if err != nil || res.Ext != ".mp3" {
		t.Fatalf("%+v %v", res, err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if b := bodies[0]; b["userId"] != "supervisor@exotel.in" || b["token"] != "pw" || b["forceLogin"] != true || b["terminalInfo"] == nil {
		t.Errorf("login body %v", b)
	}
	ka := bodies[1]
	if ka["sessionId"] != "d741-6904fad1-ses-x" || ka["pushesFollowPing"] != true || ka["lastProcessedPushId"] != float64(-1) ||
		!strings.HasPrefix(ka["listenerName"].(string), "webcore_") || seen[1].Header.Get("Sessionid") != "d741-6904fad1-ses-x" {
		t.Errorf("keep-alive %v", ka)
	}
	q := seen[2].URL.Query()
	if seen[2].Header.Get("Sessionid") != "d741-6904fad1-ses-x" || q.Get("campaignId") != "110" || q.Get("targetFormat") != "mp3" ||
		q.Get("filters") != `{"callId":"d741-6904fad1-vcall-10989826"}` || !strings.Contains(seen[2].URL.RawQuery, "filters="+url.QueryEscape(`{"callId":`)) {
		t.Errorf("download query %s", seen[2].URL.RawQuery)
	}
	if seen[3].URL.Path != "/ameyorestapi/session/userLogout" || bodies[3]["sessionId"] != "d741-6904fad1-ses-x" {
		t.Errorf("logout %s %v", seen[3].URL.Path, bodies[3])
	}
}

func FuzzDecodeError(f *testing.F) {
	f.Add(512, []byte(`{"message":"m","code":51201,"info":"i","status":512}`))
	f.Add(200, []byte(`{"status":"512"}`))
	f.Add(200, []byte(`null`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := DecodeError(status, body)
		if e != nil && e.Kind == nil {
			t.Fatalf("error without kind %#v", e)
		}
		if e == nil && (status < 200 || status > 299) {
			t.Fatalf("status %d read as success", status)
		}
	})
}
