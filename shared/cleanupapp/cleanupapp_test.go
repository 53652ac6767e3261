package cleanupapp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/cleanupapp"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/jobs"
)

func quiet() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func suffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func tablesOf(st *localtest.Stack) dynamostore.Tables {
	return dynamostore.Tables{Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable")}
}

// TestSweeperOnDynamoDBLocal: a job whose lock lease ran out is found
// through the sparse leases index and failed, with its lock released; a
// job with a live lease and a job within the grace are left alone.
func TestSweeperOnDynamoDBLocal(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	ctx := context.Background()
	now := time.Now()
	past := dynamostore.New(st.Clients.DynamoDB, tablesOf(st), func() time.Time { return now.Add(-10 * time.Minute) })
	db := dynamostore.New(st.Clients.DynamoDB, tablesOf(st), func() time.Time { return now })
	start := func(store *dynamostore.Store, tenant, id string, lease time.Duration) {
		t.Helper()
		if err := store.CreateJob(ctx, jobs.Job{Tenant: tenant, ID: id, Type: jobs.TypeImport, Status: jobs.StatusNew, SubmittedAt: now}); err != nil {
			t.Fatal(err)
		}
		if l, err := store.AcquireLock(ctx, tenant, id, lease); err != nil || !l.Acquired {
			t.Fatalf("lock: %+v %v", l, err)
		}
		if err := store.MarkInProgress(ctx, tenant, id, 10, 1, now); err != nil {
			t.Fatal(err)
		}
	}
	start(past, "dead", "J1", time.Minute)         // lease ended 9 minutes ago
	start(db, "alive", "J2", 5*time.Minute)        // lease ends in 5 minutes
	start(past, "grace", "J3", 9*time.Minute+30e9) // ended 30 s ago: within the grace

	c := cleanupapp.Assemble(db, nil, quiet())
	c.Now = func() time.Time { return now }
	res, err := c.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Failed, ",") != "dead/J1" {
		t.Fatalf("sweep: %+v", res)
	}
	j, err := db.GetJob(ctx, "dead", "J1")
	if err != nil || j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "not renewed") || j.EndedAt == nil {
		t.Fatalf("dead job: %+v %v", j, err)
	}
	if l, err := db.PeekLock(ctx, "dead"); err != nil || l.Holder != "" {
		t.Errorf("dead tenant still locked by %s (%v)", l.Holder, err)
	}
	out, err := st.Clients.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.Ref("ControlTable")),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "LOCK#dead"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "LOCK"}}})
	if err != nil || out.Item != nil {
		t.Errorf("the dead job's lock item is still there: %v %v", out.Item, err)
	}
	for _, k := range [][2]string{{"alive", "J2"}, {"grace", "J3"}} {
		if j, err := db.GetJob(ctx, k[0], k[1]); err != nil || j.Status != jobs.StatusInProgress {
			t.Errorf("%s/%s: %s (%v), want In Progress", k[0], k[1], j.Status, err)
		}
	}
	if l, err := db.PeekLock(ctx, "alive"); err != nil || l.Holder != "J2" {
		t.Errorf("live lock lost: %+v %v", l, err)
	}
	if res, err := c.Sweep(ctx); err != nil || len(res.Failed) != 0 || res.Looked != 0 {
		t.Errorf("second sweep: %+v %v", res, err)
	}
}

// devStack returns the running stack's tables and clients (the dev
// server's, resources prefixed bulkops-local-, or on LocalStack the stack
// CloudFormation deployed), and fails when it is not up.
func devStack(t *testing.T) (*localtest.Stack, devstack.Names, *dynamostore.Store) {
	t.Helper()
	st := localtest.Require(t)
	names := localtest.RunningStack(t, st)
	ref := func(id string) string { v, _ := names.Ref(id); return v }
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{Objects: ref("ObjectsTable"), Jobs: ref("JobsTable"), Control: ref("ControlTable")}, time.Now)
	return st, names, db
}

// workTypes is a valid work-type CSV of n rows.
func workTypes(n int) []byte {
	var b bytes.Buffer
	b.WriteString("Name,Description,Type\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "Code %06d,Generated for the cleanup test,IDLE_CODE\n", i)
	}
	return b.Bytes()
}

func upload(t *testing.T, st *localtest.Stack, bucket, key string, body []byte) string {
	t.Helper()
	out, err := st.Clients.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.VersionId)
}

// jobOf waits for the job of the upload key to satisfy ok.
func jobOf(t *testing.T, db *dynamostore.Store, tenant, key string, within time.Duration, ok func(jobs.Job) bool) jobs.Job {
	t.Helper()
	var last jobs.Job
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		list, err := db.ListJobs(context.Background(), tenant, 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range list {
			if j.SourceKey == key {
				last = j
				if ok(j) {
					return j
				}
			}
		}
	}
	t.Fatalf("job of %s did not get there within %s; last seen: %+v", key, within, last)
	return jobs.Job{}
}

func checkEnded(t *testing.T, db *dynamostore.Store, j jobs.Job, reason string) {
	t.Helper()
	if j.Status != jobs.StatusFailed || !strings.Contains(j.Message, reason) || j.EndedAt == nil {
		t.Errorf("job %s: %s %q, want Failed saying %q", j.ID, j.Status, j.Message, reason)
	}
	c := j.Counts
	if c.Processed != c.Created+c.Updated+c.Unchanged+c.Failed || c.Processed > c.Total {
		t.Errorf("job %s: inconsistent counts %+v", j.ID, c)
	}
	if l, err := db.PeekLock(context.Background(), j.Tenant); err != nil || l.Holder != "" {
		t.Errorf("tenant %s still locked by %q (%v)", j.Tenant, l.Holder, err)
	}
}

// TestAbortedExecutionFailsItsJob aborts a running import mid-chunk with
// StopExecution. The local Step Functions server sends the ABORTED
// "Execution Status Change" event to the dev server's EventBridge, whose
// rule (from template.yaml) invokes the cleanup function, which fails the
// job and frees the tenant.
func TestAbortedExecutionFailsItsJob(t *testing.T) {
	localtest.SkipOnLocalStack(t, "LocalStack's Step Functions sends no Execution Status Change events to EventBridge, so the template's cleanup rule never sees the abort")
	st, names, db := devStack(t)
	ctx := context.Background()
	tenant := "abort-" + suffix()
	bucket, _ := names.Ref("DataBucket")
	machine, _ := names.Ref("ImportStateMachine")
	key := "imports/" + tenant + "/work-type/many.csv"
	upload(t, st, bucket, key, workTypes(5000))

	// Find the execution and wait until a chunk is running.
	var exec string
	for deadline := time.Now().Add(60 * time.Second); exec == "" || !chunkStarted(t, st.Clients.SFN, exec); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no running chunk of %s seen (execution %q)", key, exec)
		}
		if exec == "" {
			exec = runningExecution(t, st.Clients.SFN, machine, key)
		}
	}
	if _, err := st.Clients.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: &exec, Cause: aws.String("stopped by the cleanup test")}); err != nil {
		t.Fatal(err)
	}
	j := jobOf(t, db, tenant, key, 60*time.Second, func(j jobs.Job) bool { return j.Status.Final() })
	checkEnded(t, db, j, "aborted")
	// Chunks already running when the execution stopped may still commit;
	// the counts stay consistent whatever they do.
	time.Sleep(2 * time.Second)
	after, err := db.GetJob(ctx, tenant, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkEnded(t, db, after, "aborted")
}

func runningExecution(t *testing.T, client *sfn.Client, machine, key string) string {
	t.Helper()
	out, err := client.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: &machine, StatusFilter: sfntypes.ExecutionStatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range out.Executions {
		d, err := client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
		if err == nil && strings.Contains(aws.ToString(d.Input), `"`+key+`"`) {
			return aws.ToString(e.ExecutionArn)
		}
	}
	return ""
}

func chunkStarted(t *testing.T, client *sfn.Client, exec string) bool {
	t.Helper()
	p := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{ExecutionArn: &exec, MaxResults: 100})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if ev.Type == sfntypes.HistoryEventTypeTaskStateEntered && aws.ToString(ev.StateEnteredEventDetails.Name) == "ProcessChunk" {
				return true
			}
		}
	}
	return false
}

// TestExportRetriesExhaustedFailsItsJob invokes the cleanup function
// through the Lambda Invoke API with the OnFailure destination record
// Lambda sends when an asynchronous export invocation ran out of retries
// (the record's shape as AWS documents it; failures_test.go has the dev
// server's Lambda server send it after real retries). The export job, In Progress and holding the tenant
// lock, ends Failed with the reason and the tenant is free.
func TestExportRetriesExhaustedFailsItsJob(t *testing.T) {
	st, names, db := devStack(t)
	ctx := context.Background()
	tenant := "export-" + suffix()
	id := "E" + strings.ToUpper(suffix())
	if err := db.CreateJob(ctx, jobs.Job{Tenant: tenant, ID: id, Type: jobs.TypeExport, ObjectType: "queue", Status: jobs.StatusNew, SubmittedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if l, err := db.AcquireLock(ctx, tenant, id, 5*time.Minute); err != nil || !l.Acquired {
		t.Fatalf("lock %+v %v", l, err)
	}
	if err := db.MarkInProgress(ctx, tenant, id, 100, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	exportFn, _ := names.Ref("ExportFunction")
	record, _ := json.Marshal(map[string]any{
		"version": "1.0", "timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"requestContext": map[string]any{"requestId": suffix(), "functionArn": devstack.FunctionARN(exportFn) + ":$LATEST",
			"condition": "RetriesExhausted", "approximateInvokeCount": 3},
		"requestPayload":  map[string]any{"tenant": tenant, "jobId": id, "objectTypes": []string{"queue"}},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"responsePayload": map[string]any{"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 900.00 seconds"},
	})
	fn, _ := names.Ref("JobCleanupFunction")
	out, err := awsenv.Lambda(st.Config).Invoke(ctx, &lambda.InvokeInput{FunctionName: &fn, InvocationType: lambdatypes.InvocationTypeRequestResponse, Payload: record})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("cleanup: %v %s", err, out.Payload)
	}
	j, err := db.GetJob(ctx, tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	checkEnded(t, db, j, "after 3 attempts")
	if !strings.Contains(j.Message, "ran out of time") {
		t.Errorf("reason %q does not say the export ran out of time", j.Message)
	}
}
