package csvimport

import (
	"encoding/csv"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ccbulk/bulkops/shared/objecttype"
)

// The change report of a dry run (changes.csv) says what applying the file
// would do, one line per changed field, so a spreadsheet user can filter
// on any column (all the changes of one key, every row that changes
// "Skill", every create):
//
//	Row,Key,Action,Field,Before,After
//	2,Sales,created,Name,,Sales
//	2,Sales,created,Timeout,,30
//	3,Support,updated,Timeout,30,45
//
// A created row lists every non-empty field (Before is empty); an updated
// row lists only the fields that change; unchanged and rejected rows are not
// listed (the job counts them; rejected rows are in the error report).
// Multi-value fields show the whole value before and after (items joined by
// objecttype.MultiSep, sorted as stored); references show the referenced
// names as the file writes them. Cells a spreadsheet would run as formulas
// are neutralized as in every report. A secret column (a password) is never
// echoed: its values read SecretValue.

// ChangeHeaders are the columns of the change report.
var ChangeHeaders = []string{"Row", "Key", "Action", "Field", "Before", "After"}

// SecretValue stands for the value of a secret column in the change
// report. Object types store no secrets today (a non-blank Password cell
// is rejected), so it appears only if a type ever lets one through.
const SecretValue = "(hidden)"

// FieldChange is one field a row changes.
type FieldChange struct {
	// Field is the column's header (a family's prefix for relational
	// columns, e.g. "Skill").
	Field         string
	Before, After string
}

// IsSecret reports whether col holds a secret whose values a report must
// never show: a text column named like a password, secret or token (a Y/N
// flag such as "Password Change" is not one).
func IsSecret(col objecttype.Column) bool {
	if col.Kind == objecttype.Boolean {
		return false
	}
	k := strings.ToLower(col.Key + " " + col.Header)
	for _, w := range []string{"password", "secret", "token", "passphrase", "apikey", "api key"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Changes lists the fields a created or updated decision changes, in the
// type's column order (then its families, then any stored field the type no
// longer names, by key). Other actions change nothing.
func Changes(t *objecttype.Type, d Decision) []FieldChange {
	if d.Action != ActionCreated && d.Action != ActionUpdated {
		return nil
	}
	var before map[string]string
	if d.Action == ActionUpdated {
		before = d.Previous.Fields
	}
	after := d.Object.Fields
	var out []FieldChange
	seen := make(map[string]bool, len(t.Columns)+len(t.Families))
	add := func(key, label string, secret bool) {
		seen[key] = true
		b, a := before[key], after[key]
		if b == a {
			return
		}
		if secret {
			b, a = hide(b), hide(a)
		}
		out = append(out, FieldChange{Field: label, Before: b, After: a})
	}
	for _, col := range t.Columns {
		add(col.Key, col.Header, IsSecret(col))
	}
	for _, fam := range t.Families {
		if !seen[fam.Key] {
			add(fam.Key, fam.Prefix, false)
		}
	}
	var rest []string
	for k := range maps.Keys(before) {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	for k := range maps.Keys(after) {
		if !seen[k] && !slices.Contains(rest, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		add(k, k, IsSecret(objecttype.Column{Key: k, Header: k}))
	}
	return out
}

func hide(v string) string {
	if v == "" {
		return ""
	}
	return SecretValue
}

// NewChangeWriter returns the header writer of the change report.
func NewChangeWriter(w io.Writer) *HeaderWriter { return &HeaderWriter{w: w, header: ChangeHeaders} }

// ChangePartWriter writes the change lines of one chunk (without a header).
type ChangePartWriter struct {
	cw *csv.Writer
	t  *objecttype.Type
}

// NewChangePartWriter returns a writer of the change lines of rows of type t.
func NewChangePartWriter(w io.Writer, t *objecttype.Type) *ChangePartWriter {
	return &ChangePartWriter{cw: csv.NewWriter(w), t: t}
}

// Write writes one line per field d changes and returns how many it wrote
// (0 for unchanged and rejected rows).
func (c *ChangePartWriter) Write(d Decision) (int, error) {
	chs := Changes(c.t, d)
	if len(chs) == 0 {
		return 0, nil
	}
	row, key := strconv.Itoa(d.Row), objecttype.Neutralize(reportKey(d))
	for _, ch := range chs {
		if err := c.cw.Write([]string{row, key, string(d.Action), objecttype.Neutralize(ch.Field),
			objecttype.Neutralize(ch.Before), objecttype.Neutralize(ch.After)}); err != nil {
			return 0, err
		}
	}
	return len(chs), nil
}

// Flush flushes buffered lines.
func (c *ChangePartWriter) Flush() error { c.cw.Flush(); return c.cw.Error() }

// reportKey is how reports name a row's object: its name, or the natural
// key for types keyed within a parent (teams: "name/site").
func reportKey(d Decision) string {
	if strings.Contains(d.Object.Key, objecttype.KeySep) {
		return d.Object.Key
	}
	return d.Object.Name
}
