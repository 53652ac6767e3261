// Package csvread reads import files: it detects the text encoding (UTF-8
// with or without BOM, Windows-1252, Shift-JIS) and the delimiter (comma,
// semicolon, tab, pipe), parses strictly (a parse error names the line and
// column), enforces the row and size limits, finds duplicate keys, and plans
// chunks: byte ranges of whole rows (quoted line breaks included) that the
// workflow reads in parallel with ranged GETs.
//
// Everything streams: memory does not grow with the file except for one
// 8-byte hash and row number per distinct key (duplicate detection).
package csvread

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Format is how a file is written, as Scan detected it.
type Format struct {
	// Encoding is UTF8, Windows1252 or ShiftJIS.
	Encoding string `json:"encoding"`
	// BOM tells whether the file starts with a UTF-8 byte order mark.
	BOM bool `json:"bom,omitempty"`
	// Delimiter is ",", ";", "\t" or "|".
	Delimiter string `json:"delimiter"`
}

func (f Format) comma() rune {
	r, _ := utf8.DecodeRuneInString(f.Delimiter)
	if f.Delimiter == "" {
		return ','
	}
	return r
}

// Limits bound one file.
type Limits struct {
	MaxRows  int   `json:"maxRows"`
	MaxBytes int64 `json:"maxBytes"`
	// MaxRecordBytes bounds one row (DefaultMaxRecordBytes when 0) and
	// MaxFields its cells (DefaultMaxFields when 0).
	MaxRecordBytes int `json:"maxRecordBytes,omitempty"`
	MaxFields      int `json:"maxFields,omitempty"`
	// Raise, if set, ends an over-limit message: how the limit can be
	// raised (default limits only).
	Raise string `json:"-"`
}

// DefaultLimits are the limits of a tenant without large-file imports: 5,000
// data rows and 5 MB, as in Webex Contact Center.
func DefaultLimits() Limits {
	return Limits{MaxRows: 5000, MaxBytes: 5 << 20, Raise: "an administrator can enable large files (up to 1,000,000 rows) for the tenant"}
}

// LargeLimits are the most a tenant's large-file setting may allow:
// 1,000,000 rows and 500 MB, chunked by the workflow.
func LargeLimits() Limits { return Limits{MaxRows: 1_000_000, MaxBytes: 500 << 20} }

// Options tune Scan.
type Options struct {
	Limits Limits
	// ChunkRows is the number of data rows per chunk (default 1000).
	ChunkRows int
	// ChunkBytes ends a chunk early once it holds this many bytes
	// (default DefaultChunkBytes), and ChunkCells once its rows have this
	// many cells (default DefaultChunkCells), so long or wide rows make
	// more chunks, not larger ones: a chunk's work and memory follow its
	// cells.
	ChunkBytes int64
	ChunkCells int
}

// Record is one data row.
type Record struct {
	// Row is the row number as a spreadsheet shows it: the header is row 1.
	Row int `json:"row"`
	// Line is the source line the row starts on.
	Line int `json:"line"`
	// Cells are the row's fields, decoded to UTF-8, as written.
	Cells []string `json:"cells"`
}

// Chunk is a byte range [Start, End) of whole rows of the source object.
type Chunk struct {
	Index    int   `json:"index"`
	Start    int64 `json:"start"`
	End      int64 `json:"end"`
	FirstRow int   `json:"firstRow"` // row number of the first record in the range
	Rows     int   `json:"rows"`     // data rows in the range (blank rows not counted)
}

// Duplicate is a row whose key an earlier row already has.
type Duplicate struct {
	Row      int    `json:"row"`
	FirstRow int    `json:"firstRow"`
	Key      string `json:"key"`
}

// Plan is what Scan found.
type Plan struct {
	Format     Format
	Header     []string
	Rows       int // data rows, blank rows not counted
	Chunks     []Chunk
	Duplicates []Duplicate
}

// sniffSize is how much of the file decides encoding and delimiter.
const sniffSize = 64 << 10

// Scan reads a whole file once and plans its import for type t. Errors are
// Invalid with a message naming the line (and column) and the fix; a read
// error of r is returned as it came.
//
// Memory is bounded whatever the file holds: Scan reads at most
// Limits.MaxBytes+1 bytes of r, and a row longer than MaxRecordBytes or
// wider than MaxFields, or a row past MaxRows (blank lines count), fails the
// read where it happens, before the row is held whole.
func Scan(r io.Reader, t *objecttype.Type, opts Options) (Plan, error) {
	if opts.ChunkRows < 1 {
		opts.ChunkRows = 1000
	}
	if opts.ChunkBytes < 1 {
		opts.ChunkBytes = DefaultChunkBytes
	}
	if opts.ChunkCells < 1 {
		opts.ChunkCells = DefaultChunkCells
	}
	if opts.Limits.MaxRows < 1 {
		opts.Limits = DefaultLimits()
	}
	cr, dec, g, format, err := open(newCapReader(r, opts.Limits), Format{}, opts.Limits, true)
	if err != nil {
		return Plan{}, err
	}
	plan := Plan{Format: format}
	header, err := cr.Read() // starts at offset 0 of the decoded stream
	if err != nil {
		if errors.Is(err, io.EOF) {
			return plan, &HeaderError{Err: bulkerr.New(bulkerr.Invalid, "the file is empty; row 1 must be the header (download the %s template)", t.Name)}
		}
		return plan, parseError(err, dec, g)
	}
	header = append([]string(nil), header...)
	if err := checkUTF8(header, 1, 0, dec); err != nil {
		return plan, err
	}
	binding, err := t.Bind(header)
	if err != nil {
		return plan, &HeaderError{Err: err}
	}
	plan.Header = header

	var seed = maphash.MakeSeed()
	first := map[uint64]int32{}
	row := 1
	cur := Chunk{Index: 0, FirstRow: 2}
	cells := 0 // cells of the current chunk's rows
	cur.Start, _ = dec.sourceOffset(cr.InputOffset())
	for {
		start := cr.InputOffset()
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return plan, parseError(err, dec, g)
		}
		row++
		line, _ := cr.FieldPos(0)
		g.forget(line)
		if err := checkUTF8(rec, line, start, dec); err != nil {
			return plan, err
		}
		end, ok := dec.sourceOffset(cr.InputOffset())
		if !ok {
			return plan, bulkerr.New(bulkerr.Internal, "row %d: lost track of the byte offset", row)
		}
		if end > opts.Limits.MaxBytes {
			return plan, bulkerr.New(bulkerr.Invalid, "the file is larger than %s, the limit for this tenant; split it into files of at most %s (or %d rows) each%s",
				size(opts.Limits.MaxBytes), size(opts.Limits.MaxBytes), opts.Limits.MaxRows, raise(opts.Limits))
		}
		if blank(rec) {
			continue
		}
		plan.Rows++
		if plan.Rows > opts.Limits.MaxRows {
			return plan, bulkerr.New(bulkerr.Invalid, "the file has more than %d data rows, the limit for this tenant; split it into files of at most %d rows each (keep the header row in every file)%s",
				opts.Limits.MaxRows, opts.Limits.MaxRows, raise(opts.Limits))
		}
		if key, ok := binding.Key(rec); ok {
			h := maphash.String(seed, key)
			if f, dup := first[h]; dup {
				plan.Duplicates = append(plan.Duplicates, Duplicate{Row: row, FirstRow: int(f), Key: key})
			} else {
				first[h] = int32(row)
			}
		}
		cur.Rows++
		cells += len(rec)
		if cur.Rows == opts.ChunkRows || end-cur.Start >= opts.ChunkBytes || cells >= opts.ChunkCells {
			cells = 0
			cur.End = end
			plan.Chunks = append(plan.Chunks, cur)
			cur = Chunk{Index: len(plan.Chunks), Start: end, FirstRow: row + 1}
		}
		cur.End = end
	}
	if cur.Rows > 0 {
		plan.Chunks = append(plan.Chunks, cur)
	}
	if plan.Rows == 0 {
		return plan, bulkerr.New(bulkerr.Invalid, "the file has a header but no data rows; add one row per %s under the header", t.Name)
	}
	return plan, nil
}

// open sniffs encoding and delimiter (unless format says them) and returns a
// CSV reader over the decoded text, behind a guard that enforces the row
// bounds of l (and the row limit when countRows).
func open(r io.Reader, format Format, l Limits, countRows bool) (*csv.Reader, *decoder, *guard, Format, error) {
	br := bufio.NewReaderSize(r, sniffSize)
	var base int64
	if format.Encoding == "" {
		head, err := br.Peek(sniffSize)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, nil, nil, format, err
		}
		enc, serr := sniff(head, errors.Is(err, io.EOF))
		if serr != nil {
			return nil, nil, nil, format, serr
		}
		format.Encoding = enc
		format.BOM = strings.HasPrefix(string(head), string(utf8BOM))
		if format.BOM {
			_, _ = br.Discard(len(utf8BOM))
			base = int64(len(utf8BOM))
		}
		if format.Delimiter == "" {
			format.Delimiter = detectDelimiter(head[base:], enc)
		}
	}
	dec := newDecoder(br, format.Encoding, base)
	g := newGuard(dec, format.comma(), l, countRows)
	cr := csv.NewReader(g)
	cr.Comma = format.comma()
	cr.FieldsPerRecord = -1 // a short or long row is the row's problem, not the file's
	cr.ReuseRecord = true
	return cr, dec, g, format, nil
}

// detectDelimiter picks the candidate that occurs most often outside quotes
// in the header line; comma on a tie or when none occurs.
func detectDelimiter(head []byte, enc string) string {
	counts := map[byte]int{}
	inQuotes := false
	for i := 0; i < len(head); i++ {
		c := head[i]
		if enc == ShiftJIS && sjisLead(c) {
			i++ // the trail byte may be '|' (0x7C)
			continue
		}
		if c == '"' {
			inQuotes = !inQuotes
			continue
		}
		if inQuotes {
			continue
		}
		if c == '\n' || c == '\r' {
			break
		}
		switch c {
		case ',', ';', '\t', '|':
			counts[c]++
		}
	}
	best, n := byte(','), 0
	for _, c := range []byte{',', ';', '\t', '|'} {
		if counts[c] > n {
			best, n = c, counts[c]
		}
	}
	return string(best)
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// checkUTF8 checks that a record of a UTF-8 file is valid UTF-8; start is
// the record's offset in the decoded stream.
func checkUTF8(rec []string, line int, start int64, dec *decoder) error {
	if dec.encoding != UTF8 {
		return nil // decoded text is valid by construction
	}
	if start >= dec.suspectUntil {
		return nil // the record lies in bytes that passed utf8.Valid
	}
	for i, c := range rec {
		if !utf8.ValidString(c) {
			return bulkerr.New(bulkerr.Invalid, "line %d, field %d is not valid UTF-8 (the file mixes text encodings); %s", line, i+1, fixEncoding)
		}
	}
	return nil
}

// parseError turns a CSV or decoding error into an Invalid error naming the
// line and column and saying how to fix it.
func parseError(err error, dec *decoder, g *guard) error {
	var be *bulkerr.Error
	if errors.As(err, &be) {
		return err
	}
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		if dec.err != nil && !errors.Is(dec.err, io.EOF) {
			return dec.err // the source failed; the caller tells storage errors apart
		}
		return bulkerr.Wrap(bulkerr.Invalid, err, "the file cannot be read as CSV: %v", err)
	}
	fix := ""
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		fix = "a quote (\") inside a cell that is not quoted; put the whole cell in quotes and double the inner quote (\"\")"
	case errors.Is(pe.Err, csv.ErrQuote):
		fix = "a quoted cell is not closed properly; check that every opening quote has a closing quote followed by the delimiter or the line end"
		if open, ok := g.openedAt(pe.StartLine); ok && open != pe.Line {
			// The cell ran on over line ends: say where it began.
			return bulkerr.Wrap(bulkerr.Invalid, err, "line %d: a quoted cell opened here is not closed properly; the reader gave up at line %d, column %d. Check that every opening quote has a closing quote followed by the delimiter or the line end, and double every quote inside a cell (\"\")",
				open, pe.Line, pe.Column)
		}
	default:
		fix = pe.Err.Error()
	}
	return bulkerr.Wrap(bulkerr.Invalid, err, "line %d, column %d: %s", pe.Line, pe.Column, fix)
}

func raise(l Limits) string {
	if l.Raise == "" {
		return ""
	}
	return "; " + l.Raise
}

func size(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ChunkReader reads the records of one chunk (a byte range of whole rows)
// in the file's format.
type ChunkReader struct {
	cr  *csv.Reader
	dec *decoder
	g   *guard
	row int
	err error
}

// NewChunkReader reads r, the bytes of one chunk, whose first record is row
// firstRow. Blank rows are skipped (but counted in row numbers), as Scan
// skips them. Rows are bounded as Scan bounds them (the default row bounds);
// line numbers in errors count from the chunk's start.
func NewChunkReader(r io.Reader, format Format, firstRow int) *ChunkReader {
	f := format
	if f.Encoding == "" {
		f.Encoding = UTF8
	}
	cr, dec, g, _, err := open(r, f, Limits{}, false)
	if err == nil {
		cr.ReuseRecord = false
	}
	return &ChunkReader{cr: cr, dec: dec, g: g, row: firstRow - 1, err: err}
}

// Next returns the next data record, or io.EOF.
func (c *ChunkReader) Next() (Record, error) {
	if c.err != nil {
		return Record{}, c.err
	}
	for {
		start := c.cr.InputOffset()
		rec, err := c.cr.Read()
		if errors.Is(err, io.EOF) {
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, parseError(err, c.dec, c.g)
		}
		c.row++
		line, _ := c.cr.FieldPos(0)
		c.g.forget(line)
		if err := checkUTF8(rec, line, start, c.dec); err != nil {
			return Record{}, err
		}
		if blank(rec) {
			continue
		}
		return Record{Row: c.row, Line: line, Cells: rec}, nil
	}
}

// HeaderError is Scan's refusal of the header row (an empty file, or a
// header the type cannot bind), told apart from the file's other checks
// (the import's failure phase). Its kind and message are Err's.
type HeaderError struct{ Err error }

func (e *HeaderError) Error() string { return e.Err.Error() }

// Unwrap gives the refusal itself.
func (e *HeaderError) Unwrap() error { return e.Err }
