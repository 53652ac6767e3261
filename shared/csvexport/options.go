package csvexport

import (
	"fmt"
	"strings"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Plan is one type's export options resolved against the type: the chosen
// columns and families in order, the header style, the multi-value layout
// and the filters. Columns that depend on the data (one per related object
// of a family, one per value of a multi-valued field) are found by a first
// pass over the objects that will be written (Observe); Layout then lays the
// file out. A Plan holds no objects: what it gathers grows with the distinct
// related names and the longest lists, not with the number of objects.
type Plan struct {
	t       *objecttype.Type
	cols    []*objecttype.Column
	fams    []*objecttype.Family
	keys    bool
	split   bool
	filters []filter

	related map[string][]string // family prefix → related names in use
	seen    map[string]bool     // prefix + "\x00" + normalized name
	longest map[string]int      // column key → most values of one object
}

// filter is one resolved exportspec.Filter.
type filter struct {
	key    string // field key (a column's or a family's)
	absent bool   // the type lacks the field: its value is empty
	multi  bool
	op     exportspec.FilterOp
	value  string // normalized
}

// NewPlan resolves o's fields and filters against t. Fields and filter
// fields are field keys or import headers in any spelling import accepts
// (or a family prefix such as "Skill" for GAX agents); an unknown one is an
// Invalid error that names it, the type and the closest valid field. The
// natural key's fields always come first. o is assumed valid
// (exportspec.Options.Validate); enums it does not know fall back to the
// defaults.
func NewPlan(t *objecttype.Type, o exportspec.Options) (*Plan, error) {
	return newPlan(t, o, false)
}

// NewPlans resolves o for each of the types of one export. A field or
// filter field that some of the types have is written (or filtered on) for
// those; for the others a field they lack is left out, and a filter on it
// sees an empty value. A field none of the types has is an Invalid error
// as for NewPlan, for the first type.
func NewPlans(types []*objecttype.Type, o exportspec.Options) ([]*Plan, error) {
	if len(types) > 1 {
		check := func(names []string, what string) error {
			for i, name := range names {
				var first error
				for _, t := range types {
					_, err := resolveField(t, name, fmt.Sprintf("%s[%d]", what, i))
					if err == nil {
						first = nil
						break
					}
					if first == nil {
						first = err
					}
				}
				if first != nil {
					return first
				}
			}
			return nil
		}
		if err := check(o.Fields, "fields"); err != nil {
			return nil, err
		}
		var ff []string
		for _, f := range o.Filters {
			ff = append(ff, f.Field)
		}
		if err := check(ff, "filters"); err != nil {
			return nil, err
		}
	}
	plans := make([]*Plan, len(types))
	for i, t := range types {
		p, err := newPlan(t, o, len(types) > 1)
		if err != nil {
			return nil, err
		}
		plans[i] = p
	}
	return plans, nil
}

// newPlan is NewPlan; lenient leaves out fields t lacks and makes filters
// on them see an empty value.
func newPlan(t *objecttype.Type, o exportspec.Options, lenient bool) (*Plan, error) {
	p := &Plan{t: t, keys: o.Header == exportspec.HeaderKeys, split: o.MultiValue == exportspec.MultiColumns}
	if len(o.Fields) == 0 {
		for i := range t.Columns {
			p.cols = append(p.cols, &t.Columns[i])
		}
		for i := range t.Families {
			p.fams = append(p.fams, &t.Families[i])
		}
	} else {
		chosen := map[string]bool{}
		add := func(c *objecttype.Column) {
			if !chosen[c.Key] {
				chosen[c.Key] = true
				p.cols = append(p.cols, c)
			}
		}
		for _, k := range t.Key {
			for i := range t.Columns {
				if t.Columns[i].Key == k {
					add(&t.Columns[i])
				}
			}
		}
		for i, name := range o.Fields {
			f, err := resolveField(t, name, fmt.Sprintf("fields[%d]", i))
			if err != nil {
				if lenient {
					continue
				}
				return nil, err
			}
			switch {
			case f.col != nil:
				add(f.col)
			case f.fam != nil && !chosen["\x00"+f.fam.Prefix]:
				chosen["\x00"+f.fam.Prefix] = true
				p.fams = append(p.fams, f.fam)
			}
		}
	}
	for i, fl := range o.Filters {
		f, err := resolveField(t, fl.Field, fmt.Sprintf("filters[%d]", i))
		if err != nil && !lenient {
			return nil, err
		}
		r := filter{op: fl.Op, value: objecttype.NormalizeName(fl.Value)}
		switch {
		case err != nil:
			r.absent = true
		case f.col != nil:
			r.key, r.multi = f.col.Key, multi(f.col)
			if f.col.Kind == objecttype.Boolean && fl.Value != "" {
				// Stored Booleans are true/false: "Enabled equals Y" (as a
				// GAX export writes it) means true.
				if v, prob := f.col.Canonical(strings.TrimSpace(fl.Value)); prob == nil {
					r.value = v
				}
			}
		case f.fam != nil:
			r.key, r.multi = f.fam.Key, true
		default:
			return nil, bulkerr.New(bulkerr.Invalid, "filters[%d]: %q is the %s action column, not a field; filter on a field such as %q",
				i, strings.TrimSpace(fl.Field), t.Name, t.Columns[0].Header)
		}
		switch r.op {
		case exportspec.OpEquals, exportspec.OpContains, exportspec.OpPrefix, exportspec.OpEmpty, exportspec.OpNotEmpty:
		default:
			return nil, bulkerr.New(bulkerr.Invalid, "filters[%d].op %q is not equals, contains, startsWith, empty or notEmpty", i, fl.Op)
		}
		p.filters = append(p.filters, r)
	}
	return p, nil
}

// NeedsPass reports whether the layout depends on the objects (family
// columns, or multi-valued fields laid out in columns), so Observe must see
// every object that will be written before Layout.
func (p *Plan) NeedsPass() bool {
	if len(p.fams) > 0 {
		return true
	}
	if p.split {
		for _, c := range p.cols {
			if multi(c) {
				return true
			}
		}
	}
	return false
}

// Filtered reports whether the plan has filters.
func (p *Plan) Filtered() bool { return len(p.filters) > 0 }

// Keep reports whether o passes every filter.
func (p *Plan) Keep(o catalog.Object) bool {
	for _, f := range p.filters {
		v := ""
		if !f.absent {
			v = o.Fields[f.key]
		}
		if !f.match(v) {
			return false
		}
	}
	return true
}

// match compares a stored value the way names are compared on import
// (objecttype.NormalizeName). For a multi-valued field, equals and
// startsWith also match when one of its values (or, for name=value items,
// one of the names) does; contains looks at the whole cell.
func (f filter) match(stored string) bool {
	v := objecttype.NormalizeName(stored)
	switch f.op {
	case exportspec.OpEmpty:
		return v == ""
	case exportspec.OpNotEmpty:
		return v != ""
	case exportspec.OpContains:
		return strings.Contains(v, f.value)
	}
	test := func(v string) bool {
		if f.op == exportspec.OpEquals {
			return v == f.value
		}
		return strings.HasPrefix(v, f.value)
	}
	if test(v) {
		return true
	}
	if f.multi {
		for _, item := range objecttype.SplitMulti(stored) {
			name, _, _ := strings.Cut(item, "=")
			if test(objecttype.NormalizeName(item)) || test(objecttype.NormalizeName(name)) {
				return true
			}
		}
	}
	return false
}

// Observe records what the layout needs of one object that will be
// written: the related names of its families and the length of its
// multi-valued fields. Call it for every such object (and only those)
// before Layout when NeedsPass.
func (p *Plan) Observe(o catalog.Object) {
	for _, f := range p.fams {
		for _, item := range objecttype.SplitMulti(o.Fields[f.Key]) {
			name, _, _ := strings.Cut(item, "=")
			k := f.Prefix + "\x00" + objecttype.NormalizeName(name)
			if p.seen == nil {
				p.seen = map[string]bool{}
				p.related = map[string][]string{}
			}
			if !p.seen[k] {
				p.seen[k] = true
				p.related[f.Prefix] = append(p.related[f.Prefix], name)
			}
		}
	}
	if !p.split {
		return
	}
	for _, c := range p.cols {
		if !multi(c) {
			continue
		}
		if n := len(objecttype.SplitMulti(o.Fields[c.Key])); n > p.longest[c.Key] {
			if p.longest == nil {
				p.longest = map[string]int{}
			}
			p.longest[c.Key] = n
		}
	}
}

// Layout lays the file out from the options and what Observe saw. A
// multi-valued field in columns gets as many columns as its longest list
// (at least one, so a chosen field is never dropped).
func (p *Plan) Layout() *Layout {
	l := &Layout{t: p.t, keys: p.keys}
	for _, c := range p.cols {
		if !p.split || !multi(c) {
			l.cols = append(l.cols, outCol{c: c})
			continue
		}
		for n := 1; n <= max(1, p.longest[c.Key]); n++ {
			l.cols = append(l.cols, outCol{c: c, nth: n})
		}
	}
	for _, f := range p.fams {
		l.addFamily(f, p.related[f.Prefix])
	}
	return l
}

// multi reports whether c holds several values (Multi, or a name=value
// list, which is always multi-valued).
func multi(c *objecttype.Column) bool { return c.Multi || c.Kind == objecttype.Pairs }

// field is a resolved field name: a column, a family, or neither (the GAX
// action column).
type field struct {
	col *objecttype.Column
	fam *objecttype.Family
}

// resolveField finds the column or family that name means, matching it the
// way import matches a header (objecttype.Type.Bind): case, spaces, "_" and
// "-" do not matter, field keys and aliases are accepted, and a family is
// named by its prefix ("Skill", or "Skill:<name>"). what says where the
// name came from ("fields[2]") for the error.
func resolveField(t *objecttype.Type, name, what string) (field, error) {
	h := strings.TrimSpace(name)
	if h == "" {
		return field{}, bulkerr.New(bulkerr.Invalid, "%s is blank; name a %s field such as %q", what, t.Name, t.Columns[0].Header)
	}
	// Bind accepts the canonical header row; put name in the place of each
	// column in turn: the row still binds, with name in that place, exactly
	// when name is that column's header in a spelling import accepts.
	headers := t.Headers()
	for i := range headers {
		row := append([]string(nil), headers...)
		row[i] = h
		b, err := t.Bind(row)
		if err != nil {
			continue
		}
		if b.Cols[i] >= 0 {
			return field{col: &t.Columns[b.Cols[i]]}, nil
		}
		if b.ActionPos == i {
			return field{}, nil
		}
	}
	if len(t.Families) > 0 {
		probe := h
		if !strings.Contains(probe, ":") {
			probe += ":x"
		}
		if b, err := t.Bind(append(headers, probe)); err == nil && b.Families[len(headers)] != nil {
			return field{fam: b.Families[len(headers)].Family}, nil
		}
	}
	// Not a field: let Bind say which valid header is closest.
	_, err := t.Bind(append(headers, h))
	hint := ""
	if err != nil {
		msg := bulkerr.Message(err)
		prefix := fmt.Sprintf("header column %d %q is not a %s column; ", len(headers)+1, h, t.Name)
		if rest, ok := strings.CutPrefix(msg, prefix); ok {
			hint = rest
		}
	}
	if hint == "" {
		hint = "valid fields: " + strings.Join(validFields(t), ", ")
	}
	return field{}, bulkerr.New(bulkerr.Invalid, "%s: %q is not a %s field; %s", what, h, t.Name, hint)
}

// validFields lists t's import headers and family prefixes.
func validFields(t *objecttype.Type) []string {
	var out []string
	for _, c := range t.Columns {
		out = append(out, c.Header)
	}
	for _, f := range t.Families {
		out = append(out, f.Prefix)
	}
	return out
}
