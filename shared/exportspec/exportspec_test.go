package exportspec

import (
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
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

// TestFormatOptions: format and stable name are checked up front (an
// unknown format, splits with csv, csv over several types) with errors
// that name the limit, and choose the file's extension and media type.
func TestFormatOptions(t *testing.T) {
	tests := []struct {
		name  string
		o     Options
		types []string
		want  string // "" when valid; else a piece of the message
	}{
		{"default", Options{}, []string{"queue", "site"}, ""},
		{"zip stable", Options{Format: FormatZip, StableName: true}, []string{"queue", "site"}, ""},
		{"csv one type", Options{Format: FormatCSV, StableName: true, Fields: []string{"Name"}}, []string{"queue"}, ""},
		{"unknown format", Options{Format: "xlsx"}, []string{"queue"}, `format "xlsx" is not zip or csv`},
		{"csv split rows", Options{Format: FormatCSV, SplitRows: 100}, []string{"queue"}, "splitRows and splitBytes split a zip"},
		{"csv split bytes", Options{Format: FormatCSV, SplitBytes: MinBytesPerFile}, []string{"queue"}, "at most 5000 rows"},
		{"csv two types", Options{Format: FormatCSV}, []string{"queue", "site"}, "one object type as one CSV of at most 5000 rows; this export names 2 types (queue, site)"},
		{"csv no type", Options{Format: FormatCSV}, nil, "names 0 types"},
	}
	for _, tc := range tests {
		err := tc.o.Validate()
		if err == nil {
			err = tc.o.ValidateTypes(tc.types)
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (bulkerr.KindOf(err) != bulkerr.Invalid || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want Invalid saying %q", tc.name, err, tc.want)
		}
	}
	if o := (Options{}); o.Ext() != ".zip" || o.ContentType() != "application/zip" || o.IsCSV() {
		t.Error("the default is not a zip")
	}
	if o := (Options{Format: FormatCSV}); o.Ext() != ".csv" || !strings.HasPrefix(o.ContentType(), "text/csv") || !o.IsCSV() {
		t.Error("csv is not a csv")
	}
	for _, tc := range []struct {
		n    int
		want string
	}{{-1, "has more than 5000"}, {7200, "has 7200"}} {
		err := CSVRowsError("Queue", tc.n)
		if bulkerr.KindOf(err) != bulkerr.Invalid || !strings.Contains(err.Error(), "the Queue export "+tc.want) || !strings.Contains(err.Error(), "at most 5000 rows") {
			t.Errorf("CSVRowsError(%d) = %v", tc.n, err)
		}
	}
}
