package cleanupapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportinvoke"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// End-to-end failure tests: each injects one failure that no Catch of the
// workflow can handle (or that the workflow handles itself, for a chunk),
// on a private mini stack (ministack_test.go) so that the shared stack's
// timeouts and limits stay as the template says. Each checks that the job
// ends final with the reason, the tenant lock is free, the counts are
// consistent, and measures how long after the failure the lock was freed
// (at most a minute, README "When a workflow dies"). The sweeper's schedule
// is off on the mini stacks: these are the event-driven paths alone.

// checkFinal checks a job that a failure ended: final, its message naming
// the failure (any of reasons, case-insensitive), the tenant free, and
// counts that add up.
func checkFinal(t *testing.T, db *dynamostore.Store, j jobs.Job, reasons ...string) {
	t.Helper()
	if !j.Status.Final() || j.EndedAt == nil {
		t.Errorf("job %s: %s, want final", j.ID, j.Status)
	}
	msg := strings.ToLower(j.Message)
	named := false
	for _, r := range reasons {
		named = named || strings.Contains(msg, strings.ToLower(r))
	}
	if !named {
		t.Errorf("job %s: reason %q names none of %q", j.ID, j.Message, reasons)
	}
	c := j.Counts
	if j.Type == jobs.TypeImport && c.Processed != c.Created+c.Updated+c.Unchanged+c.Failed {
		t.Errorf("job %s: processed %d != created+updated+unchanged+failed %+v", j.ID, c.Processed, c)
	}
	if c.Processed > c.Total && (j.Type == jobs.TypeImport || c.Total > 0) {
		t.Errorf("job %s: processed %d of %d", j.ID, c.Processed, c.Total)
	}
	if l, err := db.PeekLock(context.Background(), j.Tenant); err != nil || l.Holder != "" {
		t.Errorf("tenant %s still locked by %q (%v)", j.Tenant, l.Holder, err)
	}
}

func waitJobID(t *testing.T, db *dynamostore.Store, tenant, id string, within time.Duration, ok func(jobs.Job) bool) jobs.Job {
	t.Helper()
	var last jobs.Job
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		j, err := db.GetJob(context.Background(), tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		last = j
		if ok(j) {
			return j
		}
	}
	t.Fatalf("job %s did not get there within %s; last seen: %+v", id, within, last)
	return jobs.Job{}
}

func final(j jobs.Job) bool { return j.Status.Final() }

// seedWorkTypes writes n work-type objects of tenant straight into the
// objects table (BatchWriteItem of the store's own item layout).
func seedWorkTypes(t *testing.T, m *miniStack, tenant string, n int) {
	t.Helper()
	ctx := context.Background()
	table := m.ref("ObjectsTable")
	now := time.Now().UTC()
	for i := 0; i < n; i += 25 {
		var reqs []ddbtypes.WriteRequest
		for k := i; k < min(i+25, n); k++ {
			name := fmt.Sprintf("Code %06d", k)
			item, err := dynamostore.ObjectItem(tenant, catalog.Object{Type: "work-type", Key: strings.ToLower(name), ID: fmt.Sprintf("wt-%06d", k),
				Name: name, Fields: map[string]string{"name": name, "type": "IDLE_CODE"}, Version: 1, CreatedAt: now, UpdatedAt: now, JobID: "seed"})
			if err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: item}})
		}
		pending := map[string][]ddbtypes.WriteRequest{table: reqs}
		for len(pending) > 0 {
			out, err := m.shared.Clients.DynamoDB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				t.Fatal(err)
			}
			pending = out.UnprocessedItems
		}
	}
}

// TestExportOutOfRetriesFailsThroughOnFailure: the real ExportFunction,
// invoked asynchronously as the API and the dispatcher invoke it, runs
// past its Timeout on every attempt (the mini stack gives it 50 ms for a
// thousand objects). The local Lambda server stops each attempt's sandbox
// at the deadline (so, as on AWS, the export cannot mark its own job),
// retries it per the template's EventInvokeConfig (MaximumRetryAttempts
// 2), and then sends the OnFailure record through the Invoke API to
// JobCleanupFunction, which fails the job with the reason and frees the
// tenant.
func TestExportOutOfRetriesFailsThroughOnFailure(t *testing.T) {
	t.Parallel()
	m := startMini(t, miniOptions{FunctionTimeouts: "ExportFunction=50ms"})
	ctx := context.Background()
	tenant := "exp-retries-" + suffix()
	id := "E" + strings.ToUpper(suffix())
	seedWorkTypes(t, m, tenant, 1000)
	// What the API does for POST /v1/exports: the job, the tenant lock,
	// then the asynchronous invocation.
	if err := m.db.CreateJob(ctx, jobs.Job{Tenant: tenant, ID: id, Type: jobs.TypeExport, ObjectType: "work-type",
		FileName: "work-type.zip", Status: jobs.StatusNew, SubmittedBy: "test", SubmittedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if l, err := m.db.AcquireLock(ctx, tenant, id, 5*time.Minute); err != nil || !l.Acquired {
		t.Fatalf("lock %+v %v", l, err)
	}
	start := time.Now()
	starter := exportinvoke.Starter{Client: m.lambda, Function: m.ref("ExportFunction")}
	if err := starter.StartExport(ctx, exportflow.Request{Tenant: tenant, JobID: id, ObjectTypes: []string{"work-type"}}); err != nil {
		t.Fatal(err)
	}
	j := waitJobID(t, m.db, tenant, id, time.Minute, final)
	freed := lockFreedWithin(t, m.db, tenant, start)
	checkFinal(t, m.db, j, "ran out of time")
	if j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "after 3 attempts") {
		t.Errorf("job %s %q: want Failed after 3 attempts (1 + MaximumRetryAttempts 2)", j.Status, j.Message)
	}
	if n := m.logLines(t, `"function timed out"`, m.ref("ExportFunction")); n != 3 {
		t.Errorf("%d timed-out export attempts in the dev server's log, want 3", n)
	}
	if n := m.logLines(t, "rule matched"); n != 0 {
		t.Errorf("the cleanup came through a rule, not the OnFailure destination")
	}
	t.Logf("export job failed through OnFailure; tenant free %.2f s after the export was started (3 attempts of 50 ms, retries 0.6 s and 1.2 s apart at -async-scale 0.01)", freed.Seconds())
}

// TestChunkTimeoutFailsTheJob: the chunk Lambda runs past its Timeout
// (the mini stack gives ImportChunkFunction 50 ms for 500 rows) and the
// local Lambda server fails the invocation with Sandbox.Timedout. The ASL
// retries a timeout once, as designed; the second timeout reaches the
// Map's Catch, MarkFailed ends the job with the reason and the lock is
// released.
func TestChunkTimeoutFailsTheJob(t *testing.T) {
	t.Parallel()
	m := startMini(t, miniOptions{FunctionTimeouts: "ImportChunkFunction=50ms"})
	tenant := "chunk-timeout-" + suffix()
	key := "imports/" + tenant + "/work-type/slow.csv"
	at := m.Upload(t, key, workTypes(500)) // one chunk
	j := m.waitJob(t, tenant, key, time.Minute, final)
	freed := lockFreedWithin(t, m.db, tenant, at)
	checkFinal(t, m.db, j, "Sandbox.Timedout", "timed out", "time limit")
	// Count the chunk step's attempts only: on a loaded machine the
	// RecordChunkFailed step, served by the same function under the same
	// 50 ms timeout, may time out as well, which is not what is checked.
	if n := m.logLines(t, `"function timed out"`, m.ref("ImportChunkFunction"), `"step":"chunk"`); n != 2 {
		t.Errorf("%d timed-out chunk attempts in the dev server's log, want 2 (the ASL retries Sandbox.Timedout once)", n)
	}
	// Nothing of the timed-out attempts was committed after their
	// deadline: the counts stay as they are.
	time.Sleep(time.Second)
	after, err := m.db.GetJob(context.Background(), tenant, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkFinal(t, m.db, after, "Sandbox.Timedout", "timed out", "time limit")
	t.Logf("chunk timed out twice; job %s, tenant free %.2f s after the upload", j.Status, freed.Seconds())
}

// TestHistoryLimitFailsTheJob: an execution that reaches the history
// limit (the mini stack's Step Functions server allows 60 events; 25,000
// on AWS) in the middle of its chunks fails outside every Catch. The
// server sends the FAILED "Execution Status Change" event to the dev
// server's EventBridge, the template's rule invokes JobCleanupFunction,
// and it fails the job and frees the tenant.
func TestHistoryLimitFailsTheJob(t *testing.T) {
	t.Parallel()
	m := startMini(t, miniOptions{MaxHistory: 60, Env: []string{"BULKOPS_CHUNK_ROWS=10"}})
	ctx := context.Background()
	tenant := "history-" + suffix()
	key := "imports/" + tenant + "/work-type/many-chunks.csv"
	at := m.Upload(t, key, workTypes(400)) // 40 chunks: far more than 60 events
	j := m.waitJob(t, tenant, key, time.Minute, final)
	freed := lockFreedWithin(t, m.db, tenant, at)
	checkFinal(t, m.db, j, "States.Runtime")

	machine := m.ref("ImportStateMachine")
	list, err := m.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &machine})
	if err != nil || len(list.Executions) != 1 {
		t.Fatalf("executions: %+v %v", list, err)
	}
	d, err := m.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: list.Executions[0].ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "FAILED" || !strings.Contains(aws.ToString(d.Cause), "maximum number of events") {
		t.Fatalf("execution %s %q, want FAILED at the history limit", d.Status, aws.ToString(d.Cause))
	}
	if ev := busEvent(t, m.awsURL, aws.ToString(d.ExecutionArn), "FAILED"); ev == nil {
		t.Error("no FAILED status change event reached the dev server's EventBridge")
	}
	if n := m.logLines(t, "rule matched, function invoked", m.ref("JobCleanupFunction")); n < 1 {
		t.Error("the template's rule did not invoke the cleanup function")
	}
	// Chunks already running when the execution failed may still commit;
	// the counts stay consistent whatever they do.
	time.Sleep(2 * time.Second)
	after, err := m.db.GetJob(ctx, tenant, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkFinal(t, m.db, after, "States.Runtime")
	t.Logf("history limit: job failed by the cleanup rule, %d of %d rows processed; tenant free %.2f s after the upload",
		after.Counts.Processed, after.Counts.Total, freed.Seconds())
}

// TestTimedOutExecutionFailsItsJob runs the template's import state
// machine with its TimeoutSeconds cut to 6 and a wait inside the chunk
// Map, so the execution times out mid-chunk (TIMED_OUT). The mini stack's
// Step Functions server sends the status change to the dev server's
// EventBridge, whose rule (the template's ImportExecutionEnded) invokes
// the cleanup function, which fails the job and frees the tenant; the
// test only watches.
func TestTimedOutExecutionFailsItsJob(t *testing.T) {
	t.Parallel()
	m := startMini(t, miniOptions{EditASL: func(asl map[string]any) {
		asl["TimeoutSeconds"] = 6
		proc := asl["States"].(map[string]any)["ProcessChunks"].(map[string]any)["ItemProcessor"].(map[string]any)
		proc["States"].(map[string]any)["SlowChunk"] = map[string]any{"Type": "Wait", "Seconds": 120, "Next": proc["StartAt"]}
		proc["StartAt"] = "SlowChunk"
	}})
	tenant := "timeout-" + suffix()
	key := "imports/" + tenant + "/work-type/slow.csv"
	m.Upload(t, key, workTypes(30))
	// The job is In Progress (a chunk is waiting) when the time runs out.
	j := m.waitJob(t, tenant, key, 30*time.Second, func(j jobs.Job) bool { return j.Status == jobs.StatusInProgress })
	var exec string
	for deadline := time.Now().Add(30 * time.Second); exec == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the execution did not time out")
		}
		machine := m.ref("ImportStateMachine")
		list, err := m.sfn.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: &machine, StatusFilter: "TIMED_OUT"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Executions) == 1 {
			exec = aws.ToString(list.Executions[0].ExecutionArn)
		}
	}
	timedOut := time.Now()
	j = m.waitJob(t, tenant, key, time.Minute, final)
	freed := lockFreedWithin(t, m.db, tenant, timedOut)
	checkFinal(t, m.db, j, "time limit")
	if j.Status != jobs.StatusFailed {
		t.Errorf("job %s, want Failed", j.Status)
	}
	if ev := busEvent(t, m.awsURL, exec, "TIMED_OUT"); ev == nil {
		t.Error("no TIMED_OUT status change event reached the dev server's EventBridge")
	}
	if n := m.logLines(t, "rule matched, function invoked", m.ref("JobCleanupFunction")); n < 1 {
		t.Error("the template's rule did not invoke the cleanup function")
	}
	t.Logf("execution timed out; job failed by the cleanup rule, tenant free %.2f s after the timeout was seen", freed.Seconds())
}

// busEvent returns the Step Functions status change event of exec with
// status that the EventBridge at base (a dev server) received, or nil.
func busEvent(t *testing.T, base, exec, status string) json.RawMessage {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(base, "/") + "/_local/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var all []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatal(err)
	}
	for _, raw := range all {
		var ev struct {
			DetailType string `json:"detail-type"`
			Source     string `json:"source"`
			Detail     struct {
				ExecutionArn string `json:"executionArn"`
				Status       string `json:"status"`
			} `json:"detail"`
		}
		if json.Unmarshal(raw, &ev) == nil && ev.Source == "aws.states" && ev.DetailType == "Step Functions Execution Status Change" &&
			ev.Detail.ExecutionArn == exec && ev.Detail.Status == status {
			return raw
		}
	}
	return nil
}

// TestSweeperLeavesARunningExecutionAlone: an import whose execution still
// runs (here a chunk waits; in production a Prepare longer than the lease)
// but whose lease ran out long ago is left alone by the sweeper, which
// asks the Step Functions server (ListExecutions, the execution's
// history) before failing anything; a job whose execution is gone is
// failed. The sweeper runs as deployed: JobCleanupFunction invoked through
// the Lambda Invoke API with a "Scheduled Event", its environment from
// the template.
func TestSweeperLeavesARunningExecutionAlone(t *testing.T) {
	t.Parallel()
	m := startMini(t, miniOptions{EditASL: func(asl map[string]any) {
		proc := asl["States"].(map[string]any)["ProcessChunks"].(map[string]any)["ItemProcessor"].(map[string]any)
		proc["States"].(map[string]any)["SlowChunk"] = map[string]any{"Type": "Wait", "Seconds": 300, "Next": proc["StartAt"]}
		proc["StartAt"] = "SlowChunk"
	}})
	ctx := context.Background()
	slow := "sweep-running-" + suffix()
	key := "imports/" + slow + "/work-type/slow.csv"
	m.Upload(t, key, workTypes(30))
	running := m.waitJob(t, slow, key, 30*time.Second, func(j jobs.Job) bool { return j.Status == jobs.StatusInProgress })

	// A dead import: In Progress, holding its tenant's lock, no execution.
	dead, deadID := "sweep-dead-"+suffix(), "D"+strings.ToUpper(suffix())
	if err := m.db.CreateJob(ctx, jobs.Job{Tenant: dead, ID: deadID, Type: jobs.TypeImport, ObjectType: "work-type", Status: jobs.StatusNew, SubmittedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if l, err := m.db.AcquireLock(ctx, dead, deadID, 5*time.Minute); err != nil || !l.Acquired {
		t.Fatalf("lock %+v %v", l, err)
	}
	if err := m.db.MarkInProgress(ctx, dead, deadID, 10, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	// Both leases ended ten minutes ago (far past the 60 s grace).
	for _, tenant := range []string{slow, dead} {
		_, err := m.shared.Clients.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(m.ref("ControlTable")),
			Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "LOCK#" + tenant},
				"sk": &ddbtypes.AttributeValueMemberS{Value: "LOCK"}},
			UpdateExpression: aws.String("SET leaseUntil = :t"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
				":t": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(time.Now().Add(-10 * time.Minute).UnixMilli())}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tick, _ := json.Marshal(map[string]any{"version": "0", "id": suffix(), "detail-type": "Scheduled Event", "source": "aws.events",
		"account": "000000000000", "time": time.Now().UTC().Format(time.RFC3339), "region": "us-east-1",
		"resources": []string{"arn:aws:events:us-east-1:000000000000:rule/sweep"}, "detail": map[string]any{}})
	fn := m.ref("JobCleanupFunction")
	out, err := m.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: &fn, Payload: tick})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("sweep: %v %s", err, out.Payload)
	}
	var res struct {
		Failed  []string `json:"failed"`
		Running []string `json:"running"`
	}
	if err := json.Unmarshal(out.Payload, &res); err != nil {
		t.Fatalf("sweep result %s: %v", out.Payload, err)
	}
	if strings.Join(res.Failed, ",") != dead+"/"+deadID || strings.Join(res.Running, ",") != slow+"/"+running.ID {
		t.Fatalf("sweep result %s: want %s failed and %s/%s left running", out.Payload, dead+"/"+deadID, slow, running.ID)
	}
	if j, err := m.db.GetJob(ctx, slow, running.ID); err != nil || j.Status != jobs.StatusInProgress {
		t.Errorf("the running import was swept: %s %q (%v)", j.Status, j.Message, err)
	}
	if h := m.lockItemHolder(t, slow); h != running.ID {
		t.Errorf("the running import's lock item names %q", h)
	}
	j, err := m.db.GetJob(ctx, dead, deadID)
	if err != nil {
		t.Fatal(err)
	}
	checkFinal(t, m.db, j, "not renewed")
	if h := m.lockItemHolder(t, dead); h != "" {
		t.Errorf("the dead import's lock item is still there (holder %q)", h)
	}
}

// lockItemHolder is the holder named by tenant's lock item, or "" when
// there is none (PeekLock also says "" for an expired lease).
func (m *miniStack) lockItemHolder(t *testing.T, tenant string) string {
	t.Helper()
	out, err := m.shared.Clients.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(m.ref("ControlTable")), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "LOCK#" + tenant},
			"sk": &ddbtypes.AttributeValueMemberS{Value: "LOCK"}}})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := out.Item["holder"].(*ddbtypes.AttributeValueMemberS)
	if h == nil {
		return ""
	}
	return h.Value
}
