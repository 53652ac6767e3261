package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// TestNextRun: once without a time runs now (the next dispatcher tick),
// once in the past is refused naming when.at, recurring specs run strictly
// after now in their zone.
func TestNextRun(t *testing.T) {
	now := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC) // the night Europe/Berlin skips 02:00-03:00
	tests := []struct {
		spec    Spec
		want    time.Time
		wantErr string
	}{
		{Spec{Frequency: Once}, now, ""},
		{Spec{Frequency: Once, At: "2026-03-29T09:15", TimeZone: "Europe/Berlin"}, time.Date(2026, 3, 29, 7, 15, 0, 0, time.UTC), ""},
		{Spec{Frequency: Once, At: "2026-03-28T09:15"}, time.Time{}, "when.at 2026-03-28T09:15 (UTC) has passed"},
		{Spec{Frequency: Daily, Time: "02:30", TimeZone: "Europe/Berlin"}, time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), ""},
		{Spec{Frequency: Hourly, Time: "00:30"}, now.Add(time.Hour), ""},
		{Spec{Frequency: Daily, Time: "6"}, time.Time{}, "when: time"},
	}
	for _, tt := range tests {
		got, err := tt.spec.FirstRun(now)
		switch {
		case tt.wantErr != "":
			if bulkerr.KindOf(err) != bulkerr.Invalid || !strings.Contains(bulkerr.Message(err), tt.wantErr) {
				t.Errorf("%+v: %v, want Invalid %q", tt.spec, err, tt.wantErr)
			}
		case err != nil || !got.Equal(tt.want) || got.Location() != time.UTC:
			t.Errorf("%+v: %v %v, want %v UTC", tt.spec, got, err, tt.want)
		}
	}
}

// TestDefinitionDefaultsAndTidy: types are slugs without repeats, the
// title is trimmed, maxFailures defaults to 1 (0 counts as 1), and a spec
// keeps only what its frequency uses.
func TestDefinitionDefaultsAndTidy(t *testing.T) {
	zero, five := 0, 5
	tests := []struct {
		body     Definition
		types    string
		failures int
		when     Spec
	}{
		{Definition{Title: " T ", ObjectTypes: []string{"Queue", "queue", "Work Type"}, Spec: Spec{Frequency: Daily, Time: "06:00", At: "2026-01-01T00:00", Day: 3, Weekday: 2}},
			"queue,work-type", 1, Spec{Frequency: Daily, Time: "06:00"}},
		{Definition{Title: "T", ObjectTypes: []string{"site"}, MaxFailures: zero, Spec: Spec{Frequency: Once, Time: "06:00", At: "2026-01-01T00:00"}},
			"site", 1, Spec{Frequency: Once, At: "2026-01-01T00:00"}},
		{Definition{Title: "T", ObjectTypes: []string{"site"}, MaxFailures: five, Spec: Spec{Frequency: Weekly, Time: "06:00", Weekday: 3, Day: 9}},
			"site", 5, Spec{Frequency: Weekly, Time: "06:00", Weekday: 3}},
		{Definition{Title: "T", ObjectTypes: []string{"site"}, Spec: Spec{Frequency: Monthly, Time: "06:00", Weekday: 3, Day: 31, TimeZone: "Asia/Tokyo"}},
			"site", 1, Spec{Frequency: Monthly, Time: "06:00", Day: 31, TimeZone: "Asia/Tokyo"}},
	}
	for _, tt := range tests {
		s, err := tt.body.Canonical()
		if err != nil {
			t.Fatalf("%+v: %v", tt.body, err)
		}
		if s.Title != strings.TrimSpace(tt.body.Title) || strings.Join(s.ObjectTypes, ",") != tt.types || s.MaxFailures != tt.failures || s.Spec != tt.when {
			t.Errorf("%+v: got %+v", tt.body, s)
		}
	}
}
