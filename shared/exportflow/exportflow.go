// Package exportflow runs one export job: it reads a tenant's objects of
// one or more types page by page, writes them as a ZIP of CSV parts in the
// import columns (package exportzip) to a temporary file, uploads it under
// exports/<tenant>/<job>/ and finishes the job with a link target. The
// tenant lock, taken by whoever started the job (the API for on-demand
// exports), is extended while it runs and released at the end, whatever
// happens.
package exportflow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/exportzip"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
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
	Finish(ctx context.Context, tenant, id string, status jobs.Status, errorKey, resultsKey string, at time.Time) error
	Fail(ctx context.Context, tenant, id, reason string, at time.Time) error
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
	Each(ctx context.Context, typ string, fn func(catalog.Object) error) error
	Count(ctx context.Context, typ string) (int, error)
}

// fileStore uploads the export.
type fileStore interface {
	PutFile(ctx context.Context, key, contentType string, f *os.File, size int64) error
}

// notifier publishes job transitions.
type notifier interface {
	JobChanged(ctx context.Context, j jobs.Job) error
}

// Flow runs exports. Build it once per process.
type Flow struct {
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
// A job already final (a retried invocation) is left as it is.
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
		return j, nil
	}
	if err := f.run(ctx, req, j); err != nil {
		log.ErrorContext(ctx, "export failed", "err", err.Error())
		if ferr := f.Jobs.Fail(context.WithoutCancel(ctx), req.Tenant, req.JobID, bulkerr.Message(err), f.Now()); ferr != nil {
			return jobs.Job{}, ferr
		}
	}
	f.announce(ctx, req)
	final, err := f.Jobs.GetJob(context.WithoutCancel(ctx), req.Tenant, req.JobID)
	if err != nil {
		return jobs.Job{}, err
	}
	if f.Finished != nil {
		if err := f.Finished.ExportFinished(context.WithoutCancel(ctx), req, final); err != nil {
			log.ErrorContext(ctx, "recording the finished export", "err", err.Error())
		}
	}
	return final, nil
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

func (f *Flow) run(ctx context.Context, req Request, j jobs.Job) error {
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
	objs := f.Objects(req.Tenant)
	total := 0
	for _, t := range types {
		n, err := objs.Count(ctx, t.Slug)
		if err != nil {
			return err
		}
		total += n
	}
	if err := f.Jobs.MarkInProgress(ctx, req.Tenant, req.JobID, total, 1, f.Now()); err != nil {
		return err
	}
	f.announce(ctx, req)

	tmp, err := os.CreateTemp("", "export-*.zip")
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "creating a temporary file")
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	zw := exportzip.New(tmp, 0, f.Now().UTC())
	rows := 0
	lastExtend := time.Now()
	for _, t := range types {
		layout, err := f.layout(ctx, objs, t)
		if err != nil {
			return err
		}
		if err := zw.Begin(t, layout); err != nil {
			return bulkerr.Wrap(bulkerr.Internal, err, "writing the export")
		}
		err = objs.Each(ctx, t.Slug, func(o catalog.Object) error {
			rows++
			if time.Since(lastExtend) > f.LockLease/3 {
				if err := f.Locks.ExtendLock(ctx, req.Tenant, req.JobID, f.LockLease); err != nil {
					return err
				}
				lastExtend = time.Now()
			}
			return zw.Write(o)
		})
		if err != nil {
			return err
		}
	}
	if _, err := zw.Close(); err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "writing the export")
	}
	size, err := tmp.Seek(0, 2)
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "sizing the export")
	}
	key := ExportKey(req.Tenant, req.JobID, j.FileName)
	if err := f.Files.PutFile(ctx, key, "application/zip", tmp, size); err != nil {
		return err
	}
	if err := f.Counts.CommitChunk(ctx, req.Tenant, req.JobID, 0, jobs.Counts{Processed: rows}); err != nil {
		return err
	}
	if err := f.Jobs.Finish(ctx, req.Tenant, req.JobID, jobs.StatusCompleted, "", key, f.Now()); err != nil {
		return err
	}
	f.Log.InfoContext(ctx, "export finished", "tenant", req.Tenant, "job", req.JobID, "rows", rows, "bytes", size, "key", key)
	return nil
}

// layout is a type's export layout; GAX agents need one pass to find the
// family columns (skills, groups, switches) in use.
func (f *Flow) layout(ctx context.Context, objs ObjectLister, t *objecttype.Type) (*csvexport.Layout, error) {
	if len(t.Families) == 0 {
		return csvexport.NewLayout(t, nil), nil
	}
	related := map[string][]string{}
	seen := map[string]bool{}
	err := objs.Each(ctx, t.Slug, func(o catalog.Object) error {
		for prefix, names := range csvexport.Related(t, []catalog.Object{o}) {
			for _, n := range names {
				k := prefix + "\x00" + objecttype.NormalizeName(n)
				if !seen[k] {
					seen[k] = true
					related[prefix] = append(related[prefix], n)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding the columns of %s: %w", t.Name, err)
	}
	return csvexport.NewLayout(t, related), nil
}
