package ccgw

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/recvault/recvault/client"
)

func TestDecodeError(t *testing.T) {
	cases := []struct {
		status int
		body   string
		kind   error // nil: success
		code   string
	}{
		{200, `{"message":"success","retcode":"0","result":{}}`, nil, ""},
		{200, "RIFF....WAVE", nil, ""},
		{200, `{"retcode":"000-003","message":"no right to invite resource","result":""}`, client.ErrForbidden, "000-003"},
		{200, `{"retcode":"108-001","message":"record file not found","result":""}`, client.ErrNotFound, "108-001"},
		{200, `{"retcode":"100-006","message":"agent not signed in","result":""}`, client.ErrUnauthenticated, "100-006"},
		{200, `{"retcode":"108-014","message":"storage","result":""}`, client.ErrServer, "108-014"},
		{200, `{"retcode":0,"message":"numeric ok"}`, nil, ""},
		{200, `{"retcode":108,"message":"numeric failure"}`, client.ErrServer, "108"},
		{404, `{"retcode":"000-004","message":"no such resource","result":""}`, client.ErrNotFound, "000-004"},
		{503, `<html>busy</html>`, client.ErrServer, ""},
		{401, ``, client.ErrUnauthenticated, ""},
	}
	for _, c := range cases {
		e := DecodeError(c.status, []byte(c.body))
		if c.kind == nil {
			if e != nil {
				t.Errorf("%d %s: %v, want success", c.status, c.body, e)
			}
			continue
		}
		if e == nil || !errors.Is(e, c.kind) || e.Code != c.code || e.Status != c.status {
			t.Errorf("%d %s: %#v, want %v code %q", c.status, c.body, e, c.kind, c.code)
		}
	}
}

func TestGUIDFrom(t *testing.T) {
	for v, want := range map[string]string{
		"JSESSIONID=0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.AgentGateway1": "0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.AgentGateway1",
		" JSESSIONID=abc.AgentGateway2; Path=/":                         "abc.AgentGateway2",
		"abc":                                                           "",
		"":                                                              "",
	} {
		if got := GUIDFrom(v); got != want {
			t.Errorf("GUIDFrom(%q) = %q, want %q", v, got, want)
		}
	}
}

// TestWireFormat checks what the client sends against a fake gateway: the
// sign-in body and headers, Guid on every later call, the Set-GUID of a
// poll adopted, and the download URL.
func TestWireFormat(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" guid="+r.Header.Get("Guid")+" ct="+r.Header.Get("Content-Type")+" "+string(b))
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		switch {
		case r.Method == "PUT":
			w.Header()["Set-GUID"] = []string{"JSESSIONID=g1.AgentGateway1"}
		case strings.Contains(r.URL.Path, "agentevent"):
			w.Header()["Set-GUID"] = []string{"JSESSIONID=g2.AgentGateway1"}
		case strings.Contains(r.URL.Path, "recordfiledownloadEx"):
			w.Header().Set("Content-Type", "application/octet-stream;charset=utf-8")
			io.WriteString(w, "RIFF\x00\x00\x00\x00WAVEfmt data")
			return
		}
		io.WriteString(w, `{"message":"success","retcode":"0","result":{}}`)
	}))
	defer srv.Close()
	c := New(srv.URL+"/", nil)
	ctx := context.Background()
	if _, err := c.Login(ctx, "4977", "pw", "70001", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Poll(ctx); err != nil || c.GUID() != "g2.AgentGateway1" {
		t.Fatalf("poll: %v, GUID %q", err, c.GUID())
	}
	res, err := c.Download(ctx, Request{CallID: "1621413752-2011", HWFileName: "Y:/90/0/20210519/4977/1642329.mp4", WorkNo: "5001"}, io.Discard)
	if err != nil || res.Ext != ".wav" {
		t.Fatalf("download: %+v %v", res, err)
	}
	want := []string{
		`PUT /agentgateway/resource/onlineagent/4977 guid= ct=application/json;charset=UTF-8 {"password":"pw","phonenum":"70001"}`,
		`GET /agentgateway/resource/agentevent/4977 guid=g1.AgentGateway1 ct=application/json;charset=UTF-8 `,
		`GET /agentgateway/resource/recordfile/4977/recordfiledownloadEx?callId=1621413752-2011&hwFileName=Y%3A%2F90%2F0%2F20210519%2F4977%2F1642329.mp4&workNo=5001 guid=g2.AgentGateway1 ct=application/json;charset=UTF-8 `,
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

func FuzzDecodeError(f *testing.F) {
	f.Add(200, []byte(`{"retcode":"108-001","message":"x","result":""}`))
	f.Add(404, []byte(`{"retcode":0}`))
	f.Add(200, []byte(`RIFF`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := DecodeError(status, body)
		if e != nil && e.Kind == nil {
			t.Fatalf("error without a kind: %#v", e)
		}
		if e == nil && (status < 200 || status > 299) {
			t.Fatalf("status %d decoded as success", status)
		}
		GUIDFrom(string(body))
	})
}
