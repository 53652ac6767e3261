package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/bulkapi"
)

const operatorLong = `Operator commands: set a tenant's settings. They need an operator's token
(the operator scope, template parameter OperatorScope; locally: bulkops token
--operator); a tenant administrator's token is refused (exit code 6). The
tenant is the one named on the command line. Every change is audited.`

func (a *app) operatorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Operators: a tenant's settings (large files, limits, delivery targets)",
		Long:  operatorLong,
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown operator subcommand %q\nrun: bulkops operator --help", args[0])
			}
			return cmd.Help()
		}),
	}
	settings := &cobra.Command{
		Use:   "settings",
		Short: "A tenant's settings: get, set, audit",
		Long:  operatorLong,
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown operator settings subcommand %q\nrun: bulkops operator settings --help", args[0])
			}
			return cmd.Help()
		}),
	}
	show := func(s apiclient.TenantSettings) error {
		return a.printDoc(s.Raw, func(w io.Writer) { printTenantSettings(w, s.TenantSettings) })
	}
	get := &cobra.Command{
		Use: "get TENANT", Short: "Show a tenant's settings", Args: args(1, "one tenant"),
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			s, err := c.TenantSettings(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return show(s)
		}),
	}

	var largeFiles, targets, email, webhook, secretEnv string
	var maxRows int
	var maxBytes int64
	set := &cobra.Command{
		Use:   "set TENANT",
		Short: "Change a tenant's settings (only the flags given)",
		Long: operatorLong + `

Only the flags given change; the rest stay as they are. The change is made
only if nobody changed the settings since they were read (else exit code 1:
read them again).

The notification contact: --email and --webhook (empty: none); a new
webhook needs its signing secret, read from the environment variable
--webhook-secret-env names (32 to 256 printable characters). It is stored
in Secrets Manager under the tenant's name and never shown; the audit
says only that it was replaced.`,
		Example: `  bulkops operator settings set acme --large-files on --max-rows 200000 --delivery-targets sftp
  WEBHOOK_SECRET=... bulkops operator settings set acme --email ops@acme.example \
    --webhook https://hooks.acme.example/bulkops --webhook-secret-env WEBHOOK_SECRET`,
		Args: args(1, "one tenant"),
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			contact := fs.Changed("email") || fs.Changed("webhook") || fs.Changed("webhook-secret-env")
			if !fs.Changed("large-files") && !fs.Changed("max-rows") && !fs.Changed("max-bytes") && !fs.Changed("delivery-targets") && !contact {
				return usageErr("nothing to set: give --large-files, --max-rows, --max-bytes, --delivery-targets, --email, --webhook or --webhook-secret-env")
			}
			var secret string
			if secretEnv != "" {
				if secret = a.getenv(secretEnv); secret == "" {
					return usageErr("--webhook-secret-env %s: the variable is empty or unset", secretEnv)
				}
			}
			if fs.Changed("large-files") {
				switch strings.ToLower(largeFiles) {
				case "on", "true", "yes":
					largeFiles = "on"
				case "off", "false", "no":
					largeFiles = "off"
				default:
					return usageErr("--large-files %q: want on or off", largeFiles)
				}
			}
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			cur, err := c.TenantSettings(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			b := cur.SettingsBody
			if fs.Changed("large-files") {
				b.LargeFiles = largeFiles == "on"
			}
			if fs.Changed("max-rows") {
				b.MaxRows = maxRows
			}
			if fs.Changed("max-bytes") {
				b.MaxBytes = maxBytes
			}
			if fs.Changed("delivery-targets") {
				b.DeliveryTargets = []string{}
				for _, k := range strings.Split(targets, ",") {
					if k = strings.TrimSpace(k); k != "" && k != "s3link" {
						b.DeliveryTargets = append(b.DeliveryTargets, k)
					}
				}
			}
			if contact {
				n := bulkapi.OperatorContact{}
				if cur.Notification != nil {
					n = *cur.Notification
				}
				if fs.Changed("email") {
					n.Email = strings.TrimSpace(email)
				}
				if fs.Changed("webhook") {
					n.Webhook = strings.TrimSpace(webhook)
				}
				n.WebhookSecret, n.WebhookSecretSet = secret, false
				b.Notification = &n
			}
			s, err := c.PutTenantSettings(cmd.Context(), args[0], cur.Version, b)
			if err != nil {
				return err
			}
			return show(s)
		}),
	}
	f := set.Flags()
	f.StringVar(&largeFiles, "large-files", "", "on or off: the per-file ceiling 1,000,000 rows / 500 MiB instead of 5,000 rows / 5 MiB")
	f.IntVar(&maxRows, "max-rows", 0, "rows per file under the ceiling (0: the ceiling)")
	f.Int64Var(&maxBytes, "max-bytes", 0, "bytes per file under the ceiling (0: the ceiling)")
	f.StringVar(&targets, "delivery-targets", "", "delivery target kinds allowed besides s3link, comma-separated: sftp, s3bucket (empty: s3link only)")
	f.StringVar(&email, "email", "", "the notification contact's e-mail address (empty: no mail)")
	f.StringVar(&webhook, "webhook", "", "the notification contact's https webhook (empty: no webhook)")
	f.StringVar(&secretEnv, "webhook-secret-env", "", "the environment variable holding the webhook's signing secret (required with a new webhook)")

	var limit int
	audit := &cobra.Command{
		Use: "audit TENANT", Short: "The latest changes of a tenant's settings: who, when, before → after", Args: args(1, "one tenant"),
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			list, raw, err := c.SettingsAudit(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			return a.printDoc(raw, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tAT\tBY\tBEFORE\tAFTER")
				for _, ch := range list.Changes {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", ch.Version, ch.At.Format("2006-01-02 15:04:05Z"), ch.By, settingsLine(ch.Before), settingsLine(ch.After))
				}
				tw.Flush()
			})
		}),
	}
	audit.Flags().IntVar(&limit, "limit", 20, "changes to show, 1 to 100")
	settings.AddCommand(get, set, audit)
	cmd.AddCommand(settings)
	return cmd
}

// settingsCommand shows the caller's tenant's effective settings.
func (a *app) settingsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "settings",
		Short: "Your tenant's settings as they apply (read-only; operators set them)",
		Args:  args(0, "no arguments"),
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			e, raw, err := c.OwnSettings(cmd.Context())
			if err != nil {
				return err
			}
			return a.printDoc(raw, func(w io.Writer) { printEffective(w, e) })
		}),
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func settingsLine(b bulkapi.SettingsBody) string {
	t := "s3link"
	if len(b.DeliveryTargets) > 0 {
		t += "," + strings.Join(b.DeliveryTargets, ",")
	}
	return fmt.Sprintf("large files %s, max rows %d, max bytes %d, targets %s, notify %s", onOff(b.LargeFiles), b.MaxRows, b.MaxBytes, t, contactLine(b.Notification))
}

// contactLine describes a notification contact (never a secret).
func contactLine(n *bulkapi.OperatorContact) string {
	if n == nil || (n.Email == "" && n.Webhook == "") {
		return "none"
	}
	var parts []string
	if n.Email != "" {
		parts = append(parts, n.Email)
	}
	if n.Webhook != "" {
		w := n.Webhook
		if n.WebhookSecretSet {
			w += " (signed)"
		}
		parts = append(parts, w)
	}
	return strings.Join(parts, ", ")
}

func printEffective(w io.Writer, e bulkapi.EffectiveSettings) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Large files:\t%s\n", onOff(e.LargeFiles))
	fmt.Fprintf(tw, "Rows per file:\t%d\n", e.MaxRows)
	fmt.Fprintf(tw, "Bytes per file:\t%d\n", e.MaxBytes)
	fmt.Fprintf(tw, "Delivery targets:\t%s\n", strings.Join(e.DeliveryTargets, ", "))
	tw.Flush()
}

func printTenantSettings(w io.Writer, s bulkapi.TenantSettings) {
	fmt.Fprintf(w, "Tenant %s, version %d", s.Tenant, s.Version)
	if s.UpdatedAt != nil {
		fmt.Fprintf(w, ", changed %s by %s", s.UpdatedAt.Format("2006-01-02 15:04:05Z"), s.UpdatedBy)
	}
	fmt.Fprintln(w)
	printEffective(w, s.Effective)
	fmt.Fprintf(w, "Notification contact: %s\n", contactLine(s.Notification))
}
