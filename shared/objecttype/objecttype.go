// Package objecttype is the declarative registry of the configuration object
// types a tenant can import and export: for each type its CSV columns
// (header spellings and aliases), value rules, references to other types by
// name, immutable fields, natural key and cross-field rules.
//
// It is pure Go: no AWS, no I/O. The CSV reader (csvread) uses it to find the
// key of each row; the import engine (csvimport) uses it to validate rows;
// exports and templates use the same columns, so files round-trip.
package objecttype

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Kind is the value type of a column.
type Kind int

// Value kinds. Every kind has one canonical text form (see Column.Canonical);
// stored fields hold that form, so comparisons and round trips are exact.
const (
	// Text is free text up to MaxLen characters (no control characters).
	Text Kind = iota
	// Name is an object name: at most 80 characters, matching Pattern.
	Name
	// Integer is a whole number within [Min, Max].
	Integer
	// Boolean accepts true/false, yes/no, y/n, 1/0 in any case; stored as
	// "true" or "false".
	Boolean
	// Enum is one of Values, matched ignoring case and treating spaces as
	// underscores; stored as written in Values.
	Enum
	// Email is an e-mail address (local@domain).
	Email
	// Phone is a phone number: an optional leading +, then digits, spaces,
	// '(', ')', '-' and '.'.
	Phone
	// Timezone is an IANA time zone name such as Europe/Berlin.
	Timezone
	// Ref is the name of an object of type Ref (see Column.Ref).
	Ref
	// Pairs is a list of "name=value" items (always Multi).
	Pairs
)

var kindNames = map[Kind]string{
	Text: "text", Name: "name", Integer: "whole number", Boolean: "true/false", Enum: "one of a list",
	Email: "e-mail address", Phone: "phone number", Timezone: "IANA time zone", Ref: "name of another object",
	Pairs: "name=value list",
}

// String names the kind for documentation and messages.
func (k Kind) String() string { return kindNames[k] }

// BoolSpelling is how a Boolean column is written out.
type BoolSpelling int

// Boolean spellings.
const (
	// SpellTrueFalse writes true or false, the stored form; the default.
	SpellTrueFalse BoolSpelling = iota
	// SpellYN writes Y or N, as Genesys GAX files do.
	SpellYN
)

// Written is how exports and templates write the canonical (stored) value
// v of c: as stored, except a Boolean column spelled Y/N writes Y for
// true and N for false (every value of a multi-valued cell). Import reads
// the written form back to the same canonical value, so files round-trip.
func (c Column) Written(v string) string {
	if c.Kind != Boolean || c.Spelling != SpellYN || v == "" {
		return v
	}
	yn := func(b string) string {
		switch b {
		case "true":
			return "Y"
		case "false":
			return "N"
		}
		return b // not canonical: leave it as it is
	}
	if !c.Multi {
		return yn(v)
	}
	parts := SplitMulti(v)
	for i, p := range parts {
		parts[i] = yn(p)
	}
	return strings.Join(parts, MultiSep)
}

// MultiSep separates the values of a multi-valued cell.
const MultiSep = "|"

// ClearToken in a cell clears the field on update. A blank cell means "no
// change" on update and "no value" on create.
const ClearToken = "#CLEAR"

// Column is one CSV column of a type.
type Column struct {
	// Key is the field key under which the value is stored.
	Key string
	// Header is the canonical header spelling (templates and exports use it).
	Header string
	// Aliases are other accepted header spellings.
	Aliases []string
	// Kind is the value type.
	Kind Kind
	// Required columns must be present in the header and non-blank when the
	// row creates an object.
	Required bool
	// Multi cells hold several values separated by MultiSep.
	Multi bool
	// MaxLen bounds Text and Name values, in characters.
	MaxLen int
	// Min and Max bound Integer values.
	Min, Max int64
	// Values lists the Enum values.
	Values []string
	// Ref names the referenced type's slug for Ref columns.
	Ref string
	// RefScope names the column (by key) whose value scopes a reference:
	// teams are unique only within a site, so a team reference in a row with
	// a site column is looked up in that site unless it names one itself as
	// "Team: Site".
	RefScope string
	// Immutable fields cannot change once the object exists.
	Immutable bool
	// Check, if set, validates the canonical value further and returns a
	// problem message ("" when fine).
	Check func(v string) string
	// Spelling is how exports and templates write a Boolean value (import
	// reads every spelling either way): true/false by default, Y/N for the
	// GAX agent columns, as GAX writes them.
	Spelling BoolSpelling
	// Doc says what the column holds (templates, docs).
	Doc string
	// Example is a value for the example template.
	Example string
}

// Problem is one thing wrong with a row.
type Problem struct {
	// Code is a stable identifier (see the Code* constants).
	Code string `json:"code"`
	// Column is the header of the column at fault, if one is.
	Column string `json:"column,omitempty"`
	// Message says what is wrong, for a human.
	Message string `json:"message"`
	// Hint says how to fix it, where that is known.
	Hint string `json:"hint,omitempty"`
}

// Text is the problem as one line: "Column: message (hint)".
func (p Problem) Text() string {
	s := p.Message
	if p.Column != "" {
		s = p.Column + ": " + s
	}
	if p.Hint != "" {
		s += " (" + p.Hint + ")"
	}
	return s
}

// Stable problem codes.
const (
	CodeRequired      = "REQUIRED"
	CodeTooLong       = "TOO_LONG"
	CodeBadValue      = "INVALID_VALUE"
	CodeNotAllowed    = "NOT_ALLOWED"
	CodeNotNumber     = "NOT_A_NUMBER"
	CodeOutOfRange    = "OUT_OF_RANGE"
	CodeBadFormat     = "BAD_FORMAT"
	CodeUnknownRef    = "UNKNOWN_REFERENCE"
	CodeImmutable     = "IMMUTABLE_FIELD"
	CodeDuplicateKey  = "DUPLICATE_KEY"
	CodeDuplicateItem = "DUPLICATE_VALUE"
	CodeConflict      = "CONFLICTING_FIELDS"
	CodeExists        = "ALREADY_EXISTS"
	CodeNotExists     = "DOES_NOT_EXIST"
	CodeBadAction     = "INVALID_ACTION"
	CodeColumnCount   = "WRONG_COLUMN_COUNT"
	CodeCannotClear   = "CANNOT_CLEAR"
)

// Resolver finds referenced objects while rules run: the fields of the
// object of type typ whose natural key is key.
type Resolver func(typ, key string) (fields map[string]string, ok bool)

// Rule checks a row's object as it will be stored (merged with the stored
// object on update). fields holds canonical values by field key; a missing
// key means no value. created tells a create from an update.
type Rule func(fields map[string]string, created bool, resolve Resolver) []Problem

// Family is a GAX-style relational column family: headers "<Prefix>:<name>",
// one column per related object, whose cells add, set or remove the relation.
type Family struct {
	// Prefix is the header prefix before the colon, e.g. "Skill".
	Prefix string
	// Key is the field that stores the relation as a sorted Pairs or Multi
	// value ("name=level|…" for levels, "name|…" for membership).
	Key string
	// Level: cells hold a number (set the level) or N (remove); otherwise
	// cells hold Y (add) or N (remove). Blank is no change either way.
	Level bool
	// Min and Max bound levels.
	Min, Max int64
	// Ref names the type the related names must exist as, or "" when the
	// related objects are not managed by this service (switches, groups).
	Ref string
	// Doc says what the family means.
	Doc string
	// Example is one related name and its cell for the example template,
	// e.g. "Spanish" and "8"; empty when the family has no example.
	ExampleName, ExampleCell string
}

// Type is one object type.
type Type struct {
	// Slug identifies the type in upload keys, API routes and stored
	// objects, e.g. "work-type".
	Slug string
	// Name is the display name, e.g. "Work Type".
	Name string
	// Aliases are other accepted spellings of the slug.
	Aliases []string
	// Columns in template order.
	Columns []Column
	// Key lists the field keys whose values form the natural key, name
	// column first. Teams: name and site.
	Key []string
	// Families are GAX relational column families (agents only).
	Families []Family
	// Action: rows carry an Action column (ADD fails if the key exists,
	// UPDATE if it does not), as in Genesys GAX files.
	Action bool
	// Rules are cross-field checks.
	Rules []Rule
	// Notes document choices made where the sources are silent.
	Notes []string
}

// ActionHeader is the header of the GAX action column.
const ActionHeader = "Action"

// ReportHeaders are the columns an error report adds. A re-imported error
// report carries them; they are ignored on import.
var ReportHeaders = []string{"Row", "Error Code", "Error Message"}

// Column returns the column with field key key.
func (t *Type) Column(key string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Key == key {
			return c, true
		}
	}
	return Column{}, false
}

// Headers returns the canonical header row (templates and exports).
func (t *Type) Headers() []string {
	var h []string
	if t.Action {
		h = append(h, ActionHeader)
	}
	for _, c := range t.Columns {
		h = append(h, c.Header)
	}
	return h
}

var registry = map[string]*Type{}
var order []*Type

// register adds t; called from the definitions' init.
func register(t *Type) {
	for _, k := range t.Key {
		if _, ok := t.Column(k); !ok {
			panic(fmt.Sprintf("objecttype %s: key field %q has no column", t.Slug, k))
		}
	}
	for _, s := range append([]string{t.Slug}, t.Aliases...) {
		s = slugNorm(s)
		if _, dup := registry[s]; dup {
			panic("objecttype: duplicate slug " + s)
		}
		registry[s] = t
	}
	order = append(order, t)
}

func slugNorm(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer("_", "-", " ", "-").Replace(s)
}

// Lookup returns the type with the given slug (or alias, or display name),
// or an Invalid error listing the known slugs.
func Lookup(slug string) (*Type, error) {
	if t, ok := registry[slugNorm(slug)]; ok {
		return t, nil
	}
	return nil, bulkerr.New(bulkerr.Invalid, "unknown object type %q; known types: %s", slug, strings.Join(Slugs(), ", "))
}

// All returns every type in registration order.
func All() []*Type { return append([]*Type(nil), order...) }

// Slugs returns the known slugs, sorted.
func Slugs() []string {
	s := make([]string, 0, len(order))
	for _, t := range order {
		s = append(s, t.Slug)
	}
	sort.Strings(s)
	return s
}
