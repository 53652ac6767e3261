// Command import-retry is the Lambda function that builds the file of a
// retry of an import's rejected rows (POST /v1/jobs/{id}/retry), invoked
// asynchronously by the API so that reading a large job's source and
// reports is not bound by API Gateway's 29 seconds. Wiring only: the work
// is in shared/retry, the assembly in shared/retryapp.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/retryapp"
)

func main() {
	b, err := retryapp.New(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "import-retry:", err)
		os.Exit(1)
	}
	lambda.Start(retryapp.Handler(b))
}
