// Package csvexport writes a tenant's objects as CSV in exactly the columns
// import reads, so an exported file imports back with every row
// "unchanged", and writes the import templates (header only, or with an
// example row). It imports nothing from AWS.
package csvexport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// bom starts every file, so Excel opens it as UTF-8.
var bom = []byte{0xEF, 0xBB, 0xBF}

// Layout is the column layout of one type's file: the action column of GAX
// types, the chosen columns (each whole, or one value of a multi-valued
// field per column) and, for GAX agents, one column per related object of
// each chosen family.
type Layout struct {
	t    *objecttype.Type
	cols []outCol
	keys bool // header style: field keys instead of import headers
	fams []famCol
}

// outCol is one output column: a type column, whole (nth 0) or its nth
// value (1-based) when multi-valued fields get a column per value.
type outCol struct {
	c   *objecttype.Column
	nth int
}

// famCol is one "<Prefix>:<name>" column.
type famCol struct {
	fam  *objecttype.Family
	name string
}

// NewLayout lays out t's columns: every import column with its import
// header, multi-values joined (the default export, which imports back
// unchanged). related lists, per family prefix, the related names that get
// a column (see Related); it is ignored for types without families.
func NewLayout(t *objecttype.Type, related map[string][]string) *Layout {
	l := &Layout{t: t}
	for i := range t.Columns {
		l.cols = append(l.cols, outCol{c: &t.Columns[i]})
	}
	for i := range t.Families {
		l.addFamily(&t.Families[i], related[t.Families[i].Prefix])
	}
	return l
}

// addFamily adds one column per distinct related name of f, sorted by
// normalized name.
func (l *Layout) addFamily(f *objecttype.Family, related []string) {
	names := append([]string(nil), related...)
	sort.Slice(names, func(a, b int) bool {
		return objecttype.NormalizeName(names[a]) < objecttype.NormalizeName(names[b])
	})
	seen := map[string]bool{}
	for _, n := range names {
		k := objecttype.NormalizeName(n)
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		l.fams = append(l.fams, famCol{fam: f, name: n})
	}
}

// Related collects, per family prefix, the related names that objs use: the
// family columns an export of objs needs. Types without families give nil.
func Related(t *objecttype.Type, objs []catalog.Object) map[string][]string {
	if len(t.Families) == 0 {
		return nil
	}
	out := map[string][]string{}
	for _, f := range t.Families {
		seen := map[string]bool{}
		for _, o := range objs {
			for _, item := range objecttype.SplitMulti(o.Fields[f.Key]) {
				name, _, _ := strings.Cut(item, "=")
				if k := objecttype.NormalizeName(name); !seen[k] {
					seen[k] = true
					out[f.Prefix] = append(out[f.Prefix], name)
				}
			}
		}
	}
	return out
}

// Header is the header row: the action column of GAX types, the chosen
// columns (import headers, or field keys with the keys style; "<header> n"
// for the nth value of a multi-valued field laid out in columns), then the
// family columns ("<Prefix>:<name>" in either style).
func (l *Layout) Header() []string {
	h := make([]string, 0, len(l.cols)+len(l.fams)+1)
	if l.t.Action {
		h = append(h, objecttype.ActionHeader)
	}
	for _, oc := range l.cols {
		name := oc.c.Header
		if l.keys {
			name = oc.c.Key
		}
		if oc.nth > 0 {
			name += " " + strconv.Itoa(oc.nth)
		}
		h = append(h, name)
	}
	for _, fc := range l.fams {
		h = append(h, fc.fam.Prefix+":"+fc.name)
	}
	return h
}

// Row renders one stored object in the header's columns, each value as its
// column writes it (objecttype.Column.Written: Y/N for the GAX Booleans).
// Fields the object lacks are blank; the GAX Action is UPDATE, since the object exists; a
// multi-valued field laid out in columns has one value per column, blank
// past its last value; a family cell holds the level (levelled families) or
// Y, and is blank when the object has no such relation (blank means "no
// change" on import).
func (l *Layout) Row(o catalog.Object) []string {
	row := make([]string, 0, len(l.cols)+len(l.fams)+1)
	if l.t.Action {
		row = append(row, "UPDATE")
	}
	var values []string // the split values of the current multi column
	for _, oc := range l.cols {
		v := o.Fields[oc.c.Key]
		if oc.nth > 0 {
			if oc.nth == 1 {
				values = objecttype.SplitMulti(v)
			}
			v = ""
			if oc.nth <= len(values) {
				v = values[oc.nth-1]
			}
		}
		row = append(row, oc.c.Written(v))
	}
	var rel map[string]map[string]string // family key → normalized name → cell
	for _, fc := range l.fams {
		if rel == nil {
			rel = map[string]map[string]string{}
		}
		m, ok := rel[fc.fam.Key]
		if !ok {
			m = map[string]string{}
			for _, item := range objecttype.SplitMulti(o.Fields[fc.fam.Key]) {
				name, level, _ := strings.Cut(item, "=")
				cell := "Y"
				if fc.fam.Level {
					cell = level
				}
				m[objecttype.NormalizeName(name)] = cell
			}
			rel[fc.fam.Key] = m
		}
		row = append(row, m[objecttype.NormalizeName(fc.name)])
	}
	return row
}

// Writer streams rows of one layout as CSV (UTF-8 with BOM, CRLF, comma).
// Each row is encoded on its own first, so a caller can see its size
// (Encode, Size) before deciding which file it goes to.
type Writer struct {
	// Neutralize (on by default) protects cells against formula injection
	// (objecttype.Neutralize); import undoes it, so files still round-trip.
	Neutralize bool
	l          *Layout
	out        *bufio.Writer
	enc        bytes.Buffer // the last encoded record
	cw         *csv.Writer  // encodes into enc
	header     []byte       // the encoded header, until written
	size       int64        // BOM, header and rows written
	err        error
}

// NewWriter returns a Writer of l's rows to w. The header is written with
// the first row, or by Flush for an empty file.
func NewWriter(w io.Writer, l *Layout) *Writer {
	ew := &Writer{Neutralize: true, l: l, out: bufio.NewWriter(w)}
	ew.cw = csv.NewWriter(&ew.enc)
	ew.cw.UseCRLF = true
	_, ew.err = ew.out.Write(bom)
	ew.size = int64(len(bom))
	if ew.err == nil {
		ew.err = ew.encode(l.Header())
		ew.header = bytes.Clone(ew.enc.Bytes())
		ew.size += int64(len(ew.header))
	}
	return ew
}

func writeBOM(w io.Writer) error {
	_, err := w.Write(bom)
	return err
}

// encode encodes one record into w.enc.
func (w *Writer) encode(record []string) error {
	w.enc.Reset()
	if err := w.cw.Write(record); err != nil {
		return err
	}
	w.cw.Flush()
	return w.cw.Error()
}

// Size is the bytes of the file so far: the BOM, the header (written or
// not) and the rows written.
func (w *Writer) Size() int64 { return w.size }

// Encode returns o's row as CSV bytes (neutralized if set) without writing
// it; the bytes are valid until the next call of Encode or Write. Pass them
// to WriteEncoded of this or another Writer of the same layout.
func (w *Writer) Encode(o catalog.Object) ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	row := w.l.Row(o)
	if w.Neutralize {
		for i, c := range row {
			row[i] = objecttype.Neutralize(c)
		}
	}
	if err := w.encode(row); err != nil {
		return nil, err
	}
	return w.enc.Bytes(), nil
}

// WriteEncoded writes a row encoded by Encode.
func (w *Writer) WriteEncoded(b []byte) error {
	w.writeHeader()
	if w.err != nil {
		return w.err
	}
	_, w.err = w.out.Write(b)
	w.size += int64(len(b))
	return w.err
}

func (w *Writer) writeHeader() {
	if w.header == nil || w.err != nil {
		return
	}
	_, w.err = w.out.Write(w.header)
	w.header = nil
}

// Write writes one object's row.
func (w *Writer) Write(o catalog.Object) error {
	b, err := w.Encode(o)
	if err != nil {
		return err
	}
	return w.WriteEncoded(b)
}

// Flush writes buffered rows (and the header of an empty file).
func (w *Writer) Flush() error {
	w.writeHeader()
	if w.err != nil {
		return w.err
	}
	w.err = w.out.Flush()
	return w.err
}

// ExampleRow is a row that creates one example object of t, in the
// template's columns (see TemplateLayout). Importing every type's example
// row in registration order creates one object of each type.
func ExampleRow(t *objecttype.Type) []string {
	var row []string
	if t.Action {
		row = append(row, "ADD")
	}
	for _, c := range t.Columns {
		row = append(row, c.Example)
	}
	for _, f := range t.Families {
		if f.ExampleName != "" {
			row = append(row, f.ExampleCell)
		}
	}
	return row
}

// TemplateLayout is the layout of t's template: its columns and one column
// per family that has an example.
func TemplateLayout(t *objecttype.Type) *Layout {
	related := map[string][]string{}
	for _, f := range t.Families {
		if f.ExampleName != "" {
			related[f.Prefix] = []string{f.ExampleName}
		}
	}
	return NewLayout(t, related)
}

// WriteTemplate writes t's import template: the header row and, when
// example is set, one example row.
func WriteTemplate(w io.Writer, t *objecttype.Type, example bool) error {
	if err := writeBOM(w); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(TemplateLayout(t).Header()); err != nil {
		return err
	}
	if example {
		if err := cw.Write(ExampleRow(t)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
