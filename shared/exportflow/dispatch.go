package exportflow

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
	"github.com/ccbulk/bulkops/shared/schedule"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// Starter runs an export job in the background (the export function,
// invoked asynchronously).
type Starter interface {
	StartExport(ctx context.Context, req Request) error
}

// scheduleStore finds due schedules, claims and ends their runs and keeps
// their history (dynamostore.Store).
type scheduleStore interface {
	DueSchedules(ctx context.Context, now time.Time, limit int32) ([]schedule.Schedule, error)
	RunningSchedules(ctx context.Context, since time.Time, limit int32) ([]schedule.Schedule, error)
	ClaimRun(ctx context.Context, tenant, id string, planned, following time.Time, more bool, job string) (bool, error)
	GetSchedule(ctx context.Context, tenant, id string) (schedule.Schedule, error)
	FinishRun(ctx context.Context, tenant, id, job string, ok bool, highWater time.Time, reason string) (schedule.Schedule, error)
	RecordRun(ctx context.Context, r schedule.Run) error
}

// dispatchStore takes locks and records jobs.
type dispatchStore interface {
	AcquireLock(ctx context.Context, tenant, job string, lease time.Duration) (tenancy.Lock, error)
	ReleaseLock(ctx context.Context, tenant, job string) error
	CreateJob(ctx context.Context, j jobs.Job) error
	GetJob(ctx context.Context, tenant, id string) (jobs.Job, error)
	Fail(ctx context.Context, tenant, id, reason string, at time.Time) error
	PeekLock(ctx context.Context, tenant string) (tenancy.Lock, error)
}

// maxDuePerTick bounds the due schedules one tick looks at (paged); with
// at most 100 schedules per tenant (the API's limit) and one start per
// tenant per tick, runs that stay due (a busy tenant) cannot crowd out
// other tenants'.
const maxDuePerTick = 1000

// tickReserve is the time a tick keeps in hand before its deadline.
const tickReserve = 5 * time.Second

// errTenantBusy reports that a due run waits for its tenant's lock.
var errTenantBusy = errors.New("tenant busy")

// Dispatcher starts due scheduled exports; the EventBridge schedule rule
// ticks it.
type Dispatcher struct {
	Schedules scheduleStore
	Store     dispatchStore
	Exports   Starter
	// Finished, when set, hears of runs that failed before their export
	// started (and of finished runs whose end was not recorded), so they
	// count as failures and are announced like any other (ScheduleRuns).
	// Without it the dispatcher ends such runs with FinishRun itself.
	Finished FinishHook
	// Events, when set, publishes the job events of jobs the dispatcher
	// fails itself (jobevents.Publisher).
	Events    notifier
	NewID     func() (string, error)
	Now       func() time.Time
	LockLease time.Duration
	// WriteLag is how far behind now an incremental run's window ends
	// (exportapp sets a minute; zero in tests that read their own writes):
	// a write's updatedAt is taken just before it is sent, so a write of
	// the last moments may not have landed when the export reads.
	WriteLag time.Duration
	Log      *slog.Logger
}

// Tick starts every due schedule's run once: it takes the tenant's lock for
// a new job (a busy tenant's run stays due and is tried on the next tick),
// claims the run by a conditional write on the schedule's next run (of
// overlapping ticks only one wins; missed runs are caught up once; a
// schedule whose previous run is still in progress waits for it), records
// the job and the run and starts the export. It returns the started job
// IDs.
func (d *Dispatcher) Tick(ctx context.Context) ([]string, error) {
	now := d.Now()
	due, err := d.Schedules.DueSchedules(ctx, now, maxDuePerTick)
	if err != nil {
		return nil, err
	}
	var started []string
	busy := map[string]bool{} // tenants whose lock is taken: their other runs wait for the next tick
	for _, s := range due {
		if busy[s.Tenant] && s.RunningJob == "" {
			continue
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < tickReserve {
			d.Log.WarnContext(ctx, "tick out of time; the remaining due schedules wait for the next tick")
			break
		}
		id, err := d.start(ctx, s, now)
		if id != "" || errors.Is(err, errTenantBusy) {
			busy[s.Tenant] = true // one bulk operation per tenant: one start per tick
		}
		if errors.Is(err, errTenantBusy) {
			continue
		}
		if err != nil {
			d.Log.ErrorContext(ctx, "scheduled export not started", "tenant", s.Tenant, "schedule", s.ID, "err", err.Error())
			continue
		}
		if id != "" {
			started = append(started, id)
		}
	}
	// Runs that have gone on longer than a lease may have died (their
	// export timed out before it could end the job); settle finds out.
	// Once schedules and suspended ones are not due, so this is how their
	// dead runs are ended.
	running, err := d.Schedules.RunningSchedules(ctx, now.Add(-d.LockLease), 100)
	if err != nil {
		return started, err
	}
	for _, s := range running {
		if err := d.settle(ctx, s); err != nil {
			d.Log.ErrorContext(ctx, "settling a scheduled run", "tenant", s.Tenant, "schedule", s.ID, "job", s.RunningJob, "err", err.Error())
		}
	}
	return started, nil
}

func (d *Dispatcher) start(ctx context.Context, s schedule.Schedule, now time.Time) (string, error) {
	run, following, more, err := s.Spec.Due(s.NextRun, now)
	if err != nil || !run {
		return "", err
	}
	if s.RunningJob != "" {
		return "", d.settle(ctx, s)
	}
	if !s.Active {
		return "", nil // suspended while its last run was in progress; that run has ended
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
		return "", errTenantBusy
	}
	release := func() { _ = d.Store.ReleaseLock(context.WithoutCancel(ctx), s.Tenant, jobID) }
	claimed, err := d.Schedules.ClaimRun(ctx, s.Tenant, s.ID, s.NextRun, following, more, jobID)
	if err != nil || !claimed {
		release()
		return "", err
	}
	planned := s.NextRun
	req := Request{Tenant: s.Tenant, JobID: jobID, ScheduleID: s.ID}
	// From here on the schedule's run is this job's: whatever stops it
	// must end the run, or the schedule would wait for it forever.
	abandon := func(j jobs.Job, cause error) (string, error) {
		bg := context.WithoutCancel(ctx)
		// Also when recording the job seemed to fail: its write may have
		// landed (a lost response). Failing a job that does not exist
		// does nothing.
		_ = d.Store.Fail(bg, s.Tenant, jobID, j.Message, d.Now())
		d.announce(bg, s.Tenant, jobID)
		release()
		j.Tenant, j.ID, j.Type, j.Status = s.Tenant, jobID, jobs.TypeExport, jobs.StatusFailed
		d.finish(bg, req, j)
		return "", cause
	}
	// The index is eventually consistent; the claimed item is the truth
	// (the definition may have been edited, the high-water mark moved).
	fresh, err := d.Schedules.GetSchedule(ctx, s.Tenant, s.ID)
	if err != nil {
		return abandon(jobs.Job{Message: "the schedule could not be read: " + bulkerr.Message(err)}, err)
	}
	s = fresh
	req.ObjectTypes, req.Prefix, req.Options, req.TimeZone, req.TargetID = s.ObjectTypes, s.Prefix, s.Options, s.Spec.TimeZone, s.TargetID
	// An incremental window ends WriteLag before now: a write timed in
	// that last moment may still be in flight (its updatedAt is taken
	// before it is sent), so it belongs to the next run's window.
	req.Window = s.Options.WindowFor(now.Add(-d.WriteLag), s.HighWater)
	var types []*objecttype.Type
	for _, slug := range s.ObjectTypes {
		if t, err := objecttype.Lookup(slug); err == nil {
			types = append(types, t)
		}
	}
	j := jobs.Job{
		Tenant: s.Tenant, ID: jobID, Type: jobs.TypeExport, ObjectType: strings.Join(s.ObjectTypes, ","),
		FileName: exportzip.FileName(s.Prefix, types, now.In(s.Spec.Location()), s.Options), Status: jobs.StatusNew,
		SubmittedBy: "schedule " + s.Title + " (" + s.ID + ")", SubmittedAt: now.UTC(),
	}
	if err := d.Store.CreateJob(ctx, j); err != nil {
		return abandon(jobs.Job{Message: "the export job could not be recorded: " + bulkerr.Message(err)}, err)
	}
	if err := d.Schedules.RecordRun(ctx, schedule.Run{Tenant: s.Tenant, ScheduleID: s.ID, JobID: jobID,
		Planned: planned, Window: req.Window, At: now.UTC()}); err != nil {
		d.Log.ErrorContext(ctx, "scheduled run not recorded in the history", "tenant", s.Tenant, "schedule", s.ID, "job", jobID, "err", err.Error())
	}
	if err := d.Exports.StartExport(ctx, req); err != nil {
		j.Message = "the scheduled export could not be started: " + bulkerr.Message(err)
		return abandon(j, err)
	}
	d.Log.InfoContext(ctx, "scheduled export started", "tenant", s.Tenant, "schedule", s.ID, "job", jobID, "planned", planned, "next", following,
		"from", req.Window.From, "to", req.Window.To)
	return jobID, nil
}

// settle looks at the run still marked in progress on a due schedule: a
// run whose job ended (its end was not recorded, say the export function
// stopped before its hook) or whose job does not exist is ended now, so
// the next tick runs the schedule; a run whose job is still going keeps
// the schedule waiting.
func (d *Dispatcher) settle(ctx context.Context, s schedule.Schedule) error {
	// The index may lag: a run that just ended is no business of ours.
	cur, err := d.Schedules.GetSchedule(ctx, s.Tenant, s.ID)
	if err != nil || cur.RunningJob != s.RunningJob {
		return err
	}
	j, err := d.Store.GetJob(ctx, s.Tenant, s.RunningJob)
	switch {
	case bulkerr.KindOf(err) == bulkerr.NotFound:
		j = jobs.Job{Tenant: s.Tenant, ID: s.RunningJob, Type: jobs.TypeExport, Status: jobs.StatusFailed,
			Message: "the run's export job was never recorded"}
	case err != nil:
		return err
	case !j.Status.Final():
		// A live export holds the tenant lock and extends its lease; a
		// job that lost it (the export function timed out or crashed
		// before it could fail the job) would keep the schedule waiting
		// forever, so it is failed here.
		l, err := d.Store.PeekLock(ctx, s.Tenant)
		if err != nil {
			return err
		}
		if l.Holder == j.ID || d.Now().Sub(j.SubmittedAt) < d.LockLease {
			d.Log.InfoContext(ctx, "the previous run is still in progress; the scheduled export waits", "tenant", s.Tenant, "schedule", s.ID, "job", s.RunningJob)
			return nil
		}
		msg := "the export stopped without finishing (it ran out of time or crashed); the next run exports its objects again"
		if err := d.Store.Fail(ctx, s.Tenant, j.ID, msg, d.Now()); err != nil {
			return err
		}
		if j, err = d.Store.GetJob(ctx, s.Tenant, j.ID); err != nil {
			return err
		}
		if !j.Status.Final() {
			return nil
		}
		d.announce(ctx, s.Tenant, j.ID)
	}
	d.Log.WarnContext(ctx, "ending a finished run that was still marked in progress", "tenant", s.Tenant, "schedule", s.ID, "job", j.ID, "status", j.Status)
	// The run's window is not known here: the high-water mark stays, so
	// the next incremental run takes this run's objects again.
	d.finish(ctx, Request{Tenant: s.Tenant, JobID: j.ID, ScheduleID: s.ID}, j)
	return nil
}

// announce publishes the job event of a job the dispatcher failed itself
// (the export function publishes the others).
func (d *Dispatcher) announce(ctx context.Context, tenant, id string) {
	if d.Events == nil {
		return
	}
	j, err := d.Store.GetJob(ctx, tenant, id)
	if err == nil {
		err = d.Events.JobChanged(ctx, j)
	}
	if err != nil && bulkerr.KindOf(err) != bulkerr.NotFound {
		d.Log.WarnContext(ctx, "job event not published", "tenant", tenant, "job", id, "err", err.Error())
	}
}

// finish ends a schedule's run through the hook, or directly.
func (d *Dispatcher) finish(ctx context.Context, req Request, j jobs.Job) {
	var err error
	if d.Finished != nil {
		err = d.Finished.ExportFinished(ctx, req, j)
	} else {
		_, err = d.Schedules.FinishRun(ctx, req.Tenant, req.ScheduleID, req.JobID, j.Status == jobs.StatusCompleted, req.Window.To, j.Message)
	}
	if err != nil {
		d.Log.ErrorContext(ctx, "ending a scheduled run", "tenant", req.Tenant, "schedule", req.ScheduleID, "job", req.JobID, "err", err.Error())
	}
}
