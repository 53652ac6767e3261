package schedule

import (
	"strings"
	"testing"
	"time"
)

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04 MST", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// runs lists the first n runs after from, in the schedule's zone.
func runs(t *testing.T, s Spec, from time.Time, n int) []string {
	t.Helper()
	loc, _ := time.LoadLocation(s.TimeZone)
	var out []string
	for i := 0; i < n; i++ {
		next, ok, err := s.Next(from)
		if err != nil || !ok {
			t.Fatalf("Next(%s): %v %v", from, ok, err)
		}
		out = append(out, next.In(loc).Format("2006-01-02 15:04 MST"))
		from = next
	}
	return out
}

func TestNextAcrossDaylightSaving(t *testing.T) {
	ny, berlin := "America/New_York", "Europe/Berlin"
	tests := []struct {
		name string
		spec Spec
		from time.Time
		want []string
	}{
		{"daily in the skipped hour runs when the gap ends", Spec{Frequency: Daily, Time: "02:30", TimeZone: ny}, at(t, ny, "2026-03-06 12:00 EST"),
			[]string{"2026-03-07 02:30 EST", "2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"}},
		{"daily in the repeated hour runs once", Spec{Frequency: Daily, Time: "01:30", TimeZone: ny}, at(t, ny, "2026-10-31 12:00 EDT"),
			[]string{"2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"}},
		{"hourly over the repeated hour runs each real hour", Spec{Frequency: Hourly, Time: "00:15", TimeZone: ny}, at(t, ny, "2026-11-01 00:20 EDT"),
			[]string{"2026-11-01 01:15 EDT", "2026-11-01 01:15 EST", "2026-11-01 02:15 EST"}},
		{"hourly from inside the first repeated hour runs at its own :30 (Berlin)", Spec{Frequency: Hourly, Time: "00:30", TimeZone: berlin}, at(t, berlin, "2026-10-25 02:10 CEST"),
			[]string{"2026-10-25 02:30 CEST", "2026-10-25 02:30 CET", "2026-10-25 03:30 CET"}},
		{"hourly from inside the first repeated hour (New York)", Spec{Frequency: Hourly, Time: "00:15", TimeZone: ny}, at(t, ny, "2026-11-01 01:05 EDT"),
			[]string{"2026-11-01 01:15 EDT", "2026-11-01 01:15 EST", "2026-11-01 02:15 EST"}},
		{"hourly over the skipped hour misses no real hour", Spec{Frequency: Hourly, Time: "00:15", TimeZone: ny}, at(t, ny, "2026-03-08 00:20 EST"),
			[]string{"2026-03-08 01:15 EST", "2026-03-08 03:15 EDT", "2026-03-08 04:15 EDT"}},
		{"weekly Sunday 02:30 Berlin on the change day", Spec{Frequency: Weekly, Weekday: time.Sunday, Time: "02:30", TimeZone: berlin}, at(t, berlin, "2026-03-23 00:00 CET"),
			[]string{"2026-03-29 03:00 CEST", "2026-04-05 02:30 CEST"}},
		{"weekly Sunday 02:30 Berlin in the repeated hour", Spec{Frequency: Weekly, Weekday: time.Sunday, Time: "02:30", TimeZone: berlin}, at(t, berlin, "2026-10-20 00:00 CEST"),
			[]string{"2026-10-25 02:30 CEST", "2026-11-01 02:30 CET"}},
		{"monthly on the 31st runs on short months' last day", Spec{Frequency: Monthly, Day: 31, Time: "06:00", TimeZone: "UTC"}, at(t, "UTC", "2027-01-31 07:00 UTC"),
			[]string{"2027-02-28 06:00 UTC", "2027-03-31 06:00 UTC", "2027-04-30 06:00 UTC"}},
		{"half-hour zone, hourly on the hour", Spec{Frequency: Hourly, Time: "00:00", TimeZone: "Asia/Kolkata"}, at(t, "Asia/Kolkata", "2026-06-01 10:10 IST"),
			[]string{"2026-06-01 11:00 IST", "2026-06-01 12:00 IST"}},
		{"a gap at midnight (Santiago) runs when it ends, on the same date", Spec{Frequency: Daily, Time: "00:30", TimeZone: "America/Santiago"}, at(t, "America/Santiago", "2026-09-05 12:00 -04"),
			[]string{"2026-09-06 01:00 -03", "2026-09-07 00:30 -03"}},
		{"default zone is UTC", Spec{Frequency: Daily, Time: "23:59"}, at(t, "UTC", "2026-06-01 23:59 UTC"),
			[]string{"2026-06-02 23:59 UTC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.spec.TimeZone == "" {
				tt.spec.TimeZone = "UTC"
				defer func() { tt.spec.TimeZone = "" }()
			}
			got := runs(t, tt.spec, tt.from, len(tt.want))
			if strings.Join(got, ", ") != strings.Join(tt.want, ", ") {
				t.Fatalf("runs:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestOnce(t *testing.T) {
	now := at(t, "UTC", "2026-06-01 12:00 UTC")
	s := Spec{Frequency: Once, At: "2026-06-01T14:30", TimeZone: "Europe/Berlin"}
	next, ok, err := s.Next(now)
	if err != nil || !ok || !next.Equal(at(t, "UTC", "2026-06-01 12:30 UTC")) {
		t.Fatalf("once: %s %v %v", next, ok, err)
	}
	if _, ok, _ := s.Next(next); ok {
		t.Fatal("a once schedule runs again")
	}
	if next, ok, _ := (Spec{Frequency: Once}).Next(now); !ok || !next.Equal(now) {
		t.Fatalf("once now: %s %v", next, ok)
	}
}

func TestDueCatchesUpOnce(t *testing.T) {
	s := Spec{Frequency: Daily, Time: "06:00"}
	planned := at(t, "UTC", "2026-06-01 06:00 UTC")
	now := at(t, "UTC", "2026-06-04 09:00 UTC") // three runs missed
	run, following, more, err := s.Due(planned, now)
	if err != nil || !run || !more || !following.Equal(at(t, "UTC", "2026-06-05 06:00 UTC")) {
		t.Fatalf("Due: %v %s %v %v", run, following, more, err)
	}
	if run, _, _, _ := s.Due(following, now); run {
		t.Fatal("a run before its time")
	}
	if run, _, more, _ := (Spec{Frequency: Once}).Due(planned, now); !run || more {
		t.Fatalf("once: run %v more %v", run, more)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Frequency: "yearly", Time: "06:00"}, "not one of once, hourly"},
		{Spec{Frequency: "yearly"}, "not one of once, hourly"}, // the frequency is named first, not the missing time
		{Spec{Frequency: Daily, Time: "25:00"}, "not a time of day"},
		{Spec{Frequency: Daily, Time: "06:00", TimeZone: "Mars/Olympus"}, "not an IANA time zone"},
		{Spec{Frequency: Monthly, Time: "06:00", Day: 32}, "day 32"},
		{Spec{Frequency: Weekly, Time: "06:00", Weekday: 7}, "weekday 7"},
		{Spec{Frequency: Once, At: "tomorrow"}, "not a date and time"},
		{Spec{Frequency: Daily, Time: "06:00", TimeZone: "Europe/Berlin"}, ""},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.spec, err, tt.want)
		}
	}
}

// TestNoRunLostOrDoubledInAYear counts a year of runs in zones with and
// without daylight saving (including one that changes at midnight): one a
// day for daily schedules at any time of day, one a week, one a month, and
// one per real hour for hourly ones.
func TestNoRunLostOrDoubledInAYear(t *testing.T) {
	zones := []string{"UTC", "America/New_York", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata"}
	for _, z := range zones {
		loc, _ := time.LoadLocation(z)
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		to := time.Date(2027, 1, 1, 0, 0, 0, 0, loc)
		count := func(s Spec) int {
			n := 0
			for cur := from.Add(-time.Nanosecond); ; n++ {
				next, ok, err := s.Next(cur)
				if err != nil || !ok {
					t.Fatalf("%s %+v: %v", z, s, err)
				}
				if !next.Before(to) {
					return n
				}
				cur = next
			}
		}
		for _, hm := range []string{"00:00", "00:30", "01:30", "02:00", "02:30", "03:00", "12:00", "23:59"} {
			if got := count(Spec{Frequency: Daily, Time: hm, TimeZone: z}); got != 365 {
				t.Errorf("%s daily at %s: %d runs in 2026, want 365", z, hm, got)
			}
		}
		if got := count(Spec{Frequency: Weekly, Weekday: time.Sunday, Time: "02:30", TimeZone: z}); got != 52 {
			t.Errorf("%s weekly: %d runs, want 52", z, got)
		}
		if got := count(Spec{Frequency: Monthly, Day: 31, Time: "02:30", TimeZone: z}); got != 12 {
			t.Errorf("%s monthly: %d runs, want 12", z, got)
		}
		if z == "Australia/Lord_Howe" {
			continue // clocks move 30 minutes there: see the package doc on hourly schedules
		}
		realHours := int(to.Sub(from) / time.Hour)
		if got := count(Spec{Frequency: Hourly, Time: "00:45", TimeZone: z}); got != realHours {
			t.Errorf("%s hourly: %d runs, want %d (real hours)", z, got, realHours)
		}
	}
}
