package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
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

// exportRequest is the body of POST /v1/exports.
type exportRequest struct {
	ObjectTypes []string `json:"objectTypes"`
	Prefix      string   `json:"prefix"`
	// Options shape the files (fields, header, multi-values, filters,
	// splits, an interval range); the zero value is the default export.
	Options exportspec.Options `json:"options"`
}

// resolveTypes looks every named type up (slug, alias or name) and drops
// repeats, keeping the first order; it refuses an empty list.
func resolveTypes(names []string) ([]*objecttype.Type, []string, error) {
	var types []*objecttype.Type
	var slugs []string
	seen := map[string]bool{}
	for i, s := range names {
		t, err := objecttype.Lookup(s)
		if err != nil {
			return nil, nil, atField(pointer("objectTypes", strconv.Itoa(i)), bulkerr.Wrap(bulkerr.Invalid, err, "objectTypes[%d]: %s", i, bulkerr.Message(err)))
		}
		if !seen[t.Slug] {
			seen[t.Slug] = true
			types, slugs = append(types, t), append(slugs, t.Slug)
		}
	}
	if len(types) == 0 {
		return nil, nil, invalidAt("/objectTypes", "objectTypes is empty; name one or more types, such as [\"queue\"]")
	}
	return types, slugs, nil
}

// checkOptions validates o and resolves its fields and filters against
// the types exactly as the export will (csvexport.NewPlans: in an export of
// several types a field that only some of them have is written for those),
// so a field no type has is refused now (400) and does not fail the export
// later.
func checkOptions(o exportspec.Options, types []*objecttype.Type) error {
	if err := o.Validate(); err != nil {
		return atField("/options", bulkerr.Wrap(bulkerr.Invalid, err, "options: %s", bulkerr.Message(err)))
	}
	if _, err := csvexport.NewPlans(types, o); err != nil {
		return atField("/options", bulkerr.Wrap(bulkerr.Invalid, err, "options: %s", bulkerr.Message(err)))
	}
	return nil
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
		return atField("/prefix", bulkerr.Wrap(bulkerr.Invalid, err, "prefix: %s", bulkerr.Message(err)))
	}
	types, slugs, err := resolveTypes(req.ObjectTypes)
	if err != nil {
		return err
	}
	if req.Options.Range.Mode == exportspec.RangeIncremental {
		return invalidAt("/options/range/mode", "options.range.mode incremental needs a schedule (it exports what changed since the last successful run); use all or interval here, or create a schedule")
	}
	if err := checkOptions(req.Options, types); err != nil {
		return err
	}
	now := a.Now().UTC()
	j, err := a.startExport(r.Context(), id, exportzip.ZipName(req.Prefix, types, now), exportflow.Request{
		Tenant: id.Tenant, ObjectTypes: slugs, Prefix: req.Prefix, Options: req.Options,
		Window: req.Options.WindowFor(now, time.Time{}),
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
