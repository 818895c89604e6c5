package recvault

import (
	"errors"
	"fmt"
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
)

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
