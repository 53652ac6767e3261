package csvexport

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

func mustType(t *testing.T, slug string) *objecttype.Type {
	t.Helper()
	ty, err := objecttype.Lookup(slug)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

// render writes objs through a Plan of o the way an export does (a first
// pass when needed, then the rows) and returns the records.
func render(t *testing.T, ty *objecttype.Type, o exportspec.Options, objs []catalog.Object) [][]string {
	t.Helper()
	p, err := NewPlan(ty, o)
	if err != nil {
		t.Fatal(err)
	}
	var kept []catalog.Object
	for _, ob := range objs {
		if p.Keep(ob) {
			kept = append(kept, ob)
			if p.NeedsPass() {
				p.Observe(ob)
			}
		}
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, p.Layout())
	w.Neutralize = !o.NoNeutralize
	for _, ob := range kept {
		if err := w.Write(ob); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), bom) {
		t.Fatal("no BOM")
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), bom))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func obj(typ, name string, fields ...string) catalog.Object {
	f := map[string]string{"name": name}
	for i := 0; i+1 < len(fields); i += 2 {
		f[fields[i]] = fields[i+1]
	}
	return catalog.Object{Type: typ, Key: objecttype.JoinKey(name), Name: name, Fields: f}
}

func agentObj(user string, skills, groups string) catalog.Object {
	return catalog.Object{Type: "agent", Key: objecttype.JoinKey(user), Name: user, Fields: map[string]string{
		"userName": user, "firstName": "F " + user, "lastName": "L", "employeeId": "1", "agent": "true", "folder": "Acme",
		"email": user, "skills": skills, "agentGroups": groups,
	}}
}

// TestPlanDefaultIsNewLayout: the zero Options give, byte for byte, what
// NewLayout with Related gives (the layout that round-trips), for every
// type with random objects.
func TestPlanDefaultIsNewLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	values := []string{"", "plain", "two words", "a|b|c", "=1+1", "-5", "quote \" and, comma", "line\nbreak", " spaced ", "Ünïcode"}
	for _, ty := range objecttype.All() {
		var objs []catalog.Object
		for i := range 40 {
			f := map[string]string{}
			for _, c := range ty.Columns {
				f[c.Key] = values[rng.IntN(len(values))]
			}
			if ty.Families != nil {
				f["skills"] = fmt.Sprintf("Skill %d=%d|Spanish=5", i%3, i%10)
				f["agentGroups"] = "G" + fmt.Sprint(i%4)
			}
			objs = append(objs, catalog.Object{Type: ty.Slug, Key: fmt.Sprint(i), Fields: f})
		}
		var want, got bytes.Buffer
		w := NewWriter(&want, NewLayout(ty, Related(ty, objs)))
		p, err := NewPlan(ty, exportspec.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			p.Observe(o)
		}
		g := NewWriter(&got, p.Layout())
		for _, o := range objs {
			if !p.Keep(o) {
				t.Fatalf("%s: the zero options filtered out an object", ty.Slug)
			}
			if err := w.Write(o); err != nil {
				t.Fatal(err)
			}
			if err := g.Write(o); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := g.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want.Bytes(), got.Bytes()) {
			t.Fatalf("%s: the default plan differs from NewLayout:\n%s\n---\n%s", ty.Slug, want.Bytes(), got.Bytes())
		}
		if p.NeedsPass() != (len(ty.Families) > 0) {
			t.Errorf("%s: NeedsPass = %v with the zero options", ty.Slug, p.NeedsPass())
		}
		if g.Size() != int64(got.Len()) {
			t.Errorf("%s: Size %d, wrote %d bytes", ty.Slug, g.Size(), got.Len())
		}
	}
}

// TestPlanLayouts covers fields and their order, header styles and
// multi-valued fields in columns.
func TestPlanLayouts(t *testing.T) {
	wt := []catalog.Object{
		obj("work-type", "Lunch", "description", "Lunch break", "type", "IDLE_CODE"),
		obj("work-type", "Call back", "type", "WRAP_UP_CODE"),
	}
	team := []catalog.Object{obj("team", "Tier 1", "site", "Boston", "type", "CAPACITY", "capacity", "20")}
	sp := []catalog.Object{
		obj("skill-profile", "Spanish", "skills", "Spanish=8"),
		obj("skill-profile", "Polyglot", "skills", "French=3|German=5|Spanish=9", "description", "many"),
	}
	agents := []catalog.Object{agentObj("ann@x.io", "Spanish=8", "Tier 1"), agentObj("bob@x.io", "French=2", "")}
	cases := []struct {
		name string
		typ  string
		opts exportspec.Options
		objs []catalog.Object
		want []string // records joined by ",", one per line
	}{
		{"fields in the order given, key first", "work-type", exportspec.Options{Fields: []string{"type", "Description"}}, wt,
			[]string{"Name,Type,Description", "Lunch,IDLE_CODE,Lunch break", "Call back,WRAP_UP_CODE,"}},
		{"any header spelling, alias, repeats once", "work-type", exportspec.Options{Fields: []string{" work_type_code ", "NAME", "type"}}, wt,
			[]string{"Name,Type", "Lunch,IDLE_CODE", "Call back,WRAP_UP_CODE"}},
		{"both key fields of a team first", "team", exportspec.Options{Fields: []string{"capacity"}}, team,
			[]string{"Name,Site,Capacity", "Tier 1,Boston,20"}},
		{"header keys", "work-type", exportspec.Options{Fields: []string{"Type"}, Header: exportspec.HeaderKeys}, wt[:1],
			[]string{"name,type", "Lunch,IDLE_CODE"}},
		{"multi-values joined by default", "skill-profile", exportspec.Options{Fields: []string{"skills"}}, sp,
			[]string{"Name,Skills", "Spanish,Spanish=8", "Polyglot,French=3|German=5|Spanish=9"}},
		{"multi-values in columns, as many as the longest list", "skill-profile", exportspec.Options{Fields: []string{"skills"}, MultiValue: exportspec.MultiColumns}, sp,
			[]string{"Name,Skills 1,Skills 2,Skills 3", "Spanish,Spanish=8,,", "Polyglot,French=3,German=5,Spanish=9"}},
		{"multi-value columns with keys", "skill-profile", exportspec.Options{MultiValue: exportspec.MultiColumns, Header: exportspec.HeaderKeys}, sp[:1],
			[]string{"name,description,skills 1", "Spanish,,Spanish=8"}},
		{"multi-value columns count only the objects kept", "skill-profile", exportspec.Options{Fields: []string{"skills"}, MultiValue: exportspec.MultiColumns,
			Filters: []exportspec.Filter{{Field: "Name", Op: exportspec.OpEquals, Value: "spanish"}}}, sp,
			[]string{"Name,Skills 1", "Spanish,Spanish=8"}},
		{"an empty multi-valued field keeps one column", "skill-profile", exportspec.Options{Fields: []string{"skills"}, MultiValue: exportspec.MultiColumns},
			[]catalog.Object{obj("skill-profile", "None")}, []string{"Name,Skills 1", "None,"}},
		{"agent default: action, columns, families in use", "agent", exportspec.Options{Fields: []string{"First Name", "skill"}}, agents,
			[]string{"Action,User Name,First Name,Skill:French,Skill:Spanish", "UPDATE,ann@x.io,F ann@x.io,,8", "UPDATE,bob@x.io,F bob@x.io,2,"}},
		{"agent: a family left out when not listed", "agent", exportspec.Options{Fields: []string{"Agent Group"}, Header: exportspec.HeaderKeys}, agents,
			[]string{"Action,userName,Agent Group:Tier 1", "UPDATE,ann@x.io,Y", "UPDATE,bob@x.io,"}},
		{"agent: the Action column is always there, once", "agent", exportspec.Options{Fields: []string{"action", "email"}}, agents[:1],
			[]string{"Action,User Name,E-mail Address", "UPDATE,ann@x.io,ann@x.io"}},
		{"neutralized by default", "work-type", exportspec.Options{Fields: []string{"description"}}, []catalog.Object{obj("work-type", "F", "description", "=1+2")},
			[]string{"Name,Description", "F,'=1+2"}},
		{"neutralization off", "work-type", exportspec.Options{Fields: []string{"description"}, NoNeutralize: true}, []catalog.Object{obj("work-type", "F", "description", "=1+2")},
			[]string{"Name,Description", "F,=1+2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, r := range render(t, mustType(t, c.typ), c.opts, c.objs) {
				got = append(got, strings.Join(r, ","))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestPlanFilters: every operator, case- and space-insensitive, all
// filters must match, multi-valued fields match by item.
func TestPlanFilters(t *testing.T) {
	objs := []catalog.Object{
		obj("work-type", "Lunch", "description", "  Lunch   BREAK ", "type", "IDLE_CODE"),
		obj("work-type", "Coffee", "description", "Short break", "type", "IDLE_CODE"),
		obj("work-type", "Call back", "type", "WRAP_UP_CODE"),
	}
	profiles := []catalog.Object{
		obj("skill-profile", "Spanish", "skills", "Spanish=8"),
		obj("skill-profile", "Polyglot", "skills", "French=3|German=5"),
	}
	f := func(field string, op exportspec.FilterOp, v string) exportspec.Filter {
		return exportspec.Filter{Field: field, Op: op, Value: v}
	}
	cases := []struct {
		name    string
		typ     string
		filters []exportspec.Filter
		want    string
	}{
		{"equals ignores case and space", "work-type", []exportspec.Filter{f("Description", exportspec.OpEquals, "lunch break")}, "Lunch"},
		{"equals enum", "work-type", []exportspec.Filter{f("type", exportspec.OpEquals, " idle_code ")}, "Lunch Coffee"},
		{"contains", "work-type", []exportspec.Filter{f("description", exportspec.OpContains, "BREAK")}, "Lunch Coffee"},
		{"startsWith", "work-type", []exportspec.Filter{f("name", exportspec.OpPrefix, "c")}, "Coffee Call back"},
		{"empty", "work-type", []exportspec.Filter{f("Description", exportspec.OpEmpty, "")}, "Call back"},
		{"notEmpty", "work-type", []exportspec.Filter{f("Description", exportspec.OpNotEmpty, "")}, "Lunch Coffee"},
		{"all must match", "work-type", []exportspec.Filter{f("type", exportspec.OpEquals, "IDLE_CODE"), f("Name", exportspec.OpPrefix, "L")}, "Lunch"},
		{"none match", "work-type", []exportspec.Filter{f("Name", exportspec.OpEquals, "Lunc")}, ""},
		{"multi: equals one item's name", "skill-profile", []exportspec.Filter{f("skills", exportspec.OpEquals, "german")}, "Polyglot"},
		{"multi: equals a whole item", "skill-profile", []exportspec.Filter{f("skills", exportspec.OpEquals, "spanish=8")}, "Spanish"},
		{"multi: startsWith an item", "skill-profile", []exportspec.Filter{f("skills", exportspec.OpPrefix, "fr")}, "Polyglot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := objs
			if c.typ == "skill-profile" {
				in = profiles
			}
			recs := render(t, mustType(t, c.typ), exportspec.Options{Fields: []string{"name"}, Filters: c.filters}, in)
			var got []string
			for _, r := range recs[1:] {
				got = append(got, r[0])
			}
			if strings.Join(got, " ") != c.want {
				t.Fatalf("kept %q, want %q", strings.Join(got, " "), c.want)
			}
		})
	}
	agent := mustType(t, "agent")
	p, err := NewPlan(agent, exportspec.Options{Filters: []exportspec.Filter{f("Skill", exportspec.OpEquals, "spanish")}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Keep(agentObj("a", "Spanish=3", "")) || p.Keep(agentObj("b", "French=3", "")) {
		t.Error("a family filter does not match by related name")
	}
}

// TestPlanErrors: unknown fields and filter fields are Invalid errors that
// name where they came from, the field, the type and the closest valid one.
func TestPlanErrors(t *testing.T) {
	cases := []struct {
		typ  string
		opts exportspec.Options
		want []string
	}{
		{"work-type", exportspec.Options{Fields: []string{"Name", "Tpye"}}, []string{`fields[1]`, `"Tpye"`, "Work Type", `did you mean "Type"`}},
		{"work-type", exportspec.Options{Fields: []string{"Descriptoin"}}, []string{`fields[0]`, `"Descriptoin"`, `did you mean "Description"`}},
		{"team", exportspec.Options{Filters: []exportspec.Filter{{Field: "Capacty", Op: exportspec.OpEmpty}}}, []string{`filters[0]`, `"Capacty"`, "Team", `did you mean "Capacity"`}},
		{"work-type", exportspec.Options{Fields: []string{"zzzzzzzzzz"}}, []string{`fields[0]`, `"zzzzzzzzzz"`, "valid headers: Name, Description, Type"}},
		{"work-type", exportspec.Options{Fields: []string{"Error Code"}}, []string{`fields[0]`, `"Error Code"`, "valid fields: Name, Description, Type"}},
		{"work-type", exportspec.Options{Fields: []string{"  "}}, []string{`fields[0] is blank`}},
		{"agent", exportspec.Options{Fields: []string{"Skil"}}, []string{`fields[0]`, `"Skil"`, "Agent (GAX)", "Skill:<name>"}},
		{"agent", exportspec.Options{Filters: []exportspec.Filter{{Field: "Action", Op: exportspec.OpNotEmpty}}}, []string{`filters[0]`, "action column"}},
		{"work-type", exportspec.Options{Filters: []exportspec.Filter{{Field: "Name", Op: "like", Value: "x"}}}, []string{`filters[0].op "like"`}},
	}
	for _, c := range cases {
		_, err := NewPlan(mustType(t, c.typ), c.opts)
		if err == nil || bulkerr.KindOf(err) != bulkerr.Invalid {
			t.Errorf("%s %+v: %v, want an Invalid error", c.typ, c.opts, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(bulkerr.Message(err), w) {
				t.Errorf("%s %+v: %q does not say %q", c.typ, c.opts, bulkerr.Message(err), w)
			}
		}
	}
}

// TestEncodeSize: Encode does not write, WriteEncoded does, and Size counts
// the BOM, the header and the rows exactly.
func TestEncodeSize(t *testing.T) {
	ty := mustType(t, "work-type")
	var buf bytes.Buffer
	w := NewWriter(&buf, NewLayout(ty, nil))
	empty := w.Size()
	if empty != int64(len(bom)+len("Name,Description,Type\r\n")) {
		t.Fatalf("Size of an empty file = %d", empty)
	}
	b, err := w.Encode(obj("work-type", "A, \"quoted\"", "type", "IDLE_CODE"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "\"A, \"\"quoted\"\"\",,IDLE_CODE\r\n" {
		t.Fatalf("Encode = %q", b)
	}
	if err := w.WriteEncoded(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Size() != int64(buf.Len()) || w.Size() != empty+int64(len(b)) {
		t.Fatalf("Size %d, file %d bytes", w.Size(), buf.Len())
	}
}

// TestNewPlans: in an export of several types a field some of them lack is
// left out for those, a filter on it sees an empty value, and a field none
// has is an error.
func TestNewPlans(t *testing.T) {
	wt, site := mustType(t, "work-type"), mustType(t, "site")
	plans, err := NewPlans([]*objecttype.Type{wt, site}, exportspec.Options{Fields: []string{"Description", "Multimedia Profile"},
		Filters: []exportspec.Filter{{Field: "description", Op: exportspec.OpEmpty}}})
	if err != nil {
		t.Fatal(err)
	}
	if h := strings.Join(plans[0].Layout().Header(), ","); h != "Name,Description" {
		t.Errorf("work type header %s", h)
	}
	if h := strings.Join(plans[1].Layout().Header(), ","); h != "Name,Multimedia Profile" {
		t.Errorf("site header %s", h)
	}
	if !plans[1].Keep(obj("site", "Boston", "multimediaProfile", "x")) || plans[0].Keep(obj("work-type", "L", "description", "d")) {
		t.Error("a filter on a field the type lacks does not see an empty value")
	}
	_, err = NewPlans([]*objecttype.Type{wt, site}, exportspec.Options{Fields: []string{"Name", "Multimedia Profil"}})
	if err == nil || !strings.Contains(bulkerr.Message(err), `fields[1]: "Multimedia Profil" is not a Work Type field`) {
		t.Errorf("a field no type has: %v", err)
	}
	_, err = NewPlans([]*objecttype.Type{wt, site}, exportspec.Options{Filters: []exportspec.Filter{{Field: "Typ", Op: exportspec.OpEmpty}}})
	if err == nil || !strings.Contains(bulkerr.Message(err), `filters[0]: "Typ" is not a Work Type field; did you mean "Type"?`) {
		t.Errorf("a filter field no type has: %v", err)
	}
	if _, err := NewPlans([]*objecttype.Type{wt}, exportspec.Options{Fields: []string{"Multimedia Profile"}}); err == nil {
		t.Error("a single-type export accepted a field of another type")
	}
}
