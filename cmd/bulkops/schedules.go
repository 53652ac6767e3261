package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/schedule"
)

const scheduleWhenHelp = `when: --frequency once|hourly|daily|weekly|monthly --time 06:00 --tz Europe/Berlin
      --weekday 1|mon --day 31 --at 2026-12-01T06:30 (once; without --at: now)
what: --range all|interval|incremental [--from RFC3339 --to RFC3339] --fields name,description
      --header labels|keys --multi joined|columns --filter 'FIELD OP VALUE' --split-rows N
      --split-bytes N --prefix P --no-neutralize --max-failures N --description TEXT
--file reads a JSON body (title, description, objectTypes, prefix, when, options,
maxFailures); flags override it.`

// defFlags are the flags that shape a schedule's definition; only the
// flags given on the command line are applied, so edit changes just what
// it is told to.
type defFlags struct {
	title, description, types, prefix string
	frequency, at, clock, tz, weekday string
	file, target                      string
	day, maxFailures                  int
	opts                              optionFlags
}

func (d *defFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&d.title, "title", "", "title (at most 100 characters)")
	fs.StringVar(&d.description, "description", "", "description")
	fs.StringVar(&d.types, "types", "", "object types, comma-separated (several make one ZIP)")
	fs.StringVar(&d.prefix, "prefix", "", "ZIP name prefix (at most 20 letters, digits, _ or -)")
	fs.StringVar(&d.frequency, "frequency", "", "once, hourly, daily, weekly or monthly")
	fs.StringVar(&d.at, "at", "", "once: date and time 2026-12-01T06:30 (without it: now)")
	fs.StringVar(&d.clock, "time", "", "time of day 06:00 (hourly: its minutes)")
	fs.StringVar(&d.tz, "tz", "", "IANA time zone (default UTC)")
	fs.StringVar(&d.weekday, "weekday", "", "weekly: 0-6 (0 = Sunday) or a day name")
	fs.IntVar(&d.day, "day", 0, "monthly: day of the month 1-31 (short months: their last day)")
	fs.IntVar(&d.maxFailures, "max-failures", 1, "failed runs in a row that suspend the schedule (0-10)")
	fs.StringVar(&d.file, "file", "", "JSON body file; flags override it")
	fs.StringVar(&d.target, "target", "", "delivery target ID (bulkops targets list) each run's file goes to; \"\" for none")
	d.opts.add(fs, "all, interval (--from, --to) or incremental (new and modified since the last successful run)")
}

// weekdays are the day names --weekday accepts.
var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseWeekday(s string) (time.Weekday, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 6 {
		return time.Weekday(n), nil
	}
	if d, ok := weekdays[strings.ToLower(s[:min(3, len(s))])]; ok && len(s) >= 3 {
		return d, nil
	}
	return 0, usageErr("--weekday %q is not 0-6 (0 = Sunday) or a day name such as mon", s)
}

// apply lays the --file body and then the given flags over b.
func (d *defFlags) apply(fs *pflag.FlagSet, b *bulkapi.ScheduleEdit) error {
	if d.file != "" {
		if err := readJSONFile(d.file, b, "a schedule body (title, description, objectTypes, prefix, when, options, maxFailures)"); err != nil {
			return err
		}
	}
	set := fs.Changed
	if set("title") {
		b.Title = d.title
	}
	if set("target") {
		b.TargetID = d.target
	}
	if set("description") {
		b.Description = d.description
	}
	if set("types") {
		b.ObjectTypes = splitList(d.types)
	}
	if set("prefix") {
		b.Prefix = d.prefix
	}
	if set("frequency") {
		b.Spec.Frequency = schedule.Frequency(d.frequency)
	}
	if set("at") {
		b.Spec.At = d.at
	}
	if set("time") {
		b.Spec.Time = d.clock
	}
	if set("tz") {
		b.Spec.TimeZone = d.tz
	}
	if set("weekday") {
		wd, err := parseWeekday(d.weekday)
		if err != nil {
			return err
		}
		b.Spec.Weekday = wd
	}
	if set("day") {
		b.Spec.Day = d.day
	}
	if set("max-failures") {
		b.MaxFailures = d.maxFailures
	}
	return d.opts.apply(fs, &b.Options)
}

// schedulesCommand is `bulkops schedules SUB ...`.
func (a *app) schedulesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedules",
		Short: "Scheduled exports: list, show, create, edit, clone, suspend, resume, delete, test, runs",
		Long:  "Scheduled exports.\n\n" + scheduleWhenHelp,
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown schedules subcommand %q\nrun: bulkops schedules --help", args[0])
			}
			return cmd.Help()
		}),
	}
	show := func(s apiclient.Schedule) error {
		return a.printDoc(s.Raw, func(w io.Writer) { printSchedule(w, s.Schedule) })
	}
	withID := func(use, short string, f func(cmd *cobra.Command, c *apiclient.Client, id string) error) *cobra.Command {
		return &cobra.Command{Use: use + " ID", Short: short, Args: args(1, "one schedule ID"),
			RunE: a.act(func(cmd *cobra.Command, args []string) error {
				c, err := a.apiClient(cmd)
				if err != nil {
					return err
				}
				return f(cmd, c, args[0])
			})}
	}

	var cursor string
	var all bool
	list := &cobra.Command{Use: "list", Short: "List the schedules, oldest first", Args: args(0, "no arguments"),
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			return a.pages(cmd, "schedules", cursor, all, "bulkops schedules list", func(cur string) ([]byte, string, func(io.Writer, bool), error) {
				p, err := c.SchedulesPage(cmd.Context(), cur)
				return p.Raw, p.NextCursor, func(w io.Writer, header bool) { printSchedules(w, p.Schedules, header) }, err
			})
		})}
	list.Flags().StringVar(&cursor, "cursor", "", "start at this page (the nextCursor of the page before)")
	list.Flags().BoolVar(&all, "all", false, "every page")

	showCmd := withID("show", "Show one schedule", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		s, err := c.Schedule(cmd.Context(), id)
		if err != nil {
			return err
		}
		return show(s)
	})

	var create defFlags
	createCmd := &cobra.Command{Use: "create --title T --types T[,T...] --frequency F [flags]", Short: "Create a schedule",
		Long: "Create a scheduled export.\n\n" + scheduleWhenHelp, Args: args(0, "no arguments"),
		Example: `  bulkops schedules create --title "Nightly queues" --types queue,site --frequency daily --time 02:00 --tz Europe/Berlin --range incremental`,
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			var b bulkapi.ScheduleEdit
			if err := create.apply(cmd.Flags(), &b); err != nil {
				return err
			}
			switch {
			case b.Title == "":
				return usageErr("--title is required, for example --title \"Nightly queues\"")
			case len(b.ObjectTypes) == 0:
				return usageErr("--types is required, for example --types queue,site")
			case b.Spec.Frequency == "" && b.Spec.At != "":
				b.Spec.Frequency = schedule.Once
			case b.Spec.Frequency == "":
				return usageErr("--frequency is required: once, hourly, daily, weekly or monthly (--frequency once without --at runs it now)")
			}
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			s, err := c.CreateSchedule(cmd.Context(), b.Definition)
			if err != nil {
				return err
			}
			a.note("schedule %s created", s.ID)
			return show(s)
		})}
	create.add(createCmd.Flags())

	var edit defFlags
	editCmd := withID("edit", "Edit a schedule (only the flags given change)", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		cur, err := c.Schedule(cmd.Context(), id)
		if err != nil {
			return err
		}
		b := cur.Edit()
		if err := edit.apply(cmd.Flags(), &b); err != nil {
			return err
		}
		s, err := c.UpdateSchedule(cmd.Context(), id, b)
		if err != nil {
			return err
		}
		a.note("schedule %s saved (version %d)", s.ID, s.Version)
		return show(s)
	})
	editCmd.Long = "Edit a schedule: only the flags given change; the edit is refused (409) if someone changed it meanwhile.\n\n" + scheduleWhenHelp
	edit.add(editCmd.Flags())

	var cloneTitle string
	cloneCmd := withID("clone", "Copy a schedule", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		s, err := c.CloneSchedule(cmd.Context(), id, cloneTitle)
		if err != nil {
			return err
		}
		a.note("schedule %s cloned as %s", id, s.ID)
		return show(s)
	})
	cloneCmd.Flags().StringVar(&cloneTitle, "title", "", "the copy's title (default \"Copy of …\")")

	suspendCmd := withID("suspend", "Suspend a schedule", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		s, err := c.SuspendSchedule(cmd.Context(), id)
		if err != nil {
			return err
		}
		return show(s)
	})
	resumeCmd := withID("resume", "Resume a schedule (its next run is planned from now)", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		s, err := c.ResumeSchedule(cmd.Context(), id)
		if err != nil {
			return err
		}
		return show(s)
	})
	deleteCmd := withID("delete", "Delete a schedule", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		if err := c.DeleteSchedule(cmd.Context(), id); err != nil {
			return err
		}
		if a.jsonOut() {
			return writeJSONValue(a.out, map[string]any{"id": id, "deleted": true})
		}
		fmt.Fprintf(a.out, "schedule %s deleted\n", id)
		return nil
	})

	var wait bool
	var outFile string
	var timeout time.Duration
	testCmd := withID("test", "Test export: the first 10 records per type, now", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		j, err := c.TestSchedule(cmd.Context(), id)
		if err != nil {
			return err
		}
		a.note("test export job %s started (%s)", j.ID, j.FileName)
		if !wait {
			return a.printDoc(j.Raw, func(w io.Writer) { fmt.Fprintln(w, j.ID) })
		}
		return a.waitAndDownload(cmd.Context(), c, j.ID, outFile, timeout)
	})
	testCmd.Flags().BoolVar(&wait, "wait", false, "wait for the test export and save the ZIP")
	testCmd.Flags().StringVar(&outFile, "out", "", "where --wait saves the ZIP (default its own name)")
	testCmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long --wait waits")

	var limit int
	var runCursor string
	var runAll bool
	runsCmd := withID("runs", "A schedule's run history, newest first", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		return a.pages(cmd, "runs", runCursor, runAll, "bulkops schedules runs "+id, func(cur string) ([]byte, string, func(io.Writer, bool), error) {
			p, err := c.RunsPage(cmd.Context(), id, limit, cur)
			return p.Raw, p.NextCursor, func(w io.Writer, header bool) { printRuns(w, p.Runs, header) }, err
		})
	})
	runsCmd.Flags().IntVar(&limit, "limit", 25, "runs per page (1-100)")
	runsCmd.Flags().StringVar(&runCursor, "cursor", "", "start at this page (the nextCursor of the page before)")
	runsCmd.Flags().BoolVar(&runAll, "all", false, "every page (90 days of history)")

	cmd.AddCommand(list, showCmd, createCmd, editCmd, cloneCmd, suspendCmd, resumeCmd, deleteCmd, testCmd, runsCmd)
	return cmd
}

// pages prints one page of a list (or, with all, every page) from fetch,
// which returns a page's document, its next cursor and its printer.
func (a *app) pages(cmd *cobra.Command, name, cursor string, all bool, again string, fetch func(cursor string) ([]byte, string, func(io.Writer, bool), error)) error {
	if all && cursor != "" {
		return usageErr("--all and --cursor exclude each other")
	}
	every := &pageItems{name: name}
	for page := 0; ; page++ {
		raw, next, print, err := fetch(cursor)
		if err != nil {
			return err
		}
		switch {
		case !all:
			if err := a.printDoc(raw, func(w io.Writer) { print(w, true) }); err != nil {
				return err
			}
			if next != "" && !a.jsonOut() {
				a.note("more: %s --cursor %s", again, next)
			}
			return nil
		case a.jsonOut():
			every.add(raw)
		default:
			print(a.out, page == 0)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if a.jsonOut() {
		return every.write(a.out)
	}
	return nil
}

func localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func scheduleState(s bulkapi.Schedule) string {
	switch {
	case s.RunningJob != "":
		return "running"
	case s.Active && s.Submitted:
		return "submitted"
	case s.Active:
		return "active"
	}
	return "suspended"
}

func printSchedules(out io.Writer, list []bulkapi.Schedule, header bool) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "SCHEDULE\tTITLE\tTYPES\tWHEN\tSTATE\tNEXT RUN\tLAST JOB\tFAILURES")
	}
	for _, s := range list {
		last := s.LastJob
		if last == "" {
			last = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", s.ID, s.Title, strings.Join(s.ObjectTypes, ","), s.WhenText,
			scheduleState(s), localTime(s.NextRun), last, s.Failures)
	}
	tw.Flush()
}

func printSchedule(out io.Writer, s bulkapi.Schedule) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Schedule\t%s (version %d)\n", s.ID, s.Version)
	fmt.Fprintf(tw, "Title\t%s\n", s.Title)
	if s.Description != "" {
		fmt.Fprintf(tw, "Description\t%s\n", s.Description)
	}
	fmt.Fprintf(tw, "Types\t%s\n", strings.Join(s.ObjectTypes, ", "))
	if s.Prefix != "" {
		fmt.Fprintf(tw, "Prefix\t%s\n", s.Prefix)
	}
	fmt.Fprintf(tw, "When\t%s\n", s.WhenText)
	fmt.Fprintf(tw, "State\t%s\n", scheduleState(s))
	if s.SuspendedReason != "" {
		fmt.Fprintf(tw, "Suspended\t%s\n", s.SuspendedReason)
	}
	fmt.Fprintf(tw, "Next run\t%s\n", localTime(s.NextRun))
	if s.LastRun != nil {
		fmt.Fprintf(tw, "Last run\t%s (job %s)\n", localTime(*s.LastRun), s.LastJob)
	}
	if s.RunningJob != "" {
		fmt.Fprintf(tw, "Running job\t%s\n", s.RunningJob)
	}
	o := s.Options
	mode := o.Range.Mode
	if mode == "" {
		mode = exportspec.RangeAll
	}
	what := string(mode)
	if o.Range.From != nil {
		what += " from " + o.Range.From.Format(time.RFC3339)
	}
	if o.Range.To != nil {
		what += " to " + o.Range.To.Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "Range\t%s\n", what)
	if len(o.Fields) > 0 {
		fmt.Fprintf(tw, "Fields\t%s\n", strings.Join(o.Fields, ", "))
	}
	for _, f := range o.Filters {
		fmt.Fprintf(tw, "Filter\t%s %s %s\n", f.Field, f.Op, f.Value)
	}
	fmt.Fprintf(tw, "Files\t%s headers, multi-values %s, %d rows per file%s%s\n", or(string(o.Header), "labels"), or(string(o.MultiValue), "joined"),
		o.Rows(), map[bool]string{true: fmt.Sprintf(", at most %d bytes", o.SplitBytes)}[o.SplitBytes > 0], map[bool]string{true: ", not neutralized"}[o.NoNeutralize])
	fmt.Fprintf(tw, "Failures\t%d in a row (suspends after %d)\n", s.Failures, s.FailureLimit())
	fmt.Fprintf(tw, "Created by\t%s at %s\n", s.CreatedBy, localTime(s.CreatedAt))
	tw.Flush()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func printRuns(out io.Writer, runs []bulkapi.Run, header bool) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "JOB\tKIND\tSTATUS\tSTARTED\tENDED\tROWS\tFILES\tDETAIL")
	}
	for _, r := range runs {
		kind := "scheduled"
		if r.Test {
			kind = "test"
		}
		when := func(t *time.Time) string {
			if t == nil {
				return "-"
			}
			return localTime(*t)
		}
		detail := r.Error
		if !r.Status.Final() && r.Status != "Unknown" {
			detail = fmt.Sprintf("%d%%", r.Percent)
			if r.ETASeconds != nil {
				detail += " ETA " + (time.Duration(*r.ETASeconds) * time.Second).String()
			}
		} else if detail == "" && r.FileName != "" {
			detail = r.FileName
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.JobID, kind, r.Status, when(r.StartedAt), when(r.EndedAt), r.Rows, r.Files, detail)
	}
	tw.Flush()
	if len(runs) > 0 && header {
		fmt.Fprintln(out, "\nbulkops job JOB shows a run's download link (Completed runs).")
	}
}
