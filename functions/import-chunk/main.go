// Command import-chunk is the Lambda function that runs the import workflow's
// chunk step (the Map's ProcessChunk) (statemachines/import.asl.json).
// Wiring only: the steps live in shared/importflow.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/importapp"
)

func main() {
	flow, err := importapp.New(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		slog.Error("start-up failed", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(importapp.Handler(flow))
}
