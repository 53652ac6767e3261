// Package csvimport decides what each row of an import file does: it
// validates the cells against the object type, resolves references by name
// against the tenant's stored objects (one batched lookup per type and
// chunk, never one call per row), merges the row into the stored object
// (blank cell = no change, objecttype.ClearToken = clear) and classifies the
// row as created, updated, unchanged or rejected with every problem found.
//
// It writes nothing itself: the workflow applies the decisions (or, in a dry
// run, does not), so a dry run takes exactly the same path minus the writes.
// It imports nothing from AWS.
package csvimport

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Action is what a row does.
type Action string

// Row actions.
const (
	ActionCreated   Action = "created"
	ActionUpdated   Action = "updated"
	ActionUnchanged Action = "unchanged"
	ActionRejected  Action = "rejected"
)

// Problem is one thing wrong with a row.
type Problem = objecttype.Problem

// Decision is the outcome of one row.
type Decision struct {
	Row   int
	Cells []string
	// Action is what the row does.
	Action Action
	// Object is the object as it will be stored (ID unset on create).
	Object catalog.Object
	// Previous is the stored object, for updates and unchanged rows.
	Previous catalog.Object
	// Problems are every problem of a rejected row, in column order.
	Problems []Problem
}

// ObjectReader finds a tenant's stored objects by natural key.
type ObjectReader interface {
	GetObjects(ctx context.Context, typ string, keys []string) (map[string]catalog.Object, error)
}

// Validator decides rows of one file.
type Validator struct {
	t *objecttype.Type
	b *objecttype.Binding
}

// NewValidator binds the file's header to t. The error says how to fix the
// header.
func NewValidator(t *objecttype.Type, header []string) (*Validator, error) {
	b, err := t.Bind(header)
	if err != nil {
		return nil, err
	}
	return &Validator{t: t, b: b}, nil
}

// refKey is a reference to one object of another type.
type refKey struct{ typ, key string }

// parsed is a row after cell checks, before lookups.
type parsed struct {
	rec      csvread.Record
	key      string
	name     string
	action   string            // GAX ADD/UPDATE, upper case
	vals     map[string]string // canonical values given in the row
	clears   map[string]bool   // fields the row clears
	families []familyOp
	refs     []refUse
	probs    []Problem
	more     int // problems past MaxRowProblems, counted, not kept
}

// MaxRowProblems is the most problems a rejected row lists; the rest are
// counted in one closing problem. It bounds the error report of a row of
// thousands of bad cells.
const MaxRowProblems = 20

// add records a problem of the row, keeping at most MaxRowProblems.
func (p *parsed) add(prob Problem) {
	if len(p.probs) >= MaxRowProblems {
		p.more++
		return
	}
	p.probs = append(p.probs, prob)
}

// capProblems keeps the first MaxRowProblems of ps and says how many more
// there are (more were dropped before).
func capProblems(ps []Problem, more int) []Problem {
	if len(ps) > MaxRowProblems {
		more += len(ps) - MaxRowProblems
		ps = ps[:MaxRowProblems]
	}
	if more == 0 {
		return ps
	}
	ps = append(make([]Problem, 0, len(ps)+1), ps...) // let the long list go
	return append(ps, Problem{                        // no code of its own: the codes are those above
		Message: fmt.Sprintf("and %d more problems in this row", more), Hint: "fix the problems above and import the row again to see the rest"})
}

type familyOp struct {
	fam    *objecttype.Family
	name   string
	remove bool
	level  string
}

// refUse is one reference a row makes, for messages.
type refUse struct {
	ref    refKey
	header string
	name   string
}

// Decide validates and classifies recs. It reads the stored objects of the
// rows' keys and of every referenced name with one batched lookup per type.
func (v *Validator) Decide(ctx context.Context, recs []csvread.Record, store ObjectReader) ([]Decision, error) {
	rows := make([]parsed, len(recs))
	selfKeys := []string{}
	refKeys := map[string][]string{}
	for i, rec := range recs {
		p := v.parse(rec)
		rows[i] = p
		if p.key != "" {
			selfKeys = append(selfKeys, p.key)
		}
		for _, r := range p.refs {
			refKeys[r.ref.typ] = append(refKeys[r.ref.typ], r.ref.key)
		}
	}
	existing, err := store.GetObjects(ctx, v.t.Slug, selfKeys)
	if err != nil {
		return nil, err
	}
	refs := map[refKey]catalog.Object{}
	types := make([]string, 0, len(refKeys))
	for typ := range refKeys {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		found, err := store.GetObjects(ctx, typ, refKeys[typ])
		if err != nil {
			return nil, err
		}
		for k, o := range found {
			refs[refKey{typ, k}] = o
		}
	}
	resolve := func(typ, key string) (map[string]string, bool) {
		o, ok := refs[refKey{typ, key}]
		return o.Fields, ok
	}
	out := make([]Decision, len(rows))
	for i, p := range rows {
		out[i] = v.decide(p, existing, refs, resolve)
	}
	return out, nil
}

// parse checks each cell of one record.
func (v *Validator) parse(rec csvread.Record) parsed {
	p := parsed{rec: rec, vals: make(map[string]string, len(rec.Cells))}
	if len(rec.Cells) != len(v.b.Header) {
		p.add(Problem{Code: objecttype.CodeColumnCount,
			Message: fmt.Sprintf("the row has %d cells but the header has %d", len(rec.Cells), len(v.b.Header)),
			Hint:    "check for a missing or extra delimiter, or a cell with the delimiter that is not in quotes"})
		return p
	}
	for pos, raw := range rec.Cells {
		cell := objecttype.Unneutralize(strings.TrimSpace(raw))
		if pos == v.b.ActionPos {
			p.action = strings.ToUpper(cell)
			continue
		}
		if fc := v.b.Families[pos]; fc != nil {
			v.parseFamily(&p, fc, cell)
			continue
		}
		ci := v.b.Cols[pos]
		if ci < 0 || cell == "" {
			continue
		}
		col := v.t.Columns[ci]
		if cell == objecttype.ClearToken {
			if p.clears == nil {
				p.clears = map[string]bool{}
			}
			p.clears[col.Key] = true
			continue
		}
		val, prob := col.Canonical(cell)
		if prob != nil {
			p.add(*prob)
			continue
		}
		p.vals[col.Key] = val
	}
	// The natural key.
	parts := make([]string, len(v.t.Key))
	for i, k := range v.t.Key {
		parts[i] = p.vals[k]
		if parts[i] == "" {
			col, _ := v.t.Column(k)
			if !hasProblem(p.probs, col.Header) {
				p.add(Problem{Code: objecttype.CodeRequired, Column: col.Header,
					Message: "is required: it identifies the " + v.t.Name, Hint: "fill in the cell"})
			}
		}
	}
	if !hasCode(p.probs, objecttype.CodeRequired) && len(parts) > 0 && allSet(parts) {
		p.key = objecttype.JoinKey(append([]string(nil), parts...)...)
		p.name = parts[0]
	}
	// References.
	for _, col := range v.t.Columns {
		val, ok := p.vals[col.Key]
		if !ok || col.Ref == "" {
			continue
		}
		var names []string
		switch {
		case col.Kind == objecttype.Pairs:
			names, _ = objecttype.SplitPairs(val)
		case col.Multi:
			names = objecttype.SplitMulti(val)
		default:
			names = []string{val}
		}
		for _, n := range names {
			k, prob := v.refKey(col, n, p.vals)
			if prob != nil {
				p.add(*prob)
				continue
			}
			p.refs = append(p.refs, refUse{ref: refKey{col.Ref, k}, header: col.Header, name: n})
		}
	}
	for _, op := range p.families {
		if op.fam.Ref != "" && !op.remove {
			p.refs = append(p.refs, refUse{ref: refKey{op.fam.Ref, objecttype.JoinKey(op.name)}, header: op.fam.Prefix + ":" + op.name, name: op.name})
		}
	}
	return p
}

// refKey builds the natural key a reference names. Team references carry
// their site: "Team: Site", or the bare team name in the row's site.
func (v *Validator) refKey(col objecttype.Column, name string, vals map[string]string) (string, *Problem) {
	if col.Ref != "team" {
		return objecttype.JoinKey(name), nil
	}
	if team, site, ok := strings.Cut(name, ":"); ok && strings.TrimSpace(team) != "" && strings.TrimSpace(site) != "" {
		return objecttype.JoinKey(team, site), nil
	}
	if col.RefScope != "" && vals[col.RefScope] != "" {
		return objecttype.JoinKey(name, vals[col.RefScope]), nil
	}
	return "", &Problem{Code: objecttype.CodeBadFormat, Column: col.Header,
		Message: fmt.Sprintf("team %q does not say its site", name), Hint: "write teams as Team: Site, for example \"Tier 1: Boston\""}
}

func (v *Validator) parseFamily(p *parsed, fc *objecttype.FamilyCol, cell string) {
	if cell == "" {
		return
	}
	f := fc.Family
	header := f.Prefix + ":" + fc.Name
	if strings.EqualFold(cell, "N") {
		p.families = append(p.families, familyOp{fam: f, name: fc.Name, remove: true})
		return
	}
	if f.Level {
		n, err := strconv.ParseInt(cell, 10, 64)
		if err != nil || n < f.Min || n > f.Max {
			p.add(Problem{Code: objecttype.CodeBadValue, Column: header,
				Message: fmt.Sprintf("%q is not a level from %d to %d or N", cell, f.Min, f.Max), Hint: "write a level to assign, N to remove, or leave blank"})
			return
		}
		p.families = append(p.families, familyOp{fam: f, name: fc.Name, level: strconv.FormatInt(n, 10)})
		return
	}
	if !strings.EqualFold(cell, "Y") {
		p.add(Problem{Code: objecttype.CodeBadValue, Column: header,
			Message: fmt.Sprintf("%q is not Y or N", cell), Hint: "write Y to add, N to remove, or leave blank"})
		return
	}
	p.families = append(p.families, familyOp{fam: f, name: fc.Name})
}

// decide merges one parsed row with its stored object and classifies it.
func (v *Validator) decide(p parsed, existing map[string]catalog.Object, refs map[refKey]catalog.Object, resolve objecttype.Resolver) Decision {
	d := Decision{Row: p.rec.Row, Cells: p.rec.Cells}
	if hasCode(p.probs, objecttype.CodeColumnCount) {
		// The cells cannot be matched to columns; nothing else is meaningful.
		d.Action, d.Problems = ActionRejected, capProblems(p.probs, p.more)
		return d
	}
	probs := p.probs
	prev, exists := catalog.Object{}, false
	if p.key != "" {
		prev, exists = existing[p.key]
	}
	if v.t.Action {
		switch p.action {
		case "ADD":
			if exists {
				probs = append(probs, Problem{Code: objecttype.CodeExists, Column: objecttype.ActionHeader,
					Message: fmt.Sprintf("ADD: %q already exists", p.name), Hint: "write UPDATE to change it"})
			}
		case "UPDATE":
			if !exists && p.key != "" {
				probs = append(probs, Problem{Code: objecttype.CodeNotExists, Column: objecttype.ActionHeader,
					Message: fmt.Sprintf("UPDATE: %q does not exist", p.name), Hint: "write ADD to create it"})
			}
		default:
			probs = append(probs, Problem{Code: objecttype.CodeBadAction, Column: objecttype.ActionHeader,
				Message: fmt.Sprintf("%q is not ADD or UPDATE", p.action), Hint: "write ADD for a new user, UPDATE for an existing one"})
		}
	}
	merged := make(map[string]string, len(p.vals)+len(prev.Fields))
	if exists {
		maps.Copy(merged, prev.Fields)
	}
	for _, col := range v.t.Columns {
		k := col.Key
		if val, ok := p.vals[k]; ok {
			if exists && col.Immutable && merged[k] != "" && objecttype.NormalizeName(merged[k]) != objecttype.NormalizeName(val) {
				probs = append(probs, Problem{Code: objecttype.CodeImmutable, Column: col.Header,
					Message: fmt.Sprintf("cannot change from %q to %q once created", merged[k], val), Hint: "leave the cell blank, or create a new object under another name"})
				continue
			}
			merged[k] = val
		}
		if p.clears[k] {
			switch {
			case col.Required || col.Immutable || isKey(v.t, k):
				probs = append(probs, Problem{Code: objecttype.CodeCannotClear, Column: col.Header,
					Message: "cannot be cleared", Hint: "write a value, or leave the cell blank to keep the stored one"})
			default:
				delete(merged, k)
			}
		}
	}
	for key, ops := range familyOps(p.families) {
		merged[key] = applyFamily(merged[key], ops)
		if merged[key] == "" {
			delete(merged, key)
		}
	}
	if !exists {
		for _, col := range v.t.Columns {
			if col.Required && merged[col.Key] == "" && !hasProblem(probs, col.Header) {
				probs = append(probs, Problem{Code: objecttype.CodeRequired, Column: col.Header,
					Message: "is required to create a " + v.t.Name, Hint: "fill in the cell"})
			}
		}
	}
	more := p.more
	for _, r := range p.refs {
		if _, ok := refs[r.ref]; !ok {
			if len(probs) >= MaxRowProblems {
				more++ // a row of a thousand unknown skills: count them, keep 20
				continue
			}
			rt, _ := objecttype.Lookup(r.ref.typ)
			probs = append(probs, Problem{Code: objecttype.CodeUnknownRef, Column: r.header,
				Message: fmt.Sprintf("%s %q does not exist", rt.Name, r.name), Hint: "check the spelling, or import the " + rt.Name + " first"})
		}
	}
	if len(probs) == 0 {
		for _, rule := range v.t.Rules {
			probs = append(probs, rule(merged, !exists, resolve)...)
		}
	}
	name := p.name
	if name == "" {
		name = prev.Name
	}
	d.Object = catalog.Object{Type: v.t.Slug, Key: p.key, Name: name, Fields: merged}
	d.Previous = prev
	switch {
	case len(probs) > 0 || more > 0:
		d.Action, d.Problems = ActionRejected, capProblems(probs, more)
	case !exists:
		d.Action = ActionCreated
	case maps.Equal(merged, prev.Fields) && name == prev.Name:
		d.Action = ActionUnchanged
	default:
		d.Action = ActionUpdated
	}
	return d
}

// familyOps groups a row's relational cells by the field they change, in
// column order.
func familyOps(ops []familyOp) map[string][]familyOp {
	if len(ops) == 0 {
		return nil
	}
	by := map[string][]familyOp{}
	for _, op := range ops {
		by[op.fam.Key] = append(by[op.fam.Key], op)
	}
	return by
}

// applyFamily applies a row's relational cells of one family, in column
// order, to the stored relation value: the value is split and joined once
// per row, not once per cell (a row may have a thousand skill columns).
func applyFamily(cur string, ops []familyOp) string {
	items := map[string]string{} // normalized name → item
	for _, it := range objecttype.SplitMulti(cur) {
		n, _, _ := strings.Cut(it, "=")
		items[objecttype.NormalizeName(n)] = it
	}
	for _, op := range ops {
		k := objecttype.NormalizeName(op.name)
		switch {
		case op.remove:
			delete(items, k)
		case op.fam.Level:
			items[k] = op.name + "=" + op.level
		default:
			if _, ok := items[k]; !ok {
				items[k] = op.name
			}
		}
	}
	keys := make([]string, 0, len(items))
	for k := range items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = items[k]
	}
	return strings.Join(out, objecttype.MultiSep)
}

// DuplicateProblem is the problem of a row whose key an earlier row has.
func DuplicateProblem(d csvread.Duplicate) Problem {
	return Problem{Code: objecttype.CodeDuplicateKey,
		Message: fmt.Sprintf("%q already appears in row %d; each object may appear once per file", d.Key, d.FirstRow),
		Hint:    "merge the two rows, or remove this one"}
}

func isKey(t *objecttype.Type, k string) bool {
	for _, x := range t.Key {
		if x == k {
			return true
		}
	}
	return false
}

func hasProblem(ps []Problem, column string) bool {
	for _, p := range ps {
		if p.Column == column {
			return true
		}
	}
	return false
}

func hasCode(ps []Problem, code string) bool {
	for _, p := range ps {
		if p.Code == code {
			return true
		}
	}
	return false
}

func allSet(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return false
		}
	}
	return true
}
