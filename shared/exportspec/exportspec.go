// Package exportspec describes what an export writes: which fields in which
// order, the header style, how multi-valued fields are laid out, row
// filters, how files are split, formula neutralization, which objects by
// time (all, a fixed interval, or new and modified since the last
// successful run), and the file delivered: a ZIP of CSV parts or one small
// type's CSV itself, under a dated or a stable name. On-demand exports, scheduled exports and test exports
// share it. It imports nothing from AWS.
package exportspec

import (
	"fmt"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// HeaderStyle is how the header row names columns.
type HeaderStyle string

// Header styles.
const (
	// HeaderLabels writes the import headers (display labels); the default,
	// and the style whose files import back unchanged.
	HeaderLabels HeaderStyle = "labels"
	// HeaderKeys writes the field keys (objecttype.Column.Key), stable
	// identifiers for machines reading the file.
	HeaderKeys HeaderStyle = "keys"
)

// MultiValue is how a multi-valued field is laid out.
type MultiValue string

// Multi-valued layouts.
const (
	// MultiJoined puts every value in one cell, joined as import reads
	// them; the default.
	MultiJoined MultiValue = "joined"
	// MultiColumns gives each value its own column ("Skills 1", "Skills
	// 2", …), as many as the longest list in the export needs.
	MultiColumns MultiValue = "columns"
)

// FilterOp compares a field with a value.
type FilterOp string

// Filter operators. Comparisons ignore case and surrounding space, the way
// names are matched on import.
const (
	OpEquals   FilterOp = "equals"
	OpContains FilterOp = "contains"
	OpPrefix   FilterOp = "startsWith"
	OpEmpty    FilterOp = "empty"
	OpNotEmpty FilterOp = "notEmpty"
)

// Filter keeps the objects whose field matches. Several filters must all
// match.
type Filter struct {
	// Field is a field key or an import header of the type (any spelling
	// import accepts).
	Field string   `json:"field"`
	Op    FilterOp `json:"op"`
	Value string   `json:"value,omitempty"`
}

// RangeMode chooses the objects by when they were last written.
type RangeMode string

// Range modes.
const (
	// RangeAll exports every object; the default.
	RangeAll RangeMode = "all"
	// RangeInterval exports objects created or modified from From up to
	// (not including) To.
	RangeInterval RangeMode = "interval"
	// RangeIncremental exports objects created or modified since the last
	// successful run of the schedule (its high-water mark); the first run
	// exports everything.
	RangeIncremental RangeMode = "incremental"
)

// Range is which objects an export takes by time of last write.
type Range struct {
	Mode RangeMode `json:"mode,omitempty"`
	// From and To bound an interval export: objects last written at or
	// after From and before To (To empty: no end).
	From *time.Time `json:"from,omitempty"`
	To   *time.Time `json:"to,omitempty"`
}

// Equal reports whether r and o choose the same objects (the default mode
// and "all" are the same).
func (r Range) Equal(o Range) bool {
	mode := func(m RangeMode) RangeMode {
		if m == "" {
			return RangeAll
		}
		return m
	}
	same := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	return mode(r.Mode) == mode(o.Mode) && same(r.From, o.From) && same(r.To, o.To)
}

// Format is the file an export delivers.
type Format string

// Formats.
const (
	// FormatZip is a ZIP of CSV parts, one or more types; the default.
	FormatZip Format = "zip"
	// FormatCSV is one object type's CSV itself, not zipped, of at most
	// MaxCSVRows rows (as Webex downloads a small export).
	FormatCSV Format = "csv"
)

// Limits.
const (
	// MaxCSVRows is the most rows an export delivered as a bare CSV
	// (FormatCSV) may have: one CSV part.
	MaxCSVRows = MaxRowsPerFile
	// MaxRowsPerFile is the most rows one CSV part may have (Webex's 5,000).
	MaxRowsPerFile = 5000
	// MinBytesPerFile is the smallest size split allowed.
	MinBytesPerFile = 64 << 10
	// TestExportRows is how many objects per type a test export writes.
	TestExportRows = 10
)

// Options is what an export writes. The zero value is the default export:
// every import column, import headers, multi-values joined, no filter,
// parts of 5,000 rows, neutralized, all objects.
type Options struct {
	// Fields are the field keys (or import headers) to write, in order;
	// empty means every import column. The natural key's fields are always
	// written, first, so a file can be imported back.
	Fields []string `json:"fields,omitempty"`
	// Header is the header style (default labels).
	Header HeaderStyle `json:"header,omitempty"`
	// MultiValue is the layout of multi-valued fields (default joined).
	MultiValue MultiValue `json:"multiValue,omitempty"`
	// Filters keep only matching objects (all must match).
	Filters []Filter `json:"filters,omitempty"`
	// SplitRows is the most rows per CSV part, 1 to 5,000 (0: 5,000).
	SplitRows int `json:"splitRows,omitempty"`
	// SplitBytes, when set, also starts a new part before a part would
	// grow past this many bytes (at least 64 KiB).
	SplitBytes int64 `json:"splitBytes,omitempty"`
	// NoNeutralize turns off formula-injection protection for consumers
	// that are not spreadsheets.
	NoNeutralize bool `json:"noNeutralize,omitempty"`
	// Range chooses objects by their last write (default all).
	Range Range `json:"range,omitzero"`
	// Format is the file delivered: zip (default) or, for one object type
	// of at most MaxCSVRows rows, csv.
	Format Format `json:"format,omitempty"`
	// StableName names the file <prefix><Type>.zip (or .csv) without the
	// date, so every run replaces the previous file at the same place, as
	// onOffice's FTP export does; off, every run has its own dated file.
	StableName bool `json:"stableName,omitempty"`
}

// IsCSV reports whether the export is delivered as a bare CSV.
func (o Options) IsCSV() bool { return o.Format == FormatCSV }

// Ext is the delivered file's extension: ".csv" or ".zip".
func (o Options) Ext() string {
	if o.IsCSV() {
		return ".csv"
	}
	return ".zip"
}

// ContentType is the delivered file's media type.
func (o Options) ContentType() string {
	if o.IsCSV() {
		return "text/csv; charset=utf-8"
	}
	return "application/zip"
}

// ValidateTypes checks what depends on the number of object types: a csv
// export delivers exactly one type's CSV.
func (o Options) ValidateTypes(types []string) error {
	if o.IsCSV() && len(types) != 1 {
		return bulkerr.New(bulkerr.Invalid, "format csv delivers one object type as one CSV of at most %d rows; this export names %d types (%s): export them one at a time, or ask for format zip",
			MaxCSVRows, len(types), strings.Join(types, ", "))
	}
	return nil
}

// CSVRowsError is the Invalid error of a csv export whose type has more
// rows than one CSV may hold (n; a negative n: more than MaxCSVRows, how
// many more is not known yet).
func CSVRowsError(typeName string, n int) error {
	count := fmt.Sprintf("more than %d", MaxCSVRows)
	if n > MaxCSVRows {
		count = fmt.Sprintf("%d", n)
	}
	return bulkerr.New(bulkerr.Invalid, "format csv delivers at most %d rows, and the %s export has %s; ask for format zip (parts of %d rows), or narrow it with filters or a range",
		MaxCSVRows, typeName, count, MaxRowsPerFile)
}

// Validate checks what can be checked without the object types: enums,
// limits and the interval. Field and filter names are checked against the
// types by the export writer's layout (csvexport).
func (o Options) Validate() error {
	bad := func(format string, args ...any) error { return bulkerr.New(bulkerr.Invalid, format, args...) }
	switch o.Header {
	case "", HeaderLabels, HeaderKeys:
	default:
		return bad("header %q is not labels or keys", o.Header)
	}
	switch o.MultiValue {
	case "", MultiJoined, MultiColumns:
	default:
		return bad("multiValue %q is not joined or columns", o.MultiValue)
	}
	if o.SplitRows < 0 || o.SplitRows > MaxRowsPerFile {
		return bad("splitRows %d is not from 1 to %d", o.SplitRows, MaxRowsPerFile)
	}
	if o.SplitBytes != 0 && o.SplitBytes < MinBytesPerFile {
		return bad("splitBytes %d is below the smallest split of %d bytes (64 KiB)", o.SplitBytes, MinBytesPerFile)
	}
	for i, f := range o.Filters {
		if f.Field == "" {
			return bad("filters[%d] names no field", i)
		}
		switch f.Op {
		case OpEquals, OpContains, OpPrefix:
			if f.Value == "" {
				return bad("filters[%d] (%s %s) needs a value", i, f.Field, f.Op)
			}
		case OpEmpty, OpNotEmpty:
		default:
			return bad("filters[%d].op %q is not equals, contains, startsWith, empty or notEmpty", i, f.Op)
		}
	}
	switch o.Format {
	case "", FormatZip:
	case FormatCSV:
		// One file, not split: the split options are for ZIP parts.
		if o.SplitRows != 0 || o.SplitBytes != 0 {
			return bad("format csv is one file of at most %d rows; splitRows and splitBytes split a zip (leave them out, or ask for format zip)", MaxCSVRows)
		}
	default:
		return bad("format %q is not zip or csv", o.Format)
	}
	switch o.Range.Mode {
	case "", RangeAll, RangeIncremental:
		if o.Range.From != nil || o.Range.To != nil {
			return bad("range from/to are only for mode interval")
		}
	case RangeInterval:
		if o.Range.From == nil {
			return bad("an interval range needs from (RFC 3339, such as 2026-11-01T00:00:00Z)")
		}
		if o.Range.To != nil && !o.Range.To.After(*o.Range.From) {
			return bad("range to %s is not after from %s", o.Range.To.Format(time.RFC3339), o.Range.From.Format(time.RFC3339))
		}
	default:
		return bad("range mode %q is not all, interval or incremental", o.Range.Mode)
	}
	return nil
}

// Rows is the rows per part (SplitRows or the default).
func (o Options) Rows() int {
	if o.SplitRows <= 0 {
		return MaxRowsPerFile
	}
	return o.SplitRows
}

// Window is the time window of objects one export run takes, by last
// write: From inclusive (zero: from the beginning), To exclusive (zero: no
// bound). The dispatcher turns a schedule's Range and high-water mark into
// a Window.
type Window struct {
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// All reports whether w takes every object.
func (w Window) All() bool { return w.From.IsZero() && w.To.IsZero() }

// Contains reports whether an object last written at t is in w.
func (w Window) Contains(t time.Time) bool {
	return (w.From.IsZero() || !t.Before(w.From)) && (w.To.IsZero() || t.Before(w.To))
}

// WindowFor is the window of a run at runAt: every object, the fixed
// interval, or for incremental runs everything written since highWater
// (the To of the last successful run's window; zero before the first
// successful run) up to runAt. A run that fails leaves the high-water mark
// where it was, so the next run catches the missed window up once.
func (o Options) WindowFor(runAt, highWater time.Time) Window {
	switch o.Range.Mode {
	case RangeInterval:
		w := Window{From: *o.Range.From}
		if o.Range.To != nil {
			w.To = *o.Range.To
		}
		return w
	case RangeIncremental:
		return Window{From: highWater, To: runAt}
	}
	return Window{}
}
