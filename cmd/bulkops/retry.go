package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) retryCommand() *cobra.Command {
	var wait bool
	var dry string
	var reports reportFlags
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "retry ID",
		Short: "Retry the rejected rows of a finished import",
		Long: `Start a new import of the rows a finished import rejected (or did not
process), once their cause is fixed: import the missing Skill Definition, say,
then retry the agents that named it. The rows are read from the file the job
imported, exactly as they were; rows it applied are never in the retry, and
rows rejected as a duplicate of an earlier row are left out. The new job shows
"Retry of", the old one "Retried by". A job is retried once (retry the retry
if rows are still rejected); --dry-run checks the rows without applying them
(a dry run's retry is always a dry run).

Prints the new job's ID (-o json: the API's answer); the job exists at once
while its file is built, and its counts show the rows once its import starts.
With --wait the new job is followed to its end and the exit code tells its
outcome (see bulkops help): a retry with nothing left to retry (only
duplicates) ends Failed with the reason.
Exit code 7 while the tenant runs another bulk operation; 1 for a job that
cannot be retried (still running, an export, an audio ZIP, no rejected rows,
already retried).`,
		Example: `  bulkops import skills.csv --type skill-definition --wait
  bulkops retry 01JX... --wait --errors-out still-rejected.csv
  bulkops retry 01JX... --dry-run=true -o json`,
		Args: args(1, "one job ID"),
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			var dryRun *bool
			switch dry {
			case "":
			case "true", "false":
				b := dry == "true"
				dryRun = &b
			default:
				return usageErr("--dry-run=%q must be true or false", dry)
			}
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			r, err := c.RetryJob(cmd.Context(), args[0], dryRun)
			if err != nil {
				return err
			}
			if wait {
				a.note("retry job %s of job %s started; its file %s is being built", r.JobID, r.RetryOf, r.FileName)
				return a.waitJob(cmd.Context(), c, r.JobID, timeout, reports, true)
			}
			return a.printDoc(r.Raw, func(w io.Writer) {
				fmt.Fprintf(w, "Retry job %s of job %s started: its file %s is being built", r.JobID, r.RetryOf, r.FileName)
				if r.DryRun {
					fmt.Fprint(w, " (dry run)")
				}
				fmt.Fprintln(w)
				fmt.Fprintf(w, "Follow it: bulkops job %s --wait\n", r.JobID)
			})
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&wait, "wait", false, "follow the new job to its end; the exit code tells its outcome")
	f.StringVar(&dry, "dry-run", "", "true: check the rows without applying them (default: as the job ran)")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "how long --wait waits")
	reports.add(cmd, "save the new job's error CSV (rows still rejected) to this file")
	return cmd
}
