package httpapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/retry"
	"github.com/ccbulk/bulkops/shared/retryapp"
)

// retryable stores a Completed-with-errors import of tenant whose source
// is in Windows-1252 with semicolons (rows 2-5), whose error CSV lists
// rows 2, 4 and 5 (5 as a duplicate) with their cells neutralized, and
// whose results CSV lists row 3.
func (h *apiHarness) retryable(tenant string, mod func(*jobs.Job)) jobs.Job {
	h.t.Helper()
	ctx := context.Background()
	id, _ := h.ids.New(time.Now())
	src := []byte("Name;Description;Type\r\nCaf\xe9 1;=1+2;IDLE_CODE\r\nApplied;x;IDLE_CODE\r\nCaf\xe9 2;@home;IDLE_CODE\r\nApplied;dup;IDLE_CODE\r\n")
	key := "imports/" + tenant + "/work-type/codes.csv"
	out, err := h.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &h.bucket, Key: &key, Body: bytes.NewReader(src)})
	if err != nil {
		h.t.Fatal(err)
	}
	now := time.Now().UTC()
	j := jobs.Job{Tenant: tenant, ID: id, Type: jobs.TypeImport, ObjectType: "work-type", FileName: "codes.csv", Status: jobs.StatusCompletedWithErrs,
		Bucket: h.bucket, SourceKey: key, SourceVersion: aws.ToString(out.VersionId),
		SubmittedBy: "admin@" + tenant + ".example", SubmittedAt: now, StartedAt: &now, EndedAt: &now,
		Counts:   jobs.Counts{Total: 4, Processed: 4, Created: 1, Failed: 3},
		ErrorKey: fmt.Sprintf("results/%s/%s/errors.csv", tenant, id), ResultsKey: fmt.Sprintf("results/%s/%s/results.csv", tenant, id)}
	if mod != nil {
		mod(&j)
	}
	if err := h.db.CreateJob(ctx, j); err != nil {
		h.t.Fatal(err)
	}
	errs := "\xEF\xBB\xBFName,Description,Type,Row,Error Code,Error Message\r\n" +
		"Café 1,'=1+2,IDLE_CODE,2,UNKNOWN_REFERENCE,x\r\nCafé 2,'@home,IDLE_CODE,4,CONFLICTING_FIELDS,y\r\nApplied,dup,IDLE_CODE,5,DUPLICATE_KEY,z\r\n"
	if j.ErrorKey == "" {
		return j
	}
	if err := h.files.Put(ctx, j.ErrorKey, "text/csv", []byte(errs), nil); err != nil {
		h.t.Fatal(err)
	}
	if err := h.files.Put(ctx, j.ResultsKey, "text/csv", []byte("\xEF\xBB\xBFRow,Key,Object ID,Action\r\n3,Applied,o1,created\r\n"), nil); err != nil {
		h.t.Fatal(err)
	}
	return j
}

// TestRetryJob: POST /v1/jobs/{id}/retry through API Gateway's play, every
// answer validated against openapi.json. The retry file holds rows 2 and
// 4 of the source exactly (decoded from Windows-1252, the formula-like
// cells as the source had them, not as the error CSV neutralized them),
// not the applied row 3 nor the duplicate row 5; the answer is replayed
// for the same Idempotency-Key; the job records retriedBy; a second retry
// is 409 naming the first, a dry-run retry is still allowed; refusals are
// problems with the reason, or (known only from the reports) a Failed job
// with the reason and the claim released. The file is built in process
// here (apiapp.Assemble: retryapp.Inline); the asynchronous retry function
// is tested on a mini stack (shared/cleanupapp retry_test.go).
func TestRetryJob(t *testing.T) {
	h := newAPIHarness(t)
	ctx := context.Background()
	tenant := fmt.Sprintf("retry-a-%d", time.Now().UnixNano()%1e6)
	j := h.retryable(tenant, nil)
	var got bulkapi.Retry
	status, hdr, raw := h.send(tenant, "POST", "/v1/jobs/"+j.ID+"/retry", nil, map[string]string{"Idempotency-Key": "k1"}, &got)
	if status != http.StatusAccepted || got.RetryOf != j.ID || got.Status != "New" || got.DryRun || got.FileName != "codes-retry.csv" ||
		got.Key != "imports/"+tenant+"/work-type/codes-retry.csv" || hdr.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry: %d %s", status, raw)
	}
	status, hdr, raw2 := h.send(tenant, "POST", "/v1/jobs/"+j.ID+"/retry", nil, map[string]string{"Idempotency-Key": "k1"}, nil)
	if status != http.StatusAccepted || !bytes.Equal(raw, raw2) || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s %v", status, raw2, hdr)
	}
	key := "imports/" + tenant + "/work-type/codes-retry.csv"
	head, err := h.files.Head(ctx, key)
	if err != nil || head.Metadata["job-id"] != got.JobID || head.Metadata["dry-run"] != "false" {
		t.Fatalf("retry file head: %+v %v", head, err)
	}
	body, err := h.files.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF")))).ReadAll()
	want := [][]string{{"Name", "Description", "Type"}, {"Café 1", "=1+2", "IDLE_CODE"}, {"Café 2", "@home", "IDLE_CODE"}}
	if err != nil || fmt.Sprint(rows) != fmt.Sprint(want) || !bytes.HasPrefix(body, []byte("\xEF\xBB\xBF")) {
		t.Fatalf("retry file = %q %v, want %q", rows, err, want)
	}
	if old, err := h.db.GetJob(ctx, tenant, j.ID); err != nil || old.RetriedBy != got.JobID {
		t.Fatalf("old job: %+v %v", old, err)
	}
	var view bulkapi.Job
	if status, raw := h.call(tenant, "GET", "/v1/jobs/"+j.ID, nil, &view); status != 200 || view.RetriedBy != got.JobID {
		t.Fatalf("job view: %d %s", status, raw)
	}
	// The new job is followable at once: New, linked back, until the
	// workflow (not run here) adopts its file.
	var nv bulkapi.Job
	if status, raw := h.call(tenant, "GET", "/v1/jobs/"+got.JobID, nil, &nv); status != 200 || nv.Status != "New" || nv.RetryOf != j.ID ||
		!strings.HasPrefix(nv.Message, "building the retry file") || nv.FileName != "codes-retry.csv" || nv.SubmittedBy != "admin@"+tenant+".example" {
		t.Fatalf("new job view: %d %s", status, raw)
	}
	status, raw = h.call(tenant, "POST", "/v1/jobs/"+j.ID+"/retry", nil, nil)
	if p := problem(t, status, raw, http.StatusConflict, "CONFLICT"); !strings.Contains(p.Detail, "already retried by job "+got.JobID) {
		t.Fatalf("second retry: %s", raw)
	}
	var dry bulkapi.Retry
	if status, raw := h.call(tenant, "POST", "/v1/jobs/"+j.ID+"/retry", map[string]any{"dryRun": true}, &dry); status != http.StatusAccepted || !dry.DryRun || dry.JobID == got.JobID {
		t.Fatalf("dry-run retry after the retry: %d %s", status, raw)
	}

	// A job older than an upload's retention: the rows come from the error
	// CSV (its neutralized cells import the same values).
	keep := h.api.Retries
	later := retryapp.Assemble(h.db, h.files, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	later.Now = func() time.Time { return time.Now().Add(40 * 24 * time.Hour) }
	h.api.Retries = &retry.Starter{Jobs: h.db, Builds: retryapp.Inline{Builder: later}, NewID: func() (string, error) { return h.ids.New(time.Now()) }}
	oldJob := h.retryable(tenant, nil)
	var fromReport bulkapi.Retry
	if status, raw := h.call(tenant, "POST", "/v1/jobs/"+oldJob.ID+"/retry", nil, &fromReport); status != 202 {
		t.Fatalf("retry of an old job: %d %s", status, raw)
	}
	if body, err := h.files.Get(ctx, key); err != nil || !bytes.Contains(body, []byte("Café 1,'=1+2,IDLE_CODE\n")) || bytes.Contains(body, []byte("Error Code")) {
		t.Fatalf("retry file of an old job: %q %v", body, err)
	}
	h.api.Retries = keep

	// A refusal known only from the reports (every rejected row is a
	// duplicate): the answer is 202 with a job that the build ends Failed
	// with the reason, and the claim is released, so the job can be
	// retried again (here: once its error report lists a row to retry).
	dups := h.retryable(tenant, nil)
	onlyDup := "\xEF\xBB\xBFName,Description,Type,Row,Error Code,Error Message\r\nApplied,dup,IDLE_CODE,5,DUPLICATE_KEY,z\r\n"
	if err := h.files.Put(ctx, dups.ErrorKey, "text/csv", []byte(onlyDup), nil); err != nil {
		t.Fatal(err)
	}
	var refused bulkapi.Retry
	if status, raw := h.call(tenant, "POST", "/v1/jobs/"+dups.ID+"/retry", nil, &refused); status != 202 {
		t.Fatalf("retry of duplicates only: %d %s", status, raw)
	}
	var rj bulkapi.Job
	if status, raw := h.call(tenant, "GET", "/v1/jobs/"+refused.JobID, nil, &rj); status != 200 || rj.Status != "Failed" || rj.RetryOf != dups.ID ||
		!strings.Contains(rj.Message, "its 1 rejected rows repeat the key of an earlier row (DUPLICATE_KEY)") {
		t.Fatalf("refused retry job: %d %s", status, raw)
	}
	if o, err := h.db.GetJob(ctx, tenant, dups.ID); err != nil || o.RetriedBy != "" {
		t.Fatalf("the refused retry's claim was not released: %+v %v", o, err)
	}
	if status, raw := h.call(tenant, "POST", "/v1/jobs/"+dups.ID+"/retry", nil, nil); status != 202 {
		t.Fatalf("retry after a refused retry: %d %s", status, raw)
	}

	// Refusals.
	refuse := func(name string, j jobs.Job, body any, wantStatus int, wantCode, wantDetail string) {
		t.Helper()
		status, raw := h.call(j.Tenant, "POST", "/v1/jobs/"+j.ID+"/retry", body, nil)
		if p := problem(t, status, raw, wantStatus, wantCode); !strings.Contains(p.Detail, wantDetail) {
			t.Errorf("%s: %s, want %q", name, raw, wantDetail)
		}
	}
	tb := fmt.Sprintf("retry-b-%d", time.Now().UnixNano()%1e6)
	refuse("running", h.retryable(tb, func(j *jobs.Job) { j.Status, j.EndedAt = jobs.StatusInProgress, nil }), nil, 409, "CONFLICT", "once it has finished")
	refuse("export", h.retryable(tb, func(j *jobs.Job) { j.Type = jobs.TypeExport }), nil, 409, "CONFLICT", "only imports")
	refuse("clean", h.retryable(tb, func(j *jobs.Job) { j.Status, j.Counts.Failed, j.ErrorKey = jobs.StatusCompleted, 0, "" }), nil, 409, "CONFLICT", "no rejected rows")
	refuse("audio", h.retryable(tb, func(j *jobs.Job) { j.ObjectType = "audio-file" }), nil, 409, "CONFLICT", "new ZIP")
	refuse("failed early", h.retryable(tb, func(j *jobs.Job) {
		j.Status, j.ErrorKey, j.Message = jobs.StatusFailed, "", "the header has no Name column"
	}), nil, 409, "CONFLICT", "failed before any row was checked (the header has no Name column)")
	dryJob := h.retryable(tb, func(j *jobs.Job) { j.DryRun = true })
	refuse("dry run applied", dryJob, map[string]any{"dryRun": false}, 400, "INVALID_REQUEST", "its retry is a dry run too")
	refuse("unknown field", dryJob, map[string]any{"dry_run": true}, 400, "INVALID_REQUEST", "unknown field")
	var dr bulkapi.Retry
	if status, raw := h.call(tb, "POST", "/v1/jobs/"+dryJob.ID+"/retry", nil, &dr); status != 202 || !dr.DryRun {
		t.Fatalf("retry of a dry run: %d %s", status, raw)
	}
	// Another tenant's job is not found, and nothing of it is touched.
	other := h.retryable(tb, nil)
	status, raw = h.call(tenant, "POST", "/v1/jobs/"+other.ID+"/retry", nil, nil)
	problem(t, status, raw, http.StatusNotFound, "NOT_FOUND")
	if o, err := h.db.GetJob(ctx, tb, other.ID); err != nil || o.RetriedBy != "" {
		t.Fatalf("another tenant's job: %+v %v", o, err)
	}
	// While the tenant runs a bulk operation: 409 TENANT_BUSY with Retry-After.
	if l, err := h.db.AcquireLock(ctx, tb, "01JBUSYBUSYBUSYBUSYBUSYBUS", time.Minute); err != nil || !l.Acquired {
		t.Fatal(l, err)
	}
	status, hdr, raw = h.send(tb, "POST", "/v1/jobs/"+other.ID+"/retry", nil, nil, nil)
	if p := problem(t, status, raw, http.StatusConflict, "TENANT_BUSY"); p.ActiveJobID != "01JBUSYBUSYBUSYBUSYBUSYBUS" || hdr.Get("Retry-After") == "" {
		t.Fatalf("busy: %s %v", raw, hdr)
	}
	if status, _ := h.call("", "POST", "/v1/jobs/"+other.ID+"/retry", nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", status)
	}
}
