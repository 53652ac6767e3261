package jobcleanup

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// fakeStore keeps jobs and the lock holder per tenant, as dynamostore does:
// Fail fails New or In Progress jobs and releases the holder's lock.
type fakeStore struct {
	jobs      map[string]jobs.Job // tenant/id
	locks     map[string]string   // tenant -> holder
	leases    []Lease
	execs     map[string]JobRef
	events    []jobs.Job
	failErr   error
	listedFor time.Time
}

func newFake() *fakeStore {
	return &fakeStore{jobs: map[string]jobs.Job{}, locks: map[string]string{}, execs: map[string]JobRef{}}
}

func (f *fakeStore) GetJob(_ context.Context, tenant, id string) (jobs.Job, error) {
	j, ok := f.jobs[tenant+"/"+id]
	if !ok {
		return jobs.Job{}, bulkerr.New(bulkerr.NotFound, "job %s not found", id)
	}
	return j, nil
}

func (f *fakeStore) Fail(_ context.Context, tenant, id, reason string, at time.Time) error {
	if f.failErr != nil {
		return f.failErr
	}
	j, ok := f.jobs[tenant+"/"+id]
	if !ok {
		return bulkerr.New(bulkerr.NotFound, "job %s not found", id)
	}
	if !j.Status.Final() && !j.CancelRequested() {
		j.Status, j.Message, j.EndedAt = jobs.StatusFailed, reason, &at
		f.jobs[tenant+"/"+id] = j
		if f.locks[tenant] == id {
			delete(f.locks, tenant)
		}
	}
	return nil
}

func (f *fakeStore) FinishCancelled(_ context.Context, tenant, id string, c jobs.Counts, ek, rk, msg string, at time.Time) error {
	j, ok := f.jobs[tenant+"/"+id]
	switch {
	case !ok:
		return bulkerr.New(bulkerr.NotFound, "job %s not found", id)
	case j.Status == jobs.StatusCancelled:
		return nil
	case !j.CancelRequested():
		return bulkerr.New(bulkerr.Conflict, "job %s is %s", id, j.Status)
	}
	j.Status, j.Counts, j.ErrorKey, j.ResultsKey, j.Message, j.EndedAt = jobs.StatusCancelled, c, ek, rk, msg, &at
	f.jobs[tenant+"/"+id] = j
	if f.locks[tenant] == id {
		delete(f.locks, tenant)
	}
	return nil
}

func (f *fakeStore) ReleaseRetry(_ context.Context, tenant, id, retry string) error {
	if j, ok := f.jobs[tenant+"/"+id]; ok && j.RetriedBy == retry {
		j.RetriedBy = ""
		f.jobs[tenant+"/"+id] = j
	}
	return nil
}

func (f *fakeStore) ReleaseLock(_ context.Context, tenant, job string) error {
	if f.locks[tenant] == job {
		delete(f.locks, tenant)
	}
	return nil
}

func (f *fakeStore) ExecutionJob(_ context.Context, arn string) (JobRef, bool, error) {
	r, ok := f.execs[arn]
	return r, ok, nil
}

func (f *fakeStore) ExpiredLeases(_ context.Context, before time.Time, limit int) ([]Lease, error) {
	f.listedFor = before
	var out []Lease
	for _, l := range f.leases {
		if l.Until.Before(before) && len(out) < limit {
			out = append(out, l)
		}
	}
	return out, nil
}

func (f *fakeStore) JobChanged(_ context.Context, j jobs.Job) error {
	f.events = append(f.events, j)
	return nil
}

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func cleaner(f *fakeStore) *Cleaner {
	return &Cleaner{Jobs: f, Locks: f, Executions: f, Leases: f, Events: f, Grace: time.Minute,
		Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
}

func (f *fakeStore) add(tenant, id string, st jobs.Status, locked bool) {
	f.jobs[tenant+"/"+id] = jobs.Job{Tenant: tenant, ID: id, Status: st}
	if locked {
		f.locks[tenant] = id
	}
}

func statusEvent(t *testing.T, status, arn string, errName string) json.RawMessage {
	t.Helper()
	d := map[string]any{"executionArn": arn, "stateMachineArn": "arn:sm", "name": "n", "status": status,
		"startDate": 1, "stopDate": 2, "input": "{}", "output": nil, "error": nil, "cause": nil}
	if errName != "" {
		d["error"] = errName
		d["cause"] = "details"
	}
	raw, _ := json.Marshal(map[string]any{"version": "0", "detail-type": StatusChangeDetailType, "source": "aws.states",
		"time": "2026-12-01T12:00:00Z", "detail": d})
	return raw
}

func TestExecutionEnded(t *testing.T) {
	for _, tc := range []struct {
		name, status, errName string
		job                   jobs.Status
		registered            bool
		wantFailed            bool
		wantReason            string
	}{
		{"aborted mid-chunk", "ABORTED", "", jobs.StatusInProgress, true, true, "aborted"},
		{"timed out", "TIMED_OUT", "States.Timeout", jobs.StatusInProgress, true, true, "time limit"},
		{"failed outside a Catch", "FAILED", "States.Runtime", jobs.StatusNew, true, true, "States.Runtime"},
		{"failed after MarkFailed: job already final", "FAILED", "Bulk.Invalid", jobs.StatusFailed, true, false, ""},
		{"no job registered", "ABORTED", "", jobs.StatusInProgress, false, false, ""},
		{"succeeded: not our business", "SUCCEEDED", "", jobs.StatusInProgress, true, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.add("acme", "J1", tc.job, !tc.job.Final())
			if tc.registered {
				f.execs["arn:exec"] = JobRef{Tenant: "acme", JobID: "J1"}
			}
			res, err := cleaner(f).Handle(context.Background(), statusEvent(t, tc.status, "arn:exec", tc.errName))
			if err != nil {
				t.Fatal(err)
			}
			j := f.jobs["acme/J1"]
			if got := len(res.Failed) == 1; got != tc.wantFailed {
				t.Fatalf("failed = %v, want %v (%+v)", res.Failed, tc.wantFailed, res)
			}
			if tc.wantFailed {
				if j.Status != jobs.StatusFailed || !strings.Contains(j.Message, tc.wantReason) {
					t.Errorf("job: %s %q, want Failed with %q", j.Status, j.Message, tc.wantReason)
				}
				if _, held := f.locks["acme"]; held {
					t.Error("the lock is still held")
				}
				if len(f.events) != 1 || f.events[0].Status != jobs.StatusFailed {
					t.Errorf("events: %+v", f.events)
				}
			} else if j.Status != tc.job {
				t.Errorf("job status changed to %s", j.Status)
			}
		})
	}
}

func TestAsyncFailed(t *testing.T) {
	record := func(condition, errType, msg string) json.RawMessage {
		raw, _ := json.Marshal(map[string]any{
			"version": "1.0", "timestamp": "2026-12-01T12:00:00.000Z",
			"requestContext": map[string]any{"requestId": "r1", "functionArn": "arn:aws:lambda:us-east-1:1:function:export:$LATEST",
				"condition": condition, "approximateInvokeCount": 3},
			"requestPayload":  map[string]any{"tenant": "acme", "jobId": "E1", "objectTypes": []string{"queue"}},
			"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
			"responsePayload": map[string]any{"errorType": errType, "errorMessage": msg},
		})
		return raw
	}
	for _, tc := range []struct {
		name, condition, errType, msg, want string
	}{
		{"timed out three times", "RetriesExhausted", "Sandbox.Timedout", "Task timed out after 900.00 seconds", "ran out of time"},
		{"bulk error", "RetriesExhausted", "Bulk.Transient", "the database is busy, try again", "after 3 attempts: the database is busy"},
		{"crash", "RetriesExhausted", "Runtime.ExitError", "exit status 2", "(Runtime.ExitError)"},
		{"too old", "EventAgeExceeded", "", "", "maximum event age"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.add("acme", "E1", jobs.StatusInProgress, true)
			res, err := cleaner(f).Handle(context.Background(), record(tc.condition, tc.errType, tc.msg))
			if err != nil || res.Source != "async-failure" || len(res.Failed) != 1 {
				t.Fatalf("%+v %v", res, err)
			}
			if j := f.jobs["acme/E1"]; j.Status != jobs.StatusFailed || !strings.Contains(j.Message, tc.want) {
				t.Errorf("job: %s %q, want %q", j.Status, j.Message, tc.want)
			}
			if _, held := f.locks["acme"]; held {
				t.Error("lock still held")
			}
		})
	}
	// A record without a job is refused (and retried into the DLQ by Lambda).
	f := newFake()
	_, err := cleaner(f).Handle(context.Background(), json.RawMessage(`{"requestContext":{},"requestPayload":{}}`))
	if bulkerr.KindOf(err) != bulkerr.Invalid {
		t.Fatalf("err = %v", err)
	}
}

// TestAsyncFailedRetryBuild: the OnFailure record of the retry function
// (its payload names retryOf) fails the retry job only while it still
// waits for its file, and then releases the old job's claim; a job whose
// file was written (adopted by its import) is left to its import, with
// the claim.
func TestAsyncFailedRetryBuild(t *testing.T) {
	record := func(condition, errType, msg string) json.RawMessage {
		raw, _ := json.Marshal(map[string]any{
			"version": "1.0", "timestamp": "2026-12-01T12:00:00.000Z",
			"requestContext": map[string]any{"requestId": "r1", "functionArn": "arn:aws:lambda:us-east-1:1:function:retry:$LATEST",
				"condition": condition, "approximateInvokeCount": 3},
			"requestPayload":  map[string]any{"tenant": "acme", "jobId": "R1", "retryOf": "O1", "user": "u", "dryRun": false},
			"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
			"responsePayload": map[string]any{"errorType": errType, "errorMessage": msg},
		})
		return raw
	}
	for _, tc := range []struct {
		name      string
		job       *jobs.Job // the retry job (nil: never recorded)
		condition string
		errType   string
		wantFail  string // the job's message, "" when not failed
		wantClaim bool   // the old job still names R1
	}{
		{"timed out while building", &jobs.Job{Status: jobs.StatusNew, RetryOf: "O1", Message: "building"}, "RetriesExhausted", "Sandbox.Timedout",
			"the build of the retry file failed after 3 attempts: it ran out of time; retry the job again", false},
		{"too old", &jobs.Job{Status: jobs.StatusNew, RetryOf: "O1"}, "EventAgeExceeded", "", "the build of the retry file could not be run in time", false},
		{"file written, import running", &jobs.Job{Status: jobs.StatusInProgress, RetryOf: "O1", SourceVersion: "v1"}, "RetriesExhausted", "Sandbox.Timedout", "", true},
		{"file written, job New", &jobs.Job{Status: jobs.StatusNew, RetryOf: "O1", SourceVersion: "v1"}, "RetriesExhausted", "Sandbox.Timedout", "", true},
		{"cancelled before its file", &jobs.Job{Status: jobs.StatusCancelled, RetryOf: "O1", CancelledBy: "a"}, "RetriesExhausted", "Sandbox.Timedout", "", false},
		{"never recorded", nil, "RetriesExhausted", "Bulk.Transient", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.jobs["acme/O1"] = jobs.Job{Tenant: "acme", ID: "O1", Status: jobs.StatusCompletedWithErrs, RetriedBy: "R1"}
			if tc.job != nil {
				j := *tc.job
				j.Tenant, j.ID = "acme", "R1"
				f.jobs["acme/R1"] = j
			}
			res, err := cleaner(f).Handle(context.Background(), record(tc.condition, tc.errType, "x"))
			if err != nil || res.Source != "async-failure" {
				t.Fatalf("%+v %v", res, err)
			}
			j := f.jobs["acme/R1"]
			if tc.wantFail != "" && (j.Status != jobs.StatusFailed || !strings.Contains(j.Message, tc.wantFail) || len(res.Failed) != 1) {
				t.Errorf("job: %s %q %v, want Failed with %q", j.Status, j.Message, res.Failed, tc.wantFail)
			}
			if tc.wantFail == "" && tc.job != nil && (j.Status != tc.job.Status || len(res.Failed) != 0) {
				t.Errorf("job: %s %v, want left %s", j.Status, res.Failed, tc.job.Status)
			}
			if got := f.jobs["acme/O1"].RetriedBy == "R1"; got != tc.wantClaim {
				t.Errorf("old job's claim kept = %v, want %v", got, tc.wantClaim)
			}
		})
	}
	// A record naming a job that is not the retry of retryOf changes nothing.
	f := newFake()
	f.jobs["acme/O1"] = jobs.Job{Tenant: "acme", ID: "O1", Status: jobs.StatusCompletedWithErrs, RetriedBy: "R1"}
	f.jobs["acme/R1"] = jobs.Job{Tenant: "acme", ID: "R1", Status: jobs.StatusNew, RetryOf: "O9"}
	if _, err := cleaner(f).Handle(context.Background(), record("RetriesExhausted", "", "")); bulkerr.KindOf(err) != bulkerr.Invalid ||
		f.jobs["acme/R1"].Status != jobs.StatusNew || f.jobs["acme/O1"].RetriedBy != "R1" {
		t.Fatalf("mismatched record: %v %+v", err, f.jobs)
	}
}

func TestSweep(t *testing.T) {
	f := newFake()
	f.add("a", "dead", jobs.StatusInProgress, true)
	f.add("b", "done", jobs.StatusCompleted, true) // ended, but its lock stayed
	f.add("c", "fresh", jobs.StatusInProgress, true)
	f.leases = []Lease{
		{Tenant: "a", Holder: "dead", Until: now.Add(-5 * time.Minute)},
		{Tenant: "b", Holder: "done", Until: now.Add(-5 * time.Minute)},
		{Tenant: "c", Holder: "fresh", Until: now.Add(-30 * time.Second)}, // within the grace
		{Tenant: "d", Holder: "gone", Until: now.Add(-time.Hour)},         // no job record
	}
	f.locks["d"] = "gone"
	raw, _ := json.Marshal(map[string]any{"detail-type": ScheduledDetailType, "source": "aws.events", "detail": map[string]any{}})
	res, err := cleaner(f).Handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if !f.listedFor.Equal(now.Add(-time.Minute)) {
		t.Errorf("leases listed before %s, want now - grace", f.listedFor)
	}
	if strings.Join(res.Failed, ",") != "a/dead" || res.Looked != 3 {
		t.Fatalf("result %+v", res)
	}
	if j := f.jobs["a/dead"]; j.Status != jobs.StatusFailed || !strings.Contains(j.Message, "not renewed") {
		t.Errorf("dead job: %s %q", j.Status, j.Message)
	}
	if f.jobs["b/done"].Status != jobs.StatusCompleted || f.jobs["c/fresh"].Status != jobs.StatusInProgress {
		t.Errorf("jobs changed that must not: %+v", f.jobs)
	}
	if _, held := f.locks["a"]; held {
		t.Error("dead job's lock held")
	}
	if _, held := f.locks["b"]; held {
		t.Error("finished job's stale lock held")
	}
	if _, held := f.locks["d"]; held {
		t.Error("lock of a missing job held")
	}
	if f.locks["c"] != "fresh" {
		t.Error("a live job lost its lock")
	}
	// A second tick changes nothing: idempotent.
	if res, err := cleaner(f).Sweep(context.Background()); err != nil || len(res.Failed) != 0 {
		t.Fatalf("second sweep: %+v %v", res, err)
	}
}

func TestHandleRefusesUnknownInput(t *testing.T) {
	for _, in := range []string{`[]`, `{"detail-type":"Object Created"}`, `not json`} {
		if _, err := cleaner(newFake()).Handle(context.Background(), json.RawMessage(in)); bulkerr.KindOf(err) != bulkerr.Invalid {
			t.Errorf("%s: err = %v, want Invalid", in, err)
		}
	}
}

func TestStoreErrorsAreReturned(t *testing.T) {
	f := newFake()
	f.add("acme", "J1", jobs.StatusInProgress, true)
	f.execs["arn:exec"] = JobRef{Tenant: "acme", JobID: "J1"}
	f.failErr = bulkerr.New(bulkerr.Transient, "the database is busy")
	if _, err := cleaner(f).Handle(context.Background(), statusEvent(t, "ABORTED", "arn:exec", "")); bulkerr.KindOf(err) != bulkerr.Transient {
		t.Fatalf("err = %v; a store failure must fail the invocation so Lambda retries it", err)
	}
}

// fakeRunning lists the jobs of running executions.
type fakeRunning struct {
	jobs  map[JobRef]bool
	err   error
	calls int
}

func (r *fakeRunning) RunningJobs(context.Context) (map[JobRef]bool, error) {
	r.calls++
	return r.jobs, r.err
}

// TestSweepLeavesImportsWhoseExecutionRuns: a swept import whose
// execution still runs (a step longer than the lease) is left to it; one
// whose execution is gone is failed; an export (no execution) is failed
// on its lease alone; and when the running executions cannot be listed,
// no import is failed on a guess.
func TestSweepLeavesImportsWhoseExecutionRuns(t *testing.T) {
	setup := func() *fakeStore {
		f := newFake()
		for _, j := range []jobs.Job{
			{Tenant: "a", ID: "slow", Type: jobs.TypeImport, Status: jobs.StatusInProgress},
			{Tenant: "b", ID: "dead", Type: jobs.TypeImport, Status: jobs.StatusInProgress},
			{Tenant: "c", ID: "export", Type: jobs.TypeExport, Status: jobs.StatusInProgress},
		} {
			f.jobs[j.Tenant+"/"+j.ID] = j
			f.locks[j.Tenant] = j.ID
			f.leases = append(f.leases, Lease{Tenant: j.Tenant, Holder: j.ID, Until: now.Add(-5 * time.Minute)})
		}
		return f
	}
	tests := []struct {
		name        string
		running     *fakeRunning
		wantFailed  string
		wantRunning string
		wantErr     bool
		wantCalls   int
	}{
		{"running execution", &fakeRunning{jobs: map[JobRef]bool{{Tenant: "a", JobID: "slow"}: true}}, "b/dead,c/export", "a/slow", false, 1},
		{"none running", &fakeRunning{jobs: map[JobRef]bool{}}, "a/slow,b/dead,c/export", "", false, 1},
		{"listing fails", &fakeRunning{err: bulkerr.New(bulkerr.Transient, "throttled")}, "c/export", "", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup()
			c := cleaner(f)
			c.Running = tt.running
			res, err := c.Sweep(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got := strings.Join(res.Failed, ","); got != tt.wantFailed {
				t.Errorf("failed %q, want %q", got, tt.wantFailed)
			}
			if got := strings.Join(res.Running, ","); got != tt.wantRunning {
				t.Errorf("running %q, want %q", got, tt.wantRunning)
			}
			if tt.running.calls != tt.wantCalls {
				t.Errorf("running executions listed %d times, want %d (once per tick when it succeeds)", tt.running.calls, tt.wantCalls)
			}
			if tt.wantRunning != "" && (f.jobs["a/slow"].Status != jobs.StatusInProgress || f.locks["a"] != "slow") {
				t.Errorf("the running import was touched: %+v lock %q", f.jobs["a/slow"], f.locks["a"])
			}
		})
	}
}

// TestCancelledJobs: the ABORTED event of an execution a cancel stopped
// leaves the Cancelled job as it is; while the cancel is still being
// carried out the event is refused as Transient (Lambda retries it); once
// CancelGrace has passed, or when the sweeper finds its lock, a job whose
// cancel died half-way ends Cancelled, never Failed.
func TestCancelledJobs(t *testing.T) {
	asked := func(ago time.Duration) *time.Time { at := now.Add(-ago); return &at }
	for _, tc := range []struct {
		name      string
		job       jobs.Job
		sweep     bool
		wantErr   bulkerr.Kind
		want      jobs.Status
		wantEnded bool
	}{
		{"aborted by its cancel, already Cancelled", jobs.Job{Status: jobs.StatusCancelled, CancelledBy: "a@acme"}, false, "", jobs.StatusCancelled, false},
		{"cancel still being carried out", jobs.Job{Status: jobs.StatusInProgress, CancelledBy: "a@acme", CancelRequestedAt: asked(2 * time.Second)}, false, bulkerr.Transient, jobs.StatusInProgress, false},
		{"cancel died half-way", jobs.Job{Status: jobs.StatusInProgress, CancelledBy: "a@acme", CancelRequestedAt: asked(2 * CancelGrace)}, false, "", jobs.StatusCancelled, true},
		{"swept after its cancel died", jobs.Job{Status: jobs.StatusNew, CancelledBy: "a@acme", CancelRequestedAt: asked(10 * time.Second)}, true, "", jobs.StatusCancelled, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			j := tc.job
			j.Tenant, j.ID, j.Type, j.Counts = "acme", "J1", jobs.TypeImport, jobs.Counts{Total: 10, Processed: 4, Created: 4}
			f.jobs["acme/J1"] = j
			if !j.Status.Final() {
				f.locks["acme"] = "J1"
			}
			f.execs["arn:exec"] = JobRef{Tenant: "acme", JobID: "J1"}
			var err error
			if tc.sweep {
				f.leases = []Lease{{Tenant: "acme", Holder: "J1", Until: now.Add(-5 * time.Minute)}}
				_, err = cleaner(f).Sweep(context.Background())
			} else {
				_, err = cleaner(f).Handle(context.Background(), statusEvent(t, "ABORTED", "arn:exec", ""))
			}
			if bulkerr.KindOf(err) != tc.wantErr && !(err == nil && tc.wantErr == "") {
				t.Fatalf("err = %v, want kind %q", err, tc.wantErr)
			}
			got := f.jobs["acme/J1"]
			if got.Status != tc.want {
				t.Fatalf("status %s, want %s (%q)", got.Status, tc.want, got.Message)
			}
			if tc.wantEnded {
				if !strings.Contains(got.Message, "cancelled by a@acme") || got.Counts.Created != 4 {
					t.Errorf("ended as %+v", got)
				}
				if _, held := f.locks["acme"]; held {
					t.Error("lock still held")
				}
				if len(f.events) != 1 || f.events[0].Status != jobs.StatusCancelled {
					t.Errorf("events %+v", f.events)
				}
			}
		})
	}
}
