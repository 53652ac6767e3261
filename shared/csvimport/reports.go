package csvimport

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Reports are UTF-8 with a byte order mark, comma-delimited, so Excel opens
// them with the right characters in every locale. The error report repeats
// the file's header and cells, then Row, Error Code and Error Message; it
// can be fixed and imported again (the import ignores those three columns).
// Cells a spreadsheet would run as formulas are neutralized exactly as
// exports neutralize them (objecttype.Neutralize), and the import undoes it,
// so a fixed error report imports the values the original file had.

// CodeNotProcessed marks the rows of a chunk that failed for good: they
// were neither applied nor validated, and can be imported again as they are.
const CodeNotProcessed = "NOT_PROCESSED"

// ReportCell is how a cell read from an import file is written to a
// report: unchanged when it is already safe, otherwise the value the import
// reads from it (trimmed, neutralization undone), neutralized. Importing
// the report cell gives the same value as importing the original cell.
func ReportCell(raw string) string {
	t := strings.TrimSpace(raw)
	safe := objecttype.Neutralize(objecttype.Unneutralize(t))
	if safe == t && (raw == "" || !strings.ContainsRune(formulaStarts, rune(raw[0]))) {
		return raw
	}
	return safe
}

// formulaStarts are the first characters that make a spreadsheet run a
// cell (as objecttype.Neutralize sees them).
const formulaStarts = "=+-@\t\r"

var bom = []byte{0xEF, 0xBB, 0xBF}

// ResultHeaders are the columns of the results report.
var ResultHeaders = []string{"Row", "Key", "Object ID", "Action"}

// HeaderWriter writes the header row of a report on Flush. The workflow
// writes the header once and appends the chunks' parts after it.
type HeaderWriter struct {
	w      io.Writer
	header []string
}

// NewErrorWriter returns the header writer of the error report of a file
// with the given header.
func NewErrorWriter(w io.Writer, header []string) *HeaderWriter {
	h := append(append([]string(nil), header...), objecttype.ReportHeaders...)
	return &HeaderWriter{w: w, header: h}
}

// NewResultWriter returns the header writer of the results report.
func NewResultWriter(w io.Writer) *HeaderWriter { return &HeaderWriter{w: w, header: ResultHeaders} }

// Flush writes the byte order mark and the header row.
func (h *HeaderWriter) Flush() error {
	if _, err := h.w.Write(bom); err != nil {
		return err
	}
	cw := csv.NewWriter(h.w)
	if err := cw.Write(h.header); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// ErrorPartWriter writes rejected rows (without a header).
type ErrorPartWriter struct {
	cw    *csv.Writer
	width int
}

// NewErrorPartWriter returns a writer of rejected rows of a file with the
// given header.
func NewErrorPartWriter(w io.Writer, header []string) *ErrorPartWriter {
	return &ErrorPartWriter{cw: csv.NewWriter(w), width: len(header)}
}

// Write writes one rejected row: its cells as read (short rows padded to
// the header's width), its row number, its problem codes and messages.
func (e *ErrorPartWriter) Write(d Decision) error {
	cells := make([]string, 0, max(len(d.Cells), e.width)+3)
	for _, c := range d.Cells {
		cells = append(cells, ReportCell(c))
	}
	for len(cells) < e.width {
		cells = append(cells, "")
	}
	codes, msgs := make([]string, 0, len(d.Problems)), make([]string, 0, len(d.Problems))
	seen := map[string]bool{}
	for _, p := range d.Problems {
		if p.Code != "" && !seen[p.Code] {
			seen[p.Code] = true
			codes = append(codes, p.Code)
		}
		msgs = append(msgs, p.Text())
	}
	cells = append(cells, strconv.Itoa(d.Row), strings.Join(codes, "|"), objecttype.Neutralize(strings.Join(msgs, "; ")))
	return e.cw.Write(cells)
}

// Flush flushes buffered rows.
func (e *ErrorPartWriter) Flush() error { e.cw.Flush(); return e.cw.Error() }

// ResultPartWriter writes accepted rows (without a header).
type ResultPartWriter struct{ cw *csv.Writer }

// NewResultPartWriter returns a writer of accepted rows.
func NewResultPartWriter(w io.Writer) *ResultPartWriter {
	return &ResultPartWriter{cw: csv.NewWriter(w)}
}

// Write writes one accepted row: row, key (the object's name; team keys are
// "Name/Site"), object ID and action.
func (r *ResultPartWriter) Write(d Decision, objectID string) error {
	return r.cw.Write([]string{strconv.Itoa(d.Row), objecttype.Neutralize(reportKey(d)), objectID, string(d.Action)})
}

// Flush flushes buffered rows.
func (r *ResultPartWriter) Flush() error { r.cw.Flush(); return r.cw.Error() }
