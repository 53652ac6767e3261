package exportflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportapp"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/jobcancel"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// cancelAt runs fn once the export has read n objects.
type cancelAt struct {
	exportflow.ObjectLister
	n    int
	seen *int
	fn   func()
}

func (c cancelAt) Each(ctx context.Context, typ string, fn func(catalog.Object) error) error {
	return c.ObjectLister.Each(ctx, typ, func(o catalog.Object) error {
		if *c.seen++; *c.seen == c.n {
			c.fn()
		}
		return fn(o)
	})
}

// TestExportCancelled: an export of 7,000 objects is cancelled (the API's
// cancel) after it read 5,500. It stops at its next page, writes no ZIP,
// and the job is Cancelled with the 5,000 rows it had committed; the lock
// is free; cancelling again is a Conflict.
func TestExportCancelled(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	ctx := context.Background()
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, time.Now)
	files := s3store.New(st.Clients.S3, st.Ref("DataBucket"))
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	flow := exportapp.Assemble(db, files, time.Minute, log)
	var writes []catalog.Write
	for i := range 7000 {
		name := fmt.Sprintf("Code %05d", i)
		writes = append(writes, catalog.Write{Object: catalog.Object{Type: "work-type", Key: objecttype.JoinKey(name), ID: fmt.Sprintf("id%05d", i), Name: name,
			Fields: map[string]string{"name": name, "type": "IDLE_CODE"}}})
	}
	if _, err := db.Objects("exc").Apply(ctx, "seed", writes, 32); err != nil {
		t.Fatal(err)
	}
	const id = "01JEXPORTCANCEL00000000001"
	if l, err := db.AcquireLock(ctx, "exc", id, time.Minute); err != nil || !l.Acquired {
		t.Fatal(l, err)
	}
	if err := db.CreateJob(ctx, jobs.Job{Tenant: "exc", ID: id, Type: jobs.TypeExport, ObjectType: "work-type",
		FileName: "Export.zip", Status: jobs.StatusNew, SubmittedBy: "t@exc", SubmittedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	canceller := &jobcancel.Canceller{Jobs: db, Now: time.Now, Log: log}
	var answered jobs.Job
	var cancelErr error
	seen := 0
	orig := flow.Objects
	flow.Objects = func(tenant string) exportflow.ObjectLister {
		return cancelAt{ObjectLister: orig(tenant), n: 5500, seen: &seen, fn: func() {
			answered, cancelErr = canceller.Cancel(ctx, "exc", id, "admin@exc")
		}}
	}
	raw, _ := json.Marshal(map[string]any{"tenant": "exc", "jobId": id, "objectTypes": []string{"work-type"}})
	j, err := flow.Handle(ctx, raw)
	if err != nil || cancelErr != nil {
		t.Fatal(err, cancelErr)
	}
	if answered.Status != jobs.StatusCancelled || answered.CancelledBy != "admin@exc" || answered.Counts.Processed != 5000 {
		t.Fatalf("the cancel's answer: %s by %q %+v", answered.Status, answered.CancelledBy, answered.Counts)
	}
	if j.Status != jobs.StatusCancelled || j.Counts.Processed != 5000 || j.ResultsKey != "" || j.Message != jobs.ExportCancelledMessage("admin@exc", 5000) {
		t.Fatalf("job after the export stopped: %s %+v %q %q", j.Status, j.Counts, j.ResultsKey, j.Message)
	}
	if seen > 6000 {
		t.Fatalf("the export read %d objects; it should stop at the page after the cancel (6,000)", seen)
	}
	if ok, err := files.Exists(ctx, exportflow.ExportKey("exc", id, "Export.zip")); err != nil || ok {
		t.Fatalf("a cancelled export wrote its ZIP (%v)", err)
	}
	if l, err := db.PeekLock(ctx, "exc"); err != nil || l.Holder != "" {
		t.Fatalf("lock: %+v %v", l, err)
	}
	if _, err := canceller.Cancel(ctx, "exc", id, "admin@exc"); err == nil {
		t.Fatal("cancelling a Cancelled export succeeded")
	}
}
