package objecttype

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

func mustType(t testing.TB, slug string) *Type {
	t.Helper()
	ty, err := Lookup(slug)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

func TestLookup(t *testing.T) {
	tests := []struct{ in, want string }{
		{"work-type", "work-type"},
		{"Work Type", "work-type"},
		{"WORK_TYPE", "work-type"},
		{"aux-code", "auxiliary-code"},
		{"gax", "agent"},
		{"Desktop Profile", "agent-profile"},
		{"dn-mapping", "entry-point-mapping"},
	}
	for _, tt := range tests {
		ty, err := Lookup(tt.in)
		if err != nil || ty.Slug != tt.want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", tt.in, ty, err, tt.want)
		}
	}
	_, err := Lookup("widgets")
	if err == nil || !strings.Contains(err.Error(), "known types: ") || !strings.Contains(err.Error(), "work-type") {
		t.Errorf("unknown type error %v does not list the known types", err)
	}
}

// TestRegistry: every seed type is registered, and every definition is
// consistent: references point at registered types defined earlier (the
// import order), key and required columns have examples, enums have values.
func TestRegistry(t *testing.T) {
	want := []string{"entry-point", "outdial-entry-point", "queue", "outdial-queue", "site", "team", "user", "user-profile",
		"work-type", "auxiliary-code", "agent-profile", "address-book", "outdial-ani", "skill-definition", "skill-profile",
		"entry-point-mapping", "agent"}
	for _, s := range want {
		mustType(t, s)
	}
	pos := map[string]int{}
	for i, ty := range All() {
		pos[ty.Slug] = i
	}
	for i, ty := range All() {
		for _, c := range ty.Columns {
			if c.Ref != "" {
				if j, ok := pos[c.Ref]; !ok || j >= i {
					t.Errorf("%s.%s refers to %q, which is not registered before it", ty.Slug, c.Key, c.Ref)
				}
			}
			if c.Kind == Enum && len(c.Values) == 0 {
				t.Errorf("%s.%s is an enum without values", ty.Slug, c.Key)
			}
			if c.Required && c.Example == "" {
				t.Errorf("%s.%s is required but has no example", ty.Slug, c.Key)
			}
			if c.Example != "" {
				if _, p := c.Canonical(c.Example); p != nil {
					t.Errorf("%s.%s example %q is invalid: %s", ty.Slug, c.Key, c.Example, p.Text())
				}
			}
		}
		for _, f := range ty.Families {
			if f.Ref != "" {
				if j, ok := pos[f.Ref]; !ok || j >= i {
					t.Errorf("%s family %s refers to %q, which is not registered before it", ty.Slug, f.Prefix, f.Ref)
				}
			}
		}
		if len(ty.Key) == 0 {
			t.Errorf("%s has no natural key", ty.Slug)
		}
	}
}

func TestCanonical(t *testing.T) {
	col := func(k Kind, mod func(*Column)) Column {
		c := Column{Key: "f", Header: "F", Kind: k}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	tests := []struct {
		name string
		col  Column
		in   string
		want string // canonical value, or the problem code after "!"
	}{
		{"text", col(Text, nil), "Hello, world", "Hello, world"},
		{"text newline", col(Text, nil), "two\nlines", "two\nlines"},
		{"text control", col(Text, nil), "bell\a", "!" + CodeBadValue},
		{"text too long", col(Text, func(c *Column) { c.MaxLen = 3 }), "abcd", "!" + CodeTooLong},
		{"text counts characters", col(Text, func(c *Column) { c.MaxLen = 3 }), "äöü", "äöü"},
		{"text NFC", col(Text, nil), "Cafe\u0301", "Café"},
		{"name newline", col(Name, nil), "a\nb", "!" + CodeBadValue},
		{"name 81", col(Name, nil), strings.Repeat("a", 81), "!" + CodeTooLong},
		{"int", col(Integer, func(c *Column) { c.Max = 100 }), "030", "30"},
		{"int range", col(Integer, func(c *Column) { c.Max = 100 }), "101", "!" + CodeOutOfRange},
		{"int word", col(Integer, func(c *Column) { c.Max = 100 }), "ten", "!" + CodeNotNumber},
		{"int decimal", col(Integer, func(c *Column) { c.Max = 100 }), "1.5", "!" + CodeNotNumber},
		{"bool yes", col(Boolean, nil), "Yes", "true"},
		{"bool n", col(Boolean, nil), "N", "false"},
		{"bool 1", col(Boolean, nil), "1", "true"},
		{"bool maybe", col(Boolean, nil), "maybe", "!" + CodeBadValue},
		{"enum case and spaces", col(Enum, func(c *Column) { c.Values = []string{"IDLE_CODE", "WRAP_UP_CODE"} }), "wrap up code", "WRAP_UP_CODE"},
		{"enum other", col(Enum, func(c *Column) { c.Values = []string{"A"} }), "B", "!" + CodeNotAllowed},
		{"email", col(Email, nil), "ana@example.com", "ana@example.com"},
		{"email display name", col(Email, nil), "Ana <ana@example.com>", "!" + CodeBadFormat},
		{"email no dot", col(Email, nil), "ana@localhost", "!" + CodeBadFormat},
		{"phone", col(Phone, nil), "+1 (415) 555-0100", "+1 (415) 555-0100"},
		{"phone letters", col(Phone, nil), "+1 415 CALL", "!" + CodeBadFormat},
		{"phone short", col(Phone, nil), "12", "!" + CodeBadFormat},
		{"tz", col(Timezone, nil), "Europe/Berlin", "Europe/Berlin"},
		{"tz Local", col(Timezone, nil), "Local", "!" + CodeBadValue},
		{"tz bad", col(Timezone, nil), "Mars/Olympus", "!" + CodeBadValue},
		{"multi", col(Text, func(c *Column) { c.Multi = true }), " a | b |c ", "a|b|c"},
		{"multi dup", col(Text, func(c *Column) { c.Multi = true }), "a|B|b", "!" + CodeDuplicateItem},
		{"multi empty", col(Text, func(c *Column) { c.Multi = true }), "| |", "!" + CodeBadValue},
		{"pairs sorted", col(Pairs, nil), "b=2 | a = 1", "a=1|b=2"},
		{"pairs dup name", col(Pairs, nil), "a=1|A=2", "!" + CodeDuplicateItem},
		{"pairs no value", col(Pairs, nil), "a=", "!" + CodeBadFormat},
		{"check", col(Name, func(c *Column) { c.Check = namePattern("-", true) }), "1abc", "!" + CodeBadValue},
		{"check ok", col(Name, func(c *Column) { c.Check = namePattern("-", true) }), "Zürich-Nord", "Zürich-Nord"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, p := tt.col.Canonical(tt.in)
			if strings.HasPrefix(tt.want, "!") {
				if p == nil || p.Code != tt.want[1:] {
					t.Fatalf("Canonical(%q) = %q, %+v; want problem %s", tt.in, got, p, tt.want[1:])
				}
				if p.Column != "F" || p.Message == "" {
					t.Fatalf("problem %+v does not name the column or say what is wrong", p)
				}
				return
			}
			if p != nil || got != tt.want {
				t.Fatalf("Canonical(%q) = %q, %+v; want %q", tt.in, got, p, tt.want)
			}
		})
	}
}

func TestBind(t *testing.T) {
	wt := mustType(t, "work-type")
	agent := mustType(t, "agent")
	tests := []struct {
		name   string
		ty     *Type
		header []string
		err    string // substring of the error, "" for success
	}{
		{"canonical", wt, []string{"Name", "Description", "Type"}, ""},
		{"any case, spaces, order", wt, []string{" type ", "DESCRIPTION", "name"}, ""},
		{"BOM on first", wt, []string{"\uFEFFName", "Type"}, ""},
		{"report columns ignored", wt, []string{"Name", "Type", "Row", "Error Code", "Error Message"}, ""},
		{"unknown suggests", wt, []string{"Name", "Tpye"}, `"Tpye" is not a Work Type column; did you mean "Type"`},
		{"duplicate", wt, []string{"Name", "Type", "name"}, "appears twice (columns 1 and 3)"},
		{"missing required", wt, []string{"Name", "Description"}, `no "Type" column`},
		{"blank header", wt, []string{"Name", "", "Type"}, "header column 2 is blank"},
		{"agent families", agent, []string{"Action", "First Name", "Last Name", "Employee ID", "User Name", "Agent", "Folder", "Skill: Spanish", "switch:SIP"}, ""},
		{"agent duplicate family", agent, []string{"Action", "First Name", "Last Name", "Employee ID", "User Name", "Agent", "Folder", "Skill:Spanish", "skill: spanish"}, "appears twice"},
		{"agent needs Action", agent, []string{"First Name", "Last Name", "Employee ID", "User Name", "Agent", "Folder"}, `no "Action" column`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ty.Bind(tt.header)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Bind: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("Bind: %v; want an error containing %q", err, tt.err)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	if got, want := JoinKey(" Tier  1 ", "BOSTON"), "tier 1/boston"; got != want {
		t.Errorf("JoinKey = %q, want %q", got, want)
	}
	if NormalizeName("Cafe\u0301") != NormalizeName("CAFÉ") {
		t.Error("NormalizeName does not fold case after NFC")
	}
}

// FuzzCanonical: for every column of every type, Canonical never panics, a
// problem always names the column and says what is wrong, and an accepted
// value is canonical: valid UTF-8, no control characters (but newlines in
// text), and Canonical of it gives it back unchanged.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"Boston", " yes ", "wrap up code", "a|b|a", "x=1|y=2", "+1 (415) 555-0100", "Europe/Berlin", "\xff", "a\nb", "ana@example.com"} {
		f.Add(s, uint16(0))
	}
	var cols []Column
	for _, ty := range All() {
		cols = append(cols, ty.Columns...)
	}
	f.Fuzz(func(t *testing.T, in string, which uint16) {
		c := cols[int(which)%len(cols)]
		got, p := c.Canonical(strings.TrimSpace(in))
		if p != nil {
			if p.Code == "" || p.Message == "" || p.Column != c.Header {
				t.Fatalf("problem %+v lacks a code, a message or the column", p)
			}
			return
		}
		if !utf8.ValidString(got) {
			t.Fatalf("accepted invalid UTF-8 %q", got)
		}
		for _, r := range got {
			if unicode.IsControl(r) && r != '\t' && !(r == '\n' && c.Kind == Text) {
				t.Fatalf("accepted control character %U in %q", r, got)
			}
		}
		again, p := c.Canonical(got)
		if p != nil || again != got {
			t.Fatalf("%s: Canonical(%q) = %q but Canonical of that = %q, %+v", c.Header, in, got, again, p)
		}
	})
}

// slowNormalize is NormalizeName without the ASCII fast path.
func slowNormalize(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return cases.Fold().String(norm.NFC.String(s))
}

// FuzzNormalizeName: the ASCII fast path gives exactly what the general
// path gives.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"", " ", "Sales  Team ", "sales team", "\tA\r\nB\v", "Straße", "KELVIN \u212a", "a\u00a0b", "x\x85y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := NormalizeName(s), slowNormalize(s); got != want {
			t.Fatalf("NormalizeName(%q) = %q, want %q", s, got, want)
		}
	})
}

func TestNeutralize(t *testing.T) {
	tests := []struct{ in, out string }{
		{"=SUM(A1:A9)", "'=SUM(A1:A9)"},
		{"+1 (415) 555-0100", "'+1 (415) 555-0100"},
		{"-5", "-5"},
		{"+14155550100", "+14155550100"},
		{"-2.5", "-2.5"},
		{"@cmd", "'@cmd"},
		{"\tx", "'\tx"},
		{"plain", "plain"},
		{"", ""},
		{"'=already", "''=already"},
	}
	for _, tt := range tests {
		if got := Neutralize(tt.in); got != tt.out {
			t.Errorf("Neutralize(%q) = %q, want %q", tt.in, got, tt.out)
		}
		if back := Unneutralize(Neutralize(tt.in)); back != tt.in {
			t.Errorf("Unneutralize(Neutralize(%q)) = %q", tt.in, back)
		}
	}
}

// FuzzNeutralize: import undoes export's neutralization for every value,
// and a neutralized cell never starts with a formula character unless it
// is a plain number.
func FuzzNeutralize(f *testing.F) {
	for _, s := range []string{"=1+1", "''=x", "-5", "+1 415", "@x", "'", "''", "\t", "plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Neutralize(s)
		if back := Unneutralize(n); back != s {
			t.Fatalf("Unneutralize(Neutralize(%q)) = %q via %q", s, back, n)
		}
		if n != "" && strings.ContainsRune(formulaStarts, rune(n[0])) && !plainNumber.MatchString(n) {
			t.Fatalf("Neutralize(%q) = %q still starts a formula", s, n)
		}
	})
}

// TestWritten: Boolean columns spelled Y/N write Y and N (each value of a
// multi-valued cell), every other column writes the stored value, and
// import reads the written form back to it.
func TestWritten(t *testing.T) {
	yn := Column{Key: "b", Header: "B", Kind: Boolean, Spelling: SpellYN}
	ynMulti := yn
	ynMulti.Multi = true
	tf := Column{Key: "b", Header: "B", Kind: Boolean}
	text := Column{Key: "t", Header: "T", Kind: Text, Spelling: SpellYN}
	tests := []struct {
		c        Column
		in, want string
	}{
		{yn, "true", "Y"}, {yn, "false", "N"}, {yn, "", ""},
		{ynMulti, "true|false", "Y|N"},
		{tf, "true", "true"}, {tf, "false", "false"},
		{text, "true", "true"},
	}
	for _, tc := range tests {
		got := tc.c.Written(tc.in)
		if got != tc.want {
			t.Errorf("%v %+v Written(%q) = %q, want %q", tc.c.Kind, tc.c.Spelling, tc.in, got, tc.want)
		}
		if tc.in == "" {
			continue
		}
		back, prob := tc.c.Canonical(got)
		if prob != nil || back != tc.in {
			t.Errorf("Canonical(%q) = %q, %v; want %q", got, back, prob, tc.in)
		}
	}
}

// TestGAXBooleansYN: every Boolean column of the GAX agent type is spelled
// Y/N (Password Change, Agent, Enabled), as GAX writes them.
func TestGAXBooleansYN(t *testing.T) {
	agent, err := Lookup("agent")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range agent.Columns {
		if c.Kind == Boolean {
			if c.Spelling != SpellYN {
				t.Errorf("%s is spelled %d, want Y/N", c.Header, c.Spelling)
			}
			got = append(got, c.Header)
		}
	}
	if want := "Password Change,Agent,Enabled"; strings.Join(got, ",") != want {
		t.Errorf("agent Booleans %v, want %s", got, want)
	}
}
