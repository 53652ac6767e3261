package csvimport

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/objecttype"
)

// changeCSV decides file for slug against the seeded store and returns
// its change lines (no header) as CSV text.
func changeCSV(t *testing.T, slug, file string) string {
	t.Helper()
	st := seeded()
	st.put("skill-profile", "Spanish Support", map[string]string{"name": "Spanish Support", "skills": "Spanish=5"})
	ty, err := objecttype.Lookup(slug)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := NewChangePartWriter(&buf, ty)
	for _, d := range decide(t, slug, file, st) {
		if _, err := w.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestChangeLines(t *testing.T) {
	tests := []struct {
		name, slug, file, want string
	}{
		{"created lists every non-empty field", "work-type", "Name,Description,Type\nNap,Short rest,IDLE_CODE\n",
			"2,Nap,created,Name,,Nap\n2,Nap,created,Description,,Short rest\n2,Nap,created,Type,,IDLE_CODE\n"},
		{"created skips empty fields", "work-type", "Name,Description,Type\nNap,,IDLE_CODE\n",
			"2,Nap,created,Name,,Nap\n2,Nap,created,Type,,IDLE_CODE\n"},
		{"updated lists only changed fields", "work-type", "Name,Description,Type\nLunch,Long break,IDLE_CODE\n",
			"2,Lunch,updated,Description,Break,Long break\n"},
		{"a cleared field goes to empty", "work-type", "Name,Description,Type\nLunch," + objecttype.ClearToken + ",\n",
			"2,Lunch,updated,Description,Break,\n"},
		{"unchanged rows are not listed", "work-type", "Name,Description,Type\nLunch,Break,IDLE_CODE\nSale,,\n", ""},
		{"rejected rows are not listed", "work-type", "Name,Description,Type\nLunch,,WRAP_UP_CODE\n", ""},
		{"multi-value fields show the whole value", "skill-definition", "Name,Type,Enum Values\nTier,ENUM,Gold|Silver|Bronze\n",
			"2,Tier,updated,Enum Values,Gold|Silver,Gold|Silver|Bronze\n"},
		{"references show the referenced name; team keys carry the site", "team", "Name,Site,Type,Skill Profile\nTier 1,Boston,AGENT,Spanish Support\n",
			"2,tier 1/boston,updated,Skill Profile,,Spanish Support\n"},
		{"relational families show the stored relation", "agent", "Action,First Name,Last Name,Employee ID,Agent,Folder,User Name,Skill:Spanish,Skill:VIP\nUPDATE,,,,,,sarahl@acme.com,7,3\n",
			"2,sarahl@acme.com,updated,Skill,Spanish=5,Spanish=7|VIP=3\n"},
		{"formulas are neutralized", "work-type", "Name,Description,Type\nLunch,=SUM(A1),\n",
			"2,Lunch,updated,Description,Break,'=SUM(A1)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := changeCSV(t, tt.slug, tt.file); got != tt.want {
				t.Errorf("change lines\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}

func TestChangesHideSecrets(t *testing.T) {
	ty := &objecttype.Type{Slug: "x", Columns: []objecttype.Column{
		{Key: "name", Header: "Name", Kind: objecttype.Name},
		{Key: "password", Header: "Password", Kind: objecttype.Text},
	}}
	d := Decision{Row: 2, Action: ActionCreated}
	d.Object.Name, d.Object.Fields = "a", map[string]string{"name": "a", "password": "hunter2"}
	got := Changes(ty, d)
	if len(got) != 2 || got[1] != (FieldChange{Field: "Password", After: SecretValue}) {
		t.Fatalf("changes %+v; want the password hidden", got)
	}
	for _, c := range got {
		if strings.Contains(c.Before+c.After, "hunter2") {
			t.Fatalf("secret echoed: %+v", c)
		}
	}
}

// TestSecretColumns checks which columns of the registered types count as
// secrets: the agent's Password, never its Password Change flag.
func TestSecretColumns(t *testing.T) {
	var secret []string
	for _, ty := range objecttype.All() {
		for _, c := range ty.Columns {
			if IsSecret(c) {
				secret = append(secret, ty.Slug+"."+c.Key)
			}
		}
	}
	if got, want := strings.Join(secret, ","), "agent.password"; got != want {
		t.Errorf("secret columns %q, want %q", got, want)
	}
}

// BenchmarkChangeLines writes the change lines of updated User rows, each
// changing half of its fields (docs/import-engine-benchmarks.md).
func BenchmarkChangeLines(b *testing.B) {
	ty, err := objecttype.Lookup("user")
	if err != nil {
		b.Fatal(err)
	}
	before, after := map[string]string{}, map[string]string{}
	for i, c := range ty.Columns {
		before[c.Key] = "value " + c.Key
		after[c.Key] = before[c.Key]
		if i%2 == 1 {
			after[c.Key] = "new " + c.Key
		}
	}
	d := Decision{Row: 2, Action: ActionUpdated}
	d.Object.Name, d.Object.Key, d.Object.Fields = "ana@acme.example", "ana@acme.example", after
	d.Previous.Fields = before
	w := NewChangePartWriter(io.Discard, ty)
	b.ReportAllocs()
	lines := 0
	for b.Loop() {
		n, err := w.Write(d)
		if err != nil {
			b.Fatal(err)
		}
		lines += n
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(lines)/float64(b.N), "lines/row")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
