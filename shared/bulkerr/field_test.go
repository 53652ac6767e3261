package bulkerr

import (
	"errors"
	"fmt"
	"testing"
)

// TestAtField: an Invalid error takes the field it is about, keeps its
// kind and message, and keeps the first field it was marked with; other
// kinds and nil are left alone.
func TestAtField(t *testing.T) {
	inner := InvalidAt("/when/time", "time %q is not a time of day", "25:00")
	tests := []struct {
		name          string
		err           error
		ptr, detail   string
		marked        bool
		kind, message string
	}{
		{"invalid", AtField("/title", New(Invalid, "title is required")), "/title", "title is required", true, string(Invalid), "title is required"},
		{"the whole body", InvalidAt("", "the request body is empty"), "", "the request body is empty", true, string(Invalid), "the request body is empty"},
		{"marked twice keeps the first", AtField("/when", inner), "/when/time", `time "25:00" is not a time of day`, true, string(Invalid), `time "25:00" is not a time of day`},
		{"wrapped keeps the field", fmt.Errorf("checking: %w", inner), "/when/time", `time "25:00" is not a time of day`, true, string(Invalid), `time "25:00" is not a time of day`},
		{"another kind", AtField("/x", New(Conflict, "busy")), "", "", false, string(Conflict), "busy"},
		{"not ours", AtField("/x", errors.New("boom")), "", "", false, string(Internal), "internal error; the operation was not completed"},
	}
	for _, tt := range tests {
		ptr, detail, ok := FieldOf(tt.err)
		if ptr != tt.ptr || detail != tt.detail || ok != tt.marked || string(KindOf(tt.err)) != tt.kind || Message(tt.err) != tt.message {
			t.Errorf("%s: field %q %q %v, kind %s, message %q", tt.name, ptr, detail, ok, KindOf(tt.err), Message(tt.err))
		}
	}
	if AtField("/x", nil) != nil {
		t.Error("AtField(nil) is not nil")
	}
}
