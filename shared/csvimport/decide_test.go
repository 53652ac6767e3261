package csvimport

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// memStore is an in-memory ObjectReader that counts lookups per type.
type memStore struct {
	objs  map[string]map[string]catalog.Object // type → key → object
	calls map[string]int
}

func newStore() *memStore {
	return &memStore{objs: map[string]map[string]catalog.Object{}, calls: map[string]int{}}
}

func (m *memStore) put(typ, name string, fields map[string]string, keyParts ...string) {
	if m.objs[typ] == nil {
		m.objs[typ] = map[string]catalog.Object{}
	}
	if len(keyParts) == 0 {
		keyParts = []string{name}
	}
	k := objecttype.JoinKey(keyParts...)
	m.objs[typ][k] = catalog.Object{Type: typ, Key: k, ID: "id-" + k, Name: name, Fields: fields, Version: 1}
}

func (m *memStore) GetObjects(_ context.Context, typ string, keys []string) (map[string]catalog.Object, error) {
	m.calls[typ]++
	out := map[string]catalog.Object{}
	for _, k := range keys {
		if o, ok := m.objs[typ][k]; ok {
			out[k] = o
		}
	}
	return out, nil
}

// decide parses a CSV (header + rows) and decides it for type slug.
func decide(t *testing.T, slug, file string, st *memStore) []Decision {
	t.Helper()
	ty, err := objecttype.Lookup(slug)
	if err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(strings.NewReader(file))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewValidator(ty, rows[0])
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]csvread.Record, len(rows)-1)
	for i, r := range rows[1:] {
		recs[i] = csvread.Record{Row: i + 2, Cells: r}
	}
	ds, err := v.Decide(context.Background(), recs, st)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// outcome is "action" or "rejected:CODE@Column,…" for compact tables.
func outcome(d Decision) string {
	if d.Action != ActionRejected {
		return string(d.Action)
	}
	var p []string
	for _, pr := range d.Problems {
		p = append(p, pr.Code+"@"+pr.Column)
	}
	return "rejected:" + strings.Join(p, ",")
}

func seeded() *memStore {
	st := newStore()
	st.put("site", "Boston", map[string]string{"name": "Boston", "multimediaProfile": "Default"})
	st.put("site", "Paris", map[string]string{"name": "Paris", "multimediaProfile": "Default"})
	st.put("team", "Tier 1", map[string]string{"name": "Tier 1", "site": "Boston", "type": "AGENT"}, "Tier 1", "Boston")
	st.put("team", "Tier 2", map[string]string{"name": "Tier 2", "site": "Paris", "type": "AGENT"}, "Tier 2", "Paris")
	st.put("work-type", "Lunch", map[string]string{"name": "Lunch", "description": "Break", "type": "IDLE_CODE"})
	st.put("work-type", "Sale", map[string]string{"name": "Sale", "type": "WRAP_UP_CODE"})
	st.put("skill-definition", "Spanish", map[string]string{"name": "Spanish", "type": "PROFICIENCY"})
	st.put("skill-definition", "VIP", map[string]string{"name": "VIP", "type": "BOOLEAN"})
	st.put("skill-definition", "Tier", map[string]string{"name": "Tier", "type": "ENUM", "enumValues": "Gold|Silver"})
	st.put("user-profile", "Agents", map[string]string{"name": "Agents", "profileType": "STANDARD_AGENT"})
	st.put("agent-profile", "Day Shift", map[string]string{"name": "Day Shift", "parentType": "ORGANIZATION"})
	st.put("entry-point", "Support Line", map[string]string{"name": "Support Line", "channelType": "TELEPHONY"})
	st.put("agent", "sarahl@acme.com", map[string]string{"userName": "sarahl@acme.com", "firstName": "Sarah", "lastName": "Lee",
		"employeeId": "1", "agent": "true", "folder": "Acme", "skills": "Spanish=5"})
	return st
}

func TestDecidePerType(t *testing.T) {
	tests := []struct {
		name, slug, file string
		want             []string
	}{
		{"work type: create, update, unchanged, immutable, bad enum, blank keeps, clear", "work-type",
			"Name,Description,Type\nNew Code,x,IDLE_CODE\nLunch,Longer,\n Lunch ,Break,idle code\nSale,,IDLE_CODE\nX,,NAP\nLunch,#CLEAR,\n",
			[]string{"created", "updated", "unchanged", "rejected:IMMUTABLE_FIELD@Type", "rejected:NOT_ALLOWED@Type", "updated"}},
		{"work type: clearing a required field is refused", "work-type",
			"Name,Type\nLunch,#CLEAR\n", []string{"rejected:CANNOT_CLEAR@Type"}},
		{"site: pattern and length", "site",
			"Name,Multimedia Profile\nRome,MM\nBad/Name,MM\n" + strings.Repeat("a", 81) + ",MM\nLisbon,\n",
			[]string{"created", "rejected:INVALID_VALUE@Name", "rejected:TOO_LONG@Name", "rejected:REQUIRED@Multimedia Profile"}},
		{"team: site reference, capacity rules, immutable site key", "team",
			"Name,Site,Type,DN,Capacity\nTier 3,Boston,AGENT,,\nTier 3,Nowhere,AGENT,,\nOverflow,Paris,CAPACITY,,\nOverflow 2,Paris,CAPACITY,+14155550100,10\nTier 1,Boston,CAPACITY,,\nTier 4,Boston,AGENT,+1415555,\n",
			[]string{"created", "rejected:UNKNOWN_REFERENCE@Site", "rejected:REQUIRED@DN,REQUIRED@Capacity", "created", "rejected:IMMUTABLE_FIELD@Type", "rejected:CONFLICTING_FIELDS@DN"}},
		{"user: teams scoped by the row's site or Team: Site", "user",
			"Email,User Profile,Contact Center Enabled,Site,Teams,Desktop Profile\nana@acme.com,Agents,yes,Boston,Tier 1|Tier 2: Paris,Day Shift\nbo@acme.com,Agents,true,Boston,Tier 2,Day Shift\nnot-an-email,Agents,false,,,\ncy@acme.com,Agents,false,Boston,,\ndi@acme.com,Agents,true,Boston,,\n",
			[]string{"created", "rejected:UNKNOWN_REFERENCE@Teams", "rejected:BAD_FORMAT@Email", "rejected:CONFLICTING_FIELDS@Site", "rejected:REQUIRED@Desktop Profile"}},
		{"entry point: social channel rules", "entry-point",
			"Name,Channel Type,Social Channel Type,Timezone\nChat In,SOCIAL CHANNEL,whatsapp,Europe/Berlin\nChat 2,SOCIAL_CHANNEL,,UTC\nPhone,TELEPHONY,MESSENGER,\n1Phone,TELEPHONY,,\nPhone 3,TELEPHONY,,Mars/Base\n",
			[]string{"created", "rejected:REQUIRED@Social Channel Type", "rejected:CONFLICTING_FIELDS@Social Channel Type", "rejected:INVALID_VALUE@Name", "rejected:INVALID_VALUE@Timezone"}},
		{"queue: groups in order, telephony-only fields", "queue",
			"Name,Channel Type,Routing Type,Permit Recording,Group 1 Teams,Group 2 Teams,Group 2 Fallback Time\nBilling,TELEPHONY,LONGEST_AVAILABLE_AGENT,true,Tier 1: Boston,Tier 2: Paris,30\nMail,EMAIL,SKILLS_BASED,true,,,\nB2,TELEPHONY,SKILLS_BASED,,Tier 1: Boston,Tier 2: Paris,\nB3,TELEPHONY,SKILLS_BASED,,Tier 1,,\n",
			[]string{"created", "rejected:CONFLICTING_FIELDS@Permit Recording", "rejected:REQUIRED@Group 2 Fallback Time", "rejected:BAD_FORMAT@Group 1 Teams"}},
		{"skill profile: values by skill type", "skill-profile",
			"Name,Skills\nSpanish Pros,Spanish=8|VIP=true|Tier=gold\nToo Good,Spanish=11\nWrong,Tier=Bronze\nUnknown,Klingon=3\nTwice,Spanish=1|spanish=2\n",
			[]string{"created", "rejected:INVALID_VALUE@Skills", "rejected:INVALID_VALUE@Skills", "rejected:UNKNOWN_REFERENCE@Skills", "rejected:DUPLICATE_VALUE@Skills"}},
		{"skill definition: enum values only for ENUM", "skill-definition",
			"Name,Type,Enum Values\nLevel,ENUM,Gold|Silver\nLevel 2,ENUM,\nLevel 3,TEXT,a|b\nSpanish,BOOLEAN,\n",
			[]string{"created", "rejected:REQUIRED@Enum Values", "rejected:CONFLICTING_FIELDS@Enum Values", "rejected:IMMUTABLE_FIELD@Type"}},
		{"auxiliary code: work type of the same kind", "auxiliary-code",
			"Name,Code Type,Work Type,Default\nLunch Code,IDLE_CODE,Lunch,yes\nSale Code,IDLE_CODE,Sale,no\nNo WT,WRAP_UP_CODE,,maybe\n",
			[]string{"created", "rejected:CONFLICTING_FIELDS@Work Type", "rejected:INVALID_VALUE@Default"}},
		{"address book: packed entries", "address-book",
			"Name,Parent Type,Parent Site,Entries\nPartners,SITE,Boston,Desk=+14155550100|Night=+1 (415) 555-0101\nOrg Book,,,Desk=+14155550100\nBad,,,Desk=call me\nSite Book,SITE,,Desk=+14155550100\n",
			[]string{"created", "created", "rejected:INVALID_VALUE@Entries", "rejected:REQUIRED@Parent Site"}},
		{"outdial ANI: numbers or SIP URIs", "outdial-ani",
			"Name,Entries\nMain,Desk=+14155550100|Sip=sip:desk@acme.com\nBad,Desk=hello\n",
			[]string{"created", "rejected:INVALID_VALUE@Entries"}},
		{"entry point mapping", "entry-point-mapping",
			"Dialed Number,Entry Point,Region\n+1415.555-0100,Support Line,US1\n14155550100,Support Line,\n+14155550101,Nope,\n+14155550102,Support Line,MARS\n",
			[]string{"created", "rejected:INVALID_VALUE@Dialed Number", "rejected:UNKNOWN_REFERENCE@Entry Point", "rejected:NOT_ALLOWED@Region"}},
		{"user profile and agent profile", "agent-profile",
			"Name,Parent Type,Parent Site,Auto Wrap Up,Auto Wrap Up Time,Outdial Enabled,Outdial Entry Point\nNight,SITE,Paris,true,30,false,\nDay,ORGANIZATION,,false,30,,\nOut,,,,,true,\n",
			[]string{"created", "rejected:CONFLICTING_FIELDS@Auto Wrap Up Time", "rejected:REQUIRED@Outdial Entry Point"}},
		{"GAX agents: actions, skills, groups, password", "agent",
			"Action,First Name,Last Name,Employee ID,User Name,Agent,Folder,Password,Skill:Spanish,Skill:VIP,Agent Group:Sales\n" +
				"ADD,Bo,Ng,2,bo@acme.com,Y,Acme/Branch/Team 1,,7,,Y\n" +
				"ADD,Sarah,Lee,1,sarahl@acme.com,Y,Acme,,,,\n" +
				"UPDATE,Cy,Do,3,cy@acme.com,Y,Acme,,,,\n" +
				"UPDATE,,,,sarahl@acme.com,,,,N,,Y\n" +
				"ADD,Di,Ep,4,di@acme.com,Y,Acme//Team,secret,11,x,maybe\n" +
				"DELETE,Ed,Fo,5,ed@acme.com,N,Acme,,,,\n",
			[]string{"created", "rejected:ALREADY_EXISTS@Action", "rejected:DOES_NOT_EXIST@Action", "updated",
				"rejected:INVALID_VALUE@Folder,INVALID_VALUE@Password,INVALID_VALUE@Skill:Spanish,INVALID_VALUE@Skill:VIP,INVALID_VALUE@Agent Group:Sales",
				"rejected:INVALID_ACTION@Action"}},
		{"outdial entry point: telephony only, blank stored as TELEPHONY", "outdial-entry-point",
			"Name,Channel Type,Timezone\nDialer,,Europe/Paris\nMailer,EMAIL,\nBad Zone,,Mars/Base\n",
			[]string{"created", "rejected:NOT_ALLOWED@Channel Type", "rejected:INVALID_VALUE@Timezone"}},
		{"outdial queue: telephony only, groups need teams that exist", "outdial-queue",
			"Name,Channel Type,Group 1 Teams\nCollections,telephony,Tier 1: Boston\nChat Out,CHAT,\nNowhere,,Tier 9: Boston\n",
			[]string{"created", "rejected:NOT_ALLOWED@Channel Type", "rejected:UNKNOWN_REFERENCE@Group 1 Teams"}},
		{"user profile: profile type required and fixed", "user-profile",
			"Name,Profile Type\nLeads,supervisor\nAgents,SUPERVISOR\nNobody,\n",
			[]string{"created", "rejected:IMMUTABLE_FIELD@Profile Type", "rejected:REQUIRED@Profile Type"}},
		{"wrong number of cells", "work-type", "Name,Type\nA,IDLE_CODE,extra\n", []string{"rejected:WRONG_COLUMN_COUNT@"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := seeded()
			ds := decide(t, tt.slug, tt.file, st)
			if len(ds) != len(tt.want) {
				t.Fatalf("%d decisions, want %d", len(ds), len(tt.want))
			}
			for i, d := range ds {
				if got := outcome(d); got != tt.want[i] {
					t.Errorf("row %d: %s, want %s (problems %+v)", d.Row, got, tt.want[i], d.Problems)
				}
				if d.Action == ActionRejected {
					for _, p := range d.Problems {
						if p.Code == "" || p.Message == "" {
							t.Errorf("row %d: problem without code or message: %+v", d.Row, p)
						}
					}
				}
			}
			// One batched lookup per type, never one per row.
			for typ, n := range st.calls {
				if n != 1 {
					t.Errorf("%d lookups of %s, want 1", n, typ)
				}
			}
		})
	}
}

func TestMergeSemantics(t *testing.T) {
	st := seeded()
	ds := decide(t, "agent", "Action,First Name,Last Name,Employee ID,Agent,Folder,User Name,Skill:VIP,Skill:Spanish,Access Group:Admins,Switch:SIP 1\nUPDATE,,,,,,SARAHL@acme.com,3,,Y,N\n", st)
	d := ds[0]
	if d.Action != ActionUpdated {
		t.Fatalf("%s %+v", d.Action, d.Problems)
	}
	f := d.Object.Fields
	if f["skills"] != "Spanish=5|VIP=3" || f["accessGroups"] != "Admins" || f["firstName"] != "Sarah" {
		t.Errorf("merged fields %v", f)
	}
	if _, ok := f["switches"]; ok {
		t.Errorf("removing an absent switch must leave none: %v", f)
	}
	if d.Object.Key != "sarahl@acme.com" || d.Previous.ID != "id-sarahl@acme.com" {
		t.Errorf("key %q previous %q", d.Object.Key, d.Previous.ID)
	}
}

func TestErrorReportIsReimportable(t *testing.T) {
	st := seeded()
	header := []string{"Name", "Description", "Type"}
	ds := decide(t, "work-type", "Name,Description,Type\nA,,NAP\n,x,\n", st)
	var buf bytes.Buffer
	hw := NewErrorWriter(&buf, header)
	if err := hw.Flush(); err != nil {
		t.Fatal(err)
	}
	pw := NewErrorPartWriter(&buf, header)
	for _, d := range ds {
		if err := pw.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Flush(); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	if !bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) {
		t.Error("the error report starts with a BOM for Excel")
	}
	rows, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "Name,Description,Type,Row,Error Code,Error Message" {
		t.Fatalf("header %v", rows[0])
	}
	// Row 3 has two problems (no name, no type): both are reported.
	if rows[2][3] != "3" || rows[2][4] != "REQUIRED" || strings.Count(rows[2][5], "is required") != 2 {
		t.Errorf("row 3 report %q", rows[2])
	}
	// Fixing the cells and importing the report again works: the report
	// columns are ignored.
	fixed := "Name,Description,Type,Row,Error Code,Error Message\nA,,IDLE_CODE,2,NOT_ALLOWED,old message\n"
	if got := outcome(decide(t, "work-type", fixed, st)[0]); got != "created" {
		t.Errorf("re-import of the fixed report: %s", got)
	}
}
