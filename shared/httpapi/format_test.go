package httpapi_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/exportspec"
)

// TestExportFormatAndStableName: POST /v1/exports and schedules take
// options.format and options.stableName; the job's file name follows them
// (dated or stable, .zip or .csv; a schedule's test export TEST_ + that
// name), the export is started with them, and a csv of several types,
// splits with csv or an unknown format are 400s naming the field and the
// limit, before any job.
func TestExportFormatAndStableName(t *testing.T) {
	h := newAPIHarness(t)
	rec := &recordExports{}
	h.api.Exports = rec
	dated := `\d{4}-\d{2}-\d{2}`
	tests := []struct {
		name    string
		types   []string
		options map[string]any
		file    string // a regexp of the job's file name; "" when refused
		pointer string // the refused field
		detail  string
	}{
		{"default", []string{"queue"}, nil, `^p_Queue_` + dated + `\.zip$`, "", ""},
		{"stable zip", []string{"queue"}, map[string]any{"stableName": true}, `^p_Queue\.zip$`, "", ""},
		{"stable zip of two types", []string{"queue", "site"}, map[string]any{"stableName": true, "format": "zip"}, `^p_Export\.zip$`, "", ""},
		{"csv", []string{"agent"}, map[string]any{"format": "csv"}, `^p_AgentGAX_` + dated + `\.csv$`, "", ""},
		{"stable csv", []string{"gax"}, map[string]any{"format": "csv", "stableName": true}, `^p_AgentGAX\.csv$`, "", ""},
		{"csv of two types", []string{"queue", "site"}, map[string]any{"format": "csv"}, "", "/options/format", "names 2 types (queue, site)"},
		{"csv split", []string{"queue"}, map[string]any{"format": "csv", "splitRows": 10}, "", "/options", "at most 5000 rows"},
		{"unknown format", []string{"queue"}, map[string]any{"format": "xlsx"}, "", "", ""}, // refused by the schema's enum
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := fmt.Sprintf("fmt%d", i)
			body := map[string]any{"objectTypes": tt.types, "prefix": "p_"}
			if tt.options != nil {
				body["options"] = tt.options
			}
			started := len(rec.got)
			var job struct{ ID, FileName string }
			status, raw := h.call(tenant, "POST", "/v1/exports", body, &job)
			if tt.file == "" {
				p := problem(t, status, raw, 400, "INVALID_REQUEST")
				if tt.pointer != "" && (len(p.Errors) != 1 || p.Errors[0].Pointer != tt.pointer || !strings.Contains(p.Errors[0].Detail, tt.detail)) {
					t.Fatalf("refusal: %s", raw)
				}
				if len(rec.got) != started {
					t.Fatal("a refused export was started")
				}
				return
			}
			if status != 202 || !regexp.MustCompile(tt.file).MatchString(job.FileName) {
				t.Fatalf("%d %s, want a file name like %s", status, raw, tt.file)
			}
			req := rec.got[len(rec.got)-1]
			want, _ := json.Marshal(tt.options)
			var o exportspec.Options
			_ = json.Unmarshal(want, &o)
			if req.JobID != job.ID || req.Options.Format != o.Format || req.Options.StableName != o.StableName {
				t.Fatalf("started %+v", req)
			}
		})
	}

	// Schedules: the same checks; a test export of a stable schedule is
	// TEST_ + the stable name.
	body := dailyBody("Stable GAX")
	body["objectTypes"] = []string{"agent"}
	body["options"] = map[string]any{"format": "csv", "stableName": true}
	s := h.createSchedule("sched", body)
	var job struct{ ID, FileName string }
	if status, raw := h.call("sched", "POST", "/v1/schedules/"+s.ID+"/test", nil, &job); status != 202 || job.FileName != "TEST_nightly_AgentGAX.csv" {
		t.Fatalf("test export: %d %s", status, raw)
	}
	if req := rec.got[len(rec.got)-1]; !req.Options.StableName || req.Options.Format != exportspec.FormatCSV || req.Limit != exportspec.TestExportRows {
		t.Fatalf("test export started %+v", req)
	}
	bad := dailyBody("CSV of two")
	bad["options"] = map[string]any{"format": "csv"}
	status, raw := h.call("sched", "POST", "/v1/schedules", bad, nil)
	if p := problem(t, status, raw, 400, "INVALID_REQUEST"); len(p.Errors) != 1 || p.Errors[0].Pointer != "/options/format" {
		t.Fatalf("schedule csv of two types: %s", raw)
	}
}
