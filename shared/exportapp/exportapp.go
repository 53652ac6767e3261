// Package exportapp assembles the export function and the scheduled-export
// dispatcher: awswire reads the configuration once and builds the
// AWS-backed stores, and this package plugs them into exportflow. The
// Lambda binaries (functions/export, functions/export-dispatch) and the
// local dev server call it.
package exportapp

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/awswire"
	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/exportinvoke"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
	"github.com/ccbulk/bulkops/shared/stepfunc"
)

// New builds the export flow from the environment.
func New(ctx context.Context, getenv func(string) string, logOut io.Writer) (*exportflow.Flow, error) {
	res, err := awswire.Open(ctx, getenv)
	if err != nil {
		return nil, err
	}
	f := Assemble(res.DB, res.Files, res.Config.LockLease, res.Logger(logOut))
	f.Events = res.Events
	_, f.Deliver = res.Delivery(f.Log)
	f.Finished = &exportflow.ScheduleRuns{Schedules: res.DB, Events: res.Events, Log: f.Log}
	return f, nil
}

// WriteLag is how far before a scheduled run its incremental window ends.
// An import's object is stored within dynamostore.FenceWindow (5 s) of its
// updatedAt or never (the fenced path stamps each wave after its fence
// check and sends nothing past the check's deadline), so a minute leaves
// every write of the window landed before the export reads, with room for
// clock error (TestWriteLagOutlastsTheFence).
const WriteLag = time.Minute

// NewDispatcher builds the scheduled-export dispatcher from the
// environment: it starts runs by invoking BULKOPS_EXPORT_FUNCTION
// asynchronously, and ends runs that fail before their export starts the
// way the export function ends the others (ScheduleRuns).
func NewDispatcher(ctx context.Context, getenv func(string) string, logOut io.Writer) (*exportflow.Dispatcher, error) {
	res, err := awswire.Open(ctx, getenv, config.ExportFunctionVar)
	if err != nil {
		return nil, err
	}
	log := res.Logger(logOut)
	ids := ident.NewGenerator(nil)
	return &exportflow.Dispatcher{
		Schedules: res.DB, Store: res.DB,
		Exports:   exportinvoke.Starter{Client: awsenv.Lambda(res.AWS), Function: res.Config.ExportFunction},
		Finished:  &exportflow.ScheduleRuns{Schedules: res.DB, Events: res.Events, Log: log},
		Events:    res.Events,
		NewID:     func() (string, error) { return ids.New(time.Now()) },
		Now:       time.Now,
		LockLease: res.Config.LockLease,
		WriteLag:  WriteLag,
		Log:       log,
	}, nil
}

// DispatchHandler is the dispatcher function's Lambda handler: one tick per
// schedule-rule event.
func DispatchHandler(d *exportflow.Dispatcher) func(context.Context, events.CloudWatchEvent) error {
	return func(ctx context.Context, ev events.CloudWatchEvent) error {
		started, err := d.Tick(ctx)
		if err != nil {
			d.Log.ErrorContext(ctx, "export tick failed", "err", err.Error(), "tick", ev.Time)
			return err
		}
		d.Log.InfoContext(ctx, "export tick", "tick", ev.Time, "started", started)
		return nil
	}
}

// Assemble builds the flow from its parts; tests use it with their own
// tables and bucket.
func Assemble(db *dynamostore.Store, files *s3store.Store, lease time.Duration, log *slog.Logger) *exportflow.Flow {
	return &exportflow.Flow{
		Jobs: db, Counts: db, Locks: db, Files: files, Targets: db, Deliveries: db,
		Objects:   func(tenant string) exportflow.ObjectLister { return db.Objects(tenant) },
		LockLease: lease, Now: time.Now, Log: log,
	}
}

// Handler is the export function's Lambda handler.
func Handler(f *exportflow.Flow) func(context.Context, json.RawMessage) (jobs.Job, error) {
	return stepfunc.Handler(f.Log, f.Handle)
}
