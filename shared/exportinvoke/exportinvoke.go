// Package exportinvoke starts export jobs by invoking the export function
// asynchronously (Lambda Invoke, InvocationType Event): the API's
// on-demand and test exports and the dispatcher's scheduled runs. It is
// the AWS side of their exportStarter interfaces (httpapi, exportflow).
package exportinvoke

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ccbulk/bulkops/shared/exportflow"
)

// invoker is the part of the Lambda client Starter uses.
type invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Starter starts exports on one function.
type Starter struct {
	Client   invoker
	Function string // name or ARN
}

// StartExport invokes the export function with req; it returns once
// Lambda has queued the event.
func (s Starter) StartExport(ctx context.Context, req exportflow.Request) error {
	payload, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = s.Client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: &s.Function, InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload,
	})
	return err
}
