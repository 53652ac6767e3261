// Command api is the Lambda function behind the HTTP API. Wiring only: the
// routes live in shared/httpapi.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/httpapi"
)

func main() {
	lambda.Start(httpapi.LambdaHandler(httpapi.New()))
}
