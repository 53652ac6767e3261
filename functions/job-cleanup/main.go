// Command job-cleanup is the Lambda function that ends jobs whose workflow
// died outside its own error handling: import executions that failed,
// timed out or were aborted (Step Functions status change events), export
// invocations Lambda gave up on (OnFailure destination), and, every
// minute, jobs whose tenant lock lease ran out (the sweeper). Wiring only:
// the work is in shared/jobcleanup.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/cleanupapp"
)

func main() {
	c, err := cleanupapp.New(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "job-cleanup:", err)
		os.Exit(1)
	}
	lambda.Start(cleanupapp.Handler(c))
}
