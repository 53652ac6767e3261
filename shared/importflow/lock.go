package importflow

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// AcquireLock takes the tenant lock for the job. When another bulk
// operation holds it, it returns Acquired=false and how long to wait (the
// state machine's Wait state loops back); after Config.LockWaitAttempts
// attempts it fails with Bulk.Busy naming the job that holds the lock.
func (f *Flow) AcquireLock(ctx context.Context, j JobRef, st LockState) (LockState, error) {
	// A job cancelled while it waited never takes the lock (its execution
	// is being stopped).
	if err := f.stopIfCancelled(ctx, j); err != nil {
		return LockState{}, err
	}
	l, err := f.Locks.AcquireLock(ctx, j.Tenant, j.JobID, f.Config.LockLease)
	if err != nil {
		return LockState{}, err
	}
	st.Attempt++
	if l.Acquired {
		f.logger(j).InfoContext(ctx, "tenant lock acquired", "attempt", st.Attempt)
		return LockState{Acquired: true, Attempt: st.Attempt}, nil
	}
	if st.Attempt >= f.Config.LockWaitAttempts {
		waited := f.Config.LockWait * time.Duration(st.Attempt-1)
		return LockState{}, bulkerr.New(bulkerr.Busy,
			"another bulk operation is in progress (job %s); this upload waited %s for it to finish and then gave up. Upload the file again once that job has finished.",
			l.Holder, waited)
	}
	f.logger(j).InfoContext(ctx, "tenant busy, waiting", "holder", l.Holder, "attempt", st.Attempt)
	return LockState{
		Acquired: false, Attempt: st.Attempt, Holder: l.Holder,
		WaitSeconds: max(1, int(f.Config.LockWait.Seconds())),
	}, nil
}

// MarkFailed records the job as Failed with a reason taken from the caught
// error: the tenant-safe message the step reported, or a generic text for
// failures of the workflow itself.
//
// The phase it records is the one the job's state tells: not started and
// Bulk.Busy, the lock; not started, its checks (Prepare records the check
// itself when a file check fails: the first final status wins); started,
// its rows while not all were processed, else its reports.
func (f *Flow) MarkFailed(ctx context.Context, j JobRef, e *StateError) error {
	reason := FailureReason(e)
	job, err := f.Jobs.GetJob(ctx, j.Tenant, j.JobID)
	if err != nil {
		return err
	}
	phase := markedPhase(job, e)
	f.logger(j).WarnContext(ctx, "job failed", "reason", reason, "phase", phase)
	if err := f.Jobs.FailIn(ctx, j.Tenant, j.JobID, phase, reason, f.Now()); err != nil {
		return err
	}
	return f.announce(ctx, j.Tenant, j.JobID)
}

// markedPhase is where a job the state machine's Catch fails failed, from
// what the job records and the caught error.
func markedPhase(j jobs.Job, e *StateError) string {
	switch {
	case j.StartedAt == nil && e != nil && e.Error == bulkerr.KindStateName(bulkerr.Busy):
		return jobs.PhaseLock
	case j.StartedAt == nil:
		return jobs.PhasePrepare
	case j.Counts.Processed < j.Counts.Total:
		return jobs.PhaseRows
	}
	return jobs.PhaseReports
}

// failChecks ends job j Failed at once when a check of its file refused it
// (an error that is not Transient), recording the check as the phase, and
// returns err: the state machine's Catch then finds the job Failed and
// announces it (MarkFailed keeps the first final status). A transient
// error is returned as it is, to be retried.
func (f *Flow) failChecks(ctx context.Context, j JobRef, phase string, err error) error {
	if bulkerr.KindOf(err) == bulkerr.Transient {
		return err
	}
	if ferr := f.Jobs.FailIn(ctx, j.Tenant, j.JobID, phase, bulkerr.Message(err), f.Now()); ferr != nil {
		return ferr
	}
	return err
}

// FailureReason turns a caught Step Functions error into a sentence for the
// tenant. Errors raised by our steps (Bulk.*) carry a tenant-safe message in
// the Lambda error's cause; anything else is described generically.
func FailureReason(e *StateError) string {
	if e == nil {
		return "the import stopped for an unknown reason; upload the file again"
	}
	if bulkerr.IsStateName(e.Error) {
		var cause struct {
			ErrorMessage string `json:"errorMessage"`
		}
		if json.Unmarshal([]byte(e.Cause), &cause) == nil && cause.ErrorMessage != "" {
			return cause.ErrorMessage
		}
		// Some runners (aws-local-stepfunctions) report the cause as
		// "<errorType>: <errorMessage>" instead of the JSON document.
		if msg, ok := strings.CutPrefix(e.Cause, e.Error+": "); ok && msg != "" {
			return msg
		}
		if e.Cause != "" && !strings.HasPrefix(strings.TrimSpace(e.Cause), "{") {
			return e.Cause
		}
	}
	switch e.Error {
	case "States.Timeout":
		return "the import took longer than allowed and was stopped; split the file or try again"
	case bulkerr.KindStateName(bulkerr.Transient), "Lambda.TooManyRequestsException", "Lambda.ServiceException":
		return "the import failed after repeated temporary errors; upload the file again"
	}
	return "the import stopped unexpectedly (" + e.Error + "); upload the file again, and contact support if it keeps happening"
}
