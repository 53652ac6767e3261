package exportzip

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// part is one CSV file of a ZIP as read back.
type part struct {
	name string
	raw  []byte
	recs [][]string
}

func readZip(t *testing.T, b []byte) []part {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out []part
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) {
			t.Fatalf("%s has no BOM", f.Name)
		}
		recs, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, part{name: f.Name, raw: raw, recs: recs})
	}
	return out
}

// writeZip exports n work types (description of pad bytes, every 7th a
// formula) with o.
func writeZip(t *testing.T, o exportspec.Options, n, pad int) ([]byte, []File) {
	t.Helper()
	wt, _ := objecttype.Lookup("work-type")
	p, err := csvexport.NewPlan(wt, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := ForOptions(&buf, o, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	if err := w.Begin(wt, p.Layout()); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ob := workType(i)
		if pad > 0 {
			ob.Fields["description"] = fmt.Sprintf("%0*d", pad, i)
		}
		if err := w.Write(ob); err != nil {
			t.Fatal(err)
		}
	}
	files, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), files
}

// TestSplitOptions: parts by rows and by bytes, each with its BOM and
// header, no row lost or repeated; neutralization can be turned off.
func TestSplitOptions(t *testing.T) {
	cases := []struct {
		name      string
		opts      exportspec.Options
		n, pad    int
		wantParts int
		maxBytes  int64
	}{
		{"default 5,000 rows", exportspec.Options{}, 5001, 0, 2, 0},
		{"rows", exportspec.Options{SplitRows: 3}, 10, 0, 4, 0},
		{"one row per part", exportspec.Options{SplitRows: 1}, 3, 0, 3, 0},
		// rows of 1,000-digit descriptions: 65,536 bytes hold 64 rows
		// (3 + 23 header + 64 × ~1,030), so 200 rows take 4 parts
		{"bytes", exportspec.Options{SplitBytes: exportspec.MinBytesPerFile}, 200, 1000, 4, exportspec.MinBytesPerFile},
		{"bytes and rows, rows first", exportspec.Options{SplitBytes: exportspec.MinBytesPerFile, SplitRows: 10}, 25, 1000, 3, exportspec.MinBytesPerFile},
		{"a row larger than the limit gets its own part", exportspec.Options{SplitBytes: exportspec.MinBytesPerFile}, 3, 70000, 3, 0},
		{"no neutralization", exportspec.Options{NoNeutralize: true}, 8, 0, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, files := writeZip(t, c.opts, c.n, c.pad)
			parts := readZip(t, raw)
			if len(parts) != c.wantParts || len(files) != c.wantParts {
				t.Fatalf("%d parts (%d listed), want %d", len(parts), len(files), c.wantParts)
			}
			next := 0
			for i, p := range parts {
				if strings.Join(p.recs[0], ",") != "Name,Description,Type" {
					t.Fatalf("%s: header %v", p.name, p.recs[0])
				}
				if want := fmt.Sprintf("WorkType_2026-11-22_%03d.csv", i+1); p.name != want || files[i].Name != want {
					t.Fatalf("part %d is %s, want %s", i+1, p.name, want)
				}
				if files[i].Rows != len(p.recs)-1 || files[i].Rows > c.opts.Rows() || files[i].Rows == 0 {
					t.Fatalf("%s: %d rows, listed %d", p.name, len(p.recs)-1, files[i].Rows)
				}
				if c.maxBytes > 0 && int64(len(p.raw)) > c.maxBytes {
					t.Fatalf("%s: %d bytes, more than %d", p.name, len(p.raw), c.maxBytes)
				}
				if c.maxBytes > 0 && i < len(parts)-1 && files[i].Rows < c.opts.Rows() && int64(len(p.raw)+firstRowLen(parts[i+1].raw)) <= c.maxBytes {
					t.Fatalf("%s: split at %d bytes, but the next row fitted", p.name, len(p.raw))
				}
				for _, r := range p.recs[1:] {
					if r[0] != fmt.Sprintf("Code %06d", next) {
						t.Fatalf("%s: row %q, want Code %06d", p.name, r[0], next)
					}
					if next%7 == 0 && c.pad == 0 {
						formula := strings.HasPrefix(r[1], "=")
						if formula != c.opts.NoNeutralize {
							t.Fatalf("%s: formula cell %q with NoNeutralize %v", p.name, r[1], c.opts.NoNeutralize)
						}
					}
					next++
				}
			}
			if next != c.n {
				t.Fatalf("%d rows in the parts, want %d", next, c.n)
			}
		})
	}
}

// TestForOptionsDefault: the zero Options write exactly what New(w, 0, d)
// writes.
func TestForOptionsDefault(t *testing.T) {
	wt, _ := objecttype.Lookup("work-type")
	d := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	write := func(w *Writer, buf *bytes.Buffer) []byte {
		if err := w.Begin(wt, csvexport.NewLayout(wt, nil)); err != nil {
			t.Fatal(err)
		}
		for i := range 5003 {
			if err := w.Write(workType(i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	var a, b bytes.Buffer
	if !bytes.Equal(write(New(&a, 0, d), &a), write(ForOptions(&b, exportspec.Options{}, d), &b)) {
		t.Fatal("ForOptions with the zero Options differs from New")
	}
}

// firstRowLen is the length of the first data row of a part (CRLF
// included; the rows here have no line breaks in cells).
func firstRowLen(raw []byte) int {
	lines := bytes.SplitAfterN(raw, []byte("\r\n"), 3)
	if len(lines) < 2 {
		return 0
	}
	return len(lines[1])
}
