package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// fakeAPI answers GET /v1/schedules/{id} with stored and records the
// bodies of POST /v1/schedules and PUT /v1/schedules/{id}.
type fakeAPI struct {
	stored apiclient.Schedule
	got    map[string]map[string]any
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.got[r.Method+" "+r.URL.Path] = body
	w.Header().Set("Content-Type", "application/json")
	if r.Method == "POST" {
		w.WriteHeader(201)
	}
	_ = json.NewEncoder(w).Encode(f.stored)
}

// TestScheduleFlags: create builds the body from the flags (and --file);
// edit applies only the given flags to the fetched schedule and sends its
// version.
func TestScheduleFlags(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	stored := apiclient.Schedule{Schedule: bulkapi.Schedule{Schedule: schedule.Schedule{
		ID: "01JSCHEDSCHEDSCHEDSCHEDSCH", Definition: schedule.Definition{Title: "Nightly", Description: "for BI", ObjectTypes: []string{"queue", "site"}, Prefix: "n_",
			Spec:        schedule.Spec{Frequency: schedule.Daily, Time: "06:00", TimeZone: "Europe/Berlin"},
			Options:     exportspec.Options{Fields: []string{"name"}, Header: exportspec.HeaderKeys, Range: exportspec.Range{Mode: exportspec.RangeIncremental}},
			MaxFailures: 2}, Active: true, Version: 7,
	}}}
	fake := &fakeAPI{stored: stored, got: map[string]map[string]any{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	bodyFile := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(bodyFile, []byte(`{"title":"From file","options":{"filters":[{"field":"name","op":"startsWith","value":"EU"}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		key  string
		want map[string]any // JSON paths (dot-separated) and values
		gone []string
	}{
		{"create", []string{"create", "--title", "Q", "--types", "queue, site", "--frequency", "weekly", "--weekday", "mon", "--time", "07:30",
			"--tz", "Europe/Paris", "--range", "interval", "--from", from.Format(time.RFC3339), "--fields", "name,description",
			"--header", "keys", "--multi", "columns", "--split-rows", "100", "--split-bytes", "70000", "--no-neutralize", "--max-failures", "3", "--prefix", "p-"},
			"POST /v1/schedules", map[string]any{
				"title": "Q", "objectTypes": []any{"queue", "site"}, "prefix": "p-", "when.frequency": "weekly", "when.weekday": 1.0,
				"when.time": "07:30", "when.timeZone": "Europe/Paris", "options.range.mode": "interval", "options.range.from": "2026-11-01T00:00:00Z",
				"options.fields": []any{"name", "description"}, "options.header": "keys", "options.multiValue": "columns",
				"options.splitRows": 100.0, "options.splitBytes": 70000.0, "options.noNeutralize": true, "maxFailures": 3.0,
			}, []string{"version"}},
		{"create once at", []string{"create", "--title", "Once", "--types", "queue", "--at", "2026-12-01T06:30"},
			"POST /v1/schedules", map[string]any{"when.frequency": "once", "when.at": "2026-12-01T06:30"}, []string{"version", "options"}},
		{"create from a file", []string{"create", "--file", bodyFile, "--types", "queue", "--frequency", "hourly", "--time", "00:15"},
			"POST /v1/schedules", map[string]any{"title": "From file", "options.filters": []any{map[string]any{"field": "name", "op": "startsWith", "value": "EU"}}}, nil},
		{"edit one flag", []string{"edit", stored.ID, "--time", "08:00"},
			"PUT /v1/schedules/" + stored.ID, map[string]any{
				"version": 7.0, "title": "Nightly", "description": "for BI", "prefix": "n_", "objectTypes": []any{"queue", "site"},
				"when.time": "08:00", "when.frequency": "daily", "when.timeZone": "Europe/Berlin", "options.header": "keys",
				"options.range.mode": "incremental", "options.fields": []any{"name"}, "maxFailures": 2.0,
			}, nil},
		{"edit range", []string{"edit", stored.ID, "--range", "all", "--monthly-is-not-a-flag"}, "", nil, nil},
		{"edit to monthly", []string{"edit", stored.ID, "--frequency", "monthly", "--day", "31", "--range", "all", "--title", "Monthly"},
			"PUT /v1/schedules/" + stored.ID, map[string]any{"when.frequency": "monthly", "when.day": 31.0, "when.time": "06:00", "options.range.mode": "all", "title": "Monthly"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clear(fake.got)
			var out, info bytes.Buffer
			err := run(context.Background(), append(append([]string{"schedules"}, tt.args...), "--api", srv.URL, "--token", "t"), &out, &info)
			if tt.key == "" {
				if err == nil {
					t.Fatal("an unknown flag was accepted")
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, info.String())
			}
			body, ok := fake.got[tt.key]
			if !ok {
				t.Fatalf("no %s; got %v", tt.key, fake.got)
			}
			for path, want := range tt.want {
				var v any = body
				for _, k := range strings.Split(path, ".") {
					m, _ := v.(map[string]any)
					v = m[k]
				}
				if g, _ := json.Marshal(v); string(g) != mustJSON(want) {
					t.Errorf("%s = %s, want %s", path, g, mustJSON(want))
				}
			}
			for _, k := range tt.gone {
				if _, ok := body[k]; ok {
					t.Errorf("%s sent: %v", k, body[k])
				}
			}
			if !strings.Contains(out.String(), "Nightly") {
				t.Errorf("the answer is not printed:\n%s", out.String())
			}
		})
	}
	for _, args := range [][]string{
		{"create", "--types", "queue", "--frequency", "daily"},
		{"create", "--title", "x", "--frequency", "daily"},
		{"create", "--title", "x", "--types", "queue"},
		{"create", "--title", "x", "--types", "queue", "--frequency", "weekly", "--weekday", "someday"},
		{"create", "--title", "x", "--types", "queue", "--range", "interval", "--from", "yesterday"},
		{"show"},
		{"frobnicate", "x"},
	} {
		clear(fake.got)
		if err := run(context.Background(), append(append([]string{"schedules"}, args...), "--api", srv.URL, "--token", "t"), io.Discard, io.Discard); err == nil || len(fake.got) != 0 {
			t.Errorf("%v: err %v, sent %v", args, err, fake.got)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
