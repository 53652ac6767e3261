// Package stepfunc adapts the service's step handlers to Lambda for Step
// Functions: an error leaves the function as a Lambda error whose errorType
// is the Step Functions error name of its kind (bulkerr.StateName), which is
// what the Retry and Catch clauses in statemachines/*.asl.json match, and
// whose message is the tenant-safe text. The full error goes to the log.
package stepfunc

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Handler wraps fn. The returned function has a shape lambda.Start and
// lambda.NewHandler accept.
func Handler[In, Out any](log *slog.Logger, fn func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		out, err := fn(ctx, in)
		if err != nil {
			log.ErrorContext(ctx, "step failed", "kind", string(bulkerr.KindOf(err)), "error", err.Error())
			return out, LambdaError(err)
		}
		return out, nil
	}
}

// LambdaError converts err to the value the Lambda runtime reports verbatim
// as errorType and errorMessage.
func LambdaError(err error) error {
	return messages.InvokeResponse_Error{Type: bulkerr.StateName(err), Message: bulkerr.Message(err)}
}
