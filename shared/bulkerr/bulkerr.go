// Package bulkerr defines the error type shared by every part of the bulk
// operations service: an error carries a stable Kind, a message that is safe
// to show to the tenant, and optionally the wrapped cause for the logs.
//
// The Kind is mapped in exactly one place (the table in this file) to an HTTP
// status for the API and to the error name that Step Functions Retry and
// Catch clauses match.
package bulkerr

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error by what the caller can do about it.
type Kind string

// The kinds. Their string values are part of the public contract: they appear
// in API problem documents and, prefixed with "Bulk.", as Step Functions error
// names in statemachines/*.asl.json.
const (
	// Invalid: the input is wrong; the message says what and how to fix it.
	Invalid Kind = "Invalid"
	// NotFound: the thing asked for does not exist (or is another tenant's).
	NotFound Kind = "NotFound"
	// Conflict: the request contradicts current state (for example a
	// changed immutable field, or a duplicate).
	Conflict Kind = "Conflict"
	// Busy: another bulk operation holds the tenant lock; try again later.
	Busy Kind = "Busy"
	// Transient: a temporary failure (throttling, timeout); retrying helps.
	Transient Kind = "Transient"
	// Internal: a bug or an unexpected failure; details go to the logs only.
	Internal Kind = "Internal"
	// Unauthenticated: the caller's identity could not be verified.
	Unauthenticated Kind = "Unauthenticated"
)

// Error is the service's error value.
type Error struct {
	Kind    Kind
	Message string // safe to show to the tenant
	Err     error  // cause, for logs; never shown to the tenant
}

// Error returns the message and, if present, the cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the given kind with a formatted, tenant-safe message.
func New(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of the given kind that wraps cause. The message is
// what the tenant sees; cause is kept for the logs.
func Wrap(kind Kind, cause error, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: cause}
}

// KindOf returns the kind of the outermost *Error in err's chain, or Internal
// when there is none. A nil error has no kind ("").
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Message returns the tenant-safe message of err. Errors that are not *Error
// (or are Internal) yield a generic text, so internal details never leak.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return e.Message
	}
	return "internal error; the operation was not completed"
}

// mapping is the single table from Kind to transport-specific names.
var mapping = map[Kind]struct {
	status    int
	stateName string
}{
	Invalid:         {http.StatusBadRequest, "Bulk.Invalid"},
	NotFound:        {http.StatusNotFound, "Bulk.NotFound"},
	Conflict:        {http.StatusConflict, "Bulk.Conflict"},
	Busy:            {http.StatusConflict, "Bulk.Busy"},
	Transient:       {http.StatusServiceUnavailable, "Bulk.Transient"},
	Internal:        {http.StatusInternalServerError, "Bulk.Internal"},
	Unauthenticated: {http.StatusUnauthorized, "Bulk.Unauthenticated"},
}

// HTTPStatus returns the HTTP status code for err.
func HTTPStatus(err error) int {
	return mapping[KindOf(err)].status
}

// StateName returns the Step Functions error name for err, the value the
// Lambda runtime reports as errorType and that Retry/Catch match.
func StateName(err error) string {
	return mapping[KindOf(err)].stateName
}

// Kinds returns every kind, in a stable order (for tests and documentation).
func Kinds() []Kind {
	return []Kind{Invalid, NotFound, Conflict, Busy, Transient, Internal, Unauthenticated}
}
