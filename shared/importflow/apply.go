package importflow

import (
	"context"
	"encoding/json"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// Applying a dry run (POST /v1/jobs/{id}/apply) starts an import of the
// very file version the dry run read, whose grant names the dry run
// (JobRef.ApplyOf). That job does not decide its rows: it applies exactly
// the decisions the dry run previewed, so the applied change is the
// previewed one.
//
//   - Prepare, once the job holds the tenant lock (its ExtendLock also
//     waits out the previous holder's write window, fence.go), checks the
//     preview again (checkPreview): every key it would create still absent,
//     every object it read still at the version it read. Only a lock holder
//     writes objects, so from this check until the job ends (or loses the
//     lock, when its fenced writes are refused) nothing else changes them:
//     the check is exact for the whole apply, whichever Map runs the
//     chunks. A refused check ends the job Failed before any chunk runs
//     (refuseApply): nothing applied, its reports written.
//   - The job's plan is the dry run's plan (same file bytes, same chunks);
//     each chunk adopts the dry run's decisions of the same chunk (rows,
//     object IDs, previous versions) and its error and results parts, so
//     rows the dry run rejected stay rejected with the dry run's codes,
//     even if their cause was fixed since (import them again, or retry the
//     apply's rejected rows).
//   - Chunks that failed for good in the dry run were not previewed: the
//     apply records them failed too (their rows NOT_PROCESSED), never
//     deciding them anew.

// prepareApply is Prepare for a job that applies dry run j.ApplyOf: the
// check under the lock, then the dry run's plan as the job's own.
func (f *Flow) prepareApply(ctx context.Context, j JobRef, lease *leaseKeeper) (PlanRef, error) {
	preview, err := f.Jobs.GetJob(ctx, j.Tenant, j.ApplyOf)
	if err != nil {
		return PlanRef{}, err
	}
	if preview.SourceKey != j.Key {
		return PlanRef{}, bulkerr.New(bulkerr.Internal, "job %s applies dry run %s of %s, but reads %s", j.JobID, preview.ID, preview.SourceKey, j.Key)
	}
	cp, err := f.checkPreview(ctx, preview, lease.renew)
	if err != nil {
		return PlanRef{}, err
	}
	if cp.refusal != nil {
		if cp.plan.Chunks == nil { // the refusal came before the plan was read
			sp, _, err := f.loadPlan(ctx, JobRef{Tenant: j.Tenant, JobID: preview.ID})
			if err != nil && bulkerr.KindOf(err) != bulkerr.NotFound {
				return PlanRef{}, err
			}
			cp.plan = sp
		}
		return PlanRef{}, f.refuseApply(ctx, j, cp.plan, cp.refusal, lease)
	}
	sp := cp.plan
	sp.Unpreviewed = cp.failed
	f.logger(j).InfoContext(ctx, "preview checked under the tenant lock", "preview", preview.ID, "chunks", len(sp.Chunks), "unpreviewed", len(cp.failed))
	return f.storePlan(ctx, j, sp)
}

// refuseApply ends an apply job whose preview can no longer be applied:
// Failed, with the refusal's sentence as its message, before any object
// was written. Its reports are written as a job's whose chunks all failed:
// the error CSV lists every row of the file as NOT_PROCESSED ("not
// applied"), the results CSV has its header only. Ending the job releases
// the tenant lock (the same transaction). It returns the refusal, which
// the state machine's Catch records (MarkFailed keeps the final status and
// announces it).
func (f *Flow) refuseApply(ctx context.Context, j JobRef, sp storedPlan, refusal error, lease *leaseKeeper) error {
	msg := "nothing was applied: " + bulkerr.Message(refusal)
	f.logger(j).WarnContext(ctx, "apply refused under the tenant lock", "preview", j.ApplyOf, "reason", msg)
	raw, err := json.Marshal(sp)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "encoding the plan")
	}
	if err := f.Files.Put(ctx, planKey(j.Tenant, j.JobID), "application/json", raw, nil); err != nil {
		return err
	}
	if err := f.Jobs.MarkInProgress(ctx, j.Tenant, j.JobID, sp.Rows, len(sp.Chunks), f.Now()); err != nil {
		return err
	}
	p := PlanRef{Rows: sp.Rows, Chunks: chunkRefs(sp.Chunks), ChunkCount: len(sp.Chunks)}
	reason := "not applied: dry run " + j.ApplyOf + " can no longer be applied as previewed (the job's message says why); run the dry run again"
	failed := make(map[int]string, len(sp.Chunks))
	for _, c := range sp.Chunks {
		failed[c.Index] = reason
	}
	errKey, resKey := "", ResultsReportKey(j.Tenant, j.JobID)
	res := f.Files.Create(ctx, resKey, "text/csv; charset=utf-8")
	defer res.Abort() // a no-op after Close
	if sp.Rows > 0 {
		errKey = ErrorReportKey(j.Tenant, j.JobID)
		errs := f.Files.Create(ctx, errKey, "text/csv; charset=utf-8")
		defer errs.Abort()
		if err := f.writeReports(ctx, j, p, sp, failed, errs, res, lease); err != nil {
			return err
		}
		if err := errs.Close(); err != nil {
			return err
		}
	} else if err := f.writeReports(ctx, j, p, sp, failed, nil, res, lease); err != nil {
		return err
	}
	if err := res.Close(); err != nil {
		return err
	}
	if err := f.Jobs.FinishReportIn(ctx, j.Tenant, j.JobID, jobs.StatusFailed, jobs.PhasePreview, errKey, resKey, msg, f.Now()); err != nil {
		return err
	}
	return bulkerr.New(bulkerr.KindOf(refusal), "%s", msg)
}

// errNotPreviewed marks a chunk the dry run did not decide.
type errNotPreviewed struct{ reason string }

func (e errNotPreviewed) Error() string { return e.reason }

// adoptDecisions gives chunk c of an apply job the dry run's decisions of
// the same chunk: its error and results parts copied, then its decisions
// file (written last: its presence means the parts are complete, as for
// a chunk that decided itself). A chunk the dry run did not decide is
// errNotPreviewed.
func (f *Flow) adoptDecisions(ctx context.Context, j JobRef, c ChunkRef) (chunkDecisions, error) {
	var dec chunkDecisions
	sp, _, err := f.loadPlan(ctx, j)
	if err != nil {
		return dec, err
	}
	if reason, ok := sp.Unpreviewed[c.Index]; ok {
		return dec, errNotPreviewed{reason: "not previewed: this chunk failed in dry run " + j.ApplyOf + " (" + reason + "), so the apply does not decide its rows anew; import them again"}
	}
	raw, err := f.Files.Get(ctx, decisionsKey(j.Tenant, j.ApplyOf, c.Index))
	if bulkerr.KindOf(err) == bulkerr.NotFound {
		// Checked present under the lock; gone since (a cleanup).
		return dec, errNotPreviewed{reason: "not applied: the decisions of dry run " + j.ApplyOf + " for these rows are no longer stored; run the dry run again"}
	}
	if err != nil {
		return dec, err
	}
	if err := json.Unmarshal(raw, &dec); err != nil {
		return dec, bulkerr.Wrap(bulkerr.Internal, err, "decoding decisions of chunk %d of dry run %s", c.Index, j.ApplyOf)
	}
	for _, part := range []struct {
		from, to string
		optional bool
	}{
		{errorPartKey(j.Tenant, j.ApplyOf, c.Index), errorPartKey(j.Tenant, j.JobID, c.Index), true}, // none without rejected rows
		{resultPartKey(j.Tenant, j.ApplyOf, c.Index), resultPartKey(j.Tenant, j.JobID, c.Index), false},
	} {
		body, err := f.Files.Get(ctx, part.from)
		if part.optional && bulkerr.KindOf(err) == bulkerr.NotFound {
			continue
		}
		if err != nil {
			return dec, err
		}
		if err := f.Files.Put(ctx, part.to, "text/csv", body, nil); err != nil {
			return dec, err
		}
	}
	if err := f.Files.Put(ctx, decisionsKey(j.Tenant, j.JobID, c.Index), "application/json", raw, nil); err != nil {
		return dec, err
	}
	return dec, nil
}
