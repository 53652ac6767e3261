// Package importapp assembles the import workflow: awswire reads the
// configuration once and builds the AWS-backed stores, and this package
// plugs them into importflow. The Lambda binaries (functions/import-*) and
// the local dev server both call it, so locally the very same handler
// runs.
package importapp

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/ccbulk/bulkops/shared/awswire"
	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/s3store"
	"github.com/ccbulk/bulkops/shared/stepfunc"
)

// New builds the import workflow from the environment. logOut receives the
// JSON log lines.
func New(ctx context.Context, getenv func(string) string, logOut io.Writer) (*importflow.Flow, error) {
	res, err := awswire.Open(ctx, getenv)
	if err != nil {
		return nil, err
	}
	flow := Assemble(FlowConfig(res.Config), res.DB, res.Files, res.Logger(logOut))
	flow.Events = res.Events
	return flow, nil
}

// FlowConfig is the import workflow's part of the configuration, with
// the file limits (csvread's, per tenant setting).
func FlowConfig(c config.Config) importflow.Config {
	return importflow.Config{
		LockLease: c.LockLease, LockWait: c.LockWait, LockWaitAttempts: c.LockWaitAttempts,
		ChunkRows: c.ChunkRows, ChunkConcurrency: c.ChunkConcurrency, WriteParallelism: c.WriteParallelism,
		DistributedChunks: c.DistributedChunks, DistributedConcurrency: c.DistributedConcurrency,
		Limits: csvread.DefaultLimits(), LargeLimits: csvread.LargeLimits(),
	}
}

// Assemble builds a Flow from its parts (without an event publisher); tests
// use it with their own tables, bucket, configuration and clock.
func Assemble(cfg importflow.Config, db *dynamostore.Store, files *s3store.Store, log *slog.Logger) *importflow.Flow {
	ids := ident.NewGenerator(nil)
	// Chunks write by the fenced BatchWriteItem path: only a job holding
	// its tenant's lock writes objects (dynamostore/fence.go).
	writer := db.WithWritePath(dynamostore.DefaultWritePath)
	return &importflow.Flow{
		Config:   cfg,
		Jobs:     db,
		Locks:    db,
		Progress: db,
		Uploads:  db,
		Settings: db,
		Files:    files,
		Objects:  func(tenant string) importflow.ObjectStore { return writer.Objects(tenant) },
		NewID:    func() (string, error) { return ids.New(time.Now()) },
		Now:      time.Now,
		Log:      log,
	}
}

// Handler is the Lambda handler of every import function.
func Handler(f *importflow.Flow) func(context.Context, importflow.Request) (any, error) {
	return stepfunc.Handler(f.Log, f.Handle)
}
