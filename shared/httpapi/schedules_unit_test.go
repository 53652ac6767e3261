package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// TestNextRun: once without a time runs now (the next dispatcher tick),
// once in the past is refused naming when.at, recurring specs run strictly
// after now in their zone.
func TestNextRun(t *testing.T) {
	now := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC) // the night Europe/Berlin skips 02:00-03:00
	tests := []struct {
		spec    schedule.Spec
		want    time.Time
		wantErr string
	}{
		{schedule.Spec{Frequency: schedule.Once}, now, ""},
		{schedule.Spec{Frequency: schedule.Once, At: "2026-03-29T09:15", TimeZone: "Europe/Berlin"}, time.Date(2026, 3, 29, 7, 15, 0, 0, time.UTC), ""},
		{schedule.Spec{Frequency: schedule.Once, At: "2026-03-28T09:15"}, time.Time{}, "when.at 2026-03-28T09:15 (UTC) has passed"},
		{schedule.Spec{Frequency: schedule.Daily, Time: "02:30", TimeZone: "Europe/Berlin"}, time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), ""},
		{schedule.Spec{Frequency: schedule.Hourly, Time: "00:30"}, now.Add(time.Hour), ""},
		{schedule.Spec{Frequency: schedule.Daily, Time: "6"}, time.Time{}, "when: time"},
	}
	for _, tt := range tests {
		got, err := nextRun(tt.spec, now)
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
		body     scheduleBody
		types    string
		failures int
		when     schedule.Spec
	}{
		{scheduleBody{Title: " T ", ObjectTypes: []string{"Queue", "queue", "Work Type"}, When: schedule.Spec{Frequency: schedule.Daily, Time: "06:00", At: "2026-01-01T00:00", Day: 3, Weekday: 2}},
			"queue,work-type", 1, schedule.Spec{Frequency: schedule.Daily, Time: "06:00"}},
		{scheduleBody{Title: "T", ObjectTypes: []string{"site"}, MaxFailures: &zero, When: schedule.Spec{Frequency: schedule.Once, Time: "06:00", At: "2026-01-01T00:00"}},
			"site", 1, schedule.Spec{Frequency: schedule.Once, At: "2026-01-01T00:00"}},
		{scheduleBody{Title: "T", ObjectTypes: []string{"site"}, MaxFailures: &five, When: schedule.Spec{Frequency: schedule.Weekly, Time: "06:00", Weekday: 3, Day: 9}},
			"site", 5, schedule.Spec{Frequency: schedule.Weekly, Time: "06:00", Weekday: 3}},
		{scheduleBody{Title: "T", ObjectTypes: []string{"site"}, When: schedule.Spec{Frequency: schedule.Monthly, Time: "06:00", Weekday: 3, Day: 31, TimeZone: "Asia/Tokyo"}},
			"site", 1, schedule.Spec{Frequency: schedule.Monthly, Time: "06:00", Day: 31, TimeZone: "Asia/Tokyo"}},
	}
	for _, tt := range tests {
		s, err := definition(tt.body)
		if err != nil {
			t.Fatalf("%+v: %v", tt.body, err)
		}
		if s.Title != strings.TrimSpace(tt.body.Title) || strings.Join(s.ObjectTypes, ",") != tt.types || s.MaxFailures != tt.failures || s.Spec != tt.when {
			t.Errorf("%+v: got %+v", tt.body, s)
		}
	}
}
