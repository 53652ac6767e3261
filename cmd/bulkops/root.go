package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

const rootLong = `bulkops imports and exports contact-center configuration through the bulkops API.

Output: results go to standard output, for people, or as the API's JSON
document with -o json (a job, a page of jobs with its cursor, a schedule, ...).
Progress bars and notes go to standard error; bars only when it is a terminal.
Colour only on a terminal, never with NO_COLOR set or --no-color.

`

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "bulkops",
		Short:         "Bulk import and export of contact-center configuration",
		Long:          rootLong + configHelp + "\n" + exitCodesHelp,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		}),
	}
	root.SetVersionTemplate("bulkops {{.Version}}\n")
	// Before the completion command is made: it keeps the writer.
	root.SetOut(a.out)
	root.SetErr(a.info)
	pf := root.PersistentFlags()
	pf.StringVar(&a.api, "api", "", "API base URL (default: profile, BULKOPS_API_URL, or http://127.0.0.1:$BULKOPS_API_PORT/dev)")
	pf.StringVar(&a.token, "token", "", "bearer token (default: profile's token_env or token_command, or BULKOPS_TOKEN)")
	pf.StringVar(&a.profile, "profile", "", "profile of $XDG_CONFIG_HOME/bulkops/config.toml (default BULKOPS_PROFILE, or the file's profile)")
	pf.StringVarP(&a.output, "output", "o", "text", "output format: text or json (the API's document)")
	pf.BoolVar(&a.noColor, "no-color", false, "no colour (also: NO_COLOR set)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErr("%v\nrun: %s --help", err, cmd.CommandPath())
	})
	root.AddCommand(a.importCommand(), a.jobCommand(), a.cancelCommand(), a.changesCommand(), a.applyCommand(), a.retryCommand(), a.jobsCommand(), a.typesCommand(), a.templateCommand(),
		a.exportCommand(), a.schedulesCommand(), a.targetsCommand(), a.tokenCommand(), a.versionCommand(),
		a.settingsCommand(), a.operatorCommand())
	// cobra's own completion command, described for people.
	root.CompletionOptions.HiddenDefaultCmd = false
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Short = "Shell completion for bash, zsh, fish or powershell"
			wrapTree(a, c)
		}
	}
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			wrapTree(a, c)
		}
	}
	return root
}

// wrapTree marks cobra's own commands (help, completion) as accepted
// command lines when they run.
func wrapTree(a *app, c *cobra.Command) {
	if c.RunE != nil {
		c.RunE = a.act(c.RunE)
	} else if c.Run != nil {
		run := c.Run
		c.Run = nil
		c.RunE = a.act(func(cmd *cobra.Command, args []string) error { run(cmd, args); return nil })
	}
	for _, s := range c.Commands() {
		wrapTree(a, s)
	}
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the CLI's version",
		Args:  args(0, "no arguments"),
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			if a.jsonOut() {
				return writeJSON(a.out, fmt.Appendf(nil, `{"version":%q}`, versionString()))
			}
			fmt.Fprintf(a.out, "bulkops %s\n", versionString())
			return nil
		}),
	}
}
