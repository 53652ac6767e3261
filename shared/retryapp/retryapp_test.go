package retryapp_test

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
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/retry"
	"github.com/ccbulk/bulkops/shared/retryapp"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// TestBuildIsSafeToRepeat: the retry function may run twice for one
// request (Lambda retries a failed asynchronous invocation, and an attempt
// may die after its PutObject). On MinIO and DynamoDB Local: the first
// build writes the file once; a second build of the same request writes
// nothing (one version of the key: one S3 event, one import); a build for
// a job StartJob has adopted, or for a request that does not match the
// recorded job, does nothing either.
func TestBuildIsSafeToRepeat(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	ctx := context.Background()
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable")}, time.Now)
	bucket := st.Ref("DataBucket")
	files := s3store.New(st.Clients.S3, bucket)
	tenant := fmt.Sprintf("rb-%d", time.Now().UnixNano()%1e6)
	key := "imports/" + tenant + "/work-type/codes.csv"
	out, err := st.Clients.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key,
		Body: strings.NewReader("Name,Type\nA,IDLE_CODE\nB,IDLE_CODE\n")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	old := jobs.Job{Tenant: tenant, ID: "01OLD000000000000000000000", Type: jobs.TypeImport, ObjectType: "work-type", FileName: "codes.csv",
		Status: jobs.StatusCompletedWithErrs, Bucket: bucket, SourceKey: key, SourceVersion: aws.ToString(out.VersionId), SubmittedAt: now,
		Counts: jobs.Counts{Total: 2, Processed: 2, Created: 1, Failed: 1}, ErrorKey: "results/" + tenant + "/old/errors.csv"}
	if err := db.CreateJob(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := files.Put(ctx, old.ErrorKey, "text/csv", []byte("Name,Type,Row,Error Code,Error Message\nB,IDLE_CODE,3,UNKNOWN_REFERENCE,x\n"), nil); err != nil {
		t.Fatal(err)
	}
	ids := 0
	starter := &retry.Starter{Jobs: db, Builds: noBuild{}, NewID: func() (string, error) { ids++; return fmt.Sprintf("01NEW%021d", ids), nil }}
	started, err := starter.Retry(ctx, tenant, "u", old.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := retryapp.Assemble(db, files, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	req := retry.Request{Tenant: tenant, JobID: started.JobID, RetryOf: old.ID, User: "u"}
	first, err := b.Build(ctx, req)
	if err != nil || first.Outcome != retry.OutcomeWritten || first.Rows != 1 || first.Key != started.Key {
		t.Fatalf("first build: %+v %v", first, err)
	}
	again, err := b.Build(ctx, req)
	if err != nil || again.Outcome != retry.OutcomeDone {
		t.Fatalf("second build: %+v %v", again, err)
	}
	versions, err := st.Clients.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: &started.Key})
	if err != nil || len(versions.Versions) != 1 {
		t.Fatalf("%d versions of %s, want 1 (%v)", len(versions.Versions), started.Key, err)
	}
	// Adopted by its import: nothing to do.
	j, _ := db.GetJob(ctx, tenant, started.JobID)
	j.Bucket, j.SourceKey, j.SourceVersion = bucket, started.Key, aws.ToString(versions.Versions[0].VersionId)
	if err := db.AdoptJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if res, err := b.Build(ctx, req); err != nil || res.Outcome != retry.OutcomeDone {
		t.Fatalf("build for an adopted job: %+v %v", res, err)
	}
	// A request that is not the recorded job's.
	bad := req
	bad.RetryOf = "01SOMEONEELSE0000000000000"
	if _, err := b.Build(ctx, bad); bulkerr.KindOf(err) != bulkerr.Invalid {
		t.Fatalf("mismatched request: %v", err)
	}
	if _, err := b.Build(ctx, retry.Request{Tenant: tenant}); bulkerr.KindOf(err) != bulkerr.Invalid {
		t.Fatalf("empty request: %v", err)
	}
}

// noBuild records nothing: the test runs the builder itself.
type noBuild struct{}

func (noBuild) StartBuild(context.Context, retry.Request) error { return nil }
