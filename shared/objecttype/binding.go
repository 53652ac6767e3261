package objecttype

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// NormalizeName is the comparison form of a name: trimmed, inner runs of
// white space collapsed to one space, Unicode NFC, case-folded. "  Sales
// Team " and "sales team" are the same object.
func NormalizeName(s string) string {
	if n, ok := normalizeASCII(s); ok {
		return n
	}
	s = strings.Join(strings.Fields(s), " ")
	return cases.Fold().String(norm.NFC.String(s))
}

// normalizeASCII is NormalizeName for pure ASCII input, where NFC is the
// identity and case folding is lower-casing; it reports false for any other
// input. It allocates only when s is not already in normal form. (Most keys
// are ASCII; the general path costs ten times as much.)
func normalizeASCII(s string) (string, bool) {
	clean := true // s is already trimmed, single-spaced and lower case
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return "", false
		case asciiSpace(c):
			if prevSpace || c != ' ' {
				clean = false
			}
			prevSpace = true
		default:
			if 'A' <= c && c <= 'Z' {
				clean = false
			}
			prevSpace = false
		}
	}
	if clean && (len(s) == 0 || s[len(s)-1] != ' ') {
		return s, true
	}
	b := make([]byte, 0, len(s))
	pending := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if asciiSpace(c) {
			pending = len(b) > 0
			continue
		}
		if pending {
			b = append(b, ' ')
			pending = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b), true
}

// asciiSpace reports the ASCII bytes strings.Fields splits on.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// KeySep joins the parts of a multi-part natural key (team name and site).
// Name patterns of such types exclude it.
const KeySep = "/"

// JoinKey builds a natural key from its raw parts.
func JoinKey(parts ...string) string {
	for i, p := range parts {
		parts[i] = NormalizeName(p)
	}
	return strings.Join(parts, KeySep)
}

// normHeader is the comparison form of a header: lower case without spaces,
// underscores or hyphens, so "Service Level Threshold",
// "service_level_threshold" and "serviceLevelThreshold" are one header.
func normHeader(h string) string {
	h = strings.TrimPrefix(h, "\uFEFF")
	var b strings.Builder
	for _, r := range strings.ToLower(norm.NFC.String(h)) {
		if unicode.IsSpace(r) || r == '_' || r == '-' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FamilyCol is a header cell of a relational column family.
type FamilyCol struct {
	Family *Family
	// Name is the related object's name as written after the colon.
	Name string
}

// Binding maps a file's header onto a type's columns.
type Binding struct {
	Type *Type
	// Header is the file's header row as read.
	Header []string
	// Cols holds, per header position, the index into Type.Columns, or -1.
	Cols []int
	// Families holds, per header position, the family column, if any.
	Families []*FamilyCol
	// ActionPos is the header position of the Action column, or -1.
	ActionPos int
	keyPos    []int
}

// Bind matches a header row against the type's columns: case- and
// space-insensitively, in any order. An unknown header (naming the closest
// valid one), a duplicate header or a missing required column is an Invalid
// error saying how to fix the header. The report columns of an error CSV
// (Row, Error Code, Error Message) are ignored, so an error report can be
// fixed and imported again.
func (t *Type) Bind(header []string) (*Binding, error) {
	b := &Binding{Type: t, Header: header, Cols: make([]int, len(header)), Families: make([]*FamilyCol, len(header)), ActionPos: -1}
	index := map[string]int{}
	for i, c := range t.Columns {
		for _, h := range append([]string{c.Header, c.Key}, c.Aliases...) {
			index[normHeader(h)] = i
		}
	}
	ignored := map[string]bool{}
	for _, h := range ReportHeaders {
		ignored[normHeader(h)] = true
	}
	seen := map[string]int{} // normalized header → 1-based position
	for pos, raw := range header {
		b.Cols[pos] = -1
		h := strings.TrimSpace(strings.TrimPrefix(raw, "\uFEFF"))
		n := normHeader(h)
		if n == "" {
			return nil, bulkerr.New(bulkerr.Invalid, "header column %d is blank; every column needs a header (valid headers: %s)", pos+1, strings.Join(t.Headers(), ", "))
		}
		if fc, ok := t.family(h); ok {
			n = normHeader(fc.Family.Prefix) + ":" + NormalizeName(fc.Name)
			b.Families[pos] = fc
		}
		if first, dup := seen[n]; dup {
			return nil, bulkerr.New(bulkerr.Invalid, "header %q appears twice (columns %d and %d); remove one of them", h, first, pos+1)
		}
		seen[n] = pos + 1
		if b.Families[pos] != nil {
			continue
		}
		if t.Action && n == normHeader(ActionHeader) {
			b.ActionPos = pos
			continue
		}
		if i, ok := index[n]; ok {
			b.Cols[pos] = i
			continue
		}
		if ignored[n] {
			continue
		}
		return nil, bulkerr.New(bulkerr.Invalid, "header column %d %q is not a %s column; %s", pos+1, h, t.Name, t.suggest(h))
	}
	for _, c := range t.Columns {
		if !c.Required {
			continue
		}
		if b.pos(c.Key) < 0 {
			return nil, bulkerr.New(bulkerr.Invalid, "the header has no %q column, which %s files need; add it (download the %s template for every column)", c.Header, t.Name, t.Name)
		}
	}
	if t.Action && b.ActionPos < 0 {
		return nil, bulkerr.New(bulkerr.Invalid, "the header has no %q column; every %s row needs ADD or UPDATE in it", ActionHeader, t.Name)
	}
	for _, k := range t.Key {
		p := b.pos(k)
		if p < 0 {
			c, _ := t.Column(k)
			return nil, bulkerr.New(bulkerr.Invalid, "the header has no %q column, which identifies %s objects; add it", c.Header, t.Name)
		}
		b.keyPos = append(b.keyPos, p)
	}
	return b, nil
}

// pos returns the header position of the column with field key k, or -1.
func (b *Binding) pos(k string) int {
	for p, i := range b.Cols {
		if i >= 0 && b.Type.Columns[i].Key == k {
			return p
		}
	}
	return -1
}

// Key returns the normalized natural key of a record's cells, and false when
// a key cell is blank (the row will be rejected for it).
func (b *Binding) Key(cells []string) (string, bool) {
	parts := make([]string, len(b.keyPos))
	for i, p := range b.keyPos {
		if p >= len(cells) {
			return "", false
		}
		v := strings.TrimSpace(cells[p])
		if v == "" || v == ClearToken {
			return "", false
		}
		parts[i] = v
	}
	return JoinKey(parts...), true
}

// KeyHeaders returns the headers of the key columns as written in the file.
func (b *Binding) KeyHeaders() []string {
	h := make([]string, len(b.keyPos))
	for i, p := range b.keyPos {
		h[i] = strings.TrimSpace(b.Header[p])
	}
	return h
}

// family recognizes a "<Prefix>:<name>" header of one of t's families.
func (t *Type) family(h string) (*FamilyCol, bool) {
	prefix, name, ok := strings.Cut(h, ":")
	if !ok {
		return nil, false
	}
	for i := range t.Families {
		f := &t.Families[i]
		if normHeader(prefix) == normHeader(f.Prefix) {
			return &FamilyCol{Family: f, Name: strings.TrimSpace(name)}, strings.TrimSpace(name) != ""
		}
	}
	return nil, false
}

// suggest names the closest valid header to h.
func (t *Type) suggest(h string) string {
	n := normHeader(h)
	best, bestD := "", 1<<30
	for _, c := range t.Columns {
		for _, cand := range append([]string{c.Header}, c.Aliases...) {
			if d := distance(n, normHeader(cand)); d < bestD {
				best, bestD = c.Header, d
			}
		}
	}
	valid := strings.Join(t.Headers(), ", ")
	if len(t.Families) > 0 {
		var f []string
		for _, fam := range t.Families {
			f = append(f, fam.Prefix+":<name>")
		}
		valid += ", " + strings.Join(f, ", ")
	}
	if best != "" && bestD <= max(2, len(n)/3) {
		return fmt.Sprintf("did you mean %q? (valid headers: %s)", best, valid)
	}
	return "valid headers: " + valid
}

// distance is the Levenshtein distance between a and b, by rune.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
