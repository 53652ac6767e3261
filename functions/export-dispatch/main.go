// Command export-dispatch is ticked by the export schedule rule: it claims
// the due scheduled exports and starts the export function for each.
// Wiring only: the work is in shared/exportflow.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/exportapp"
)

func main() {
	d, err := exportapp.NewDispatcher(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "export-dispatch:", err)
		os.Exit(1)
	}
	lambda.Start(exportapp.DispatchHandler(d))
}
