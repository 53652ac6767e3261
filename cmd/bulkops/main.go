// Command bulkops is the bulk import/export CLI. It talks to the HTTP API
// (the local dev server or a deployed API Gateway) with a bearer token:
//
//	bulkops import FILE --type T [--dry-run] [--wait]
//	bulkops jobs [--status S] [--type import|export] [--object-type T] [--q TEXT] [--limit N]
//	bulkops job ID
//	bulkops template T [--example] [-o FILE]
//	bulkops export T[,T...] [--prefix P] [--wait] [-o FILE]
//	bulkops schedules list|show|create|edit|clone|suspend|resume|delete|test|runs ...
//	bulkops token [--tenant T] [--user U]      (local stack only)
//
// The API's base URL comes from --api or BULKOPS_API (default
// BULKOPS_API_URL, which infra/local/env.sh sets, or the local stack's
// http://127.0.0.1:3000/dev: API Gateway serves the API under its stage);
// the token comes from --token or BULKOPS_TOKEN.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/exportspec"
)

// defaultAPI is the local stack's API: the dev server plays API Gateway
// with the template's stage, dev.
const defaultAPI = "http://127.0.0.1:3000/dev"

const usage = `usage:
  bulkops import FILE --type T [--dry-run] [--wait] [--errors-out FILE]
  bulkops jobs [--status S] [--type import|export] [--object-type T] [--q TEXT] [--limit N]
  bulkops job ID
  bulkops template T [--example] [-o FILE]
  bulkops export T[,T...] [--prefix P] [--wait] [-o FILE]
  bulkops schedules list|show|create|edit|clone|suspend|resume|delete|test|runs ...  (bulkops schedules help)
  bulkops token [--tenant T] [--user U] [--key FILE]   (local stack only)
common flags: --api URL (BULKOPS_API), --token TOKEN (BULKOPS_TOKEN)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var p *apiclient.Problem
		if errors.As(err, &p) && p.ActiveJobID != "" {
			fmt.Fprintf(os.Stderr, "bulkops: %s\n  active job: %s (bulkops job %s)\n", p.Detail, p.ActiveJobID, p.ActiveJobID)
		} else {
			fmt.Fprintln(os.Stderr, "bulkops:", err)
		}
		os.Exit(1)
	}
}

// run executes one command; out gets results, info gets progress.
func run(ctx context.Context, args []string, out, info io.Writer) error {
	if len(args) == 0 {
		return errors.New("no command\n" + usage)
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("bulkops "+cmd, flag.ContinueOnError)
	fs.SetOutput(info)
	api := fs.String("api", envOr("BULKOPS_API", envOr("BULKOPS_API_URL", defaultAPI)), "API base URL")
	token := fs.String("token", os.Getenv("BULKOPS_TOKEN"), "bearer token")
	client := func() (*apiclient.Client, error) {
		if *token == "" {
			return nil, errors.New("no token: pass --token or set BULKOPS_TOKEN (locally: export BULKOPS_TOKEN=$(bin/bulkops token))")
		}
		return &apiclient.Client{Base: strings.TrimSuffix(*api, "/"), Token: *token}, nil
	}
	switch cmd {
	case "import":
		typ := fs.String("type", "", "object type (slug, alias or name)")
		dry := fs.Bool("dry-run", false, "validate only: same reports, nothing written")
		wait := fs.Bool("wait", false, "wait for the job, show progress, save the error CSV")
		errOut := fs.String("errors-out", "", "where to save the error CSV (default FILE-errors.csv)")
		timeout := fs.Duration("timeout", 30*time.Minute, "how long --wait waits")
		file, err := parse(fs, args, 1)
		if err != nil {
			return err
		}
		if *typ == "" {
			return errors.New("--type is required, for example --type work-type (bulkops template lists none; see GET /v1/object-types)")
		}
		c, err := client()
		if err != nil {
			return err
		}
		return importFile(ctx, c, file[0], *typ, *dry, *wait, *errOut, *timeout, out, info)
	case "jobs":
		status := fs.String("status", "", "New, In Progress, Completed, Completed with errors or Failed")
		typ := fs.String("type", "", "import or export")
		objectType := fs.String("object-type", "", "object type")
		text := fs.String("q", "", "text in the file name, job ID or submitter")
		limit := fs.Int("limit", 25, "jobs per page (1-100)")
		if _, err := parse(fs, args, 0); err != nil {
			return err
		}
		c, err := client()
		if err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range map[string]string{"status": *status, "type": *typ, "objectType": *objectType, "q": *text} {
			if v != "" {
				q.Set(k, v)
			}
		}
		q.Set("limit", fmt.Sprint(*limit))
		list, next, err := c.Jobs(ctx, q)
		if err != nil {
			return err
		}
		printJobs(out, list)
		if next != "" {
			fmt.Fprintf(info, "more jobs: GET /v1/jobs?cursor=%s\n", next)
		}
		return nil
	case "job":
		id, err := parse(fs, args, 1)
		if err != nil {
			return err
		}
		c, err := client()
		if err != nil {
			return err
		}
		j, err := c.Job(ctx, id[0])
		if err != nil {
			return err
		}
		printJob(out, j)
		return nil
	case "template":
		example := fs.Bool("example", false, "add an example row")
		o := fs.String("o", "", "write to FILE instead of standard output")
		typ, err := parse(fs, args, 1)
		if err != nil {
			return err
		}
		c, err := client()
		if err != nil {
			return err
		}
		b, err := c.Template(ctx, typ[0], *example)
		if err != nil {
			return err
		}
		if *o != "" {
			return os.WriteFile(*o, b, 0o644)
		}
		_, err = out.Write(b)
		return err
	case "export":
		prefix := fs.String("prefix", "", "file name prefix (at most 20 letters, digits, _ or -)")
		wait := fs.Bool("wait", false, "wait for the export and download the ZIP")
		o := fs.String("o", "", "where to save the ZIP (default its own name)")
		timeout := fs.Duration("timeout", 30*time.Minute, "how long --wait waits")
		typ, err := parse(fs, args, 1)
		if err != nil {
			return err
		}
		c, err := client()
		if err != nil {
			return err
		}
		return exportTypes(ctx, c, strings.Split(typ[0], ","), *prefix, *wait, *o, *timeout, out, info)
	case "schedules":
		return schedulesCmd(ctx, fs, args, client, out, info)
	case "token":
		tenant := fs.String("tenant", "demo", "tenant")
		user := fs.String("user", "admin@demo.example", "user (e-mail)")
		keyPath := fs.String("key", ".tools/run/jwt-key.pem", "the local dev server's signing keys")
		ttl := fs.Duration("ttl", 12*time.Hour, "validity")
		if _, err := parse(fs, args, 0); err != nil {
			return err
		}
		keys, err := authn.LoadOrCreateKeySet(*keyPath)
		if err != nil {
			return err
		}
		tok, err := authn.LocalToken(keys, authn.LocalIssuer(os.Getenv), *tenant, *user, *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, tok)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// parse parses flags placed before or after the positional arguments and
// checks their number.
func parse(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positional {
		return nil, fmt.Errorf("%s takes %d argument(s), got %d\n%s", fs.Name(), positional, len(pos), usage)
	}
	return pos, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// importFile uploads path through the API and, with wait, follows the job
// to its end with a progress bar, then prints it and saves its error CSV.
func importFile(ctx context.Context, c *apiclient.Client, path, typ string, dry, wait bool, errOut string, timeout time.Duration, out, info io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	imp, err := c.CreateImport(ctx, typ, filepath.Base(path), dry)
	if err != nil {
		return err
	}
	if int64(len(data)) > imp.MaxBytes {
		return fmt.Errorf("%s is %d bytes; the limit is %d: split it into smaller files", path, len(data), imp.MaxBytes)
	}
	if err := c.Upload(ctx, imp.Upload, imp.FileName, data); err != nil {
		return err
	}
	fmt.Fprintf(info, "uploaded %s as job %s\n", path, imp.JobID)
	if !wait {
		fmt.Fprintf(out, "%s\n", imp.JobID)
		return nil
	}
	j, err := follow(ctx, c, imp.JobID, timeout, info)
	if err != nil {
		return err
	}
	printJob(out, j)
	if j.Links != nil && j.Links.Errors != "" {
		b, err := c.Download(ctx, j.Links.Errors)
		if err != nil {
			return err
		}
		if errOut == "" {
			errOut = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + "-errors.csv"
		}
		if err := os.WriteFile(errOut, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "\nError CSV saved to %s (fix the rows and import it again as it is):\n%s", errOut, strings.TrimPrefix(string(b), "\uFEFF"))
	}
	return nil
}

// exportTypes starts an export and, with wait, follows it and downloads
// the ZIP.
func exportTypes(ctx context.Context, c *apiclient.Client, types []string, prefix string, wait bool, o string, timeout time.Duration, out, info io.Writer) error {
	j, err := c.CreateExport(ctx, types, prefix, exportspec.Options{})
	if err != nil {
		return err
	}
	fmt.Fprintf(info, "export job %s started (%s)\n", j.ID, j.FileName)
	if !wait {
		fmt.Fprintln(out, j.ID)
		return nil
	}
	return waitAndDownload(ctx, c, j.ID, o, timeout, out, info)
}

// waitAndDownload follows an export job to its end, prints it and saves
// its ZIP to o (default the ZIP's own name).
func waitAndDownload(ctx context.Context, c *apiclient.Client, id, o string, timeout time.Duration, out, info io.Writer) error {
	j, err := follow(ctx, c, id, timeout, info)
	if err != nil {
		return err
	}
	printJob(out, j)
	if j.Status != "Completed" || j.Links == nil || j.Links.Results == "" {
		return fmt.Errorf("export %s ended %s: %s", j.ID, j.Status, j.Message)
	}
	b, err := c.Download(ctx, j.Links.Results)
	if err != nil {
		return err
	}
	if o == "" {
		o = j.FileName
	}
	if err := os.WriteFile(o, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nSaved %s (%d bytes)\n", o, len(b))
	return nil
}

// follow polls a job with a progress bar until it is final.
func follow(ctx context.Context, c *apiclient.Client, id string, timeout time.Duration, info io.Writer) (apiclient.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		j, err := c.Job(ctx, id)
		var p *apiclient.Problem
		switch {
		case errors.As(err, &p) && p.Status == 404:
			fmt.Fprint(info, "\rwaiting for the workflow to pick up the file…")
		case err != nil:
			return j, err
		default:
			fmt.Fprint(info, "\r"+bar(j))
			if j.Status.Final() {
				fmt.Fprintln(info)
				return j, nil
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(info)
			return j, fmt.Errorf("job %s still running after %s; follow it with: bulkops job %s", id, timeout, id)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// bar renders a progress line: status, bar, rows and ETA.
func bar(j apiclient.Job) string {
	const width = 30
	n := j.Percent * width / 100
	eta := ""
	if j.ETASeconds != nil && !j.Status.Final() {
		eta = " ETA " + (time.Duration(*j.ETASeconds) * time.Second).String()
	}
	return fmt.Sprintf("%-22s [%s%s] %3d%% %d/%d rows%s   ", j.Status, strings.Repeat("#", n), strings.Repeat("-", width-n),
		j.Percent, j.Counts.Processed, j.Counts.Total, eta)
}

func printJob(out io.Writer, j apiclient.Job) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	}
	fmt.Fprintf(tw, "Job\t%s\n", j.ID)
	fmt.Fprintf(tw, "File\t%s (%s%s)\n", j.FileName, j.ObjectType, map[bool]string{true: ", dry run"}[j.DryRun])
	fmt.Fprintf(tw, "Status\t%s\n", j.Status)
	fmt.Fprintf(tw, "Submitted by\t%s at %s\n", j.SubmittedBy, j.SubmittedAt.Local().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(tw, "Started / ended\t%s / %s\n", when(j.StartedAt), when(j.EndedAt))
	c := j.Counts
	fmt.Fprintf(tw, "Rows\t%d total, %d created, %d updated, %d unchanged, %d failed\n", c.Total, c.Created, c.Updated, c.Unchanged, c.Failed)
	if j.Message != "" {
		fmt.Fprintf(tw, "Message\t%s\n", j.Message)
	}
	tw.Flush()
}

func printJobs(out io.Writer, list []apiclient.Job) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tTYPE\tOBJECT TYPE\tFILE\tSTATUS\tROWS\tFAILED\tSUBMITTED BY\tSUBMITTED")
	for _, j := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", j.ID, j.Type, j.ObjectType, j.FileName, j.Status,
			j.Counts.Total, j.Counts.Failed, j.SubmittedBy, j.SubmittedAt.Local().Format("2006-01-02 15:04"))
	}
	tw.Flush()
}
