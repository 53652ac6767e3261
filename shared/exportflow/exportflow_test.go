package exportflow_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportapp"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/localtest"
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

	var writes []dynamostore.Write
	for i := range 5003 {
		name := fmt.Sprintf("Code %05d", i)
		desc := "plain"
		if i%100 == 0 {
			desc = "=1+1"
		}
		writes = append(writes, dynamostore.Write{Object: catalog.Object{Type: "work-type", Key: objecttype.JoinKey(name), ID: fmt.Sprintf("id%05d", i), Name: name,
			Fields: map[string]string{"name": name, "description": desc, "type": "IDLE_CODE"}}})
	}
	writes = append(writes, dynamostore.Write{Object: catalog.Object{Type: "site", Key: "boston", ID: "s1", Name: "Boston",
		Fields: map[string]string{"name": "Boston", "multimediaProfile": "Default"}}})
	if _, err := db.Objects("exp").Apply(ctx, "seed", writes, 32); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Objects("other").Apply(ctx, "seed", []dynamostore.Write{{Object: catalog.Object{Type: "site", Key: "secret", ID: "x", Name: "Secret",
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
	if l, _ := db.PeekLock(ctx, "exp"); l.Holder != "" {
		t.Fatalf("lock still held by %s", l.Holder)
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
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		if strings.Contains(string(data), "Secret") {
			t.Fatalf("%s holds another tenant's object", f.Name)
		}
		ty, _ := objecttype.Lookup("work-type")
		if strings.HasPrefix(f.Name, "Site") {
			ty, _ = objecttype.Lookup("site")
		}
		_, err := csvimport.DecideFile(ctx, bytes.NewReader(data), int64(len(data)), ty, csvread.Options{Limits: csvread.DefaultLimits()}, db.Objects("exp"),
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
	if l, _ := db.PeekLock(ctx, "exp"); l.Holder != "" {
		t.Fatalf("lock still held after a failed export by %s", l.Holder)
	}
	// A retried invocation of a finished job changes nothing.
	again, err := flow.Handle(ctx, []byte(`{"tenant":"exp","jobId":"01JEXPORT00000000000000001","objectTypes":["site"]}`))
	if err != nil || again.Status != jobs.StatusCompleted || again.Counts.Processed != 5004 {
		t.Fatalf("retried invocation: %s %+v %v", again.Status, again.Counts, err)
	}
}
