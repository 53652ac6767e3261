// Package retryapp assembles the retry function (functions/import-retry),
// which builds the file of a retry of a job's rejected rows
// (retry.Builder): awswire reads the configuration once and builds the
// DynamoDB and S3 stores and the job event publisher. It also holds the
// API's side of the function: Invoker starts a build with an asynchronous
// Lambda invocation (InvocationType Event), as exportinvoke starts
// exports; when Lambda gives up on one (a crash or timeout on every
// attempt), the OnFailure destination, the cleanup function, fails the
// retry job and releases the old job's retry (jobcleanup). The Lambda
// binary and the local dev server call New.
package retryapp

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ccbulk/bulkops/shared/awswire"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/retry"
	"github.com/ccbulk/bulkops/shared/s3store"
	"github.com/ccbulk/bulkops/shared/stepfunc"
)

// GrantTTL is how long the retry file's upload grant waits for the file's
// S3 event: the build has written the file when it registers the grant,
// so the event follows within seconds; the margin is for a delayed event.
const GrantTTL = time.Hour

// New builds the retry function's builder from the environment.
func New(ctx context.Context, getenv func(string) string, logOut io.Writer) (*retry.Builder, error) {
	res, err := awswire.Open(ctx, getenv)
	if err != nil {
		return nil, err
	}
	b := Assemble(res.DB, res.Files, res.Logger(logOut))
	b.Events = res.Events
	return b, nil
}

// Assemble builds a builder from its parts (without an event publisher);
// tests and the API's in-process builder use it.
func Assemble(db *dynamostore.Store, files *s3store.Store, log *slog.Logger) *retry.Builder {
	return &retry.Builder{Jobs: db, Uploads: db, Files: files, GrantTTL: GrantTTL, Now: time.Now, Log: log}
}

// Handler is the retry function's Lambda handler.
func Handler(b *retry.Builder) func(context.Context, retry.Request) (retry.Built, error) {
	return stepfunc.Handler(b.Log, b.Build)
}

// invoker is the part of the Lambda client Invoker uses.
type invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Invoker starts builds on the retry function (retry.Builds).
type Invoker struct {
	Client   invoker
	Function string // name or ARN
}

// StartBuild invokes the retry function with req asynchronously; it
// returns once Lambda has queued the event.
func (v Invoker) StartBuild(ctx context.Context, req retry.Request) error {
	payload, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = v.Client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: &v.Function, InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload,
	})
	return err
}

// Inline runs builds in the caller's process, synchronously: the API
// assembled without a retry function (apiapp.Assemble, which tests use)
// builds the file before it answers.
type Inline struct{ Builder *retry.Builder }

// StartBuild builds the file of req now.
func (i Inline) StartBuild(ctx context.Context, req retry.Request) error {
	_, err := i.Builder.Build(ctx, req)
	return err
}
