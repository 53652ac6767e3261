package importflow

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ccbulk/bulkops/shared/blob"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// CancelledReason is what the error CSV says of a row a cancel left out
// ("not processed: cancelled by <user>").
func CancelledReason(user string) string { return "cancelled by " + user }

// CancelledErrorReportKey and CancelledResultsReportKey are where the
// reports of a cancelled import are written: keys of their own, so a
// Finalize Lambda still running after its execution was stopped can never
// overwrite them with reports that disagree with the job.
func CancelledErrorReportKey(tenant, job string) string {
	return resultsPrefix(tenant, job) + "cancelled/errors.csv"
}

// CancelledResultsReportKey: see CancelledErrorReportKey.
func CancelledResultsReportKey(tenant, job string) string {
	return resultsPrefix(tenant, job) + "cancelled/results.csv"
}

// refOf is the workflow's reference to a job record.
func refOf(j jobs.Job) JobRef {
	return JobRef{Tenant: j.Tenant, JobID: j.ID, Bucket: j.Bucket, Key: j.SourceKey, VersionID: j.SourceVersion,
		ObjectType: j.ObjectType, FileName: j.FileName, DryRun: j.DryRun}
}

// stopIfCancelled fails with a Conflict when a cancel was asked for job j
// (or it ended Cancelled): a step checks it before it writes, so a
// cancelled import writes nothing more even while its execution is being
// stopped.
func (f *Flow) stopIfCancelled(ctx context.Context, j JobRef) error {
	job, err := f.Jobs.GetJob(ctx, j.Tenant, j.JobID)
	if err != nil {
		return err
	}
	if job.CancelledBy != "" || job.Status == jobs.StatusCancelled {
		return bulkerr.New(bulkerr.Conflict, "job %s was cancelled by %s; nothing more is written for it", j.JobID, job.CancelledBy)
	}
	return nil
}

// FinishCancelled ends an import whose cancel was asked for
// (dynamostore.Store.RequestCancel) as Cancelled, with reports built from
// what its chunks committed before the cancel: the results CSV lists
// every row applied (committed chunks' parts), the error CSV the rows
// rejected, the rows of chunks that failed for good (with their reason)
// and every row of a chunk not processed, as "not processed: cancelled by
// <user>" (the partial-failure report of Finalize). Its counts agree with
// the reports: total the planned rows, processed all of them, failed the
// error CSV's rows. Since the cancel was recorded no chunk adds counts
// (CommitChunk's condition), so the chunks and counters read here are
// final. A job cancelled before its plan was stored (waiting for the
// lock, or preparing) read no row: it ends with zero counts and no reports
// (the upload itself is the rows not processed). The final write releases
// the tenant lock. It returns the job as it ended; a job already Cancelled
// is returned as it is.
func (f *Flow) FinishCancelled(ctx context.Context, job jobs.Job) (jobs.Job, error) {
	if job.Status == jobs.StatusCancelled {
		return job, nil
	}
	if !job.CancelRequested() {
		return jobs.Job{}, bulkerr.New(bulkerr.Internal, "job %s (%s) has no cancel to finish", job.ID, job.Status)
	}
	j := refOf(job)
	user := job.CancelledBy
	sp, _, err := f.loadPlan(ctx, j)
	if bulkerr.KindOf(err) == bulkerr.NotFound {
		msg := fmt.Sprintf("cancelled by %s before its rows were read: nothing was applied, and the uploaded file is the rows not processed; upload it again to import it", user)
		if err := f.Jobs.FinishCancelled(ctx, j.Tenant, j.JobID, jobs.Counts{}, "", "", msg, f.Now()); err != nil {
			return jobs.Job{}, err
		}
		return f.ended(ctx, j)
	}
	if err != nil {
		return jobs.Job{}, err
	}
	counted, err := f.Progress.CountedChunks(ctx, j.Tenant, j.JobID)
	if err != nil {
		return jobs.Job{}, err
	}
	if job, err = f.Jobs.GetJob(ctx, j.Tenant, j.JobID); err != nil { // the counters, after the markers
		return jobs.Job{}, err
	}
	counts := job.Counts
	// Chunks that claimed their writes before the cancel but did not
	// commit may be writing right now: finish their writes (the same
	// stored decisions, so each object is written once) and count them.
	claimed, err := f.Progress.ClaimedChunks(ctx, j.Tenant, j.JobID)
	if err != nil {
		return jobs.Job{}, err
	}
	for i := range claimed {
		if _, ok := counted[i]; ok {
			continue
		}
		c, reason, err := f.finishClaimed(ctx, j, i)
		if err != nil {
			return jobs.Job{}, err
		}
		if reason != "" {
			counted[i] = reason // its rows go to the error CSV with the reason
			continue
		}
		counts.Created, counts.Updated, counts.Unchanged = counts.Created+c.Created, counts.Updated+c.Updated, counts.Unchanged+c.Unchanged
		counted[i] = ""
	}
	p := PlanRef{Rows: sp.Rows, Chunks: make([]ChunkRef, len(sp.Chunks))}
	notProcessed := map[int]string{} // failed and not processed chunks, with the reason
	left, countedRows := 0, 0
	for i, c := range sp.Chunks {
		p.Chunks[i] = ChunkRef{Index: c.Index, Start: c.Start, End: c.End, FirstRow: c.FirstRow, Rows: c.Rows}
		reason, ok := counted[c.Index]
		switch {
		case !ok:
			notProcessed[c.Index] = CancelledReason(user)
			left += c.Rows
		case reason != "":
			notProcessed[c.Index] = reason
			countedRows += c.Rows
		default:
			countedRows += c.Rows
		}
	}
	f.logger(j).InfoContext(ctx, "finishing a cancel", "countedRows", countedRows, "processed", job.Counts.Processed, "claimed", len(claimed))
	counts.Total, counts.Processed, counts.Failed = sp.Rows, sp.Rows, sp.Rows-counts.Created-counts.Updated-counts.Unchanged

	resultsKey, errorKey := CancelledResultsReportKey(j.Tenant, j.JobID), ""
	var errs blob.Writer
	var errW io.Writer
	if counts.Failed > 0 {
		errorKey = CancelledErrorReportKey(j.Tenant, j.JobID)
		errs = f.Files.Create(ctx, errorKey, "text/csv; charset=utf-8")
		defer errs.Abort()
		errW = errs
	}
	res := f.Files.Create(ctx, resultsKey, "text/csv; charset=utf-8")
	defer res.Abort()
	if err := f.writeReports(ctx, j, p, sp, notProcessed, errW, res, nil); err != nil {
		return jobs.Job{}, err
	}
	if errs != nil {
		if err := errs.Close(); err != nil {
			return jobs.Job{}, err
		}
	}
	if err := res.Close(); err != nil {
		return jobs.Job{}, err
	}
	msg := fmt.Sprintf("cancelled by %s after every row had been processed; the results CSV lists them", user)
	if left > 0 {
		msg = fmt.Sprintf("cancelled by %s: %d of %d rows were not processed and are in the error CSV marked NOT_PROCESSED (import that file again to apply them); the %d rows applied before the cancel stay applied and are in the results CSV",
			user, left, sp.Rows, counts.Created+counts.Updated+counts.Unchanged)
	}
	if err := f.Jobs.FinishCancelled(ctx, j.Tenant, j.JobID, counts, errorKey, resultsKey, msg, f.Now()); err != nil {
		return jobs.Job{}, err
	}
	f.logger(j).InfoContext(ctx, "job cancelled", "by", user, "total", counts.Total, "notProcessed", left,
		"created", counts.Created, "updated", counts.Updated, "unchanged", counts.Unchanged, "failed", counts.Failed)
	return f.ended(ctx, j)
}

// finishClaimed completes chunk i of a cancelled job, which claimed its
// writes and did not commit: it applies the chunk's stored decisions (a
// write the chunk already made is not repeated) and returns its counts.
// When the chunk cannot be finished so (its decisions were dropped to be
// made again, or an object changed meanwhile) it returns the reason its
// rows are reported as not processed.
func (f *Flow) finishClaimed(ctx context.Context, j JobRef, i int) (jobs.Counts, string, error) {
	raw, err := f.Files.Get(ctx, decisionsKey(j.Tenant, j.JobID, i))
	if bulkerr.KindOf(err) == bulkerr.NotFound {
		return jobs.Counts{}, "cancelled while the chunk was being decided again; some of its rows may have been applied", nil
	}
	if err != nil {
		return jobs.Counts{}, "", err
	}
	var dec chunkDecisions
	if err := json.Unmarshal(raw, &dec); err != nil {
		return jobs.Counts{}, "", bulkerr.Wrap(bulkerr.Internal, err, "decoding decisions of chunk %d", i)
	}
	counts, writes := dec.tally()
	res, err := f.Objects(j.Tenant).Apply(ctx, j.JobID, writes, f.Config.WriteParallelism)
	if bulkerr.KindOf(err) == bulkerr.Conflict {
		// The fenced write path refuses a job that lost its tenant lock.
		return jobs.Counts{}, "cancelled after the job had lost the tenant lock; some of its rows may have been applied", nil
	}
	if err != nil {
		return jobs.Counts{}, "", err
	}
	for _, r := range res {
		if r == catalog.Conflicted {
			return jobs.Counts{}, "cancelled while an object of the chunk was changed by someone else; some of its rows may have been applied", nil
		}
	}
	f.logger(j).InfoContext(ctx, "finished the writes of a chunk that was writing when the job was cancelled", "chunk", i, "writes", len(writes))
	return counts, "", nil
}

// ended announces the job's final state and returns it.
func (f *Flow) ended(ctx context.Context, j JobRef) (jobs.Job, error) {
	if err := f.announce(ctx, j.Tenant, j.JobID); err != nil {
		f.logger(j).WarnContext(ctx, "job event not published", "err", err.Error())
	}
	return f.Jobs.GetJob(ctx, j.Tenant, j.JobID)
}
