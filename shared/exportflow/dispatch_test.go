package exportflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportapp"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// startRecorder stands in for the asynchronous invoke of the export
// function (the CLI's end-to-end test runs the real one).
type startRecorder struct {
	mu  sync.Mutex
	got []exportflow.Request
}

func (r *startRecorder) StartExport(_ context.Context, req exportflow.Request) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, req)
	return nil
}

// TestDispatcherTicks: on DynamoDB Local, overlapping ticks start a due
// schedule's run exactly once and catch missed runs up once; a busy
// tenant's run stays due; a suspended schedule and a schedule not yet due
// do not run; a once schedule leaves the due index after its run.
func TestDispatcherTicks(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	ctx := context.Background()
	now := time.Date(2026, 6, 4, 9, 0, 0, 0, time.UTC)
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, func() time.Time { return now })
	rec := &startRecorder{}
	ids := ident.NewGenerator(nil)
	d := &exportflow.Dispatcher{Schedules: db, Store: db, Exports: rec, LockLease: time.Minute,
		NewID: func() (string, error) { return ids.New(time.Now()) }, Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}

	daily := schedule.Spec{Frequency: schedule.Daily, Time: "06:00"}
	put := func(tenant, id string, spec schedule.Spec, next time.Time, active bool) {
		if err := db.PutSchedule(ctx, schedule.Schedule{Tenant: tenant, ID: id, Definition: schedule.Definition{Title: id, ObjectTypes: []string{"queue"}, Spec: spec},
			Active: active, NextRun: next, CreatedBy: "t", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	put("alpha", "missed-three", daily, time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC), true)
	put("beta", "busy", daily, time.Date(2026, 6, 4, 6, 0, 0, 0, time.UTC), true)
	put("gamma", "suspended", daily, time.Date(2026, 6, 4, 6, 0, 0, 0, time.UTC), false)
	put("delta", "later", daily, time.Date(2026, 6, 5, 6, 0, 0, 0, time.UTC), true)
	put("epsilon", "once", schedule.Spec{Frequency: schedule.Once, At: "2026-06-04T08:00"}, time.Date(2026, 6, 4, 8, 0, 0, 0, time.UTC), true)
	if l, err := db.AcquireLock(ctx, "beta", "01JIMPORTRUNNING0000000000", time.Hour); err != nil || !l.Acquired {
		t.Fatal(l, err)
	}

	// Five overlapping ticks.
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.Tick(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	byTenant := map[string]int{}
	for _, r := range rec.got {
		byTenant[r.Tenant]++
	}
	if len(rec.got) != 2 || byTenant["alpha"] != 1 || byTenant["epsilon"] != 1 {
		t.Fatalf("started %v, want alpha and epsilon once each", byTenant)
	}
	s, err := db.GetSchedule(ctx, "alpha", "missed-three")
	if err != nil || !s.NextRun.Equal(time.Date(2026, 6, 5, 6, 0, 0, 0, time.UTC)) || s.LastJob != rec.got[0].JobID && s.LastJob != rec.got[1].JobID {
		t.Fatalf("alpha after the tick: next %s, last job %s, %v", s.NextRun, s.LastJob, err)
	}
	j, err := db.GetJob(ctx, "alpha", s.LastJob)
	if err != nil || j.Type != jobs.TypeExport || j.Status != jobs.StatusNew || j.SubmittedBy != "schedule missed-three (missed-three)" {
		t.Fatalf("alpha's job: %+v %v", j, err)
	}
	if l, err := db.PeekLock(ctx, "alpha"); err != nil || l.Holder != s.LastJob {
		t.Fatalf("alpha's lock is held by %q (%v), want the export job", l.Holder, err)
	}
	if b, err := db.GetSchedule(ctx, "beta", "busy"); err != nil || !b.NextRun.Equal(time.Date(2026, 6, 4, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("busy tenant's run moved to %s (%v); it must stay due", b.NextRun, err)
	}
	due, err := db.DueSchedules(ctx, now, 100)
	if err != nil || len(due) != 1 || due[0].ID != "busy" {
		t.Fatalf("still due: %+v %v; want only the busy tenant's", due, err)
	}
	// The busy tenant frees up: the next tick runs it.
	if err := db.ReleaseLock(ctx, "beta", "01JIMPORTRUNNING0000000000"); err != nil {
		t.Fatal(err)
	}
	started, err := d.Tick(ctx)
	if err != nil || len(started) != 1 {
		t.Fatalf("next tick started %v, %v", started, err)
	}
}

// testClock is the settable clock of the dispatcher and the store.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// failingStarter refuses to start exports (the async invoke failed).
type failingStarter struct{}

func (failingStarter) StartExport(context.Context, exportflow.Request) error {
	return bulkerr.New(bulkerr.Transient, "the export function could not be invoked")
}

// runRig is a dispatcher with its finish hook on DynamoDB Local, publishing
// Export Failed events to the dev server's EventBridge.
type runRig struct {
	t      *testing.T
	st     *localtest.Stack
	db     *dynamostore.Store
	clk    *testClock
	rec    *startRecorder
	d      *exportflow.Dispatcher
	hook   *exportflow.ScheduleRuns
	tenant string
}

func newRunRig(t *testing.T) *runRig {
	st := localtest.Require(t)
	st.Provision(t)
	clk := &testClock{t: time.Date(2026, 6, 4, 9, 0, 30, 0, time.UTC)}
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
		Objects: st.Ref("ObjectsTable"), Jobs: st.Ref("JobsTable"), Control: st.Ref("ControlTable"),
	}, clk.now)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	pub := jobevents.New(awsenv.EventBridge(st.Config), "")
	hook := &exportflow.ScheduleRuns{Schedules: db, Events: pub, Log: log}
	rec := &startRecorder{}
	ids := ident.NewGenerator(nil)
	d := &exportflow.Dispatcher{Schedules: db, Store: db, Exports: rec, Finished: hook, Events: pub, LockLease: time.Minute,
		NewID: func() (string, error) { return ids.New(clk.now()) }, Now: clk.now, Log: log}
	return &runRig{t: t, st: st, db: db, clk: clk, rec: rec, d: d, hook: hook, tenant: localtest.UniquePrefix(t) + "acme"}
}

// tick ticks the dispatcher at at and returns the requests it started.
func (r *runRig) tick(at time.Time) []exportflow.Request {
	r.t.Helper()
	r.clk.set(at)
	before := len(r.rec.got)
	if _, err := r.d.Tick(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	return append([]exportflow.Request(nil), r.rec.got[before:]...)
}

// end plays the export function's end of a run: the job becomes Completed
// or Failed and the finish hook hears of it.
func (r *runRig) end(req exportflow.Request, ok bool, reason string) {
	r.t.Helper()
	ctx := context.Background()
	now := r.clk.now()
	if err := r.db.MarkInProgress(ctx, req.Tenant, req.JobID, 0, 1, now); err != nil {
		r.t.Fatal(err)
	}
	var err error
	if ok {
		err = r.db.Finish(ctx, req.Tenant, req.JobID, jobs.StatusCompleted, "", "exports/x.zip", now)
	} else {
		err = r.db.Fail(ctx, req.Tenant, req.JobID, reason, now)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	j, err := r.db.GetJob(ctx, req.Tenant, req.JobID)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.hook.ExportFinished(ctx, req, j); err != nil {
		r.t.Fatal(err)
	}
}

func (r *runRig) schedule(id string) schedule.Schedule {
	r.t.Helper()
	s, err := r.db.GetSchedule(context.Background(), r.tenant, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// failedEvents returns the Export Failed events of the rig's tenant that
// the dev server received, oldest first.
func (r *runRig) failedEvents() []jobevents.ExportFailedDetail {
	r.t.Helper()
	var out []jobevents.ExportFailedDetail
	for _, d := range localtest.Events[jobevents.ExportFailedDetail](r.t, jobevents.Source, jobevents.ExportFailedType) {
		if d.Tenant == r.tenant {
			out = append(out, d)
		}
	}
	return out
}

// jobStatuses lists the statuses of the job events published for job.
func (r *runRig) jobStatuses(job string) []string {
	r.t.Helper()
	return localtest.JobStatuses(r.t, r.tenant, job)
}

func hm(h, m int) time.Time { return time.Date(2026, 6, 4, h, m, 30, 0, time.UTC) }

// TestIncrementalRunsFailuresAndSuspension follows an hourly incremental
// schedule (suspends after 2 failures in a row) through its runs on
// DynamoDB Local: the first window starts at zero, the next at the
// high-water mark; a tick while a run is in progress starts nothing; a
// failed run leaves the mark, so the catch-up run after missed hours
// covers every missed window once; the second failure in a row suspends
// the schedule and both failures go out as Export Failed events on the dev
// server's EventBridge; resuming runs it again from the mark; every run is
// in the history, newest first; a test run's end changes nothing.
func TestIncrementalRunsFailuresAndSuspension(t *testing.T) {
	r := newRunRig(t)
	ctx := context.Background()
	opts := exportspec.Options{Header: exportspec.HeaderKeys, Range: exportspec.Range{Mode: exportspec.RangeIncremental}}
	if err := r.db.PutSchedule(ctx, schedule.Schedule{Tenant: r.tenant, ID: "S", Definition: schedule.Definition{Title: "Hourly delta", ObjectTypes: []string{"queue", "site"}, Prefix: "delta_", Spec: schedule.Spec{Frequency: schedule.Hourly, Time: "00:00"}, Options: opts, MaxFailures: 2},
		Active: true, NextRun: hm(9, 0).Add(-30 * time.Second), CreatedBy: "t", CreatedAt: hm(8, 0)}); err != nil {
		t.Fatal(err)
	}
	type run struct {
		from, to time.Time
		planned  time.Time
	}
	var history []run
	startOne := func(at, planned, from time.Time) exportflow.Request {
		t.Helper()
		got := r.tick(at)
		if len(got) != 1 {
			t.Fatalf("tick at %s started %d runs, want 1", at, len(got))
		}
		req := got[0]
		want := exportspec.Window{From: from, To: at}
		if req.ScheduleID != "S" || req.Tenant != r.tenant || !req.Window.From.Equal(want.From) || !req.Window.To.Equal(want.To) ||
			req.Options.Header != exportspec.HeaderKeys || req.Options.Range.Mode != exportspec.RangeIncremental || req.Prefix != "delta_" ||
			strings.Join(req.ObjectTypes, ",") != "queue,site" || req.Limit != 0 {
			t.Fatalf("request at %s: %+v, want window %+v", at, req, want)
		}
		if s := r.schedule("S"); s.RunningJob != req.JobID {
			t.Fatalf("running job %q, want %s", s.RunningJob, req.JobID)
		}
		history = append(history, run{from, at, planned})
		return req
	}

	// 09:00 — the first run takes everything up to now.
	a := startOne(hm(9, 0), hm(9, 0).Add(-30*time.Second), time.Time{})
	// 10:00 — a is still running (a live export extends its lease on the
	// tenant lock): nothing starts, the schedule stays due.
	r.clk.set(hm(9, 59))
	if err := r.db.ExtendLock(ctx, r.tenant, a.JobID, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := r.tick(hm(10, 0)); len(got) != 0 {
		t.Fatalf("a run started while %s runs: %+v", a.JobID, got)
	}
	r.end(a, true, "")
	if s := r.schedule("S"); !s.HighWater.Equal(hm(9, 0)) || s.Failures != 0 || s.RunningJob != "" {
		t.Fatalf("after a success: %+v", s)
	}
	// 10:05 — caught up, from the high-water mark.
	b := startOne(hm(10, 5), hm(10, 0).Add(-30*time.Second), hm(9, 0))
	r.end(b, false, "queue: access denied")
	if s := r.schedule("S"); !s.HighWater.Equal(hm(9, 0)) || s.Failures != 1 || !s.Active {
		t.Fatalf("after one failure: %+v", s)
	}
	// 13:00 — 11:00, 12:00 and 13:00 were missed: one run covers them and
	// b's failed window.
	c := startOne(hm(13, 0), hm(11, 0).Add(-30*time.Second), hm(9, 0))
	if err := r.db.ExtendLock(ctx, r.tenant, c.JobID, 2*time.Minute); err != nil { // c is alive
		t.Fatal(err)
	}
	if got := r.tick(hm(13, 1)); len(got) != 0 {
		t.Fatalf("missed runs caught up more than once: %+v", got)
	}
	if s := r.schedule("S"); !s.NextRun.Equal(hm(14, 0).Add(-30 * time.Second)) {
		t.Fatalf("next run after the catch-up: %s", s.NextRun)
	}
	r.end(c, false, "site: throttled")
	s := r.schedule("S")
	if s.Active || s.Failures != 2 || !strings.Contains(s.SuspendedReason, "2 consecutive runs failed") || !strings.Contains(s.SuspendedReason, "site: throttled") {
		t.Fatalf("after the second failure: %+v", s)
	}
	if got := r.tick(hm(15, 0)); len(got) != 0 {
		t.Fatalf("a suspended schedule ran: %+v", got)
	}
	events := r.failedEvents()
	want := []jobevents.ExportFailedDetail{
		{Tenant: r.tenant, ScheduleID: "S", Title: "Hourly delta", JobID: b.JobID, ObjectTypes: []string{"queue", "site"}, Phase: jobs.PhaseExport,
			Reason: "queue: access denied", ConsecutiveFailures: 1},
		{Tenant: r.tenant, ScheduleID: "S", Title: "Hourly delta", JobID: c.JobID, ObjectTypes: []string{"queue", "site"}, Phase: jobs.PhaseExport,
			Reason: "site: throttled", ConsecutiveFailures: 2, Suspended: true},
	}
	if !reflect.DeepEqual(events, want) {
		t.Fatalf("Export Failed events:\n%+v\nwant\n%+v", events, want)
	}

	// Resumed for 16:00: from the mark, which c's failure left at 09:00.
	if _, err := r.db.SetScheduleActive(ctx, r.tenant, "S", 0, true, hm(16, 0).Add(-30*time.Second), ""); err != nil {
		t.Fatal(err)
	}
	d := startOne(hm(16, 0), hm(16, 0).Add(-30*time.Second), hm(9, 0))
	r.end(d, true, "")
	if s := r.schedule("S"); !s.HighWater.Equal(hm(16, 0)) || s.Failures != 0 || !s.Active {
		t.Fatalf("after the resumed run: %+v", s)
	}
	// A test run of the schedule that fails counts nothing.
	testReq := exportflow.Request{Tenant: r.tenant, JobID: "01TESTRUN00000000000000000", ScheduleID: "S", Limit: exportspec.TestExportRows}
	if err := r.db.CreateJob(ctx, jobs.Job{Tenant: r.tenant, ID: testReq.JobID, Type: jobs.TypeExport, Status: jobs.StatusNew, SubmittedAt: hm(16, 1)}); err != nil {
		t.Fatal(err)
	}
	r.end(testReq, false, "test failed")
	if s := r.schedule("S"); s.Failures != 0 || !s.Active || !s.HighWater.Equal(hm(16, 0)) || len(r.failedEvents()) != 2 {
		t.Fatalf("a test run changed the schedule: %+v", s)
	}

	runs, err := r.db.ListRuns(ctx, r.tenant, "S", 10)
	if err != nil || len(runs) != len(history) {
		t.Fatalf("history: %+v %v", runs, err)
	}
	for i, got := range runs {
		w := history[len(history)-1-i]
		if !got.Window.From.Equal(w.from) || !got.Window.To.Equal(w.to) || !got.Planned.Equal(w.planned) || !got.At.Equal(w.to) {
			t.Fatalf("history[%d] = %+v, want %+v", i, got, w)
		}
	}
	j, err := r.db.GetJob(ctx, r.tenant, d.JobID)
	if err != nil || j.SubmittedBy != "schedule Hourly delta (S)" || !strings.HasPrefix(j.FileName, "delta_") {
		t.Fatalf("job of the run: %+v %v", j, err)
	}
}

// TestWindowsByRange: each range mode gives the run its window and
// options.
func TestWindowsByRange(t *testing.T) {
	r := newRunRig(t)
	ctx := context.Background()
	from, to := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		id    string
		rng   exportspec.Range
		hw    time.Time
		wantW exportspec.Window
	}{
		{"all", exportspec.Range{}, time.Time{}, exportspec.Window{}},
		{"all-explicit", exportspec.Range{Mode: exportspec.RangeAll}, hm(1, 0), exportspec.Window{}},
		{"interval", exportspec.Range{Mode: exportspec.RangeInterval, From: &from, To: &to}, time.Time{}, exportspec.Window{From: from, To: to}},
		{"interval-open", exportspec.Range{Mode: exportspec.RangeInterval, From: &from}, time.Time{}, exportspec.Window{From: from}},
		{"incremental-first", exportspec.Range{Mode: exportspec.RangeIncremental}, time.Time{}, exportspec.Window{To: hm(8, 59)}},
		{"incremental-next", exportspec.Range{Mode: exportspec.RangeIncremental}, hm(8, 0), exportspec.Window{From: hm(8, 0), To: hm(8, 59)}},
	}
	// Incremental windows end WriteLag before the run, so writes still in
	// flight fall into the next window.
	r.d.WriteLag = time.Minute
	for i, c := range cases {
		// one tenant per schedule: the tenant lock allows one run at a time
		if err := r.db.PutSchedule(ctx, schedule.Schedule{Tenant: r.tenant + string(rune('a'+i)), ID: c.id, Definition: schedule.Definition{Title: c.id, ObjectTypes: []string{"site"}, Spec: schedule.Spec{Frequency: schedule.Daily, Time: "09:00"}, Options: exportspec.Options{Range: c.rng}},
			Active: true, NextRun: hm(9, 0).Add(-30 * time.Second), HighWater: c.hw, CreatedBy: "t", CreatedAt: hm(8, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	got := r.tick(hm(9, 0))
	byID := map[string]exportflow.Request{}
	for _, req := range got {
		byID[req.ScheduleID] = req
	}
	for _, c := range cases {
		req, ok := byID[c.id]
		if !ok {
			t.Errorf("%s: not started", c.id)
			continue
		}
		if !req.Window.From.Equal(c.wantW.From) || !req.Window.To.Equal(c.wantW.To) || req.Options.Range.Mode != c.rng.Mode {
			t.Errorf("%s: window %+v options %+v, want %+v", c.id, req.Window, req.Options.Range, c.wantW)
		}
	}
}

// TestRunThatCannotStartOrLostItsEnd: a run whose export cannot be started
// fails its job, frees the tenant lock and the schedule, and counts as a
// failure (with its event); a run whose job ended without the hook hearing
// of it is settled on the next due tick, and the tick after runs the
// schedule again.
func TestRunThatCannotStartOrLostItsEnd(t *testing.T) {
	r := newRunRig(t)
	ctx := context.Background()
	put := func(id string, max int) {
		if err := r.db.PutSchedule(ctx, schedule.Schedule{Tenant: r.tenant, ID: id, Definition: schedule.Definition{Title: id, ObjectTypes: []string{"site"}, Spec: schedule.Spec{Frequency: schedule.Hourly, Time: "00:00"}, MaxFailures: max},
			Active: true, NextRun: hm(9, 0).Add(-30 * time.Second), CreatedBy: "t", CreatedAt: hm(8, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	put("nostart", 3)
	r.d.Exports = failingStarter{}
	r.clk.set(hm(9, 0))
	if started, err := r.d.Tick(ctx); err != nil || len(started) != 0 {
		t.Fatalf("started %v, %v", started, err)
	}
	s := r.schedule("nostart")
	if s.RunningJob != "" || s.Failures != 1 || !s.Active || s.LastJob == "" {
		t.Fatalf("after a run that could not start: %+v", s)
	}
	j, err := r.db.GetJob(ctx, r.tenant, s.LastJob)
	if err != nil || j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "could not be started") {
		t.Fatalf("its job: %+v %v", j, err)
	}
	if l, err := r.db.PeekLock(ctx, r.tenant); err != nil || l.Holder != "" {
		t.Fatalf("the tenant lock is still held by %s (%v)", l.Holder, err)
	}
	if got := r.jobStatuses(s.LastJob); strings.Join(got, ",") != "Failed" {
		t.Fatalf("job events of the run that could not start: %v", got)
	}
	if ev := r.failedEvents(); len(ev) != 1 || ev[0].JobID != s.LastJob || ev[0].Suspended || ev[0].ConsecutiveFailures != 1 {
		t.Fatalf("events: %+v", ev)
	}
	if err := r.db.DeleteSchedule(ctx, r.tenant, "nostart"); err != nil {
		t.Fatal(err)
	}

	// A run whose end was lost.
	r.d.Exports = r.rec
	put("lost", 1)
	got := r.tick(hm(9, 1))
	if len(got) != 1 {
		t.Fatalf("started %d", len(got))
	}
	if err := r.db.MarkInProgress(ctx, r.tenant, got[0].JobID, 0, 1, hm(9, 2)); err != nil {
		t.Fatal(err)
	}
	if err := r.db.Finish(ctx, r.tenant, got[0].JobID, jobs.StatusCompleted, "", "k", hm(9, 3)); err != nil {
		t.Fatal(err)
	}
	// Due again at 10:00; the first tick settles the lost end, the next runs.
	if again := r.tick(hm(10, 0)); len(again) != 0 {
		t.Fatalf("ran before settling: %+v", again)
	}
	if s := r.schedule("lost"); s.RunningJob != "" || s.Failures != 0 || !s.Active {
		t.Fatalf("after settling: %+v", s)
	}
	again := r.tick(hm(10, 1))
	if len(again) != 1 {
		t.Fatalf("after settling started %d runs, want 1", len(again))
	}

	// A run whose export stopped without ending its job (a timed-out
	// function): while the job holds the tenant lock the schedule waits;
	// once the lease has run out, the next due tick fails the job and
	// ends the run (here the one failure allowed suspends the schedule).
	stuck := again[0].JobID
	r.clk.set(hm(10, 59).Add(30 * time.Second))
	if err := r.db.ExtendLock(ctx, r.tenant, stuck, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := r.tick(hm(11, 0)); len(got) != 0 {
		t.Fatalf("ran while the previous run holds the lock: %+v", got)
	}
	if j, err := r.db.GetJob(ctx, r.tenant, stuck); err != nil || j.Status.Final() {
		t.Fatalf("a live run's job was ended: %+v %v", j, err)
	}
	if got := r.tick(hm(12, 0)); len(got) != 0 {
		t.Fatalf("started %+v", got)
	}
	j, err = r.db.GetJob(ctx, r.tenant, stuck)
	if err != nil || j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "stopped without finishing") {
		t.Fatalf("stuck job: %+v %v", j, err)
	}
	if got := r.jobStatuses(stuck); strings.Join(got, ",") != "Failed" {
		t.Fatalf("job events of the stuck run: %v", got)
	}
	if s := r.schedule("lost"); s.RunningJob != "" || s.Active || s.Failures != 1 {
		t.Fatalf("after the stuck run: %+v", s)
	}
}

// TestScheduledExportEndToEnd runs the dispatcher's requests through the
// real export flow with the finish hook: a good export ends its run
// (schedule free, failures 0), an export of an unknown type fails and
// suspends the schedule with an Export Failed event.
func TestScheduledExportEndToEnd(t *testing.T) {
	r := newRunRig(t)
	ctx := context.Background()
	flow := exportapp.Assemble(r.db, s3store.New(r.st.Clients.S3, r.st.Ref("DataBucket")), time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	flow.Finished = r.hook
	for _, c := range []struct {
		id    string
		types []string
	}{{"good", []string{"site"}}, {"bad", []string{"widgets"}}} {
		if err := r.db.PutSchedule(ctx, schedule.Schedule{Tenant: r.tenant + c.id, ID: c.id, Definition: schedule.Definition{Title: c.id, ObjectTypes: c.types, Spec: schedule.Spec{Frequency: schedule.Daily, Time: "09:00"}},
			Active: true, NextRun: hm(9, 0).Add(-30 * time.Second), CreatedBy: "t", CreatedAt: hm(8, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, req := range r.tick(hm(9, 0)) {
		raw, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := flow.Handle(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	good, err := r.db.GetSchedule(ctx, r.tenant+"good", "good")
	if err != nil || good.RunningJob != "" || good.Failures != 0 || !good.Active || good.LastJob == "" {
		t.Fatalf("good: %+v %v", good, err)
	}
	if j, err := r.db.GetJob(ctx, r.tenant+"good", good.LastJob); err != nil || j.Status != jobs.StatusCompleted {
		t.Fatalf("good's job: %+v %v", j, err)
	}
	bad, err := r.db.GetSchedule(ctx, r.tenant+"bad", "bad")
	if err != nil || bad.RunningJob != "" || bad.Failures != 1 || bad.Active || !strings.Contains(bad.SuspendedReason, "widgets") {
		t.Fatalf("bad: %+v %v", bad, err)
	}
	r.tenant += "bad"
	if ev := r.failedEvents(); len(ev) != 1 || ev[0].JobID != bad.LastJob || !ev[0].Suspended || !strings.Contains(ev[0].Reason, "widgets") {
		t.Fatalf("events: %+v", ev)
	}
}

// dstTick is one dispatcher tick of TestDispatcherAcrossDaylightSaving:
// the instant, and the planned time of the run it must start (zero: it
// must start none).
type dstTick struct {
	at      time.Time
	planned time.Time
}

// TestDispatcherAcrossDaylightSaving runs Europe/Berlin schedules through
// the dispatcher on DynamoDB Local across the transitions of 2026 (clocks
// go forward on 29 March at 02:00 CET to 03:00 CEST, back on 25 October at
// 03:00 CEST to 02:00 CET), as shared/schedule documents them: a daily
// 02:30 falls into the skipped hour on 29 March and runs when the gap ends
// (03:00 CEST, 01:00 UTC), not lost, then at 02:30 CEST the next day; a
// daily 02:30 exists twice on 25 October and runs once, at its first
// occurrence (02:30 CEST, 00:30 UTC), then at 02:30 CET the next day; an
// hourly schedule runs every real hour across both nights (in UTC no hour
// doubled or skipped). Each case ticks at its runs' instants and at
// instants in between (among them the other readings of the wall-clock
// time) that must start nothing, ends each run before the next is due, and
// checks the requests started, the schedule's next run after every tick
// and the planned times and start times in the run history.
func TestDispatcherAcrossDaylightSaving(t *testing.T) {
	u := func(month time.Month, day, h, m, s int) time.Time {
		return time.Date(2026, month, day, h, m, s, 0, time.UTC)
	}
	// hourlyTicks runs an hourly schedule from first for n real hours: a
	// tick 20 s after each run is due (it runs), at half past (nothing)
	// and a second before the next (nothing).
	hourlyTicks := func(first time.Time, n int) []dstTick {
		var ticks []dstTick
		for i := range n {
			p := first.Add(time.Duration(i) * time.Hour)
			ticks = append(ticks, dstTick{p.Add(20 * time.Second), p}, dstTick{at: p.Add(30 * time.Minute)}, dstTick{at: p.Add(time.Hour - time.Second)})
		}
		return ticks
	}
	cases := []struct {
		name    string
		spec    schedule.Spec
		created time.Time
		ticks   []dstTick
		// next is the schedule's next run after the last tick.
		next time.Time
	}{
		{
			name: "daily 02:30 on the spring-forward day runs at 03:00 CEST",
			spec: schedule.Spec{Frequency: schedule.Daily, Time: "02:30", TimeZone: "Europe/Berlin"}, created: u(3, 28, 10, 0, 0),
			ticks: []dstTick{
				{at: u(3, 29, 0, 30, 0)},                  // 01:30 CET: 02:30 CET would be 01:30 UTC, it is not yet due
				{at: u(3, 29, 0, 59, 59)},                 // 01:59:59 CET, the last second before the gap
				{u(3, 29, 1, 0, 20), u(3, 29, 1, 0, 0)},   // 03:00:20 CEST: the gap has ended
				{at: u(3, 29, 1, 30, 0)},                  // 03:30 CEST (where Go's time.Date puts 02:30): no second run
				{at: u(3, 29, 22, 0, 0)},                  // midnight
				{at: u(3, 30, 0, 29, 59)},                 // 02:29:59 CEST
				{u(3, 30, 0, 30, 20), u(3, 30, 0, 30, 0)}, // 02:30 CEST
				{at: u(3, 30, 1, 0, 0)},                   // 03:00 CEST: not at the gap's end on a normal day
			},
			next: u(3, 31, 0, 30, 0),
		},
		{
			name: "daily 02:30 on the fall-back day runs once",
			spec: schedule.Spec{Frequency: schedule.Daily, Time: "02:30", TimeZone: "Europe/Berlin"}, created: u(10, 24, 10, 0, 0),
			ticks: []dstTick{
				{at: u(10, 25, 0, 29, 59)},                  // 02:29:59 CEST
				{u(10, 25, 0, 30, 20), u(10, 25, 0, 30, 0)}, // the first 02:30 (CEST)
				{at: u(10, 25, 1, 0, 0)},                    // the second 02:00 (CET)
				{at: u(10, 25, 1, 30, 0)},                   // the second 02:30 (CET): not again
				{at: u(10, 25, 1, 30, 20)},
				{at: u(10, 25, 2, 30, 0)},                   // 03:30 CET
				{at: u(10, 26, 0, 30, 0)},                   // 01:30 CET: a day after the CEST run is not due
				{at: u(10, 26, 1, 29, 59)},                  // 02:29:59 CET
				{u(10, 26, 1, 30, 20), u(10, 26, 1, 30, 0)}, // 02:30 CET
			},
			next: u(10, 27, 1, 30, 0),
		},
		{
			// 00:30 CEST, 01:30 CEST, 02:30 CEST, 02:30 CET, 03:30 CET,
			// 04:30 CET: the repeated hour is two real hours, both run.
			name: "hourly at :30 across the fall-back night runs every real hour",
			spec: schedule.Spec{Frequency: schedule.Hourly, Time: "00:30", TimeZone: "Europe/Berlin"}, created: u(10, 24, 22, 0, 0),
			ticks: hourlyTicks(u(10, 24, 22, 30, 0), 6),
			next:  u(10, 25, 4, 30, 0),
		},
		{
			// 00:30 CET, 01:30 CET, 03:30 CEST, 04:30 CEST: the skipped
			// hour does not exist, no real hour is missed.
			name: "hourly at :30 across the spring-forward night runs every real hour",
			spec: schedule.Spec{Frequency: schedule.Hourly, Time: "00:30", TimeZone: "Europe/Berlin"}, created: u(3, 28, 23, 0, 0),
			ticks: hourlyTicks(u(3, 28, 23, 30, 0), 4),
			next:  u(3, 29, 3, 30, 0),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRunRig(t)
			ctx := context.Background()
			first, ok, err := c.spec.Next(c.created)
			if err != nil || !ok {
				t.Fatalf("first run after %s: %v %v", c.created, ok, err)
			}
			r.clk.set(c.created)
			if err := r.db.PutSchedule(ctx, schedule.Schedule{Tenant: r.tenant, ID: "dst", Definition: schedule.Definition{Title: c.name, ObjectTypes: []string{"site"}, Spec: c.spec},
				Active: true, NextRun: first, CreatedBy: "t", CreatedAt: c.created}); err != nil {
				t.Fatal(err)
			}
			var planned, at []time.Time
			for _, tk := range c.ticks {
				got := r.tick(tk.at)
				if tk.planned.IsZero() {
					if len(got) != 0 {
						t.Fatalf("tick at %s (%s) started %d runs, want none", tk.at.Format(time.RFC3339), berlin(tk.at), len(got))
					}
					continue
				}
				if len(got) != 1 || got[0].ScheduleID != "dst" || got[0].Tenant != r.tenant {
					t.Fatalf("tick at %s (%s) started %+v, want the run planned for %s", tk.at.Format(time.RFC3339), berlin(tk.at), got, tk.planned.Format(time.RFC3339))
				}
				planned, at = append(planned, tk.planned), append(at, tk.at)
				r.end(got[0], true, "")
				if s := r.schedule("dst"); s.RunningJob != "" || s.LastJob != got[0].JobID {
					t.Fatalf("after the run of %s: running %q, last %q", tk.at.Format(time.RFC3339), s.RunningJob, s.LastJob)
				}
			}
			if s := r.schedule("dst"); !s.NextRun.Equal(c.next) {
				t.Errorf("next run after the last tick: %s (%s), want %s (%s)", s.NextRun.Format(time.RFC3339), berlin(s.NextRun), c.next.Format(time.RFC3339), berlin(c.next))
			}
			runs, err := r.db.ListRuns(ctx, r.tenant, "dst", 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != len(planned) {
				t.Fatalf("history holds %d runs, want %d", len(runs), len(planned))
			}
			for i, run := range runs {
				k := len(planned) - 1 - i // newest first
				if !run.Planned.Equal(planned[k]) || !run.At.Equal(at[k]) {
					t.Errorf("history[%d]: planned %s, started %s; want planned %s (%s), started %s",
						i, run.Planned.Format(time.RFC3339), run.At.Format(time.RFC3339), planned[k].Format(time.RFC3339), berlin(planned[k]), at[k].Format(time.RFC3339))
				}
			}
		})
	}
}

// berlin is t on Berlin's wall clock, for messages.
func berlin(t time.Time) string {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return "?"
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

// TestDeadRunsOutsideTheDueCycleAreSettled: a run whose export dies (the
// function timed out before it could end its job) is failed once its
// lease has run out, also when the schedule has no next run to bring it
// back to the dispatcher — a once schedule, or a schedule suspended while
// the run was going — and the schedule can then be deleted.
func TestDeadRunsOutsideTheDueCycleAreSettled(t *testing.T) {
	r := newRunRig(t)
	ctx := context.Background()
	put := func(id string, spec schedule.Spec, next time.Time) {
		if err := r.db.PutSchedule(ctx, schedule.Schedule{Tenant: r.tenant, ID: id, Definition: schedule.Definition{Title: id, ObjectTypes: []string{"site"}, Spec: spec, MaxFailures: 3},
			Active: true, NextRun: next, CreatedBy: "t", CreatedAt: hm(8, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	put("once", schedule.Spec{Frequency: schedule.Once, At: "2026-06-04T09:00"}, hm(9, 0))
	put("daily", schedule.Spec{Frequency: schedule.Daily, Time: "09:30"}, hm(9, 30))

	first := r.tick(hm(9, 0))
	if len(first) != 1 || first[0].ScheduleID != "once" {
		t.Fatalf("started %+v", first)
	}
	// The once run dies; ticks go on. While its lease lasts nothing
	// happens; after it, the job is failed and the schedule let go.
	if err := r.db.DeleteSchedule(ctx, r.tenant, "once"); bulkerr.KindOf(err) != bulkerr.Conflict {
		t.Fatalf("delete while running: %v", err)
	}
	r.clk.set(hm(9, 0).Add(30 * time.Second))
	second := r.tick(hm(9, 0).Add(30 * time.Second))
	if len(second) != 0 {
		t.Fatalf("started %+v while the once run's lease lasts", second)
	}
	third := r.tick(hm(9, 30)) // the lease has run out; the daily one is due
	if len(third) != 1 || third[0].ScheduleID != "daily" {
		t.Fatalf("started %+v", third)
	}
	o := r.schedule("once")
	j, err := r.db.GetJob(ctx, r.tenant, first[0].JobID)
	if err != nil || j.Status != jobs.StatusFailed || o.RunningJob != "" || !o.NextRun.IsZero() || o.Failures != 1 {
		t.Fatalf("dead once run: job %+v %v, schedule %+v", j, err, o)
	}
	if err := r.db.DeleteSchedule(ctx, r.tenant, "once"); err != nil {
		t.Fatalf("delete after settling: %v", err)
	}

	// The daily run dies after the schedule was suspended.
	if _, err := r.db.SetScheduleActive(ctx, r.tenant, "daily", 0, false, time.Time{}, "holiday"); err != nil {
		t.Fatal(err)
	}
	if got := r.tick(hm(11, 0)); len(got) != 0 {
		t.Fatalf("a suspended schedule started %+v", got)
	}
	d := r.schedule("daily")
	j, err = r.db.GetJob(ctx, r.tenant, third[0].JobID)
	if err != nil || j.Status != jobs.StatusFailed || d.RunningJob != "" || d.Active || !d.NextRun.IsZero() || d.SuspendedReason != "holiday" {
		t.Fatalf("dead run of a suspended schedule: job %+v %v, schedule %+v", j, err, d)
	}
	if due, err := r.db.DueSchedules(ctx, hm(23, 0), 100); err != nil || len(due) != 0 {
		t.Fatalf("still due: %+v %v", due, err)
	}
	if err := r.db.DeleteSchedule(ctx, r.tenant, "daily"); err != nil {
		t.Fatalf("delete after settling: %v", err)
	}
}

// TestOnlyIncrementalRunsMoveTheHighWaterMark: an interval run's end is
// not a high-water mark (a later switch to incremental would skip what
// came before it), and changing a schedule's range starts its mark over.
func TestOnlyIncrementalRunsMoveTheHighWaterMark(t *testing.T) {
	r := newRunRig(t)
	ctx := context.Background()
	from, to := hm(1, 0), hm(2, 0)
	if err := r.db.PutSchedule(ctx, schedule.Schedule{Tenant: r.tenant, ID: "S", Definition: schedule.Definition{Title: "S", ObjectTypes: []string{"site"}, Spec: schedule.Spec{Frequency: schedule.Hourly, Time: "00:00"}, Options: exportspec.Options{Range: exportspec.Range{Mode: exportspec.RangeInterval, From: &from, To: &to}}},
		Active: true, NextRun: hm(9, 0).Add(-30 * time.Second), CreatedBy: "t", CreatedAt: hm(8, 0)}); err != nil {
		t.Fatal(err)
	}
	got := r.tick(hm(9, 0))
	if len(got) != 1 {
		t.Fatalf("started %d", len(got))
	}
	r.end(got[0], true, "")
	s := r.schedule("S")
	if !s.HighWater.IsZero() {
		t.Fatalf("an interval run set the high-water mark to %s", s.HighWater)
	}
	s.Options = exportspec.Options{Range: exportspec.Range{Mode: exportspec.RangeIncremental}}
	if err := r.db.UpdateSchedule(ctx, s); err != nil {
		t.Fatal(err)
	}
	got = r.tick(hm(10, 0))
	if len(got) != 1 || !got[0].Window.From.IsZero() || !got[0].Window.To.Equal(hm(10, 0)) {
		t.Fatalf("first incremental run: %+v", got)
	}
	r.end(got[0], true, "")
	if s := r.schedule("S"); !s.HighWater.Equal(hm(10, 0)) {
		t.Fatalf("incremental run's mark: %s", s.HighWater)
	}
	// Back to all and again to incremental: the mark starts over.
	for _, mode := range []exportspec.RangeMode{exportspec.RangeAll, exportspec.RangeIncremental} {
		s := r.schedule("S")
		s.Options.Range = exportspec.Range{Mode: mode}
		if err := r.db.UpdateSchedule(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if s := r.schedule("S"); !s.HighWater.IsZero() {
		t.Fatalf("mark after the range changed: %s", s.HighWater)
	}
}

// TestBusyTenantCannotCrowdOutOthers: one tenant's runs that stay due (it
// is busy) and outnumber a query page do not keep another tenant's due
// run from starting, and a tenant gets at most one start per tick.
func TestBusyTenantCannotCrowdOutOthers(t *testing.T) {
	r := newRunRig(t)
	ctx := context.Background()
	busy, other := r.tenant+"-busy", r.tenant+"-other"
	put := func(tenant, id string, next time.Time) {
		if err := r.db.PutSchedule(ctx, schedule.Schedule{Tenant: tenant, ID: id, Definition: schedule.Definition{Title: id, ObjectTypes: []string{"site"}, Spec: schedule.Spec{Frequency: schedule.Hourly, Time: "00:00"}},
			Active: true, NextRun: next, CreatedBy: "t", CreatedAt: hm(8, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 150 {
		put(busy, fmt.Sprintf("b%03d", i), hm(8, 0))
	}
	put(other, "o", hm(8, 59))
	if l, err := r.db.AcquireLock(ctx, busy, "01JIMPORTRUNNING0000000000", time.Hour); err != nil || !l.Acquired {
		t.Fatal(l, err)
	}
	got := r.tick(hm(9, 0))
	if len(got) != 1 || got[0].Tenant != other {
		t.Fatalf("started %+v, want the other tenant's run", got)
	}
	// The busy tenant frees up: one of its runs starts per tick.
	if err := r.db.ReleaseLock(ctx, busy, "01JIMPORTRUNNING0000000000"); err != nil {
		t.Fatal(err)
	}
	if got := r.tick(hm(9, 1)); len(got) != 1 || got[0].Tenant != busy {
		t.Fatalf("started %+v, want one run of the freed tenant", got)
	}
}

// TestFileNamesCarryTheSchedulesDate: a schedule's export is named with
// the date in its time zone (06:00 in Tokyo is still the previous day in
// UTC), and the export writes its CSV parts with that date too.
func TestFileNamesCarryTheSchedulesDate(t *testing.T) {
	r := newRunRig(t)
	ctx := context.Background()
	runAt := time.Date(2026, 6, 4, 21, 0, 0, 0, time.UTC) // 2026-06-05 06:00 JST
	if err := r.db.PutSchedule(ctx, schedule.Schedule{Tenant: r.tenant, ID: "tokyo", Definition: schedule.Definition{Title: "Tokyo", ObjectTypes: []string{"site"}, Spec: schedule.Spec{Frequency: schedule.Daily, Time: "06:00", TimeZone: "Asia/Tokyo"}},
		Active: true, NextRun: runAt, CreatedBy: "t", CreatedAt: hm(8, 0)}); err != nil {
		t.Fatal(err)
	}
	got := r.tick(runAt.Add(30 * time.Second))
	if len(got) != 1 || got[0].TimeZone != "Asia/Tokyo" {
		t.Fatalf("started %+v", got)
	}
	j, err := r.db.GetJob(ctx, r.tenant, got[0].JobID)
	if err != nil || j.FileName != "Site_2026-06-05.zip" {
		t.Fatalf("job file name %q (%v), want the Tokyo date", j.FileName, err)
	}
}
