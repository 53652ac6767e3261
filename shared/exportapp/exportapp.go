// Package exportapp assembles the export function from the environment;
// the Lambda binary (functions/export) and the local dev server call it.
package exportapp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ccbulk/bulkops/shared/applog"
	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/importapp"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
	"github.com/ccbulk/bulkops/shared/stepfunc"
)

// New builds the export flow from the environment.
func New(ctx context.Context, getenv func(string) string, logOut io.Writer) (*exportflow.Flow, error) {
	cfg, err := importflow.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	res, err := importapp.Open(ctx, getenv)
	if err != nil {
		return nil, err
	}
	f := Assemble(res.DB, res.Files, cfg.LockLease, applog.New(logOut))
	events := jobevents.New(awsenv.EventBridge(res.AWS), getenv("BULKOPS_EVENT_BUS"))
	f.Events = events
	f.Finished = &exportflow.ScheduleRuns{Schedules: res.DB, Events: events, Log: f.Log}
	return f, nil
}

// NewDispatcher builds the scheduled-export dispatcher from the
// environment: it starts runs by invoking BULKOPS_EXPORT_FUNCTION
// asynchronously, and ends runs that fail before their export starts the
// way the export function ends the others (ScheduleRuns).
func NewDispatcher(ctx context.Context, getenv func(string) string, logOut io.Writer) (*exportflow.Dispatcher, error) {
	cfg, err := importflow.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	fn := getenv("BULKOPS_EXPORT_FUNCTION")
	if fn == "" {
		return nil, fmt.Errorf("environment variable BULKOPS_EXPORT_FUNCTION is not set")
	}
	res, err := importapp.Open(ctx, getenv)
	if err != nil {
		return nil, err
	}
	log := applog.New(logOut)
	ids := ident.NewGenerator(nil)
	pub := jobevents.New(awsenv.EventBridge(res.AWS), getenv("BULKOPS_EVENT_BUS"))
	return &exportflow.Dispatcher{
		Schedules: res.DB, Store: res.DB,
		Exports:   LambdaStarter{Client: awsenv.Lambda(res.AWS), Function: fn},
		Finished:  &exportflow.ScheduleRuns{Schedules: res.DB, Events: pub, Log: log},
		Events:    pub,
		NewID:     func() (string, error) { return ids.New(time.Now()) },
		Now:       time.Now,
		LockLease: cfg.LockLease,
		IndexLag:  time.Minute,
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

// LambdaStarter starts exports by invoking the export function
// asynchronously (InvocationType Event): the API's on-demand and test
// exports and the dispatcher's scheduled runs.
type LambdaStarter struct {
	Client   *lambda.Client
	Function string
}

// StartExport invokes the export function with req.
func (l LambdaStarter) StartExport(ctx context.Context, req exportflow.Request) error {
	payload, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = l.Client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: &l.Function, InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload,
	})
	return err
}

// Assemble builds the flow from its parts; tests use it with their own
// tables and bucket.
func Assemble(db *dynamostore.Store, files *s3store.Store, lease time.Duration, log *slog.Logger) *exportflow.Flow {
	return &exportflow.Flow{
		Jobs: db, Counts: db, Locks: db, Files: files,
		Objects:   func(tenant string) exportflow.ObjectLister { return db.Objects(tenant) },
		LockLease: lease, Now: time.Now, Log: log,
	}
}

// Handler is the export function's Lambda handler.
func Handler(f *exportflow.Flow) func(context.Context, json.RawMessage) (jobs.Job, error) {
	return stepfunc.Handler(f.Log, f.Handle)
}
