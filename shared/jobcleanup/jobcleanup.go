// Package jobcleanup ends jobs whose workflow died where no Catch of its
// own could end them, so a job never stays New or In Progress and a tenant
// is never blocked by a dead job. It runs in the job-cleanup function,
// which hears of three things (Handle tells them apart):
//
//   - Step Functions "Execution Status Change" events of the import state
//     machine (an EventBridge rule, status FAILED, TIMED_OUT or ABORTED):
//     an aborted execution, one that ran past the state machine's
//     TimeoutSeconds, one that exceeded its history, or one that failed
//     outside every Catch. The job is the one the execution's StartJob
//     state registered (Executions finds it).
//   - Lambda OnFailure destination records of the asynchronously invoked
//     export and retry functions: their retries ran out (a timeout, a
//     crash) or the event got too old. The job is named in the request
//     payload; a retry function's payload also names the job it retries
//     (retryOf), whose retry claim is released with the failed job, so
//     the job can be retried again.
//   - A schedule tick (EventBridge "Scheduled Event"): the sweeper. It
//     finds tenant locks whose lease ended more than Grace ago (Leases: a
//     sparse index over the lock items, so it reads only locks, never the
//     jobs) and fails the holder if it is still New or In Progress, unless
//     the holder is an import whose execution is still RUNNING (a step may
//     outlast the lease; the execution ends the job itself). It catches
//     whatever the two event paths missed (a lost event, an execution that
//     never started its cleanup).
//
// Ending a job is idempotent: a job already final is left as it is, and
// failing it releases the tenant lock in the same write when the job holds
// it. A cancelled job is already final: the ABORTED event of the
// execution its cancel stopped changes nothing. A job whose cancel was
// asked for but not finished (the API's cancel died half-way) is ended
// Cancelled, without reports, never Failed: by the ABORTED event once
// CancelGrace has passed since the cancel (before that the event is
// refused with a Transient error, so Lambda retries it later), or by the
// sweeper. The package links no AWS SDK; its stores are small interfaces.
package jobcleanup

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// JobRef names one job.
type JobRef struct {
	Tenant string
	JobID  string
}

// Lease is a tenant lock as the sweeper finds it.
type Lease struct {
	Tenant string
	Holder string    // the job holding the lock
	Until  time.Time // when its lease ended
}

// jobStore reads and fails jobs (dynamostore.Store). Fail sets a New or In
// Progress job Failed with the reason and releases the tenant lock in the
// same write when the job holds it; it leaves a final job as it is.
type jobStore interface {
	GetJob(ctx context.Context, tenant, id string) (jobs.Job, error)
	Fail(ctx context.Context, tenant, id, reason string, at time.Time) error
	// FinishCancelled ends a job whose cancel was asked for as Cancelled,
	// releasing the lock in the same write (dynamostore.Store).
	FinishCancelled(ctx context.Context, tenant, id string, c jobs.Counts, errorKey, resultsKey, message string, at time.Time) error
	// ReleaseRetry removes a job's retriedBy while it names retry
	// (dynamostore.Store).
	ReleaseRetry(ctx context.Context, tenant, id, retry string) error
}

// lockStore releases a tenant lock if the job holds it (dynamostore.Store).
type lockStore interface {
	ReleaseLock(ctx context.Context, tenant, job string) error
}

// executionJobs finds the job an import execution registered; found is
// false when the execution registered none (it failed before, or it was a
// duplicate delivery of an upload another execution owns).
type executionJobs interface {
	ExecutionJob(ctx context.Context, executionArn string) (ref JobRef, found bool, err error)
}

// leaseLister lists tenant locks whose lease ended before a time.
type leaseLister interface {
	ExpiredLeases(ctx context.Context, before time.Time, limit int) ([]Lease, error)
}

// runningExecutions tells which import jobs still have a RUNNING
// execution (cleanupapp.RunningImports: ListExecutions of the import state
// machine and each one's job).
type runningExecutions interface {
	RunningJobs(ctx context.Context) (map[JobRef]bool, error)
}

// notifier publishes job transitions (jobevents.Publisher).
type notifier interface {
	JobChanged(ctx context.Context, j jobs.Job) error
}

// Cleaner ends dead jobs. Build it once per process.
type Cleaner struct {
	Jobs       jobStore
	Locks      lockStore
	Executions executionJobs
	Leases     leaseLister
	// Running, when set, keeps the sweeper off import jobs whose
	// execution is still RUNNING: a step may run longer than the lock's
	// lease (Prepare's Timeout is 900 s, the lease 300 s) and extends the
	// lease only when it starts. Such a job is left to its execution,
	// which ends it (or, dying, sends the status change that does).
	Running runningExecutions
	Events  notifier // optional
	// Grace is how long past its lease's end a lock's job may still be
	// alive (a step that has not yet extended the lease) before the
	// sweeper fails it.
	Grace time.Duration
	// SweepLimit bounds the locks one tick looks at (the rest wait for the
	// next tick); zero means 100.
	SweepLimit int
	Now        func() time.Time
	Log        *slog.Logger
}

// Result says what one invocation did.
type Result struct {
	Source string   `json:"source"`           // execution, async-failure or sweep
	Failed []string `json:"failed,omitempty"` // <tenant>/<job> of the jobs failed now
	Looked int      `json:"looked,omitempty"` // jobs looked at
	// Running are <tenant>/<job> of swept import jobs left alone because
	// their execution still runs.
	Running []string `json:"running,omitempty"`
}

// Event is the part of an EventBridge event Handle reads.
type Event struct {
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Time       time.Time       `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

// ExecutionStatusChange is the detail of a Step Functions "Execution
// Status Change" event. Dates are milliseconds since the epoch.
type ExecutionStatusChange struct {
	ExecutionArn    string  `json:"executionArn"`
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Status          string  `json:"status"`
	StartDate       int64   `json:"startDate"`
	StopDate        *int64  `json:"stopDate"`
	Input           string  `json:"input"`
	Output          *string `json:"output"`
	Error           *string `json:"error"`
	Cause           *string `json:"cause"`
}

// AsyncFailure is the record Lambda sends an asynchronous invocation's
// OnFailure destination.
type AsyncFailure struct {
	Version        string    `json:"version"`
	Timestamp      time.Time `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"` // RetriesExhausted, EventAgeExceeded
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

// Detail types and sources Handle knows.
const (
	StatusChangeDetailType = "Step Functions Execution Status Change"
	ScheduledDetailType    = "Scheduled Event"
)

// Handle runs the cleanup the payload asks for: an execution status
// change, an async-invocation failure record, or a schedule tick.
func (c *Cleaner) Handle(ctx context.Context, raw json.RawMessage) (Result, error) {
	var probe struct {
		DetailType     string          `json:"detail-type"`
		RequestContext json.RawMessage `json:"requestContext"`
		RequestPayload json.RawMessage `json:"requestPayload"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Result{}, bulkerr.Wrap(bulkerr.Invalid, err, "cleanup input is not a JSON object")
	}
	switch {
	case probe.DetailType == StatusChangeDetailType:
		var ev Event
		var d ExecutionStatusChange
		if err := json.Unmarshal(raw, &ev); err != nil {
			return Result{}, bulkerr.Wrap(bulkerr.Invalid, err, "execution status change event")
		}
		if err := json.Unmarshal(ev.Detail, &d); err != nil || d.ExecutionArn == "" {
			return Result{}, bulkerr.New(bulkerr.Invalid, "execution status change event without an executionArn")
		}
		return c.ExecutionEnded(ctx, d)
	case probe.DetailType == ScheduledDetailType:
		return c.Sweep(ctx)
	case probe.RequestContext != nil && probe.RequestPayload != nil:
		var f AsyncFailure
		if err := json.Unmarshal(raw, &f); err != nil {
			return Result{}, bulkerr.Wrap(bulkerr.Invalid, err, "async invocation failure record")
		}
		return c.AsyncFailed(ctx, f)
	}
	return Result{}, bulkerr.New(bulkerr.Invalid,
		"cleanup input is neither an execution status change, a schedule tick nor an async invocation failure record")
}

// CancelGrace is how long the API's cancel may take to end a job it
// recorded a cancel for (the API function's timeout is 29 s).
const CancelGrace = time.Minute

// ExecutionEnded fails the job of an import execution that ended FAILED,
// TIMED_OUT or ABORTED; other statuses are ignored. A job cancelled by an
// administrator is left as it is (or ended Cancelled; see the package
// documentation).
func (c *Cleaner) ExecutionEnded(ctx context.Context, d ExecutionStatusChange) (Result, error) {
	res := Result{Source: "execution"}
	reason, ok := executionReason(d)
	if !ok {
		return res, nil
	}
	ref, found, err := c.Executions.ExecutionJob(ctx, d.ExecutionArn)
	if err != nil {
		return res, err
	}
	log := c.Log.With("execution", d.ExecutionArn, "status", d.Status)
	if !found {
		log.InfoContext(ctx, "the execution registered no job; nothing to clean up")
		return res, nil
	}
	res.Looked = 1
	if j, err := c.Jobs.GetJob(ctx, ref.Tenant, ref.JobID); err == nil && j.CancelRequested() &&
		j.CancelRequestedAt != nil && c.Now().Sub(*j.CancelRequestedAt) < CancelGrace {
		// The cancel that stopped the execution is writing the job's
		// reports right now; it ends the job. Come back later in case it
		// died (Lambda retries a failed async invocation).
		log.InfoContext(ctx, "the job's cancel is being carried out; asking to be retried", "tenant", ref.Tenant, "jobId", ref.JobID)
		return res, bulkerr.New(bulkerr.Transient, "job %s of %s is being cancelled; try again later", ref.JobID, ref.Tenant)
	}
	failed, err := c.end(ctx, ref, reason)
	if failed {
		res.Failed = append(res.Failed, ref.Tenant+"/"+ref.JobID)
		log.WarnContext(ctx, "job of a dead execution failed", "tenant", ref.Tenant, "jobId", ref.JobID, "reason", reason)
	}
	return res, err
}

// AsyncFailed fails the job of an asynchronous invocation that Lambda
// gave up on: an export's, or a retry job whose file the retry function
// could not build (its payload names retryOf). A retry job is failed only
// while it still waits for its file (an attempt that wrote it before
// dying leaves a job its import runs), and then the old job's retry claim
// is released.
func (c *Cleaner) AsyncFailed(ctx context.Context, f AsyncFailure) (Result, error) {
	res := Result{Source: "async-failure"}
	var req struct {
		Tenant  string `json:"tenant"`
		JobID   string `json:"jobId"`
		RetryOf string `json:"retryOf"`
	}
	if err := json.Unmarshal(f.RequestPayload, &req); err != nil || req.Tenant == "" || req.JobID == "" {
		return res, bulkerr.New(bulkerr.Invalid, "async invocation failure record of %s names no tenant and job", f.RequestContext.FunctionArn)
	}
	res.Looked = 1
	ref := JobRef{Tenant: req.Tenant, JobID: req.JobID}
	if req.RetryOf != "" {
		return c.retryFailed(ctx, f, ref, req.RetryOf, res)
	}
	reason := asyncReason(f, "export", "export fewer object types at once or use filters")
	failed, err := c.end(ctx, ref, reason)
	if failed {
		res.Failed = append(res.Failed, ref.Tenant+"/"+ref.JobID)
		c.Log.WarnContext(ctx, "job of a failed async invocation failed", "tenant", ref.Tenant, "jobId", ref.JobID,
			"condition", f.RequestContext.Condition, "attempts", f.RequestContext.ApproximateInvokeCount, "reason", reason)
	}
	return res, err
}

// retryFailed fails retry job ref, whose file the retry function could not
// build, and releases retryOf's claim on it.
func (c *Cleaner) retryFailed(ctx context.Context, f AsyncFailure, ref JobRef, retryOf string, res Result) (Result, error) {
	j, err := c.Jobs.GetJob(ctx, ref.Tenant, ref.JobID)
	switch {
	case bulkerr.KindOf(err) == bulkerr.NotFound:
		// Never recorded: only the claim may be left.
		return res, c.Jobs.ReleaseRetry(ctx, ref.Tenant, retryOf, ref.JobID)
	case err != nil:
		return res, err
	case j.RetryOf != retryOf:
		return res, bulkerr.New(bulkerr.Invalid, "async invocation failure record names job %s as the retry of %s, which it is not", ref.JobID, retryOf)
	case !j.AwaitingRetryFile():
		if j.Status.Final() && j.SourceVersion == "" {
			// Ended before its file arrived (a cancel): free the old job.
			return res, c.Jobs.ReleaseRetry(ctx, ref.Tenant, retryOf, ref.JobID)
		}
		c.Log.InfoContext(ctx, "the retry job has its file; its import ends it", "tenant", ref.Tenant, "jobId", ref.JobID, "status", string(j.Status))
		return res, nil
	}
	reason := asyncReason(f, "build of the retry file", "retry the job again, and contact support if it keeps happening")
	failed, err := c.end(ctx, ref, reason)
	if err != nil {
		return res, err
	}
	if failed {
		res.Failed = append(res.Failed, ref.Tenant+"/"+ref.JobID)
		c.Log.WarnContext(ctx, "retry job whose file could not be built failed", "tenant", ref.Tenant, "jobId", ref.JobID, "retryOf", retryOf,
			"condition", f.RequestContext.Condition, "attempts", f.RequestContext.ApproximateInvokeCount, "reason", reason)
	}
	if j, err := c.Jobs.GetJob(ctx, ref.Tenant, ref.JobID); err != nil || !j.Status.Final() {
		return res, err // it runs after all (adopted meanwhile): the claim stays
	}
	return res, c.Jobs.ReleaseRetry(ctx, ref.Tenant, retryOf, ref.JobID)
}

// Sweep fails the holders of locks whose lease ended more than Grace ago
// and that are still New or In Progress (except imports whose execution
// still runs, when Running is set), and removes locks whose holder
// already ended.
func (c *Cleaner) Sweep(ctx context.Context) (Result, error) {
	res := Result{Source: "sweep"}
	limit := c.SweepLimit
	if limit <= 0 {
		limit = 100
	}
	now := c.Now()
	leases, err := c.Leases.ExpiredLeases(ctx, now.Add(-c.Grace), limit)
	if err != nil {
		return res, err
	}
	var firstErr error
	var running map[JobRef]bool // listed once per tick, when needed
	for _, l := range leases {
		res.Looked++
		ref := JobRef{Tenant: l.Tenant, JobID: l.Holder}
		alive, err := c.executionRunning(ctx, ref, &running)
		if err != nil {
			// Not knowing is no reason to fail a job: the next tick asks
			// again (and the lease's end already lets another job in).
			c.Log.WarnContext(ctx, "could not tell whether the job's execution still runs; left for the next sweep",
				"tenant", l.Tenant, "jobId", l.Holder, "err", err.Error())
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if alive {
			res.Running = append(res.Running, l.Tenant+"/"+l.Holder)
			c.Log.InfoContext(ctx, "lease ran out but the job's execution still runs; left to it", "tenant", l.Tenant, "jobId", l.Holder, "leaseUntil", l.Until)
			continue
		}
		reason := fmt.Sprintf("the job stopped without finishing: its tenant lock was not renewed after %s (the step working on it ran out of time or crashed); start it again",
			l.Until.UTC().Format(time.RFC3339))
		failed, err := c.end(ctx, ref, reason)
		if failed {
			res.Failed = append(res.Failed, l.Tenant+"/"+l.Holder)
			c.Log.WarnContext(ctx, "job with an expired lease failed", "tenant", l.Tenant, "jobId", l.Holder, "leaseUntil", l.Until)
		}
		if err != nil && firstErr == nil {
			firstErr = err // the others still get their turn
		}
	}
	return res, firstErr
}

// executionRunning reports whether ref is an import job, not final, with
// a RUNNING execution. It lists the running executions once per sweep
// (into *running), and only when a swept job is an unfinished import.
func (c *Cleaner) executionRunning(ctx context.Context, ref JobRef, running *map[JobRef]bool) (bool, error) {
	if c.Running == nil {
		return false, nil
	}
	j, err := c.Jobs.GetJob(ctx, ref.Tenant, ref.JobID)
	switch {
	case bulkerr.KindOf(err) == bulkerr.NotFound:
		return false, nil
	case err != nil:
		return false, err
	case j.Status.Final() || j.Type != jobs.TypeImport:
		return false, nil
	}
	if *running == nil {
		m, err := c.Running.RunningJobs(ctx)
		if err != nil {
			return false, err
		}
		*running = m
	}
	return (*running)[ref], nil
}

// end fails ref's job with reason unless it is already final (or gone),
// and makes sure the job no longer holds the tenant lock. A job whose
// cancel was asked for ends Cancelled instead (with the counts it has and
// no reports: the cancel that would have written them died). It reports
// whether this call failed (or so cancelled) the job.
func (c *Cleaner) end(ctx context.Context, ref JobRef, reason string) (bool, error) {
	j, err := c.Jobs.GetJob(ctx, ref.Tenant, ref.JobID)
	switch {
	case bulkerr.KindOf(err) == bulkerr.NotFound, err == nil && j.Status.Final():
		// Nothing to fail; a lock it still holds is released.
		return false, c.Locks.ReleaseLock(ctx, ref.Tenant, ref.JobID)
	case err != nil:
		return false, err
	case j.CancelRequested():
		msg := fmt.Sprintf("cancelled by %s; the cancel stopped before it could write the reports, so the counts are those of the chunks applied before it (%d of %d rows processed) and the job has no error or results CSV; check the objects, and import the file again to apply the rest",
			j.CancelledBy, j.Counts.Processed, j.Counts.Total)
		if err := c.Jobs.FinishCancelled(ctx, ref.Tenant, ref.JobID, j.Counts, "", "", msg, c.Now()); err != nil {
			return false, err
		}
		if err := c.Locks.ReleaseLock(ctx, ref.Tenant, ref.JobID); err != nil {
			return true, err
		}
		if c.Events != nil {
			if j, err := c.Jobs.GetJob(ctx, ref.Tenant, ref.JobID); err == nil {
				if err := c.Events.JobChanged(ctx, j); err != nil {
					return true, err
				}
			}
		}
		return true, nil
	}
	if err := c.Jobs.Fail(ctx, ref.Tenant, ref.JobID, reason, c.Now()); err != nil {
		return false, err
	}
	if err := c.Locks.ReleaseLock(ctx, ref.Tenant, ref.JobID); err != nil {
		return true, err
	}
	j, err = c.Jobs.GetJob(ctx, ref.Tenant, ref.JobID)
	if err != nil {
		return true, err
	}
	if j.Status != jobs.StatusFailed {
		return false, nil // it ended by itself meanwhile
	}
	if c.Events != nil {
		if err := c.Events.JobChanged(ctx, j); err != nil {
			return true, err
		}
	}
	return true, nil
}

// executionReason is the tenant's sentence for an execution that ended
// without ending its job, and false for statuses that need no cleanup.
func executionReason(d ExecutionStatusChange) (string, bool) {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return strings.TrimSpace(*p)
	}
	switch d.Status {
	case "ABORTED":
		msg := "the import was stopped: its workflow execution was aborted"
		if cause := str(d.Cause); cause != "" {
			msg += " (" + truncate(cause, 300) + ")"
		}
		return msg + "; upload the file again to run it", true
	case "TIMED_OUT":
		return "the import took longer than its workflow's time limit and was stopped; split the file into smaller ones and upload them again", true
	case "FAILED":
		name := str(d.Error)
		if name == "" {
			name = "unknown error"
		}
		return "the import stopped unexpectedly (" + name + "); upload the file again, and contact support if it keeps happening", true
	}
	return "", false
}

// asyncReason is the tenant's sentence for an invocation Lambda gave up
// on: what names it ("export"), tooLong what to do when it ran out of
// time.
func asyncReason(f AsyncFailure, what, tooLong string) string {
	if f.RequestContext.Condition == "EventAgeExceeded" {
		return "the " + what + " could not be run in time (Lambda dropped its invocation after the maximum event age); start it again"
	}
	var resp struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal(f.ResponsePayload, &resp)
	attempts := f.RequestContext.ApproximateInvokeCount
	msg := fmt.Sprintf("the %s failed after %d attempts", what, max(attempts, 1))
	switch {
	case resp.ErrorType == "Sandbox.Timedout" || strings.Contains(resp.ErrorMessage, "timed out"):
		msg += ": it ran out of time; " + tooLong
	case bulkerr.IsStateName(resp.ErrorType) && resp.ErrorMessage != "":
		msg += ": " + truncate(resp.ErrorMessage, 500) // tenant-safe (bulkerr.Message)
	case resp.ErrorType != "":
		msg += " (" + resp.ErrorType + "); start it again, and contact support if it keeps happening"
	}
	return msg
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
