package redeliver

import (
	"errors"
	"fmt"
)

// Error codes. cmd/redeliver maps them to exit codes.
const (
	EInvalid     = "invalid"      // bad flag, env, config or state: exit 2
	EAuth        = "auth"         // credentials refused or lacking permission: exit 3
	ENotFound    = "not_found"    // no such hook, delivery or variable
	ERateLimited = "rate_limited" // limits could not be waited out
	EConflict    = "conflict"     // another run holds the state
	EInternal    = "internal"     // anything else, including nonsense from the API
)

// Error is an error with a code that says what kind of failure it is.
type Error struct {
	Code    string
	Message string
	Err     error // wrapped cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message != "" {
		return e.Message + ": " + e.Err.Error()
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns err with a code and a message; nil stays nil.
func Wrap(code string, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrOutcomeUnknown marks a redelivery request whose fate is unknown: the
// connection broke after the request may have reached GitHub. The engine
// keeps its intent and reconciles it on the next run instead of asking
// again, which could redeliver twice.
var ErrOutcomeUnknown = errors.New("outcome unknown: the request may have reached GitHub")

// ErrRefused marks a redelivery GitHub answered with 400 or 422 (for
// example an attempt past the redelivery horizon).
var ErrRefused = errors.New("GitHub refused the redelivery")
