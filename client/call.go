package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// HTTPClient returns the transfer's HTTP client (http.DefaultClient when
// unset), which protocol clients also use for their API calls.
func (t *Transfer) HTTPClient() *http.Client {
	if t == nil || t.HTTP == nil {
		return http.DefaultClient
	}
	return t.HTTP
}

// Call sends one API request (sign-in, keep-alive, sign-out) with body, when
// not nil, as JSON, and returns the answer with at most 1 MiB of its body
// read: these answers are small, and a server cannot make the client
// buffer more.
func Call(ctx context.Context, hc *http.Client, method, url string, hdr http.Header, body any) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	return resp, b, nil
}
