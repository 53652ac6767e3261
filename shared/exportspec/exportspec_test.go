package exportspec

import (
	"testing"
	"time"
)

func TestRangeEqual(t *testing.T) {
	a := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a2 := a.In(time.FixedZone("x", 3600)) // the same instant
	b := a.Add(time.Hour)
	tests := []struct {
		name string
		r, o Range
		want bool
	}{
		{"zero and all", Range{}, Range{Mode: RangeAll}, true},
		{"all and incremental", Range{}, Range{Mode: RangeIncremental}, false},
		{"same interval, other pointers", Range{Mode: RangeInterval, From: &a}, Range{Mode: RangeInterval, From: &a2}, true},
		{"other from", Range{Mode: RangeInterval, From: &a}, Range{Mode: RangeInterval, From: &b}, false},
		{"to added", Range{Mode: RangeInterval, From: &a}, Range{Mode: RangeInterval, From: &a, To: &b}, false},
	}
	for _, tc := range tests {
		if got := tc.r.Equal(tc.o); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWindowFor(t *testing.T) {
	run := time.Date(2026, 6, 4, 9, 0, 0, 0, time.UTC)
	hw := run.Add(-24 * time.Hour)
	from, to := run.Add(-48*time.Hour), run.Add(-time.Hour)
	tests := []struct {
		name string
		o    Options
		want Window
	}{
		{"all", Options{}, Window{}},
		{"interval", Options{Range: Range{Mode: RangeInterval, From: &from, To: &to}}, Window{From: from, To: to}},
		{"open interval", Options{Range: Range{Mode: RangeInterval, From: &from}}, Window{From: from}},
		{"incremental", Options{Range: Range{Mode: RangeIncremental}}, Window{From: hw, To: run}},
	}
	for _, tc := range tests {
		got := tc.o.WindowFor(run, hw)
		if !got.From.Equal(tc.want.From) || !got.To.Equal(tc.want.To) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	w := Window{From: from, To: to}
	if !w.Contains(from) || w.Contains(to) || w.Contains(from.Add(-time.Nanosecond)) {
		t.Error("a window holds From and not To")
	}
}
