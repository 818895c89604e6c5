package recvault

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Every layer below the façades speaks only these; each façade maps
// them to its own wire form (HTTP status, Ameyo envelope, CC-Gateway retcode).
const (
	ENOTFOUND        = "not_found"
	EUNAUTHENTICATED = "unauthenticated"
	EFORBIDDEN       = "forbidden"
	EINVALID         = "invalid"
	ECONFLICT        = "conflict"
	EINTERNAL        = "internal"
	// ETHROTTLED refuses a sign-in attempt unchecked because too many
	// failed ones came before it; the *Error's Err is a *Throttled that
	// says when to try again.
	ETHROTTLED = "throttled"
)

// ErrIntegrity marks stored bytes that failed verification (a chunk whose
// checksum or authentication tag does not match, a blob whose SHA-256 is
// not the catalogue's). Blob stores wrap it; the core tells it apart to log
// and audit the failure, and never serves the bad bytes.
var ErrIntegrity = errors.New("blob integrity check failed")

// Error is the one error type of the domain. Message is safe to show to a
// client; Err holds the internal cause, which is logged and never sent.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a client-safe formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure: the client sees only "Internal error.".
func Internal(err error) *Error {
	return &Error{Code: EINTERNAL, Message: "Internal error.", Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: an *Error's Message, or
// "Internal error." for anything else so that causes never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Internal error."
}

// Throttled is the cause of an ETHROTTLED error: how long the client should
// wait before it tries again. Façades turn it into their own wire form
// (Retry-After), which is why it travels as a value and not only as text.
type Throttled struct {
	RetryAfter time.Duration
}

func (t *Throttled) Error() string { return fmt.Sprintf("throttled for %v", t.RetryAfter) }

// TooManyAttempts returns the ETHROTTLED error for a wait of retryAfter,
// rounded up to whole seconds (the unit of Retry-After), at least one.
func TooManyAttempts(retryAfter time.Duration) *Error {
	secs := int64((retryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &Error{Code: ETHROTTLED, Message: fmt.Sprintf("too many failed sign-ins; try again in %d s", secs),
		Err: &Throttled{RetryAfter: time.Duration(secs) * time.Second}}
}

// RetryAfter returns the wait carried by a *Throttled in err's chain, and
// whether there is one.
func RetryAfter(err error) (time.Duration, bool) {
	var t *Throttled
	if errors.As(err, &t) {
		return t.RetryAfter, true
	}
	return 0, false
}
