package csvimport

import (
	"bytes"
	"context"
	"encoding/csv"
	"strconv"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// FuzzDecide runs the whole engine (Scan, chunks, Decide) on any input for
// any type: no panic, no internal error; a row is rejected exactly when it
// has problems, each with a code and a message; accepted objects have a key
// and only canonical values; the error report is valid CSV with the header
// plus Row, Error Code and Error Message.
func FuzzDecide(f *testing.F) {
	seeds := []struct {
		slug string
		file string
	}{
		{"work-type", "Name,Description,Type\nLunch,Break,idle code\nLunch,x,WRAP_UP_CODE\n,,\nA,#CLEAR,BAD\n"},
		{"team", "Name,Site,Type,Capacity,DN\nT1,Boston,AGENT,,\nT2,Nowhere,CAPACITY,5,+1555\n"},
		{"user", "Email,User Profile,Contact Center Enabled,Site,Teams\nx@y.com,Agents,yes,Boston,Tier 1: Boston|Tier 2\n"},
		{"agent", "Action,First Name,Last Name,Employee ID,User Name,Agent,Folder,Skill:Spanish,Switch:SIP\nADD,A,B,1,ab,Y,Acme,5,Y\nUPDATE,S,L,1,sarahl@acme.com,Y,Acme/x,N,N\n"},
		{"skill-profile", "Name,Skills\nP,Spanish=11|VIP=maybe|Tier=Gold\n"},
		{"queue", "Name;Channel Type;Routing Type;Group 1 Teams\nQ;telephony;LONGEST_AVAILABLE_AGENT;Tier 1: Boston\n"},
	}
	types := objecttype.All()
	index := map[string]uint8{}
	for i, t := range types {
		index[t.Slug] = uint8(i)
	}
	for _, s := range seeds {
		f.Add([]byte(s.file), index[s.slug])
	}
	f.Fuzz(func(t *testing.T, raw []byte, which uint8) {
		ty := types[int(which)%len(types)]
		st := seeded()
		var rejected []Decision
		last := 0
		plan, err := DecideFile(context.Background(), bytes.NewReader(raw), int64(len(raw)), ty, csvread.Options{Limits: csvread.Limits{MaxRows: 100, MaxBytes: 1 << 16}, ChunkRows: 3}, st, func(d Decision) error {
			if d.Row <= last {
				t.Fatalf("row %d after %d", d.Row, last)
			}
			last = d.Row
			if (d.Action == ActionRejected) != (len(d.Problems) > 0) {
				t.Fatalf("row %d: action %s with %d problems", d.Row, d.Action, len(d.Problems))
			}
			for _, p := range d.Problems {
				if p.Code == "" || p.Message == "" {
					t.Fatalf("row %d: problem without code or message: %+v", d.Row, p)
				}
			}
			if d.Action == ActionRejected {
				rejected = append(rejected, d)
				return nil
			}
			if d.Object.Key == "" {
				t.Fatalf("row %d accepted without a key", d.Row)
			}
			for _, c := range ty.Columns {
				v, ok := d.Object.Fields[c.Key]
				if !ok {
					continue
				}
				if again, p := c.Canonical(v); p != nil || again != v {
					t.Fatalf("row %d: stored %s %q is not canonical (%q, %v)", d.Row, c.Header, v, again, p)
				}
			}
			return nil
		})
		if err != nil {
			if bulkerr.KindOf(err) == bulkerr.Internal {
				t.Fatalf("internal error: %v", err)
			}
			return
		}
		var report bytes.Buffer
		if err := NewErrorWriter(&report, plan.Header).Flush(); err != nil {
			t.Fatal(err)
		}
		pw := NewErrorPartWriter(&report, plan.Header)
		for _, d := range rejected {
			if err := pw.Write(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := pw.Flush(); err != nil {
			t.Fatal(err)
		}
		cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(report.Bytes(), bom)))
		cr.FieldsPerRecord = -1
		recs, err := cr.ReadAll()
		if err != nil {
			t.Fatalf("error part is not valid CSV: %v", err)
		}
		if len(recs) != len(rejected)+1 {
			t.Fatalf("error report has %d records for %d rejected rows", len(recs), len(rejected))
		}
		for i, r := range recs[1:] {
			if len(r) < len(plan.Header)+len(objecttype.ReportHeaders) || r[len(r)-3] != strconv.Itoa(rejected[i].Row) {
				t.Fatalf("error row %q lacks the report columns or its row number %d", r, rejected[i].Row)
			}
		}
	})
}
