// Package ameyo is a client of the Ameyo REST API as Ameyo servers (and
// recvault's Ameyo façade) speak it: userLogin for a session id, the
// keepAliveWithPingPush keep-alive, userLogout, and downloadVoiceLog, the
// session id travelling in the Sessionid header.
package ameyo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/recvault/recvault/client"
)

// Client talks to one Ameyo server. It is safe for concurrent use.
type Client struct {
	server   string
	transfer *client.Transfer
	// OnRenew, when set, is told the new session id after the client signed
	// in again because the old session expired.
	OnRenew func(sessionID string)
	// TerminalInfo is sent at sign-in; default "recvault".
	TerminalInfo string

	mu               sync.Mutex
	sessionID        string
	userID, password string
}

// New returns a client of the server at base URL server (e.g.
// "https://app3.ameyoemerge.in:8443"); t carries the HTTP client and the
// retry policy (nil: defaults).
func New(server string, t *client.Transfer) *Client {
	if t == nil {
		t = &client.Transfer{}
	}
	return &Client{server: strings.TrimRight(server, "/"), transfer: t}
}

// Session is a signed-in Ameyo session.
type Session struct {
	SessionID string
	UserID    string
	UserType  string
}

// SetSession makes the client use a session id from an earlier sign-in.
func (c *Client) SetSession(id string) { c.mu.Lock(); c.sessionID = id; c.mu.Unlock() }

// SessionID returns the current session id.
func (c *Client) SessionID() string { c.mu.Lock(); defer c.mu.Unlock(); return c.sessionID }

// SetCredentials lets the client sign in again (with forceLogin) when its
// session expired.
func (c *Client) SetCredentials(userID, password string) {
	c.mu.Lock()
	c.userID, c.password = userID, password
	c.mu.Unlock()
}

// Login signs in: POST /ameyorestapi/session/userLogin {"userId","token",
// "forceLogin","terminalInfo"}. force takes over a session the user already
// has elsewhere.
func (c *Client) Login(ctx context.Context, userID, password string, force bool) (Session, error) {
	ti := c.TerminalInfo
	if ti == "" {
		ti = "recvault"
	}
	resp, body, err := client.Call(ctx, c.transfer.HTTPClient(), http.MethodPost, c.server+"/ameyorestapi/session/userLogin",
		http.Header{"Content-Type": {"application/json;charset=UTF-8"}},
		map[string]any{"userId": userID, "token": password, "forceLogin": force, "terminalInfo": ti})
	if err != nil {
		return Session{}, err
	}
	if e := failure(resp.StatusCode, body); e != nil {
		return Session{}, e
	}
	var out struct {
		SessionID       string `json:"sessionId"`
		UserID          string `json:"userId"`
		UserType        string `json:"userType"`
		UserSessionInfo struct {
			SessionID string `json:"sessionId"`
			UserType  string `json:"userType"`
		} `json:"userSessionInfo"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return Session{}, &client.Error{Kind: client.ErrServer, Status: resp.StatusCode, Message: "sign-in answer is not JSON"}
	}
	if out.SessionID == "" { // the newer login's shape
		out.SessionID, out.UserType = out.UserSessionInfo.SessionID, out.UserSessionInfo.UserType
	}
	if out.SessionID == "" {
		return Session{}, &client.Error{Kind: client.ErrServer, Status: resp.StatusCode, Message: "sign-in answer has no sessionId"}
	}
	c.mu.Lock()
	c.sessionID, c.userID, c.password = out.SessionID, userID, password
	c.mu.Unlock()
	return Session{SessionID: out.SessionID, UserID: userID, UserType: out.UserType}, nil
}

func (c *Client) sessionCall(ctx context.Context, path string, body any) error {
	sid := c.SessionID()
	resp, b, err := client.Call(ctx, c.transfer.HTTPClient(), http.MethodPost, c.server+path,
		http.Header{"Sessionid": {sid}, "Content-Type": {"application/json;charset=UTF-8"}}, body)
	if err != nil {
		return err
	}
	if e := failure(resp.StatusCode, b); e != nil {
		return e
	}
	return nil
}

// KeepAlive extends the session: POST
// /ameyorestapi/session/keepAliveWithPingPush with the body Ameyo's own
// web client sends.
func (c *Client) KeepAlive(ctx context.Context) error {
	return c.sessionCall(ctx, "/ameyorestapi/session/keepAliveWithPingPush", map[string]any{
		"sessionId":           c.SessionID(),
		"listenerName":        "webcore_" + strconv.FormatInt(time.Now().UnixMilli(), 10),
		"pushesFollowPing":    true,
		"lastProcessedPushId": -1,
	})
}

// KeepAliveEvery calls KeepAlive every interval until ctx ends or stop is
// called; failures go to onErr when it is set.
func (c *Client) KeepAliveEvery(ctx context.Context, interval time.Duration, onErr func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.KeepAlive(ctx); err != nil && onErr != nil && ctx.Err() == nil {
					onErr(err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// Logout ends the session: POST /ameyorestapi/session/userLogout.
func (c *Client) Logout(ctx context.Context) error {
	if err := c.sessionCall(ctx, "/ameyorestapi/session/userLogout", map[string]any{"sessionId": c.SessionID()}); err != nil {
		return err
	}
	// Signed out on purpose: no silent sign-in again.
	c.mu.Lock()
	c.sessionID, c.password = "", ""
	c.mu.Unlock()
	return nil
}

// Request names a voice log as downloadVoiceLog wants it.
type Request struct {
	CampaignID  int64
	CRTObjectID string
	CallID      string
	Format      string // targetFormat: mp3 (default), wav, …
}

// Query returns downloadVoiceLog's query string. filters is strict JSON,
// URL-encoded, as the vendor documents it must be.
func (r Request) Query() string {
	f := r.Format
	if f == "" {
		f = "mp3"
	}
	filters, _ := json.Marshal(map[string]string{"callId": r.CallID})
	return "campaignId=" + strconv.FormatInt(r.CampaignID, 10) +
		"&crtObjectId=" + url.QueryEscape(r.CRTObjectID) +
		"&targetFormat=" + url.QueryEscape(f) +
		"&filters=" + url.QueryEscape(string(filters))
}

// Source describes the download of r to the transfer engine.
func (c *Client) Source(r Request) client.Source {
	return client.Source{
		Name: r.CRTObjectID,
		Request: func(ctx context.Context) (*http.Request, error) {
			if r.CampaignID <= 0 || r.CRTObjectID == "" || r.CallID == "" {
				return nil, errors.New("campaign id, crtObjectId and call id are all required")
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				c.server+"/ameyorestapi/cc/downloadVoiceLog?"+r.Query(), nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Sessionid", c.SessionID())
			return req, nil
		},
		Fail: func(resp *http.Response, body []byte) *client.Error {
			if e := failure(resp.StatusCode, body); e != nil {
				return e
			}
			return nil
		},
		Renew: c.renew,
	}
}

func (c *Client) renew(ctx context.Context) error {
	c.mu.Lock()
	userID, password := c.userID, c.password
	c.mu.Unlock()
	if userID == "" || password == "" {
		return errors.New("no credentials to sign in again")
	}
	s, err := c.Login(ctx, userID, password, true)
	if err != nil {
		return err
	}
	if c.OnRenew != nil {
		c.OnRenew(s.SessionID)
	}
	return nil
}

// Download streams a voice log to w.
func (c *Client) Download(ctx context.Context, r Request, w io.Writer) (client.Result, error) {
	return c.transfer.Download(ctx, c.Source(r), w)
}

// DownloadFile saves a voice log in dir as base plus the extension of the
// media type served (see client.Transfer.SaveFile).
func (c *Client) DownloadFile(ctx context.Context, r Request, dir, base string) (client.FileResult, error) {
	return c.transfer.SaveFile(ctx, c.Source(r), dir, base)
}

// envelope is Ameyo's error body {"message","code","info","status"}.
type envelope struct {
	Message string          `json:"message"`
	Code    json.RawMessage `json:"code"`
	Info    json.RawMessage `json:"info"`
	Status  json.RawMessage `json:"status"`
}

// loginFailed is the status Ameyo 4.x gives a failed sign-in, in the HTTP
// status line or in a 200 body.
const loginFailed = 512

// failure reads an answer: nil when it is a success, else the error in
// Ameyo's terms. A 200 whose body says "status": 4xx/5xx is a failure too,
// as Ameyo's own clients treat it.
func failure(status int, body []byte) *client.Error {
	var env envelope
	parsed := json.Unmarshal(body, &env) == nil
	bodyStatus := 0
	if parsed {
		bodyStatus, _ = strconv.Atoi(scalar(env.Status))
	}
	if status >= 200 && status < 300 && bodyStatus < 400 {
		return nil
	}
	e := &client.Error{Status: status}
	st := status
	if st >= 200 && st < 300 {
		st = bodyStatus
	}
	switch {
	case st == loginFailed:
		e.Kind = client.ErrUnauthenticated
	case status >= 200 && status < 300 && st >= 500:
		e.Kind = client.ErrServer // never retried: the HTTP answer was 200
	default:
		e.Kind = client.KindOfStatus(st)
	}
	if parsed {
		e.Code = scalar(env.Code)
		if e.Code == "" || e.Code == "0" {
			e.Code = scalar(env.Status)
		}
		e.Message = env.Message
		if info := scalar(env.Info); info != "" && info != env.Message {
			e.Message += ": " + info
		}
	} else if len(body) > 0 {
		e.Message = fmt.Sprintf("unexpected answer (%d bytes)", len(body))
	}
	return e
}

// scalar renders a JSON string or number as text ("" for anything else).
func scalar(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// DecodeError reads an Ameyo error answer (exported for tests and tools).
func DecodeError(status int, body []byte) *client.Error { return failure(status, body) }
