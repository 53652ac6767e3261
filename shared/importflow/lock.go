package importflow

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
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
func (f *Flow) MarkFailed(ctx context.Context, j JobRef, e *StateError) error {
	reason := FailureReason(e)
	f.logger(j).WarnContext(ctx, "job failed", "reason", reason)
	if err := f.Jobs.Fail(ctx, j.Tenant, j.JobID, reason, f.Now()); err != nil {
		return err
	}
	return f.announce(ctx, j.Tenant, j.JobID)
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
