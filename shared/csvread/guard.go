package csvread

import (
	"fmt"
	"io"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Per-record bounds. encoding/csv holds a whole record (every field and its
// position) in memory before it returns it, so a line of 20 MB made only of
// delimiters costs well over a gigabyte. guard stops such a record while it
// is still being read, before encoding/csv sees its end.
const (
	// DefaultMaxRecordBytes is the most one row may take, quoted line
	// breaks included (decoded UTF-8 bytes).
	DefaultMaxRecordBytes = 1 << 20
	// DefaultMaxFields is the most cells one row may have. The widest
	// legal header (a user file with one column per skill, group and
	// switch) stays well under it.
	DefaultMaxFields = 2000
	// DefaultChunkBytes bounds the bytes of one chunk, so a file of long
	// rows is cut into more chunks instead of larger ones.
	DefaultChunkBytes = 4 << 20
	// DefaultChunkCells bounds the cells of one chunk's rows: 1,000 rows of
	// up to 100 cells, or 100 rows of 1,000.
	DefaultChunkCells = 100_000
)

// guard sits between the decoded text and encoding/csv. It follows the
// CSV quoting rules byte by byte (as encoding/csv does with LazyQuotes off)
// and fails the read, with an error naming the line, as soon as a record
// has more bytes or more fields than allowed, or the file has more rows
// (blank lines included) than allowed. Syntax errors are left to
// encoding/csv, which meets them before it meets guard's error; guard only
// remembers where each multi-line quoted cell opened, so an unclosed quote
// can be reported where it began.
type guard struct {
	r          io.Reader
	comma      byte
	maxRecord  int64
	maxFields  int
	maxRecords int // rows including the header and blank lines; 0 = no limit
	limits     Limits

	line      int   // line of the next byte (1-based)
	state     uint8 // see the st* constants
	recLine   int   // line the current record started on
	recBytes  int64
	fields    int
	records   int // records started, blank lines included
	quoteLine int // line of the current quoted cell's opening quote
	// opened lists, in line order, recent records whose quoted cell
	// spans lines: the record's start line and the line where that cell
	// opened. forget drops the entries of records already read.
	opened []openedQuote
	err    error
}

type openedQuote struct{ rec, open int }

const (
	stRecordStart   = iota // before the first byte of a record
	stFieldStart           // after a delimiter
	stUnquoted             // inside an unquoted cell
	stQuoted               // inside a quoted cell
	stQuoteInQuoted        // a quote inside a quoted cell: closing or the first of ""
)

func newGuard(r io.Reader, comma rune, l Limits, countRows bool) *guard {
	g := &guard{r: r, comma: byte(comma), maxRecord: int64(l.MaxRecordBytes), maxFields: l.MaxFields, limits: l, line: 1}
	if g.maxRecord < 1 {
		g.maxRecord = DefaultMaxRecordBytes
	}
	if g.maxFields < 1 {
		g.maxFields = DefaultMaxFields
	}
	if countRows && l.MaxRows > 0 {
		g.maxRecords = l.MaxRows + 1 // the header row
	}
	return g
}

// Read passes the bytes of r on, up to the first byte that breaks a limit.
func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := 0; i < n; i++ {
		if lerr := g.step(p[i]); lerr != nil {
			g.err = lerr
			return i, nil // the bytes before the culprit; the error comes next
		}
	}
	return n, err
}

func (g *guard) step(c byte) error {
	if g.state == stRecordStart {
		g.records++
		g.recLine, g.recBytes, g.fields = g.line, 0, 1
		if g.maxRecords > 0 && g.records > g.maxRecords {
			l := g.limits
			return bulkerr.New(bulkerr.Invalid,
				"line %d: the file has more than %d data rows, the limit for this tenant (blank lines count toward it); remove blank lines, or split it into files of at most %d rows each (keep the header row in every file)%s",
				g.line, l.MaxRows, l.MaxRows, raise(l))
		}
		g.state = stFieldStart
	}
	g.recBytes++
	if g.recBytes > g.maxRecord {
		if g.state == stQuoted || g.state == stQuoteInQuoted {
			return bulkerr.New(bulkerr.Invalid,
				"line %d: a quoted cell opened here is not closed; reading on, the row reached %s, the limit for one row, at line %d. Close the quote (\"), or double every quote inside the cell (\"\")",
				g.quoteLine, size(g.maxRecord), g.line)
		}
		return bulkerr.New(bulkerr.Invalid,
			"line %d: the row is longer than %s, the limit for one row; shorten its cells or check that the file's quotes and line ends are where you expect",
			g.recLine, size(g.maxRecord))
	}
	switch g.state {
	case stFieldStart:
		if c == '"' {
			g.state, g.quoteLine = stQuoted, g.line
			return nil
		}
		g.state = stUnquoted
		return g.unquoted(c)
	case stUnquoted:
		return g.unquoted(c)
	case stQuoted:
		switch c {
		case '"':
			g.state = stQuoteInQuoted
		case '\n':
			g.line++
			if k := len(g.opened); k > 0 && g.opened[k-1].rec == g.recLine {
				g.opened[k-1].open = g.quoteLine
			} else {
				g.opened = append(g.opened, openedQuote{g.recLine, g.quoteLine})
			}
		}
	case stQuoteInQuoted:
		if c == '"' { // "" is a quote inside the cell
			g.state = stQuoted
			return nil
		}
		g.state = stUnquoted // closed (anything but a delimiter or line end is encoding/csv's error)
		return g.unquoted(c)
	}
	return nil
}

func (g *guard) unquoted(c byte) error {
	switch c {
	case g.comma:
		g.fields++
		if g.fields > g.maxFields {
			return bulkerr.New(bulkerr.Invalid,
				"line %d: the row has more than %d cells, the limit for one row; check that the delimiter (%s) is not used inside cells without quotes, and remove empty columns",
				g.recLine, g.maxFields, delimiterName(g.comma))
		}
		g.state = stFieldStart
	case '\n':
		g.line++
		g.state = stRecordStart
	}
	return nil
}

// forget drops what guard remembers about records that start before line
// (they have been read without error).
func (g *guard) forget(line int) {
	i := 0
	for i < len(g.opened) && g.opened[i].rec < line {
		i++
	}
	if i > 0 {
		g.opened = g.opened[i:] // append reallocates once the front is gone
	}
}

// openedAt returns the line where the quoted cell of the record starting at
// recLine opened, if it spans lines.
func (g *guard) openedAt(recLine int) (int, bool) {
	for _, o := range g.opened {
		if o.rec == recLine {
			return o.open, true
		}
	}
	return 0, false
}

func delimiterName(c byte) string {
	switch c {
	case ',':
		return "comma"
	case ';':
		return "semicolon"
	case '\t':
		return "tab"
	case '|':
		return "pipe"
	}
	return fmt.Sprintf("%q", c)
}

// capReader fails the read once more than max bytes came from r: the
// file is larger than the tenant's limit (it reads at most max+1 bytes).
type capReader struct {
	r      io.Reader
	left   int64 // bytes that may still be read (max+1 at the start)
	limits Limits
}

func newCapReader(r io.Reader, l Limits) *capReader {
	return &capReader{r: io.LimitReader(r, l.MaxBytes+1), left: l.MaxBytes + 1, limits: l}
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left <= 0 {
		return n - 1, TooLarge(c.limits, -1)
	}
	return n, err
}

// TooLarge is the error of a file over l.MaxBytes; size is the file's
// size when known (-1 when not).
func TooLarge(l Limits, fileSize int64) error {
	is := "larger than " + size(l.MaxBytes)
	if fileSize >= 0 {
		is = fmt.Sprintf("%d bytes, larger than %s (%d bytes)", fileSize, size(l.MaxBytes), l.MaxBytes)
	}
	return bulkerr.New(bulkerr.Invalid, "the file is %s, the limit for this tenant; split it into files of at most %s (or %d rows) each%s",
		is, size(l.MaxBytes), l.MaxRows, raise(l))
}
