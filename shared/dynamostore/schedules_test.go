package dynamostore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/schedule"
)

var daily = schedule.Spec{Frequency: schedule.Daily, Time: "06:00", TimeZone: "Europe/Berlin"}

func newSchedule(tenant, id string, next time.Time) schedule.Schedule {
	return schedule.Schedule{Tenant: tenant, ID: id, Definition: schedule.Definition{Title: "Nightly " + id, Description: "all queues",
		ObjectTypes: []string{"queue", "site"}, Prefix: "nightly_", Spec: daily,
		Options: exportspec.Options{Header: exportspec.HeaderKeys, Range: exportspec.Range{Mode: exportspec.RangeIncremental}}},
		Active: true, NextRun: next, CreatedBy: "ana@acme", CreatedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

func dueIDs(t *testing.T, db *dynamostore.Store, now time.Time) []string {
	t.Helper()
	due, err := db.DueSchedules(context.Background(), now, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range due {
		ids = append(ids, s.Tenant+"/"+s.ID)
	}
	return ids
}

func wantKind(t *testing.T, err error, kind bulkerr.Kind, says string) {
	t.Helper()
	if bulkerr.KindOf(err) != kind || !strings.Contains(bulkerr.Message(err), says) {
		t.Fatalf("got %v, want %s saying %q", err, kind, says)
	}
}

// TestScheduleCRUD: create (Version 1, every field back), invalid and
// duplicate creates, list in ID order per tenant, versioned edits with the
// due index following nextRun, delete.
func TestScheduleCRUD(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	next := clk.now().Add(time.Hour)

	s := newSchedule("acme", "01K0000000000000000000000B", next)
	if err := db.PutSchedule(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetSchedule(ctx, "acme", s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || got.Title != s.Title || got.Description != s.Description || got.Prefix != s.Prefix ||
		strings.Join(got.ObjectTypes, ",") != "queue,site" || got.Spec != s.Spec || got.Options.Header != exportspec.HeaderKeys ||
		got.Options.Range.Mode != exportspec.RangeIncremental || !got.Active || !got.NextRun.Equal(next) ||
		got.CreatedBy != s.CreatedBy || !got.CreatedAt.Equal(s.CreatedAt) || got.Tenant != "acme" || got.Failures != 0 || got.RunningJob != "" {
		t.Fatalf("stored schedule %+v", got)
	}

	bad := []struct {
		name   string
		change func(*schedule.Schedule)
		kind   bulkerr.Kind
		says   string
	}{
		{"duplicate ID", func(*schedule.Schedule) {}, bulkerr.Conflict, "already exists"},
		{"no ID", func(s *schedule.Schedule) { s.ID = "" }, bulkerr.Invalid, "ID"},
		{"no types", func(s *schedule.Schedule) { s.ID, s.ObjectTypes = "x1", nil }, bulkerr.Invalid, "no object type"},
		{"bad when", func(s *schedule.Schedule) { s.ID, s.Spec.Time = "x2", "25:00" }, bulkerr.Invalid, "time"},
		{"bad options", func(s *schedule.Schedule) { s.ID, s.Options.SplitRows = "x3", 9000 }, bulkerr.Invalid, "splitRows"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			b := s
			c.change(&b)
			wantKind(t, db.PutSchedule(ctx, b), c.kind, c.says)
		})
	}
	_, err = db.GetSchedule(ctx, "acme", "nope")
	wantKind(t, err, bulkerr.NotFound, "nope")
	_, err = db.GetSchedule(ctx, "other", s.ID)
	wantKind(t, err, bulkerr.NotFound, s.ID)

	// List: by ID, only the tenant's.
	for _, id := range []string{"01K0000000000000000000000C", "01K0000000000000000000000A"} {
		if err := db.PutSchedule(ctx, newSchedule("acme", id, next)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutSchedule(ctx, newSchedule("other", "01K00000000000000000000000", next)); err != nil {
		t.Fatal(err)
	}
	list, err := db.ListSchedules(ctx, "acme")
	if err != nil || len(list) != 3 || list[0].ID[25] != 'A' || list[1].ID[25] != 'B' || list[2].ID[25] != 'C' || list[0].Tenant != "acme" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if empty, err := db.ListSchedules(ctx, "nobody"); err != nil || len(empty) != 0 {
		t.Fatalf("empty list: %+v %v", empty, err)
	}

	// Edit from version 1; a second edit from the same version conflicts.
	clk.advance(time.Minute)
	edit := got
	edit.Title, edit.ObjectTypes, edit.MaxFailures = "Renamed", []string{"site"}, 3
	edit.CreatedBy = "mallory" // not editable
	edit.NextRun = clk.now().Add(-time.Second)
	if err := db.UpdateSchedule(ctx, edit); err != nil {
		t.Fatal(err)
	}
	after, err := db.GetSchedule(ctx, "acme", s.ID)
	if err != nil || after.Version != 2 || after.Title != "Renamed" || strings.Join(after.ObjectTypes, ",") != "site" || after.MaxFailures != 3 ||
		after.CreatedBy != "ana@acme" || !after.UpdatedAt.Equal(clk.now()) || !after.NextRun.Equal(edit.NextRun) {
		t.Fatalf("after edit: %+v %v", after, err)
	}
	if ids := dueIDs(t, db, clk.now()); len(ids) != 1 || ids[0] != "acme/"+s.ID {
		t.Fatalf("due after moving the next run to the past: %v", ids)
	}
	stale := edit
	stale.Title = "Lost update"
	wantKind(t, db.UpdateSchedule(ctx, stale), bulkerr.Conflict, "reload")
	stale.ID = "missing"
	wantKind(t, db.UpdateSchedule(ctx, stale), bulkerr.NotFound, "missing")
	stale = after
	stale.Spec.Frequency = "yearly"
	wantKind(t, db.UpdateSchedule(ctx, stale), bulkerr.Invalid, "yearly")

	// No next run: out of the due index.
	after.NextRun = time.Time{}
	if err := db.UpdateSchedule(ctx, after); err != nil {
		t.Fatal(err)
	}
	if ids := dueIDs(t, db, clk.now().Add(1000*time.Hour)); len(ids) != 3 {
		t.Fatalf("due: %v; want the other three", ids)
	}

	if err := db.DeleteSchedule(ctx, "acme", s.ID); err != nil {
		t.Fatal(err)
	}
	_, err = db.GetSchedule(ctx, "acme", s.ID)
	wantKind(t, err, bulkerr.NotFound, s.ID)
	wantKind(t, db.DeleteSchedule(ctx, "acme", s.ID), bulkerr.NotFound, s.ID)
}

// TestScheduleRefusesChangesWhileRunningOrSubmitted: a run in progress
// blocks edits, deletes and a second claim; a once schedule whose run was
// claimed can no longer be edited (but deleted once its run ended).
func TestScheduleRefusesChangesWhileRunningOrSubmitted(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	now := clk.now()
	rec := newSchedule("acme", "REC", now.Add(-time.Hour))
	once := newSchedule("acme", "ONCE", now.Add(-time.Minute))
	once.Spec = schedule.Spec{Frequency: schedule.Once, At: "2026-11-22T11:59"}
	for _, s := range []schedule.Schedule{rec, once} {
		if err := db.PutSchedule(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	following := now.Add(23 * time.Hour)
	if ok, err := db.ClaimRun(ctx, "acme", "REC", rec.NextRun, following, true, "JOB1"); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if ok, err := db.ClaimRun(ctx, "acme", "ONCE", once.NextRun, time.Time{}, false, "JOB2"); err != nil || !ok {
		t.Fatalf("claim once: %v %v", ok, err)
	}
	r, err := db.GetSchedule(ctx, "acme", "REC")
	if err != nil {
		t.Fatalf("get recurring schedule: %v", err)
	}
	o, err := db.GetSchedule(ctx, "acme", "ONCE")
	if err != nil {
		t.Fatalf("get once schedule: %v", err)
	}
	if r.RunningJob != "JOB1" || r.LastJob != "JOB1" || r.Submitted || !r.NextRun.Equal(following) {
		t.Fatalf("claimed recurring schedule: %+v", r)
	}
	if o.RunningJob != "JOB2" || !o.Submitted || !o.NextRun.IsZero() {
		t.Fatalf("claimed once schedule: %+v", o)
	}
	// Even when its next run has come, a running schedule is not claimed.
	if ok, err := db.ClaimRun(ctx, "acme", "REC", following, following.Add(24*time.Hour), true, "JOB3"); err != nil || ok {
		t.Fatalf("second claim while running: %v %v", ok, err)
	}

	cases := []struct {
		name string
		do   func() error
		kind bulkerr.Kind
		says string
	}{
		{"edit running", func() error { return db.UpdateSchedule(ctx, r) }, bulkerr.Conflict, "running (job JOB1)"},
		{"delete running", func() error { return db.DeleteSchedule(ctx, "acme", "REC") }, bulkerr.Conflict, "running (job JOB1)"},
		{"delete running once", func() error { return db.DeleteSchedule(ctx, "acme", "ONCE") }, bulkerr.Conflict, "JOB2"},
		{"edit submitted once after its run", func() error {
			if _, err := db.FinishRun(ctx, "acme", "ONCE", "JOB2", true, time.Time{}, ""); err != nil {
				return err
			}
			return db.UpdateSchedule(ctx, o)
		}, bulkerr.Conflict, "clone"},
		{"edit after the run ended", func() error {
			if _, err := db.FinishRun(ctx, "acme", "REC", "JOB1", true, time.Time{}, ""); err != nil {
				return err
			}
			return db.UpdateSchedule(ctx, r)
		}, "", ""},
		{"delete once after its run", func() error { return db.DeleteSchedule(ctx, "acme", "ONCE") }, "", ""},
	}
	for _, c := range cases {
		err := c.do()
		if c.kind == "" {
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			continue
		}
		wantKind(t, err, c.kind, c.says)
	}
}

// TestSuspendAndResume: suspending takes a schedule out of the due index
// (a claim from a stale read fails), resuming puts it back with the given
// next run and clears failures and reason; both bump the version.
func TestSuspendAndResume(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	now := clk.now()
	s := newSchedule("acme", "S", now.Add(-time.Minute))
	if err := db.PutSchedule(ctx, s); err != nil {
		t.Fatal(err)
	}
	next := now.Add(time.Hour)
	steps := []struct {
		name     string
		active   bool
		next     time.Time
		reason   string
		version  int64
		due      int // due at next
		wantNext time.Time
	}{
		{"suspend", false, time.Time{}, "holiday freeze", 2, 0, time.Time{}},
		{"suspend again", false, time.Time{}, "still frozen", 3, 0, time.Time{}},
		{"resume", true, next, "", 4, 1, next},
		{"resume without a next run", true, time.Time{}, "", 5, 0, time.Time{}},
	}
	for i, c := range steps {
		got, err := db.SetScheduleActive(ctx, "acme", "S", 0, c.active, c.next, c.reason)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Active != c.active || got.SuspendedReason != c.reason || got.Version != c.version || !got.NextRun.Equal(c.wantNext) || got.Failures != 0 {
			t.Fatalf("%s: %+v", c.name, got)
		}
		if ids := dueIDs(t, db, next); len(ids) != c.due {
			t.Fatalf("%s: due %v", c.name, ids)
		}
		if i == 0 {
			if ok, err := db.ClaimRun(ctx, "acme", "S", s.NextRun, next, true, "J"); err != nil || ok {
				t.Fatalf("a suspended schedule was claimed: %v %v", ok, err)
			}
		}
	}
	_, err := db.SetScheduleActive(ctx, "acme", "missing", 0, false, time.Time{}, "x")
	wantKind(t, err, bulkerr.NotFound, "missing")
	// A resume computed from an older version (an edit came between) is
	// refused; from the stored version it goes through.
	cur, err := db.GetSchedule(ctx, "acme", "S")
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.SetScheduleActive(ctx, "acme", "S", cur.Version-1, true, next, "")
	wantKind(t, err, bulkerr.Conflict, "reload")
	if got, err := db.SetScheduleActive(ctx, "acme", "S", cur.Version, true, next, ""); err != nil || got.Version != cur.Version+1 || !got.NextRun.Equal(next) {
		t.Fatalf("resume at the stored version: %+v %v", got, err)
	}
}

// TestFinishRun: outcomes in a row with MaxFailures 3 — a success resets
// the count, three failures in a row suspend the schedule with the reason;
// the high-water mark only moves up and only on success; a repeated or
// concurrent finish of one job counts once; MaxFailures 0 means 1.
func TestFinishRun(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	t0 := clk.now()
	hw := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	s := newSchedule("acme", "S", t0)
	s.Spec = schedule.Spec{Frequency: schedule.Hourly, Time: "00:00"}
	s.MaxFailures = 3
	if err := db.PutSchedule(ctx, s); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		ok        bool
		highWater time.Time
		failures  int
		wantHW    time.Time
		active    bool
	}{
		{true, hw(1), 0, hw(1), true},
		{false, hw(2), 1, hw(1), true},
		{false, hw(3), 2, hw(1), true},
		{true, hw(4), 0, hw(4), true},
		{true, hw(2), 0, hw(4), true}, // never down
		{false, hw(6), 1, hw(4), true},
		{false, hw(7), 2, hw(4), true},
		{false, hw(8), 3, hw(4), false},
	}
	for i, c := range steps {
		cur, err := db.GetSchedule(ctx, "acme", "S")
		if err != nil {
			t.Fatal(err)
		}
		job := "JOB" + string(rune('A'+i))
		if ok, err := db.ClaimRun(ctx, "acme", "S", cur.NextRun, cur.NextRun.Add(time.Hour), true, job); err != nil || !ok {
			t.Fatalf("step %d: claim %v %v", i, ok, err)
		}
		// Five concurrent finishes of the same job count once.
		var wg sync.WaitGroup
		results := make([]schedule.Schedule, 5)
		errs := make([]error, 5)
		for k := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[k], errs[k] = db.FinishRun(ctx, "acme", "S", job, c.ok, c.highWater, "bucket gone")
			}()
		}
		wg.Wait()
		for k := range 5 {
			if errs[k] != nil {
				t.Fatalf("step %d: %v", i, errs[k])
			}
		}
		got, err := db.GetSchedule(ctx, "acme", "S")
		if err != nil {
			t.Fatal(err)
		}
		if got.Failures != c.failures || !got.HighWater.Equal(c.wantHW) || got.Active != c.active || got.RunningJob != "" {
			t.Fatalf("step %d (ok %v): failures %d, high water %s, active %v, running %q; want %d, %s, %v",
				i, c.ok, got.Failures, got.HighWater, got.Active, got.RunningJob, c.failures, c.wantHW, c.active)
		}
		// A late repeat changes nothing.
		again, err := db.FinishRun(ctx, "acme", "S", job, false, hw(99), "late")
		if err != nil || again.Failures != c.failures || !again.HighWater.Equal(c.wantHW) {
			t.Fatalf("step %d: repeated finish: %+v %v", i, again, err)
		}
	}
	got, err := db.GetSchedule(ctx, "acme", "S")
	if err != nil {
		t.Fatalf("get suspended schedule: %v", err)
	}
	if !strings.Contains(got.SuspendedReason, "3 consecutive runs failed") || !strings.Contains(got.SuspendedReason, "bucket gone") ||
		!got.NextRun.IsZero() || got.Version != 2 {
		t.Fatalf("suspended schedule: reason %q, next %s, version %d", got.SuspendedReason, got.NextRun, got.Version)
	}
	if ids := dueIDs(t, db, hw(1000)); len(ids) != 0 {
		t.Fatalf("a suspended schedule is due: %v", ids)
	}
	// Resuming clears the count; MaxFailures 0 suspends after one failure.
	s1 := newSchedule("acme", "ONE", t0)
	if err := db.PutSchedule(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.ClaimRun(ctx, "acme", "ONE", t0, t0.Add(24*time.Hour), true, "J1"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	one, err := db.FinishRun(ctx, "acme", "ONE", "J1", false, time.Time{}, "access denied")
	if err != nil || one.Active || one.Failures != 1 || !strings.Contains(one.SuspendedReason, "its run failed") || !strings.Contains(one.SuspendedReason, "access denied") {
		t.Fatalf("MaxFailures 0: %+v %v", one, err)
	}
	// A job that is not the running one changes nothing.
	if same, err := db.FinishRun(ctx, "acme", "ONE", "OTHER", true, hw(5), ""); err != nil || same.Failures != 1 || !same.HighWater.IsZero() {
		t.Fatalf("finish of a job not running: %+v %v", same, err)
	}
	_, err = db.FinishRun(ctx, "acme", "missing", "J1", true, time.Time{}, "")
	wantKind(t, err, bulkerr.NotFound, "missing")
}

// TestRunHistory: runs come back newest first per schedule, limited, and
// expire after 90 days.
func TestRunHistory(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	t0 := clk.now()
	runs := []schedule.Run{
		{Tenant: "acme", ScheduleID: "S", JobID: "01K00000000000000000000001", Planned: t0, At: t0,
			Window: exportspec.Window{To: t0}},
		{Tenant: "acme", ScheduleID: "S", JobID: "01K00000000000000000000002", Planned: t0.Add(time.Hour), At: t0.Add(time.Hour),
			Window: exportspec.Window{From: t0, To: t0.Add(time.Hour)}},
		{Tenant: "acme", ScheduleID: "S", JobID: "01K00000000000000000000003", Test: true, At: t0.Add(2 * time.Hour)},
		{Tenant: "acme", ScheduleID: "T", JobID: "01K00000000000000000000004", At: t0},
		{Tenant: "beta", ScheduleID: "S", JobID: "01K00000000000000000000005", At: t0},
	}
	for _, r := range runs {
		if err := db.RecordRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	wantKind(t, db.RecordRun(ctx, schedule.Run{Tenant: "acme", ScheduleID: "S"}), bulkerr.Invalid, "job")

	cases := []struct {
		name    string
		advance time.Duration
		limit   int32
		want    string // last digits of the job IDs
	}{
		{"all, newest first", 0, 0, "321"},
		{"limited", 0, 2, "32"},
		{"after 89 days", 89 * 24 * time.Hour, 10, "321"},
		{"after 91 days", 2 * 24 * time.Hour, 10, ""},
	}
	for _, c := range cases {
		clk.advance(c.advance)
		got, err := db.ListRuns(ctx, "acme", "S", c.limit)
		if err != nil {
			t.Fatal(err)
		}
		ids := ""
		for _, r := range got {
			ids += r.JobID[25:]
			if r.Tenant != "acme" || r.ScheduleID != "S" {
				t.Fatalf("%s: run %+v", c.name, r)
			}
		}
		if ids != c.want {
			t.Fatalf("%s: runs %q, want %q", c.name, ids, c.want)
		}
		if c.advance == 0 && c.limit == 0 {
			if !got[0].Test || !got[1].Window.From.Equal(t0) || !got[1].Window.To.Equal(t0.Add(time.Hour)) || !got[1].Planned.Equal(t0.Add(time.Hour)) || !got[2].At.Equal(t0) {
				t.Fatalf("%s: fields lost: %+v", c.name, got)
			}
		}
	}
}

// TestFailureAfterAUserSuspendKeepsTheirReason: a run that fails after
// its schedule was suspended by hand counts the failure but leaves the
// user's reason (the automatic suspension has nothing to add).
func TestFailureAfterAUserSuspendKeepsTheirReason(t *testing.T) {
	db, clk := newStore(t)
	ctx := context.Background()
	s := newSchedule("acme", "S", clk.now())
	s.Spec = schedule.Spec{Frequency: schedule.Hourly, Time: "00:00"}
	if err := db.PutSchedule(ctx, s); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.ClaimRun(ctx, "acme", "S", s.NextRun, s.NextRun.Add(time.Hour), true, "J1"); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, err := db.SetScheduleActive(ctx, "acme", "S", 0, false, time.Time{}, "suspended by ana@acme"); err != nil {
		t.Fatal(err)
	}
	got, err := db.FinishRun(ctx, "acme", "S", "J1", false, time.Time{}, "queue: access denied")
	if err != nil || got.Active || got.SuspendedReason != "suspended by ana@acme" || got.Failures != 1 || got.RunningJob != "" {
		t.Fatalf("after the failed run: %+v %v", got, err)
	}
}
