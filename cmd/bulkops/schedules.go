package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/schedule"
)

const schedulesUsage = `usage:
  bulkops schedules list
  bulkops schedules show ID
  bulkops schedules create --title T --types T[,T...] --frequency F [when flags] [what flags] [--file BODY.json]
  bulkops schedules edit ID [--title T] [--types ...] [when flags] [what flags] [--file BODY.json]
  bulkops schedules clone ID [--title T]
  bulkops schedules suspend ID | resume ID | delete ID
  bulkops schedules test ID [--wait] [-o FILE.zip] [--timeout D]
  bulkops schedules runs ID [--limit N]
when: --frequency once|hourly|daily|weekly|monthly --time 06:00 --tz Europe/Berlin
      --weekday 1|mon --day 31 --at 2026-12-01T06:30 (once; without --at: now)
what: --range all|interval|incremental [--from RFC3339 --to RFC3339] --fields name,description
      --header labels|keys --multi joined|columns --split-rows N --split-bytes N
      --prefix P --no-neutralize --max-failures N --description TEXT
--file reads a JSON body (title, description, objectTypes, prefix, when, options,
maxFailures) for anything complex, such as filters; flags override it.
`

// defFlags are the flags that shape a schedule's definition; only the
// flags given on the command line are applied (fs.Visit), so edit changes
// just what it is told to.
type defFlags struct {
	title, description, types, prefix                *string
	frequency, at, clock, tz, weekday                *string
	day, maxFailures, splitRows                      *int
	rangeMode, from, to, fields, header, multi, file *string
	splitBytes                                       *int64
	noNeutralize                                     *bool
}

func addDefFlags(fs *flag.FlagSet) *defFlags {
	return &defFlags{
		title:        fs.String("title", "", "title (at most 100 characters)"),
		description:  fs.String("description", "", "description"),
		types:        fs.String("types", "", "object types, comma-separated (several make one ZIP)"),
		prefix:       fs.String("prefix", "", "ZIP name prefix (at most 20 letters, digits, _ or -)"),
		frequency:    fs.String("frequency", "", "once, hourly, daily, weekly or monthly"),
		at:           fs.String("at", "", "once: date and time 2026-12-01T06:30 (without it: now)"),
		clock:        fs.String("time", "", "time of day 06:00 (hourly: its minutes)"),
		tz:           fs.String("tz", "", "IANA time zone (default UTC)"),
		weekday:      fs.String("weekday", "", "weekly: 0-6 (0 = Sunday) or a day name"),
		day:          fs.Int("day", 0, "monthly: day of the month 1-31 (short months: their last day)"),
		maxFailures:  fs.Int("max-failures", 1, "failed runs in a row that suspend the schedule (0-10)"),
		rangeMode:    fs.String("range", "", "all, interval (--from, --to) or incremental (new and modified since the last successful run)"),
		from:         fs.String("from", "", "interval start (RFC 3339)"),
		to:           fs.String("to", "", "interval end (RFC 3339, optional)"),
		fields:       fs.String("fields", "", "fields to write, in order, comma-separated (default: every import column)"),
		header:       fs.String("header", "", "header style: labels or keys"),
		multi:        fs.String("multi", "", "multi-valued fields: joined or columns"),
		splitRows:    fs.Int("split-rows", 0, "most rows per CSV file (1-5000)"),
		splitBytes:   fs.Int64("split-bytes", 0, "also split before a file grows past this many bytes (at least 65536)"),
		noNeutralize: fs.Bool("no-neutralize", false, "do not neutralize cells a spreadsheet would run as formulas"),
		file:         fs.String("file", "", "JSON body file; flags override it"),
	}
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
	return 0, fmt.Errorf("--weekday %q is not 0-6 (0 = Sunday) or a day name such as mon", s)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// apply lays the --file body and then the given flags over b.
func (d *defFlags) apply(fs *flag.FlagSet, b *apiclient.ScheduleBody) error {
	if *d.file != "" {
		raw, err := os.ReadFile(*d.file)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(b); err != nil {
			return fmt.Errorf("%s is not a schedule body (title, description, objectTypes, prefix, when, options, maxFailures): %v", *d.file, err)
		}
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err != nil {
			return
		}
		switch f.Name {
		case "title":
			b.Title = *d.title
		case "description":
			b.Description = *d.description
		case "types":
			b.ObjectTypes = splitList(*d.types)
		case "prefix":
			b.Prefix = *d.prefix
		case "frequency":
			b.When.Frequency = schedule.Frequency(*d.frequency)
		case "at":
			b.When.At = *d.at
		case "time":
			b.When.Time = *d.clock
		case "tz":
			b.When.TimeZone = *d.tz
		case "weekday":
			b.When.Weekday, err = parseWeekday(*d.weekday)
		case "day":
			b.When.Day = *d.day
		case "max-failures":
			mf := *d.maxFailures
			b.MaxFailures = &mf
		case "range":
			b.Options.Range.Mode = exportspec.RangeMode(*d.rangeMode)
			if b.Options.Range.Mode != exportspec.RangeInterval {
				b.Options.Range.From, b.Options.Range.To = nil, nil
			}
		case "from", "to":
			var t time.Time
			if t, err = time.Parse(time.RFC3339, f.Value.String()); err != nil {
				err = fmt.Errorf("--%s %q is not an RFC 3339 time such as 2026-11-01T00:00:00Z", f.Name, f.Value.String())
				return
			}
			if f.Name == "from" {
				b.Options.Range.From = &t
			} else {
				b.Options.Range.To = &t
			}
		case "fields":
			b.Options.Fields = splitList(*d.fields)
		case "header":
			b.Options.Header = exportspec.HeaderStyle(*d.header)
		case "multi":
			b.Options.MultiValue = exportspec.MultiValue(*d.multi)
		case "split-rows":
			b.Options.SplitRows = *d.splitRows
		case "split-bytes":
			b.Options.SplitBytes = *d.splitBytes
		case "no-neutralize":
			b.Options.NoNeutralize = *d.noNeutralize
		}
	})
	return err
}

// schedulesCmd runs `bulkops schedules SUB ...`; fs already has the common
// flags.
func schedulesCmd(ctx context.Context, fs *flag.FlagSet, args []string, client func() (*apiclient.Client, error), out, info io.Writer) error {
	if len(args) == 0 {
		return errors.New("schedules needs a subcommand\n" + schedulesUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "help", "-h", "--help":
		fmt.Fprint(out, schedulesUsage)
		return nil
	}
	var def *defFlags
	var cloneTitle, o *string
	var wait *bool
	var timeout *time.Duration
	var limit *int
	positional := 1
	switch sub {
	case "list":
		positional = 0
	case "create":
		positional = 0
		def = addDefFlags(fs)
	case "edit":
		def = addDefFlags(fs)
	case "clone":
		cloneTitle = fs.String("title", "", "the copy's title (default \"Copy of …\")")
	case "test":
		wait = fs.Bool("wait", false, "wait for the test export and download the ZIP")
		o = fs.String("o", "", "where to save the ZIP (default its own name)")
		timeout = fs.Duration("timeout", 30*time.Minute, "how long --wait waits")
	case "runs":
		limit = fs.Int("limit", 25, "runs to show (1-100)")
	case "show", "suspend", "resume", "delete":
	default:
		return fmt.Errorf("unknown schedules subcommand %q\n%s", sub, schedulesUsage)
	}
	pos, err := parse(fs, args, positional)
	if err != nil {
		return fmt.Errorf("%v\n%s", err, schedulesUsage)
	}
	c, err := client()
	if err != nil {
		return err
	}
	id := ""
	if len(pos) == 1 {
		id = pos[0]
	}
	switch sub {
	case "list":
		list, err := c.Schedules(ctx)
		if err != nil {
			return err
		}
		printSchedules(out, list)
		return nil
	case "show":
		s, err := c.Schedule(ctx, id)
		if err != nil {
			return err
		}
		printSchedule(out, s)
		return nil
	case "create":
		var b apiclient.ScheduleBody
		if err := def.apply(fs, &b); err != nil {
			return err
		}
		switch {
		case b.Title == "":
			return errors.New("--title is required, for example --title \"Nightly queues\"")
		case len(b.ObjectTypes) == 0:
			return errors.New("--types is required, for example --types queue,site")
		case b.When.Frequency == "" && b.When.At != "":
			b.When.Frequency = schedule.Once
		case b.When.Frequency == "":
			return errors.New("--frequency is required: once, hourly, daily, weekly or monthly (--frequency once without --at runs it now)")
		}
		s, err := c.CreateSchedule(ctx, b)
		if err != nil {
			return err
		}
		fmt.Fprintf(info, "schedule %s created\n", s.ID)
		printSchedule(out, s)
		return nil
	case "edit":
		cur, err := c.Schedule(ctx, id)
		if err != nil {
			return err
		}
		b := cur.Body()
		if err := def.apply(fs, &b); err != nil {
			return err
		}
		s, err := c.UpdateSchedule(ctx, id, b)
		if err != nil {
			return err
		}
		fmt.Fprintf(info, "schedule %s saved (version %d)\n", s.ID, s.Version)
		printSchedule(out, s)
		return nil
	case "clone":
		s, err := c.CloneSchedule(ctx, id, *cloneTitle)
		if err != nil {
			return err
		}
		fmt.Fprintf(info, "schedule %s cloned as %s\n", id, s.ID)
		printSchedule(out, s)
		return nil
	case "suspend", "resume":
		act := c.SuspendSchedule
		if sub == "resume" {
			act = c.ResumeSchedule
		}
		s, err := act(ctx, id)
		if err != nil {
			return err
		}
		printSchedule(out, s)
		return nil
	case "delete":
		if err := c.DeleteSchedule(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(out, "schedule %s deleted\n", id)
		return nil
	case "test":
		j, err := c.TestSchedule(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(info, "test export job %s started (%s)\n", j.ID, j.FileName)
		if !*wait {
			fmt.Fprintln(out, j.ID)
			return nil
		}
		return waitAndDownload(ctx, c, j.ID, *o, *timeout, out, info)
	case "runs":
		runs, err := c.ScheduleRuns(ctx, id, *limit)
		if err != nil {
			return err
		}
		printRuns(out, runs)
		return nil
	}
	return nil
}

func localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func scheduleState(s apiclient.Schedule) string {
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

func printSchedules(out io.Writer, list []apiclient.Schedule) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEDULE\tTITLE\tTYPES\tWHEN\tSTATE\tNEXT RUN\tLAST JOB\tFAILURES")
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

func printSchedule(out io.Writer, s apiclient.Schedule) {
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

func printRuns(out io.Writer, runs []apiclient.Run) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tSTATUS\tSTARTED\tENDED\tROWS\tFILES\tDETAIL")
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
	if len(runs) > 0 {
		fmt.Fprintln(out, "\nbulkops job JOB shows a run's download link (Completed runs).")
	}
}
