// Package apiapp assembles the HTTP API: awswire reads the configuration
// once and builds the AWS-backed stores, and this package plugs them into
// httpapi, with the export starter and the cancels' Step Functions
// adapter. The Lambda binary (functions/api) and the local dev server both
// call it; on both, callers are identified by the claims of a token the
// gateway verified (API Gateway's JWT authorizer on AWS, the dev server's
// play of it locally), the tenant from BULKOPS_TENANT_CLAIM.
package apiapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/awswire"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportinvoke"
	"github.com/ccbulk/bulkops/shared/httpapi"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/importapp"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/jobcancel"
	"github.com/ccbulk/bulkops/shared/retry"
	"github.com/ccbulk/bulkops/shared/retryapp"
	"github.com/ccbulk/bulkops/shared/s3store"
)

// New builds the API from the environment (the variables template.yaml
// sets).
func New(ctx context.Context, getenv func(string) string, logOut io.Writer) (*httpapi.API, error) {
	res, err := awswire.Open(ctx, getenv)
	if err != nil {
		return nil, err
	}
	api, canceller := assemble(res.DB, res.Files, authn.Claims{TenantClaim: res.Config.TenantClaim, OperatorScope: res.Config.OperatorScope}, res.Logger(logOut))
	if fn := res.Config.ExportFunction; fn != "" {
		api.Exports = exportinvoke.Starter{Client: awsenv.Lambda(res.AWS), Function: fn}
	}
	if fn := res.Config.RetryFunction; fn != "" {
		// The retry file is built by its own function, invoked
		// asynchronously: the API answers before it is built.
		api.Retries.(*retry.Starter).Builds = retryapp.Invoker{Client: awsenv.Lambda(res.AWS), Function: fn}
	}
	canceller.Executions = Executions{Client: awsenv.SFN(res.AWS)}
	secrets, deliver := res.Delivery(res.Logger(logOut))
	api.Credentials, api.Deliver = secrets, deliver
	api.WebhookSecrets = res.WebhookSecrets(res.Logger(logOut))
	canceller.Events = res.Events
	api.NotifyPolicy = res.NotifyPolicy()
	canceller.Imports.(*importflow.Flow).Events = res.Events
	return api, nil
}

// Assemble builds the API from its parts; tests use it with their own
// tables and bucket. Its cancels stop no Step Functions execution and
// publish no events (New adds both).
func Assemble(db *dynamostore.Store, files *s3store.Store, auth authn.Authenticator, log *slog.Logger) *httpapi.API {
	api, _ := assemble(db, files, auth, log)
	return api
}

func assemble(db *dynamostore.Store, files *s3store.Store, auth authn.Authenticator, log *slog.Logger) (*httpapi.API, *jobcancel.Canceller) {
	ids := ident.NewGenerator(nil)
	cfg := importapp.FlowConfig(config.Defaults()) // the defaults: a cancel's reports need no tunables
	imports := importapp.Assemble(cfg, db, files, log)
	canceller := &jobcancel.Canceller{Jobs: db, Imports: imports, Now: time.Now, Log: log}
	return &httpapi.API{
		Auth: auth, Jobs: db, Locks: db, Settings: db, Files: files, Uploads: db, ExportStore: db, Schedules: db, Idempotency: db, OperatorSettings: db,
		Notifications: db, Targets: db,
		Cancels: canceller, Previews: imports, Copier: files,
		// Without a retry function (New names it), the file is built in
		// this process before the answer.
		Retries: &retry.Starter{Jobs: db, Builds: retryapp.Inline{Builder: retryapp.Assemble(db, files, log)}, NewID: func() (string, error) { return ids.New(time.Now()) }},
		NewID:   func() (string, error) { return ids.New(time.Now()) },
		Now:     time.Now, Log: log,
	}, canceller
}

// stopper is the part of the Step Functions client Executions uses.
type stopper interface {
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, opts ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
}

// Executions stops import executions for a cancel (states:StopExecution,
// granted on the import state machine's executions only).
type Executions struct{ Client stopper }

// StopExecution stops the execution; one that has already ended (or is
// gone) is no error.
func (e Executions) StopExecution(ctx context.Context, executionArn, cause string) error {
	_, err := e.Client.StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: aws.String(executionArn), Error: aws.String(bulkerr.KindStateName(bulkerr.Conflict)), Cause: aws.String(cause),
	})
	var gone *sfntypes.ExecutionDoesNotExist
	if errors.As(err, &gone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stopping %s: %w", executionArn, err)
	}
	return nil
}
