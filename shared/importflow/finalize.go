package importflow

import (
	"bytes"
	"context"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// Finalize merges the chunks' error and results parts in row order into one
// error CSV and one results CSV, and sets the job's final status from its
// counts. Writing the final status releases the tenant lock in the same
// transaction, so a client that sees it can start the next operation at
// once. Running it again gives the same files and status.
func (f *Flow) Finalize(ctx context.Context, j JobRef, p PlanRef) (FinalizeResult, error) {
	job, err := f.Jobs.GetJob(ctx, j.Tenant, j.JobID)
	if err != nil {
		return FinalizeResult{}, err
	}
	if job.Status.Final() && job.Status != jobs.StatusFailed {
		// A retry after the final status was written (and the lock
		// released with it): only the event may be missing.
		if err := f.announce(ctx, j.Tenant, j.JobID); err != nil {
			return FinalizeResult{}, err
		}
		return FinalizeResult{Status: string(job.Status), Total: job.Counts.Total, Failed: job.Counts.Failed,
			ErrorKey: job.ErrorKey, ResultKey: job.ResultsKey}, nil
	}
	if err := f.Locks.ExtendLock(ctx, j.Tenant, j.JobID, f.Config.LockLease); err != nil {
		return FinalizeResult{}, err
	}
	if job.Counts.Processed != p.Rows {
		return FinalizeResult{}, bulkerr.New(bulkerr.Internal,
			"job %s: %d of %d rows were processed; not finalizing an incomplete job", j.JobID, job.Counts.Processed, p.Rows)
	}
	sp, _, err := f.loadPlan(ctx, j)
	if err != nil {
		return FinalizeResult{}, err
	}

	var errs, res bytes.Buffer
	ew := csvimport.NewErrorWriter(&errs, sp.Header)
	rw := csvimport.NewResultWriter(&res)
	if err := ew.Flush(); err != nil {
		return FinalizeResult{}, bulkerr.Wrap(bulkerr.Internal, err, "writing error report header")
	}
	if err := rw.Flush(); err != nil {
		return FinalizeResult{}, bulkerr.Wrap(bulkerr.Internal, err, "writing results report header")
	}
	for _, c := range p.Chunks {
		if job.Counts.Failed > 0 {
			part, err := f.Files.Get(ctx, errorPartKey(j.Tenant, j.JobID, c.Index))
			switch {
			case err == nil:
				errs.Write(part)
			case bulkerr.KindOf(err) != bulkerr.NotFound: // a chunk without rejected rows has no part
				return FinalizeResult{}, err
			}
		}
		part, err := f.Files.Get(ctx, resultPartKey(j.Tenant, j.JobID, c.Index))
		if err != nil {
			return FinalizeResult{}, err
		}
		res.Write(part)
	}
	out := FinalizeResult{Status: string(jobs.FinalStatus(job.Counts)), Total: job.Counts.Total, Failed: job.Counts.Failed}
	if job.Counts.Failed > 0 {
		out.ErrorKey = ErrorReportKey(j.Tenant, j.JobID)
		if err := f.Files.Put(ctx, out.ErrorKey, "text/csv; charset=utf-8", errs.Bytes(), nil); err != nil {
			return FinalizeResult{}, err
		}
	}
	out.ResultKey = ResultsReportKey(j.Tenant, j.JobID)
	if err := f.Files.Put(ctx, out.ResultKey, "text/csv; charset=utf-8", res.Bytes(), nil); err != nil {
		return FinalizeResult{}, err
	}
	if err := f.Jobs.Finish(ctx, j.Tenant, j.JobID, jobs.FinalStatus(job.Counts), out.ErrorKey, out.ResultKey, f.Now()); err != nil {
		return FinalizeResult{}, err
	}
	if err := f.announce(ctx, j.Tenant, j.JobID); err != nil {
		return FinalizeResult{}, err
	}
	f.logger(j).InfoContext(ctx, "job finished", "status", out.Status, "total", job.Counts.Total,
		"created", job.Counts.Created, "updated", job.Counts.Updated, "unchanged", job.Counts.Unchanged, "failed", job.Counts.Failed)
	return out, nil
}
