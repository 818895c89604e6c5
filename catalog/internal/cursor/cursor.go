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

// The audit trail's page tokens, made with Encode: a listing in append
// order resumes after a row id (tag auditTag); one bounded in time,
// which is in event-time order, after an event time and row id (tag
// auditAtTag and the row id), so that each page is one index range
// however many records the range holds.
const (
	auditTag   = "audit"
	auditAtTag = "audit@"
)

// EncodeAudit makes the token that resumes an audit listing after the
// record with row id, at unix nanoseconds at: after the row id if the
// listing is in append order, after (at, id) if it is in event-time order
// (timed). DecodeAudit reads it.
func EncodeAudit(timed bool, at, id int64) string {
	if !timed {
		return Encode(id, auditTag)
	}
	return Encode(at, auditAtTag+strconv.FormatInt(id, 10))
}

// DecodeAudit reads an audit token: the row id to resume after, and for
// an event-time token (timed) the event time too. A token of the other
// order than the listing's, or of anything else, is EINVALID.
func DecodeAudit(s string, timed bool) (at, id int64, err error) {
	bad := recvault.Errorf(recvault.EINVALID, "invalid cursor")
	n, tag, err := Decode(s)
	if err != nil {
		return 0, 0, err
	}
	if !timed {
		if tag != auditTag {
			return 0, 0, bad
		}
		return 0, n, nil
	}
	rest, ok := strings.CutPrefix(tag, auditAtTag)
	if !ok {
		return 0, 0, bad
	}
	id, err = strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return 0, 0, bad
	}
	return n, id, nil
}
