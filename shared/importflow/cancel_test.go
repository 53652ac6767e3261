package importflow_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/blob"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobcancel"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
)

const canceller = "admin@acme.example"

// cancel is the API's cancel on the harness's stores (the steps are
// planned uploads body as acme's work-type file and runs Start,
// AcquireLock and Prepare, as the state machine does before the chunks.
func (h *harness) planned(t *testing.T, body string) (importflow.JobRef, importflow.PlanRef) {
	t.Helper()
	ctx := context.Background()
	sr, err := h.flow.Start(ctx, h.upload("acme", "work-type", "codes.csv", []byte(body), nil))
	if err != nil {
		t.Fatal(err)
	}
	j := sr.Job
	if ls, err := h.flow.AcquireLock(ctx, j, importflow.LockState{}); err != nil || !ls.Acquired {
		t.Fatal(ls, err)
	}
	plan, err := h.flow.Prepare(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	return j, plan
}

// called by the test, so there is no execution to stop).
func (h *harness) cancel(j importflow.JobRef) (jobs.Job, error) {
	c := &jobcancel.Canceller{Jobs: h.db, Imports: h.flow, Now: time.Now, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return c.Cancel(context.Background(), j.Tenant, j.JobID, canceller)
}

// checkCancelled asserts a Cancelled job whose counts agree with its
// reports (total = processed; results CSV rows = created + updated +
// unchanged; error CSV rows = failed, those not processed marked so) and
// whose lock is free. It returns the error CSV's rows.
func (h *harness) checkCancelled(t *testing.T, j jobs.Job, want jobs.Counts) [][]string {
	t.Helper()
	if j.Status != jobs.StatusCancelled || j.CancelledBy != canceller || j.EndedAt == nil {
		t.Fatalf("job = %s by %q ended %v, want Cancelled by %s", j.Status, j.CancelledBy, j.EndedAt, canceller)
	}
	if j.Counts != want {
		t.Fatalf("counts = %+v, want %+v", j.Counts, want)
	}
	if !strings.Contains(j.Message, "cancelled by "+canceller) {
		t.Errorf("message %q does not say who cancelled", j.Message)
	}
	if l, err := h.db.PeekLock(context.Background(), j.Tenant); err != nil || l.Holder == j.ID {
		t.Fatalf("lock after the cancel: %+v %v", l, err)
	}
	if j.Counts.Total == 0 {
		if j.ErrorKey != "" || j.ResultsKey != "" {
			t.Errorf("a job cancelled before its rows were read has reports: %q %q", j.ErrorKey, j.ResultsKey)
		}
		return nil
	}
	if res := h.csv(j.ResultsKey); len(res)-1 != j.Counts.Created+j.Counts.Updated+j.Counts.Unchanged {
		t.Errorf("results CSV has %d rows, counts say %d", len(res)-1, j.Counts.Created+j.Counts.Updated+j.Counts.Unchanged)
	}
	if j.Counts.Failed == 0 {
		if j.ErrorKey != "" {
			t.Errorf("error CSV without failed rows: %s", j.ErrorKey)
		}
		return nil
	}
	errs := h.csv(j.ErrorKey)
	if len(errs)-1 != j.Counts.Failed {
		t.Errorf("error CSV has %d rows, counts say %d failed", len(errs)-1, j.Counts.Failed)
	}
	return errs[1:]
}

// notProcessed counts the error rows marked "not processed: cancelled by".
func notProcessed(rows [][]string) int {
	n := 0
	for _, r := range rows {
		if r[4] == "NOT_PROCESSED" && strings.HasPrefix(r[5], "not processed: cancelled by "+canceller+" (") {
			n++
		}
	}
	return n
}

func (h *harness) objectCount(t *testing.T, tenant string, n int) int {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = strings.ToLower(strings.TrimSpace(strings.Split(codes(1, i, "IDLE_CODE"), ",")[0]))
	}
	got, err := h.db.Objects(tenant).GetObjects(context.Background(), "work-type", keys)
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

// TestCancelWhileWaitingForTheLock: another job holds the tenant; the
// waiting import is cancelled, ends Cancelled with nothing read, and its
// execution's next AcquireLock refuses to take the lock.
func TestCancelWhileWaitingForTheLock(t *testing.T) {
	h := newHarness(t, 4)
	ctx := context.Background()
	if l, err := h.db.AcquireLock(ctx, "acme", "01OTHERJOB0000000000000000", time.Minute); err != nil || !l.Acquired {
		t.Fatal(l, err)
	}
	sr, err := h.flow.Start(ctx, h.upload("acme", "work-type", "codes.csv", []byte("Name,Description,Type\n"+codes(8, 0, "IDLE_CODE")), nil))
	if err != nil {
		t.Fatal(err)
	}
	if ls, err := h.flow.AcquireLock(ctx, sr.Job, importflow.LockState{}); err != nil || ls.Acquired {
		t.Fatalf("lock: %+v %v, want busy", ls, err)
	}
	j, err := h.cancel(sr.Job)
	if err != nil {
		t.Fatal(err)
	}
	h.checkCancelled(t, j, jobs.Counts{})
	if !strings.Contains(j.Message, "before its rows were read") {
		t.Errorf("message %q", j.Message)
	}
	// The other job is untouched; once it is gone the cancelled job never
	// takes the lock.
	if err := h.db.ReleaseLock(ctx, "acme", "01OTHERJOB0000000000000000"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.flow.AcquireLock(ctx, sr.Job, importflow.LockState{Attempt: 1}); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("AcquireLock after the cancel: %v, want Conflict", err)
	}
	if l, err := h.db.PeekLock(ctx, "acme"); err != nil || l.Holder != "" {
		t.Fatalf("lock taken by %s (%v)", l.Holder, err)
	}
	// Cancelling a job that has ended is a Conflict; one that does not
	// exist (or is another tenant's) is not found.
	if _, err := h.cancel(sr.Job); bulkerr.KindOf(err) != bulkerr.Conflict || !strings.Contains(err.Error(), "already ended (Cancelled)") {
		t.Fatalf("second cancel: %v", err)
	}
	other := sr.Job
	other.Tenant = "globex"
	if _, err := h.cancel(other); bulkerr.KindOf(err) != bulkerr.NotFound {
		t.Fatalf("another tenant's job: %v", err)
	}
}

// openHook runs fn when the upload is opened (Prepare's scan).
type openHook struct {
	*s3store.Store
	fn func()
}

func (o openHook) Open(ctx context.Context, key, version string) (io.ReadCloser, error) {
	if strings.HasPrefix(key, "imports/") && o.fn != nil {
		o.fn()
	}
	return o.Store.Open(ctx, key, version)
}

// TestCancelWhilePreparing: the cancel comes while Prepare reads the
// file. The job ends at once with nothing read and the lock free; Prepare
// then cannot move it to In Progress, and no chunk can run.
func TestCancelWhilePreparing(t *testing.T) {
	h := newHarness(t, 4)
	ctx := context.Background()
	sr, err := h.flow.Start(ctx, h.upload("acme", "work-type", "codes.csv", []byte("Name,Description,Type\n"+codes(8, 0, "IDLE_CODE")), nil))
	if err != nil {
		t.Fatal(err)
	}
	if ls, err := h.flow.AcquireLock(ctx, sr.Job, importflow.LockState{}); err != nil || !ls.Acquired {
		t.Fatal(ls, err)
	}
	var cancelled jobs.Job
	var cancelErr error
	h.flow.Files = openHook{Store: h.files, fn: func() { cancelled, cancelErr = h.cancel(sr.Job) }}
	_, err = h.flow.Prepare(ctx, sr.Job)
	h.flow.Files = h.files
	if cancelErr != nil {
		t.Fatal(cancelErr)
	}
	if bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("Prepare after the cancel: %v, want Conflict", err)
	}
	h.checkCancelled(t, cancelled, jobs.Counts{})
	j, err := h.db.GetJob(ctx, "acme", sr.Job.JobID)
	if err != nil || j.Status != jobs.StatusCancelled || j.Counts != (jobs.Counts{}) {
		t.Fatalf("job after Prepare: %+v %v", j, err)
	}
	if n := h.objectCount(t, "acme", 8); n != 0 {
		t.Fatalf("%d objects written", n)
	}
}

// TestCancelMidChunks: 20 rows in five chunks of 4; chunk 1 is applied,
// chunk 2 fails for good (the Map's Catch), then the cancel comes. The
// job ends Cancelled: the 4 applied rows stay and are in the results
// CSV, chunk 2's rows keep their own reason, the 12 rows of chunks 3-5
// are "not processed: cancelled by ..."; a chunk Lambda still running
// writes nothing and adds no counts.
func TestCancelMidChunks(t *testing.T) {
	h := newHarness(t, 4)
	ctx := context.Background()
	f := h.flow
	j, plan := h.planned(t, "Name,Description,Type\n"+codes(20, 0, "IDLE_CODE"))
	if len(plan.Chunks) != 5 {
		t.Fatalf("plan %+v", plan)
	}
	if _, err := f.ProcessChunk(ctx, j, plan.Chunks[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ChunkFailed(ctx, j, plan.Chunks[1], &importflow.StateError{Error: "Bulk.Internal", Cause: `{"errorMessage":"the object store refused it"}`}); err != nil {
		t.Fatal(err)
	}
	cancelled, err := h.cancel(j)
	if err != nil {
		t.Fatal(err)
	}
	errs := h.checkCancelled(t, cancelled, jobs.Counts{Total: 20, Processed: 20, Created: 4, Failed: 16})
	if n := notProcessed(errs); n != 12 {
		t.Errorf("%d rows not processed: cancelled by, want 12: %v", n, errs)
	}
	if errs[0][3] != "6" || !strings.HasPrefix(errs[0][5], "not processed: the object store refused it (") || errs[4][3] != "10" {
		t.Errorf("error CSV rows out of order or without their reason: %v", errs[:5])
	}
	if !strings.Contains(cancelled.Message, "16 of 20 rows were not processed") && !strings.Contains(cancelled.Message, "12 of 20 rows were not processed") {
		t.Errorf("message %q", cancelled.Message)
	}
	// A chunk Lambda still running (its execution is being stopped)
	// writes nothing and counts nothing; a Finalize finds the job ended.
	if _, err := f.ProcessChunk(ctx, j, plan.Chunks[2]); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("chunk after the cancel: %v, want Conflict", err)
	}
	if res, err := f.Finalize(ctx, j, plan); err != nil || res.Status != string(jobs.StatusCancelled) {
		t.Fatalf("Finalize of a cancelled job: %+v %v", res, err)
	}
	if _, err := h.files.Get(ctx, importflow.ResultsReportKey("acme", j.JobID)); bulkerr.KindOf(err) != bulkerr.NotFound {
		t.Fatalf("Finalize wrote reports of a cancelled job: %v", err)
	}
	if n := h.objectCount(t, "acme", 20); n != 4 {
		t.Fatalf("%d objects, want the 4 applied before the cancel", n)
	}
	after, err := h.db.GetJob(ctx, "acme", j.JobID)
	if err != nil || after.Counts != cancelled.Counts || after.Status != jobs.StatusCancelled {
		t.Fatalf("job changed after its cancel: %+v %v", after, err)
	}
}

// TestCancelWhileFinalizing: every chunk was applied and Finalize is
// writing the reports when the cancel comes. The job ends Cancelled with
// every row in its reports (its own, which a Finalize Lambda still running
// cannot overwrite), and that Finalize cannot end it.
func TestCancelWhileFinalizing(t *testing.T) {
	h := newHarness(t, 4)
	ctx := context.Background()
	f := h.flow
	body := "Name,Description,Type\n" + codes(10, 0, "IDLE_CODE") + "Bad,x,NO_SUCH_TYPE\n"
	j, plan := h.planned(t, body)
	for _, c := range plan.Chunks {
		if _, err := f.ProcessChunk(ctx, j, c); err != nil {
			t.Fatal(err)
		}
	}
	var cancelled jobs.Job
	var cancelErr error
	h.flow.Files = createHook{Store: h.files, key: importflow.ResultsReportKey("acme", j.JobID), fn: func() { cancelled, cancelErr = h.cancel(j) }}
	_, err := f.Finalize(ctx, j, plan)
	h.flow.Files = h.files
	if cancelErr != nil {
		t.Fatal(cancelErr)
	}
	if bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("Finalize beside the cancel: %v, want Conflict", err)
	}
	errs := h.checkCancelled(t, cancelled, jobs.Counts{Total: 11, Processed: 11, Created: 10, Failed: 1})
	if notProcessed(errs) != 0 || errs[0][4] != "NOT_ALLOWED" {
		t.Errorf("error CSV: %v", errs)
	}
	if !strings.Contains(cancelled.Message, "after every row had been processed") {
		t.Errorf("message %q", cancelled.Message)
	}
	if cancelled.ErrorKey == importflow.ErrorReportKey("acme", j.JobID) || cancelled.ResultsKey == importflow.ResultsReportKey("acme", j.JobID) {
		t.Errorf("the cancel's reports share Finalize's keys: %s %s", cancelled.ErrorKey, cancelled.ResultsKey)
	}
}

// createHook runs fn when the report at key is created.
type createHook struct {
	*s3store.Store
	key string
	fn  func()
}

func (c createHook) Create(ctx context.Context, key, contentType string) blob.Writer {
	if key == c.key && c.fn != nil {
		c.fn()
	}
	return c.Store.Create(ctx, key, contentType)
}

// applyHook runs fn before each Apply (once), as the cancel arriving while
// a chunk writes its objects.
type applyHook struct {
	importflow.ObjectStore
	fn func()
}

func (a applyHook) Apply(ctx context.Context, job string, writes []catalog.Write, conc int) ([]catalog.WriteResult, error) {
	if a.fn != nil {
		a.fn()
	}
	return a.ObjectStore.Apply(ctx, job, writes, conc)
}

// TestCancelWhileAChunkWrites: the cancel comes after chunk 2 claimed
// its writes and before they are made. The cancel finishes them itself
// (the chunk's stored decisions), so the rows are applied once and counted
// once, and the reports list them as applied; the chunk's own writes
// then change nothing and its commit is refused.
func TestCancelWhileAChunkWrites(t *testing.T) {
	h := newHarness(t, 4)
	ctx := context.Background()
	f := h.flow
	j, plan := h.planned(t, "Name,Description,Type\n"+codes(12, 0, "IDLE_CODE"))
	if len(plan.Chunks) != 3 {
		t.Fatalf("plan %+v", plan)
	}
	if _, err := f.ProcessChunk(ctx, j, plan.Chunks[0]); err != nil {
		t.Fatal(err)
	}
	orig := f.Objects
	var cancelled jobs.Job
	var cancelErr error
	once := false
	f.Objects = func(tn string) importflow.ObjectStore {
		return applyHook{ObjectStore: orig(tn), fn: func() {
			if !once {
				once = true
				f.Objects = orig // the cancel's own writes go straight through
				cancelled, cancelErr = h.cancel(j)
			}
		}}
	}
	_, err := f.ProcessChunk(ctx, j, plan.Chunks[1])
	f.Objects = orig
	if cancelErr != nil {
		t.Fatal(cancelErr)
	}
	if bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("the chunk's commit after the cancel: %v, want Conflict", err)
	}
	errs := h.checkCancelled(t, cancelled, jobs.Counts{Total: 12, Processed: 12, Created: 8, Failed: 4})
	if notProcessed(errs) != 4 {
		t.Errorf("error CSV: %v", errs)
	}
	if n := h.objectCount(t, "acme", 12); n != 8 {
		t.Fatalf("%d objects, want 8", n)
	}
	objs, err := h.db.Objects("acme").GetObjects(ctx, "work-type", []string{"code 05"})
	if err != nil || objs["code 05"].Version != 1 {
		t.Fatalf("a row of the chunk writing at the cancel was written %d times (%v)", objs["code 05"].Version, err)
	}
	// A chunk that has not claimed yet writes nothing.
	if _, err := f.ProcessChunk(ctx, j, plan.Chunks[2]); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("a chunk after the cancel: %v", err)
	}
	if n := h.objectCount(t, "acme", 12); n != 8 {
		t.Fatalf("%d objects after a late chunk, want 8", n)
	}
}
