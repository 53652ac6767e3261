// Command migrate-objects moves the objects written before the sharded
// layout (pk "<tenant>#<type>") to their shards (pk
// "<tenant>#<type>#<shard>"): dynamostore.MigrateObjects, resumable and
// idempotent (README: "Upgrading to the sharded layout"). It talks to
// whatever the AWS SDK's environment names (a deployed stack, LocalStack
// or the local stack) and prints the report as JSON.
//
//	migrate-objects -objects-table bulkops-dev-ObjectsTable-… -control-table bulkops-dev-ControlTable-…
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/dynamostore"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "migrate-objects:", err)
		os.Exit(1)
	}
}

func run() error {
	objects := flag.String("objects-table", os.Getenv("BULKOPS_OBJECTS_TABLE"), "the objects table (default $BULKOPS_OBJECTS_TABLE)")
	control := flag.String("control-table", os.Getenv("BULKOPS_CONTROL_TABLE"), "the control table, which keeps the checkpoint (default $BULKOPS_CONTROL_TABLE)")
	pages := flag.Int("pages", 0, "stop after this many scan pages (0: run to the end); the next run resumes")
	pageItems := flag.Int("page-items", 500, "items per scan page")
	parallel := flag.Int("parallel", 16, "items moved at once")
	flag.Parse()
	if *objects == "" || *control == "" {
		return fmt.Errorf("-objects-table and -control-table are required")
	}
	if *pageItems < 1 || *parallel < 1 || *pages < 0 {
		return fmt.Errorf("-page-items and -parallel must be positive, -pages not negative")
	}
	ctx := context.Background()
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return err
	}
	db := dynamostore.New(awsenv.DynamoDB(cfg), dynamostore.Tables{Objects: *objects, Control: *control}, time.Now)
	rep, err := db.MigrateObjects(ctx, dynamostore.MigrateOptions{PageItems: int32(*pageItems), MaxPages: *pages, Parallel: *parallel})
	out, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(out))
	return err
}
