// Package jobcancel cancels a running job for an administrator of its
// tenant (POST /v1/jobs/{id}/cancel):
//
//  1. the cancel is recorded on the job, if it is New or In Progress
//     (dynamostore RequestCancel; a job that has ended is a Conflict, 409):
//     from then on no chunk adds counts to it and no step moves it;
//  2. an import's Step Functions execution (the job knows it from StartJob)
//     is stopped; chunk Lambdas still running check for the cancel before
//     they write, and their commits are refused;
//  3. the job ends Cancelled at once: an import with reports built from
//     what its chunks committed (importflow.FinishCancelled: applied rows
//     in the results CSV, the rest in the error CSV as "not processed:
//     cancelled by <user>"), an export with what it had read; the final
//     write releases the tenant lock in the same transaction, and the job
//     event goes out.
//
// The cleanup function treats the ABORTED event of the stopped execution
// as the end of an already final job. The package links no AWS SDK.
package jobcancel

import (
	"context"
	"log/slog"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// jobStore records and ends cancels (dynamostore.Store).
type jobStore interface {
	GetJob(ctx context.Context, tenant, id string) (jobs.Job, error)
	RequestCancel(ctx context.Context, tenant, id, user string, at time.Time) (jobs.Job, error)
	FinishCancelled(ctx context.Context, tenant, id string, c jobs.Counts, errorKey, resultsKey, message string, at time.Time) error
}

// executionStopper stops a Step Functions execution (StopExecution); an
// execution that has already ended is no error.
type executionStopper interface {
	StopExecution(ctx context.Context, executionArn, cause string) error
}

// importFinisher ends a cancelled import with its reports
// (importflow.Flow.FinishCancelled).
type importFinisher interface {
	FinishCancelled(ctx context.Context, j jobs.Job) (jobs.Job, error)
}

// notifier publishes job transitions (jobevents.Publisher).
type notifier interface {
	JobChanged(ctx context.Context, j jobs.Job) error
}

// Canceller cancels jobs. Build it once per process.
type Canceller struct {
	Jobs       jobStore
	Executions executionStopper
	Imports    importFinisher
	Events     notifier // optional: the export's event (imports announce their own)
	Now        func() time.Time
	Log        *slog.Logger
}

// Cancel cancels job id of tenant for user and returns the job as it
// ended (Cancelled). A job that does not exist (or is another tenant's) is
// NotFound; one that has ended, a Conflict. Asking again while a cancel is
// being carried out finishes it.
func (c *Canceller) Cancel(ctx context.Context, tenant, id, user string) (jobs.Job, error) {
	j, err := c.Jobs.RequestCancel(ctx, tenant, id, user, c.Now())
	if err != nil {
		return jobs.Job{}, err
	}
	log := c.Log.With("tenant", tenant, "jobId", id, "by", j.CancelledBy, "type", string(j.Type))
	log.InfoContext(ctx, "cancel recorded", "status", string(j.Status))
	switch j.Type {
	case jobs.TypeImport:
		if j.ExecutionArn != "" && c.Executions != nil {
			// Stopping is best effort: should it fail, the execution's
			// next step finds the cancel and writes nothing (every step
			// checks), so the job still ends now.
			if err := c.Executions.StopExecution(ctx, j.ExecutionArn, "cancelled by "+j.CancelledBy); err != nil {
				log.WarnContext(ctx, "the import's execution could not be stopped; its steps stop at the cancel", "execution", j.ExecutionArn, "err", err.Error())
			}
		}
		if c.Imports == nil {
			return jobs.Job{}, bulkerr.New(bulkerr.Internal, "imports cannot be cancelled here")
		}
		return c.Imports.FinishCancelled(ctx, j)
	case jobs.TypeExport:
		// The export function stops at its next page and finds the job
		// ended; the counts are those it committed before the cancel.
		if err := c.Jobs.FinishCancelled(ctx, tenant, id, j.Counts, "", "", jobs.ExportCancelledMessage(j.CancelledBy, j.Counts.Processed), c.Now()); err != nil {
			return jobs.Job{}, err
		}
		ended, err := c.Jobs.GetJob(ctx, tenant, id)
		if err != nil {
			return jobs.Job{}, err
		}
		if c.Events != nil {
			if err := c.Events.JobChanged(ctx, ended); err != nil {
				log.WarnContext(ctx, "job event not published", "err", err.Error())
			}
		}
		return ended, nil
	}
	return jobs.Job{}, bulkerr.New(bulkerr.Internal, "job %s has unknown type %q", id, j.Type)
}
