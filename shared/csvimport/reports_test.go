package csvimport_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// randomCell strings together pieces a formula injection or a
// neutralization round trip could trip over.
func randomCell(rng *rand.Rand) string {
	pieces := []string{"=", "+", "-", "@", "'", "\t", " ", "1", "a", "SUM(A1)", "\r", "|", "\"", ",", "5", ".", "é"}
	var b strings.Builder
	for range rng.IntN(5) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// TestReportCellIsSafeAndImportsTheSameValue (property): whatever a cell
// holds, its report cell is one a spreadsheet will not run as a formula
// (exactly as exports neutralize), and importing it gives the value the
// original cell gave.
func TestReportCellIsSafeAndImportsTheSameValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for range 20000 {
		raw := randomCell(rng)
		rc := csvimport.ReportCell(raw)
		if rc != "" && strings.ContainsRune("=+-@\t\r", rune(rc[0])) && objecttype.Neutralize(rc) != rc {
			t.Fatalf("ReportCell(%q) = %q, which a spreadsheet runs", raw, rc)
		}
		imported := func(c string) string { return objecttype.Unneutralize(strings.TrimSpace(c)) }
		if imported(rc) != imported(raw) {
			t.Fatalf("ReportCell(%q) = %q imports as %q, the original as %q", raw, rc, imported(rc), imported(raw))
		}
	}
}

// TestErrorReportReimportsUnchanged (property): a file of random cells and
// its error report (every row written back as rejected) decide the same,
// row for row: same action, same stored fields, same problems.
func TestErrorReportReimportsUnchanged(t *testing.T) {
	ty, err := objecttype.Lookup("work-type")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 20 {
		var orig bytes.Buffer
		header := []string{"Name", "Description", "Type"}
		cw := csv.NewWriter(&orig)
		cw.Write(header)
		var rows [][]string
		for i := range 50 {
			row := []string{fmt.Sprintf("N%d%s", i, strings.TrimSpace(randomCell(rng))), randomCell(rng), []string{"IDLE_CODE", "=IDLE_CODE", "'=x", "-1"}[rng.IntN(4)]}
			rows = append(rows, row)
			cw.Write(row)
		}
		cw.Flush()
		var report bytes.Buffer
		if err := csvimport.NewErrorWriter(&report, header).Flush(); err != nil {
			t.Fatal(err)
		}
		ew := csvimport.NewErrorPartWriter(&report, header)
		for i, r := range rows {
			if err := ew.Write(csvimport.Decision{Row: i + 2, Cells: r, Action: csvimport.ActionRejected,
				Problems: []objecttype.Problem{{Code: "X", Message: "=HYPERLINK(\"x\")"}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := ew.Flush(); err != nil {
			t.Fatal(err)
		}
		decide := func(raw []byte) []string {
			var out []string
			_, err := csvimport.DecideFile(context.Background(), bytes.NewReader(raw), int64(len(raw)), ty, csvread.Options{}, mapStore{},
				func(d csvimport.Decision) error {
					out = append(out, fmt.Sprintf("%d %s %q %v", d.Row, d.Action, d.Object.Fields, d.Problems))
					return nil
				})
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			return out
		}
		a, b := decide(orig.Bytes()), decide(report.Bytes())
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Fatalf("round %d: the error report decides differently:\n%s\n---\n%s", round, strings.Join(a, "\n"), strings.Join(b, "\n"))
		}
		if strings.Contains(report.String(), ",=HYPERLINK") {
			t.Fatal("the error message is not neutralized")
		}
	}
}
