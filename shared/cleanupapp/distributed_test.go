package cleanupapp_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// object reads an object of the mini stack's bucket.
func (m *miniStack) object(t *testing.T, key string) []byte {
	t.Helper()
	bucket := m.ref("DataBucket")
	out, err := m.shared.Clients.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	defer out.Body.Close()
	raw, _ := io.ReadAll(out.Body)
	return raw
}

// historyTypes are the event types of an execution's history.
func (m *miniStack) historyTypes(t *testing.T, arn string) map[string]int {
	t.Helper()
	got := map[string]int{}
	p := sfn.NewGetExecutionHistoryPaginator(m.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			got[string(e.Type)]++
		}
	}
	return got
}

// TestLargeFileRunsInTheDistributedMap imports through the template's
// state machine on the local interpreter (the deployed
// statemachines/import.asl.json, its Distributed Map run by
// infra/local/sfn/distributed.mjs against MinIO), with the threshold
// lowered to 3 chunks (BULKOPS_DISTRIBUTED_MAP_CHUNKS) and chunks of 10
// rows:
//
//   - 95 rows (10 chunks) take the Distributed Map: Prepare writes the
//     chunk list to results/<tenant>/<job>/chunks.json, each chunk runs as
//     a child execution (2 at once: DistributedMapConcurrency), one chunk
//     fails for good and goes through the child's Catch
//     (RecordChunkFailedInChild) like the inline Map's; the job ends
//     Completed with errors with exact counts and reports; the
//     ResultWriter's manifest and results files are in S3 under
//     results/<tenant>/<job>/map/; the parent's history has the Map Run's
//     events and no iteration events;
//   - 25 rows (3 chunks) take the inline Map as before.
func TestLargeFileRunsInTheDistributedMap(t *testing.T) {
	t.Parallel()
	m := startMini(t, miniOptions{Env: []string{"BULKOPS_CHUNK_ROWS=10", "BULKOPS_DISTRIBUTED_MAP_CHUNKS=3"}, Params: "DistributedMapConcurrency=2"})
	ctx := context.Background()

	t.Run("distributed", func(t *testing.T) {
		tenant := "dist-map-" + suffix()
		key := "imports/" + tenant + "/work-type/large.csv"
		const jobID = "01DISTMAPDISTMAPDISTMAPDIS"
		if err := m.db.RegisterUpload(ctx, jobs.UploadGrant{Tenant: tenant, JobID: jobID, Key: key, SubmittedBy: "ops@" + tenant + ".example"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		// The eighth chunk's stored decisions are not JSON: Bulk.Internal,
		// not retried, caught in its child execution.
		bucket := m.ref("DataBucket")
		bad := "results/" + tenant + "/" + jobID + "/chunks/000007.json"
		if _, err := m.shared.Clients.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &bad, Body: strings.NewReader("not json")}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		m.UploadMeta(t, key, workTypes(95), map[string]string{importflow.MetaJobID: jobID})
		j := m.waitJob(t, tenant, key, 3*time.Minute, final)
		want := jobs.Counts{Total: 95, Processed: 95, Created: 85, Failed: 10}
		if j.ID != jobID || j.Status != jobs.StatusCompletedWithErrs || j.Counts != want {
			t.Fatalf("job %s: %s %+v %q, want Completed with errors %+v", j.ID, j.Status, j.Counts, j.Message, want)
		}
		if !strings.Contains(j.Message, "1 of 10 chunks (10 rows) was not processed") || !strings.Contains(j.Message, "chunk 8 (10 rows from row 72)") {
			t.Fatalf("message %q", j.Message)
		}
		if res, errs := m.report(t, j.ResultsKey), m.report(t, j.ErrorKey); len(res) != 85 || len(errs) != 10 {
			t.Fatalf("reports: %d results, %d errors", len(res), len(errs))
		}
		if n := m.objectsOf(t, tenant, 95); n != 85 {
			t.Fatalf("%d objects, want 85", n)
		}
		if n := m.logLines(t, "chunk failed for good", jobID); n != 1 {
			t.Errorf("%d chunks recorded as failed, want 1", n)
		}

		// The item source Prepare wrote.
		var list []importflow.ChunkRef
		if err := json.Unmarshal(m.object(t, importflow.ChunkListKey(tenant, jobID)), &list); err != nil || len(list) != 10 {
			t.Fatalf("chunks.json: %d chunks, %v", len(list), err)
		}
		for i, c := range list {
			if c.Index != i || c.FirstRow != 2+10*i || (c.Rows != 10 && i < 9) {
				t.Fatalf("chunk %d: %+v", i, c)
			}
		}
		// The parent's history and its Map Run.
		if s := m.executionStatus(t, j.ExecutionArn); s != "SUCCEEDED" {
			t.Fatalf("execution %s", s)
		}
		h := m.historyTypes(t, j.ExecutionArn)
		if h["MapStateEntered"] != 1 || h["MapRunStarted"] != 1 || h["MapRunSucceeded"] != 1 || h["MapIterationStarted"] != 0 {
			t.Fatalf("parent history: %v", h)
		}
		runs, err := m.sfn.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(j.ExecutionArn)})
		if err != nil || len(runs.MapRuns) != 1 {
			t.Fatalf("map runs %+v %v", runs, err)
		}
		run, err := m.sfn.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: runs.MapRuns[0].MapRunArn})
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != "SUCCEEDED" || run.MaxConcurrency != 2 || run.ItemCounts.Total != 10 || run.ItemCounts.Succeeded != 10 || run.ItemCounts.ResultsWritten != 10 {
			t.Fatalf("map run %s, max %d, counts %+v", run.Status, run.MaxConcurrency, *run.ItemCounts)
		}
		kids, err := m.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: runs.MapRuns[0].MapRunArn})
		if err != nil || len(kids.Executions) != 10 {
			t.Fatalf("child executions %v %v", kids, err)
		}
		// ResultWriter's files.
		runID := (*runs.MapRuns[0].MapRunArn)[strings.LastIndex(*runs.MapRuns[0].MapRunArn, ":")+1:]
		var manifest struct {
			DestinationBucket string
			MapRunArn         string
			ResultFiles       map[string][]struct {
				Key  string
				Size int
			}
		}
		if err := json.Unmarshal(m.object(t, importflow.MapResultsPrefix(tenant, jobID)+"/"+runID+"/manifest.json"), &manifest); err != nil {
			t.Fatal(err)
		}
		if manifest.DestinationBucket != bucket || manifest.MapRunArn != *runs.MapRuns[0].MapRunArn || len(manifest.ResultFiles["SUCCEEDED"]) != 1 || len(manifest.ResultFiles["FAILED"]) != 0 {
			t.Fatalf("manifest %+v", manifest)
		}
		var results []struct {
			Status, Input, Output string
		}
		if err := json.Unmarshal(m.object(t, manifest.ResultFiles["SUCCEEDED"][0].Key), &results); err != nil || len(results) != 10 {
			t.Fatalf("results: %d, %v", len(results), err)
		}
		for _, r := range results {
			var in importflow.Request
			if err := json.Unmarshal([]byte(r.Input), &in); err != nil || in.Step != "chunk" || in.Chunk == nil || in.Job == nil || in.Job.JobID != jobID {
				t.Fatalf("a child's input %s: %v", r.Input, err)
			}
		}
		t.Logf("95 rows in 10 chunks through the Distributed Map (2 children at once, one chunk failed for good): %s", time.Since(start).Round(time.Millisecond))
	})

	t.Run("inline", func(t *testing.T) {
		tenant := "inline-map-" + suffix()
		key := "imports/" + tenant + "/work-type/small.csv"
		m.Upload(t, key, workTypes(25))
		j := m.waitJob(t, tenant, key, time.Minute, final)
		if j.Status != jobs.StatusCompleted || j.Counts.Created != 25 {
			t.Fatalf("job %s %+v %q", j.Status, j.Counts, j.Message)
		}
		if s := m.executionStatus(t, j.ExecutionArn); s != "SUCCEEDED" {
			t.Fatalf("execution %s", s)
		}
		h := m.historyTypes(t, j.ExecutionArn)
		if h["MapIterationStarted"] != 3 || h["MapRunStarted"] != 0 {
			t.Fatalf("history: %v", h)
		}
		bucket := m.ref("DataBucket")
		list := importflow.ChunkListKey(tenant, j.ID)
		if _, err := m.shared.Clients.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &list}); err == nil {
			t.Fatalf("an inline plan wrote %s", list)
		}
	})
}
