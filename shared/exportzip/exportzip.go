// Package exportzip writes exports as a ZIP stream: one or more object
// types, each split into CSV parts of at most MaxRows rows (5,000 by
// default, as Webex does) and, when set, at most MaxBytes uncompressed
// bytes, in the layout of package csvexport (the import columns by
// default); or, for format csv, one type's single CSV itself. It names the
// delivered file (FileName). It streams: rows go straight into the deflate
// stream of the current part, so memory does not grow with the number of
// objects. It imports nothing from AWS.
package exportzip

import (
	"archive/zip"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// DefaultMaxRows is the rows per CSV part unless set.
const DefaultMaxRows = 5000

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{0,20}$`)

// ValidatePrefix checks a file-name prefix: at most 20 letters, digits, _
// or -.
func ValidatePrefix(p string) error {
	if !prefixPattern.MatchString(p) {
		return bulkerr.New(bulkerr.Invalid, "file name prefix %q may have at most 20 letters, digits, _ or -", p)
	}
	return nil
}

// typeToken is a type's name as used in file names: letters and digits.
func typeToken(t *objecttype.Type) string {
	var b strings.Builder
	for _, r := range t.Name {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ZipName is the default export's file name: <prefix><Type>_<date>.zip,
// the type of a single-type export or "Export" for several (FileName with
// the default options).
func ZipName(prefix string, types []*objecttype.Type, date time.Time) string {
	return FileName(prefix, types, date, exportspec.Options{})
}

// FileName is the name of the file an export with options o delivers:
// <prefix><Type>_<date>.zip by default (the type of a single-type export,
// or "Export" for several), .csv for format csv, and without "_<date>"
// for a stable name (<prefix><Type>.zip), which every run replaces.
func FileName(prefix string, types []*objecttype.Type, date time.Time, o exportspec.Options) string {
	name := "Export"
	if len(types) == 1 {
		name = typeToken(types[0])
	}
	if o.StableName {
		return prefix + name + o.Ext()
	}
	return fmt.Sprintf("%s%s_%s%s", prefix, name, date.Format("2006-01-02"), o.Ext())
}

// File is one CSV part of the ZIP.
type File struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Rows int    `json:"rows"`
}

// Writer writes one ZIP.
type Writer struct {
	// Neutralize protects cells against formula injection (default on).
	Neutralize bool
	// MaxBytes, when positive, also starts a new part before a row would
	// take the part's uncompressed CSV (BOM and header included) past this
	// many bytes. A part always takes at least one row, so a single row
	// larger than MaxBytes gets a part of its own.
	MaxBytes int64
	// CSV writes one type's rows as a bare CSV (no ZIP, no parts) of at
	// most exportspec.MaxCSVRows rows: a second type, or one row more, is
	// an Invalid error and the output must be thrown away.
	CSV     bool
	out     io.Writer
	zw      *zip.Writer
	maxRows int
	date    time.Time
	t       *objecttype.Type
	layout  *csvexport.Layout
	cur     *csvexport.Writer
	part    int
	files   []File
	err     error
}

// New returns a Writer of a ZIP to w with parts of at most maxRows rows
// (DefaultMaxRows when 0); date goes into the part names.
func New(w io.Writer, maxRows int, date time.Time) *Writer {
	if maxRows <= 0 {
		maxRows = DefaultMaxRows
	}
	return &Writer{Neutralize: true, out: w, zw: zip.NewWriter(w), maxRows: maxRows, date: date}
}

// ForOptions returns a Writer of a ZIP to w split and neutralized as o says:
// parts of at most o.Rows() rows and, when o.SplitBytes is set, at most
// that many bytes; formula neutralization unless o.NoNeutralize; for
// format csv a Writer of the bare CSV (CSV). The zero Options give what
// New(w, 0, date) gives.
func ForOptions(w io.Writer, o exportspec.Options, date time.Time) *Writer {
	zw := New(w, o.Rows(), date)
	zw.MaxBytes = o.SplitBytes
	zw.Neutralize = !o.NoNeutralize
	if o.IsCSV() {
		zw.CSV, zw.MaxBytes, zw.maxRows = true, 0, exportspec.MaxCSVRows
	}
	return zw
}

// Begin starts the objects of type t in layout l (csvexport.NewLayout).
func (w *Writer) Begin(t *objecttype.Type, l *csvexport.Layout) error {
	if w.err != nil {
		return w.err
	}
	if w.CSV && w.t != nil {
		w.err = bulkerr.New(bulkerr.Invalid, "format csv delivers one object type; this export has %s and %s: ask for format zip", w.t.Name, t.Name)
		return w.err
	}
	if w.err = w.headerOnlyIfEmpty(); w.err != nil {
		return w.err
	}
	w.err = w.endPart()
	w.t, w.layout, w.part = t, l, 0
	return w.err
}

// headerOnlyIfEmpty gives the current type a header-only part when it had
// no objects, so the file says the type was exported.
func (w *Writer) headerOnlyIfEmpty() error {
	if w.t != nil && (len(w.files) == 0 || w.files[len(w.files)-1].Type != w.t.Slug) {
		return w.startPart()
	}
	return nil
}

// Write adds one object of the current type, starting a new part when the
// current one is full.
func (w *Writer) Write(o catalog.Object) error {
	if w.err != nil {
		return w.err
	}
	if w.t == nil {
		return bulkerr.New(bulkerr.Internal, "exportzip: Write before Begin")
	}
	if w.CSV && w.cur != nil && w.files[0].Rows == w.maxRows {
		w.err = exportspec.CSVRowsError(w.t.Name, -1)
		return w.err
	}
	if w.cur == nil || w.files[len(w.files)-1].Rows == w.maxRows {
		if w.err = w.startPart(); w.err != nil {
			return w.err
		}
	}
	var row []byte
	if row, w.err = w.cur.Encode(o); w.err != nil {
		return w.err
	}
	if w.MaxBytes > 0 && w.files[len(w.files)-1].Rows > 0 && w.cur.Size()+int64(len(row)) > w.MaxBytes {
		// The encoded row stays valid: it belongs to the part just ended.
		if w.err = w.startPart(); w.err != nil {
			return w.err
		}
	}
	if w.err = w.cur.WriteEncoded(row); w.err != nil {
		return w.err
	}
	w.files[len(w.files)-1].Rows++
	return nil
}

func (w *Writer) startPart() error {
	if err := w.endPart(); err != nil {
		return err
	}
	w.part++
	if w.CSV {
		w.cur = csvexport.NewWriter(w.out, w.layout)
		w.cur.Neutralize = w.Neutralize
		w.files = append(w.files, File{Name: fmt.Sprintf("%s_%s.csv", typeToken(w.t), w.date.Format("2006-01-02")), Type: w.t.Slug})
		return nil
	}
	name := fmt.Sprintf("%s_%s_%03d.csv", typeToken(w.t), w.date.Format("2006-01-02"), w.part)
	fw, err := w.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: w.date})
	if err != nil {
		return err
	}
	w.cur = csvexport.NewWriter(fw, w.layout)
	w.cur.Neutralize = w.Neutralize
	w.files = append(w.files, File{Name: name, Type: w.t.Slug})
	return nil
}

func (w *Writer) endPart() error {
	if w.cur == nil {
		return nil
	}
	err := w.cur.Flush()
	w.cur = nil
	return err
}

// Close finishes the ZIP (or the CSV) and lists its parts (the CSV: one).
func (w *Writer) Close() ([]File, error) {
	if w.err != nil {
		return nil, w.err
	}
	if err := w.headerOnlyIfEmpty(); err != nil {
		return nil, err
	}
	if err := w.endPart(); err != nil {
		return nil, err
	}
	if w.CSV {
		if w.t == nil {
			return nil, bulkerr.New(bulkerr.Internal, "exportzip: a CSV export closed without a type")
		}
		return w.files, nil
	}
	if err := w.zw.Close(); err != nil {
		return nil, err
	}
	return w.files, nil
}
