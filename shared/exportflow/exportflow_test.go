package exportflow_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportapp"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// TestExportJob exports two types of a tenant from DynamoDB Local to a ZIP
// in MinIO: parts of at most 5,000 rows, every row re-importing unchanged,
// nothing of another tenant, the job Completed with its row count and the
// lock released; an unknown type fails the job with the reason.
func TestExportJob(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	ctx := context.Background()
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, time.Now)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	flow := exportapp.Assemble(db, files, time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)))

	var writes []catalog.Write
	for i := range 5003 {
		name := fmt.Sprintf("Code %05d", i)
		desc := "plain"
		if i%100 == 0 {
			desc = "=1+1"
		}
		writes = append(writes, catalog.Write{Object: catalog.Object{Type: "work-type", Key: objecttype.JoinKey(name), ID: fmt.Sprintf("id%05d", i), Name: name,
			Fields: map[string]string{"name": name, "description": desc, "type": "IDLE_CODE"}}})
	}
	writes = append(writes, catalog.Write{Object: catalog.Object{Type: "site", Key: "boston", ID: "s1", Name: "Boston",
		Fields: map[string]string{"name": "Boston", "multimediaProfile": "Default"}}})
	if _, err := db.Objects("exp").Apply(ctx, "seed", writes, 32); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Objects("other").Apply(ctx, "seed", []catalog.Write{{Object: catalog.Object{Type: "site", Key: "secret", ID: "x", Name: "Secret",
		Fields: map[string]string{"name": "Secret", "multimediaProfile": "Default"}}}}, 1); err != nil {
		t.Fatal(err)
	}

	start := func(id string, types ...string) jobs.Job {
		now := time.Now().UTC()
		if l, err := db.AcquireLock(ctx, "exp", id, time.Minute); err != nil || !l.Acquired {
			t.Fatalf("lock: %+v %v", l, err)
		}
		if err := db.CreateJob(ctx, jobs.Job{Tenant: "exp", ID: id, Type: jobs.TypeExport, ObjectType: strings.Join(types, ","),
			FileName: "nightly_Export_test.zip", Status: jobs.StatusNew, SubmittedBy: "t@exp", SubmittedAt: now}); err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(map[string]any{"tenant": "exp", "jobId": id, "objectTypes": types, "prefix": "nightly_"})
		j, err := flow.Handle(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	j := start("01JEXPORT00000000000000001", "work-type", "site")
	if j.Status != jobs.StatusCompleted || j.Counts.Total != 5004 || j.Counts.Processed != 5004 || j.ResultsKey == "" {
		t.Fatalf("export job: %s %+v %q", j.Status, j.Counts, j.Message)
	}
	if l, err := db.PeekLock(ctx, "exp"); err != nil || l.Holder != "" {
		t.Fatalf("lock still held by %s (%v)", l.Holder, err)
	}
	raw, err := files.Get(ctx, j.ResultsKey)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	unchanged := 0
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "Secret") {
			t.Fatalf("%s holds another tenant's object", f.Name)
		}
		ty, _ := objecttype.Lookup("work-type")
		if strings.HasPrefix(f.Name, "Site") {
			ty, _ = objecttype.Lookup("site")
		}
		_, err = csvimport.DecideFile(ctx, bytes.NewReader(data), int64(len(data)), ty, csvread.Options{Limits: csvread.DefaultLimits()}, db.Objects("exp"),
			func(d csvimport.Decision) error {
				if d.Action != csvimport.ActionUnchanged {
					return fmt.Errorf("%s row %d: %s %v", f.Name, d.Row, d.Action, d.Problems)
				}
				unchanged++
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(names) != 3 || !strings.HasPrefix(names[0], "WorkType_") || !strings.HasSuffix(names[1], "_002.csv") || !strings.HasPrefix(names[2], "Site_") || unchanged != 5004 {
		t.Fatalf("parts %v, %d unchanged rows", names, unchanged)
	}

	bad := start("01JEXPORT00000000000000002", "widgets")
	if bad.Status != jobs.StatusFailed || !strings.Contains(bad.Message, "widgets") {
		t.Fatalf("unknown type: %s %q", bad.Status, bad.Message)
	}
	if l, err := db.PeekLock(ctx, "exp"); err != nil || l.Holder != "" {
		t.Fatalf("lock still held after a failed export by %s (%v)", l.Holder, err)
	}
	// A retried invocation of a finished job changes nothing.
	again, err := flow.Handle(ctx, []byte(`{"tenant":"exp","jobId":"01JEXPORT00000000000000001","objectTypes":["site"]}`))
	if err != nil || again.Status != jobs.StatusCompleted || again.Counts.Processed != 5004 {
		t.Fatalf("retried invocation: %s %+v %v", again.Status, again.Counts, err)
	}

	// An invocation that died after committing the progress of its first
	// 5,000 rows is retried: the rows are counted once.
	const crashed = "01JEXPORT00000000000000003"
	if l, err := db.AcquireLock(ctx, "exp", crashed, time.Minute); err != nil || !l.Acquired {
		t.Fatalf("lock: %+v %v", l, err)
	}
	if err := db.CreateJob(ctx, jobs.Job{Tenant: "exp", ID: crashed, Type: jobs.TypeExport, ObjectType: "work-type",
		FileName: "WorkType_retry.zip", Status: jobs.StatusNew, SubmittedBy: "t@exp", SubmittedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkInProgress(ctx, "exp", crashed, 0, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.CommitChunk(ctx, "exp", crashed, 1, jobs.Counts{Processed: 5000}); err != nil {
		t.Fatal(err)
	}
	retried, err := flow.Handle(ctx, []byte(`{"tenant":"exp","jobId":"`+crashed+`","objectTypes":["work-type"]}`))
	if err != nil || retried.Status != jobs.StatusCompleted || retried.Counts.Processed != 5003 || retried.Counts.Total != 5003 || retried.Files != 2 {
		t.Fatalf("retried after a crash: %s %+v files %d %q %v", retried.Status, retried.Counts, retried.Files, retried.Message, err)
	}
}

// exportClock is a settable clock for the store, so objects get chosen
// times of last write without sleeping.
type exportClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *exportClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *exportClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// zipParts reads an export's ZIP: part names and their records (BOM
// stripped), in order.
func zipParts(t *testing.T, raw []byte) ([]string, [][][]string, string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var parts [][][]string
	var all strings.Builder
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) {
			t.Fatalf("%s has no BOM", f.Name)
		}
		all.Write(data)
		recs, err := csv.NewReader(bytes.NewReader(data[3:])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, f.Name)
		parts = append(parts, recs)
	}
	return names, parts, all.String()
}

// TestExportOptionsWindowLimit runs exports with a window, a limit and
// options on the local stack: a window takes only the objects last written
// in it (From inclusive, To exclusive, exact to the nanosecond: each write
// has its own updatedAt), a limit writes at most that
// many per type, options shape the ZIP, the job counts what was taken and
// records its files, and an invalid option fails the job with the reason.
func TestExportOptionsWindowLimit(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clk := &exportClock{t: t0}
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, clk.now)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	flow := exportapp.Assemble(db, files, time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	objs := db.Objects("win")

	workType := func(name, desc string, version int64) catalog.Write {
		return catalog.Write{PrevVersion: version, Object: catalog.Object{Type: "work-type", Key: objecttype.JoinKey(name), ID: "id " + name, Name: name,
			Fields: map[string]string{"name": name, "description": desc, "type": "IDLE_CODE"}}}
	}
	apply := func(ws ...catalog.Write) {
		t.Helper()
		res, err := objs.Apply(ctx, "seed", ws, 8)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r != catalog.Applied {
				t.Fatalf("write %d: %v", i, r)
			}
		}
	}
	// 10:00:00Z: 12 old work types and a site.
	var ws []catalog.Write
	for i := range 12 {
		ws = append(ws, workType(fmt.Sprintf("Old %03d", i), "old", 0))
	}
	ws = append(ws, catalog.Write{Object: catalog.Object{Type: "site", Key: "boston", ID: "s1", Name: "Boston",
		Fields: map[string]string{"name": "Boston", "multimediaProfile": "Default"}}})
	apply(ws...)
	// 11:00:00.5Z: 15 new work types (one a formula) and Old 003 modified.
	t1 := t0.Add(time.Hour + 500*time.Millisecond)
	clk.set(t1)
	ws = nil
	for i := range 15 {
		desc := "new"
		if i == 7 {
			desc = "=SUM(1)"
		}
		ws = append(ws, workType(fmt.Sprintf("New %03d", i), desc, 0))
	}
	ws = append(ws, workType("Old 003", "modified", 1))
	apply(ws...)
	// 12:00:00.5Z: 2 late ones.
	t2 := t1.Add(time.Hour)
	clk.set(t2)
	apply(workType("Late 000", "late", 0), workType("Late 001", "late", 0))

	// EachUpdated on its own: the boundaries.
	names := func(w exportspec.Window) string {
		var got []string
		if err := objs.EachUpdated(ctx, "work-type", w, func(o catalog.Object) error {
			got = append(got, o.Name)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		if len(got) == 0 {
			return "0"
		}
		return fmt.Sprintf("%d %s…%s", len(got), got[0], got[len(got)-1])
	}
	for _, c := range []struct {
		w    exportspec.Window
		want string
	}{
		{exportspec.Window{From: t0}, "29 Late 000…Old 011"},
		{exportspec.Window{From: t1.Truncate(time.Second), To: t2}, "16 New 000…Old 003"},
		{exportspec.Window{From: t1, To: t2}, "16 New 000…Old 003"},
		// Each write of one Apply has its own updatedAt: the clock's time,
		// then the next nanosecond for each write while the clock stands
		// still (New 000 at t1, New 001 at t1+1ns, …, Old 003 at t1+15ns).
		{exportspec.Window{From: t1, To: t2.Add(time.Nanosecond)}, "17 Late 000…Old 003"},
		{exportspec.Window{To: t1}, "11 Old 000…Old 011"},
		{exportspec.Window{From: t1.Add(time.Nanosecond)}, "17 Late 000…Old 003"},
		{exportspec.Window{From: t1.Add(16 * time.Nanosecond)}, "2 Late 000…Late 001"},
		{exportspec.Window{From: t2, To: t2.Add(time.Nanosecond)}, "1 Late 000…Late 000"},
		{exportspec.Window{From: t2.Add(time.Nanosecond), To: t2.Add(2 * time.Nanosecond)}, "1 Late 001…Late 001"},
		{exportspec.Window{From: t0.Add(-time.Second), To: t0.Add(time.Nanosecond)}, "1 Old 000…Old 000"},
		{exportspec.Window{From: t0.Add(-time.Second), To: t0.Add(time.Second)}, "11 Old 000…Old 011"}, // Old 003 was modified at t1
		{exportspec.Window{From: t1, To: t1}, "0"},
		{exportspec.Window{From: t2, To: t1}, "0"},
	} {
		if got := names(c.w); got != c.want {
			t.Errorf("window %s – %s: %s, want %s", c.w.From.Format(time.RFC3339Nano), c.w.To.Format(time.RFC3339Nano), got, c.want)
		}
	}

	clk.set(t2.Add(time.Hour))
	n := 0
	run := func(req exportflow.Request) (jobs.Job, []string, [][][]string, string) {
		t.Helper()
		n++
		req.Tenant, req.JobID = "win", fmt.Sprintf("01JWINDOW0000000000000%04d", n)
		if l, err := db.AcquireLock(ctx, "win", req.JobID, time.Minute); err != nil || !l.Acquired {
			t.Fatalf("lock: %+v %v", l, err)
		}
		if err := db.CreateJob(ctx, jobs.Job{Tenant: "win", ID: req.JobID, Type: jobs.TypeExport, ObjectType: strings.Join(req.ObjectTypes, ","),
			FileName: "Export.zip", Status: jobs.StatusNew, SubmittedBy: "t@win", SubmittedAt: clk.now()}); err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(req)
		j, err := flow.Handle(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if l, err := db.PeekLock(ctx, "win"); err != nil || l.Holder != "" {
			t.Fatalf("lock still held by %s (%v)", l.Holder, err)
		}
		if j.Status != jobs.StatusCompleted {
			return j, nil, nil, ""
		}
		data, err := files.Get(ctx, j.ResultsKey)
		if err != nil {
			t.Fatal(err)
		}
		names, parts, all := zipParts(t, data)
		if j.Files != len(names) {
			t.Fatalf("job records %d files, the ZIP has %d", j.Files, len(names))
		}
		return j, names, parts, all
	}
	rowNames := func(parts [][][]string) []string {
		var out []string
		for _, p := range parts {
			for _, r := range p[1:] {
				out = append(out, r[0])
			}
		}
		return out
	}

	// A window: only what was written from 11:00 (inclusive) to 12:00:00.5
	// (exclusive); the site, written before, gets a header-only part.
	j, partNames, parts, _ := run(exportflow.Request{ObjectTypes: []string{"work-type", "site"},
		Window: exportspec.Window{From: t0.Add(time.Hour), To: t2}})
	got := rowNames(parts)
	sort.Strings(got)
	if j.Status != jobs.StatusCompleted || j.Counts.Total != 16 || j.Counts.Processed != 16 || len(partNames) != 2 || len(got) != 16 ||
		got[0] != "New 000" || got[14] != "New 014" || got[15] != "Old 003" || len(parts[1]) != 1 {
		t.Fatalf("window export: %s %+v %q, parts %v, rows %v", j.Status, j.Counts, j.Message, partNames, got)
	}

	// A test export: at most 10 per type.
	j, partNames, parts, _ = run(exportflow.Request{ObjectTypes: []string{"work-type", "site"}, Limit: exportspec.TestExportRows})
	if j.Status != jobs.StatusCompleted || j.Counts.Total != 11 || j.Counts.Processed != 11 || j.Files != 2 ||
		len(parts[0]) != 11 || len(parts[1]) != 2 || parts[1][1][0] != "Boston" {
		t.Fatalf("limited export: %s %+v %q, parts %v", j.Status, j.Counts, j.Message, partNames)
	}

	// Options reach the ZIP: fields in keys, filters (then the limit),
	// parts of 4 rows, formulas left alone.
	j, partNames, parts, all := run(exportflow.Request{ObjectTypes: []string{"work-type", "site"}, Limit: 13, Options: exportspec.Options{
		Fields: []string{"Description", "multimedia_profile"}, Header: exportspec.HeaderKeys, SplitRows: 4, NoNeutralize: true,
		Filters: []exportspec.Filter{{Field: "Name", Op: exportspec.OpPrefix, Value: " NEW"}, {Field: "description", Op: exportspec.OpNotEmpty}},
	}})
	got = rowNames(parts)
	if j.Status != jobs.StatusCompleted || j.Counts.Total != 13 || j.Counts.Processed != 13 || j.Files != 5 || len(got) != 13 ||
		strings.Join(parts[0][0], ",") != "name,description" || len(parts[3]) != 2 || strings.Join(parts[4][0], ",") != "name,multimediaProfile" || len(parts[4]) != 1 ||
		!strings.Contains(all, "\r\nNew 007,=SUM(1)\r\n") {
		t.Fatalf("export with options: %s %+v %q, parts %v, rows %v\n%s", j.Status, j.Counts, j.Message, partNames, got, all)
	}
	for _, name := range got {
		if !strings.HasPrefix(name, "New ") {
			t.Fatalf("the filter let %q through", name)
		}
	}

	// Invalid options fail the job with the reason.
	for _, c := range []struct {
		req  exportflow.Request
		want string
	}{
		{exportflow.Request{ObjectTypes: []string{"work-type"}, Options: exportspec.Options{Fields: []string{"Name", "Tpye"}}}, `fields[1]: "Tpye" is not a Work Type field; did you mean "Type"?`},
		{exportflow.Request{ObjectTypes: []string{"site", "work-type"}, Options: exportspec.Options{Filters: []exportspec.Filter{{Field: "Multimedia Profil", Op: exportspec.OpEmpty}}}}, `filters[0]: "Multimedia Profil" is not a Site field; did you mean "Multimedia Profile"?`},
		{exportflow.Request{ObjectTypes: []string{"work-type"}, Options: exportspec.Options{SplitRows: 9999}}, "splitRows 9999 is not from 1 to 5000"},
		{exportflow.Request{ObjectTypes: []string{"work-type"}, Options: exportspec.Options{Header: "titles"}}, `header "titles" is not labels or keys`},
		{exportflow.Request{ObjectTypes: []string{"work-type"}, Limit: -1}, "limit -1 is negative"},
	} {
		j, _, _, _ := run(c.req)
		if j.Status != jobs.StatusFailed || !strings.Contains(j.Message, c.want) || j.Files != 0 {
			t.Errorf("invalid export %+v: %s %q, want Failed saying %q", c.req.Options, j.Status, j.Message, c.want)
		}
	}
}
