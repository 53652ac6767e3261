package csvexport

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// TestBooleanSpelling: GAX agent files write their Booleans Y/N (Password
// Change, Agent, Enabled) and their membership families Y, in either
// header style and with multi-values in columns; other types keep
// true/false. Blank stays blank.
func TestBooleanSpelling(t *testing.T) {
	gax := agentObj("sarahl@acme.com", "Spanish=8", "Tier 1")
	gax.Fields["passwordChange"], gax.Fields["enabled"] = "false", "true"
	plain := agentObj("bob@acme.com", "", "")
	plain.Fields["agent"] = "false" // no Password Change, no Enabled
	queue := obj("queue", "Q1", "channelType", "TELEPHONY", "permitMonitoring", "true", "recordAllCalls", "false")
	cases := []struct {
		name string
		typ  string
		o    exportspec.Options
		objs []catalog.Object
		want map[string][]string // header → cells, row by row
	}{
		{"agent labels", "agent", exportspec.Options{}, []catalog.Object{plain, gax}, map[string][]string{
			"Password Change": {"", "N"}, "Agent": {"N", "Y"}, "Enabled": {"", "Y"}, "Agent Group:Tier 1": {"", "Y"}, "Skill:Spanish": {"", "8"},
		}},
		{"agent keys, multi in columns", "agent", exportspec.Options{Header: exportspec.HeaderKeys, MultiValue: exportspec.MultiColumns}, []catalog.Object{gax}, map[string][]string{
			"passwordChange": {"N"}, "agent": {"Y"}, "enabled": {"Y"}, "Agent Group:Tier 1": {"Y"},
		}},
		{"agent chosen fields", "agent", exportspec.Options{Fields: []string{"Enabled", "Agent"}}, []catalog.Object{gax}, map[string][]string{
			"Enabled": {"Y"}, "Agent": {"Y"},
		}},
		{"queue keeps true/false", "queue", exportspec.Options{}, []catalog.Object{queue}, map[string][]string{
			"Permit Monitoring": {"true"}, "Record All Calls": {"false"}, "Permit Recording": {""},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs := render(t, mustType(t, c.typ), c.o, c.objs)
			pos := map[string]int{}
			for i, h := range recs[0] {
				pos[h] = i
			}
			for h, want := range c.want {
				i, ok := pos[h]
				if !ok {
					t.Fatalf("no %q column in %v", h, recs[0])
				}
				for r, w := range want {
					if got := recs[1+r][i]; got != w {
						t.Errorf("row %d %s = %q, want %q", r+1, h, got, w)
					}
				}
			}
		})
	}
}

// TestBooleanFilterSpelling: a filter on a Boolean matches in any spelling
// import reads, so "Enabled equals Y" (as the export writes it) finds the
// enabled agents.
func TestBooleanFilterSpelling(t *testing.T) {
	on, off := agentObj("on", "", ""), agentObj("off", "", "")
	on.Fields["enabled"], off.Fields["enabled"] = "true", "false"
	for _, v := range []string{"Y", "y", "yes", "true", "1"} {
		p, err := NewPlan(mustType(t, "agent"), exportspec.Options{Filters: []exportspec.Filter{{Field: "Enabled", Op: exportspec.OpEquals, Value: v}}})
		if err != nil {
			t.Fatal(err)
		}
		if !p.Keep(on) || p.Keep(off) {
			t.Errorf("Enabled equals %q: kept on %v, off %v; want only on", v, p.Keep(on), p.Keep(off))
		}
	}
}

// TestGAXRoundTrip: agents imported from a GAX file (Y/N, any spelling)
// export with Y/N, and the export imports back with every row unchanged;
// into an empty store it recreates the same objects.
func TestGAXRoundTrip(t *testing.T) {
	m := newCatalog()
	importFile(t, m, mustType(t, "skill-definition"), []byte("Name,Type\r\nSpanish,PROFICIENCY\r\n"))
	agent := mustType(t, "agent")
	in := "Action,First Name,Last Name,Employee ID,User Name,Password Change,Agent,Enabled,Folder,Skill:Spanish,Agent Group:Tier 1\r\n" +
		"ADD,Sarah,Lee,223344,sarahl@acme.com,N,Y,Y,Acme/Branch/Team 1,8,Y\r\n" +
		"ADD,Bob,Ray,1,bob@acme.com,yes,no,false,Acme,,\r\n" +
		"ADD,Kim,Ito,2,kim@acme.com,,true,,Acme,,N\r\n"
	for _, d := range importFile(t, m, agent, []byte(in)) {
		if d.Action != csvimport.ActionCreated {
			t.Fatalf("row %d: %s %s", d.Row, d.Action, problems(d))
		}
	}
	objs := m.list("agent")
	var out bytes.Buffer
	w := NewWriter(&out, NewLayout(agent, Related(agent, objs)))
	for _, o := range objs {
		if err := w.Write(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, s := range []string{"true", "false"} {
		if strings.Contains(text, s) {
			t.Errorf("the GAX export spells a Boolean %q:\n%s", s, text)
		}
	}
	before := snapshot(m, "agent")
	for _, d := range importFile(t, m, agent, out.Bytes()) {
		if d.Action != csvimport.ActionUnchanged {
			t.Fatalf("row %d re-imported: %s, want unchanged: %s", d.Row, d.Action, problems(d))
		}
	}
	if snapshot(m, "agent") != before {
		t.Fatal("re-importing the export changed the store")
	}
	fresh := newCatalog()
	fresh.objs["skill-definition"] = m.objs["skill-definition"]
	importFile(t, fresh, agent, bytes.ReplaceAll(out.Bytes(), []byte("\r\nUPDATE,"), []byte("\r\nADD,")))
	if got, want := snapshotFields(fresh, "agent"), snapshotFields(m, "agent"); got != want {
		t.Fatalf("recreated from the export:\n got %s\nwant %s", got, want)
	}
}

// TestGAXTemplateYN: the agent template's example row spells its
// Booleans Y/N, as the GAX seed row does.
func TestGAXTemplateYN(t *testing.T) {
	agent := mustType(t, "agent")
	h, row := TemplateLayout(agent).Header(), ExampleRow(agent)
	for i, name := range h {
		c, ok := agent.Column(keyOf(agent, name))
		if ok && c.Kind == objecttype.Boolean && row[i] != "Y" && row[i] != "N" && row[i] != "" {
			t.Errorf("example %s = %q, want Y or N", name, row[i])
		}
	}
}

func keyOf(t *objecttype.Type, header string) string {
	for _, c := range t.Columns {
		if c.Header == header {
			return c.Key
		}
	}
	return ""
}
