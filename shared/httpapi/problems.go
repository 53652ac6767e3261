package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Code is the stable code of the error's kind (bulkerr.ProblemCode).
	Code string `json:"code"`
	// Instance names this occurrence: urn:bulkops:request:<id>, the ID
	// the API's logs carry (and the X-Request-Id header).
	Instance string `json:"instance"`
	// Errors lists the fields of an invalid body at fault.
	Errors []FieldError `json:"errors,omitempty"`
	// ActiveJobID names the job holding the tenant's lock (TENANT_BUSY).
	ActiveJobID string `json:"activeJobId,omitempty"`
}

// FieldError is what is wrong with one field of a request body.
type FieldError struct {
	// Pointer is an RFC 6901 JSON pointer into the body ("" for the body
	// as a whole, "/when/time", "/objectTypes/2").
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// fieldError is an Invalid error about one field of the body.
type fieldError struct {
	error
	field FieldError
}

func (e fieldError) Unwrap() error { return e.error }

// invalidAt returns an Invalid error about the body's field at ptr (a
// JSON pointer; "" for the whole body).
func invalidAt(ptr, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return fieldError{error: bulkerr.New(bulkerr.Invalid, "%s", msg), field: FieldError{Pointer: ptr, Detail: msg}}
}

// atField marks err (Invalid, from a validator that does not know where
// its input came from) as being about the body's field at ptr; other
// errors are returned as they are.
func atField(ptr string, err error) error {
	var fe fieldError
	if err == nil || bulkerr.KindOf(err) != bulkerr.Invalid || errors.As(err, &fe) {
		return err
	}
	return fieldError{error: err, field: FieldError{Pointer: ptr, Detail: bulkerr.Message(err)}}
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
	var fe fieldError
	if errors.As(err, &fe) {
		p.Errors = []FieldError{fe.field}
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
