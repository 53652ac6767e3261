package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/exportspec"
)

// optionFlags are the export options (exportspec.Options) as flags, for
// export and for schedules.
type optionFlags struct {
	fields, header, multi, rangeMode, from, to, file string
	format                                           string
	filters                                          []string
	splitRows                                        int
	splitBytes                                       int64
	noNeutralize, stableName                         bool
}

func (o *optionFlags) add(fs *pflag.FlagSet, ranges string) {
	fs.StringVar(&o.fields, "fields", "", "fields to write, in order, comma-separated (default: every import column)")
	fs.StringVar(&o.header, "header", "", "header style: labels (import headers) or keys (field keys)")
	fs.StringVar(&o.multi, "multi", "", "multi-valued fields: joined (one cell, | separated) or columns (one column per value)")
	fs.StringArrayVar(&o.filters, "filter", nil, "only objects whose FIELD matches: 'FIELD equals|contains|startsWith VALUE' or 'FIELD empty|notEmpty' (repeatable; all must match)")
	fs.IntVar(&o.splitRows, "split-rows", 0, "most rows per CSV file (1-5000; default 5000)")
	fs.Int64Var(&o.splitBytes, "split-bytes", 0, "also split before a file grows past this many bytes (at least 65536)")
	fs.BoolVar(&o.noNeutralize, "no-neutralize", false, "do not neutralize cells a spreadsheet would run as formulas")
	fs.StringVar(&o.format, "format", "", "file delivered: zip (default) or csv (one type's CSV itself, at most 5000 rows)")
	fs.BoolVar(&o.stableName, "stable-name", false, "name the file <prefix><Type>.zip (or .csv) without the date; every run replaces the previous file")
	fs.StringVar(&o.rangeMode, "range", "", ranges)
	fs.StringVar(&o.from, "from", "", "interval start (RFC 3339, --range interval)")
	fs.StringVar(&o.to, "to", "", "interval end (RFC 3339, optional)")
}

// filterOps are the filter operators, as the API spells them.
var filterOps = []exportspec.FilterOp{exportspec.OpEquals, exportspec.OpContains, exportspec.OpPrefix, exportspec.OpEmpty, exportspec.OpNotEmpty}

// parseFilter reads 'FIELD OP [VALUE]': the field may have spaces, the
// operator is the first word that is one.
func parseFilter(s string) (exportspec.Filter, error) {
	words := strings.Fields(s)
	for i, w := range words {
		for _, op := range filterOps {
			if i > 0 && strings.EqualFold(w, string(op)) {
				return exportspec.Filter{Field: strings.Join(words[:i], " "), Op: op, Value: strings.Join(words[i+1:], " ")}, nil
			}
		}
	}
	return exportspec.Filter{}, usageErr("--filter %q is not 'FIELD OP [VALUE]' with OP one of equals, contains, startsWith, empty, notEmpty", s)
}

// apply lays the given flags over opts (only the flags on the command
// line, so an edit changes only what it is told to).
func (o *optionFlags) apply(fs *pflag.FlagSet, opts *exportspec.Options) error {
	set := fs.Changed
	if set("range") {
		opts.Range.Mode = exportspec.RangeMode(o.rangeMode)
		if opts.Range.Mode != exportspec.RangeInterval {
			opts.Range.From, opts.Range.To = nil, nil
		}
	}
	for _, f := range []struct {
		name string
		dst  **time.Time
		val  string
	}{{"from", &opts.Range.From, o.from}, {"to", &opts.Range.To, o.to}} {
		if !set(f.name) {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.val)
		if err != nil {
			return usageErr("--%s %q is not an RFC 3339 time such as 2026-11-01T00:00:00Z", f.name, f.val)
		}
		*f.dst = &t
	}
	if set("fields") {
		opts.Fields = splitList(o.fields)
	}
	if set("header") {
		opts.Header = exportspec.HeaderStyle(o.header)
	}
	if set("multi") {
		opts.MultiValue = exportspec.MultiValue(o.multi)
	}
	if set("filter") {
		opts.Filters = nil
		for _, s := range o.filters {
			f, err := parseFilter(s)
			if err != nil {
				return err
			}
			opts.Filters = append(opts.Filters, f)
		}
	}
	if set("split-rows") {
		opts.SplitRows = o.splitRows
	}
	if set("split-bytes") {
		opts.SplitBytes = o.splitBytes
	}
	if set("no-neutralize") {
		opts.NoNeutralize = o.noNeutralize
	}
	if set("format") {
		opts.Format = exportspec.Format(o.format)
	}
	if set("stable-name") {
		opts.StableName = o.stableName
	}
	return nil
}

func (a *app) exportCommand() *cobra.Command {
	var prefix, outFile, optionsFile, target string
	var wait bool
	var timeout time.Duration
	var opts optionFlags
	cmd := &cobra.Command{
		Use:   "export T[,T...] [flags]",
		Short: "Export object types to a ZIP of CSV files; with --wait download it",
		Long: `Export one or more object types (several make one ZIP) with every option the
API takes: fields and their order, header style, multi-valued fields, filters,
splits by rows or bytes, neutralization, a time range (all, or an interval
of last modification), the format (a ZIP, or --format csv: one type's CSV of
at most 5,000 rows) and a stable file name without the date (--stable-name:
each export replaces the previous file). --options-file reads the options as JSON (the API's
ExportOptions); flags override it. With --wait the job is followed, printed,
and its ZIP saved (default its own name); the exit code tells the outcome.`,
		Example: `  bulkops export queue,site --prefix nightly_ --wait
  bulkops export queue --fields Name,Description --header keys --filter 'Name startsWith EU' --wait --out eu.zip
  bulkops export user --range interval --from 2026-01-01T00:00:00Z --split-rows 1000 -o json
  bulkops export agent --format csv --stable-name --prefix gax_ --wait   # saves gax_AgentGAX.csv`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: typeNames,
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			var types []string
			for _, arg := range args {
				types = append(types, splitList(arg)...)
			}
			var o exportspec.Options
			if optionsFile != "" {
				if err := readJSONFile(optionsFile, &o, "export options (fields, header, multiValue, filters, splitRows, splitBytes, noNeutralize, range, format, stableName)"); err != nil {
					return err
				}
			}
			if err := opts.apply(cmd.Flags(), &o); err != nil {
				return err
			}
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			j, err := c.StartExport(cmd.Context(), bulkapi.ExportRequest{ObjectTypes: types, Prefix: prefix, Options: o, TargetID: target})
			if err != nil {
				return err
			}
			a.note("export job %s started (%s)", j.ID, j.FileName)
			if !wait {
				return a.printDoc(j.Raw, func(w io.Writer) { fmt.Fprintln(w, j.ID) })
			}
			return a.waitAndDownload(cmd.Context(), c, j.ID, outFile, timeout)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&prefix, "prefix", "", "ZIP name prefix (at most 20 letters, digits, _ or -)")
	f.StringVar(&target, "target", "", "delivery target ID (bulkops targets list): the file also goes there")
	opts.add(f, "all (default) or interval (--from, --to: objects last modified then)")
	f.StringVar(&optionsFile, "options-file", "", "read the options from a JSON file; flags override it")
	f.BoolVar(&wait, "wait", false, "follow the export and save the ZIP")
	f.StringVar(&outFile, "out", "", "where --wait saves the ZIP (default its own name)")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "how long --wait waits")
	_ = cmd.RegisterFlagCompletionFunc("header", cobra.FixedCompletions([]string{"labels", "keys"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("multi", cobra.FixedCompletions([]string{"joined", "columns"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("range", cobra.FixedCompletions([]string{"all", "interval"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"zip", "csv"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// waitAndDownload follows an export job to its end, prints it, saves its
// ZIP to o (default the ZIP's own name) and ends with its outcome.
func (a *app) waitAndDownload(ctx context.Context, c *apiclient.Client, id, o string, timeout time.Duration) error {
	a.doing(fmt.Sprintf("stopped waiting; export %s goes on (bulkops job %s --wait)", id, id))
	j, err := a.follow(ctx, c, id, timeout)
	if err != nil {
		return err
	}
	if err := a.printDoc(j.Raw, func(w io.Writer) { a.printJob(w, j.Job) }); err != nil {
		return err
	}
	if out := jobOutcome(j); out != nil {
		return out
	}
	if j.Links == nil || j.Links.Results == "" {
		return fmt.Errorf("export %s is Completed but has no ZIP link; ask for it again: bulkops job %s", j.ID, j.ID)
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
	if a.jsonOut() {
		a.note("saved %s (%d bytes)", o, len(b))
	} else {
		fmt.Fprintf(a.out, "\nSaved %s (%d bytes)\n", o, len(b))
	}
	return nil
}

// readJSONFile decodes a JSON file into v, refusing unknown fields.
func readJSONFile(path string, v any, what string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return usageErr("%s is not %s: %v", path, what, err)
	}
	return nil
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
