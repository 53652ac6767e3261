// Package csvexport writes a tenant's objects as CSV in exactly the columns
// import reads, so an exported file imports back with every row
// "unchanged", and writes the import templates (header only, or with an
// example row). It imports nothing from AWS.
package csvexport

import (
	"encoding/csv"
	"io"
	"sort"
	"strings"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// bom starts every file, so Excel opens it as UTF-8.
var bom = []byte{0xEF, 0xBB, 0xBF}

// Layout is the column layout of one type's file: the type's columns and,
// for GAX agents, one column per related object of each family.
type Layout struct {
	t    *objecttype.Type
	fams []famCol
}

// famCol is one "<Prefix>:<name>" column.
type famCol struct {
	fam  *objecttype.Family
	name string
}

// NewLayout lays out t's columns. related lists, per family prefix, the
// related names that get a column (see Related); it is ignored for types
// without families.
func NewLayout(t *objecttype.Type, related map[string][]string) *Layout {
	l := &Layout{t: t}
	for i := range t.Families {
		f := &t.Families[i]
		names := append([]string(nil), related[f.Prefix]...)
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
	return l
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

// Header is the header row: the type's canonical headers, then the family
// columns.
func (l *Layout) Header() []string {
	h := l.t.Headers()
	for _, fc := range l.fams {
		h = append(h, fc.fam.Prefix+":"+fc.name)
	}
	return h
}

// Row renders one stored object in the header's columns. Fields the object
// lacks are blank; the GAX Action is UPDATE, since the object exists; a
// family cell holds the level (levelled families) or Y, and is blank when
// the object has no such relation (blank means "no change" on import).
func (l *Layout) Row(o catalog.Object) []string {
	row := make([]string, 0, len(l.t.Columns)+len(l.fams)+1)
	if l.t.Action {
		row = append(row, "UPDATE")
	}
	for _, c := range l.t.Columns {
		row = append(row, o.Fields[c.Key])
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
type Writer struct {
	// Neutralize (on by default) protects cells against formula injection
	// (objecttype.Neutralize); import undoes it, so files still round-trip.
	Neutralize bool
	l          *Layout
	cw         *csv.Writer
	header     bool
	err        error
}

// NewWriter returns a Writer of l's rows to w. The header is written with
// the first row, or by Flush for an empty file.
func NewWriter(w io.Writer, l *Layout) *Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return &Writer{Neutralize: true, l: l, cw: cw, err: writeBOM(w)}
}

func writeBOM(w io.Writer) error {
	_, err := w.Write(bom)
	return err
}

func (w *Writer) writeHeader() {
	if w.header || w.err != nil {
		return
	}
	w.header = true
	w.err = w.cw.Write(w.l.Header())
}

// Write writes one object's row.
func (w *Writer) Write(o catalog.Object) error {
	w.writeHeader()
	if w.err != nil {
		return w.err
	}
	row := w.l.Row(o)
	if w.Neutralize {
		for i, c := range row {
			row[i] = objecttype.Neutralize(c)
		}
	}
	w.err = w.cw.Write(row)
	return w.err
}

// Flush writes buffered rows (and the header of an empty file).
func (w *Writer) Flush() error {
	w.writeHeader()
	if w.err != nil {
		return w.err
	}
	w.cw.Flush()
	return w.cw.Error()
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
