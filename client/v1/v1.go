// Package v1 is the client of recvault's native API (/api/v1): sign-in
// with a login and password for a bearer token, sign-out, and recording
// downloads in any format the server converts to.
package v1

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

// Client talks to one recvault server. It is safe for concurrent use.
type Client struct {
	server   string
	transfer *client.Transfer
	// OnRenew, when set, is told the new token after the client signed in
	// again because the old one expired (to store it).
	OnRenew func(token string)

	mu              sync.Mutex
	token           string
	login, password string
}

// New returns a client of the server at base URL server (e.g.
// "https://vault.example.com:8443"); t carries the HTTP client and the
// retry policy (nil: defaults).
func New(server string, t *client.Transfer) *Client {
	if t == nil {
		t = &client.Transfer{}
	}
	return &Client{server: strings.TrimRight(server, "/"), transfer: t}
}

// Session is a signed-in session.
type Session struct {
	Token     string
	ExpiresAt time.Time
}

// SetToken makes the client use a token from an earlier sign-in.
func (c *Client) SetToken(token string) { c.mu.Lock(); c.token = token; c.mu.Unlock() }

// Token returns the current token.
func (c *Client) Token() string { c.mu.Lock(); defer c.mu.Unlock(); return c.token }

// SetCredentials lets the client sign in again, once per download, when its
// token has expired.
func (c *Client) SetCredentials(login, password string) {
	c.mu.Lock()
	c.login, c.password = login, password
	c.mu.Unlock()
}

// Login signs in: POST /api/v1/sessions {"login","password"}.
func (c *Client) Login(ctx context.Context, login, password string) (Session, error) {
	resp, body, err := client.Call(ctx, c.transfer.HTTPClient(), http.MethodPost, c.server+"/api/v1/sessions", nil,
		map[string]string{"login": login, "password": password})
	if err != nil {
		return Session{}, err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return Session{}, DecodeError(resp.StatusCode, body)
	}
	var out struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expiresAt"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return Session{}, &client.Error{Kind: client.ErrServer, Status: resp.StatusCode, Message: "sign-in answer has no token"}
	}
	s := Session{Token: out.Token}
	s.ExpiresAt, _ = time.Parse(time.RFC3339, out.ExpiresAt)
	c.mu.Lock()
	c.token, c.login, c.password = out.Token, login, password
	c.mu.Unlock()
	return s, nil
}

// Logout ends the session: DELETE /api/v1/sessions/current.
func (c *Client) Logout(ctx context.Context) error {
	resp, body, err := client.Call(ctx, c.transfer.HTTPClient(), http.MethodDelete, c.server+"/api/v1/sessions/current",
		c.authHeader(), nil)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return DecodeError(resp.StatusCode, body)
	}
	// Signed out on purpose: no silent sign-in again.
	c.mu.Lock()
	c.token, c.password = "", ""
	c.mu.Unlock()
	return nil
}

func (c *Client) authHeader() http.Header {
	return http.Header{"Authorization": {"Bearer " + c.Token()}}
}

// Request names a recording and the form wanted.
type Request struct {
	ID       string // the recording's id
	Format   string // "" (the stored file), wav, wav-alaw, wav-ulaw, alaw, ulaw, mp3
	Channels string // "" (all), agent, customer, mix, 0, 1
}

// Source describes the download of r to the transfer engine.
func (c *Client) Source(r Request) client.Source {
	return client.Source{
		Name: r.ID,
		Request: func(ctx context.Context) (*http.Request, error) {
			if r.ID == "" {
				return nil, errors.New("recording id is required")
			}
			q := url.Values{}
			if r.Format != "" {
				q.Set("format", r.Format)
			}
			if r.Channels != "" {
				q.Set("channels", r.Channels)
			}
			u := c.server + "/api/v1/recordings/" + url.PathEscape(r.ID) + "/media"
			if len(q) > 0 {
				u += "?" + q.Encode()
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return nil, err
			}
			req.Header = c.authHeader()
			return req, nil
		},
		Fail: func(resp *http.Response, body []byte) *client.Error {
			return DecodeError(resp.StatusCode, body)
		},
		Renew: c.renew,
	}
}

// renew signs in again with the stored credentials.
func (c *Client) renew(ctx context.Context) error {
	c.mu.Lock()
	login, password := c.login, c.password
	c.mu.Unlock()
	if login == "" || password == "" {
		return errors.New("no credentials to sign in again")
	}
	s, err := c.Login(ctx, login, password)
	if err != nil {
		return err
	}
	if c.OnRenew != nil {
		c.OnRenew(s.Token)
	}
	return nil
}

// Download streams a recording to w.
func (c *Client) Download(ctx context.Context, r Request, w io.Writer) (client.Result, error) {
	return c.transfer.Download(ctx, c.Source(r), w)
}

// DownloadFile saves a recording in dir as base plus the extension of the
// media type served (see client.Transfer.SaveFile).
func (c *Client) DownloadFile(ctx context.Context, r Request, dir, base string) (client.FileResult, error) {
	return c.transfer.SaveFile(ctx, c.Source(r), dir, base)
}

// DecodeError reads the native error envelope {"error":{"code","message"}}.
// The kind comes from the HTTP status; the code and message from the body
// when it has them.
func DecodeError(status int, body []byte) *client.Error {
	e := &client.Error{Kind: client.KindOfStatus(status), Status: status}
	if status >= 200 && status < 300 {
		e.Kind = client.ErrServer
	}
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		if status >= 200 && status < 300 {
			e.Kind = kindOfCode(env.Error.Code)
		}
	} else if len(body) > 0 {
		e.Message = fmt.Sprintf("unexpected answer (%d bytes)", len(body))
	}
	return e
}

func kindOfCode(code string) error {
	switch code {
	case "unauthenticated":
		return client.ErrUnauthenticated
	case "forbidden":
		return client.ErrForbidden
	case "not_found":
		return client.ErrNotFound
	case "invalid", "conflict":
		return client.ErrInvalid
	}
	return client.ErrServer
}
