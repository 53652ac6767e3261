package exportflow

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Starter runs an export job in the background (the export function,
// invoked asynchronously).
type Starter interface {
	StartExport(ctx context.Context, req Request) error
}

// scheduleStore finds due schedules and claims their runs.
type scheduleStore interface {
	DueSchedules(ctx context.Context, now time.Time, limit int32) ([]dynamostore.Schedule, error)
	ClaimRun(ctx context.Context, tenant, id string, planned, following time.Time, more bool, job string) (bool, error)
}

// dispatchStore takes locks and records jobs.
type dispatchStore interface {
	AcquireLock(ctx context.Context, tenant, job string, lease time.Duration) (dynamostore.Lock, error)
	ReleaseLock(ctx context.Context, tenant, job string) error
	CreateJob(ctx context.Context, j jobs.Job) error
	Fail(ctx context.Context, tenant, id, reason string, at time.Time) error
}

// Dispatcher starts due scheduled exports; the EventBridge schedule rule
// ticks it.
type Dispatcher struct {
	Schedules scheduleStore
	Store     dispatchStore
	Exports   Starter
	NewID     func() (string, error)
	Now       func() time.Time
	LockLease time.Duration
	Log       *slog.Logger
}

// Tick starts every due schedule's run once: it takes the tenant's lock for
// a new job (a busy tenant's run stays due and is tried on the next tick),
// claims the run by a conditional write on the schedule's next run (of
// overlapping ticks only one wins; missed runs are caught up once), records
// the job and starts the export. It returns the started job IDs.
func (d *Dispatcher) Tick(ctx context.Context) ([]string, error) {
	now := d.Now()
	due, err := d.Schedules.DueSchedules(ctx, now, 100)
	if err != nil {
		return nil, err
	}
	var started []string
	for _, s := range due {
		id, err := d.start(ctx, s, now)
		if err != nil {
			d.Log.ErrorContext(ctx, "scheduled export not started", "tenant", s.Tenant, "schedule", s.ID, "err", err.Error())
			continue
		}
		if id != "" {
			started = append(started, id)
		}
	}
	return started, nil
}

func (d *Dispatcher) start(ctx context.Context, s dynamostore.Schedule, now time.Time) (string, error) {
	run, following, more, err := s.Spec.Due(s.NextRun, now)
	if err != nil || !run {
		return "", err
	}
	jobID, err := d.NewID()
	if err != nil {
		return "", bulkerr.Wrap(bulkerr.Internal, err, "making a job ID")
	}
	lock, err := d.Store.AcquireLock(ctx, s.Tenant, jobID, d.LockLease)
	if err != nil {
		return "", err
	}
	if !lock.Acquired {
		d.Log.InfoContext(ctx, "tenant busy; the scheduled export stays due", "tenant", s.Tenant, "schedule", s.ID, "holder", lock.Holder)
		return "", nil
	}
	release := func() { _ = d.Store.ReleaseLock(context.WithoutCancel(ctx), s.Tenant, jobID) }
	claimed, err := d.Schedules.ClaimRun(ctx, s.Tenant, s.ID, s.NextRun, following, more, jobID)
	if err != nil || !claimed {
		release()
		return "", err
	}
	var types []*objecttype.Type
	for _, slug := range s.ObjectTypes {
		if t, err := objecttype.Lookup(slug); err == nil {
			types = append(types, t)
		}
	}
	j := jobs.Job{
		Tenant: s.Tenant, ID: jobID, Type: jobs.TypeExport, ObjectType: strings.Join(s.ObjectTypes, ","),
		FileName: exportzip.ZipName(s.Prefix, types, now.UTC()), Status: jobs.StatusNew,
		SubmittedBy: "schedule " + s.Title + " (" + s.ID + ")", SubmittedAt: now.UTC(),
	}
	if err := d.Store.CreateJob(ctx, j); err != nil {
		release()
		return "", err
	}
	if err := d.Exports.StartExport(ctx, Request{Tenant: s.Tenant, JobID: jobID, ObjectTypes: s.ObjectTypes, Prefix: s.Prefix}); err != nil {
		_ = d.Store.Fail(context.WithoutCancel(ctx), s.Tenant, jobID, "the scheduled export could not be started", d.Now())
		release()
		return "", err
	}
	d.Log.InfoContext(ctx, "scheduled export started", "tenant", s.Tenant, "schedule", s.ID, "job", jobID, "planned", s.NextRun, "next", following)
	return jobID, nil
}
