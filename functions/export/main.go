// Command export is the Lambda function that runs one export job (invoked
// asynchronously by the API for on-demand exports). Wiring only: the work
// is in shared/exportflow.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/exportapp"
)

func main() {
	flow, err := exportapp.New(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		os.Exit(1)
	}
	lambda.Start(exportapp.Handler(flow))
}
