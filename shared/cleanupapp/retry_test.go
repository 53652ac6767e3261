package cleanupapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/httpapi/openapitest"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// finishedWithErrors stores a Completed-with-errors work-type import of
// tenant: its source (rows 2-4), an error CSV listing rows 2 and 4 (or,
// with onlyDuplicates, row 4 as DUPLICATE_KEY only) and a results CSV
// listing row 3.
func (m *miniStack) finishedWithErrors(t *testing.T, tenant string, onlyDuplicates bool) jobs.Job {
	t.Helper()
	ctx := context.Background()
	bucket := m.ref("DataBucket")
	id := "01R" + strings.ToUpper(suffix())
	for len(id) < 26 {
		id += "0"
	}
	key := "imports/" + tenant + "/work-type/codes.csv"
	out, err := m.shared.Clients.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key,
		Body: strings.NewReader("Name,Description,Type\r\nRetried 1,=1+2,IDLE_CODE\r\nApplied,x,IDLE_CODE\r\nRetried 2,@home,IDLE_CODE\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	j := jobs.Job{Tenant: tenant, ID: id, Type: jobs.TypeImport, ObjectType: "work-type", FileName: "codes.csv", Status: jobs.StatusCompletedWithErrs,
		Bucket: bucket, SourceKey: key, SourceVersion: aws.ToString(out.VersionId), SubmittedBy: "admin@" + tenant + ".example",
		SubmittedAt: now, StartedAt: &now, EndedAt: &now, Counts: jobs.Counts{Total: 3, Processed: 3, Created: 1, Failed: 2},
		ErrorKey: "results/" + tenant + "/" + id + "/errors.csv", ResultsKey: "results/" + tenant + "/" + id + "/results.csv"}
	if err := m.db.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	errs := "\xEF\xBB\xBFName,Description,Type,Row,Error Code,Error Message\r\n" +
		"Retried 1,'=1+2,IDLE_CODE,2,UNKNOWN_REFERENCE,x\r\nRetried 2,'@home,IDLE_CODE,4,CONFLICTING_FIELDS,y\r\n"
	if onlyDuplicates {
		errs = "\xEF\xBB\xBFName,Description,Type,Row,Error Code,Error Message\r\nApplied,dup,IDLE_CODE,4,DUPLICATE_KEY,z\r\n"
	}
	for k, body := range map[string]string{j.ErrorKey: errs, j.ResultsKey: "\xEF\xBB\xBFRow,Key,Object ID,Action\r\n3,applied,o1,created\r\n"} {
		if _, err := m.shared.Clients.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(k), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

// api sends a request as tenant through the mini stack's API (API Gateway
// play, JWT authorizer, ApiFunction), validating the answer against
// openapi.json, and decodes it into out; it returns the status, the raw
// answer and how long the answer took.
func (m *miniStack) api(t *testing.T, tenant, method, path string, body, out any) (int, []byte, time.Duration) {
	t.Helper()
	ks, err := authn.LoadOrCreateKeySet(m.jwtKey)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := authn.LocalToken(ks, m.awsURL+"/oidc", tenant, "admin@"+tenant+".example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, m.apiURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := openapitest.Client(t, m.apiURL).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, raw, took
}

// setLatency makes every invocation of the template function id start d
// late (the dev server's POST /_local/lambda/latency), inside its timeout.
func (m *miniStack) setLatency(t *testing.T, id string, d time.Duration) {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("%s/_local/lambda/latency?function=%s&delay=%s", m.awsURL, id, d), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("setting the latency of %s: %d", id, resp.StatusCode)
	}
}

// announce tells the dev server of an object already written (the
// retry function's PutObject), the way MinIO's webhook does for the
// shared stack.
func (m *miniStack) announce(t *testing.T, key string, within time.Duration) {
	t.Helper()
	bucket := m.ref("DataBucket")
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		head, err := m.shared.Clients.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
		if err == nil {
			m.notify(t, key, aws.ToString(head.ETag), aws.ToString(head.VersionId), aws.ToInt64(head.ContentLength))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written within %s: %v", key, within, err)
		}
	}
}

// TestRetryFunction: POST /v1/jobs/{id}/retry on a mini stack, whose
// ImportRetryFunction runs under a 5-second Timeout, invoked by the real
// API through the Lambda Invoke API (InvocationType Event) with the
// template's EventInvokeConfig.
//
//   - The answer comes before the file is built: with the function
//     delayed 3 s, the API answers 202 at once, GET /v1/jobs/{jobId} is
//     200 New "building the retry file", and the file does not exist yet;
//     once written, its import (StartJob adopting the recorded job) ends
//     the same job Completed with the 2 rejected rows created.
//   - A refusal known only from the reports (every rejected row a
//     duplicate) ends the new job Failed with the sentence, and releases
//     the old job's claim: a second retry is accepted.
//   - A build that times out on every attempt (delayed past its Timeout)
//     reaches the OnFailure destination, JobCleanupFunction, which fails
//     the job with the reason and releases the claim.
func TestRetryFunction(t *testing.T) {
	t.Parallel()
	m := startMini(t, miniOptions{FunctionTimeouts: "ImportRetryFunction=5s"})
	ctx := context.Background()
	tenant := "retry-fn-" + suffix()

	// 1. The answer before the file.
	old := m.finishedWithErrors(t, tenant, false)
	m.setLatency(t, "ImportRetryFunction", 3*time.Second)
	var r bulkapi.Retry
	status, raw, took := m.api(t, tenant, "POST", "/v1/jobs/"+old.ID+"/retry", nil, &r)
	if status != http.StatusAccepted || r.RetryOf != old.ID || r.Status != "New" || r.Key != "imports/"+tenant+"/work-type/codes-retry.csv" {
		t.Fatalf("retry: %d %s", status, raw)
	}
	var view bulkapi.Job
	if status, raw, _ := m.api(t, tenant, "GET", "/v1/jobs/"+r.JobID, nil, &view); status != 200 || view.Status != "New" ||
		view.RetryOf != old.ID || !strings.HasPrefix(view.Message, "building the retry file") {
		t.Fatalf("the new job right after the answer: %d %s", status, raw)
	}
	bucket := m.ref("DataBucket")
	if _, err := m.shared.Clients.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &r.Key}); err == nil {
		t.Fatalf("the retry file exists before the delayed function ran (the answer took %s)", took)
	}
	m.announce(t, r.Key, 30*time.Second)
	j := waitJobID(t, m.db, tenant, r.JobID, time.Minute, final)
	if j.Status != jobs.StatusCompleted || j.Counts.Created != 2 || j.Counts.Total != 2 || j.Message != "" || j.RetryOf != old.ID {
		t.Fatalf("retry job: %s %+v %q", j.Status, j.Counts, j.Message)
	}
	if o, err := m.db.GetJob(ctx, tenant, old.ID); err != nil || o.RetriedBy != r.JobID {
		t.Fatalf("old job: %+v %v", o, err)
	}
	t.Logf("202 after %s with the build delayed 3 s; the retry job ended %s (%d created)", took.Round(time.Millisecond), j.Status, j.Counts.Created)
	m.setLatency(t, "ImportRetryFunction", 0)

	// 2. A refusal known from the reports.
	dups := m.finishedWithErrors(t, tenant, true)
	if status, raw, _ := m.api(t, tenant, "POST", "/v1/jobs/"+dups.ID+"/retry", nil, &r); status != http.StatusAccepted {
		t.Fatalf("retry of duplicates: %d %s", status, raw)
	}
	j = waitJobID(t, m.db, tenant, r.JobID, time.Minute, final)
	if j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "its 1 rejected rows repeat the key of an earlier row (DUPLICATE_KEY)") {
		t.Fatalf("refused retry: %s %q", j.Status, j.Message)
	}
	waitJobID(t, m.db, tenant, dups.ID, 10*time.Second, func(o jobs.Job) bool { return o.RetriedBy == "" })
	var again bulkapi.Retry
	if status, raw, _ := m.api(t, tenant, "POST", "/v1/jobs/"+dups.ID+"/retry", nil, &again); status != http.StatusAccepted || again.JobID == r.JobID {
		t.Fatalf("retry after a refusal: %d %s", status, raw)
	}
	waitJobID(t, m.db, tenant, again.JobID, time.Minute, final)

	// 3. Out of time on every attempt: the OnFailure record.
	slow := m.finishedWithErrors(t, tenant, false)
	m.setLatency(t, "ImportRetryFunction", 6*time.Second)
	start := time.Now()
	if status, raw, _ := m.api(t, tenant, "POST", "/v1/jobs/"+slow.ID+"/retry", nil, &r); status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", status, raw)
	}
	j = waitJobID(t, m.db, tenant, r.JobID, 2*time.Minute, final)
	if j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "the build of the retry file failed after 3 attempts: it ran out of time") {
		t.Fatalf("timed-out retry: %s %q", j.Status, j.Message)
	}
	if o, err := m.db.GetJob(ctx, tenant, slow.ID); err != nil || o.RetriedBy != "" {
		t.Fatalf("the claim of the failed build was not released: %+v %v", o, err)
	}
	if n := m.logLines(t, `"function timed out"`, m.ref("ImportRetryFunction")); n != 3 {
		t.Errorf("%d timed-out build attempts in the dev server's log, want 3", n)
	}
	t.Logf("build out of time on 3 attempts: job Failed, claim released %.1f s after the retry was asked for", time.Since(start).Seconds())
}
