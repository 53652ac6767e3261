package importflow

import "testing"

func TestFailureReason(t *testing.T) {
	tests := []struct {
		name string
		in   *StateError
		want string
	}{
		{"nil", nil, "the import stopped for an unknown reason; upload the file again"},
		{"lambda JSON cause", &StateError{Error: "Bulk.Invalid", Cause: `{"errorMessage":"row 2: Name is required","errorType":"Bulk.Invalid"}`}, "row 2: Name is required"},
		{"type-prefixed cause", &StateError{Error: "Bulk.Busy", Cause: "Bulk.Busy: another bulk operation is in progress (job X)"}, "another bulk operation is in progress (job X)"},
		{"plain cause", &StateError{Error: "Bulk.Invalid", Cause: "header missing"}, "header missing"},
		{"timeout", &StateError{Error: "States.Timeout"}, "the import took longer than allowed and was stopped; split the file or try again"},
		{"internal cause is not shown", &StateError{Error: "Bulk.Internal", Cause: `{"errorMessage":"internal error; the operation was not completed"}`}, "internal error; the operation was not completed"},
		{"unknown", &StateError{Error: "States.Runtime", Cause: "JSONPath $.x failed"}, "the import stopped unexpectedly (States.Runtime); upload the file again, and contact support if it keeps happening"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FailureReason(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseUploadKey(t *testing.T) {
	tests := []struct {
		key     string
		want    UploadKey
		wantErr bool
	}{
		{"imports/acme/site/sites.csv", UploadKey{"acme", "site", "sites.csv"}, false},
		{"imports/acme/work-type/2026/nov/codes.csv", UploadKey{"acme", "work-type", "codes.csv"}, false},
		{"imports/acme/site/", UploadKey{}, true},
		{"imports/acme/sites.csv", UploadKey{}, true},
		{"exports/acme/site/x.csv", UploadKey{}, true},
		{"imports/ACME/site/x.csv", UploadKey{}, true},
		{"imports/../site/x.csv", UploadKey{}, true},
		{"imports/acme//x.csv", UploadKey{}, true},
	}
	for _, tt := range tests {
		got, err := ParseUploadKey(tt.key)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseUploadKey(%q) = %+v, %v; want %+v, err %v", tt.key, got, err, tt.want, tt.wantErr)
		}
	}
}
