package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// TestFormatFlags: --format and --stable-name reach the API's options, for
// export and for schedules (only when given, so an edit keeps them); a
// bad format is the API's to refuse, sent as given.
func TestFormatFlags(t *testing.T) {
	tests := []struct {
		name  string
		route string
		args  []string
		want  string // the options sent, as JSON
	}{
		{"csv stable", "POST /v1/exports", []string{"export", "agent", "--format", "csv", "--stable-name"}, `{"format":"csv","stableName":true}`},
		{"zip stable", "POST /v1/exports", []string{"export", "queue,site", "--stable-name"}, `{"stableName":true}`},
		{"default", "POST /v1/exports", []string{"export", "queue"}, `null`}, // no options sent
		{"stable off", "POST /v1/exports", []string{"export", "queue", "--stable-name=false", "--format", "zip"}, `{"format":"zip"}`},
		{"schedule", "POST /v1/schedules", []string{"schedules", "create", "--title", "GAX", "--types", "agent", "--frequency", "daily", "--time", "03:00", "--format", "csv", "--stable-name"},
			`{"format":"csv","stableName":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.routes[tt.route] = func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(202)
				io.WriteString(w, jobDoc("New", ""))
			}
			r := runCLI(t, context.Background(), map[string]string{"BULKOPS_API_URL": f.srv.URL, "BULKOPS_TOKEN": "t"}, false, tt.args...)
			if len(f.bodies) == 0 {
				t.Fatalf("nothing sent: %d %v", r.code, r.err)
			}
			var body struct {
				Options json.RawMessage `json:"options"`
			}
			if err := json.Unmarshal([]byte(f.bodies[0]), &body); err != nil {
				t.Fatal(err)
			}
			var got, want any
			_ = json.Unmarshal(body.Options, &got)
			_ = json.Unmarshal([]byte(tt.want), &want)
			if mustJSON(got) != mustJSON(want) {
				t.Fatalf("options sent %s, want %s", body.Options, tt.want)
			}
		})
	}
}
