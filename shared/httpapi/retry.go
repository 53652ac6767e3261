package httpapi

import (
	"context"
	"net/http"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/retry"
)

// retryStarter starts the retry of a job's rejected rows (retry.Starter).
type retryStarter interface {
	Retry(ctx context.Context, tenant, user, id string, dryRun *bool) (retry.Started, error)
}

// retryJob starts a new import over the rejected rows of one of the
// caller's tenant's finished imports (the tenant from the verified token
// only; another tenant's job is not found). While the tenant runs a bulk
// operation it answers 409 TENANT_BUSY with Retry-After, as an upload
// request does. The answer is 202 with the new job, recorded New at once
// (GET /v1/jobs/{jobId} follows it); its file is built afterwards by the
// retry function, so how many rows it holds is not known yet.
func (a *API) retryJob(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	jobID := r.PathValue("id")
	if !jobIDPattern.MatchString(jobID) {
		return bulkerr.New(bulkerr.NotFound, "job %q not found", jobID)
	}
	var req bulkapi.RetryRequest
	if r.ContentLength != 0 {
		if err := decodeBody(r, &req); err != nil {
			return err
		}
	}
	if a.Retries == nil {
		return bulkerr.New(bulkerr.Internal, "retrying jobs is not configured")
	}
	lock, err := a.Locks.PeekLock(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	if lock.Holder != "" {
		return busyError{error: bulkerr.New(bulkerr.Busy, "another bulk operation is in progress (job %s); retry when it has finished", lock.Holder), job: lock.Holder}
	}
	s, err := a.Retries.Retry(r.Context(), id.Tenant, id.User, jobID, req.DryRun)
	if err != nil {
		if bulkerr.KindOf(err) == bulkerr.Invalid && req.DryRun != nil {
			return atField("/dryRun", err)
		}
		return err
	}
	a.Log.InfoContext(r.Context(), "retry started", "tenant", id.Tenant, "job", s.JobID, "retryOf", jobID, "key", s.Key, "dryRun", s.DryRun)
	writeJSON(w, http.StatusAccepted, bulkapi.Retry{
		JobID: s.JobID, RetryOf: s.RetryOf, ObjectType: s.ObjectType, FileName: s.FileName, Key: s.Key, DryRun: s.DryRun,
		Status: string(jobs.StatusNew), SubmittedAt: s.SubmittedAt,
	})
	return nil
}
