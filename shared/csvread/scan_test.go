package csvread

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

func typ(t testing.TB, slug string) *objecttype.Type {
	t.Helper()
	ty, err := objecttype.Lookup(slug)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

// readAll re-reads every chunk of plan from the raw bytes, the way the
// workflow's ranged GETs do.
func readAll(t testing.TB, raw []byte, plan Plan) []Record {
	t.Helper()
	var out []Record
	for _, c := range plan.Chunks {
		cr := NewChunkReader(bytes.NewReader(raw[c.Start:c.End]), plan.Format, c.FirstRow)
		n := 0
		for {
			rec, err := cr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("chunk %d: %v", c.Index, err)
			}
			out = append(out, Record{Row: rec.Row, Cells: append([]string(nil), rec.Cells...)})
			n++
		}
		if n != c.Rows {
			t.Fatalf("chunk %d: planned %d rows, read %d", c.Index, c.Rows, n)
		}
	}
	return out
}

func TestScanFormats(t *testing.T) {
	sjis, _ := japanese.ShiftJIS.NewEncoder().String("Name|Description|Type\n営業|受付の窓口|IDLE_CODE\n昼休み|休憩|IDLE_CODE\n")
	cp1252, _ := charmap.Windows1252.NewEncoder().String("Name;Description;Type\r\nMüller Pause;Kaffee für alle;IDLE_CODE\r\nÉté;Señor café;WRAP_UP_CODE\r\n")
	tests := []struct {
		name      string
		raw       string
		encoding  string
		delimiter string
		first     []string
	}{
		{"utf-8 comma LF", "Name,Description,Type\nLunch,Break,IDLE_CODE\nSale,,WRAP_UP_CODE\n", UTF8, ",", []string{"Lunch", "Break", "IDLE_CODE"}},
		{"BOM semicolon CRLF", "\xEF\xBB\xBFName;Description;Type\r\nLunch;\"a; b\";IDLE_CODE\r\nSale;;WRAP_UP_CODE", UTF8, ";", []string{"Lunch", "a; b", "IDLE_CODE"}},
		{"tab", "Name\tDescription\tType\nLunch\tx\tIDLE_CODE\nB\t\tIDLE_CODE\n", UTF8, "\t", []string{"Lunch", "x", "IDLE_CODE"}},
		{"pipe with quoted newline", "Name|Description|Type\nLunch|\"two\nlines\"|IDLE_CODE\nB||IDLE_CODE\n", UTF8, "|", []string{"Lunch", "two\nlines", "IDLE_CODE"}},
		{"windows-1252", cp1252, Windows1252, ";", []string{"Müller Pause", "Kaffee für alle", "IDLE_CODE"}},
		{"shift-jis with pipe", sjis, ShiftJIS, "|", []string{"営業", "受付の窓口", "IDLE_CODE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Scan(strings.NewReader(tt.raw), typ(t, "work-type"), Options{ChunkRows: 1})
			if err != nil {
				t.Fatal(err)
			}
			if plan.Format.Encoding != tt.encoding || plan.Format.Delimiter != tt.delimiter {
				t.Errorf("format %+v, want %s %q", plan.Format, tt.encoding, tt.delimiter)
			}
			if plan.Rows != 2 || len(plan.Chunks) != 2 {
				t.Fatalf("rows %d chunks %d", plan.Rows, len(plan.Chunks))
			}
			recs := readAll(t, []byte(tt.raw), plan)
			if got := strings.Join(recs[0].Cells, "/"); got != strings.Join(tt.first, "/") || recs[0].Row != 2 || recs[1].Row != 3 {
				t.Errorf("first record %q row %d, second row %d", got, recs[0].Row, recs[1].Row)
			}
		})
	}
}

// TestChunksRereadExactly checks that, whatever the chunk size, reading the
// planned byte ranges gives the same records and row numbers as one read,
// with quoted line breaks, blank rows and CRLF.
func TestChunksRereadExactly(t *testing.T) {
	var b strings.Builder
	b.WriteString("Name,Description,Type\r\n")
	for i := range 23 {
		switch {
		case i%7 == 3:
			b.WriteString(",,\r\n") // blank row: skipped, but counted in row numbers
		case i%5 == 0:
			fmt.Fprintf(&b, "Code %d,\"line one\r\nline \"\"two\"\", %d\",IDLE_CODE\r\n", i, i)
		default:
			fmt.Fprintf(&b, "Code %d,plain %d,WRAP_UP_CODE\r\n", i, i)
		}
	}
	raw := []byte(b.String())
	full, err := Scan(bytes.NewReader(raw), typ(t, "work-type"), Options{ChunkRows: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	want := readAll(t, raw, full)
	for _, size := range []int{1, 2, 3, 7, 1000} {
		plan, err := Scan(bytes.NewReader(raw), typ(t, "work-type"), Options{ChunkRows: size})
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, raw, plan)
		if fmt.Sprint(got) != fmt.Sprint(want) || plan.Rows != len(want) {
			t.Fatalf("chunk size %d: records differ\n got %v\nwant %v", size, got, want)
		}
	}
	if len(want) != 20 || want[len(want)-1].Row != 24 {
		t.Fatalf("want 20 data rows ending at row 24, got %d ending at %d", len(want), want[len(want)-1].Row)
	}
}

func TestScanErrors(t *testing.T) {
	utf16 := "\xFF\xFEN\x00a\x00"
	tests := []struct {
		name, raw string
		limits    Limits
		want      string
	}{
		{"empty", "", Limits{}, "the file is empty"},
		{"header only", "Name,Description,Type\n", Limits{}, "no data rows"},
		{"utf-16", utf16, Limits{}, "UTF-16"},
		{"bare quote", "Name,Description,Type\nA,say \"hi\",IDLE_CODE\n", Limits{}, "line 2, column 7"},
		{"unclosed quote", "Name,Description,Type\nA,\"open,IDLE_CODE\n", Limits{}, "line 2"},
		{"unknown header", "Name,Descripton,Type\nA,b,IDLE_CODE\n", Limits{}, `did you mean "Description"`},
		{"duplicate header", "Name,Type,type\nA,IDLE_CODE,IDLE_CODE\n", Limits{}, "appears twice"},
		{"missing required column", "Name,Description\nA,b\n", Limits{}, `no "Type" column`},
		{"row limit", "Name,Type\nA,IDLE_CODE\nB,IDLE_CODE\nC,IDLE_CODE\n", Limits{MaxRows: 2, MaxBytes: 1 << 20}, "more than 2 data rows"},
		{"byte limit", "Name,Type\nA,IDLE_CODE\nB,IDLE_CODE\n", Limits{MaxRows: 10, MaxBytes: 20}, "larger than 20 bytes"},
		{"row limit counts blank lines", "Name,Type\nA,IDLE_CODE\n\n\n\n,,\nB,IDLE_CODE\n", Limits{MaxRows: 3, MaxBytes: 1 << 20}, "line 5: the file has more than 3 data rows, the limit for this tenant (blank lines count toward it)"},
		{"only blank lines", "Name,Type\n" + strings.Repeat("\r\n", 100000), Limits{MaxRows: 5000, MaxBytes: 1 << 20}, "line 5002: the file has more than 5000 data rows"},
		{"a line of commas", "Name,Description,Type\n" + strings.Repeat(",", 1<<20), Limits{MaxRows: 10, MaxBytes: 2 << 20}, "line 2: the row has more than 2000 cells, the limit for one row; check that the delimiter (comma)"},
		{"fields limit", "Name;Type\nA;IDLE_CODE;;;\n", Limits{MaxRows: 10, MaxBytes: 1 << 20, MaxFields: 4}, "line 2: the row has more than 4 cells"},
		{"record bytes", "Name,Type\nA,IDLE_CODE\nB,IDLE_CODE" + strings.Repeat("x", 100) + "\n", Limits{MaxRows: 10, MaxBytes: 1 << 20, MaxRecordBytes: 64}, "line 3: the row is longer than 64 bytes, the limit for one row"},
		{"unclosed quote runs to the record limit", "Name,Description,Type\nA,ok,IDLE_CODE\nB,\"open,IDLE_CODE\n" + strings.Repeat("C,x,IDLE_CODE\n", 20), Limits{MaxRows: 100, MaxBytes: 1 << 20, MaxRecordBytes: 100}, "line 3: a quoted cell opened here is not closed; reading on, the row reached 100 bytes, the limit for one row, at line 9"},
		{"unclosed quote runs to the end", "Name,Description,Type\nA,ok,IDLE_CODE\nB,\"open,IDLE_CODE\nC,x,IDLE_CODE\nD,x,IDLE_CODE\n", Limits{}, "line 3: a quoted cell opened here is not closed properly; the reader gave up at line 5, column 15"},
		{"unclosed quote meets another quote", "Name,Description,Type\nA,\"open,IDLE_CODE\nC,\"x\",IDLE_CODE\n", Limits{}, "line 2: a quoted cell opened here is not closed properly; the reader gave up at line 3, column 3"},
		{"quoted line ends inside the limit", "Name,Description,Type\nA,\"" + strings.Repeat("two\nlines ", 20) + "\",IDLE_CODE\n", Limits{MaxRows: 2, MaxBytes: 1 << 20, MaxRecordBytes: 64}, "line 2: a quoted cell opened here is not closed; reading on, the row reached 64 bytes, the limit for one row, at line 8"},
		{"over the byte limit mid-row", "Name,Type\nA,IDLE_CODE\n\"B" + strings.Repeat("b", 100), Limits{MaxRows: 10, MaxBytes: 40}, "the file is larger than 40 bytes"},
		{"invalid utf-8 later", "Name,Type\n" + strings.Repeat("A,IDLE_CODE\n", 7000) + "B\xff\xfe,IDLE_CODE\n", Limits{MaxRows: 10000, MaxBytes: 1 << 20}, "line 7002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Scan(strings.NewReader(tt.raw), typ(t, "work-type"), Options{Limits: tt.limits})
			if err == nil || bulkerr.KindOf(err) != bulkerr.Invalid || !strings.Contains(bulkerr.Message(err), tt.want) {
				t.Fatalf("err = %v (kind %s), want Invalid containing %q", err, bulkerr.KindOf(err), tt.want)
			}
		})
	}
}

// TestWideAndLongRowsWithinTheBoundsAreRead: a row of exactly MaxFields
// cells and a row of exactly MaxRecordBytes bytes (with quoted line breaks)
// are legal, and long rows make more chunks, not larger ones.
func TestWideAndLongRowsWithinTheBoundsAreRead(t *testing.T) {
	header := "Name,Description,Type"
	wide := header + "\nA,b,IDLE_CODE" + strings.Repeat(",", 10-3) + "\n"
	if _, err := Scan(strings.NewReader(wide), typ(t, "work-type"), Options{Limits: Limits{MaxRows: 10, MaxBytes: 1 << 20, MaxFields: 10}}); err != nil {
		t.Fatalf("a row of exactly MaxFields cells: %v", err)
	}
	row := "A,\"" + strings.Repeat("x\n", 20) + "\",IDLE_CODE\n" // 55 bytes
	long := header + "\n" + row + strings.Replace(row, "A", "B", 1)
	if _, err := Scan(strings.NewReader(long), typ(t, "work-type"), Options{Limits: Limits{MaxRows: 10, MaxBytes: 1 << 20, MaxRecordBytes: len(row)}}); err != nil {
		t.Fatalf("rows of exactly MaxRecordBytes: %v", err)
	}
	var b strings.Builder
	b.WriteString(header + "\n")
	for i := range 100 {
		fmt.Fprintf(&b, "N%03d,%s,IDLE_CODE\n", i, strings.Repeat("d", 100))
	}
	plan, err := Scan(strings.NewReader(b.String()), typ(t, "work-type"), Options{ChunkRows: 1000, ChunkBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Chunks) != 12 {
		t.Fatalf("100 rows of 115 bytes in chunks of 1000 bytes: %d chunks, want 12", len(plan.Chunks))
	}
	if got := readAll(t, []byte(b.String()), plan); len(got) != 100 {
		t.Fatalf("re-read %d rows", len(got))
	}
	plan, err = Scan(strings.NewReader(b.String()), typ(t, "work-type"), Options{ChunkRows: 1000, ChunkCells: 30})
	if err != nil || len(plan.Chunks) != 10 || plan.Chunks[0].Rows != 10 {
		t.Fatalf("100 rows of 3 cells in chunks of 30 cells: %d chunks (%v), want 10 of 10 rows", len(plan.Chunks), err)
	}
}

func TestHeaderMatchingAndDuplicates(t *testing.T) {
	raw := "  TYPE ,description,name\nIDLE_CODE,x,Lunch\nIDLE_CODE,y,  lunch \nWRAP_UP_CODE,z,Sale\nIDLE_CODE,w,LUNCH\n"
	plan, err := Scan(strings.NewReader(raw), typ(t, "work-type"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Duplicates) != 2 || plan.Duplicates[0] != (Duplicate{Row: 3, FirstRow: 2, Key: "lunch"}) || plan.Duplicates[1].Row != 5 {
		t.Fatalf("duplicates %+v", plan.Duplicates)
	}
	// Teams are unique per site: the same name in two sites is no duplicate.
	teams := "Name,Site,Type\nTier 1,Boston,AGENT\nTier 1,Paris,AGENT\ntier 1, boston ,AGENT\n"
	plan, err = Scan(strings.NewReader(teams), typ(t, "team"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Duplicates) != 1 || plan.Duplicates[0].Row != 4 || plan.Duplicates[0].FirstRow != 2 {
		t.Fatalf("team duplicates %+v", plan.Duplicates)
	}
}

func TestWindows1252UndefinedBytesAreRejected(t *testing.T) {
	// 0x81 is undefined in Windows-1252 and invalid UTF-8: the file is
	// neither, and must not be stored as mojibake.
	raw := "Name,Type\nA\x81,IDLE_CODE\n"
	_, err := Scan(strings.NewReader(raw), typ(t, "work-type"), Options{})
	if err == nil || !strings.Contains(bulkerr.Message(err), "CSV UTF-8") {
		t.Fatalf("err = %v", err)
	}
}

func TestShiftJISLongLine(t *testing.T) {
	long := strings.Repeat("受付", 40000) // 160 KB in Shift-JIS, longer than the read buffer
	sjis, err := japanese.ShiftJIS.NewEncoder().String("Name,Description,Type\n営業," + long + ",IDLE_CODE\n昼,x,IDLE_CODE\n")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Scan(strings.NewReader(sjis), typ(t, "work-type"), Options{ChunkRows: 1, Limits: LargeLimits()})
	if err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, []byte(sjis), plan)
	if plan.Format.Encoding != ShiftJIS || len(recs) != 2 || recs[0].Cells[1] != long || recs[1].Cells[0] != "昼" {
		t.Fatalf("format %+v, %d records", plan.Format, len(recs))
	}
}

// TestUTF8CheckedExactlyAcrossBuffers: an invalid byte deep in a UTF-8 file
// is reported on its line, in Scan and in chunk reads; a valid line longer
// than the read buffer, whose characters straddle buffer boundaries, is
// accepted.
func TestUTF8CheckedExactlyAcrossBuffers(t *testing.T) {
	ty := typ(t, "work-type")
	var long bytes.Buffer
	long.WriteString("Name,Description,Type\n")
	fmt.Fprintf(&long, "Long,%s,IDLE_CODE\n", strings.Repeat("é", 150_000)) // 300 KB line, odd and even offsets
	for i := range 3000 {
		fmt.Fprintf(&long, "Code %d,ünïcödé,IDLE_CODE\n", i)
	}
	plan, err := Scan(bytes.NewReader(long.Bytes()), ty, Options{Limits: LargeLimits(), ChunkRows: 700})
	if err != nil {
		t.Fatalf("valid file: %v", err)
	}
	if got := len(readAll(t, long.Bytes(), plan)); got != 3001 {
		t.Fatalf("read %d rows, want 3001", got)
	}

	bad := bytes.Replace(long.Bytes(), []byte("Code 2500,ü"), []byte("Code 2500,\xfc\xfc"), 1) // same length: the plan of the valid file applies
	_, err = Scan(bytes.NewReader(bad), ty, Options{Limits: LargeLimits(), ChunkRows: 700})
	if err == nil || !strings.Contains(err.Error(), "line 2503, field 2 is not valid UTF-8") {
		t.Fatalf("invalid byte on line 2503: %v", err)
	}
	// The chunk holding the bad row fails the same way on its own.
	for _, c := range plan.Chunks {
		cr := NewChunkReader(bytes.NewReader(bad[c.Start:c.End]), plan.Format, c.FirstRow)
		var err error
		for err == nil {
			_, err = cr.Next()
		}
		if c.FirstRow <= 2503 && 2503 < c.FirstRow+c.Rows {
			if !strings.Contains(err.Error(), "not valid UTF-8") {
				t.Fatalf("chunk %d with the bad row: %v", c.Index, err)
			}
		} else if !errors.Is(err, io.EOF) {
			t.Fatalf("chunk %d: %v", c.Index, err)
		}
	}
}
