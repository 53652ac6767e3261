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
	"strings"
)

// Kind classifies an error by what the caller can do about it.
type Kind string

// StatePrefix starts every Step Functions error name this service raises:
// a kind's state name is StatePrefix followed by the kind (Bulk.Invalid).
const StatePrefix = "Bulk."

// ExecutionErrorNames lists the Bulk.* error names that the state machines
// (statemachines/*.asl.json) raise themselves and that are not the state
// name of any Kind. It is empty: every Fail state either names a kind or
// passes on the caught error (ErrorPath/CausePath). A name added to an ASL
// file must be added here, or the ASL test fails.
var ExecutionErrorNames = []string{}

// The kinds. Their string values are part of the public contract: they appear
// in API problem documents and, prefixed with StatePrefix, as Step Functions
// error names in statemachines/*.asl.json.
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
	// Stale: a precondition the caller set (If-Match) no longer holds;
	// read the thing again and redo the change.
	Stale Kind = "Stale"
	// KeyReused: an idempotency key was sent again with a different
	// request; use a new key for a new request.
	KeyReused Kind = "KeyReused"
	// Forbidden: the caller is verified but its role may not do this (a
	// tenant administrator on an operator route).
	Forbidden Kind = "Forbidden"
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

// mapping is the single table from Kind to transport-specific names: the
// HTTP status, the stable problem code of API problem documents, the Step
// Functions error name, and the Retry-After (seconds) the API sends with
// errors that are worth retrying as they are (0: none).
var mapping = map[Kind]struct {
	status     int
	code       string
	stateName  string
	retryAfter int
}{
	Invalid:         {http.StatusBadRequest, "INVALID_REQUEST", StatePrefix + string(Invalid), 0},
	NotFound:        {http.StatusNotFound, "NOT_FOUND", StatePrefix + string(NotFound), 0},
	Conflict:        {http.StatusConflict, "CONFLICT", StatePrefix + string(Conflict), 0},
	Busy:            {http.StatusConflict, "TENANT_BUSY", StatePrefix + string(Busy), 30},
	Transient:       {http.StatusServiceUnavailable, "TRY_AGAIN", StatePrefix + string(Transient), 5},
	Internal:        {http.StatusInternalServerError, "INTERNAL", StatePrefix + string(Internal), 0},
	Unauthenticated: {http.StatusUnauthorized, "UNAUTHENTICATED", StatePrefix + string(Unauthenticated), 0},
	Stale:           {http.StatusPreconditionFailed, "PRECONDITION_FAILED", StatePrefix + string(Stale), 0},
	KeyReused:       {http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", StatePrefix + string(KeyReused), 0},
	Forbidden:       {http.StatusForbidden, "FORBIDDEN", StatePrefix + string(Forbidden), 0},
}

// HTTPStatus returns the HTTP status code for err.
func HTTPStatus(err error) int {
	return mapping[KindOf(err)].status
}

// ProblemCode returns the stable code an API problem document carries for
// err (INVALID_REQUEST, TENANT_BUSY, ...).
func ProblemCode(err error) string {
	return mapping[KindOf(err)].code
}

// RetryAfter returns how many seconds a client should wait before sending
// the same request again (the HTTP Retry-After header), or 0 when retrying
// it unchanged will not help.
func RetryAfter(err error) int {
	return mapping[KindOf(err)].retryAfter
}

// StateName returns the Step Functions error name for err, the value the
// Lambda runtime reports as errorType and that Retry/Catch match.
// KindStateName gives the same name for a kind.
func StateName(err error) string {
	return mapping[KindOf(err)].stateName
}

// KindStateName returns the Step Functions error name of kind k
// (StatePrefix + k), for code that names a kind's error without an error
// value (a StopExecution, a Retry match).
func KindStateName(k Kind) string {
	return mapping[k].stateName
}

// IsStateName reports whether name is one this service raises (it starts
// with StatePrefix), so its cause carries a tenant-safe message.
func IsStateName(name string) bool {
	return strings.HasPrefix(name, StatePrefix)
}

// Kinds returns every kind, in a stable order (for tests and documentation).
func Kinds() []Kind {
	return []Kind{Invalid, NotFound, Conflict, Busy, Transient, Internal, Unauthenticated, Stale, KeyReused, Forbidden}
}
