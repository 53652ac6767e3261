package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/schedule"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// exportStore takes the tenant lock and records the export job.
type exportStore interface {
	AcquireLock(ctx context.Context, tenant, job string, lease time.Duration) (tenancy.Lock, error)
	ReleaseLock(ctx context.Context, tenant, job string) error
	CreateJob(ctx context.Context, j jobs.Job) error
	Fail(ctx context.Context, tenant, id, reason string, at time.Time) error
}

// exportStarter runs an export job in the background (the export
// function, invoked asynchronously).
type exportStarter interface {
	StartExport(ctx context.Context, req exportflow.Request) error
}

// createExport starts an on-demand export of one or more object types: it
// takes the tenant's lock for the new job (409 with the active job while
// another bulk operation runs), records the job and starts the export. The
// ZIP's link comes with the job (GET /v1/jobs/{id}) once it is Completed.
func (a *API) createExport(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	if a.Exports == nil || a.ExportStore == nil {
		return bulkerr.New(bulkerr.Internal, "exports are not configured")
	}
	var req bulkapi.ExportRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := schedule.CheckPrefix(req.Prefix); err != nil {
		return err
	}
	types, slugs, err := schedule.ResolveTypes(req.ObjectTypes)
	if err != nil {
		return err
	}
	if req.Options.Range.Mode == exportspec.RangeIncremental {
		return invalidAt("/options/range/mode", "options.range.mode incremental needs a schedule (it exports what changed since the last successful run); use all or interval here, or create a schedule")
	}
	if err := schedule.CheckOptions(req.Options, types); err != nil {
		return err
	}
	if err := a.checkTarget(r.Context(), id.Tenant, req.TargetID); err != nil {
		return err
	}
	now := a.Now().UTC()
	j, err := a.startExport(r.Context(), id, exportzip.FileName(req.Prefix, types, now, req.Options), exportflow.Request{
		Tenant: id.Tenant, ObjectTypes: slugs, Prefix: req.Prefix, Options: req.Options,
		Window: req.Options.WindowFor(now, time.Time{}), TargetID: req.TargetID,
	}, nil)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, a.view(j))
	return nil
}

// startExport takes the tenant's lock for a new export job (a Busy error
// naming the active job while another bulk operation runs), records the
// job under fileName, calls recorded (if not nil) and starts the export of
// req with the job's ID. Whatever fails after the lock was taken fails the
// job and releases the lock.
func (a *API) startExport(ctx context.Context, id authn.Identity, fileName string, req exportflow.Request, recorded func(jobs.Job) error) (jobs.Job, error) {
	if a.Exports == nil || a.ExportStore == nil {
		return jobs.Job{}, bulkerr.New(bulkerr.Internal, "exports are not configured")
	}
	jobID, err := a.NewID()
	if err != nil {
		return jobs.Job{}, bulkerr.Wrap(bulkerr.Internal, err, "making a job ID")
	}
	lock, err := a.ExportStore.AcquireLock(ctx, id.Tenant, jobID, a.LockLease)
	if err != nil {
		return jobs.Job{}, err
	}
	if !lock.Acquired {
		return jobs.Job{}, busyError{error: bulkerr.New(bulkerr.Busy, "another bulk operation is in progress (job %s); try again when it has finished", lock.Holder), job: lock.Holder}
	}
	bg := context.WithoutCancel(ctx)
	now := a.Now().UTC()
	j := jobs.Job{
		Tenant: id.Tenant, ID: jobID, Type: jobs.TypeExport, ObjectType: strings.Join(req.ObjectTypes, ","),
		FileName: fileName, Status: jobs.StatusNew, SubmittedBy: id.User, SubmittedAt: now,
	}
	if err := a.ExportStore.CreateJob(ctx, j); err != nil {
		_ = a.ExportStore.ReleaseLock(bg, id.Tenant, jobID)
		return jobs.Job{}, err
	}
	abandon := func(err error, reason string) (jobs.Job, error) {
		_ = a.ExportStore.Fail(bg, id.Tenant, jobID, reason, a.Now())
		_ = a.ExportStore.ReleaseLock(bg, id.Tenant, jobID)
		return jobs.Job{}, err
	}
	if recorded != nil {
		if err := recorded(j); err != nil {
			return abandon(err, "the export could not be recorded; try again")
		}
	}
	req.Tenant, req.JobID = id.Tenant, jobID
	if err := a.Exports.StartExport(ctx, req); err != nil {
		return abandon(bulkerr.Wrap(bulkerr.Transient, err, "the export could not be started; try again"), "the export could not be started; try again")
	}
	a.Log.InfoContext(ctx, "export started", "tenant", id.Tenant, "job", jobID, "types", req.ObjectTypes, "schedule", req.ScheduleID, "limit", req.Limit)
	return j, nil
}
