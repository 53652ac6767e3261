package importflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ccbulk/bulkops/shared/audiozip"
	"github.com/ccbulk/bulkops/shared/blob"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Finalize merges the chunks' error and results parts in row order into one
// error CSV and one results CSV, and sets the job's final status from its
// counts. Both reports are streamed to the bucket part by part
// (blob.Writer; s3store writes a multipart upload), so memory does not
// grow with them. The rows of chunks that failed for good
// (ChunkFailed) are read back from the upload and written to the error CSV
// as "not processed: <reason>"; the job then ends Completed with errors, or
// Failed when no chunk was applied, with a message naming those chunks.
// Writing the final status releases the tenant lock in the same
// transaction, so a client that sees it can start the next operation at
// once. Running it again gives the same files and status.
func (f *Flow) Finalize(ctx context.Context, j JobRef, p PlanRef) (FinalizeResult, error) {
	job, err := f.Jobs.GetJob(ctx, j.Tenant, j.JobID)
	if err != nil {
		return FinalizeResult{}, err
	}
	if job.Status.Final() && (job.Status != jobs.StatusFailed || job.ResultsKey != "") {
		// A retry after the final status was written (and the lock
		// released with it): only the event may be missing.
		if err := f.announce(ctx, j.Tenant, j.JobID); err != nil {
			return FinalizeResult{}, err
		}
		return FinalizeResult{Status: string(job.Status), Total: job.Counts.Total, Failed: job.Counts.Failed,
			ErrorKey: job.ErrorKey, ResultKey: job.ResultsKey}, nil
	}
	if job.CancelRequested() {
		return FinalizeResult{}, bulkerr.New(bulkerr.Conflict, "job %s was cancelled by %s; its cancel writes the reports", j.JobID, job.CancelledBy)
	}
	if err := f.Locks.ExtendLock(ctx, j.Tenant, j.JobID, f.Config.LockLease); err != nil {
		return FinalizeResult{}, err
	}
	if job.Counts.Processed != p.Rows {
		return FinalizeResult{}, bulkerr.New(bulkerr.Internal,
			"job %s: %d of %d rows were processed; not finalizing an incomplete job", j.JobID, job.Counts.Processed, p.Rows)
	}
	failedChunks, err := f.Progress.FailedChunks(ctx, j.Tenant, j.JobID)
	if err != nil {
		return FinalizeResult{}, err
	}
	sp, _, err := f.loadPlan(ctx, j)
	if err != nil {
		return FinalizeResult{}, err
	}
	if p.Distributed {
		// A distributed plan lists no chunks in the state document; the
		// stored plan has them (the same list chunks.json holds).
		p.Chunks = chunkRefs(sp.Chunks)
	}

	out := FinalizeResult{Total: job.Counts.Total, Failed: job.Counts.Failed, ResultKey: ResultsReportKey(j.Tenant, j.JobID)}
	var errs blob.Writer
	if job.Counts.Failed > 0 {
		out.ErrorKey = ErrorReportKey(j.Tenant, j.JobID)
		errs = f.Files.Create(ctx, out.ErrorKey, "text/csv; charset=utf-8")
		defer errs.Abort() // a no-op after Close
	}
	res := f.Files.Create(ctx, out.ResultKey, "text/csv; charset=utf-8")
	defer res.Abort()
	var errW io.Writer // nil when no row failed (not a nil *Writer in an interface)
	if errs != nil {
		errW = errs
	}
	if err := f.writeReports(ctx, j, p, sp, failedChunks, errW, res, f.keepLease(j)); err != nil {
		return FinalizeResult{}, err
	}
	if errs != nil {
		if err := errs.Close(); err != nil {
			return FinalizeResult{}, err
		}
	}
	if err := res.Close(); err != nil {
		return FinalizeResult{}, err
	}
	if j.DryRun && !audiozip.IsSlug(sp.ObjectType) {
		out.ChangesKey = ChangesReportKey(j.Tenant, j.JobID)
		if err := f.writeChanges(ctx, j, p, failedChunks, out.ChangesKey, f.keepLease(j)); err != nil {
			return FinalizeResult{}, err
		}
	}

	status, message, phase := jobs.FinalStatus(job.Counts), "", ""
	if len(failedChunks) > 0 {
		status, message = StatusWithFailedChunks(p, failedChunks)
	}
	if status == jobs.StatusFailed {
		phase = firstFailedChunkPhase(p, failedChunks)
	}
	out.Status = string(status)
	if err := f.Jobs.FinishReportIn(ctx, j.Tenant, j.JobID, status, phase, out.ErrorKey, out.ResultKey, message, f.Now()); err != nil {
		return FinalizeResult{}, err
	}
	if err := f.announce(ctx, j.Tenant, j.JobID); err != nil {
		return FinalizeResult{}, err
	}
	f.logger(j).InfoContext(ctx, "job finished", "status", out.Status, "total", job.Counts.Total,
		"created", job.Counts.Created, "updated", job.Counts.Updated, "unchanged", job.Counts.Unchanged,
		"failed", job.Counts.Failed, "failedChunks", len(failedChunks))
	return out, nil
}

// writeReports writes both reports in row order: each chunk's parts, or,
// for a failed chunk, its rows read back as "not processed". errs is nil
// when no row failed. lease, if set, is renewed between chunks (the
// reports of a large file may take longer than the lease).
func (f *Flow) writeReports(ctx context.Context, j JobRef, p PlanRef, sp storedPlan, failed map[int]string, errs, res io.Writer, lease *leaseKeeper) error {
	if errs != nil {
		if err := csvimport.NewErrorWriter(errs, sp.Header).Flush(); err != nil {
			return bulkerr.Wrap(bulkerr.Transient, err, "writing the error report header")
		}
	}
	if err := csvimport.NewResultWriter(res).Flush(); err != nil {
		return bulkerr.Wrap(bulkerr.Transient, err, "writing the results report header")
	}
	for _, c := range p.Chunks {
		if lease != nil {
			if err := lease.renew(ctx); err != nil {
				return err
			}
		}
		if reason, ok := failed[c.Index]; ok {
			if err := f.writeNotProcessed(ctx, j, c, sp, reason, errs); err != nil {
				return err
			}
			continue
		}
		if errs != nil {
			// a chunk without rejected rows has no error part
			if err := f.copyPart(ctx, errorPartKey(j.Tenant, j.JobID, c.Index), errs, true); err != nil {
				return err
			}
		}
		if err := f.copyPart(ctx, resultPartKey(j.Tenant, j.JobID, c.Index), res, false); err != nil {
			return err
		}
	}
	return nil
}

// writeChanges streams a dry run's change report to key: the header, then
// each chunk's change part in row order (a chunk that changes nothing has
// none; a chunk that failed for good has none either: its rows are in the
// error report as not processed), through a multipart upload, so memory
// does not grow with the report.
func (f *Flow) writeChanges(ctx context.Context, j JobRef, p PlanRef, failed map[int]string, key string, lease *leaseKeeper) error {
	w := f.Files.Create(ctx, key, "text/csv; charset=utf-8")
	defer w.Abort() // a no-op after Close
	if err := csvimport.NewChangeWriter(w).Flush(); err != nil {
		return bulkerr.Wrap(bulkerr.Transient, err, "writing the change report header")
	}
	for _, c := range p.Chunks {
		if err := lease.renew(ctx); err != nil {
			return err
		}
		if _, ok := failed[c.Index]; ok {
			continue
		}
		if err := f.copyPart(ctx, changePartKey(j.Tenant, j.JobID, c.Index), w, true); err != nil {
			return err
		}
	}
	return w.Close()
}

// copyPart streams one chunk's part into a report.
func (f *Flow) copyPart(ctx context.Context, key string, w io.Writer, optional bool) error {
	body, err := f.Files.Open(ctx, key, "")
	if optional && bulkerr.KindOf(err) == bulkerr.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	defer body.Close()
	src := &readErrs{r: body}
	if _, err := io.Copy(w, src); err != nil {
		if src.err != nil {
			return bulkerr.Wrap(bulkerr.Transient, src.err, "reading %s", key)
		}
		return err // the report upload failed: classified by s3store
	}
	return nil
}

// writeNotProcessed writes the rows of failed chunk c to the error report,
// as they are in the upload, each with "not processed: <reason>". Rows
// that cannot be read back are summed up in one line naming them.
func (f *Flow) writeNotProcessed(ctx context.Context, j JobRef, c ChunkRef, sp storedPlan, reason string, errs io.Writer) error {
	ew := csvimport.NewErrorPartWriter(errs, sp.Header)
	prob := []objecttype.Problem{{Code: csvimport.CodeNotProcessed, Message: "not processed: " + reason,
		Hint: "the row was neither checked nor applied; import it again"}}
	written, next := 0, c.FirstRow
	readErr := func() error {
		if audiozip.IsSlug(sp.ObjectType) {
			return errors.New("the entries of a ZIP are not rows to read back")
		}
		body, err := f.Files.OpenRange(ctx, j.Key, j.VersionID, c.Start, c.End)
		if err != nil {
			return err
		}
		defer body.Close()
		cr := csvread.NewChunkReader(body, sp.Format, c.FirstRow)
		for written < c.Rows {
			rec, err := cr.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := ew.Write(csvimport.Decision{Row: rec.Row, Cells: rec.Cells, Action: csvimport.ActionRejected, Problems: prob}); err != nil {
				return err
			}
			written, next = written+1, rec.Row+1
		}
		return nil
	}()
	if readErr != nil && written < c.Rows {
		f.logger(j).WarnContext(ctx, "rows of a failed chunk could not be read back", "chunk", c.Index, "error", readErr.Error())
	}
	if written < c.Rows {
		cells := make([]string, len(sp.Header))
		summary := fmt.Sprintf("not processed: %s; %d rows from row %d on could not be read back from the file", reason, c.Rows-written, next)
		if err := ew.Write(csvimport.Decision{Row: next, Cells: cells, Action: csvimport.ActionRejected,
			Problems: []objecttype.Problem{{Code: csvimport.CodeNotProcessed, Message: summary, Hint: "import those rows again"}}}); err != nil {
			return err
		}
	}
	return ew.Flush()
}

// firstFailedChunkPhase is the phase of a job none of whose chunks was
// applied: the rows of its first failed chunk (jobs.ChunkPhase).
func firstFailedChunkPhase(p PlanRef, failed map[int]string) string {
	first := -1
	for i := range failed {
		if first < 0 || i < first {
			first = i
		}
	}
	if first < 0 {
		return jobs.PhaseRows
	}
	return jobs.ChunkPhase(first+1, len(p.Chunks))
}

// StatusWithFailedChunks is the final status of a job some of whose
// chunks failed for good, and the message naming them: Failed when every
// chunk failed (nothing was applied), Completed with errors otherwise.
func StatusWithFailedChunks(p PlanRef, failed map[int]string) (jobs.Status, string) {
	idx := make([]int, 0, len(failed))
	for i := range failed {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	byIndex := map[int]ChunkRef{}
	for _, c := range p.Chunks {
		byIndex[c.Index] = c
	}
	var parts []string
	for n, i := range idx {
		if n == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(idx)-n))
			break
		}
		c := byIndex[i]
		parts = append(parts, fmt.Sprintf("chunk %d (%d rows from row %d): %s", i+1, c.Rows, c.FirstRow, failed[i]))
	}
	rows := 0
	for _, i := range idx {
		rows += byIndex[i].Rows
	}
	what := fmt.Sprintf("%d of %d chunks (%d rows) were not processed", len(idx), len(p.Chunks), rows)
	if len(idx) == 1 {
		what = fmt.Sprintf("1 of %d chunks (%d rows) was not processed", len(p.Chunks), rows)
	}
	msg := what + " — " + strings.Join(parts, "; ") + ". Their rows are in the error CSV marked NOT_PROCESSED; import that file again."
	if len(idx) >= len(p.Chunks) {
		return jobs.StatusFailed, "nothing was applied: " + msg
	}
	return jobs.StatusCompletedWithErrs, msg
}
