// Package retry builds and starts the retry of a finished import's
// rejected rows (POST /v1/jobs/{id}/retry): a new import file holding
// exactly the rows the job's error report lists, read from the job's
// pinned source version, and a new job over it through the ordinary
// import path. It imports nothing from AWS.
//
// What a retry file holds, and why no row is ever applied twice:
//   - only rows the error report lists (rejected rows, and the NOT_PROCESSED
//     rows of chunks that failed); a row the results report lists as applied
//     is left out even if the error report named it too;
//   - rows rejected as a duplicate of an earlier row (DUPLICATE_KEY) are left
//     out: their cause is inside the file, and retrying one would overwrite
//     the row that won;
//   - every row once, in the original order; rows are upserted by name, so a
//     NOT_PROCESSED row a failed chunk had written anyway comes out
//     unchanged.
//
// The cells are the source's cells as the import decoded them (any
// encoding or delimiter), written as UTF-8 CSV with a byte order mark under
// the source's header, so the retry imports exactly the values of the
// original row. Error reports neutralize formula-like cells; reading the
// source avoids undoing that. Only when the source version has expired
// (uploads are kept 30 days, reports a year) are the report's own cells
// used: the report's contract (csvimport.ReportCell) is that importing a
// report cell gives the same value as importing the original cell.
package retry

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Stats tell what a retry file holds and what it left out.
type Stats struct {
	// Rows is the number of data rows written.
	Rows int `json:"rows"`
	// Duplicates is the number of rejected rows left out because they
	// repeated an earlier row's key.
	Duplicates int `json:"duplicates"`
	// Applied is the number of rows the error report listed that the
	// results report lists as applied (left out; normally 0).
	Applied int `json:"applied"`
	// FromReport tells that the cells came from the error report because
	// the source version was gone.
	FromReport bool `json:"fromReport,omitempty"`
	// SourceRows are the original row numbers written, in order (not sent).
	SourceRows []int `json:"-"`
}

// rowSet is a sorted set of row numbers, 4 bytes a row.
type rowSet []int32

func (s rowSet) has(row int) bool {
	_, ok := slices.BinarySearch(s, int32(row))
	return ok
}

func (s *rowSet) finish() {
	slices.Sort(*s)
	*s = slices.Compact(*s)
}

// reportReader reads a report (UTF-8 with or without BOM, comma) and the
// position of its Row column.
func reportReader(r io.Reader, what string) (*csv.Reader, []string, int, error) {
	br := bufio.NewReader(r)
	if b, _ := br.Peek(3); string(b) == "\xEF\xBB\xBF" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, nil, 0, bulkerr.Wrap(bulkerr.Internal, err, "reading the header of the %s", what)
	}
	head = slices.Clone(head)
	col := slices.Index(head, "Row")
	if col < 0 {
		return nil, nil, 0, bulkerr.New(bulkerr.Internal, "the %s has no Row column", what)
	}
	return cr, head, col, nil
}

// AppliedRows reads the row numbers a results report lists.
func AppliedRows(r io.Reader) (rowSet, error) {
	cr, _, col, err := reportReader(r, "results report")
	if errors.Is(err, io.EOF) {
		return nil, nil // an empty report: no row applied
	}
	if err != nil {
		return nil, err
	}
	var out rowSet
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bulkerr.Wrap(bulkerr.Internal, err, "reading the results report")
		}
		if col < len(rec) {
			if n, err := strconv.Atoi(rec[col]); err == nil {
				out = append(out, int32(n))
			}
		}
	}
	out.finish()
	return out, nil
}

// listed is what the error report says about rows to retry.
type listed struct {
	rows       rowSet
	duplicates int
	applied    int
}

// errorRows reads the rows the error report lists, leaving out duplicates
// and rows in applied. emit, if set, gets each kept row's cells (without
// the report's three columns) as the report has them.
func errorRows(r io.Reader, applied rowSet, emit func(header, cells []string) error) (listed, error) {
	var l listed
	cr, head, col, err := reportReader(r, "error report")
	if err != nil {
		return l, err
	}
	width := len(head) - len(objecttype.ReportHeaders)
	if width < 0 || col != width {
		return l, bulkerr.New(bulkerr.Internal, "the error report's last columns are not %s", strings.Join(objecttype.ReportHeaders, ", "))
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return l, bulkerr.Wrap(bulkerr.Internal, err, "reading the error report")
		}
		if len(rec) < width+3 {
			return l, bulkerr.New(bulkerr.Internal, "a row of the error report has %d cells, not %d", len(rec), width+3)
		}
		row, err := strconv.Atoi(rec[col])
		if err != nil || row < 2 {
			return l, bulkerr.New(bulkerr.Internal, "the error report names row %q", rec[col])
		}
		codes := strings.Split(rec[col+1], "|")
		if slices.Contains(codes, csvimport.CodeNotProcessed) && strings.Contains(rec[col+2], "could not be read back") {
			return l, bulkerr.New(bulkerr.Conflict, "the error report does not list every row that was not processed (%s); import the file again instead", rec[col+2])
		}
		switch {
		case slices.Contains(codes, objecttype.CodeDuplicateKey):
			l.duplicates++
			continue
		case applied.has(row):
			l.applied++
			continue
		}
		l.rows = append(l.rows, int32(row))
		if emit != nil {
			if err := emit(head[:width], rec[:width]); err != nil {
				return l, err
			}
		}
	}
	l.rows.finish()
	return l, nil
}

// writer writes the retry file: BOM, header, rows.
type writer struct {
	cw     *csv.Writer
	header bool
}

func newWriter(w io.Writer) (*writer, error) {
	if _, err := w.Write([]byte("\xEF\xBB\xBF")); err != nil {
		return nil, err
	}
	return &writer{cw: csv.NewWriter(w)}, nil
}

func (w *writer) write(header, cells []string) error {
	if !w.header {
		w.header = true
		if err := w.cw.Write(header); err != nil {
			return err
		}
	}
	return w.cw.Write(cells)
}

func (w *writer) flush() error { w.cw.Flush(); return w.cw.Error() }

// Sources opens what a retry file is built from. Open functions return
// an error of kind NotFound when the file is gone.
type Sources struct {
	// Source opens the original upload (its pinned version) from byte
	// offset start to its end; nil when it is past its retention (the
	// report's cells are used).
	Source func(start int64) (io.ReadCloser, error)
	// Errors and Results open the job's error and results reports
	// (Results is nil when the job has none).
	Errors  func() (io.ReadCloser, error)
	Results func() (io.ReadCloser, error)
}

// Build writes to out the retry file of the rejected rows of an import of
// type t: the rows the error report lists, from the source (or from the
// report when the source is gone). It reads the reports once and the
// source twice (csvread.Scan plans it, then the rows are read from the
// first data row on), streaming; memory holds 4 bytes per listed row.
func Build(t *objecttype.Type, src Sources, out io.Writer) (Stats, error) {
	var st Stats
	var applied rowSet
	if src.Results != nil {
		rc, err := src.Results()
		if err != nil && bulkerr.KindOf(err) != bulkerr.NotFound {
			return st, err
		}
		if err == nil {
			applied, err = AppliedRows(rc)
			rc.Close()
			if err != nil {
				return st, err
			}
		}
	}
	rc, err := src.Errors()
	if err != nil {
		return st, err
	}
	l, err := errorRows(rc, applied, nil)
	rc.Close()
	if err != nil {
		return st, err
	}
	st.Duplicates, st.Applied = l.duplicates, l.applied
	if len(l.rows) == 0 {
		return st, nil
	}
	w, err := newWriter(out)
	if err != nil {
		return st, err
	}
	err = bulkerr.New(bulkerr.NotFound, "the source file is past its retention")
	if src.Source != nil {
		err = fromSource(t, src.Source, l.rows, w, &st)
	}
	if bulkerr.KindOf(err) == bulkerr.NotFound && !w.header {
		// The upload has expired: the report's cells import the same values.
		st = Stats{Duplicates: l.duplicates, Applied: l.applied, FromReport: true}
		rc, err := src.Errors()
		if err != nil {
			return st, err
		}
		defer rc.Close()
		if _, err := errorRows(rc, applied, func(h, c []string) error {
			st.Rows++
			return w.write(h, c)
		}); err != nil {
			return st, err
		}
		return st, w.flush()
	}
	if err != nil {
		return st, err
	}
	return st, w.flush()
}

// fromSource writes the source rows whose numbers are in rows.
func fromSource(t *objecttype.Type, open func(int64) (io.ReadCloser, error), rows rowSet, w *writer, st *Stats) error {
	body, err := open(0)
	if err != nil {
		return err
	}
	plan, err := csvread.Scan(body, t, csvread.Options{Limits: csvread.LargeLimits()})
	body.Close()
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "reading the job's source file again")
	}
	if len(plan.Chunks) == 0 {
		return bulkerr.New(bulkerr.Internal, "the job's source file has no rows, but its error report lists %d", len(rows))
	}
	body, err = open(plan.Chunks[0].Start)
	if err != nil {
		return err
	}
	defer body.Close()
	cr := csvread.NewChunkReader(body, plan.Format, plan.Chunks[0].FirstRow)
	next := 0 // index into rows of the next row wanted
	for next < len(rows) {
		rec, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bulkerr.Wrap(bulkerr.Internal, err, "reading the job's source file again")
		}
		if int(rows[next]) < rec.Row { // a blank row, or no row of this file
			return bulkerr.New(bulkerr.Internal, "the error report lists row %d, which the source file does not have", rows[next])
		}
		if int(rows[next]) == rec.Row {
			if err := w.write(plan.Header, rec.Cells); err != nil {
				return err
			}
			st.Rows++
			st.SourceRows = append(st.SourceRows, rec.Row)
			next++
		}
	}
	if next < len(rows) {
		return bulkerr.New(bulkerr.Internal, "the error report lists row %d, past the end of the source file", rows[next])
	}
	return nil
}
