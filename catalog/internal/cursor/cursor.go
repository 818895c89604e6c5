// Package cursor is the page token of recording listings, shared by every
// catalog implementation so that a token stays valid whichever catalog a
// deployment runs (and across a migration from one to the other).
package cursor

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/recvault/recvault"
)

// Encode makes the token that resumes a newest-first listing after the
// recording (started at unix nanoseconds at, id).
func Encode(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + ":" + id))
}

// Decode reads a token Encode made; anything else is EINVALID.
func Decode(s string) (int64, string, error) {
	bad := recvault.Errorf(recvault.EINVALID, "invalid cursor")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", bad
	}
	at, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return 0, "", bad
	}
	n, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return 0, "", bad
	}
	return n, id, nil
}
