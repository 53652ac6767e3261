// Package importapp assembles the import workflow from the environment: it
// reads the configuration once, loads the AWS configuration once and builds
// the clients. The Lambda binaries (functions/import-*) and the local dev
// server both call it, so locally the very same handler runs.
package importapp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ccbulk/bulkops/shared/applog"
	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/s3store"
	"github.com/ccbulk/bulkops/shared/stepfunc"
)

// Env names the resources; template.yaml sets these variables.
type Env struct {
	Bucket, ObjectsTable, JobsTable, ControlTable string
}

// EnvFrom reads and checks the resource variables.
func EnvFrom(getenv func(string) string) (Env, error) {
	e := Env{
		Bucket: getenv("BULKOPS_BUCKET"), ObjectsTable: getenv("BULKOPS_OBJECTS_TABLE"),
		JobsTable: getenv("BULKOPS_JOBS_TABLE"), ControlTable: getenv("BULKOPS_CONTROL_TABLE"),
	}
	for name, v := range map[string]string{
		"BULKOPS_BUCKET": e.Bucket, "BULKOPS_OBJECTS_TABLE": e.ObjectsTable,
		"BULKOPS_JOBS_TABLE": e.JobsTable, "BULKOPS_CONTROL_TABLE": e.ControlTable,
	} {
		if v == "" {
			return Env{}, fmt.Errorf("environment variable %s is not set", name)
		}
	}
	return e, nil
}

// New builds the import workflow from the environment. logOut receives the
// JSON log lines.
func New(ctx context.Context, getenv func(string) string, logOut io.Writer) (*importflow.Flow, error) {
	cfg, err := importflow.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	res, err := Open(ctx, getenv)
	if err != nil {
		return nil, err
	}
	flow := Assemble(cfg, res.DB, res.Files, applog.New(logOut))
	flow.Events = jobevents.New(awsenv.EventBridge(res.AWS), getenv("BULKOPS_EVENT_BUS"))
	return flow, nil
}

// Resources are the stores every function uses, built once per process.
type Resources struct {
	AWS   aws.Config
	DB    *dynamostore.Store
	Files *s3store.Store
}

// Open reads the resource variables and the AWS configuration and builds
// the DynamoDB and S3 stores.
func Open(ctx context.Context, getenv func(string) string) (Resources, error) {
	env, err := EnvFrom(getenv)
	if err != nil {
		return Resources{}, err
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return Resources{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	db := dynamostore.New(awsenv.DynamoDB(awsCfg), dynamostore.Tables{
		Objects: env.ObjectsTable, Jobs: env.JobsTable, Control: env.ControlTable,
	}, time.Now)
	return Resources{AWS: awsCfg, DB: db, Files: s3store.New(awsenv.S3(awsCfg), env.Bucket)}, nil
}

// Assemble builds a Flow from its parts (without an event publisher); tests
// use it with their own tables, bucket, configuration and clock.
func Assemble(cfg importflow.Config, db *dynamostore.Store, files *s3store.Store, log *slog.Logger) *importflow.Flow {
	ids := ident.NewGenerator(nil)
	return &importflow.Flow{
		Config:   cfg,
		Jobs:     db,
		Locks:    db,
		Progress: db,
		Uploads:  db,
		Settings: db,
		Files:    files,
		Objects:  func(tenant string) importflow.ObjectStore { return db.Objects(tenant) },
		NewID:    func() (string, error) { return ids.New(time.Now()) },
		Now:      time.Now,
		Log:      log,
	}
}

// Handler is the Lambda handler of every import function.
func Handler(f *importflow.Flow) func(context.Context, importflow.Request) (any, error) {
	return stepfunc.Handler(f.Log, f.Handle)
}
