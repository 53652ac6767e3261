// Command notify is the Lambda function that tells a tenant's own contact
// (e-mail through SES, a signed HTTPS webhook) that a scheduled export run
// or an import failed. An EventBridge rule feeds it the service's "Export
// Failed" and "Bulk Job Status Changed" events. Wiring only: the work is in
// shared/notify and shared/notifyapp.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/notifyapp"
)

func main() {
	// nil: the webhook secrets are read from Secrets Manager.
	a, err := notifyapp.New(context.Background(), os.Getenv, os.Stdout, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
	lambda.Start(notifyapp.Handler(a))
}
