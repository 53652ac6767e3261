// Package exportflow runs one export job: it reads a tenant's objects of
// one or more types page by page (all of them, or those last written in
// the request's window), keeps those that pass the options' filters (at
// most Limit per type), writes them as a ZIP of CSV parts (package
// exportzip; or, for format csv, one type's CSV) in the layout the options
// choose (the import columns by default) to a temporary file, uploads it
// whole under exports/<tenant>/<job>/ (or, for a stable name, to the one
// key every run replaces: StableKey) and finishes the job with that key
// and its number of files. The
// tenant lock, taken by whoever started the job (the API for on-demand
// exports), is extended while it runs and released at the end, whatever
// happens.
package exportflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/delivery"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// Request is the export function's input.
type Request struct {
	Tenant      string   `json:"tenant"`
	JobID       string   `json:"jobId"`
	ObjectTypes []string `json:"objectTypes"`
	Prefix      string   `json:"prefix,omitempty"`
	// Options shape the files (fields, header style, filters, splits).
	Options exportspec.Options `json:"options,omitzero"`
	// Window limits the objects by their last write (zero: all).
	Window exportspec.Window `json:"window,omitzero"`
	// Limit, when positive, writes at most this many objects per type (a
	// test export writes exportspec.TestExportRows).
	Limit int `json:"limit,omitempty"`
	// ScheduleID names the schedule that started the run, if any.
	ScheduleID string `json:"scheduleId,omitempty"`
	// TimeZone is the IANA zone whose date the CSV parts' names carry (a
	// schedule's zone; empty: UTC).
	TimeZone string `json:"timeZone,omitempty"`
	// TargetID names the delivery target the file goes to once uploaded
	// (empty: the download link only). Test exports are not delivered.
	TargetID string `json:"targetId,omitempty"`
}

// FinishHook hears of every export job that reached a final status, once
// per Handle (a retried invocation may repeat it): the dispatcher uses it
// for a schedule's history, high-water mark and suspension on failure.
type FinishHook interface {
	ExportFinished(ctx context.Context, req Request, j jobs.Job) error
}

// jobStore is what the export needs of the job records.
type jobStore interface {
	GetJob(ctx context.Context, tenant, id string) (jobs.Job, error)
	MarkInProgress(ctx context.Context, tenant, id string, total, chunks int, at time.Time) error
	SetTotal(ctx context.Context, tenant, id string, total int) error
	SetExportResult(ctx context.Context, tenant, id string, total, files int, version string) error
	Finish(ctx context.Context, tenant, id string, status jobs.Status, errorKey, resultsKey string, at time.Time) error
	// FailIn fails a job recording the phase it failed in.
	FailIn(ctx context.Context, tenant, id, phase, reason string, at time.Time) error
	FinishCancelled(ctx context.Context, tenant, id string, c jobs.Counts, errorKey, resultsKey, message string, at time.Time) error
}

// countStore records the exported rows exactly once.
type countStore interface {
	CommitChunk(ctx context.Context, tenant, job string, index int, c jobs.Counts) error
}

// lockStore is the tenant lock.
type lockStore interface {
	ExtendLock(ctx context.Context, tenant, job string, lease time.Duration) error
	ReleaseLock(ctx context.Context, tenant, job string) error
}

// ObjectLister reads one tenant's objects (dynamostore.Objects).
type ObjectLister interface {
	// Each calls fn with every object of type typ.
	Each(ctx context.Context, typ string, fn func(catalog.Object) error) error
	// EachUpdated calls fn with every object of type typ last written in w.
	EachUpdated(ctx context.Context, typ string, w exportspec.Window, fn func(catalog.Object) error) error
	// Count is how many objects of type typ there are.
	Count(ctx context.Context, typ string) (int, error)
}

// fileStore uploads the export.
type fileStore interface {
	PutFile(ctx context.Context, key, contentType string, f *os.File, size int64) (string, error)
}

// notifier publishes job transitions.
type notifier interface {
	JobChanged(ctx context.Context, j jobs.Job) error
}

// targetReader reads a tenant's delivery targets (dynamostore.Store).
type targetReader interface {
	GetTarget(ctx context.Context, tenant, id string) (delivery.Target, error)
}

// deliveryRecorder records where an export job's file was delivered
// (dynamostore.Store).
type deliveryRecorder interface {
	SetDelivery(ctx context.Context, tenant, id string, d jobs.Delivery) error
}

// Flow runs exports. Build it once per process.
type Flow struct {
	// Targets, Deliver and Deliveries deliver the files of exports that
	// name a target (nil: such an export fails).
	Targets    targetReader
	Deliver    delivery.Deliverer
	Deliveries deliveryRecorder

	Jobs      jobStore
	Counts    countStore
	Locks     lockStore
	Files     fileStore
	Objects   func(tenant string) ObjectLister
	Events    notifier   // optional
	Finished  FinishHook // optional
	LockLease time.Duration
	Now       func() time.Time
	Log       *slog.Logger
}

// ExportKey is where an export job's ZIP is stored.
func ExportKey(tenant, job, name string) string { return "exports/" + tenant + "/" + job + "/" + name }

// Handle is the export function's entry point: it runs the export and, if
// it fails, fails the job with the reason; either way it releases the lock.
// A job already final (a retried invocation) is left as it is. An export
// whose cancel was asked for (POST /v1/jobs/{id}/cancel) stops at the next
// page of objects it reads (or before it writes anything more) and ends
// Cancelled, without a ZIP.
func (f *Flow) Handle(ctx context.Context, raw json.RawMessage) (jobs.Job, error) {
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil || req.Tenant == "" || req.JobID == "" {
		return jobs.Job{}, bulkerr.New(bulkerr.Invalid, "export request %s lacks tenant or job", raw)
	}
	log := f.Log.With("tenant", req.Tenant, "job", req.JobID)
	defer func() {
		if err := f.Locks.ReleaseLock(context.WithoutCancel(ctx), req.Tenant, req.JobID); err != nil {
			log.ErrorContext(ctx, "releasing the lock", "err", err.Error())
		}
	}()
	j, err := f.Jobs.GetJob(ctx, req.Tenant, req.JobID)
	if err != nil {
		return jobs.Job{}, err
	}
	if j.Status.Final() {
		// A retried invocation: the export is done, but its end may not
		// have reached the hook (FinishRun is idempotent).
		f.finished(ctx, req, j)
		return j, nil
	}
	if j.Status == jobs.StatusNew && !j.CancelRequested() {
		f.announce(ctx, req) // every transition has its event, New included
	}
	err = errCancelled
	if !j.CancelRequested() {
		err = f.run(ctx, req, j)
	}
	switch {
	case errors.Is(err, errCancelled):
		log.InfoContext(ctx, "export cancelled")
		if err := f.finishCancelled(context.WithoutCancel(ctx), req); err != nil {
			return jobs.Job{}, err
		}
	case err != nil:
		log.ErrorContext(ctx, "export failed", "err", err.Error())
		if ferr := f.Jobs.FailIn(context.WithoutCancel(ctx), req.Tenant, req.JobID, phaseOf(err), bulkerr.Message(err), f.Now()); ferr != nil {
			return jobs.Job{}, ferr
		}
		fallthrough
	default:
		f.announce(ctx, req)
	}
	final, err := f.Jobs.GetJob(context.WithoutCancel(ctx), req.Tenant, req.JobID)
	if err != nil {
		return jobs.Job{}, err
	}
	f.finished(ctx, req, final)
	return final, nil
}

// finished tells the finish hook, if any, that j has ended.
func (f *Flow) finished(ctx context.Context, req Request, j jobs.Job) {
	if f.Finished == nil {
		return
	}
	if err := f.Finished.ExportFinished(context.WithoutCancel(ctx), req, j); err != nil {
		f.Log.ErrorContext(ctx, "recording the finished export", "tenant", req.Tenant, "job", req.JobID, "err", err.Error())
	}
}

func (f *Flow) announce(ctx context.Context, req Request) {
	if f.Events == nil {
		return
	}
	if j, err := f.Jobs.GetJob(ctx, req.Tenant, req.JobID); err == nil {
		if err := f.Events.JobChanged(ctx, j); err != nil {
			f.Log.WarnContext(ctx, "job event not published", "err", err.Error())
		}
	}
}

// errLimit stops reading a type once Limit objects were taken.
var errLimit = errors.New("limit reached")

// errCancelled stops an export whose cancel was asked for.
var errCancelled = errors.New("the export was cancelled")

// cancelCheckRows is how many objects an export reads between two looks
// at its job for a cancel: a page of objects (dynamostore reads 1,000
// items a page), one consistent read per page.
const cancelCheckRows = 1000

// finishCancelled ends the export's job Cancelled with the counts it has
// (the API's cancel does the same; whichever comes first writes it).
func (f *Flow) finishCancelled(ctx context.Context, req Request) error {
	j, err := f.Jobs.GetJob(ctx, req.Tenant, req.JobID)
	if err != nil || j.Status == jobs.StatusCancelled {
		return err
	}
	if !j.CancelRequested() {
		return bulkerr.New(bulkerr.Internal, "export %s stopped for a cancel it does not have", req.JobID)
	}
	err = f.Jobs.FinishCancelled(ctx, req.Tenant, req.JobID, j.Counts, "", "", jobs.ExportCancelledMessage(j.CancelledBy, j.Counts.Processed), f.Now())
	if err == nil {
		f.announce(ctx, req)
	}
	return err
}

// extend renews the export's lease on the tenant lock. A cancel releases
// the lock, so a lost lock is reported as the cancel when there is one.
func (e *export) extend(ctx context.Context) error {
	err := e.f.Locks.ExtendLock(ctx, e.req.Tenant, e.req.JobID, e.f.LockLease)
	if bulkerr.KindOf(err) == bulkerr.Conflict {
		if cerr := e.checkCancel(ctx); cerr != nil {
			return cerr
		}
	}
	return err
}

// checkCancel returns errCancelled when a cancel was asked for the job.
func (e *export) checkCancel(ctx context.Context) error {
	j, err := e.f.Jobs.GetJob(ctx, e.req.Tenant, e.req.JobID)
	if err != nil {
		return err
	}
	if j.CancelledBy != "" || j.Status == jobs.StatusCancelled {
		return errCancelled
	}
	return nil
}

// export is one running export: the request, its object reader and the
// lock lease it keeps alive.
type export struct {
	f          *Flow
	req        Request
	objs       ObjectLister
	lastExtend time.Time
	read       int // objects read, for the cancel checks
}

// each calls fn with the objects of t the export takes, in read order: in
// the window, passing p's filters, at most req.Limit. It extends the lock
// as it goes.
func (e *export) each(ctx context.Context, t *objecttype.Type, p *csvexport.Plan, fn func(catalog.Object) error) error {
	taken := 0
	visit := func(o catalog.Object) error {
		if e.read++; e.read%cancelCheckRows == 0 {
			if err := e.checkCancel(ctx); err != nil {
				return err
			}
		}
		if time.Since(e.lastExtend) > e.f.LockLease/3 {
			if err := e.extend(ctx); err != nil {
				return err
			}
			e.lastExtend = time.Now()
		}
		if !p.Keep(o) {
			return nil
		}
		taken++
		if err := fn(o); err != nil {
			return err
		}
		if e.req.Limit > 0 && taken >= e.req.Limit {
			return errLimit // read no further
		}
		return nil
	}
	var err error
	if e.req.Window.All() {
		err = e.objs.Each(ctx, t.Slug, visit)
	} else {
		err = e.objs.EachUpdated(ctx, t.Slug, e.req.Window, visit)
	}
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

// progressRows is how many rows an export writes between progress
// commits (percent and ETA on the job).
const progressRows = 5000

// plain reports whether the objects of a type that p exports are simply
// all of them (at most Limit): no first pass is needed to lay them out or
// to count them.
func (e *export) plain(p *csvexport.Plan) bool {
	return !p.NeedsPass() && !p.Filtered() && e.req.Window.All()
}

// countLater counts the objects of types in the background, while the
// export writes them, and sets the job's total to known plus that count,
// so percent and ETA appear without the export reading everything twice
// first. The returned stop ends the count if it is still going and waits
// for it; the export sets the exact total when it finishes either way.
func (e *export) countLater(ctx context.Context, types []*objecttype.Type, known int) (stop func()) {
	if len(types) == 0 {
		return func() {}
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		total := known
		for _, t := range types {
			n, err := e.objs.Count(cctx, t.Slug)
			if err != nil {
				if cctx.Err() == nil {
					e.f.Log.WarnContext(ctx, "counting the export's objects", "type", t.Slug, "err", err.Error())
				}
				return
			}
			if e.req.Limit > 0 {
				n = min(n, e.req.Limit)
			}
			total += n
		}
		if err := e.f.Jobs.SetTotal(cctx, e.req.Tenant, e.req.JobID, total); err != nil && cctx.Err() == nil {
			e.f.Log.WarnContext(ctx, "setting the export's total", "err", err.Error())
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// prepare makes one pass over the objects of t the export will take, for
// a type that is not plain: its layout depends on the data (GAX family
// columns, multi-valued fields in columns) or the objects taken cannot be
// counted by a plain Count (filters, a window). The pass shows them to p
// (Observe) and counts them.
func (e *export) prepare(ctx context.Context, t *objecttype.Type, p *csvexport.Plan) (int, error) {
	n := 0
	err := e.each(ctx, t, p, func(o catalog.Object) error {
		n++
		p.Observe(o)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("finding the %s objects and columns of the export: %w", t.Name, err)
	}
	return n, nil
}

func (f *Flow) run(ctx context.Context, req Request, j jobs.Job) error {
	if err := req.Options.Validate(); err != nil {
		return err
	}
	if err := req.Options.ValidateTypes(req.ObjectTypes); err != nil {
		return err
	}
	if req.Limit < 0 {
		return bulkerr.New(bulkerr.Invalid, "limit %d is negative; give a positive number of objects per type, or 0 for all", req.Limit)
	}
	if err := exportzip.ValidatePrefix(req.Prefix); err != nil {
		return err
	}
	var types []*objecttype.Type
	for _, s := range req.ObjectTypes {
		t, err := objecttype.Lookup(s)
		if err != nil {
			return err
		}
		types = append(types, t)
	}
	if len(types) == 0 {
		return bulkerr.New(bulkerr.Invalid, "the export names no object type")
	}
	// Resolve every type's options before reading anything, so a bad field
	// fails the job at once.
	plans, err := csvexport.NewPlans(types, req.Options)
	if err != nil {
		return err
	}
	e := &export{f: f, req: req, objs: f.Objects(req.Tenant), lastExtend: time.Now()}
	total := 0
	var plain []*objecttype.Type // counted while the export runs
	for i, t := range types {
		if e.plain(plans[i]) {
			plain = append(plain, t)
			continue
		}
		n, err := e.prepare(ctx, t, plans[i])
		if err != nil {
			return err
		}
		total += n
	}
	if req.Options.IsCSV() {
		if err := e.checkCSV(ctx, types[0], plans[0], total); err != nil {
			return err
		}
	}
	// The lock was taken for this job by whoever started it; an invocation
	// that arrives after its lease ran out (and another operation took the
	// tenant) must not run beside that operation.
	if err := e.extend(ctx); err != nil {
		return err
	}
	e.lastExtend = time.Now()
	if err := f.Jobs.MarkInProgress(ctx, req.Tenant, req.JobID, total, 1, f.Now()); err != nil {
		if cerr := e.checkCancel(ctx); cerr != nil {
			return cerr
		}
		return err
	}
	f.announce(ctx, req)
	stopCount := e.countLater(ctx, plain, total)
	defer stopCount()

	tmp, err := os.CreateTemp("", "export-*"+req.Options.Ext())
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "creating a temporary file")
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	zw := exportzip.ForOptions(tmp, req.Options, f.Now().In(schedule.Spec{TimeZone: req.TimeZone}.Location()))
	rows, pending, chunk := 0, 0, 0
	// Progress is committed every progressRows rows: fixed boundaries, so
	// a retried invocation commits the same chunks and counts them once.
	commit := func() error {
		if pending == 0 {
			return nil
		}
		chunk++
		err := f.Counts.CommitChunk(ctx, req.Tenant, req.JobID, chunk, jobs.Counts{Processed: pending})
		pending = 0
		if bulkerr.KindOf(err) == bulkerr.Conflict {
			if cerr := e.checkCancel(ctx); cerr != nil {
				return cerr // the job is no longer In Progress because it was cancelled
			}
		}
		return err
	}
	for i, t := range types {
		if err := zw.Begin(t, plans[i].Layout()); err != nil {
			return inPhase(jobs.PhaseWriting, bulkerr.Wrap(bulkerr.Internal, err, "writing the export"))
		}
		err := e.each(ctx, t, plans[i], func(o catalog.Object) error {
			rows++
			pending++
			if err := zw.Write(o); err != nil {
				return inPhase(jobs.PhaseWriting, err)
			}
			if pending == progressRows {
				return commit()
			}
			return nil
		})
		if err != nil {
			return inPhase(jobs.PhaseReading, err) // unless the callback named its phase
		}
	}
	stopCount()
	parts, err := zw.Close()
	if err != nil {
		return inPhase(jobs.PhaseWriting, bulkerr.Wrap(bulkerr.Internal, err, "writing the export"))
	}
	size, err := tmp.Seek(0, 2)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "sizing the export")
	}
	// The file is complete on disk before the upload, and one PutObject
	// makes it visible whole or not at all: a stable key holds the
	// previous run's file until this one replaces it.
	key := outputKey(req, j)
	// A fresh lease for the upload of a large ZIP, unless the job was
	// cancelled meanwhile.
	if err := e.checkCancel(ctx); err != nil {
		return err
	}
	if err := e.extend(ctx); err != nil {
		return err
	}
	version, err := f.Files.PutFile(ctx, key, req.Options.ContentType(), tmp, size)
	if err != nil {
		return inPhase(jobs.PhaseWriting, err)
	}
	if req.TargetID != "" && req.Limit == 0 {
		if err := e.extend(ctx); err != nil {
			return err
		}
		if err := f.deliver(ctx, req, j.FileName, io.NewSectionReader(tmp, 0, size)); err != nil {
			p := delivery.PhaseOf(err)
			if p == "" {
				p = delivery.PhaseConfig
			}
			return inPhase(jobs.DeliveryPhase(string(p)), err)
		}
	}
	if err := commit(); err != nil {
		return err
	}
	if err := f.Jobs.SetExportResult(ctx, req.Tenant, req.JobID, rows, len(parts), version); err != nil {
		return err
	}
	if err := f.Jobs.Finish(ctx, req.Tenant, req.JobID, jobs.StatusCompleted, "", key, f.Now()); err != nil {
		return err
	}
	f.Log.InfoContext(ctx, "export finished", "tenant", req.Tenant, "job", req.JobID, "rows", rows, "files", len(parts), "bytes", size, "key", key)
	return nil
}

// phasedError names the phase of the export an error stopped
// (jobs.Job.FailedPhase); the first phase given wins.
type phasedError struct {
	phase string
	err   error
}

func (e *phasedError) Error() string { return e.err.Error() }
func (e *phasedError) Unwrap() error { return e.err }

// inPhase tags err with phase unless it has one (or is a cancel, which
// is no failure).
func inPhase(phase string, err error) error {
	var pe *phasedError
	if err == nil || errors.As(err, &pe) || errors.Is(err, errCancelled) {
		return err
	}
	return &phasedError{phase: phase, err: err}
}

// phaseOf is the phase err was tagged with ("" when none: FailurePhase
// then derives it from the job).
func phaseOf(err error) string {
	var pe *phasedError
	if errors.As(err, &pe) {
		return pe.phase
	}
	return ""
}

// deliver sends the export's file to the request's target and records
// the outcome on the job: the destination and the remote name, or the
// phase that failed and why. A failed delivery fails the export, naming
// the target and the phase.
func (f *Flow) deliver(ctx context.Context, req Request, name string, r io.Reader) error {
	if f.Targets == nil || f.Deliver == nil {
		return bulkerr.New(bulkerr.Internal, "the export names delivery target %s, but delivery is not configured", req.TargetID)
	}
	t, err := f.Targets.GetTarget(ctx, req.Tenant, req.TargetID)
	if bulkerr.KindOf(err) == bulkerr.NotFound {
		err = delivery.Fail(delivery.PhaseConfig, bulkerr.Invalid, err, "the delivery target %s no longer exists", req.TargetID)
		f.recordDelivery(ctx, req, jobs.Delivery{TargetID: req.TargetID, Phase: string(delivery.PhaseConfig), Error: bulkerr.Message(err)})
		return bulkerr.Wrap(bulkerr.Invalid, err, "the file was exported, but not delivered: %s", bulkerr.Message(err))
	}
	if err != nil {
		return err
	}
	d := jobs.Delivery{TargetID: t.ID, TargetName: t.Name, Kind: string(t.KindOrDefault())}
	if t.KindOrDefault() == delivery.KindS3Link {
		f.recordDelivery(ctx, req, d)
		return nil
	}
	rc, err := f.Deliver.Deliver(ctx, t, name, r)
	if err != nil {
		phase := delivery.PhaseOf(err)
		d.Phase, d.Error = string(phase), bulkerr.Message(err)
		f.recordDelivery(ctx, req, d)
		f.Log.WarnContext(ctx, "delivery failed", "tenant", req.Tenant, "job", req.JobID, "target", t.ID, "phase", string(phase), "err", err.Error())
		return bulkerr.Wrap(bulkerr.KindOf(err), err, "the file was exported, but its delivery to %s failed at %s: %s", t.Name, phase, bulkerr.Message(err))
	}
	d.Destination, d.RemoteName, d.Bytes = rc.Destination, rc.RemoteName, rc.Bytes
	f.recordDelivery(ctx, req, d)
	f.Log.InfoContext(ctx, "export delivered", "tenant", req.Tenant, "job", req.JobID, "target", t.ID, "destination", rc.Destination, "bytes", rc.Bytes)
	return nil
}

func (f *Flow) recordDelivery(ctx context.Context, req Request, d jobs.Delivery) {
	if f.Deliveries == nil {
		return
	}
	if err := f.Deliveries.SetDelivery(context.WithoutCancel(ctx), req.Tenant, req.JobID, d); err != nil {
		f.Log.ErrorContext(ctx, "recording the delivery", "tenant", req.Tenant, "job", req.JobID, "err", err.Error())
	}
}
