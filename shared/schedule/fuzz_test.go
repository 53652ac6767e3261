package schedule

import (
	"testing"
	"time"
)

// fuzzZones are zones with daylight-saving rules of every shape (none,
// northern, southern, 30-minute shifts, a fixed offset).
var fuzzZones = []string{"", "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Australia/Sydney", "Asia/Kolkata", "America/Santiago", "Pacific/Chatham"}

// FuzzSpecNext: whatever a client sends as a schedule, Validate and Next
// never panic and agree; a valid recurring schedule's next run is strictly
// after the given instant, the one after it later still, and no gap
// between two runs exceeds a month and a day.
func FuzzSpecNext(f *testing.F) {
	f.Add("daily", uint8(2), "", "02:30", 0, 0, int64(1774740000))
	f.Add("hourly", uint8(4), "", "00:15", 0, 0, int64(1775311200))
	f.Add("monthly", uint8(3), "", "00:00", 0, 31, int64(1772323200))
	f.Add("weekly", uint8(8), "", "23:59", 6, 0, int64(1761350400))
	f.Add("once", uint8(2), "2026-03-29T02:30", "", 0, 0, int64(1774740000))
	f.Add("once", uint8(0), "", "", 0, 0, int64(0))
	f.Add("yearly", uint8(1), "x", "25:00", -1, 99, int64(-5))
	f.Fuzz(func(t *testing.T, freq string, zone uint8, at, tm string, weekday, day int, unix int64) {
		s := Spec{Frequency: Frequency(freq), TimeZone: fuzzZones[int(zone)%len(fuzzZones)], At: at, Time: tm,
			Weekday: time.Weekday(weekday), Day: day}
		// Instants from 1970 to 2200, where zone rules are defined.
		after := time.Unix(unix%(230*365*24*3600), 0).UTC()
		if unix < 0 {
			after = time.Unix(-unix%(230*365*24*3600), 0).UTC()
		}
		verr := s.Validate()
		next, ok, err := s.Next(after)
		if (verr == nil) != (err == nil) {
			t.Fatalf("Validate %v but Next %v for %+v", verr, err, s)
		}
		if err != nil || !ok {
			return
		}
		if s.Frequency == Once {
			if next.Before(after) {
				t.Fatalf("once: next %s before %s", next, after)
			}
			return
		}
		if !next.After(after) {
			t.Fatalf("%+v: next %s not after %s", s, next, after)
		}
		then, ok, err := s.Next(next)
		if err != nil || !ok || !then.After(next) {
			t.Fatalf("%+v: run after %s is %s (%v %v)", s, next, then, ok, err)
		}
		if gap := then.Sub(next); gap > 32*24*time.Hour+2*time.Hour {
			t.Fatalf("%+v: %s between runs %s and %s", s, gap, next, then)
		}
	})
}
