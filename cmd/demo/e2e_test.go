package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// TestEndToEnd drives the whole local stack the way a tenant does: S3
// PutObject on MinIO → bucket notification → the dev server's EventBridge
// rule → the ASL interpreter running statemachines/import.asl.json → the
// Lambda Invoke API → the import handlers → DynamoDB Local and MinIO. It
// uses the resources the running dev server provisioned (prefix
// bulkops-local-) with a tenant of its own. On LocalStack (make
// test-localstack) the same upload goes through LocalStack's S3, its
// EventBridge (the template's rule), Step Functions and Lambda (the built
// bootstraps) into the stack CloudFormation deployed.
func TestEndToEnd(t *testing.T) {
	st := localtest.Require(t)
	// The dev server's stack, or on LocalStack the stack deployed there.
	names := localtest.RunningStack(t, st)
	ref := func(id string) string { v, _ := names.Ref(id); return v }
	bucket := ref("DataBucket")
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: ref("ObjectsTable"), Jobs: ref("JobsTable"), Control: ref("ControlTable"),
	}, time.Now)
	var b [4]byte
	_, _ = rand.Read(b[:])
	tenant := "e2e-" + hex.EncodeToString(b[:])

	upload := func(name string, body []byte) (string, string) {
		key := "imports/" + tenant + "/work-type/" + name
		out, err := st.Clients.S3.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: &bucket, Key: &key, Body: bytes.NewReader(body),
			Metadata: map[string]string{"submitted-by": "e2e@example.com"}, // ignored: S3's requester names the submitter
		})
		if err != nil {
			t.Fatal(err)
		}
		return key, aws.ToString(out.VersionId)
	}
	wait := func(key, version string) jobs.Job {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		j, err := waitForJob(ctx, db, tenant, key, version)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}

	raw, err := os.ReadFile(filepath.Join(st.Root, "samples", "work-type.csv"))
	if err != nil {
		t.Fatal(err)
	}
	j := wait(upload("work-type.csv", raw))
	if j.Status != jobs.StatusCompletedWithErrs || j.Counts != (jobs.Counts{Total: 8, Processed: 8, Created: 5, Failed: 3}) {
		t.Fatalf("sample job: %s %+v %q", j.Status, j.Counts, j.Message)
	}
	if !strings.HasPrefix(j.SubmittedBy, "S3 upload (") || j.StartedAt == nil || j.EndedAt == nil || j.ErrorKey == "" {
		t.Errorf("job details: %+v", j)
	}
	out, err := st.Clients.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &j.ErrorKey})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(out.Body)
	out.Body.Close()
	if got := buf.String(); !strings.Contains(got, "Coffee,Short break,NAP_TIME,7,NOT_ALLOWED") {
		t.Errorf("error CSV:\n%s", got)
	}

	// A file the workflow cannot read fails the job through the state
	// machine's Catch → MarkFailed → ReleaseLock path, with the reason.
	bad := wait(upload("bad.csv", []byte("Name,Descripton,Type\nA,b,IDLE_CODE\n")))
	if bad.Status != jobs.StatusFailed || !strings.Contains(bad.Message, `did you mean "Description"`) {
		t.Fatalf("bad file job: %s %q", bad.Status, bad.Message)
	}
	// Every transition went out as an EventBridge event, in order. A step
	// publishes after it writes the job, so the last event may trail the
	// status the test saw by a moment.
	want := map[string]string{j.ID: "New,In Progress,Completed with errors", bad.ID: "New,Failed"}
	for id, w := range want {
		got := ""
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if got = strings.Join(localtest.JobStatuses(t, tenant, id), ","); got == w || time.Now().After(deadline) {
				break
			}
		}
		if got != w {
			t.Errorf("events of job %s: %s, want %s", id, got, w)
		}
	}

	// Two quick uploads to one key are two jobs, each reading the version
	// its event names (MinIO's webhook carries the versionId, the dev
	// server puts it in detail.object.version-id).
	k1, v1 := upload("quick.csv", raw)
	k2, v2 := upload("quick.csv", []byte("Name,Description,Type\nQuick,one row,IDLE_CODE\n"))
	q1, q2 := wait(k1, v1), wait(k2, v2)
	if q1.ID == q2.ID || q1.Counts.Total != 8 || q2.Counts.Total != 1 {
		t.Fatalf("two uploads to one key: jobs %s (%d rows) and %s (%d rows), want two jobs of 8 and 1 rows", q1.ID, q1.Counts.Total, q2.ID, q2.Counts.Total)
	}

	// The lock was released: the next upload runs.
	again := wait(upload("work-type.csv", raw))
	if again.Status != jobs.StatusCompletedWithErrs || again.Counts.Unchanged != 5 {
		t.Fatalf("re-import: %s %+v %q", again.Status, again.Counts, again.Message)
	}
}
