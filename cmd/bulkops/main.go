// Command bulkops is the bulk import/export CLI. It talks to the HTTP API
// (the local dev server or a deployed API Gateway) with a bearer token.
// `bulkops help` lists the commands, their flags, the configuration and the
// exit codes; every command takes --help and -o json.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// version is set at build time (-ldflags "-X main.version=1.2.3"); without
// it the module's version or VCS revision is shown.
var version = ""

func versionString() string {
	v := version
	if v == "" {
		v = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok {
			if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += "+" + s.Value[:12]
				}
			}
		}
	}
	return v
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	a := newApp(os.Stdout, os.Stderr, os.Getenv)
	a.stderrTTY = term.IsTerminal(int(os.Stderr.Fd()))
	a.stdoutTTY = term.IsTerminal(int(os.Stdout.Fd()))
	err := a.execute(ctx, os.Args[1:])
	if err != nil {
		if msg := describe(err); msg != "" {
			fmt.Fprintln(os.Stderr, "bulkops: "+strings.ReplaceAll(msg, "\n", "\n  "))
		}
	}
	os.Exit(exitCode(err))
}

// run executes one command line; out gets results, info gets progress and
// notes (never a terminal here, so no progress bars). The error carries
// the exit code (exitCode).
func run(ctx context.Context, args []string, out, info io.Writer) error {
	return newApp(out, info, os.Getenv).execute(ctx, args)
}

// execute builds the command tree and runs args.
func (a *app) execute(ctx context.Context, args []string) error {
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return nil
	case !a.started:
		// cobra refused the command line before any command ran.
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return usageErr("%v\nrun: %s --help", err, commandPath(root, args))
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return &exitError{code: exitInterrupted, err: errors.New(a.interruptNote())}
	}
	return err
}

// commandPath is the command a command line names, for "run: ... --help".
func commandPath(root *cobra.Command, args []string) string {
	c, _, err := root.Find(args)
	if err != nil || c == nil {
		return root.Name()
	}
	return c.CommandPath()
}
