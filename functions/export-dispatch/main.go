// Command export-dispatch is ticked by the export schedule rule. In the
// walking skeleton it only logs the tick; scheduled exports come later.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/applog"
)

func main() {
	log := applog.New(os.Stdout)
	lambda.Start(func(ctx context.Context, ev events.CloudWatchEvent) error {
		log.InfoContext(ctx, "export tick (scheduled exports are not built yet)", "time", ev.Time)
		return nil
	})
}
