package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccbulk/bulkops/shared/apiclient"
)

// changeSummary is what a change CSV holds, counted for people.
type changeSummary struct {
	lines, rows int
	fields      map[string]int // field → lines
}

// summarize counts the lines and rows of a change CSV (Row, Key, Action,
// Field, Before, After).
func summarize(b []byte) (changeSummary, error) {
	s := changeSummary{fields: map[string]int{}}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF"))))
	r.FieldsPerRecord = 6
	last := ""
	for n := 0; ; n++ {
		rec, err := r.Read()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return s, fmt.Errorf("reading the change CSV: %w", err)
		}
		if n == 0 {
			continue // the header
		}
		s.lines++
		s.fields[rec[3]]++
		if rec[0] != last {
			s.rows, last = s.rows+1, rec[0]
		}
	}
}

// showChanges prints a dry run's change summary and saves its change CSV
// to path (when set).
func (a *app) showChanges(ctx context.Context, c *apiclient.Client, j apiclient.Job, path string) error {
	if j.Links == nil || j.Links.Changes == "" {
		return nil
	}
	b, err := c.Download(ctx, j.Links.Changes)
	if err != nil {
		return err
	}
	s, err := summarize(b)
	if err != nil {
		return err
	}
	k := j.Counts
	a.note("\nPreview: %d rows would be created, %d updated, %d are unchanged, %d rejected; %d field changes in %d rows.",
		k.Created, k.Updated, k.Unchanged, k.Failed, s.lines, s.rows)
	if path != "" {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		a.note("Change CSV (Row, Key, Action, Field, Before, After; one line per changed field) saved to %s", path)
	} else {
		a.note("Change CSV: bulkops changes %s --out FILE", j.ID)
	}
	if k.Created+k.Updated > 0 {
		a.note("Apply these changes: bulkops apply %s --wait", j.ID)
	}
	return nil
}

func (a *app) changesCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "changes ID",
		Short: "Print or save a dry run's change CSV",
		Long: `Print (or with --out save) the change CSV of a completed dry run: one line per
field a created or updated row would change, with the columns Row, Key,
Action, Field, Before, After (a created row lists every non-empty field, with
Before empty). Unchanged and rejected rows are not listed: the job counts
them, and the rejected rows are in its error CSV. Secret columns never show
their values. Filter it in a spreadsheet by Key, Action or Field.`,
		Example: `  bulkops changes 01JX...
  bulkops changes 01JX... --out changes.csv`,
		Args: args(1, "one job ID"),
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			j, err := c.Job(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if j.Links == nil || j.Links.Changes == "" {
				return fmt.Errorf("job %s has no change CSV: only a dry run of a CSV import that completed has one (this job is %s%s)",
					j.ID, j.Status, map[bool]string{false: ", not a dry run"}[j.DryRun])
			}
			b, err := c.Download(cmd.Context(), j.Links.Changes)
			if err != nil {
				return err
			}
			if out == "" {
				_, err := a.out.Write(bytes.TrimPrefix(b, []byte("\uFEFF")))
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			s, err := summarize(b)
			if err != nil {
				return err
			}
			a.note("change CSV of job %s (%d field changes in %d rows) saved to %s", j.ID, s.lines, s.rows, out)
			return nil
		}),
	}
	cmd.Flags().StringVar(&out, "out", "", "save the change CSV to this file instead of printing it")
	return cmd
}

func (a *app) applyCommand() *cobra.Command {
	var wait bool
	var reports reportFlags
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply ID",
		Short: "Apply a dry run's previewed changes (a real import of the same file)",
		Long: `Start a real import of the very file a dry run read, so the changes its change
CSV lists are made. It is refused (exit code 1, nothing applied) when the job
is not a completed dry run, when the dry run ended more than 24 hours ago, or
when any object it would touch changed since the preview: the message names
them; run the dry run again and look at the fresh preview. The new job's ID is
printed; with --wait it is followed to its end as bulkops import --wait does.`,
		Example: `  bulkops import queues.csv --type queue --dry-run --wait
  bulkops apply 01JX... --wait`,
		Args: args(1, "one dry-run job ID"),
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			ap, err := c.ApplyJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			a.note("applying dry run %s as job %s (%s, %s)", ap.PreviewJobID, ap.JobID, ap.FileName, ap.ObjectType)
			if !wait {
				return a.printDoc(ap.Raw, func(w io.Writer) { fmt.Fprintln(w, ap.JobID) })
			}
			return a.waitJob(cmd.Context(), c, ap.JobID, timeout, reports, true)
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&wait, "wait", false, "follow the new job to its end, print it and save its reports")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "how long --wait waits")
	reports.add(cmd, "where --wait saves the error CSV")
	return cmd
}
