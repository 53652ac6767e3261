package importflow_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// brokenObjects fails every Apply whose writes include one of the keys,
// for good (an Internal error: not retried).
type brokenObjects struct {
	importflow.ObjectStore
	keys map[string]bool
}

func (b brokenObjects) Apply(ctx context.Context, job string, writes []catalog.Write, conc int) ([]catalog.WriteResult, error) {
	for _, w := range writes {
		if b.keys[w.Object.Key] {
			return nil, bulkerr.New(bulkerr.Internal, "the object store refused %s", w.Object.Key)
		}
	}
	return b.ObjectStore.Apply(ctx, job, writes, conc)
}

// flakyFinish fails the first FinishReportIn of each job after the reports
// were written, as a Finalize that died before answering.
type flakyFinish struct {
	*dynamostore.Store
	mu    sync.Mutex
	fired map[string]bool
}

func (f *flakyFinish) FinishReportIn(ctx context.Context, tenant, id string, st jobs.Status, phase, ek, rk, msg string, at time.Time) error {
	f.mu.Lock()
	first := !f.fired[id]
	f.fired[id] = true
	f.mu.Unlock()
	if first {
		return bulkerr.New(bulkerr.Transient, "injected: finalize died before the final status")
	}
	return f.Store.FinishReportIn(ctx, tenant, id, st, phase, ek, rk, msg, at)
}

func codes(n int, from int, typ string) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "Code %02d,=cmd|' /C calc'!A%d,%s\n", i, i, typ)
	}
	return b.String()
}

// TestOneChunkOfFiveFailsForGood: 20 rows in five chunks of 4; the third
// chunk's writes fail for good. The job still ends with exact counts, an
// error CSV holding that chunk's rows as NOT_PROCESSED (neutralized, so the
// file can be fixed and imported again), a results CSV of the 16 applied
// rows, and a message naming the chunk. A retried Finalize writes the same
// files. Importing the error CSV again applies the 4 rows.
func TestOneChunkOfFiveFailsForGood(t *testing.T) {
	h := newHarness(t, 4)
	h.catchChunks = true
	ctx := context.Background()
	orig, origJobs := h.flow.Objects, h.flow.Jobs
	defer func() { h.flow.Objects, h.flow.Jobs = orig, origJobs }()
	h.flow.Objects = func(tn string) importflow.ObjectStore {
		return brokenObjects{ObjectStore: orig(tn), keys: map[string]bool{"code 09": true}}
	}
	h.flow.Jobs = &flakyFinish{Store: h.db, fired: map[string]bool{}}
	body := "Name,Description,Type\n" + codes(20, 0, "IDLE_CODE")
	job := h.run(h.upload("part", "work-type", "codes.csv", []byte(body), nil), nil)

	want := jobs.Counts{Total: 20, Processed: 20, Created: 16, Failed: 4}
	if job.Status != jobs.StatusCompletedWithErrs || job.Counts != want {
		t.Fatalf("job = %s %+v %q, want Completed with errors %+v", job.Status, job.Counts, job.Message, want)
	}
	if !strings.Contains(job.Message, "1 of 5 chunks (4 rows) was not processed") || !strings.Contains(job.Message, "chunk 3 (4 rows from row 10)") {
		t.Fatalf("message does not name the chunk and why: %q", job.Message)
	}
	errs := h.csv(job.ErrorKey)
	if len(errs) != 5 {
		t.Fatalf("error CSV has %d lines, want header + 4: %v", len(errs), errs)
	}
	for i, r := range errs[1:] {
		if r[0] != fmt.Sprintf("Code %02d", 8+i) || r[3] != fmt.Sprint(10+i) || r[4] != "NOT_PROCESSED" ||
			!strings.HasPrefix(r[5], "not processed: internal error") {
			t.Errorf("error row %d = %q", i, r)
		}
		if !strings.HasPrefix(r[1], "'=cmd") {
			t.Errorf("formula cell not neutralized in the error CSV: %q", r[1])
		}
	}
	res := h.csv(job.ResultsKey)
	if len(res) != 17 || res[8][0] != "9" || res[9][0] != "14" {
		t.Fatalf("results CSV: %d lines (want header + 16, rows 10-13 missing): %v", len(res), res)
	}
	// Finalize ran twice (the first died before the final status): both
	// runs wrote the same reports.
	for _, key := range []string{job.ErrorKey, job.ResultsKey} {
		vs, err := h.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &h.bucket, Prefix: &key})
		if err != nil || len(vs.Versions) != 2 {
			t.Fatalf("versions of %s: %d %v, want 2 (one per Finalize)", key, len(vs.Versions), err)
		}
		var bodies [][]byte
		for _, v := range vs.Versions {
			out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &h.bucket, Key: &key, VersionId: v.VersionId})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, b)
		}
		if !bytes.Equal(bodies[0], bodies[1]) {
			t.Fatalf("a retried Finalize wrote a different %s", key)
		}
	}
	// The error CSV, imported again as it is (the store works now), applies
	// the four rows with their original values.
	h.flow.Objects = orig
	raw, err := h.files.Get(ctx, job.ErrorKey)
	if err != nil {
		t.Fatal(err)
	}
	again := h.run(h.upload("part", "work-type", "codes-errors.csv", raw, nil), nil)
	if again.Status != jobs.StatusCompleted || again.Counts != (jobs.Counts{Total: 4, Processed: 4, Created: 4}) {
		t.Fatalf("re-import of the error CSV: %s %+v %q", again.Status, again.Counts, again.Message)
	}
	objs, err := h.db.Objects("part").GetObjects(ctx, "work-type", []string{"code 09", "code 00"})
	if err != nil || len(objs) != 2 || objs["code 09"].Fields["description"] != "=cmd|' /C calc'!A9" ||
		objs["code 09"].Fields["description"] != objs["code 00"].Fields["description"][:len("=cmd|' /C calc'!A")]+"9" {
		t.Fatalf("re-imported objects: %+v %v", objs, err)
	}
}

// TestEveryChunkFailsForGood: when no chunk could be applied the job is
// Failed, yet it has its counts, an error CSV of every row and an empty
// results CSV.
func TestEveryChunkFailsForGood(t *testing.T) {
	h := newHarness(t, 2)
	h.catchChunks = true
	orig := h.flow.Objects
	defer func() { h.flow.Objects = orig }()
	keys := map[string]bool{}
	for i := range 6 {
		keys[fmt.Sprintf("code %02d", i)] = true
	}
	h.flow.Objects = func(tn string) importflow.ObjectStore { return brokenObjects{ObjectStore: orig(tn), keys: keys} }
	job := h.run(h.upload("none", "work-type", "codes.csv", []byte("Name,Description,Type\n"+codes(6, 0, "IDLE_CODE")), nil), nil)
	if job.Status != jobs.StatusFailed || job.Counts != (jobs.Counts{Total: 6, Processed: 6, Failed: 6}) ||
		!strings.HasPrefix(job.Message, "nothing was applied: 3 of 3 chunks (6 rows) were not processed") {
		t.Fatalf("job = %s %+v %q", job.Status, job.Counts, job.Message)
	}
	if errs := h.csv(job.ErrorKey); len(errs) != 7 {
		t.Fatalf("error CSV: %v", errs)
	}
	if res := h.csv(job.ResultsKey); len(res) != 1 {
		t.Fatalf("results CSV: %v", res)
	}
}

// TestASecondUploadToTheKeyIsASecondJob: each event's version is the one
// read, even after the key was overwritten, and each upload is its own job.
func TestASecondUploadToTheKeyIsASecondJob(t *testing.T) {
	h := newHarness(t, 1000)
	first := h.upload("ver", "work-type", "w.csv", []byte("Name,Description,Type\n"+codes(3, 0, "IDLE_CODE")), nil)
	second := h.upload("ver", "work-type", "w.csv", []byte("Name,Description,Type\n"+codes(5, 10, "IDLE_CODE")), nil)
	j1 := h.run(first, nil)
	j2 := h.run(second, nil)
	if j1.ID == j2.ID || j1.SourceVersion != first.Detail.Object.VersionID || j2.SourceVersion != second.Detail.Object.VersionID {
		t.Fatalf("jobs %s (%s) and %s (%s): want two jobs pinned to their versions", j1.ID, j1.SourceVersion, j2.ID, j2.SourceVersion)
	}
	if j1.Counts.Created != 3 || j2.Counts.Created != 5 {
		t.Fatalf("job 1 read %d rows, job 2 %d: each must read its own version (3 and 5)", j1.Counts.Created, j2.Counts.Created)
	}
}

// TestJobIDMetadataIsTrustedOnlyWhenTheAPIIssuedIt: a job-id in an upload's
// metadata names the job only when the API registered it for that tenant
// and key, once; otherwise the upload gets a fresh job. The submitter of a
// direct upload comes from S3's requester, never from a header.
func TestJobIDMetadataIsTrustedOnlyWhenTheAPIIssuedIt(t *testing.T) {
	h := newHarness(t, 1000)
	ctx := context.Background()
	body := []byte("Name,Description,Type\n" + codes(2, 0, "IDLE_CODE"))
	start := func(ev importflow.ObjectCreated) jobs.Job {
		t.Helper()
		sr, err := h.flow.Start(ctx, ev)
		if err != nil || sr.Duplicate {
			t.Fatalf("start: %+v %v", sr, err)
		}
		j, err := h.db.GetJob(ctx, sr.Job.Tenant, sr.Job.JobID)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	key := "imports/meta/work-type/w.csv"
	if err := h.db.RegisterUpload(ctx, jobs.UploadGrant{Tenant: "meta", JobID: "01API", Key: key, SubmittedBy: "ana@meta.example", DryRun: true}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := h.db.RegisterUpload(ctx, jobs.UploadGrant{Tenant: "other", JobID: "01OTHER", Key: "imports/other/work-type/w.csv", SubmittedBy: "bob@other"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	forged := map[string]string{"job-id": "01FORGED", "submitted-by": "ceo@meta.example"}
	j := start(h.upload("meta", "work-type", "w.csv", body, forged))
	if j.ID == "01FORGED" || j.SubmittedBy != importflow.DirectUploadSubmitter {
		t.Fatalf("an unregistered job-id was trusted: %s by %q", j.ID, j.SubmittedBy)
	}
	ev := h.upload("meta", "work-type", "w.csv", body, map[string]string{"job-id": "01API", "submitted-by": "ceo@meta.example"})
	if j = start(ev); j.ID != "01API" || j.SubmittedBy != "ana@meta.example" || !j.DryRun {
		t.Fatalf("the API's upload: %s by %q dry=%v", j.ID, j.SubmittedBy, j.DryRun)
	}
	if sr, err := h.flow.Start(ctx, ev); err != nil || !sr.Duplicate || sr.Job.JobID != "01API" { // re-delivered event
		t.Fatalf("re-delivered event: %+v %v", sr, err)
	}
	again := h.upload("meta", "work-type", "w.csv", body, map[string]string{"job-id": "01API"})
	again.Detail.Requester = "123456789012"
	if j = start(again); j.ID == "01API" || j.SubmittedBy != "S3 upload (123456789012)" {
		t.Fatalf("a second upload with the same form: %s by %q, want a fresh job by the S3 requester", j.ID, j.SubmittedBy)
	}
	if j = start(h.upload("meta", "work-type", "w.csv", body, map[string]string{"job-id": "01OTHER"})); j.ID == "01OTHER" {
		t.Fatal("another tenant's job ID was taken")
	}
	for _, l := range []string{"meta"} {
		if err := h.db.ReleaseLock(ctx, l, "01API"); err != nil {
			t.Fatal(err)
		}
	}
}

// noReads is the bucket with every object read refused: a step that reads
// the upload fails with a storage error instead of its verdict.
type noReads struct{ *s3store.Store }

func (noReads) Open(context.Context, string, string) (io.ReadCloser, error) {
	return nil, bulkerr.New(bulkerr.Internal, "the test forbids reading the upload")
}

// TestOversizeFileIsRefusedBeforeAnyRead: Prepare HEADs the upload's
// version and fails an oversize file with its size and the limit without
// reading it.
func TestOversizeFileIsRefusedBeforeAnyRead(t *testing.T) {
	h := newHarness(t, 1000)
	body := append([]byte("Name,Description,Type\n"), bytes.Repeat([]byte("\n"), 5<<20)...)
	ev := h.upload("size", "work-type", "big.csv", body, nil)
	orig := h.flow.Files
	defer func() { h.flow.Files = orig }()
	h.flow.Files = noReads{h.files}
	job := h.run(ev, nil)
	want := fmt.Sprintf("the file is %d bytes, larger than 5 MB (5242880 bytes), the limit for this tenant; split it", len(body))
	if job.Status != jobs.StatusFailed || !strings.Contains(job.Message, want) {
		t.Fatalf("job %s %q, want Failed with %q", job.Status, job.Message, want)
	}
}
