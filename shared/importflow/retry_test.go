package importflow_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/retry"
	"github.com/ccbulk/bulkops/shared/retryapp"
)

// halfWritten writes the first half of every Apply whose writes include
// one of the keys and then fails for good: a chunk that died after part
// of its rows were written, so its rows are reported NOT_PROCESSED though
// some are in the table.
type halfWritten struct {
	importflow.ObjectStore
	keys map[string]bool
}

func (h halfWritten) Apply(ctx context.Context, job string, writes []catalog.Write, conc int) ([]catalog.WriteResult, error) {
	for _, w := range writes {
		if h.keys[w.Object.Key] {
			if _, err := h.ObjectStore.Apply(ctx, job, writes[:len(writes)/2], conc); err != nil {
				return nil, err
			}
			return nil, bulkerr.New(bulkerr.Internal, "injected: the chunk died after writing %d of its %d rows", len(writes)/2, len(writes))
		}
	}
	return h.ObjectStore.Apply(ctx, job, writes, conc)
}

// TestRetryOfAPartlyWrittenChunk: 8 rows in two chunks of 4; the second
// chunk writes 2 of its rows and then fails for good, so the job ends with
// those 4 rows NOT_PROCESSED. The retry (retry.Starter on the same bucket
// and tables, then the workflow over the file it wrote, with the grant the
// API would redeem) holds exactly those 4 rows, none of the 4 the first
// chunk applied, and applies them as upserts by name: the 2 already written
// come out unchanged (not written again), the 2 others are created. The new
// job records retryOf, the old one retriedBy.
func TestRetryOfAPartlyWrittenChunk(t *testing.T) {
	h := newHarness(t, 4)
	h.catchChunks = true
	ctx := context.Background()
	orig := h.flow.Objects
	defer func() { h.flow.Objects = orig }()
	h.flow.Objects = func(tn string) importflow.ObjectStore {
		return halfWritten{ObjectStore: orig(tn), keys: map[string]bool{"code 05": true}}
	}
	tenant := fmt.Sprintf("retry-%d", time.Now().UnixNano()%1e9)
	body := "Name,Description,Type\n" + codes(8, 0, "IDLE_CODE")
	job := h.run(h.upload(tenant, "work-type", "codes.csv", []byte(body), nil), nil)
	if job.Status != jobs.StatusCompletedWithErrs || job.Counts.Created != 4 || job.Counts.Failed != 4 {
		t.Fatalf("first job: %s %+v %q", job.Status, job.Counts, job.Message)
	}
	if n := h.objectCount(t, tenant, 6); n != 6 {
		t.Fatalf("%d objects after the first job, want 6 (4 + 2 of the failed chunk)", n)
	}
	h.flow.Objects = orig

	ids := ident.NewGenerator(nil)
	// The API's part records the job; the retry function's part (here in
	// process) builds and writes the file.
	builder := retryapp.Assemble(h.db, h.files, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	st := &retry.Starter{Jobs: h.db, Builds: retryapp.Inline{Builder: builder}, NewID: func() (string, error) { return ids.New(time.Now()) }}
	started, err := st.Retry(ctx, tenant, "admin@x", job.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if started.DryRun || started.Key != "imports/"+tenant+"/work-type/codes-retry.csv" {
		t.Fatalf("retry: %+v", started)
	}
	// Recorded before its workflow: New, linked, "building the retry file".
	if rec, err := h.db.GetJob(ctx, tenant, started.JobID); err != nil || rec.Status != jobs.StatusNew || rec.RetryOf != job.ID ||
		!strings.HasPrefix(rec.Message, "building the retry file") || rec.SourceVersion != "" || rec.SubmittedBy != "admin@x" {
		t.Fatalf("the recorded retry job: %+v %v", rec, err)
	}
	file := h.csv(started.Key)
	if len(file) != 5 {
		t.Fatalf("retry file: %v", file)
	}
	applied := map[string]bool{}
	for _, r := range h.csv(job.ResultsKey)[1:] {
		applied[r[1]] = true
	}
	for i, r := range file[1:] {
		if want := fmt.Sprintf("Code %02d", 4+i); r[0] != want || applied[strings.ToLower(r[0])] {
			t.Errorf("retry row %d = %q, want %s (and no applied row)", i, r, want)
		}
		if !strings.HasPrefix(r[1], "=cmd|") { // the source's cell, not the report's neutralized one
			t.Errorf("retry row %d description %q is not the original cell", i, r[1])
		}
	}
	// The workflow picks the file up as it would from S3's event.
	head, err := h.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &h.bucket, Key: &started.Key})
	if err != nil {
		t.Fatal(err)
	}
	var ev importflow.ObjectCreated
	ev.ID, ev.Source, ev.DetailType = "ev-retry", "aws.s3", "Object Created"
	ev.Detail.Bucket.Name, ev.Detail.Object.Key = h.bucket, started.Key
	ev.Detail.Object.VersionID = aws.ToString(head.VersionId)
	ev.Detail.Object.Sequencer = aws.ToString(head.VersionId)
	again := h.run(ev, nil)
	want := jobs.Counts{Total: 4, Processed: 4, Created: 2, Unchanged: 2}
	// StartJob adopted the recorded job: its source version is the file's,
	// the building message is gone.
	if again.ID != started.JobID || again.Status != jobs.StatusCompleted || again.Counts != want || again.RetryOf != job.ID || again.SubmittedBy != "admin@x" ||
		again.SourceVersion != aws.ToString(head.VersionId) || again.Message != "" {
		t.Fatalf("retry job: %s %s %+v retryOf=%q by %q, want %s Completed %+v", again.ID, again.Status, again.Counts, again.RetryOf, again.SubmittedBy, started.JobID, want)
	}
	if n := h.objectCount(t, tenant, 8); n != 8 {
		t.Fatalf("%d objects after the retry, want 8", n)
	}
	old, err := h.db.GetJob(ctx, tenant, job.ID)
	if err != nil || old.RetriedBy != again.ID {
		t.Fatalf("old job: %+v %v", old, err)
	}
	if _, err := st.Retry(ctx, tenant, "admin@x", job.ID, nil); bulkerr.KindOf(err) != bulkerr.Conflict || !strings.Contains(err.Error(), "already retried by job "+again.ID) {
		t.Fatalf("second retry: %v", err)
	}
	if _, err := st.Retry(ctx, tenant, "admin@x", again.ID, nil); bulkerr.KindOf(err) != bulkerr.Conflict || !strings.Contains(err.Error(), "no rejected rows") {
		t.Fatalf("retry of a clean job: %v", err)
	}
}
