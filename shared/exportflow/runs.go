package exportflow

import (
	"context"
	"log/slog"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// runFinisher ends a schedule's run (dynamostore.Store).
type runFinisher interface {
	FinishRun(ctx context.Context, tenant, id, job string, ok bool, highWater time.Time, reason string) (schedule.Schedule, error)
	EndCancelledRun(ctx context.Context, tenant, id, job string) error
}

// failureNotifier announces failed scheduled exports (jobevents.Publisher).
type failureNotifier interface {
	ExportFailed(ctx context.Context, f jobs.ExportFailure) error
}

// ScheduleRuns is the FinishHook that ends a schedule's run when its
// export job reaches a final status: a Completed job resets the schedule's
// consecutive failures and moves its high-water mark to the run window's
// end; any other final status counts a failure (the schedule suspends
// itself after its MaxFailures in a row) and publishes an "Export Failed"
// event, except Cancelled: an administrator's cancel is no failure, so the
// run just ends (no failure counted, the high-water mark stays). Test exports (Limit > 0) and on-demand exports (no ScheduleID)
// are left alone. Ending a run twice counts it once; the event, like the
// job events, is delivered at least once.
type ScheduleRuns struct {
	Schedules runFinisher
	Events    failureNotifier // optional
	Log       *slog.Logger    // optional
}

// ExportFinished ends the schedule's run of j.
func (r *ScheduleRuns) ExportFinished(ctx context.Context, req Request, j jobs.Job) error {
	if req.ScheduleID == "" || req.Limit > 0 || !j.Status.Final() {
		return nil
	}
	if j.Status == jobs.StatusCancelled {
		return r.Schedules.EndCancelledRun(ctx, req.Tenant, req.ScheduleID, req.JobID)
	}
	ok := j.Status == jobs.StatusCompleted
	reason := j.Message
	if !ok && reason == "" {
		reason = "the export ended " + string(j.Status)
	}
	// Only an incremental run's window moves the high-water mark; an
	// interval's end would make a later switch to incremental skip objects.
	var highWater time.Time
	if req.Options.Range.Mode == exportspec.RangeIncremental {
		highWater = req.Window.To
	}
	s, err := r.Schedules.FinishRun(ctx, req.Tenant, req.ScheduleID, req.JobID, ok, highWater, reason)
	if bulkerr.KindOf(err) == bulkerr.NotFound {
		if r.Log != nil {
			r.Log.WarnContext(ctx, "the schedule of a finished run is gone", "tenant", req.Tenant, "schedule", req.ScheduleID, "job", req.JobID)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if r.Log != nil && !s.Active {
		r.Log.WarnContext(ctx, "scheduled export suspended", "tenant", req.Tenant, "schedule", req.ScheduleID, "failures", s.Failures, "reason", s.SuspendedReason)
	}
	if r.Events == nil {
		return nil
	}
	return r.Events.ExportFailed(ctx, jobs.ExportFailure{
		Tenant: req.Tenant, ScheduleID: req.ScheduleID, Title: s.Title, JobID: req.JobID,
		ObjectTypes: s.ObjectTypes, Phase: jobs.FailurePhase(j), Reason: reason,
		ConsecutiveFailures: s.Failures, Suspended: !s.Active,
	})
}
