// Package errs gives errors a domain code. The HTTP layer maps codes to
// statuses in one table; everything without a code is internal.
package errs

import (
	"errors"
	"fmt"
)

// Code classifies an error for clients.
type Code string

// Codes, mapped to statuses by the API.
const (
	Invalid      Code = "invalid"      // 400
	Unauthorized Code = "unauthorized" // 401
	Forbidden    Code = "forbidden"    // 403
	NotFound     Code = "not_found"    // 404
	Conflict     Code = "conflict"     // 409
	Unavailable  Code = "unavailable"  // 503
	Internal     Code = "internal"     // 500
)

// Error is an error with a code and a message safe to show to clients.
type Error struct {
	Code    Code
	Message string
	// Detail carries structured data for the client (for example the id of
	// the job a conflict is about).
	Detail map[string]any
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E returns an error with code and a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first coded error in err's chain, or
// Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }
