package v1

import (
	"errors"
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
		{401, `{"error":{"code":"unauthenticated","message":"token expired"}}`, client.ErrUnauthenticated, "unauthenticated"},
		{403, `{"error":{"code":"forbidden","message":"no"}}`, client.ErrForbidden, "forbidden"},
		{404, `{"error":{"code":"not_found","message":"no such recording"}}`, client.ErrNotFound, "not_found"},
		{400, `{"error":{"code":"invalid","message":"unknown format"}}`, client.ErrInvalid, "invalid"},
		{500, `{"error":{"code":"internal","message":"Internal error."}}`, client.ErrServer, "internal"},
		{502, `<html>bad gateway</html>`, client.ErrServer, ""},
		{200, `{"error":{"code":"not_found","message":"x"}}`, client.ErrNotFound, "not_found"},
	}
	for _, c := range cases {
		e := DecodeError(c.status, []byte(c.body))
		if !errors.Is(e, c.kind) || e.Code != c.code || e.Status != c.status {
			t.Errorf("%d %s: %#v", c.status, c.body, e)
		}
	}
}

func FuzzDecodeError(f *testing.F) {
	f.Add(404, []byte(`{"error":{"code":"not_found","message":"x"}}`))
	f.Add(200, []byte(`{"error":null}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if e := DecodeError(status, body); e == nil || e.Kind == nil {
			t.Fatalf("DecodeError(%d, %q) = %#v", status, body, e)
		}
	})
}
