package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
)

// reportFlags are where a finished job's reports are saved.
type reportFlags struct {
	errorsOut, resultsOut, changesOut string
}

func (r *reportFlags) add(cmd *cobra.Command, errorsHelp string) {
	cmd.Flags().StringVar(&r.errorsOut, "errors-out", "", errorsHelp)
	cmd.Flags().StringVar(&r.resultsOut, "results-out", "", "save the results CSV (accepted rows: Row, Key, Object ID, Action) to this file")
	cmd.Flags().StringVar(&r.changesOut, "changes-out", "", "save a dry run's change CSV (Row, Key, Action, Field, Before, After) to this file")
}

func (a *app) importCommand() *cobra.Command {
	var typ string
	var dry, wait bool
	var reports reportFlags
	var timeout, uploadTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "import FILE --type T",
		Short: "Upload a CSV (or a ZIP of audio prompts) and, with --wait, follow its job",
		Long: `Upload a CSV for one object type (or a ZIP of WAV prompts for audio-file).
The file is checked first (not empty, a CSV or ZIP by its content, within the
size limit), then streamed to storage with its own progress. With --wait the
job is followed to its end, printed, and its error CSV saved (default
FILE-errors.csv); the exit code tells the outcome (see bulkops help).`,
		Example: `  bulkops import queues.csv --type queue --wait
  bulkops import queues.csv --type queue --dry-run --wait -o json
  bulkops import prompts.zip --type audio-file --wait`,
		Args: args(1, "one FILE"),
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			if typ == "" {
				return usageErr("--type is required, for example --type work-type (bulkops types lists them)")
			}
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			return a.importFile(cmd.Context(), c, args[0], typ, dry, wait, reports, timeout, uploadTimeout)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&typ, "type", "", "object type (slug, alias or name; bulkops types lists them)")
	f.BoolVar(&dry, "dry-run", false, "validate only: same reports, nothing written")
	f.BoolVar(&wait, "wait", false, "follow the job to its end, print it and save its reports")
	reports.add(cmd, "where --wait saves the error CSV (default FILE-errors.csv)")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "how long --wait waits")
	f.DurationVar(&uploadTimeout, "upload-timeout", 0, "how long the upload may take (default: 2 minutes plus 1 s per 256 KB)")
	_ = cmd.RegisterFlagCompletionFunc("type", typeNames)
	return cmd
}

// importFile checks the file, asks the API for an upload, streams the
// file to storage and, with wait, follows the job to its end.
func (a *app) importFile(ctx context.Context, c *apiclient.Client, path, typ string, dry, wait bool, reports reportFlags, timeout, uploadTimeout time.Duration) error {
	f, size, err := checkFile(path, typ)
	if err != nil {
		return err
	}
	defer f.Close()
	imp, err := c.CreateImport(ctx, typ, filepath.Base(path), dry)
	if err != nil {
		return err
	}
	if size > imp.MaxBytes {
		return fmt.Errorf("%s is %s; the limit is %s: split it into smaller files (nothing was uploaded)", path, apiclient.HumanBytes(size), apiclient.HumanBytes(imp.MaxBytes))
	}
	if uploadTimeout <= 0 {
		uploadTimeout = apiclient.UploadTimeout(size)
	}
	upCtx, cancel := context.WithTimeout(ctx, uploadTimeout)
	defer cancel()
	a.doing(fmt.Sprintf("the upload of %s was stopped; storage keeps nothing of it and nothing was imported", path))
	start := a.now()
	last := time.Time{}
	err = c.UploadFile(upCtx, imp.Upload, imp.FileName, f, size, imp.MaxBytes, func(sent, total int64) {
		if now := a.now(); now.Sub(last) >= 200*time.Millisecond || sent == total {
			last = now
			a.progress(uploadLine(path, sent, total, now.Sub(start)))
		}
	})
	a.endProgress()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		var ue *apiclient.UploadError
		if errors.As(err, &ue) {
			return fmt.Errorf("upload of %s refused: %s", path, ue.Sentence)
		}
		return fmt.Errorf("upload of %s: %w", path, err)
	}
	a.note("uploaded %s (%s) as job %s", path, apiclient.HumanBytes(size), imp.JobID)
	if !wait {
		return a.printDoc(imp.Raw, func(w io.Writer) { fmt.Fprintln(w, imp.JobID) })
	}
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if reports.errorsOut == "" {
		reports.errorsOut = base + "-errors.csv"
	}
	if reports.changesOut == "" && dry {
		reports.changesOut = base + "-changes.csv"
	}
	return a.waitJob(ctx, c, imp.JobID, timeout, reports, true)
}

// uploadLine is the upload's progress: bytes, rate and ETA.
func uploadLine(path string, sent, total int64, took time.Duration) string {
	pct := int64(100)
	if total > 0 {
		pct = sent * 100 / total
	}
	rate := float64(sent) / max(took.Seconds(), 0.001)
	eta := "-"
	if rate > 0 && sent < total {
		eta = (time.Duration(float64(total-sent)/rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("uploading %s  %s / %s  %3d%%  %s/s  ETA %s", filepath.Base(path), apiclient.HumanBytes(sent), apiclient.HumanBytes(total), pct,
		apiclient.HumanBytes(int64(rate)), eta)
}

func (a *app) jobCommand() *cobra.Command {
	var wait, exitStatus bool
	var reports reportFlags
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "job ID",
		Short: "Show one job; with --wait follow it to its end",
		Long: `Show one job: status, submitter, times, counts, message.
With --wait the job is followed to its end and the exit code tells its outcome
(see bulkops help); --exit-status does that for a job that has ended, without
waiting. --errors-out and --results-out save its reports.`,
		Example: `  bulkops job 01JX... --wait --errors-out errors.csv
  bulkops job 01JX... -o json`,
		Args: args(1, "one job ID"),
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			if wait {
				return a.waitJob(cmd.Context(), c, args[0], timeout, reports, false)
			}
			j, err := c.Job(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := a.printDoc(j.Raw, func(w io.Writer) { a.printJob(w, j.Job) }); err != nil {
				return err
			}
			if err := a.saveReports(cmd.Context(), c, j, reports, false); err != nil {
				return err
			}
			if exitStatus {
				return jobOutcome(j)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&wait, "wait", false, "follow the job to its end; the exit code tells its outcome")
	f.BoolVar(&exitStatus, "exit-status", false, "exit with the job's outcome code even without --wait")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "how long --wait waits")
	reports.add(cmd, "save the error CSV (rejected rows) to this file")
	return cmd
}

func (a *app) cancelCommand() *cobra.Command {
	var reports reportFlags
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a running import or export",
		Long: `Cancel a job that is New or In Progress. The import's workflow (or the
export) stops, and the job ends Cancelled at once: the rows applied before the
cancel stay applied and are in its results CSV, the rows not processed are in
its error CSV as "not processed: cancelled by <you>". The tenant is free for
the next bulk operation right away. The cancelled job is printed (-o json: the
API's document); --errors-out and --results-out save its reports.

Exit code 0 when the job was cancelled; 1 when it had already ended (409) or
does not exist. (bulkops job ID --exit-status of a cancelled job exits 5.)`,
		Example: `  bulkops cancel 01JX...
  bulkops cancel 01JX... --errors-out not-processed.csv -o json`,
		Args: args(1, "one job ID"),
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			j, err := c.CancelJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := a.printDoc(j.Raw, func(w io.Writer) { a.printJob(w, j.Job) }); err != nil {
				return err
			}
			return a.saveReports(cmd.Context(), c, j, reports, false)
		}),
	}
	reports.add(cmd, "save the error CSV (rows rejected or not processed) to this file")
	return cmd
}

// waitJob follows a job to its end, prints it, saves its reports and ends
// with its outcome.
func (a *app) waitJob(ctx context.Context, c *apiclient.Client, id string, timeout time.Duration, reports reportFlags, showErrors bool) error {
	a.doing(fmt.Sprintf("stopped waiting; job %s goes on (bulkops job %s --wait)", id, id))
	j, err := a.follow(ctx, c, id, timeout)
	if err != nil {
		return err
	}
	if err := a.printDoc(j.Raw, func(w io.Writer) { a.printJob(w, j.Job) }); err != nil {
		return err
	}
	if err := a.saveReports(ctx, c, j, reports, showErrors && !a.jsonOut()); err != nil {
		return err
	}
	if j.DryRun && !a.jsonOut() {
		if err := a.showChanges(ctx, c, j, reports.changesOut); err != nil {
			return err
		}
	} else if _, err := a.saveChanges(ctx, c, j, reports.changesOut); err != nil {
		return err
	}
	return jobOutcome(j)
}

// saveReports saves a job's error and results CSVs where asked; with show,
// the error CSV is printed too.
func (a *app) saveReports(ctx context.Context, c *apiclient.Client, j apiclient.Job, r reportFlags, show bool) error {
	if j.Links == nil {
		return nil
	}
	save := func(link, path, what string, quiet bool) ([]byte, error) {
		if link == "" || path == "" {
			return nil, nil
		}
		b, err := c.Download(ctx, link)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return nil, err
		}
		if !quiet {
			a.note("%s saved to %s", what, path)
		}
		return b, nil
	}
	b, err := save(j.Links.Errors, r.errorsOut, "error CSV", show)
	if err != nil {
		return err
	}
	if b != nil && show {
		fmt.Fprintf(a.out, "\nError CSV saved to %s (fix the rows and import it again as it is):\n%s", r.errorsOut, strings.TrimPrefix(string(b), "\uFEFF"))
	}
	if j.Type != "export" {
		if _, err := save(j.Links.Results, r.resultsOut, "results CSV", false); err != nil {
			return err
		}
	}
	return nil
}

// saveChanges saves a dry run's change CSV to path when both are set.
func (a *app) saveChanges(ctx context.Context, c *apiclient.Client, j apiclient.Job, path string) ([]byte, error) {
	if j.Links == nil || j.Links.Changes == "" || path == "" {
		return nil, nil
	}
	b, err := c.Download(ctx, j.Links.Changes)
	if err != nil {
		return nil, err
	}
	return b, os.WriteFile(path, b, 0o644)
}

// follow polls a job until it has ended, drawing a progress bar on a
// terminal.
func (a *app) follow(ctx context.Context, c *apiclient.Client, id string, timeout time.Duration) (apiclient.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer a.endProgress()
	for {
		j, err := c.Job(ctx, id)
		var p *apiclient.Problem
		switch {
		case errors.As(err, &p) && p.Status == 404:
			a.progress("waiting for the workflow to pick up the file…")
		case err != nil && ctx.Err() == nil:
			return j, err
		case err == nil:
			a.progress(a.bar(j.Job))
			if j.Final() {
				return j, nil
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return j, timeoutErr(id, timeout)
			}
			return j, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// bar renders a progress line: status, bar, rows and ETA.
func (a *app) bar(j bulkapi.Job) string {
	const width = 30
	n := min(max(j.Percent, 0), 100) * width / 100
	eta := ""
	if j.ETASeconds != nil && !j.Final() {
		eta = " ETA " + (time.Duration(*j.ETASeconds) * time.Second).String()
	}
	return fmt.Sprintf("%-22s [%s%s] %3d%% %d/%d rows%s", j.Status, strings.Repeat("#", n), strings.Repeat("-", width-n),
		j.Percent, j.Counts.Processed, j.Counts.Total, eta)
}

func (a *app) printJob(out io.Writer, j bulkapi.Job) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	}
	fmt.Fprintf(tw, "Job\t%s\n", j.ID)
	fmt.Fprintf(tw, "File\t%s (%s%s)\n", j.FileName, j.ObjectType, map[bool]string{true: ", dry run"}[j.DryRun])
	status := string(j.Status)
	if j.Cancelled() && j.CancelledBy != "" {
		status += " (cancelled by " + j.CancelledBy + ")"
	}
	fmt.Fprintf(tw, "Status\t%s\n", a.status(status))
	if j.RetryOf != "" {
		fmt.Fprintf(tw, "Retry of\t%s\n", j.RetryOf)
	}
	if j.RetriedBy != "" {
		fmt.Fprintf(tw, "Retried by\t%s\n", j.RetriedBy)
	}
	fmt.Fprintf(tw, "Submitted by\t%s at %s\n", j.SubmittedBy, j.SubmittedAt.Local().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(tw, "Started / ended\t%s / %s\n", when(j.StartedAt), when(j.EndedAt))
	c := j.Counts
	fmt.Fprintf(tw, "Rows\t%d total, %d created, %d updated, %d unchanged, %d failed\n", c.Total, c.Created, c.Updated, c.Unchanged, c.Failed)
	if !j.Final() {
		fmt.Fprintf(tw, "Progress\t%d%%\n", j.Percent)
	}
	if d := j.Delivery; d != nil && d.Destination != "" {
		fmt.Fprintf(tw, "Delivered\t%s (%d bytes, target %s)\n", d.Destination, d.Bytes, d.TargetID)
	} else if d != nil && d.Phase != "" {
		fmt.Fprintf(tw, "Delivery\tfailed at %s (target %s)\n", d.Phase, d.TargetID)
	}
	if j.FailedIn != "" {
		fmt.Fprintf(tw, "Failed in\t%s\n", j.FailedIn)
	}
	if j.Message != "" {
		fmt.Fprintf(tw, "Message\t%s\n", j.Message)
	}
	if j.Links != nil && j.Links.Changes != "" {
		fmt.Fprintf(tw, "Changes\tbulkops changes %s (apply them: bulkops apply %s)\n", j.ID, j.ID)
	}
	tw.Flush()
}

func (a *app) printJobs(out io.Writer, list []bulkapi.Job, header bool) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "JOB\tTYPE\tOBJECT TYPE\tFILE\tSTATUS\tROWS\tFAILED\tSUBMITTED BY\tSUBMITTED")
	}
	for _, j := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", j.ID, j.Type, j.ObjectType, j.FileName, a.status(string(j.Status)),
			j.Counts.Total, j.Counts.Failed, j.SubmittedBy, j.SubmittedAt.Local().Format("2006-01-02 15:04"))
	}
	tw.Flush()
}

func (a *app) jobsCommand() *cobra.Command {
	var status, typ, objectType, text, cursor string
	var limit int
	var all bool
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List jobs, newest first, a page at a time (--all for every page)",
		Long: `List jobs, newest first. One page (--limit) at a time: when more follow, the
command to see the next page is printed to standard error (--cursor). --all
follows every page. With -o json the API's page is printed (jobs and
nextCursor); with --all, every job in one document.`,
		Example: `  bulkops jobs --status Failed
  bulkops jobs --type export --all -o json`,
		Args: args(0, "no arguments"),
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			if all && cursor != "" {
				return usageErr("--all and --cursor exclude each other")
			}
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"status": status, "type": typ, "objectType": objectType, "q": text, "cursor": cursor} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("limit", fmt.Sprint(limit))
			every := &pageItems{name: "jobs"}
			for page := 0; ; page++ {
				p, err := c.JobsPage(cmd.Context(), q)
				if err != nil {
					return err
				}
				if !all {
					if err := a.printDoc(p.Raw, func(w io.Writer) { a.printJobs(w, p.Jobs, true) }); err != nil {
						return err
					}
					if p.NextCursor != "" && !a.jsonOut() {
						a.note("more jobs: bulkops jobs --cursor %s%s", p.NextCursor, sameFilters(status, typ, objectType, text))
					}
					return nil
				}
				if a.jsonOut() {
					every.add(p.Raw)
				} else {
					a.printJobs(a.out, p.Jobs, page == 0)
				}
				if p.NextCursor == "" {
					break
				}
				q.Set("cursor", p.NextCursor)
			}
			if a.jsonOut() {
				return every.write(a.out)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "New, In Progress, Completed, Completed with errors or Failed")
	f.StringVar(&typ, "type", "", "import or export")
	f.StringVar(&objectType, "object-type", "", "object type")
	f.StringVar(&text, "q", "", "text in the file name, job ID or submitter")
	f.IntVar(&limit, "limit", 25, "jobs per page (1-100)")
	f.StringVar(&cursor, "cursor", "", "start at this page (the nextCursor of the page before)")
	f.BoolVar(&all, "all", false, "every page")
	_ = cmd.RegisterFlagCompletionFunc("object-type", typeNames)
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"import", "export"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions([]string{"New", "In Progress", "Completed", "Completed with errors", "Failed"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// sameFilters repeats the filters for the next-page hint.
func sameFilters(status, typ, objectType, text string) string {
	var b strings.Builder
	for _, f := range [][2]string{{"status", status}, {"type", typ}, {"object-type", objectType}, {"q", text}} {
		if f[1] != "" {
			fmt.Fprintf(&b, " --%s %q", f[0], f[1])
		}
	}
	return b.String()
}

func (a *app) typesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "types [T]",
		Short: "List the object types, or one type's CSV columns",
		Example: `  bulkops types
  bulkops types queue
  bulkops types "Entry Point" -o json`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: typeNames,
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				t, err := c.Type(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return a.printDoc(t.Raw, func(w io.Writer) { printType(w, t.ObjectType) })
			}
			var every []bulkapi.ObjectType
			raw := &pageItems{name: "objectTypes"}
			cursor := ""
			for {
				p, err := c.Types(cmd.Context(), cursor)
				if err != nil {
					return err
				}
				if cursor == "" && p.NextCursor == "" {
					return a.printDoc(p.Raw, func(w io.Writer) { printTypes(w, p.ObjectTypes) })
				}
				every = append(every, p.ObjectTypes...)
				raw.add(p.Raw)
				if cursor = p.NextCursor; cursor == "" {
					break
				}
			}
			if a.jsonOut() {
				return raw.write(a.out)
			}
			printTypes(a.out, every)
			return nil
		}),
	}
}

func printTypes(out io.Writer, list []bulkapi.ObjectType) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tNAME\tKEY\tCOLUMNS")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", t.Slug, t.Name, strings.Join(t.Key, ", "), len(t.Columns))
	}
	tw.Flush()
	fmt.Fprintln(out, "\nbulkops types T shows a type's columns; bulkops template T --example writes a CSV to start from.")
}

func printType(out io.Writer, t bulkapi.ObjectType) {
	fmt.Fprintf(out, "%s (%s)\nkey: %s\n", t.Name, t.Slug, strings.Join(t.Key, ", "))
	if len(t.Aliases) > 0 {
		fmt.Fprintf(out, "also called: %s\n", strings.Join(t.Aliases, ", "))
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COLUMN\tREQUIRED\tKIND\tVALUES / REFERENCE\tNOTES")
	for _, c := range t.Columns {
		vals := strings.Join(c.Values, "|")
		if c.Ref != "" {
			vals = "→ " + c.Ref
		}
		var notes []string
		if c.Multi {
			notes = append(notes, "several values, | separated")
		}
		if c.Immutable {
			notes = append(notes, "cannot change after creation")
		}
		if c.Doc != "" {
			notes = append(notes, c.Doc)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Header, map[bool]string{true: "yes", false: ""}[c.Required], c.Kind, vals, strings.Join(notes, "; "))
	}
	tw.Flush()
	for _, f := range t.Families {
		fmt.Fprintf(out, "column family: %s\n", f)
	}
	for _, n := range t.Notes {
		fmt.Fprintf(out, "note: %s\n", n)
	}
}

func (a *app) templateCommand() *cobra.Command {
	var example bool
	var outFile string
	cmd := &cobra.Command{
		Use:               "template T [--example] [--out FILE]",
		Short:             "Write a type's CSV template (UTF-8 with BOM)",
		Args:              args(1, "one object type"),
		ValidArgsFunction: typeNames,
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			if a.jsonOut() {
				return usageErr("a template is a CSV file; -o json does not apply (bulkops types %s -o json describes its columns)", args[0])
			}
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			b, err := c.Template(cmd.Context(), args[0], example)
			if err != nil {
				return err
			}
			if outFile != "" {
				if err := os.WriteFile(outFile, b, 0o644); err != nil {
					return err
				}
				a.note("template saved to %s", outFile)
				return nil
			}
			_, err = a.out.Write(b)
			return err
		}),
	}
	cmd.Flags().BoolVar(&example, "example", false, "add an example row")
	cmd.Flags().StringVar(&outFile, "out", "", "write to FILE instead of standard output")
	return cmd
}

func (a *app) tokenCommand() *cobra.Command {
	var tenant, user, keyPath, scope string
	var ttl time.Duration
	var operator bool
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a token for the local stack (signed with the dev server's key)",
		Long: `Print a token the local dev server accepts: signed with its OIDC issuer's
current key (.tools/run/jwt-key.pem), for the issuer BULKOPS_OIDC_ISSUER. Only for the local stack; a deployed API takes the
tokens of its identity provider. The token is printed, never stored.`,
		Args: args(0, "no arguments"),
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			keys, err := authn.LoadOrCreateKeySet(keyPath)
			if err != nil {
				return err
			}
			tok, err := authn.LocalToken(keys, authn.LocalIssuer(os.Getenv), tenant, user, ttl)
			if operator { // no tenant: an operator acts on the tenant a route's path names
				if !cmd.Flags().Changed("user") {
					user = "operator@local.example"
				}
				tok, err = authn.LocalOperatorToken(keys, authn.LocalIssuer(os.Getenv), user, scope, ttl)
			}
			if err != nil {
				return err
			}
			if a.jsonOut() {
				return writeJSONValue(a.out, map[string]string{"token": tok})
			}
			fmt.Fprintln(a.out, tok)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "demo", "tenant")
	f.StringVar(&user, "user", "admin@demo.example", "user (e-mail)")
	f.StringVar(&keyPath, "key", ".tools/run/jwt-key.pem", "the local dev server's key")
	f.DurationVar(&ttl, "ttl", 12*time.Hour, "validity")
	f.BoolVar(&operator, "operator", false, "an operator's token (the operator scope, no tenant) for bulkops operator")
	f.StringVar(&scope, "scope", authn.DefaultOperatorScope, "with --operator: the operator scope (the template's OperatorScope)")
	return cmd
}
