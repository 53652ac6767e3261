package dynamostore_test

import (
	"context"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// TestAdoptJob: StartJob adopts a retry job the API recorded (New,
// retryOf, a message, no source) once: the source, version and execution
// are set and the message removed; the same upload again (a retried
// StartJob) is accepted, another version, another retryOf or dry run, a
// cancelled, failed or running job are Conflicts, and so is a job that
// does not exist. ClaimRetry and ReleaseRetry: one claim per job, released
// only by its holder.
func TestAdoptJob(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	rec := func(id string, mod func(*jobs.Job)) jobs.Job {
		t.Helper()
		j := jobs.Job{Tenant: "t1", ID: id, Type: jobs.TypeImport, ObjectType: "work-type", FileName: "codes-retry.csv",
			Status: jobs.StatusNew, SubmittedBy: "u", SubmittedAt: clk.now(), RetryOf: "OLD", Message: "building the retry file"}
		if mod != nil {
			mod(&j)
		}
		if err := db.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	upload := func(j jobs.Job, version string) jobs.Job {
		j.Bucket, j.SourceKey, j.SourceVersion, j.ExecutionArn = "b", "imports/t1/work-type/codes-retry.csv", version, "arn:exec:"+version
		return j
	}
	j := rec("R1", nil)
	if err := db.AdoptJob(ctx, upload(j, "v1")); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetJob(ctx, "t1", "R1")
	if err != nil || got.SourceVersion != "v1" || got.SourceKey == "" || got.Bucket != "b" || got.ExecutionArn != "arn:exec:v1" || got.Message != "" ||
		got.Status != jobs.StatusNew || got.RetryOf != "OLD" || got.SubmittedBy != "u" {
		t.Fatalf("adopted: %+v %v", got, err)
	}
	if err := db.AdoptJob(ctx, upload(j, "v1")); err != nil {
		t.Fatalf("the same upload again: %v", err)
	}
	conflicts := map[string]jobs.Job{
		"another version": upload(j, "v2"),
		"another retryOf": upload(func() jobs.Job { k := j; k.RetryOf = "OTHER"; return k }(), "v1"),
		"another dry run": upload(func() jobs.Job { k := j; k.DryRun = true; return k }(), "v1"),
		"no such job":     upload(func() jobs.Job { k := j; k.ID = "R9"; return k }(), "v1"),
	}
	failed := rec("R2", nil)
	if err := db.Fail(ctx, "t1", "R2", "refused", clk.now()); err != nil {
		t.Fatal(err)
	}
	conflicts["failed"] = upload(failed, "v1")
	cancelled := rec("R3", nil)
	if _, err := db.RequestCancel(ctx, "t1", "R3", "admin", clk.now()); err != nil {
		t.Fatal(err)
	}
	conflicts["being cancelled"] = upload(cancelled, "v1")
	running := rec("R4", nil)
	if err := db.MarkInProgress(ctx, "t1", "R4", 1, 1, clk.now()); err != nil {
		t.Fatal(err)
	}
	conflicts["running"] = upload(running, "v1")
	for name, a := range conflicts {
		if err := db.AdoptJob(ctx, a); bulkerr.KindOf(err) != bulkerr.Conflict {
			t.Errorf("%s: %v, want a Conflict", name, err)
		}
	}

	// The claim.
	old := rec("OLD", func(j *jobs.Job) { j.RetryOf, j.Status, j.Message = "", jobs.StatusCompletedWithErrs, "" })
	if err := db.ClaimRetry(ctx, "t1", old.ID, "R1"); err != nil {
		t.Fatal(err)
	}
	if err := db.ClaimRetry(ctx, "t1", old.ID, "R1"); err != nil {
		t.Fatalf("the same claim again: %v", err)
	}
	if err := db.ClaimRetry(ctx, "t1", old.ID, "R2"); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("a second claim: %v", err)
	}
	if err := db.ReleaseRetry(ctx, "t1", old.ID, "R2"); err != nil {
		t.Fatal(err)
	}
	if o, _ := db.GetJob(ctx, "t1", old.ID); o.RetriedBy != "R1" {
		t.Fatalf("released by another job: %+v", o)
	}
	if err := db.ReleaseRetry(ctx, "t1", old.ID, "R1"); err != nil {
		t.Fatal(err)
	}
	if err := db.ClaimRetry(ctx, "t1", old.ID, "R2"); err != nil {
		t.Fatalf("a claim after the release: %v", err)
	}
}
