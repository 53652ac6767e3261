// Package exportapp assembles the export function from the environment;
// the Lambda binary (functions/export) and the local dev server call it.
package exportapp

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"github.com/ccbulk/bulkops/shared/applog"
	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportflow"
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
	f.Events = jobevents.New(awsenv.EventBridge(res.AWS), getenv("BULKOPS_EVENT_BUS"))
	return f, nil
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
