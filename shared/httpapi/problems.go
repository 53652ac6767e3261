package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Problem is the API's problem document (RFC 9457).
type Problem = bulkapi.Problem

// FieldError is what is wrong with one field of a request body.
type FieldError = bulkapi.FieldError

// invalidAt returns an Invalid error about the body's field at ptr (a
// JSON pointer; "" for the whole body).
func invalidAt(ptr, format string, args ...any) error {
	return bulkerr.InvalidAt(ptr, format, args...)
}

// atField marks err (Invalid, from a validator that does not know where
// its input came from) as being about the body's field at ptr; other
// errors are returned as they are.
func atField(ptr string, err error) error { return bulkerr.AtField(ptr, err) }

// fieldsError marks an Invalid error as being about several fields of a
// request body, each with its pointer and detail.
type fieldsError struct {
	error
	fields []FieldError
}

func (e *fieldsError) Unwrap() error { return e.error }

// invalidAtFields marks err (Invalid) as being about each of fields; the
// problem document lists them all in errors[]. Errors of another kind, or
// without fields, are returned as they are.
func invalidAtFields(err error, fields []FieldError) error {
	if err == nil || len(fields) == 0 || bulkerr.KindOf(err) != bulkerr.Invalid {
		return err
	}
	return &fieldsError{error: err, fields: fields}
}

// pointer builds a JSON pointer from reference tokens (RFC 6901 escaping).
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// NewRequestID returns a fresh ID for one request (its X-Request-Id and
// its problem documents' instance).
func NewRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ProblemOf is the problem document of err answering request requestID:
// its status, title and code from the bulkerr table, its message, and the
// request's instance.
func ProblemOf(err error, requestID string) Problem {
	status := bulkerr.HTTPStatus(err)
	code := bulkerr.ProblemCode(err)
	return Problem{
		Type:  "https://bulkops.dev/problems/" + strings.ToLower(strings.ReplaceAll(code, "_", "-")),
		Title: http.StatusText(status), Status: status, Detail: bulkerr.Message(err), Code: code,
		Instance: "urn:bulkops:request:" + requestID,
	}
}

// problem writes err as a problem document: status, code, Retry-After
// from the bulkerr table, the request's instance, and the fields at fault.
func (a *API) problem(w http.ResponseWriter, r *http.Request, err error) {
	status := bulkerr.HTTPStatus(err)
	kind := bulkerr.KindOf(err)
	rid := w.Header().Get("X-Request-Id")
	if rid == "" {
		rid = NewRequestID()
		w.Header().Set("X-Request-Id", rid)
	}
	p := ProblemOf(err, rid)
	var fe *fieldsError
	if errors.As(err, &fe) {
		p.Errors = fe.fields
	} else if ptr, detail, ok := bulkerr.FieldOf(err); ok {
		p.Errors = []FieldError{{Pointer: ptr, Detail: detail}}
	}
	var be busyError
	if errors.As(err, &be) {
		p.ActiveJobID = be.job
	}
	if kind == bulkerr.Internal || kind == bulkerr.Transient {
		a.Log.ErrorContext(r.Context(), "request failed", "request", rid, "method", r.Method, "path", r.URL.Path, "err", err.Error())
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bulkops"`)
	}
	if s := bulkerr.RetryAfter(err); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// busyError is a Busy error that names the active job.
type busyError struct {
	error
	job string
}

func (e busyError) Unwrap() error { return e.error }
