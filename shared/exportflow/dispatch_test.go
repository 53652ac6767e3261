package exportflow_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/localtest"
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
		if err := db.PutSchedule(ctx, dynamostore.Schedule{Tenant: tenant, ID: id, Title: id, ObjectTypes: []string{"queue"},
			Spec: spec, Active: active, NextRun: next, CreatedBy: "t", CreatedAt: now}); err != nil {
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
	if l, _ := db.PeekLock(ctx, "alpha"); l.Holder != s.LastJob {
		t.Fatalf("alpha's lock is held by %q, want the export job", l.Holder)
	}
	if b, _ := db.GetSchedule(ctx, "beta", "busy"); !b.NextRun.Equal(time.Date(2026, 6, 4, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("busy tenant's run moved to %s; it must stay due", b.NextRun)
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
