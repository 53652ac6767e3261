package objecttype

import (
	"fmt"
	"net/mail"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked the same on every machine and in Lambda
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxNameLen is the longest name any type accepts.
const MaxNameLen = 80

// MaxDescriptionLen is the longest description any type accepts.
const MaxDescriptionLen = 255

var (
	phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 ().\-]*$`)
	boolWords    = map[string]string{
		"true": "true", "yes": "true", "y": "true", "1": "true",
		"false": "false", "no": "false", "n": "false", "0": "false",
	}
)

// Canonical checks one non-blank cell (already trimmed, not ClearToken) and
// returns its canonical form, or a problem saying what is wrong and how to
// fix it. Multi-valued cells are split on MultiSep, each value checked, and
// joined back with MultiSep; duplicates within a cell are a problem.
func (c Column) Canonical(raw string) (string, *Problem) {
	raw = norm.NFC.String(raw)
	if !c.Multi && c.Kind != Pairs {
		return c.one(raw)
	}
	parts := strings.Split(raw, MultiSep)
	out := make([]string, 0, len(parts))
	seen := map[string]bool{}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, prob := c.one(p)
		if prob != nil {
			return "", prob
		}
		id := NormalizeName(v)
		if c.Kind == Pairs {
			id = NormalizeName(pairName(v))
		}
		if seen[id] {
			return "", c.problem(CodeDuplicateItem, fmt.Sprintf("%q is listed twice", p), "list each value once")
		}
		seen[id] = true
		out = append(out, v)
	}
	if len(out) == 0 {
		return "", c.problem(CodeBadValue, fmt.Sprintf("%q holds no values", raw), "separate values with "+MultiSep)
	}
	if c.Kind == Pairs {
		// Order of pairs carries no meaning: store them sorted, so the same
		// set written in another order is "unchanged".
		sort.Slice(out, func(i, j int) bool { return NormalizeName(out[i]) < NormalizeName(out[j]) })
	}
	return strings.Join(out, MultiSep), nil
}

func (c Column) problem(code, msg, hint string) *Problem {
	return &Problem{Code: code, Column: c.Header, Message: msg, Hint: hint}
}

// one checks a single value.
func (c Column) one(v string) (string, *Problem) {
	for _, r := range v {
		if unicode.IsControl(r) && r != '\t' && !(r == '\n' && c.Kind == Text) || r == utf8.RuneError {
			return "", c.problem(CodeBadValue, fmt.Sprintf("%q contains a control or invalid character", v), "remove line breaks and non-printing characters from the cell")
		}
	}
	var out string
	switch c.Kind {
	case Text, Name, Ref:
		max := c.MaxLen
		if max == 0 {
			max = MaxDescriptionLen
			if c.Kind != Text {
				max = MaxNameLen
			}
		}
		if n := utf8.RuneCountInString(v); n > max {
			return "", c.problem(CodeTooLong, fmt.Sprintf("%d characters, at most %d allowed", n, max), "shorten the value")
		}
		out = v
	case Integer:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", c.problem(CodeNotNumber, fmt.Sprintf("%q is not a whole number", v), "write digits only, such as 30")
		}
		if n < c.Min || n > c.Max {
			return "", c.problem(CodeOutOfRange, fmt.Sprintf("%d is outside %d to %d", n, c.Min, c.Max), "")
		}
		out = strconv.FormatInt(n, 10)
	case Boolean:
		b, ok := boolWords[strings.ToLower(v)]
		if !ok {
			return "", c.problem(CodeBadValue, fmt.Sprintf("%q is not true or false", v), "write true or false (yes/no, y/n and 1/0 are accepted too)")
		}
		out = b
	case Enum:
		want := enumForm(v)
		for _, e := range c.Values {
			if enumForm(e) == want {
				out = e
				break
			}
		}
		if out == "" {
			return "", c.problem(CodeNotAllowed, fmt.Sprintf("%q is not one of %s", v, strings.Join(c.Values, ", ")), "")
		}
	case Email:
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v || !strings.Contains(v[strings.LastIndexByte(v, '@')+1:], ".") {
			return "", c.problem(CodeBadFormat, fmt.Sprintf("%q is not an e-mail address", v), "write it as name@example.com")
		}
		out = v
	case Phone:
		digits := 0
		for _, r := range v {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if !phonePattern.MatchString(v) || digits < 3 || digits > 20 {
			return "", c.problem(CodeBadFormat, fmt.Sprintf("%q is not a phone number", v), "write + and digits, such as +14155550100; spaces, ( ) - and . are allowed")
		}
		out = v
	case Timezone:
		if _, err := time.LoadLocation(v); err != nil || v == "Local" || v == "" {
			return "", c.problem(CodeBadValue, fmt.Sprintf("%q is not a time zone", v), "use an IANA name such as America/New_York or Europe/Berlin")
		}
		out = v
	case Pairs:
		name, val, ok := strings.Cut(v, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" || val == "" {
			return "", c.problem(CodeBadFormat, fmt.Sprintf("%q is not name=value", v), "write items as name=value separated by "+MultiSep)
		}
		if n := utf8.RuneCountInString(name); n > MaxNameLen {
			return "", c.problem(CodeTooLong, fmt.Sprintf("name %q has %d characters, at most %d allowed", name, n, MaxNameLen), "")
		}
		out = name + "=" + val
	default:
		out = v
	}
	if c.Check != nil {
		if msg := c.Check(out); msg != "" {
			return "", c.problem(CodeBadValue, msg, "")
		}
	}
	return out, nil
}

// pairName is the name part of a "name=value" item.
func pairName(v string) string {
	n, _, _ := strings.Cut(v, "=")
	return n
}

// SplitPairs splits a canonical Pairs value into names and values.
func SplitPairs(v string) (names, values []string) {
	if v == "" {
		return nil, nil
	}
	for _, item := range strings.Split(v, MultiSep) {
		n, val, _ := strings.Cut(item, "=")
		names = append(names, n)
		values = append(values, val)
	}
	return names, values
}

// SplitMulti splits a canonical multi value.
func SplitMulti(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, MultiSep)
}

func enumForm(s string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "_", "-", "_").Replace(strings.TrimSpace(s)))
}

// namePattern builds a Check for names: letters and digits of any script plus
// the given punctuation; first, if set, must be a letter.
func namePattern(extra string, letterFirst bool) func(string) string {
	return func(v string) string {
		for i, r := range v {
			if i == 0 && letterFirst && !unicode.IsLetter(r) {
				return fmt.Sprintf("%q must start with a letter", v)
			}
			if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || strings.ContainsRune(extra, r) {
				continue
			}
			return fmt.Sprintf("%q contains %q; use letters, digits, spaces and %s only", v, r, describe(extra))
		}
		return ""
	}
}

func describe(extra string) string {
	var parts []string
	for _, r := range extra {
		parts = append(parts, string(r))
	}
	return strings.Join(parts, " ")
}

// formulaStarts are the first characters that make a spreadsheet treat a
// cell as a formula.
const formulaStarts = "=+-@\t\r"

// plainNumber matches cells that start like a formula but are numbers.
var plainNumber = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// Neutralize protects a cell written to a CSV against formula injection:
// a value starting with = + - @ tab or CR gets a leading apostrophe, which
// spreadsheets show as text; numbers such as -5 are left alone.
// Unneutralize undoes it on import, so exports round-trip exactly.
func Neutralize(cell string) string {
	if Unneutralize(cell) != cell {
		return "'" + cell // keep a stored apostrophe-formula intact
	}
	if cell == "" || !strings.ContainsRune(formulaStarts, rune(cell[0])) || plainNumber.MatchString(cell) {
		return cell
	}
	return "'" + cell
}

// Unneutralize removes the apostrophe Neutralize adds: a cell of an
// apostrophe followed by = + - @ tab or CR (or by such a cell with its own
// apostrophe) loses its first apostrophe.
func Unneutralize(cell string) string {
	if len(cell) > 1 && cell[0] == '\'' && (strings.ContainsRune(formulaStarts, rune(cell[1])) || Unneutralize(cell[1:]) != cell[1:]) {
		return cell[1:]
	}
	return cell
}
