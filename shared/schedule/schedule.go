// Package schedule is the scheduled export: what a user defines of it
// (Definition) and when that is valid, its state (Schedule) and when it may
// be edited, deleted or resumed, when failed runs suspend it and why, and
// its runs (Run). The store (dynamostore) keeps these as they are decided
// here; the API (httpapi) and its wire types (bulkapi) show them. It
// imports nothing from AWS.
//
// This file computes when a schedule runs: once, hourly, daily, weekly or
// monthly, in an IANA time zone (default UTC).
//
// Daylight-saving time, as users expect it of a wall clock:
//   - a daily, weekly or monthly time that does not exist on a day (it falls
//     in the hour skipped when clocks go forward) runs at the first instant
//     after the gap, so no run is lost;
//   - a time that exists twice (the hour repeated when clocks go back) runs
//     once, at its first occurrence;
//   - hourly schedules run every real hour at the given minute, so the
//     repeated hour is two real hours and runs twice, and the skipped hour
//     does not exist and is not run: no real hour is missed or doubled
//     (where clocks move by 30 minutes, as on Lord Howe Island, they follow
//     the wall clock's minute, so one interval is 30 or 90 minutes);
//   - a monthly day that a month lacks (the 31st in April) runs on the
//     month's last day.
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Frequency is how often a schedule runs.
type Frequency string

// Frequencies.
const (
	Once    Frequency = "once"
	Hourly  Frequency = "hourly"
	Daily   Frequency = "daily"
	Weekly  Frequency = "weekly"
	Monthly Frequency = "monthly"
)

// Spec is when a schedule runs.
type Spec struct {
	Frequency Frequency `json:"frequency"`
	// TimeZone is an IANA name; empty means UTC.
	TimeZone string `json:"timeZone,omitempty"`
	// At is the wall-clock date and time of a Once schedule,
	// "2006-01-02T15:04" in TimeZone; empty means "now" (run at once).
	At string `json:"at,omitempty"`
	// Time is the wall-clock time "15:04" of daily, weekly and monthly
	// schedules; for hourly ones only its minutes count.
	Time string `json:"time,omitempty"`
	// Weekday of weekly schedules (0 = Sunday).
	Weekday time.Weekday `json:"weekday,omitempty"`
	// Day of the month of monthly schedules, 1 to 31.
	Day int `json:"day,omitempty"`
}

// checked is a validated Spec.
type checked struct {
	Spec
	loc          *time.Location
	hour, minute int
	at           time.Time
}

func (s Spec) check() (checked, error) {
	c := checked{Spec: s, loc: time.UTC}
	bad := func(format string, args ...any) (checked, error) {
		return checked{}, bulkerr.New(bulkerr.Invalid, format, args...)
	}
	switch s.Frequency {
	case Once, Hourly, Daily, Weekly, Monthly:
	default:
		return bad("frequency %q is not one of once, hourly, daily, weekly, monthly", s.Frequency)
	}
	if s.TimeZone != "" {
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil || s.TimeZone == "Local" {
			return bad("timeZone %q is not an IANA time zone such as Europe/Berlin", s.TimeZone)
		}
		c.loc = loc
	}
	if s.Frequency != Once {
		t, err := time.Parse("15:04", s.Time)
		if err != nil {
			return bad("time %q is not a time of day such as 06:30 (24-hour clock)", s.Time)
		}
		c.hour, c.minute = t.Hour(), t.Minute()
	}
	switch s.Frequency {
	case Once:
		if s.At != "" {
			t, err := time.ParseInLocation("2006-01-02T15:04", s.At, c.loc)
			if err != nil {
				return bad("at %q is not a date and time such as 2026-12-01T06:30", s.At)
			}
			c.at = wall(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), c.loc)
		}
	case Hourly, Daily:
	case Weekly:
		if s.Weekday < time.Sunday || s.Weekday > time.Saturday {
			return bad("weekday %d is not 0 (Sunday) to 6 (Saturday)", s.Weekday)
		}
	case Monthly:
		if s.Day < 1 || s.Day > 31 {
			return bad("day %d is not a day of the month from 1 to 31 (days a month lacks run on its last day)", s.Day)
		}
	default:
		return bad("frequency %q is not one of once, hourly, daily, weekly, monthly", s.Frequency)
	}
	return c, nil
}

// Location is the schedule's time zone (UTC when empty or unknown): file
// names of its exports carry the date there.
func (s Spec) Location() *time.Location {
	if s.TimeZone == "" || s.TimeZone == "Local" {
		return time.UTC
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Validate reports what is wrong with s, as an Invalid error.
func (s Spec) Validate() error {
	_, err := s.check()
	return err
}

// Next is the first run strictly after after, and false when there is none
// (a Once schedule whose time has passed). A Once schedule without At runs
// at after itself.
func (s Spec) Next(after time.Time) (time.Time, bool, error) {
	c, err := s.check()
	if err != nil {
		return time.Time{}, false, err
	}
	switch s.Frequency {
	case Once:
		if c.at.IsZero() {
			return after, true, nil
		}
		return c.at, c.at.After(after), nil
	case Hourly:
		base := after.In(c.loc)
		t := time.Date(base.Year(), base.Month(), base.Day(), base.Hour(), c.minute, 0, 0, c.loc)
		// In the hour repeated when clocks go back, Go may resolve the
		// wall time to its second occurrence; the first one, if still
		// ahead, is the next run (else that hour would be skipped).
		if earlier := t.Add(-time.Hour); earlier.After(after) && sameWall(earlier.In(c.loc), t.In(c.loc)) {
			t = earlier
		}
		for !t.After(after) {
			t = t.Add(time.Hour)
		}
		return t, true, nil
	}
	d := after.In(c.loc)
	for i := 0; i < 800; i++ { // at most a little over two years of days
		day := time.Date(d.Year(), d.Month(), d.Day()+i, 12, 0, 0, 0, c.loc)
		if !c.onDay(day) {
			continue
		}
		if t := wall(day.Year(), day.Month(), day.Day(), c.hour, c.minute, c.loc); t.After(after) {
			return t, true, nil
		}
	}
	return time.Time{}, false, bulkerr.New(bulkerr.Internal, "no run of %+v within two years", s)
}

// sameWall reports whether a and b show the same wall-clock date and time.
func sameWall(a, b time.Time) bool {
	return a.Year() == b.Year() && a.YearDay() == b.YearDay() && a.Hour() == b.Hour() && a.Minute() == b.Minute()
}

// onDay reports whether the schedule runs on the date of day.
func (c checked) onDay(day time.Time) bool {
	switch c.Frequency {
	case Weekly:
		return day.Weekday() == c.Weekday
	case Monthly:
		last := time.Date(day.Year(), day.Month()+1, 0, 12, 0, 0, 0, c.loc).Day()
		return day.Day() == min(c.Day, last)
	}
	return true
}

// wall is the instant a wall clock in loc shows the date and time; a time
// in a skipped hour is the first instant after the gap, a repeated time
// its first occurrence.
func wall(y int, m time.Month, d, h, min int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, h, min, 0, 0, loc)
	if t.Hour() != h || t.Minute() != min {
		// In a gap: Go normalized it to one side of the gap (which side is
		// not specified). The gap ends where the later zone period starts:
		// the end of t's period if t landed before the gap, its start if
		// t landed after it.
		start, end := t.ZoneBounds()
		asked := time.Date(y, m, d, h, min, 0, 0, time.UTC)
		got := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
		if got.Before(asked) {
			return end
		}
		return start
	}
	// A repeated time: Go may give either occurrence; take the first.
	if earlier := t.Add(-time.Hour); earlier.In(loc).Hour() == h && earlier.In(loc).Minute() == min {
		return earlier
	}
	return t
}

// Due decides one dispatcher tick for a schedule whose next run was planned
// for next: it runs when next has come (missed runs are caught up once, not
// one by one), and the run after it is the first planned run after now.
func (s Spec) Due(next, now time.Time) (run bool, following time.Time, more bool, err error) {
	if now.Before(next) {
		return false, next, true, nil
	}
	if s.Frequency == Once {
		return true, time.Time{}, false, nil
	}
	following, more, err = s.Next(now)
	return true, following, more, err
}

// Describe is the schedule in words, for lists and e-mails.
func (s Spec) Describe() string {
	tz := s.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	switch s.Frequency {
	case Once:
		if s.At == "" {
			return "once, now"
		}
		return fmt.Sprintf("once at %s %s", strings.Replace(s.At, "T", " ", 1), tz)
	case Hourly:
		return fmt.Sprintf("hourly at minute %s", s.Time[min(len(s.Time), 3):])
	case Daily:
		return fmt.Sprintf("daily at %s %s", s.Time, tz)
	case Weekly:
		return fmt.Sprintf("weekly on %s at %s %s", s.Weekday, s.Time, tz)
	case Monthly:
		return fmt.Sprintf("monthly on day %d at %s %s", s.Day, s.Time, tz)
	}
	return string(s.Frequency)
}
