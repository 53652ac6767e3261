package bulkerr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestMapping(t *testing.T) {
	tests := []struct {
		err    error
		kind   Kind
		status int
		state  string
		msg    string
	}{
		{New(Invalid, "row %d is bad", 3), Invalid, http.StatusBadRequest, "Bulk.Invalid", "row 3 is bad"},
		{fmt.Errorf("outer: %w", New(NotFound, "job x not found")), NotFound, http.StatusNotFound, "Bulk.NotFound", "job x not found"},
		{New(Busy, "busy"), Busy, http.StatusConflict, "Bulk.Busy", "busy"},
		{Wrap(Transient, errors.New("dial tcp: refused"), "reading"), Transient, http.StatusServiceUnavailable, "Bulk.Transient", "reading"},
		{errors.New("secret internal detail"), Internal, http.StatusInternalServerError, "Bulk.Internal", "internal error; the operation was not completed"},
		{Wrap(Internal, errors.New("secret"), "also secret"), Internal, http.StatusInternalServerError, "Bulk.Internal", "internal error; the operation was not completed"},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.kind {
			t.Errorf("KindOf(%v) = %s, want %s", tt.err, got, tt.kind)
		}
		if got := HTTPStatus(tt.err); got != tt.status {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tt.err, got, tt.status)
		}
		if got := StateName(tt.err); got != tt.state {
			t.Errorf("StateName(%v) = %s, want %s", tt.err, got, tt.state)
		}
		if got := Message(tt.err); got != tt.msg {
			t.Errorf("Message(%v) = %q, want %q", tt.err, got, tt.msg)
		}
	}
}

func TestEveryKindIsMapped(t *testing.T) {
	codes := map[string]Kind{}
	for _, k := range Kinds() {
		m, ok := mapping[k]
		if !ok || m.status == 0 || m.code == "" || m.stateName != "Bulk."+string(k) {
			t.Errorf("kind %s is not mapped consistently: %+v", k, m)
		}
		if codes[m.code] != "" {
			t.Errorf("kinds %s and %s share problem code %s", k, codes[m.code], m.code)
		}
		codes[m.code] = k
	}
	if KindOf(nil) != "" {
		t.Error("nil error has no kind")
	}
}

// TestRetryAfter: busy and transient errors tell a client when to retry;
// the others do not (retrying them unchanged gives the same answer).
func TestRetryAfter(t *testing.T) {
	for _, k := range Kinds() {
		got := RetryAfter(New(k, "x"))
		if want := k == Busy || k == Transient; (got > 0) != want {
			t.Errorf("RetryAfter(%s) = %d", k, got)
		}
	}
	if ProblemCode(New(Busy, "x")) != "TENANT_BUSY" || ProblemCode(errors.New("x")) != "INTERNAL" {
		t.Error("problem codes")
	}
}
