// Package client downloads recordings from recvault and from the servers it
// stands in for (Ameyo, Huawei CC-Gateway). This package holds what every
// protocol shares: the transfer engine (streaming to a writer with SHA-256,
// resume with Range + If-Range, retries with exponential backoff and jitter
// honouring Retry-After), saving to a file atomically, typed errors, and an
// HTTP client with TLS and redacted request logging. The protocols live in
// the subpackages client/v1, client/ameyo and client/ccgw.
package client

import (
	"errors"
	"fmt"
	"time"
)

// The kinds of failure a server reports. Every *Error unwraps to exactly one
// of them, so callers decide with errors.Is(err, client.ErrNotFound).
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
	ErrNotFound        = errors.New("not found")
	ErrInvalid         = errors.New("invalid request")
	ErrServer          = errors.New("server failure")
)

// Error is a failure reported by the server, in the protocol's own terms.
type Error struct {
	Kind    error  // one of ErrUnauthenticated … ErrServer
	Status  int    // HTTP status; vendors answer some errors with 200
	Code    string // vendor code: Ameyo's code (or status), CC-Gateway's retcode, v1's error code
	Message string // the server's message, for people
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := e.Kind.Error()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.Status)
		if e.Code != "" {
			s += ", code " + e.Code
		}
		s += ")"
	} else if e.Code != "" {
		s += " (code " + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *Error) Unwrap() error { return e.Kind }

// Temporary reports whether trying again may succeed: HTTP 5xx and 429.
// Business errors carried in a 200 answer are never retried.
func (e *Error) Temporary() bool {
	return e.Status == 429 || (e.Status >= 500 && e.Status <= 599 && e.Kind == ErrServer)
}

// KindOfStatus maps an HTTP status to the kind of failure it reports.
func KindOfStatus(status int) error {
	switch {
	case status == 401:
		return ErrUnauthenticated
	case status == 403:
		return ErrForbidden
	case status == 404 || status == 410:
		return ErrNotFound
	case status >= 400 && status < 500 && status != 429 && status != 408:
		return ErrInvalid
	}
	return ErrServer
}

// writeError marks a failure of the destination (disk full, closed pipe):
// the server is not at fault and retrying the request will not help.
type writeError struct{ err error }

func (w writeError) Error() string { return "write: " + w.err.Error() }
func (w writeError) Unwrap() error { return w.err }

// ErrChanged is returned when a resumed download's source changed (a new
// ETag) and the destination cannot be rewound to start over.
var ErrChanged = errors.New("recording changed on the server during the download and the destination cannot start over")

// retryable reports whether err, from one attempt, is worth another: network
// failures, cut bodies and temporary server errors, but not a cancelled
// context, a destination failure or a definite answer.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary()
	}
	var we writeError
	if errors.As(err, &we) || errors.Is(err, ErrChanged) || errors.Is(err, errNotRewindable) {
		return false
	}
	return true
}
