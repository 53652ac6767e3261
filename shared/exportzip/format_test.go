package exportzip

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// TestFileName: dated or stable, zip or csv, one type or several.
func TestFileName(t *testing.T) {
	agent, _ := objecttype.Lookup("agent")
	q, _ := objecttype.Lookup("queue")
	d := time.Date(2026, 1, 2, 23, 0, 0, 0, time.UTC)
	one, two := []*objecttype.Type{q}, []*objecttype.Type{agent, q}
	tests := []struct {
		prefix string
		types  []*objecttype.Type
		o      exportspec.Options
		want   string
	}{
		{"nightly_", one, exportspec.Options{}, "nightly_Queue_2026-01-02.zip"},
		{"nightly_", one, exportspec.Options{Format: exportspec.FormatZip}, "nightly_Queue_2026-01-02.zip"},
		{"nightly_", one, exportspec.Options{StableName: true}, "nightly_Queue.zip"},
		{"", []*objecttype.Type{agent}, exportspec.Options{StableName: true}, "AgentGAX.zip"},
		{"", two, exportspec.Options{StableName: true}, "Export.zip"},
		{"", two, exportspec.Options{}, "Export_2026-01-02.zip"},
		{"p-", one, exportspec.Options{Format: exportspec.FormatCSV}, "p-Queue_2026-01-02.csv"},
		{"p-", one, exportspec.Options{Format: exportspec.FormatCSV, StableName: true}, "p-Queue.csv"},
	}
	for _, tc := range tests {
		if got := FileName(tc.prefix, tc.types, d, tc.o); got != tc.want {
			t.Errorf("FileName(%q, %d types, %+v) = %q, want %q", tc.prefix, len(tc.types), tc.o, got, tc.want)
		}
	}
	if ZipName("x", one, d) != FileName("x", one, d, exportspec.Options{}) {
		t.Error("ZipName is not FileName with the default options")
	}
}

// TestCSVFormat: format csv writes the bare CSV (BOM, header, rows; no
// ZIP), which imports back unchanged; an empty type gives the header; the
// row after MaxCSVRows and a second type are Invalid errors naming the
// limit and the way out.
func TestCSVFormat(t *testing.T) {
	wt, _ := objecttype.Lookup("work-type")
	site, _ := objecttype.Lookup("site")
	date := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	csvOpts := exportspec.Options{Format: exportspec.FormatCSV}
	write := func(n int) ([]byte, []File, error) {
		var buf bytes.Buffer
		w := ForOptions(&buf, csvOpts, date)
		if err := w.Begin(wt, csvexport.NewLayout(wt, nil)); err != nil {
			return nil, nil, err
		}
		for i := range n {
			if err := w.Write(workType(i)); err != nil {
				return buf.Bytes(), nil, err
			}
		}
		files, err := w.Close()
		return buf.Bytes(), files, err
	}
	for _, n := range []int{0, 1, exportspec.MaxCSVRows} {
		data, files, err := write(n)
		if err != nil {
			t.Fatalf("%d rows: %v", n, err)
		}
		if len(files) != 1 || files[0].Rows != n || files[0].Type != "work-type" || files[0].Name != "WorkType_2026-11-22.csv" {
			t.Fatalf("%d rows: files %+v", n, files)
		}
		if !bytes.HasPrefix(data, []byte("\xEF\xBB\xBFName,Description,Type\r\n")) {
			t.Fatalf("%d rows: not a bare CSV: %q", n, data[:min(len(data), 40)])
		}
		if n == 0 {
			continue // a header-only file, which import refuses as empty
		}
		st := store{}
		for i := range n {
			o := workType(i)
			st[o.Key] = o
		}
		rows := 0
		_, err = csvimport.DecideFile(context.Background(), bytes.NewReader(data), int64(len(data)), wt, csvread.Options{Limits: csvread.DefaultLimits()}, st, func(d csvimport.Decision) error {
			if d.Action != csvimport.ActionUnchanged {
				t.Errorf("row %d: %s %v", d.Row, d.Action, d.Problems)
			}
			rows++
			return nil
		})
		if err != nil || rows != n {
			t.Fatalf("%d rows: re-import read %d rows, %v", n, rows, err)
		}
	}
	_, _, err := write(exportspec.MaxCSVRows + 1)
	if bulkerr.KindOf(err) != bulkerr.Invalid {
		t.Fatalf("row %d: %v, want Invalid", exportspec.MaxCSVRows+1, err)
	}
	for _, s := range []string{"at most 5000 rows", "Work Type", "more than 5000", "format zip"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}

	var buf bytes.Buffer
	w := ForOptions(&buf, csvOpts, date)
	if err := w.Begin(site, csvexport.NewLayout(site, nil)); err != nil {
		t.Fatal(err)
	}
	err = w.Begin(wt, csvexport.NewLayout(wt, nil))
	if bulkerr.KindOf(err) != bulkerr.Invalid || !strings.Contains(err.Error(), "one object type") {
		t.Fatalf("a second type: %v", err)
	}
	if _, err := w.Close(); err == nil {
		t.Fatal("Close after a refused type succeeded")
	}
}

// TestCSVFormatIgnoresSplits: ForOptions with format csv writes one file
// whatever the split fields hold (Validate refuses them; a Writer built
// from unvalidated options still never splits).
func TestCSVFormatIgnoresSplits(t *testing.T) {
	wt, _ := objecttype.Lookup("work-type")
	var buf bytes.Buffer
	w := ForOptions(&buf, exportspec.Options{Format: exportspec.FormatCSV, SplitRows: 2, SplitBytes: 64 << 10}, time.Now())
	if err := w.Begin(wt, csvexport.NewLayout(wt, nil)); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := w.Write(workType(i)); err != nil {
			t.Fatal(err)
		}
	}
	files, err := w.Close()
	if err != nil || len(files) != 1 || files[0].Rows != 10 {
		t.Fatalf("files %+v, %v", files, err)
	}
}
