package main

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/recvault/recvault/client"
	ameyoclient "github.com/recvault/recvault/client/ameyo"
	ccgwclient "github.com/recvault/recvault/client/ccgw"
	v1client "github.com/recvault/recvault/client/v1"
	"github.com/recvault/recvault/server"
)

// The Go SDK (package client and its protocols) against a real recvault.

var sdkTransfer = &client.Transfer{Retry: client.Retry{Attempts: 3, Base: time.Millisecond}}

func TestSDKAmeyoSessionLifecycle(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	c := ameyoclient.New(env.URL, sdkTransfer)
	_, err := c.Login(ctx, "supervisor@exotel.in", "wrong", false)
	var e *client.Error
	if !errors.As(err, &e) || !errors.Is(err, client.ErrUnauthenticated) || e.Status != 512 || e.Code != "51201" {
		t.Fatalf("bad password: %v", err)
	}
	s, err := c.Login(ctx, "supervisor@exotel.in", "supervisor-demo-pass", false)
	if err != nil || len(s.SessionID) < 60 || s.UserType != "Supervisor" {
		t.Fatalf("login: %+v %v", s, err)
	}
	// Ameyo sessions are exclusive: a second sign-in needs forceLogin.
	c2 := ameyoclient.New(env.URL, sdkTransfer)
	if _, err := c2.Login(ctx, "supervisor@exotel.in", "supervisor-demo-pass", false); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("second login without force: %v", err)
	}
	if _, err := c2.Login(ctx, "supervisor@exotel.in", "supervisor-demo-pass", true); err != nil {
		t.Fatal(err)
	}
	if err := c.KeepAlive(ctx); !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("keep-alive of a taken-over session: %v", err)
	}
	if err := c2.KeepAlive(ctx); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	req := ameyoclient.Request{CampaignID: 110, CRTObjectID: "d741-6904fad1-vce-daf-638729", CallID: "d741-6904fad1-vcall-10989826", Format: "original"}
	res, err := c2.Download(ctx, req, &buf)
	if err != nil || res.SHA256 != demoSHA(t, "call-alaw-mono.wav") || res.SHA256 != sha(buf.Bytes()) || res.MediaType != "audio/wav" {
		t.Fatalf("download: %+v %v", res, err)
	}
	// A wrong callId, another campaign: typed errors with Ameyo's codes.
	bad := req
	bad.CallID = "other"
	if _, err := c2.Download(ctx, bad, &buf); !errors.As(err, &e) || e.Kind != client.ErrNotFound || e.Code != "40401" {
		t.Fatalf("wrong callId: %v", err)
	}
	bad = req
	bad.CampaignID = 120
	if _, err := c2.Download(ctx, bad, &buf); !errors.As(err, &e) || e.Kind != client.ErrNotFound { // not its campaign: as if missing
		t.Fatalf("other campaign: %v", err)
	}
	if err := c2.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Download(ctx, req, &buf); !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("after logout: %v", err)
	}
	// With credentials the client signs in again by itself.
	c2.SetCredentials("supervisor@exotel.in", "supervisor-demo-pass")
	renewed := ""
	c2.OnRenew = func(id string) { renewed = id }
	if _, err := c2.Download(ctx, req, &bytes.Buffer{}); err != nil || renewed == "" || renewed != c2.SessionID() {
		t.Fatalf("renewal: %v %q", err, renewed)
	}
}

func TestSDKCCGatewayDynamicGUID(t *testing.T) {
	env := startEnvWith(t, func(c *server.Config) { c.CCGateway.DynamicGUID = true })
	ctx := context.Background()
	c := ccgwclient.New(env.URL, sdkTransfer)
	if _, err := c.Login(ctx, "4977", "wrong", "", false); !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("bad password: %v", err)
	}
	s, err := c.Login(ctx, "4977", "agent-demo-pass", "70001", false)
	if err != nil || !guidLike.MatchString(s.GUID) {
		t.Fatalf("login: %+v %v", s, err)
	}
	var e *client.Error
	if _, err := ccgwclient.New(env.URL, sdkTransfer).Login(ctx, "4977", "agent-demo-pass", "", false); !errors.As(err, &e) || e.Code != "100-002" {
		t.Fatalf("second sign-in: %v", err)
	}
	var announced []string
	c.OnGUID = func(g string) { announced = append(announced, g) }
	if err := c.Poll(ctx); err != nil || c.GUID() != s.GUID {
		t.Fatalf("early poll: %v", err)
	}
	env.clock.Advance(61 * time.Second)
	if err := c.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if g := c.GUID(); g == s.GUID || !guidLike.MatchString(g) || len(announced) != 1 || announced[0] != g {
		t.Fatalf("GUID not rotated by the poll: %q %v", g, announced)
	}
	// The old GUID dies at 120 s; downloads use the rotated one.
	env.clock.Advance(60 * time.Second)
	var buf bytes.Buffer
	res, err := c.Download(ctx, ccgwclient.Request{CallID: "1621413752-2011"}, &buf)
	if err != nil || res.Ext != ".wav" || res.Size < 1000 || res.SHA256 != sha(buf.Bytes()) {
		t.Fatalf("download with the rotated GUID: %+v %v", res, err)
	}
	// A business error in an HTTP 200 is an error, with the retcode.
	buf.Reset()
	_, err = c.Download(ctx, ccgwclient.Request{CallID: "nope"}, &buf)
	if !errors.As(err, &e) || e.Kind != client.ErrNotFound || e.Code != "108-001" || e.Status != 200 || buf.Len() != 0 {
		t.Fatalf("missing call: %v (%d bytes written)", err, buf.Len())
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Poll(ctx); !errors.As(err, &e) || e.Code != "100-006" || !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("poll after logout: %v", err)
	}
}

func TestSDKV1(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	c := v1client.New(env.URL, sdkTransfer)
	if _, err := c.Login(ctx, "admin", "nope"); !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("bad password: %v", err)
	}
	s, err := c.Login(ctx, "agent4977@example.com", "agent-demo-pass")
	if err != nil || s.ExpiresAt.IsZero() {
		t.Fatalf("login %+v %v", s, err)
	}
	// An agent may not have another agent's call.
	other := env.recordingID(110, "d741-6904fad1-vce-daf-638729").ID
	if _, err := c.Download(ctx, v1client.Request{ID: other}, &bytes.Buffer{}); !errors.Is(err, client.ErrForbidden) && !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("another agent's call: %v", err)
	}
	if _, err := c.Download(ctx, v1client.Request{ID: other, Format: "flac"}, &bytes.Buffer{}); err == nil {
		t.Fatal("unknown format accepted")
	}
	own := env.recordingID(110, "1621413752-2011-voice").ID
	var buf bytes.Buffer
	res, err := c.Download(ctx, v1client.Request{ID: own, Format: "wav", Channels: "agent"}, &buf)
	if err != nil || res.MediaType != "audio/wav" || res.SHA256 != sha(buf.Bytes()) {
		t.Fatalf("%+v %v", res, err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
}
