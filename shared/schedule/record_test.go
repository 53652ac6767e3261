package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/exportspec"
)

func wantErr(t *testing.T, name string, err error, kind bulkerr.Kind, says string) {
	t.Helper()
	switch {
	case kind == "" && err != nil:
		t.Errorf("%s: %v, want none", name, err)
	case kind != "" && (bulkerr.KindOf(err) != kind || !strings.Contains(bulkerr.Message(err), says)):
		t.Errorf("%s: %v, want %s saying %q", name, err, kind, says)
	}
}

// TestCanonicalNamesTheField: every refusal of a definition is Invalid
// and points at the field at fault.
func TestCanonicalNamesTheField(t *testing.T) {
	valid := Definition{Title: "T", ObjectTypes: []string{"queue"}, Spec: Spec{Frequency: Daily, Time: "06:00"}}
	tests := []struct {
		name    string
		change  func(*Definition)
		pointer string
		says    string
	}{
		{"no title", func(d *Definition) { d.Title = "  " }, "/title", "title is required"},
		{"long title", func(d *Definition) { d.Title = strings.Repeat("é", MaxTitle+1) }, "/title", "101 characters"},
		{"long description", func(d *Definition) { d.Description = strings.Repeat("x", MaxDescription+1) }, "/description", "at most 1000"},
		{"no types", func(d *Definition) { d.ObjectTypes = nil }, "/objectTypes", "objectTypes is empty"},
		{"unknown type", func(d *Definition) { d.ObjectTypes = []string{"queue", "unicorn"} }, "/objectTypes/1", "objectTypes[1]"},
		{"bad prefix", func(d *Definition) { d.Prefix = "a/b" }, "/prefix", "prefix:"},
		{"no frequency", func(d *Definition) { d.Spec.Frequency = "" }, "/when/frequency", "when.frequency is required"},
		{"unknown frequency", func(d *Definition) { d.Spec.Frequency = "yearly" }, "/when/frequency", `"yearly"`},
		{"bad time", func(d *Definition) { d.Spec.Time = "25:00" }, "/when", "when: time"},
		{"bad options", func(d *Definition) { d.Options.SplitRows = 9000 }, "/options", "options:"},
		{"unknown field", func(d *Definition) { d.Options.Fields = []string{"Colour"} }, "/options", "options:"},
		{"incremental once", func(d *Definition) {
			d.Spec = Spec{Frequency: Once}
			d.Options.Range.Mode = exportspec.RangeIncremental
		}, "/options/range/mode", "once schedule never has"},
		{"too many failures", func(d *Definition) { d.MaxFailures = MaxFailuresCap + 1 }, "/maxFailures", "not from 0 to 10"},
		{"negative failures", func(d *Definition) { d.MaxFailures = -1 }, "/maxFailures", "not from 0 to 10"},
	}
	for _, tt := range tests {
		d := valid
		tt.change(&d)
		err := d.Validate()
		ptr, detail, ok := bulkerr.FieldOf(err)
		if bulkerr.KindOf(err) != bulkerr.Invalid || !ok || ptr != tt.pointer || !strings.Contains(detail, tt.says) || detail != bulkerr.Message(err) {
			t.Errorf("%s: %v (field %q %q), want Invalid at %s saying %q", tt.name, err, ptr, detail, tt.pointer, tt.says)
		}
	}
	if err := valid.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestScheduleRules: when a schedule may be stored, edited, deleted and
// resumed, and when failures suspend it.
func TestScheduleRules(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	daily := Definition{Title: "T", ObjectTypes: []string{"queue"}, Spec: Spec{Frequency: Daily, Time: "06:00"}, MaxFailures: 3}
	once := Definition{Title: "O", ObjectTypes: []string{"queue"}, Spec: Spec{Frequency: Once, At: "2026-11-22T11:00"}}
	base := Schedule{Tenant: "acme", ID: "S", Definition: daily, Active: true, Version: 4}
	running := base
	running.RunningJob = "J1"
	spent := Schedule{Tenant: "acme", ID: "O", Definition: once, Submitted: true, LastJob: "J2", Version: 2}
	suspended := base
	suspended.Active = false

	tests := []struct {
		name string
		err  error
		kind bulkerr.Kind
		says string
	}{
		{"store a valid one", base.Check(), "", ""},
		{"store without an ID", Schedule{Tenant: "acme", Definition: daily}.Check(), bulkerr.Invalid, "a tenant and an ID"},
		{"store without types", Schedule{Tenant: "acme", ID: "S", Definition: Definition{Spec: daily.Spec}}.Check(), bulkerr.Invalid, "names no object type"},
		{"store a bad spec", Schedule{Tenant: "acme", ID: "S", Definition: Definition{ObjectTypes: []string{"x"}, Spec: Spec{Frequency: "x"}}}.Check(), bulkerr.Invalid, `"x"`},
		{"edit from the stored version", base.CanEdit(4), "", ""},
		{"edit from another version", base.CanEdit(3), bulkerr.Conflict, "version 4, yours 3"},
		{"edit while running", running.CanEdit(4), bulkerr.Conflict, "is running (job J1)"},
		{"edit a spent once schedule", spent.CanEdit(2), bulkerr.Conflict, "clone it to run it again with changes"},
		{"change a spent once schedule", spent.CanChange(), bulkerr.Conflict, "already submitted (job J2)"},
		{"change a recurring one", base.CanChange(), "", ""},
		{"delete", base.CanDelete(), "", ""},
		{"delete while running", running.CanDelete(), bulkerr.Conflict, "delete it after the run ends"},
		{"delete a spent once schedule", spent.CanDelete(), "", ""},
		{"resume", suspended.CanResume(), "", ""},
		{"add one below the limit", CanAdd(MaxPerTenant - 1), "", ""},
		{"add one at the limit", CanAdd(MaxPerTenant), bulkerr.Conflict, "at most 100 schedules and this one has 100"},
		{"resume a spent once schedule", spent.CanResume(), bulkerr.Conflict, "already ran (job J2)"},
	}
	for _, tt := range tests {
		wantErr(t, tt.name, tt.err, tt.kind, tt.says)
	}

	if next, err := suspended.ResumeRun(now); err != nil || !next.Equal(time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("resume run: %v %v", next, err)
	}
	passed := Schedule{ID: "O", Definition: once}
	_, err := passed.ResumeRun(now)
	wantErr(t, "resume a passed once schedule", err, bulkerr.Conflict, "runs once at 2026-11-22T11:00 (UTC), which has passed")

	// Edits: an active schedule's next run is planned, a suspended one's
	// waits for the resume; a passed once time is refused at when.at.
	if e, err := base.Edit(daily, 4, now); err != nil || e.Tenant != "acme" || e.ID != "S" || e.Version != 4 || !e.NextRun.Equal(time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("edit: %+v %v", e, err)
	}
	if e, err := suspended.Edit(daily, 4, now); err != nil || !e.NextRun.IsZero() {
		t.Errorf("edit while suspended: %+v %v", e, err)
	}
	_, err = base.Edit(once, 4, now)
	wantErr(t, "edit to a passed once time", err, bulkerr.Invalid, "when.at 2026-11-22T11:00 (UTC) has passed")
	if ptr, _, _ := bulkerr.FieldOf(err); ptr != "/when/at" {
		t.Errorf("edit to a passed once time points at %q, want /when/at", ptr)
	}
	range2 := daily
	range2.Options.Range = exportspec.Range{Mode: exportspec.RangeIncremental}
	if !base.KeepsHighWater(daily) || base.KeepsHighWater(range2) {
		t.Error("an edited range must start over, an unchanged one keep its high-water mark")
	}

	// New: active with its next run, or suspended when there is none.
	if s := New("acme", "N", "ana", daily, now.Add(time.Hour), now); !s.Active || s.SuspendedReason != "" || s.CreatedBy != "ana" || !s.CreatedAt.Equal(now) {
		t.Errorf("new: %+v", s)
	}
	if s := New("acme", "N", "ana", once, time.Time{}, now); s.Active || s.SuspendedReason != ReasonPassed {
		t.Errorf("new without a next run: %+v", s)
	}

	// Failures: MaxFailures in a row suspend an active schedule; 0 means 1.
	zero := base
	zero.MaxFailures = 0
	for _, c := range []struct {
		s        Schedule
		failures int
		want     bool
	}{{base, 2, false}, {base, 3, true}, {base, 4, true}, {suspended, 3, false}, {zero, 1, true}} {
		if got := c.s.SuspendsAfter(c.failures); got != c.want {
			t.Errorf("MaxFailures %d, active %v, %d failures: suspends %v", c.s.MaxFailures, c.s.Active, c.failures, got)
		}
	}
	if r := SuspendReason(1, ""); r != "suspended after its run failed; the last one: no reason given. Fix the cause, then resume the schedule" {
		t.Errorf("reason after one failure: %q", r)
	}
	if r := SuspendReason(3, "bucket gone"); !strings.Contains(r, "3 consecutive runs failed") || !strings.Contains(r, "bucket gone") {
		t.Errorf("reason after three failures: %q", r)
	}

	wantErr(t, "record a run without a job", Run{Tenant: "acme", ScheduleID: "S"}.Check(), bulkerr.Invalid, "a tenant, a schedule and a job")
	wantErr(t, "record a run", Run{Tenant: "acme", ScheduleID: "S", JobID: "J"}.Check(), "", "")
}
