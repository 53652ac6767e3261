package dynamostore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func (c *clock) set(t time.Time)         { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func newStore(t *testing.T) (*dynamostore.Store, *clock) {
	st := localtest.Require(t)
	st.Provision(t)
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	return dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, clk.now), clk
}

func TestLockIsExclusiveLeasedAndReleasedOnlyByHolder(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	lease := time.Minute

	a, err := db.AcquireLock(ctx, "t1", "job-a", lease)
	if err != nil || !a.Acquired {
		t.Fatalf("first acquire: %+v %v", a, err)
	}
	b, err := db.AcquireLock(ctx, "t1", "job-b", lease)
	if err != nil || b.Acquired || b.Holder != "job-a" {
		t.Fatalf("second acquire should report holder job-a: %+v %v", b, err)
	}
	other, err := db.AcquireLock(ctx, "t2", "job-c", lease)
	if err != nil || !other.Acquired {
		t.Fatalf("another tenant must not be blocked: %+v %v", other, err)
	}
	if err := db.ReleaseLock(ctx, "t1", "job-b"); err != nil {
		t.Fatalf("release by non-holder should be a no-op: %v", err)
	}
	if b, err := db.AcquireLock(ctx, "t1", "job-b", lease); err != nil || b.Acquired {
		t.Fatalf("non-holder release must not free the lock: %+v %v", b, err)
	}
	// The holder extends its lease; time passes less than a lease.
	clk.advance(50 * time.Second)
	if err := db.ExtendLock(ctx, "t1", "job-a", lease); err != nil {
		t.Fatal(err)
	}
	clk.advance(50 * time.Second)
	if b, err := db.AcquireLock(ctx, "t1", "job-b", lease); err != nil || b.Acquired {
		t.Fatalf("an extended lease must still hold: %+v %v", b, err)
	}
	// The holder stops extending: after the lease, the next job proceeds.
	clk.advance(lease + time.Second)
	b, err = db.AcquireLock(ctx, "t1", "job-b", lease)
	if err != nil || !b.Acquired {
		t.Fatalf("after the lease ran out job-b should get the lock: %+v %v", b, err)
	}
	if err := db.ExtendLock(ctx, "t1", "job-a", lease); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("the old holder's extend = %v, want Conflict", err)
	}
	if err := db.ReleaseLock(ctx, "t1", "job-b"); err != nil {
		t.Fatal(err)
	}
	if c, err := db.AcquireLock(ctx, "t1", "job-c", lease); err != nil || !c.Acquired {
		t.Fatalf("released lock should be free: %+v %v", c, err)
	}
}

func TestLockUnderConcurrentAcquire(t *testing.T) {
	db, _ := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			l, err := db.AcquireLock(ctx, "busy", fmt.Sprintf("job-%02d", i), time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if l.Acquired {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d jobs acquired the lock, want exactly 1", winners)
	}
}

func TestJobLifecycleAndChunkCommitsExactlyOnce(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	j := jobs.Job{Tenant: "t1", ID: "01JOB", Type: jobs.TypeImport, ObjectType: "site", FileName: "sites.csv",
		Status: jobs.StatusNew, SubmittedBy: "a@b.c", SubmittedAt: clk.now()}
	if err := db.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateJob(ctx, j); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("second create = %v, want Conflict", err)
	}
	if _, err := db.GetJob(ctx, "t2", "01JOB"); bulkerr.KindOf(err) != bulkerr.NotFound {
		t.Fatalf("another tenant's job must be not found, got %v", err)
	}
	if err := db.MarkInProgress(ctx, "t1", "01JOB", 5, 2, clk.now()); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkInProgress(ctx, "t1", "01JOB", 5, 2, clk.now()); err != nil {
		t.Fatalf("repeated MarkInProgress should be a no-op: %v", err)
	}
	c0 := jobs.Counts{Processed: 3, Created: 2, Failed: 1}
	for i := 0; i < 3; i++ { // retried commits count once
		if err := db.CommitChunk(ctx, "t1", "01JOB", 0, c0); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CommitChunk(ctx, "t1", "01JOB", 1, jobs.Counts{Processed: 2, Updated: 1, Unchanged: 1}); err != nil {
		t.Fatal(err)
	}
	done, err := db.ChunkDone(ctx, "t1", "01JOB", 1)
	if err != nil || !done {
		t.Fatalf("ChunkDone = %v %v", done, err)
	}
	got, err := db.GetJob(ctx, "t1", "01JOB")
	if err != nil {
		t.Fatal(err)
	}
	want := jobs.Counts{Total: 5, Processed: 5, Created: 2, Updated: 1, Unchanged: 1, Failed: 1}
	if got.Counts != want || got.Status != jobs.StatusInProgress || got.StartedAt == nil {
		t.Fatalf("job = %+v, want counts %+v In Progress", got, want)
	}
	if err := db.Finish(ctx, "t1", "01JOB", jobs.StatusCompletedWithErrs, "e.csv", "r.csv", clk.now()); err != nil {
		t.Fatal(err)
	}
	if err := db.Fail(ctx, "t1", "01JOB", "late failure", clk.now()); err != nil {
		t.Fatal(err)
	}
	if got, err = db.GetJob(ctx, "t1", "01JOB"); err != nil {
		t.Fatal(err)
	}
	if got.Status != jobs.StatusCompletedWithErrs || got.Message != "" || got.EndedAt == nil || got.ErrorKey != "e.csv" {
		t.Fatalf("a final job must keep its status: %+v", got)
	}
}

func TestListJobsNewestFirst(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	for _, id := range []string{"01A", "01C", "01B"} {
		if err := db.CreateJob(ctx, jobs.Job{Tenant: "t1", ID: id, Status: jobs.StatusNew, SubmittedAt: clk.now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateJob(ctx, jobs.Job{Tenant: "t2", ID: "01Z", Status: jobs.StatusNew, SubmittedAt: clk.now()}); err != nil {
		t.Fatal(err)
	}
	list, err := db.ListJobs(ctx, "t1", 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range list {
		ids = append(ids, j.ID)
	}
	if fmt.Sprint(ids) != "[01C 01B 01A]" {
		t.Fatalf("ids = %v", ids)
	}
}

func TestApplyIsIdempotentPerJob(t *testing.T) {
	db, _ := newStore(t)
	ctx := context.Background()
	objs := db.Objects("t1")
	create := []catalog.Write{
		{Object: catalog.Object{Type: "site", Key: "paris", ID: "id-1", Name: "Paris", Fields: map[string]string{"multimediaProfile": "Default"}}},
		{Object: catalog.Object{Type: "site", Key: "oslo", ID: "id-2", Name: "Oslo"}},
	}
	res, err := objs.Apply(ctx, "job-1", create, 4)
	if err != nil || res[0] != catalog.Applied || res[1] != catalog.Applied {
		t.Fatalf("first apply: %v %v", res, err)
	}
	res, err = objs.Apply(ctx, "job-1", create, 4) // a retried chunk
	if err != nil || res[0] != catalog.AlreadyApplied || res[1] != catalog.AlreadyApplied {
		t.Fatalf("retried apply: %v %v", res, err)
	}
	got, err := objs.GetObjects(ctx, "site", []string{"paris", "oslo", "nowhere", "paris"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["paris"].Version != 1 || got["paris"].ID != "id-1" || got["paris"].Fields["multimediaProfile"] != "Default" {
		t.Fatalf("objects = %+v", got)
	}
	// job-2 updates Paris from version 1; a second job writing from a stale
	// version conflicts.
	upd := catalog.Write{Object: catalog.Object{Type: "site", Key: "paris", ID: "id-1", Name: "Paris", Fields: map[string]string{"multimediaProfile": "Voice"}}, PrevVersion: 1}
	if res, err := objs.Apply(ctx, "job-2", []catalog.Write{upd}, 1); err != nil || res[0] != catalog.Applied {
		t.Fatalf("update: %v %v", res, err)
	}
	if res, err := objs.Apply(ctx, "job-3", []catalog.Write{upd}, 1); err != nil || res[0] != catalog.Conflicted {
		t.Fatalf("stale update: %v %v", res, err)
	}
	if got, err = objs.GetObjects(ctx, "site", []string{"paris"}); err != nil {
		t.Fatal(err)
	}
	if p := got["paris"]; p.Version != 2 || p.ID != "id-1" || p.JobID != "job-2" || p.CreatedAt.IsZero() || !p.UpdatedAt.After(p.CreatedAt.Add(-time.Second)) {
		t.Fatalf("paris after update = %+v", p)
	}
	// Another tenant sees nothing.
	other, err := db.Objects("t2").GetObjects(ctx, "site", []string{"paris"})
	if err != nil || len(other) != 0 {
		t.Fatalf("tenant t2 sees %v %v", other, err)
	}
}

func TestGetObjectsBatchesOverHundredKeys(t *testing.T) {
	db, _ := newStore(t)
	ctx := context.Background()
	var ws []catalog.Write
	var keys []string
	for i := 0; i < 250; i++ {
		k := fmt.Sprintf("site-%03d", i)
		keys = append(keys, k)
		ws = append(ws, catalog.Write{Object: catalog.Object{Type: "site", Key: k, ID: "id-" + k, Name: k}})
	}
	if _, err := db.Objects("t1").Apply(ctx, "job", ws, 16); err != nil {
		t.Fatal(err)
	}
	got, err := db.Objects("t1").GetObjects(ctx, "site", append(keys, "missing"))
	if err != nil || len(got) != 250 {
		t.Fatalf("got %d objects, err %v", len(got), err)
	}
}

// TestFinalStatusReleasesTheHoldersLock: the write that makes a job final
// frees its tenant in the same transaction (a client that sees "Completed"
// can start the next operation at once), leaves a lock held by another job
// alone, and still fails a job that never held the lock.
func TestFinalStatusReleasesTheHoldersLock(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	tests := []struct {
		name       string
		holder     string // who holds the lock before the final write ("" = nobody)
		fail       bool
		wantHolder string // who holds it after
		wantStatus jobs.Status
	}{
		{name: "finish by the holder", holder: "job-1", wantHolder: "", wantStatus: jobs.StatusCompleted},
		{name: "fail by the holder", holder: "job-1", fail: true, wantHolder: "", wantStatus: jobs.StatusFailed},
		{name: "finish while another job holds the lock", holder: "job-other", wantHolder: "job-other", wantStatus: jobs.StatusCompleted},
		{name: "fail without the lock", holder: "", fail: true, wantHolder: "", wantStatus: jobs.StatusFailed},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tenant := fmt.Sprintf("final-%d", i)
			if err := db.CreateJob(ctx, jobs.Job{Tenant: tenant, ID: "job-1", Type: jobs.TypeImport, Status: jobs.StatusNew, SubmittedAt: clk.now()}); err != nil {
				t.Fatal(err)
			}
			if tc.holder != "" {
				if l, err := db.AcquireLock(ctx, tenant, tc.holder, time.Minute); err != nil || !l.Acquired {
					t.Fatal(l, err)
				}
			}
			var err error
			if tc.fail {
				err = db.Fail(ctx, tenant, "job-1", "broken", clk.now())
			} else {
				if err = db.MarkInProgress(ctx, tenant, "job-1", 1, 1, clk.now()); err == nil {
					err = db.Finish(ctx, tenant, "job-1", jobs.StatusCompleted, "", "r.csv", clk.now())
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			j, err := db.GetJob(ctx, tenant, "job-1")
			if err != nil || j.Status != tc.wantStatus {
				t.Fatalf("status %s (%v), want %s", j.Status, err, tc.wantStatus)
			}
			l, err := db.PeekLock(ctx, tenant)
			if err != nil || l.Holder != tc.wantHolder {
				t.Fatalf("lock holder %q (%v), want %q", l.Holder, err, tc.wantHolder)
			}
			// Repeating the final write is a no-op, not an error.
			if tc.fail {
				err = db.Fail(ctx, tenant, "job-1", "again", clk.now())
			} else {
				err = db.Finish(ctx, tenant, "job-1", jobs.StatusCompleted, "", "r.csv", clk.now())
			}
			if err != nil {
				t.Fatalf("repeated final write: %v", err)
			}
			// A final job cannot be moved to another final status.
			if !tc.fail {
				if err := db.Finish(ctx, tenant, "job-1", jobs.StatusCompletedWithErrs, "", "", clk.now()); bulkerr.KindOf(err) != bulkerr.Conflict {
					t.Fatalf("moving a completed job: %v, want Conflict", err)
				}
			}
		})
	}
}

// TestChunkFailuresAndLateCommits: a chunk failed for good counts its rows
// as processed and failed once and is listed with its reason; a chunk that
// committed first keeps its commit; once the job is final, a late chunk
// (a Lambda still running after its job failed) adds nothing.
func TestChunkFailuresAndLateCommits(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	if err := db.CreateJob(ctx, jobs.Job{Tenant: "t1", ID: "01P", Status: jobs.StatusNew, SubmittedAt: clk.now()}); err != nil {
		t.Fatal(err)
	}
	if err := db.CommitChunk(ctx, "t1", "01P", 0, jobs.Counts{Processed: 1}); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("commit to a New job = %v, want Conflict", err)
	}
	if err := db.MarkInProgress(ctx, "t1", "01P", 30, 3, clk.now()); err != nil {
		t.Fatal(err)
	}
	if err := db.CommitChunk(ctx, "t1", "01P", 0, jobs.Counts{Processed: 10, Created: 10}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a retried record counts once
		if err := db.FailChunk(ctx, "t1", "01P", 1, 10, "storage refused the rows"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.FailChunk(ctx, "t1", "01P", 0, 10, "too late"); err != nil {
		t.Fatal(err) // chunk 0 committed first: it stays committed
	}
	if err := db.CommitChunk(ctx, "t1", "01P", 1, jobs.Counts{Processed: 10, Created: 10}); err != nil {
		t.Fatal(err) // chunk 1 was failed first: the late commit is a no-op
	}
	failed, err := db.FailedChunks(ctx, "t1", "01P")
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[1] != "storage refused the rows" {
		t.Fatalf("failed chunks = %v", failed)
	}
	if err := db.Fail(ctx, "t1", "01P", "stopped", clk.now()); err != nil {
		t.Fatal(err)
	}
	if err := db.CommitChunk(ctx, "t1", "01P", 2, jobs.Counts{Processed: 10, Created: 10}); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("late commit to a Failed job = %v, want Conflict", err)
	}
	if err := db.FailChunk(ctx, "t1", "01P", 2, 10, "x"); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("late chunk failure on a Failed job = %v, want Conflict", err)
	}
	got, err := db.GetJob(ctx, "t1", "01P")
	if err != nil {
		t.Fatal(err)
	}
	if want := (jobs.Counts{Total: 30, Processed: 20, Created: 10, Failed: 10}); got.Counts != want || got.Status != jobs.StatusFailed {
		t.Fatalf("job = %s %+v, want Failed %+v", got.Status, got.Counts, want)
	}
	if done, err := db.ChunkDone(ctx, "t1", "01P", 2); err != nil || done {
		t.Fatalf("the late chunk left a marker: %v %v", done, err)
	}
}

// TestUploadGrants: a job ID is redeemed only for the tenant and key it was
// registered for, by one upload (again by the same upload), never by a
// second upload of the same form.
func TestUploadGrants(t *testing.T) {
	db, _ := newStore(t)
	ctx := context.Background()
	g := jobs.UploadGrant{Tenant: "t1", JobID: "01G", Key: "imports/t1/queue/q.csv", SubmittedBy: "ana@t1", DryRun: true}
	if err := db.RegisterUpload(ctx, g, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterUpload(ctx, g, time.Minute); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("registering twice = %v, want Conflict", err)
	}
	for _, tc := range []struct {
		tenant, job, key, upload string
		ok                       bool
	}{
		{"t2", "01G", "imports/t2/queue/q.csv", "u0", false}, // another tenant
		{"t1", "01G", "imports/t1/queue/other.csv", "u0", false},
		{"t1", "01NEVER", "imports/t1/queue/q.csv", "u0", false},
		{"t1", "01G", "imports/t1/queue/q.csv", "u1", true},
		{"t1", "01G", "imports/t1/queue/q.csv", "u1", true},  // the same upload again
		{"t1", "01G", "imports/t1/queue/q.csv", "u2", false}, // a second upload
	} {
		got, ok, err := db.RedeemUpload(ctx, tc.tenant, tc.job, tc.key, tc.upload)
		if err != nil || ok != tc.ok {
			t.Fatalf("redeem %+v = %v %v, want %v", tc, ok, err, tc.ok)
		}
		if ok && (got.SubmittedBy != "ana@t1" || !got.DryRun || got.JobID != "01G") {
			t.Fatalf("grant = %+v", got)
		}
	}
}
