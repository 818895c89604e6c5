// Package ccgw is a client of the Huawei CC-Gateway (AgentGateway) REST
// API as real gateways (and recvault's façade) speak it: agent sign-in by
// work number for a GUID (from the Set-GUID header), event polling that
// keeps the sign-in alive and picks up a rotated GUID, sign-out, and the
// recordfiledownloadEx download. Business errors arrive as HTTP 200 with
// {"message","retcode","result"}; they are errors here, never recordings.
package ccgw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/recvault/recvault/client"
)

const prefix = "/agentgateway/resource"

// Client talks to one CC-Gateway as one agent. It is safe for concurrent
// use: polling may rotate the GUID while downloads run.
type Client struct {
	server   string
	transfer *client.Transfer
	// OnGUID, when set, is told every new GUID: after a rotation announced
	// by the gateway, or a renewed sign-in.
	OnGUID func(guid string)

	mu              sync.Mutex
	agentID, guid   string
	password, phone string
}

// New returns a client of the gateway at base URL server (e.g.
// "https://10.244.154.23:8043"); t carries the HTTP client and the retry
// policy (nil: defaults).
func New(server string, t *client.Transfer) *Client {
	if t == nil {
		t = &client.Transfer{}
	}
	return &Client{server: strings.TrimRight(server, "/"), transfer: t}
}

// Session is a signed-in agent.
type Session struct {
	AgentID string
	GUID    string
}

// SetSession makes the client use the GUID of an earlier sign-in.
func (c *Client) SetSession(agentID, guid string) {
	c.mu.Lock()
	c.agentID, c.guid = agentID, guid
	c.mu.Unlock()
}

// GUID returns the current GUID.
func (c *Client) GUID() string { c.mu.Lock(); defer c.mu.Unlock(); return c.guid }

// AgentID returns the signed-in agent's work number.
func (c *Client) AgentID() string { c.mu.Lock(); defer c.mu.Unlock(); return c.agentID }

// SetCredentials lets the client sign in again (forcelogin) when the
// gateway says the agent is no longer signed in.
func (c *Client) SetCredentials(agentID, password, phone string) {
	c.mu.Lock()
	c.agentID, c.password, c.phone = agentID, password, phone
	c.mu.Unlock()
}

func (c *Client) header() http.Header {
	h := http.Header{"Content-Type": {"application/json;charset=UTF-8"}}
	if g := c.GUID(); g != "" {
		h["Guid"] = []string{g}
	}
	return h
}

// answer is the gateway's JSON envelope.
type answer struct {
	Message string          `json:"message"`
	Retcode json.RawMessage `json:"retcode"`
	Result  json.RawMessage `json:"result"`
}

// GUIDFrom extracts the GUID of a Set-GUID value "JSESSIONID=<guid>": the
// text after "JSESSIONID=" ("" when the value has another shape).
func GUIDFrom(setGUID string) string {
	v := strings.TrimSpace(setGUID)
	_, g, ok := strings.Cut(v, "JSESSIONID=")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(g, ';'); i >= 0 {
		g = g[:i]
	}
	return strings.TrimSpace(g)
}

// takeGUID adopts a GUID announced with Set-GUID on any answer.
func (c *Client) takeGUID(h http.Header) {
	g := GUIDFrom(h.Get("Set-GUID"))
	if g == "" {
		return
	}
	c.mu.Lock()
	changed := g != c.guid
	c.guid = g
	c.mu.Unlock()
	if changed && c.OnGUID != nil {
		c.OnGUID(g)
	}
}

// Login signs the agent in: PUT /agentgateway/resource/onlineagent/{id}
// {"password","phonenum"}. When the agent is already signed in (retcode
// 100-002) and force is set, it signs in again with …/forcelogin.
func (c *Client) Login(ctx context.Context, agentID, password, phone string, force bool) (Session, error) {
	if agentID == "" {
		return Session{}, errors.New("agent id (work number) is required")
	}
	body := map[string]any{"password": password, "phonenum": phone}
	path := prefix + "/onlineagent/" + url.PathEscape(agentID)
	c.mu.Lock()
	c.guid = ""
	c.mu.Unlock()
	for _, p := range []string{path, path + "/forcelogin"} {
		resp, b, err := client.Call(ctx, c.transfer.HTTPClient(), http.MethodPut, c.server+p, c.header(), body)
		if err != nil {
			return Session{}, err
		}
		e := DecodeError(resp.StatusCode, b)
		if e != nil && e.Code == "100-002" && force && p == path {
			continue
		}
		if e != nil {
			return Session{}, e
		}
		g := GUIDFrom(resp.Header.Get("Set-GUID"))
		if g == "" {
			return Session{}, &client.Error{Kind: client.ErrServer, Status: resp.StatusCode, Message: "sign-in answer has no Set-GUID header"}
		}
		c.mu.Lock()
		c.agentID, c.guid, c.password, c.phone = agentID, g, password, phone
		c.mu.Unlock()
		return Session{AgentID: agentID, GUID: g}, nil
	}
	return Session{}, errors.New("unreachable")
}

// Poll makes one event poll, GET /agentgateway/resource/agentevent/{id},
// which the gateway holds up to about 10 s. It keeps the sign-in alive and
// adopts a GUID the gateway rotated (dynamic authentication).
func (c *Client) Poll(ctx context.Context) error {
	resp, b, err := client.Call(ctx, c.transfer.HTTPClient(), http.MethodGet,
		c.server+prefix+"/agentevent/"+url.PathEscape(c.AgentID()), c.header(), nil)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 == 2 {
		c.takeGUID(resp.Header)
	}
	if e := DecodeError(resp.StatusCode, b); e != nil {
		return e
	}
	return nil
}

// KeepAlive polls events (each held by the gateway; at most one a second)
// until ctx ends or stop is called, which keeps the sign-in alive and the
// GUID current. After a failure it waits pause before polling again;
// failures go to onErr when it is set.
func (c *Client) KeepAlive(ctx context.Context, pause time.Duration, onErr func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			start := time.Now()
			var wait time.Duration
			if err := c.Poll(ctx); err != nil && ctx.Err() == nil {
				if onErr != nil {
					onErr(err)
				}
				wait = pause
			} else {
				// At most one poll a second: a gateway that answers polls
				// at once is not hammered.
				wait = time.Second - time.Since(start)
			}
			if wait > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// Logout signs the agent out: DELETE /agentgateway/resource/onlineagent/{id}/logout.
func (c *Client) Logout(ctx context.Context) error {
	resp, b, err := client.Call(ctx, c.transfer.HTTPClient(), http.MethodDelete,
		c.server+prefix+"/onlineagent/"+url.PathEscape(c.AgentID())+"/logout", c.header(), nil)
	if err != nil {
		return err
	}
	if e := DecodeError(resp.StatusCode, b); e != nil {
		return e
	}
	// Signed out on purpose: no silent sign-in again.
	c.mu.Lock()
	c.guid, c.password = "", ""
	c.mu.Unlock()
	return nil
}

// Request names a recording as recordfiledownloadEx wants it.
type Request struct {
	CallID     string
	HWFileName string // recorder path of a video file; empty for the voice recording
	WorkNo     string // the inspected agent, for an inspector's voice download
}

// Query returns recordfiledownloadEx's query string.
func (r Request) Query() string {
	q := "callId=" + url.QueryEscape(r.CallID)
	if r.HWFileName != "" {
		q += "&hwFileName=" + url.QueryEscape(r.HWFileName)
	}
	if r.WorkNo != "" {
		q += "&workNo=" + url.QueryEscape(r.WorkNo)
	}
	return q
}

// Source describes the download of r to the transfer engine.
func (c *Client) Source(r Request) client.Source {
	return client.Source{
		Name: r.CallID,
		Request: func(ctx context.Context) (*http.Request, error) {
			if r.CallID == "" {
				return nil, errors.New("call id is required")
			}
			agent := c.AgentID()
			if agent == "" {
				return nil, errors.New("not signed in: no agent id")
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				c.server+prefix+"/recordfile/"+url.PathEscape(agent)+"/recordfiledownloadEx?"+r.Query(), nil)
			if err != nil {
				return nil, err
			}
			req.Header = c.header()
			return req, nil
		},
		Fail: func(resp *http.Response, body []byte) *client.Error {
			if e := DecodeError(resp.StatusCode, body); e != nil {
				return e
			}
			return nil
		},
		Renew: c.renew,
	}
}

func (c *Client) renew(ctx context.Context) error {
	c.mu.Lock()
	agentID, password, phone := c.agentID, c.password, c.phone
	c.mu.Unlock()
	if agentID == "" || password == "" {
		return errors.New("no credentials to sign in again")
	}
	s, err := c.Login(ctx, agentID, password, phone, true)
	if err != nil {
		return err
	}
	if c.OnGUID != nil {
		c.OnGUID(s.GUID)
	}
	return nil
}

// Download streams a recording to w.
func (c *Client) Download(ctx context.Context, r Request, w io.Writer) (client.Result, error) {
	return c.transfer.Download(ctx, c.Source(r), w)
}

// DownloadFile saves a recording in dir as base plus the extension of what
// was served (see client.Transfer.SaveFile).
func (c *Client) DownloadFile(ctx context.Context, r Request, dir, base string) (client.FileResult, error) {
	return c.transfer.SaveFile(ctx, c.Source(r), dir, base)
}

// kinds maps the retcodes of the vendor (and of recvault's façade) to kinds
// of failure; any other retcode is a server failure.
var kinds = map[string]error{
	"000-002": client.ErrInvalid,         // parameter missing or malformed
	"000-003": client.ErrForbidden,       // no right to invite resource
	"000-004": client.ErrNotFound,        // no such resource
	"000-005": client.ErrForbidden,       // an inspector cannot inspect itself
	"000-007": client.ErrInvalid,         // another sign-in in progress
	"100-001": client.ErrInvalid,         // sign-in parameters
	"100-002": client.ErrInvalid,         // already signed in
	"100-003": client.ErrInvalid,         // signed in elsewhere
	"100-004": client.ErrUnauthenticated, // wrong work number or password
	"100-006": client.ErrUnauthenticated, // not signed in (GUID unknown or expired)
	"104-002": client.ErrForbidden,       // agent not assigned to this inspector
	"108-001": client.ErrNotFound,        // record file not found
	"108-016": client.ErrInvalid,         // download token invalid
	"108-017": client.ErrInvalid,         // not of the requested type
}

// DecodeError reads a gateway answer: nil for a success (retcode "0" or an
// answer that is not the JSON envelope, such as a file), else the error. A
// retcode other than "0" is an error whatever the HTTP status.
func DecodeError(status int, body []byte) *client.Error {
	var a answer
	parsed := json.Unmarshal(body, &a) == nil && len(a.Retcode) > 0
	rc := ""
	if parsed {
		rc = scalar(a.Retcode)
	}
	ok2xx := status >= 200 && status < 300
	if ok2xx && (!parsed || rc == "0" || rc == "") {
		return nil
	}
	e := &client.Error{Status: status, Code: rc, Message: a.Message}
	if !ok2xx {
		e.Kind = client.KindOfStatus(status)
		if k, ok := kinds[rc]; ok && status == 404 {
			e.Kind = k
		}
		if !parsed && len(body) > 0 {
			e.Message = fmt.Sprintf("unexpected answer (%d bytes)", len(body))
		}
		return e
	}
	if k, ok := kinds[rc]; ok {
		e.Kind = k
	} else {
		e.Kind = client.ErrServer
	}
	return e
}

func scalar(raw json.RawMessage) string {
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
