// Command demo runs the main job on the local stack: it uploads a CSV to
// the uploads bucket the way a tenant would (S3 PutObject under
// imports/<tenant>/<type>/), waits for the import workflow that the upload
// event starts, and prints the finished job and its error CSV.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/s3store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	file := flag.String("file", "samples/work-type.csv", "CSV file to import")
	tenant := flag.String("tenant", "demo", "tenant (the upload key's prefix)")
	objectType := flag.String("type", "work-type", "object type (the upload key's folder)")
	tplPath := flag.String("template", "template.yaml", "SAM template")
	prefix := flag.String("prefix", "bulkops-local-", "prefix of local resource names")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long to wait for the job")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	tpl, err := samtemplate.Load(*tplPath)
	if err != nil {
		return err
	}
	names := devstack.Names{Template: tpl, Prefix: *prefix}
	ref := func(id string) string { v, _ := names.Ref(id); return v }
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return err
	}
	s3c := awsenv.S3(cfg)
	files := s3store.New(s3c, ref("DataBucket"))
	db := dynamostore.New(awsenv.DynamoDB(cfg), dynamostore.Tables{
		Objects: ref("ObjectsTable"), Jobs: ref("JobsTable"), Control: ref("ControlTable"),
	}, time.Now)

	body, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("imports/%s/%s/%s", *tenant, *objectType, filepath.Base(*file))
	put, err := s3c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(files.Bucket()), Key: &key, Body: strings.NewReader(string(body)),
		ContentType: aws.String("text/csv"), // the job's submitter is S3's identity of this upload, never a header
	})
	if err != nil {
		return fmt.Errorf("uploading %s: %w", key, err)
	}
	fmt.Printf("uploaded %s (%d bytes) to s3://%s/%s version %s\n", *file, len(body), files.Bucket(), key, aws.ToString(put.VersionId))
	fmt.Println("waiting for the import workflow (S3 event -> EventBridge rule -> Step Functions -> Lambda -> DynamoDB)...")

	job, err := waitForJob(ctx, db, *tenant, key, aws.ToString(put.VersionId))
	if err != nil {
		return err
	}
	printJob(job)
	if job.ErrorKey != "" {
		csv, err := files.Get(ctx, job.ErrorKey)
		if err != nil {
			return err
		}
		fmt.Printf("\nerror CSV s3://%s/%s:\n%s\n", files.Bucket(), job.ErrorKey, strings.TrimPrefix(string(csv), "\ufeff"))
	}
	if job.ResultsKey != "" {
		csv, err := files.Get(ctx, job.ResultsKey)
		if err != nil {
			return err
		}
		fmt.Printf("results CSV s3://%s/%s:\n%s\n", files.Bucket(), job.ResultsKey, strings.TrimPrefix(string(csv), "\ufeff"))
	}
	if job.Status == jobs.StatusFailed {
		return fmt.Errorf("job %s failed: %s", job.ID, job.Message)
	}
	return nil
}

// waitForJob finds the job of this upload (newest jobs first) and waits
// until it is final.
func waitForJob(ctx context.Context, db *dynamostore.Store, tenant, key, version string) (jobs.Job, error) {
	var id string
	last := ""
	for {
		if id == "" {
			list, err := db.ListJobs(ctx, tenant, 20)
			if err != nil {
				return jobs.Job{}, err
			}
			for _, j := range list {
				if j.SourceKey == key && (j.SourceVersion == version || version == "") {
					id = j.ID
					break
				}
			}
		}
		if id != "" {
			j, err := db.GetJob(ctx, tenant, id)
			if err != nil {
				return jobs.Job{}, err
			}
			p := j.ProgressAt(time.Now())
			line := fmt.Sprintf("  job %s: %s, %d/%d rows (%d%%)", j.ID, j.Status, j.Counts.Processed, j.Counts.Total, p.Percent)
			if line != last {
				fmt.Println(line)
				last = line
			}
			if j.Status.Final() {
				return j, nil
			}
		}
		select {
		case <-ctx.Done():
			return jobs.Job{}, fmt.Errorf("no finished job for %s (version %s) in time: is the local stack up (make stack-up) and its log clean (.tools/run/*.log)?", key, version)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func printJob(j jobs.Job) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nfinished job")
	row := func(k string, v any) { fmt.Fprintf(tw, "  %s\t%v\n", k, v) }
	row("Bulk operation ID", j.ID)
	row("File name", j.FileName)
	row("Job type", j.Type)
	row("Object type", j.ObjectType)
	row("Status", j.Status)
	row("Submitted by", j.SubmittedBy)
	row("Submitted", j.SubmittedAt.Format(time.RFC3339))
	if j.StartedAt != nil {
		row("Start time", j.StartedAt.Format(time.RFC3339Nano))
	}
	if j.EndedAt != nil {
		row("End time", j.EndedAt.Format(time.RFC3339Nano))
	}
	c := j.Counts
	row("Rows", fmt.Sprintf("%d total, %d created, %d updated, %d unchanged, %d failed", c.Total, c.Created, c.Updated, c.Unchanged, c.Failed))
	if j.Message != "" {
		row("Message", j.Message)
	}
	_ = tw.Flush()
}
