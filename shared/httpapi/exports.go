package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// exportStore takes the tenant lock and records the export job.
type exportStore interface {
	AcquireLock(ctx context.Context, tenant, job string, lease time.Duration) (dynamostore.Lock, error)
	ReleaseLock(ctx context.Context, tenant, job string) error
	CreateJob(ctx context.Context, j jobs.Job) error
	Fail(ctx context.Context, tenant, id, reason string, at time.Time) error
}

// exportStarter runs an export job in the background (the export
// function, invoked asynchronously).
type exportStarter interface {
	StartExport(ctx context.Context, req exportflow.Request) error
}

// exportRequest is the body of POST /v1/exports.
type exportRequest struct {
	ObjectTypes []string `json:"objectTypes"`
	Prefix      string   `json:"prefix"`
}

// createExport starts an on-demand export of one or more object types: it
// takes the tenant's lock for the new job (409 with the active job while
// another bulk operation runs), records the job and starts the export. The
// ZIP's link comes with the job (GET /v1/jobs/{id}) once it is Completed.
func (a *API) createExport(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	if a.Exports == nil || a.ExportStore == nil {
		return bulkerr.New(bulkerr.Internal, "exports are not configured")
	}
	var req exportRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := exportzip.ValidatePrefix(req.Prefix); err != nil {
		return err
	}
	var types []*objecttype.Type
	var slugs []string
	seen := map[string]bool{}
	for _, s := range req.ObjectTypes {
		t, err := objecttype.Lookup(s)
		if err != nil {
			return err
		}
		if !seen[t.Slug] {
			seen[t.Slug] = true
			types, slugs = append(types, t), append(slugs, t.Slug)
		}
	}
	if len(types) == 0 {
		return bulkerr.New(bulkerr.Invalid, "objectTypes is empty; name one or more types, such as [\"queue\"]")
	}
	jobID, err := a.NewID()
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "making a job ID")
	}
	ctx := r.Context()
	lock, err := a.ExportStore.AcquireLock(ctx, id.Tenant, jobID, a.LockLease)
	if err != nil {
		return err
	}
	if !lock.Acquired {
		return busyError{error: bulkerr.New(bulkerr.Busy, "another bulk operation is in progress (job %s); try again when it has finished", lock.Holder), job: lock.Holder}
	}
	now := a.Now().UTC()
	j := jobs.Job{
		Tenant: id.Tenant, ID: jobID, Type: jobs.TypeExport, ObjectType: strings.Join(slugs, ","),
		FileName: exportzip.ZipName(req.Prefix, types, now), Status: jobs.StatusNew,
		SubmittedBy: id.User, SubmittedAt: now,
	}
	if err := a.ExportStore.CreateJob(ctx, j); err != nil {
		_ = a.ExportStore.ReleaseLock(context.WithoutCancel(ctx), id.Tenant, jobID)
		return err
	}
	if err := a.Exports.StartExport(ctx, exportflow.Request{Tenant: id.Tenant, JobID: jobID, ObjectTypes: slugs, Prefix: req.Prefix}); err != nil {
		_ = a.ExportStore.Fail(context.WithoutCancel(ctx), id.Tenant, jobID, "the export could not be started; try again", a.Now())
		_ = a.ExportStore.ReleaseLock(context.WithoutCancel(ctx), id.Tenant, jobID)
		return bulkerr.Wrap(bulkerr.Transient, err, "the export could not be started; try again")
	}
	a.Log.InfoContext(ctx, "export started", "tenant", id.Tenant, "job", jobID, "types", slugs)
	writeJSON(w, http.StatusAccepted, a.view(j))
	return nil
}
