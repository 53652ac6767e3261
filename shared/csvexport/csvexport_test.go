package csvexport

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// memCatalog is an in-memory object store: it answers the engine's batched
// lookups and applies accepted decisions the way the workflow does (new ID
// on create, ID kept on update).
type memCatalog struct {
	objs map[string]map[string]catalog.Object // type → key → object
	next int
}

func newCatalog() *memCatalog { return &memCatalog{objs: map[string]map[string]catalog.Object{}} }

func (m *memCatalog) GetObjects(_ context.Context, typ string, keys []string) (map[string]catalog.Object, error) {
	out := map[string]catalog.Object{}
	for _, k := range keys {
		if o, ok := m.objs[typ][k]; ok {
			out[k] = o
		}
	}
	return out, nil
}

func (m *memCatalog) apply(d csvimport.Decision) {
	o := d.Object
	switch d.Action {
	case csvimport.ActionCreated:
		m.next++
		o.ID = fmt.Sprintf("obj-%d", m.next)
	case csvimport.ActionUpdated:
		o.ID = d.Previous.ID
	default:
		return
	}
	if m.objs[o.Type] == nil {
		m.objs[o.Type] = map[string]catalog.Object{}
	}
	m.objs[o.Type][o.Key] = o
}

func (m *memCatalog) list(typ string) []catalog.Object {
	var out []catalog.Object
	for _, o := range m.objs[typ] {
		out = append(out, o)
	}
	return out
}

// importFile decides data for t against m, applies the accepted rows and
// returns every decision.
func importFile(t *testing.T, m *memCatalog, ty *objecttype.Type, data []byte) []csvimport.Decision {
	t.Helper()
	var ds []csvimport.Decision
	_, err := csvimport.DecideFile(context.Background(), bytes.NewReader(data), int64(len(data)), ty, csvread.Options{Limits: csvread.DefaultLimits(), ChunkRows: 7}, m, func(d csvimport.Decision) error {
		ds = append(ds, d)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: import: %v\n%s", ty.Slug, err, data)
	}
	for _, d := range ds {
		m.apply(d)
	}
	return ds
}

func problems(d csvimport.Decision) string {
	var s []string
	for _, p := range d.Problems {
		s = append(s, p.Code+" "+p.Text())
	}
	return strings.Join(s, "; ")
}

// TestTemplates: every type's header-only template binds as an import file
// with no rows, and importing every example template in registration order
// creates exactly one object of each type (the examples are valid and
// consistent with each other).
func TestTemplates(t *testing.T) {
	m := newCatalog()
	for _, ty := range objecttype.All() {
		t.Run(ty.Slug, func(t *testing.T) {
			var empty bytes.Buffer
			if err := WriteTemplate(&empty, ty, false); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(empty.Bytes(), bom) {
				t.Error("template does not start with a UTF-8 BOM")
			}
			header, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(empty.Bytes(), bom))).ReadAll()
			if err != nil || len(header) != 1 {
				t.Fatalf("header-only template: %d records, %v", len(header), err)
			}
			if _, err := ty.Bind(header[0]); err != nil {
				t.Fatalf("the template's header does not bind: %v", err)
			}
			// An upload of the bare template is a file error that says so.
			_, err = csvread.Scan(bytes.NewReader(empty.Bytes()), ty, csvread.Options{Limits: csvread.DefaultLimits()})
			if err == nil || !strings.Contains(err.Error(), "no data rows") {
				t.Fatalf("header-only upload: %v, want a \"no data rows\" error", err)
			}
			var ex bytes.Buffer
			if err := WriteTemplate(&ex, ty, true); err != nil {
				t.Fatal(err)
			}
			ds := importFile(t, m, ty, ex.Bytes())
			if len(ds) != 1 || ds[0].Action != csvimport.ActionCreated {
				t.Fatalf("example row: got %d decisions, want 1 created: %+v %s", len(ds), ds, problemsAll(ds))
			}
			for _, c := range ty.Columns {
				if c.Required && c.Example == "" {
					t.Errorf("required column %q has no example", c.Header)
				}
			}
		})
	}
}

func problemsAll(ds []csvimport.Decision) string {
	var s []string
	for _, d := range ds {
		s = append(s, problems(d))
	}
	return strings.Join(s, " | ")
}

// TestExportRoundTrip is a property test: for random valid files of every
// type, export → import changes nothing. Random rows are built from the
// example row with columns replaced by random values of the column's kind
// (or blanked); rows the engine accepts are stored, the type is exported,
// and importing the export must find every object "unchanged".
func TestExportRoundTrip(t *testing.T) {
	seed := uint64(20261122)
	rng := rand.New(rand.NewPCG(seed, seed))
	m := newCatalog()
	for _, ty := range objecttype.All() { // references need the examples of earlier types
		var ex bytes.Buffer
		if err := WriteTemplate(&ex, ty, true); err != nil {
			t.Fatal(err)
		}
		importFile(t, m, ty, ex.Bytes())
	}
	for _, ty := range objecttype.All() {
		t.Run(ty.Slug, func(t *testing.T) {
			const rows = 600
			var in bytes.Buffer
			w := csv.NewWriter(&in)
			lay := TemplateLayout(ty)
			w.Write(lay.Header())
			for i := 0; i < rows; i++ {
				w.Write(randomRow(rng, m, ty, i))
			}
			w.Flush()
			accepted := 0
			var why []string
			for _, d := range importFile(t, m, ty, in.Bytes()) {
				if d.Action != csvimport.ActionRejected {
					accepted++
				} else if len(why) < 5 {
					why = append(why, problems(d))
				}
			}
			if accepted < rows/15 {
				t.Fatalf("only %d of %d random rows accepted; the generator no longer exercises %s (seed %d); rejected: %s", accepted, rows, ty.Slug, seed, strings.Join(why, " / "))
			}

			objs := m.list(ty.Slug)
			var out bytes.Buffer
			ew := NewWriter(&out, NewLayout(ty, Related(ty, objs)))
			for _, o := range objs {
				if err := ew.Write(o); err != nil {
					t.Fatal(err)
				}
			}
			if err := ew.Flush(); err != nil {
				t.Fatal(err)
			}
			before := snapshot(m, ty.Slug)
			ds := importFile(t, m, ty, out.Bytes())
			if len(ds) != len(objs) {
				t.Fatalf("export has %d rows, store has %d objects", len(ds), len(objs))
			}
			for _, d := range ds {
				if d.Action != csvimport.ActionUnchanged {
					t.Fatalf("row %d: %s, want unchanged (seed %d): %s\nstored: %v\nimported: %v", d.Row, d.Action, seed, problems(d), d.Previous.Fields, d.Object.Fields)
				}
			}
			if after := snapshot(m, ty.Slug); after != before {
				t.Fatalf("store changed by re-importing its export")
			}

			// Blank cells mean "no change", so the check above cannot see a
			// column the export leaves out. Import the export into a store
			// without objects of this type (another tenant with the same
			// references): it must recreate every object field for field.
			fresh := newCatalog()
			for typ, objs := range m.objs {
				if typ != ty.Slug {
					fresh.objs[typ] = objs
				}
			}
			data := out.Bytes()
			if ty.Action {
				data = bytes.ReplaceAll(data, []byte("\r\nUPDATE,"), []byte("\r\nADD,"))
			}
			for _, d := range importFile(t, fresh, ty, data) {
				if d.Action != csvimport.ActionCreated {
					t.Fatalf("row %d into an empty store: %s, want created: %s", d.Row, d.Action, problems(d))
				}
			}
			got, want := snapshotFields(fresh, ty.Slug), snapshotFields(m, ty.Slug)
			if got != want {
				t.Fatalf("objects recreated from the export differ:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func snapshot(m *memCatalog, typ string) string {
	var lines []string
	for _, o := range m.list(typ) {
		lines = append(lines, fmt.Sprintf("%s %s %s %v", o.Key, o.ID, o.Name, o.Fields))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// snapshotFields lists key, name and fields of typ's objects, without IDs.
func snapshotFields(m *memCatalog, typ string) string {
	var lines []string
	for _, o := range m.list(typ) {
		lines = append(lines, fmt.Sprintf("%s %s %v", o.Key, o.Name, o.Fields))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// randomRow is the example row of ty with random columns replaced.
func randomRow(rng *rand.Rand, m *memCatalog, ty *objecttype.Type, i int) []string {
	row := ExampleRow(ty)
	off := 0
	if ty.Action {
		off = 1
		row[0] = "ADD"
	}
	for ci, c := range ty.Columns {
		cell := &row[off+ci]
		isKey := false
		for _, k := range ty.Key {
			isKey = isKey || k == c.Key
		}
		switch {
		case isKey && strings.HasPrefix(c.Example, "+"):
			*cell = fmt.Sprintf("+1%09d", i)
		case isKey && c.Kind != objecttype.Ref:
			*cell = fmt.Sprintf("k%d%s", i, c.Example)
		case rng.IntN(3) > 0:
			// keep the example
		case !c.Required && rng.IntN(3) == 0:
			*cell = ""
		default:
			*cell = randomValue(rng, m, c, i)
		}
	}
	// Family cells: the example's, or blank, or another level.
	for j := off + len(ty.Columns); j < len(row); j++ {
		switch rng.IntN(3) {
		case 0:
			row[j] = ""
		case 1:
			if row[j] != "Y" {
				row[j] = fmt.Sprint(rng.IntN(11))
			}
		}
	}
	return row
}

var (
	textRunes = []rune("abc XYZ 019,;\"'é日本-=+@#/")
	nameRunes = []rune("abcdefghXYZ0123456789 ")
	zones     = []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"}
	boolCells = []string{"true", "FALSE", "yes", "No", "y", "N", "1", "0"}
)

func randomValue(rng *rand.Rand, m *memCatalog, c objecttype.Column, i int) string {
	one := func() string {
		switch c.Kind {
		case objecttype.Text:
			max := c.MaxLen
			if max == 0 || max > 40 {
				max = 40
			}
			return randomString(rng, textRunes, 1+rng.IntN(max))
		case objecttype.Name:
			return fmt.Sprintf("N%d %s", i, strings.TrimSpace(randomString(rng, nameRunes, 1+rng.IntN(20))))
		case objecttype.Integer:
			return fmt.Sprint(c.Min + rng.Int64N(c.Max-c.Min+1))
		case objecttype.Boolean:
			return boolCells[rng.IntN(len(boolCells))]
		case objecttype.Enum:
			v := c.Values[rng.IntN(len(c.Values))]
			if rng.IntN(2) == 0 {
				v = strings.ToLower(strings.ReplaceAll(v, "_", " "))
			}
			return v
		case objecttype.Email:
			return fmt.Sprintf("user%d.%d@example.com", i, rng.IntN(1000))
		case objecttype.Phone:
			return fmt.Sprintf("+1415555%04d", rng.IntN(10000))
		case objecttype.Timezone:
			return zones[rng.IntN(len(zones))]
		case objecttype.Ref:
			objs := m.list(c.Ref)
			if len(objs) == 0 {
				return c.Example
			}
			o := objs[rng.IntN(len(objs))]
			if c.Ref == "team" {
				return o.Name + ": " + o.Fields["site"]
			}
			return o.Name
		case objecttype.Pairs:
			if c.Ref == "skill-definition" {
				return fmt.Sprintf("Spanish=%d", rng.IntN(11))
			}
			return c.Example
		}
		return c.Example
	}
	if c.Multi && c.Kind != objecttype.Pairs {
		n := 1 + rng.IntN(3)
		parts := make([]string, 0, n)
		seen := map[string]bool{}
		for len(parts) < n {
			v := one()
			if k := objecttype.NormalizeName(v); !seen[k] {
				seen[k] = true
				parts = append(parts, v)
			}
			if len(seen) > 10 {
				break
			}
		}
		return strings.Join(parts, " "+objecttype.MultiSep+" ")
	}
	return one()
}

func randomString(rng *rand.Rand, alphabet []rune, n int) string {
	r := make([]rune, n)
	for i := range r {
		r[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(r)
}

// TestRowColumns: a row has one cell per header, family cells render levels
// and membership, and Related collects the names in use.
func TestRowColumns(t *testing.T) {
	ty, err := objecttype.Lookup("agent")
	if err != nil {
		t.Fatal(err)
	}
	objs := []catalog.Object{
		{Type: "agent", Key: "a", Name: "a@x.com", Fields: map[string]string{"userName": "a@x.com", "skills": "French=3|Spanish=8", "agentGroups": "Tier 1"}},
		{Type: "agent", Key: "b", Name: "b@x.com", Fields: map[string]string{"userName": "b@x.com", "skills": "Spanish=2"}},
	}
	l := NewLayout(ty, Related(ty, objs))
	h := l.Header()
	want := []string{"Skill:French", "Skill:Spanish", "Agent Group:Tier 1"}
	if got := h[len(h)-3:]; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("family headers %v, want %v", got, want)
	}
	tests := []struct {
		obj  catalog.Object
		want []string
	}{
		{objs[0], []string{"3", "8", "Y"}},
		{objs[1], []string{"", "2", ""}},
	}
	for _, tt := range tests {
		row := l.Row(tt.obj)
		if len(row) != len(h) {
			t.Fatalf("row has %d cells, header %d", len(row), len(h))
		}
		if row[0] != "UPDATE" {
			t.Errorf("action %q, want UPDATE", row[0])
		}
		if got := row[len(row)-3:]; strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: family cells %v, want %v", tt.obj.Name, got, tt.want)
		}
	}
}
