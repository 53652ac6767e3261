package cleanupapp_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/httpapi/openapitest"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// cancelJob posts the cancel of job id through the mini stack's API
// (API Gateway play, JWT authorizer, ApiFunction), validating the answer
// against openapi.json, and returns the status and the job it answers.
func (m *miniStack) cancelJob(t *testing.T, tenant, id string) (int, map[string]any) {
	t.Helper()
	ks, err := authn.LoadOrCreateKeySet(m.jwtKey)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := authn.LocalToken(ks, m.awsURL+"/oidc", tenant, "admin@"+tenant+".example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", m.apiURL+"/v1/jobs/"+id+"/cancel", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := openapitest.Client(t, m.apiURL).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	return resp.StatusCode, doc
}

// report reads a CSV report of the mini stack's bucket.
func (m *miniStack) report(t *testing.T, key string) [][]string {
	t.Helper()
	bucket := m.ref("DataBucket")
	out, err := m.shared.Clients.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	defer out.Body.Close()
	raw, _ := io.ReadAll(out.Body)
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\xEF\xBB\xBF")))).ReadAll()
	if err != nil {
		t.Fatalf("parsing %s: %v", key, err)
	}
	return rows[1:]
}

// executionStatus waits until the execution has ended and returns its
// status.
func (m *miniStack) executionStatus(t *testing.T, arn string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := m.sfn.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != "RUNNING" || time.Now().After(deadline) {
			return string(out.Status)
		}
	}
}

// objectsOf counts the tenant's work types among the first n generated.
func (m *miniStack) objectsOf(t *testing.T, tenant string, n int) int {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("code %06d", i)
	}
	got, err := m.db.Objects(tenant).GetObjects(context.Background(), "work-type", keys)
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

// TestCancelThroughTheAPI runs imports on the real interpreter (chunks of
// 10 rows, one at a time, so an import of 300 rows takes a few seconds)
// and cancels them through the API:
//
//   - mid-chunks: the answer is the job Cancelled; the tenant lock is free
//     when it comes; the execution is ABORTED (StopExecution) and the
//     cleanup function, which the ABORTED event invokes, leaves the job as
//     it is; counts agree with the reports and with the objects written,
//     and nothing changes afterwards (no late chunk adds counts);
//   - waiting for the lock (another job holds the tenant): Cancelled with
//     nothing read, the execution ABORTED, the holder's lock untouched;
//   - a job that has ended: 409.
func TestCancelThroughTheAPI(t *testing.T) {
	t.Parallel()
	m := startMini(t, miniOptions{Env: []string{"BULKOPS_CHUNK_ROWS=10"}, Params: "ChunkConcurrency=1"})
	ctx := context.Background()

	t.Run("mid-chunks", func(t *testing.T) {
		tenant := "cancel-mid-" + suffix()
		key := "imports/" + tenant + "/work-type/big.csv"
		m.Upload(t, key, workTypes(300))
		j := m.waitJob(t, tenant, key, time.Minute, func(j jobs.Job) bool {
			return j.Status == jobs.StatusInProgress && j.Counts.Processed >= 30 || j.Status.Final()
		})
		if j.Status.Final() || j.ExecutionArn == "" {
			t.Fatalf("job %s (execution %q) before the cancel: the import ran too fast to cancel", j.Status, j.ExecutionArn)
		}
		status, doc := m.cancelJob(t, tenant, j.ID)
		if l, err := m.db.PeekLock(ctx, tenant); err != nil || l.Holder != "" {
			t.Fatalf("lock right after the cancel: %+v %v", l, err)
		}
		if status != http.StatusOK || doc["status"] != "Cancelled" || doc["cancelledBy"] != "admin@"+tenant+".example" {
			t.Fatalf("cancel: %d %v", status, doc)
		}
		if s := m.executionStatus(t, j.ExecutionArn); s != "ABORTED" {
			t.Fatalf("execution %s, want ABORTED", s)
		}
		// The ABORTED event reaches the cleanup function through the
		// template's rule; give it and any late chunk time to act.
		time.Sleep(3 * time.Second)
		got, err := m.db.GetJob(ctx, tenant, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		c := got.Counts
		if got.Status != jobs.StatusCancelled || c.Total != 300 || c.Processed != 300 || c.Created == 0 || c.Created >= 300 || c.Created+c.Failed != 300 {
			t.Fatalf("job after the cancel: %s %+v %q", got.Status, c, got.Message)
		}
		if int(doc["counts"].(map[string]any)["created"].(float64)) != c.Created {
			t.Fatalf("counts changed after the cancel answered: %v, now %+v", doc["counts"], c)
		}
		res, errs := m.report(t, got.ResultsKey), m.report(t, got.ErrorKey)
		if len(res) != c.Created || len(errs) != c.Failed {
			t.Fatalf("reports: %d results, %d errors; counts %+v", len(res), len(errs), c)
		}
		for _, r := range errs {
			if r[4] != "NOT_PROCESSED" || !strings.HasPrefix(r[5], "not processed: cancelled by admin@"+tenant+".example") {
				t.Fatalf("error row %v", r)
			}
		}
		if n := m.objectsOf(t, tenant, 300); n != c.Created {
			t.Fatalf("%d objects written, the job says %d created", n, c.Created)
		}
		t.Logf("cancelled after %d of 300 rows: %d created, %d not processed", c.Created, c.Created, c.Failed)

		// Cancelling it again: it has ended.
		if status, doc := m.cancelJob(t, tenant, j.ID); status != http.StatusConflict || doc["code"] != "CONFLICT" {
			t.Fatalf("second cancel: %d %v", status, doc)
		}
	})

	t.Run("waiting for the lock", func(t *testing.T) {
		tenant := "cancel-wait-" + suffix()
		const holder = "01HOLDERHOLDERHOLDERHOLDER"
		if l, err := m.db.AcquireLock(ctx, tenant, holder, 5*time.Minute); err != nil || !l.Acquired {
			t.Fatal(l, err)
		}
		key := "imports/" + tenant + "/work-type/waiting.csv"
		m.Upload(t, key, workTypes(20))
		j := m.waitJob(t, tenant, key, time.Minute, func(j jobs.Job) bool { return j.ExecutionArn != "" })
		time.Sleep(500 * time.Millisecond) // in its Wait state
		status, doc := m.cancelJob(t, tenant, j.ID)
		if status != http.StatusOK || doc["status"] != "Cancelled" {
			t.Fatalf("cancel: %d %v", status, doc)
		}
		if s := m.executionStatus(t, j.ExecutionArn); s != "ABORTED" {
			t.Fatalf("execution %s, want ABORTED", s)
		}
		got, err := m.db.GetJob(ctx, tenant, j.ID)
		if err != nil || got.Status != jobs.StatusCancelled || got.Counts != (jobs.Counts{}) || got.ErrorKey != "" {
			t.Fatalf("job %+v %v", got, err)
		}
		if l, err := m.db.PeekLock(ctx, tenant); err != nil || l.Holder != holder {
			t.Fatalf("the other job's lock: %+v %v", l, err)
		}
	})
}

// TestOneChunkOfFiveFailsThroughTheMapsCatch drives the ProcessChunks
// Map's Catch (RecordChunkFailed) on the real interpreter: 20 rows in
// five chunks of 4, where the third chunk fails for good. Its stored
// decisions are not JSON (planted before the upload, at the job ID the
// upload's registered grant gives the job), which ProcessChunk reports as
// Bulk.Internal: the ASL does not retry it, the item's Catch records the
// chunk as failed and the other chunks go on. The job ends Completed with
// errors with exact counts, the chunk's 4 rows NOT_PROCESSED in the error
// CSV and the 16 others applied.
func TestOneChunkOfFiveFailsThroughTheMapsCatch(t *testing.T) {
	t.Parallel()
	m := startMini(t, miniOptions{Env: []string{"BULKOPS_CHUNK_ROWS=4"}})
	ctx := context.Background()
	tenant := "map-catch-" + suffix()
	key := "imports/" + tenant + "/work-type/five.csv"
	const jobID = "01MAPCATCHMAPCATCHMAPCATCH"
	if err := m.db.RegisterUpload(ctx, jobs.UploadGrant{Tenant: tenant, JobID: jobID, Key: key, SubmittedBy: "ops@" + tenant + ".example"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	bucket := m.ref("DataBucket")
	bad := "results/" + tenant + "/" + jobID + "/chunks/000002.json"
	if _, err := m.shared.Clients.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &bad, Body: strings.NewReader("not json")}); err != nil {
		t.Fatal(err)
	}
	m.UploadMeta(t, key, workTypes(20), map[string]string{importflow.MetaJobID: jobID})
	j := m.waitJob(t, tenant, key, time.Minute, final)
	want := jobs.Counts{Total: 20, Processed: 20, Created: 16, Failed: 4}
	if j.ID != jobID || j.Status != jobs.StatusCompletedWithErrs || j.Counts != want {
		t.Fatalf("job %s: %s %+v %q, want Completed with errors %+v", j.ID, j.Status, j.Counts, j.Message, want)
	}
	if !strings.Contains(j.Message, "1 of 5 chunks (4 rows) was not processed") || !strings.Contains(j.Message, "chunk 3 (4 rows from row 10)") {
		t.Fatalf("message %q", j.Message)
	}
	errs := m.report(t, j.ErrorKey)
	if len(errs) != 4 {
		t.Fatalf("error CSV: %v", errs)
	}
	for i, r := range errs {
		if r[0] != fmt.Sprintf("Code %06d", 8+i) || r[3] != fmt.Sprint(10+i) || r[4] != "NOT_PROCESSED" || !strings.HasPrefix(r[5], "not processed: ") {
			t.Errorf("error row %d: %v", i, r)
		}
	}
	if res := m.report(t, j.ResultsKey); len(res) != 16 {
		t.Fatalf("results CSV has %d rows, want 16", len(res))
	}
	if n := m.objectsOf(t, tenant, 20); n != 16 {
		t.Fatalf("%d objects, want 16", n)
	}
	if l, err := m.db.PeekLock(ctx, tenant); err != nil || l.Holder != "" {
		t.Fatalf("lock still held by %s (%v)", l.Holder, err)
	}
	// The chunk went through the Catch once (RecordChunkFailed's log line).
	if n := m.logLines(t, "chunk failed for good", jobID); n != 1 {
		t.Errorf("%d chunks recorded as failed in the dev server's log, want 1", n)
	}
}
