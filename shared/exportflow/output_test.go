package exportflow_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportapp"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
	"github.com/ccbulk/bulkops/shared/s3store"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// undercount lies about how many objects there are, so an export that
// trusts the count meets more rows than it expected while it writes.
type undercount struct{ exportflow.ObjectLister }

func (undercount) Count(context.Context, string) (int, error) { return 1, nil }

// outputRig is an export flow on the local stack with its own tables and
// bucket.
type outputRig struct {
	t     *testing.T
	ctx   context.Context
	st    *localtest.Stack
	db    *dynamostore.Store
	files *s3store.Store
	flow  *exportflow.Flow
	n     int
}

func newOutputRig(t *testing.T) *outputRig {
	st := localtest.Require(t)
	st.Provision(t)
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, time.Now)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	flow := exportapp.Assemble(db, files, time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	return &outputRig{t: t, ctx: context.Background(), st: st, db: db, files: files, flow: flow}
}

// seed writes work types named from..to-1.
func (r *outputRig) seed(tenant string, from, to int) {
	r.t.Helper()
	var ws []catalog.Write
	for i := from; i < to; i++ {
		name := fmt.Sprintf("Code %05d", i)
		ws = append(ws, catalog.Write{Object: catalog.Object{Type: "work-type", Key: objecttype.JoinKey(name), ID: fmt.Sprintf("id%05d", i), Name: name,
			Fields: map[string]string{"name": name, "description": "plain", "type": "IDLE_CODE"}}})
	}
	if _, err := r.db.Objects(tenant).Apply(r.ctx, "seed", ws, 32); err != nil {
		r.t.Fatal(err)
	}
}

// export runs one export job the way the API starts it: the lock, the job
// under the name exportzip.FileName gives, the request.
func (r *outputRig) export(tenant string, o exportspec.Options, limit int, types ...string) jobs.Job {
	r.t.Helper()
	r.n++
	id := fmt.Sprintf("01JOUTPUT%017d", r.n)
	var ts []*objecttype.Type
	for _, s := range types {
		if ty, err := objecttype.Lookup(s); err == nil {
			ts = append(ts, ty)
		}
	}
	name := exportzip.FileName("nightly_", ts, time.Now(), o)
	if limit > 0 {
		name = "TEST_" + name
	}
	if l, err := r.db.AcquireLock(r.ctx, tenant, id, time.Minute); err != nil || !l.Acquired {
		r.t.Fatalf("lock: %+v %v", l, err)
	}
	if err := r.db.CreateJob(r.ctx, jobs.Job{Tenant: tenant, ID: id, Type: jobs.TypeExport, ObjectType: strings.Join(types, ","),
		FileName: name, Status: jobs.StatusNew, SubmittedBy: "t@" + tenant, SubmittedAt: time.Now().UTC()}); err != nil {
		r.t.Fatal(err)
	}
	raw, _ := json.Marshal(exportflow.Request{Tenant: tenant, JobID: id, ObjectTypes: types, Prefix: "nightly_", Options: o, Limit: limit})
	j, err := r.flow.Handle(r.ctx, raw)
	if err != nil {
		r.t.Fatal(err)
	}
	if l, err := r.db.PeekLock(r.ctx, tenant); err != nil || l.Holder != "" {
		r.t.Fatalf("lock still held by %s (%v)", l.Holder, err)
	}
	return j
}

// head is the stored object's media type and number of versions.
func (r *outputRig) head(key string) (string, int) {
	r.t.Helper()
	bucket := r.st.Ref("DataBucket")
	h, err := r.st.Clients.S3.HeadObject(r.ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		r.t.Fatalf("head %s: %v", key, err)
	}
	v, err := r.st.Clients.S3.ListObjectVersions(r.ctx, &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: &key})
	if err != nil {
		r.t.Fatal(err)
	}
	return *h.ContentType, len(v.Versions)
}

// csvRows reads a bare CSV export: BOM, header, records.
func (r *outputRig) csvRows(key string) ([]byte, [][]string) {
	r.t.Helper()
	raw, err := r.files.Get(r.ctx, key)
	if err != nil {
		r.t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) {
		r.t.Fatalf("%s: no BOM, not a bare CSV: %q", key, raw[:min(len(raw), 20)])
	}
	recs, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
	if err != nil {
		r.t.Fatal(err)
	}
	return raw, recs
}

// TestStableNameAndCSVFormat runs exports with a stable name and as a
// bare CSV on the local stack: the stable file is at one key that the next
// run replaces whole (the bucket keeps the replaced one as an older
// version), the jobs record that key, a test export never replaces it, a
// CSV is text/csv and imports back unchanged, and a CSV over 5,000 rows
// fails its job with the limit (counted up front, or met while writing)
// without touching the file that was there.
func TestStableNameAndCSVFormat(t *testing.T) {
	r := newOutputRig(t)
	const tenant = "stb"
	r.seed(tenant, 0, 3)
	stable := exportspec.Options{StableName: true}
	zipKey := exportflow.StableKey(tenant, "nightly_WorkType.zip")
	if zipKey != "exports/stb/latest/nightly_WorkType.zip" {
		t.Fatalf("stable key %s", zipKey)
	}

	first := r.export(tenant, stable, 0, "work-type")
	if first.Status != jobs.StatusCompleted || first.ResultsKey != zipKey || first.FileName != "nightly_WorkType.zip" {
		t.Fatalf("first stable export: %s %q %q %q", first.Status, first.ResultsKey, first.FileName, first.Message)
	}
	raw, err := r.files.Get(r.ctx, zipKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, parts, _ := zipParts(t, raw); len(parts) != 1 || len(parts[0]) != 4 {
		t.Fatalf("first stable ZIP: %v", parts)
	}
	if ct, versions := r.head(zipKey); ct != "application/zip" || versions != 1 {
		t.Fatalf("first stable ZIP: %s, %d versions", ct, versions)
	}

	r.seed(tenant, 3, 5)
	second := r.export(tenant, stable, 0, "work-type")
	if second.Status != jobs.StatusCompleted || second.ResultsKey != zipKey || second.Counts.Processed != 5 {
		t.Fatalf("second stable export: %s %q %+v", second.Status, second.ResultsKey, second.Counts)
	}
	raw, _ = r.files.Get(r.ctx, zipKey)
	if _, parts, _ := zipParts(t, raw); len(parts[0]) != 6 {
		t.Fatalf("the second run did not replace the file: %d records", len(parts[0]))
	}
	if _, versions := r.head(zipKey); versions != 2 {
		t.Fatalf("%d versions of the stable ZIP, want 2 (the replaced one kept)", versions)
	}
	again, _ := r.db.GetJob(r.ctx, tenant, first.ID)
	if again.ResultsKey != zipKey {
		t.Fatalf("the first job's key is now %q", again.ResultsKey)
	}
	// Each job recorded the version it wrote: the first run's file is
	// still there under its version.
	if again.ResultsVersion == "" || again.ResultsVersion == second.ResultsVersion {
		t.Fatalf("versions recorded: first %q, second %q", again.ResultsVersion, second.ResultsVersion)
	}
	rc, err := r.files.Open(r.ctx, zipKey, again.ResultsVersion)
	if err != nil {
		t.Fatal(err)
	}
	old, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, parts, _ := zipParts(t, old); len(parts[0]) != 4 {
		t.Fatalf("the first run's version holds %d records, want its own 4", len(parts[0]))
	}

	// A test export (a few rows) keeps its own dated-by-job key.
	sample := r.export(tenant, stable, 2, "work-type")
	if want := exportflow.ExportKey(tenant, sample.ID, "TEST_nightly_WorkType.zip"); sample.Status != jobs.StatusCompleted || sample.ResultsKey != want {
		t.Fatalf("test export: %s %q, want key %q", sample.Status, sample.ResultsKey, want)
	}
	if _, versions := r.head(zipKey); versions != 2 {
		t.Fatal("a test export replaced the stable file")
	}

	// A bare CSV with a stable name.
	csvOpts := exportspec.Options{Format: exportspec.FormatCSV, StableName: true}
	csvKey := exportflow.StableKey(tenant, "nightly_WorkType.csv")
	j := r.export(tenant, csvOpts, 0, "work-type")
	if j.Status != jobs.StatusCompleted || j.ResultsKey != csvKey || j.Files != 1 || j.Counts.Processed != 5 {
		t.Fatalf("csv export: %s %q files %d %+v %q", j.Status, j.ResultsKey, j.Files, j.Counts, j.Message)
	}
	if ct, _ := r.head(csvKey); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("csv stored as %q", ct)
	}
	data, recs := r.csvRows(csvKey)
	if len(recs) != 6 || strings.Join(recs[0], ",") != "Name,Description,Type" {
		t.Fatalf("csv export: %v", recs)
	}
	wt, _ := objecttype.Lookup("work-type")
	unchanged := 0
	if _, err := csvimport.DecideFile(r.ctx, bytes.NewReader(data), int64(len(data)), wt, csvread.Options{Limits: csvread.DefaultLimits()}, r.db.Objects(tenant),
		func(d csvimport.Decision) error {
			if d.Action != csvimport.ActionUnchanged {
				return fmt.Errorf("row %d: %s %v", d.Row, d.Action, d.Problems)
			}
			unchanged++
			return nil
		}); err != nil || unchanged != 5 {
		t.Fatalf("re-import of the csv: %d unchanged, %v", unchanged, err)
	}
	// A dated CSV: its own key under the job.
	if dated := r.export(tenant, exportspec.Options{Format: exportspec.FormatCSV}, 0, "work-type"); dated.Status != jobs.StatusCompleted ||
		dated.ResultsKey != exportflow.ExportKey(tenant, dated.ID, dated.FileName) || !strings.HasSuffix(dated.FileName, ".csv") || !strings.HasPrefix(dated.FileName, "nightly_WorkType_") {
		t.Fatalf("dated csv: %s %q %q", dated.Status, dated.ResultsKey, dated.FileName)
	}

	// Past 5,000 rows: refused up front (plain count; a filter's first
	// pass) or while writing (the count was wrong); the stable CSV stays
	// the one of the run before, and no other file is written.
	r.seed(tenant, 5, 5001)
	keep := func(what string) {
		t.Helper()
		if _, recs := r.csvRows(csvKey); len(recs) != 6 {
			t.Fatalf("%s: the stable csv has %d records now", what, len(recs))
		}
		if _, versions := r.head(csvKey); versions != 1 {
			t.Fatalf("%s: %d versions of the stable csv", what, versions)
		}
	}
	cases := []struct {
		name string
		o    exportspec.Options
		lie  bool
		want string
	}{
		{"counted", csvOpts, false, "the Work Type export has 5001"},
		{"first pass", exportspec.Options{Format: exportspec.FormatCSV, StableName: true, Filters: []exportspec.Filter{{Field: "Name", Op: exportspec.OpPrefix, Value: "code"}}}, false, "has 5001"},
		{"while writing", csvOpts, true, "has more than 5000"},
	}
	orig := r.flow.Objects
	for _, c := range cases {
		r.flow.Objects = orig
		if c.lie {
			r.flow.Objects = func(tenant string) exportflow.ObjectLister { return undercount{orig(tenant)} }
		}
		j := r.export(tenant, c.o, 0, "work-type")
		if j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "at most 5000 rows") || !strings.Contains(j.Message, c.want) || !strings.Contains(j.Message, "format zip") || j.ResultsKey != "" {
			t.Fatalf("%s: %s %q %q", c.name, j.Status, j.Message, j.ResultsKey)
		}
		keep(c.name)
	}
	r.flow.Objects = orig
	// A limit that brings it under 5,000 is fine (a test export).
	if j := r.export(tenant, csvOpts, 10, "work-type"); j.Status != jobs.StatusCompleted || j.Counts.Processed != 10 {
		t.Fatalf("limited csv: %s %+v %q", j.Status, j.Counts, j.Message)
	}
	keep("test export")
	// Two types as one csv: refused before anything is read.
	if j := r.export(tenant, csvOpts, 0, "work-type", "site"); j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "one object type") {
		t.Fatalf("csv of two types: %s %q", j.Status, j.Message)
	}
	if list, err := r.st.Clients.S3.ListObjectsV2(r.ctx, &s3.ListObjectsV2Input{Bucket: ptr(r.st.Ref("DataBucket")), Prefix: ptr("exports/" + tenant + "/")}); err != nil {
		t.Fatal(err)
	} else {
		var keys []string
		for _, o := range list.Contents {
			keys = append(keys, *o.Key)
		}
		// The two stable files, the test exports' own files, the dated csv.
		if len(keys) != 5 {
			t.Fatalf("files under exports/%s/: %v", tenant, keys)
		}
	}
}

func ptr(s string) *string { return &s }

// TestGAXAgentsYN: GAX agents stored from a GAX file export (as a bare
// CSV) with their Booleans Y/N, and the file imports back against the
// stored objects with every row unchanged.
func TestGAXAgentsYN(t *testing.T) {
	r := newOutputRig(t)
	const tenant = "gax"
	agent, _ := objecttype.Lookup("agent")
	skill := catalog.Object{Type: "skill-definition", Key: "spanish", ID: "sd1", Name: "Spanish", Fields: map[string]string{"name": "Spanish", "type": "PROFICIENCY"}}
	if _, err := r.db.Objects(tenant).Apply(r.ctx, "seed", []catalog.Write{{Object: skill}}, 1); err != nil {
		t.Fatal(err)
	}
	in := "Action,First Name,Last Name,Employee ID,User Name,Password Change,Agent,Enabled,Folder,Skill:Spanish,Agent Group:Tier 1\r\n" +
		"ADD,Sarah,Lee,223344,sarahl@acme.com,N,Y,Y,Acme/Branch/Team 1,8,Y\r\n" +
		"ADD,Bob,Ray,1,bob@acme.com,Y,N,N,Acme,,\r\n"
	var ws []catalog.Write
	if _, err := csvimport.DecideFile(r.ctx, strings.NewReader(in), int64(len(in)), agent, csvread.Options{Limits: csvread.DefaultLimits()}, r.db.Objects(tenant),
		func(d csvimport.Decision) error {
			if d.Action != csvimport.ActionCreated {
				return fmt.Errorf("row %d: %s %v", d.Row, d.Action, d.Problems)
			}
			o := d.Object
			o.ID = "a-" + o.Key
			ws = append(ws, catalog.Write{Object: o})
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.db.Objects(tenant).Apply(r.ctx, "import", ws, 2); err != nil {
		t.Fatal(err)
	}
	j := r.export(tenant, exportspec.Options{Format: exportspec.FormatCSV}, 0, "agent")
	if j.Status != jobs.StatusCompleted || !strings.HasSuffix(j.FileName, ".csv") || !strings.HasPrefix(j.FileName, "nightly_AgentGAX_") {
		t.Fatalf("agent csv export: %s %q %q", j.Status, j.FileName, j.Message)
	}
	data, recs := r.csvRows(j.ResultsKey)
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	want := map[string][]string{ // by user name: bob, sarahl
		"Password Change": {"Y", "N"}, "Agent": {"N", "Y"}, "Enabled": {"N", "Y"}, "Agent Group:Tier 1": {"", "Y"}, "Skill:Spanish": {"", "8"}, "Action": {"UPDATE", "UPDATE"},
	}
	for h, cells := range want {
		i, ok := col[h]
		if !ok {
			t.Fatalf("no %s column: %v", h, recs[0])
		}
		for row, w := range cells {
			if got := recs[1+row][i]; got != w {
				t.Errorf("%s of %s = %q, want %q", h, recs[1+row][col["User Name"]], got, w)
			}
		}
	}
	unchanged := 0
	if _, err := csvimport.DecideFile(r.ctx, bytes.NewReader(data), int64(len(data)), agent, csvread.Options{Limits: csvread.DefaultLimits()}, r.db.Objects(tenant),
		func(d csvimport.Decision) error {
			if d.Action != csvimport.ActionUnchanged {
				return fmt.Errorf("row %d: %s %v", d.Row, d.Action, d.Problems)
			}
			unchanged++
			return nil
		}); err != nil || unchanged != 2 {
		t.Fatalf("re-import: %d unchanged, %v", unchanged, err)
	}
}

// TestScheduledStableName: a schedule with a stable name names every run's
// job <prefix><Type>.csv (no date), and its request carries the options
// the export writes by.
func TestScheduledStableName(t *testing.T) {
	r := newRunRig(t)
	ctx := context.Background()
	runAt := time.Date(2026, 6, 4, 21, 0, 0, 0, time.UTC)
	if err := r.db.PutSchedule(ctx, schedule.Schedule{Tenant: r.tenant, ID: "gax", Definition: schedule.Definition{Title: "GAX", ObjectTypes: []string{"agent"}, Prefix: "gax_",
		Spec: schedule.Spec{Frequency: schedule.Daily, Time: "21:00"}, Options: exportspec.Options{Format: exportspec.FormatCSV, StableName: true}},
		Active: true, NextRun: runAt, CreatedBy: "t", CreatedAt: hm(8, 0)}); err != nil {
		t.Fatal(err)
	}
	for day := range 2 {
		got := r.tick(runAt.Add(time.Duration(day)*24*time.Hour + 30*time.Second))
		if len(got) != 1 || !got[0].Options.StableName || got[0].Options.Format != exportspec.FormatCSV {
			t.Fatalf("day %d: started %+v", day, got)
		}
		j, err := r.db.GetJob(ctx, r.tenant, got[0].JobID)
		if err != nil || j.FileName != "gax_AgentGAX.csv" {
			t.Fatalf("day %d: job file name %q (%v)", day, j.FileName, err)
		}
		r.end(got[0], true, "")
	}
}
