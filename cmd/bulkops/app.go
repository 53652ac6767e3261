package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// app is one run of the CLI: where output goes, the environment, and the
// global flags.
type app struct {
	out, info io.Writer
	getenv    func(string) string
	// stderrTTY: progress is drawn only on a terminal; stdoutTTY: colour
	// only on a terminal (and never with NO_COLOR or --no-color).
	stderrTTY, stdoutTTY bool
	now                  func() time.Time

	api, token, profile, output string
	noColor                     bool
	// started is set once a command's own code runs: an error before it
	// is a usage error.
	started bool
	// interrupt says what Ctrl-C stopped.
	mu        sync.Mutex
	interrupt string

	client *apiclient.Client
	// httpClient, if set, sends the API calls (tests validate them).
	httpClient *http.Client
}

func newApp(out, info io.Writer, getenv func(string) string) *app {
	return &app{out: out, info: info, getenv: getenv, now: time.Now}
}

// doing records what Ctrl-C would interrupt, for the note it prints.
func (a *app) doing(s string) {
	a.mu.Lock()
	a.interrupt = s
	a.mu.Unlock()
}

func (a *app) interruptNote() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.interrupt == "" {
		return "interrupted"
	}
	return "interrupted: " + a.interrupt
}

// act wraps a command's code: it marks the command line as accepted and
// checks --output.
func (a *app) act(f func(cmd *cobra.Command, args []string) error) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if a.output != "text" && a.output != "json" {
			hint := ""
			if strings.ContainsAny(a.output, "./") {
				hint = fmt.Sprintf("; to save to a file use --out %s", a.output)
			}
			return usageErr("--output %q is not text or json%s", a.output, hint)
		}
		a.started = true
		return f(cmd, args)
	}
}

// args checks the number of positional arguments as a usage error.
func args(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, got []string) error {
		if len(got) != n {
			return usageErr("%s takes %s, got %d argument(s)", cmd.CommandPath(), names, len(got))
		}
		return nil
	}
}

func (a *app) jsonOut() bool { return a.output == "json" }

// api returns the client for the configured API and token.
func (a *app) apiClient(cmd *cobra.Command) (*apiclient.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	st, err := a.resolve()
	if err != nil {
		return nil, err
	}
	tok := st.token
	if tok == "" && st.tokenCommand != "" {
		if tok, err = runTokenCommand(cmd.Context(), st.tokenCommand); err != nil {
			return nil, err
		}
	}
	if tok == "" {
		return nil, authErr("no token: pass --token, set BULKOPS_TOKEN, or give the profile a token_env or token_command (locally: export BULKOPS_TOKEN=$(bin/bulkops token))")
	}
	a.client = &apiclient.Client{Base: st.api, Token: tok, HTTP: a.httpClient}
	return a.client, nil
}

// printDoc writes the API's document (-o json) or, for people, calls
// human.
func (a *app) printDoc(raw []byte, human func(io.Writer)) error {
	if a.jsonOut() {
		return writeJSON(a.out, raw)
	}
	human(a.out)
	return nil
}

// writeJSON writes a JSON document, indented, with a newline.
func writeJSON(w io.Writer, raw []byte) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		_, err := w.Write(raw)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// note writes a line for people to stderr.
func (a *app) note(format string, args ...any) {
	fmt.Fprintf(a.info, format+"\n", args...)
}

// colour reports whether stdout gets colour.
func (a *app) colour() bool {
	return a.stdoutTTY && !a.noColor && a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb"
}

// status paints a job status for a terminal.
func (a *app) status(s string) string {
	if !a.colour() {
		return s
	}
	code := ""
	switch {
	case s == "Completed":
		code = "32"
	case s == "Completed with errors":
		code = "33"
	case s == "Failed", strings.HasPrefix(strings.ToLower(s), "cancel"):
		code = "31"
	case s == "In Progress":
		code = "36"
	default:
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// progress draws a progress line on stderr, only on a terminal.
func (a *app) progress(line string) {
	if !a.stderrTTY {
		return
	}
	fmt.Fprintf(a.info, "\r\x1b[2K%s", line)
}

// endProgress ends a progress line.
func (a *app) endProgress() {
	if a.stderrTTY {
		fmt.Fprint(a.info, "\r\x1b[2K")
	}
}

// typeNames completes object type arguments and flags offline, from the
// registry the CLI was built with.
func typeNames(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, t := range objecttype.All() {
		if strings.HasPrefix(t.Slug, toComplete) {
			out = append(out, t.Slug+"\t"+t.Name)
		}
	}
	if strings.HasPrefix("audio-file", toComplete) {
		out = append(out, "audio-file\tAudio prompts (a ZIP of WAV files)")
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
