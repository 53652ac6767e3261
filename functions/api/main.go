// Command api is the Lambda function behind the HTTP API. Wiring only: the
// routes live in shared/httpapi, the assembly in shared/apiapp, the
// adapter to API Gateway's events in shared/apigwlambda. Callers are
// identified by the claims API Gateway's JWT authorizer verified.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/apiapp"
	"github.com/ccbulk/bulkops/shared/apigwlambda"
)

func main() {
	api, err := apiapp.New(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
	lambda.Start(apigwlambda.Handler(api.Handler()))
}
