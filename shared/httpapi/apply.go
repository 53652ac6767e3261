package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/ccbulk/bulkops/shared/audiozip"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// previewChecker tells whether a dry run's preview can still be applied
// (importflow.Flow.CheckPreview).
type previewChecker interface {
	CheckPreview(ctx context.Context, preview jobs.Job) error
}

// versionCopier copies a stored version of an upload onto its key as the
// new current version with new metadata (s3store.Store.CopyVersion).
type versionCopier interface {
	CopyVersion(ctx context.Context, key, versionID string, meta map[string]string) (string, error)
}

// applyJob applies a dry run's previewed changes: it starts a real import
// of the very file version the dry run read. The preview is checked first
// (importflow.Flow.CheckPreview): a job that is not a completed dry run is
// 409, a preview older than importflow.PreviewMaxAge or one whose objects
// changed since (naming them) is 412. Then, as createImport does, an
// upload is registered for a new job ID, and the previewed version is
// copied onto its key with that job's metadata; the copy's Object Created
// event starts the import, which the new job ID follows. The grant names
// the dry run (ApplyOf): the import applies exactly its decisions and checks
// the preview again once it holds the tenant lock, ending Failed with the
// same sentence when an object changed after this early check
// (importflow/apply.go). While the tenant runs a bulk operation it answers
// 409 TENANT_BUSY.
func (a *API) applyJob(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	jobID := r.PathValue("id")
	if !jobIDPattern.MatchString(jobID) {
		return bulkerr.New(bulkerr.NotFound, "job %q not found", jobID)
	}
	if a.Previews == nil || a.Copier == nil {
		return bulkerr.New(bulkerr.Internal, "applying previews is not configured")
	}
	preview, err := a.Jobs.GetJob(r.Context(), id.Tenant, jobID)
	if err != nil {
		return err
	}
	lock, err := a.Locks.PeekLock(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	if lock.Holder != "" {
		return busyError{error: bulkerr.New(bulkerr.Busy, "another bulk operation is in progress (job %s); try again when it has finished", lock.Holder), job: lock.Holder}
	}
	if err := a.Previews.CheckPreview(r.Context(), preview); err != nil {
		return err
	}
	newID, err := a.NewID()
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "making a job ID")
	}
	if err := a.Uploads.RegisterUpload(r.Context(), jobs.UploadGrant{
		Tenant: id.Tenant, JobID: newID, Key: preview.SourceKey, SubmittedBy: id.User, ApplyOf: preview.ID,
	}, a.UploadTTL); err != nil {
		return err
	}
	version, err := a.Copier.CopyVersion(r.Context(), preview.SourceKey, preview.SourceVersion, map[string]string{
		importflow.MetaJobID:       newID,
		importflow.MetaSubmittedBy: id.User,
		importflow.MetaDryRun:      strconv.FormatBool(false),
	})
	if bulkerr.KindOf(err) == bulkerr.NotFound {
		return bulkerr.New(bulkerr.Conflict, "the file dry run %s read is no longer stored; upload it again", preview.ID)
	}
	if err != nil {
		return err
	}
	a.Log.InfoContext(r.Context(), "preview applied", "tenant", id.Tenant, "job", newID, "preview", preview.ID,
		"key", preview.SourceKey, "previewVersion", preview.SourceVersion, "version", version, "by", id.User)
	writeJSON(w, http.StatusAccepted, bulkapi.Apply{JobID: newID, PreviewJobID: preview.ID, ObjectType: preview.ObjectType, FileName: preview.FileName})
	return nil
}

// changesKey is a dry run's change report, or "" when the job has none:
// only a dry run of a CSV type that completed writes one.
func changesKey(j jobs.Job) string {
	if j.Type != jobs.TypeImport || !j.DryRun || audiozip.IsSlug(j.ObjectType) || j.ResultsKey == "" ||
		(j.Status != jobs.StatusCompleted && j.Status != jobs.StatusCompletedWithErrs) {
		return ""
	}
	return importflow.ChangesReportKey(j.Tenant, j.ID)
}
