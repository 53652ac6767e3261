package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ccbulk/bulkops/shared/apiclient"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/delivery"
)

// targetsCommand is `bulkops targets`: delivery targets (an SFTP server,
// the tenant's bucket) that exports and schedules name with --target.
func (a *app) targetsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "targets", Short: "Delivery targets: SFTP servers and buckets exports are delivered to"}
	withID := func(use, short string, f func(cmd *cobra.Command, c *apiclient.Client, id string) error) *cobra.Command {
		return &cobra.Command{Use: use + " ID", Short: short, Args: args(1, "one target ID"),
			RunE: a.act(func(cmd *cobra.Command, args []string) error {
				c, err := a.apiClient(cmd)
				if err != nil {
					return err
				}
				return f(cmd, c, args[0])
			})}
	}
	show := func(t apiclient.Target) error {
		return a.printDoc(t.Raw, func(w io.Writer) { printTargets(w, []bulkapi.Target{t.Target}, true) })
	}

	var cursor string
	var all bool
	list := &cobra.Command{Use: "list", Short: "List the delivery targets", Args: args(0, "no arguments"),
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			return a.pages(cmd, "targets", cursor, all, "bulkops targets list", func(cur string) ([]byte, string, func(io.Writer, bool), error) {
				p, err := c.TargetsPage(cmd.Context(), cur)
				return p.Raw, p.NextCursor, func(w io.Writer, header bool) { printTargets(w, p.Targets, header) }, err
			})
		})}
	list.Flags().StringVar(&cursor, "cursor", "", "start at this page (the nextCursor of the page before)")
	list.Flags().BoolVar(&all, "all", false, "every page")

	showCmd := withID("show", "Show one target", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		t, err := c.Target(cmd.Context(), id)
		if err != nil {
			return err
		}
		return show(t)
	})

	var f struct {
		name, kind, host, user, folder, hostKey, hostKeyFile, passwordEnv, keyFile, passphraseEnv string
		bucket, prefix, region, role                                                              string
		port                                                                                      int
	}
	createCmd := &cobra.Command{Use: "create --name N --kind sftp|s3bucket [flags]", Short: "Create a delivery target",
		Long: `Create a delivery target. An SFTP target pins the server's host key now
(--host-key "ssh-ed25519 AAAA..." or --host-key-file, e.g. the output of
ssh-keyscan -t ed25519 HOST) and takes its credential once, from the
environment variable --password-env names or from --private-key-file (with
--passphrase-env): it is stored in Secrets Manager and never shown again.
A bucket target names the tenant's bucket and the role the service assumes
(external ID: your tenant ID).`,
		Example: `  SFTP_PASSWORD=... bulkops targets create --name HQ --kind sftp --host sftp.example.com --user exports \
    --folder /in --host-key-file hq.pub --password-env SFTP_PASSWORD
  bulkops targets create --name lake --kind s3bucket --bucket acme-exports --prefix bulkops/ \
    --region eu-central-1 --role-arn arn:aws:iam::123456789012:role/bulkops-delivery`,
		Args: args(0, "no arguments"),
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			if f.name == "" {
				return usageErr("--name is required")
			}
			b := bulkapi.TargetRequest{Name: f.name, Kind: delivery.Kind(f.kind)}
			switch b.Kind {
			case delivery.KindSFTP:
				s := &bulkapi.SFTPRequest{Host: f.host, Port: f.port, User: f.user, Folder: f.folder, HostKey: f.hostKey}
				if f.hostKeyFile != "" {
					raw, err := os.ReadFile(f.hostKeyFile)
					if err != nil {
						return err
					}
					s.HostKey = string(raw)
				}
				if f.passwordEnv != "" {
					if s.Password = a.getenv(f.passwordEnv); s.Password == "" {
						return usageErr("--password-env %s: the variable is empty or unset", f.passwordEnv)
					}
				}
				if f.keyFile != "" {
					raw, err := os.ReadFile(f.keyFile)
					if err != nil {
						return err
					}
					s.PrivateKey = string(raw)
					if f.passphraseEnv != "" {
						s.Passphrase = a.getenv(f.passphraseEnv)
					}
				}
				b.SFTP = s
			case delivery.KindS3Bucket:
				b.Bucket = &delivery.Bucket{Bucket: f.bucket, Prefix: f.prefix, Region: f.region, RoleARN: f.role}
			case delivery.KindS3Link:
			default:
				return usageErr("--kind %q: sftp, s3bucket or s3link", f.kind)
			}
			c, err := a.apiClient(cmd)
			if err != nil {
				return err
			}
			t, err := c.CreateTarget(cmd.Context(), b)
			if err != nil {
				return err
			}
			a.note("target %s created; try it with: bulkops targets test %s", t.ID, t.ID)
			return show(t)
		})}
	fl := createCmd.Flags()
	fl.StringVar(&f.name, "name", "", "the target's name")
	fl.StringVar(&f.kind, "kind", "sftp", "sftp, s3bucket or s3link")
	fl.StringVar(&f.host, "host", "", "sftp: server host name or address")
	fl.IntVar(&f.port, "port", 0, "sftp: port (default 22)")
	fl.StringVar(&f.user, "user", "", "sftp: user name")
	fl.StringVar(&f.folder, "folder", "", "sftp: remote folder (default the login folder)")
	fl.StringVar(&f.hostKey, "host-key", "", "sftp: the server's public host key, pinned")
	fl.StringVar(&f.hostKeyFile, "host-key-file", "", "sftp: a file with the host key (.pub or ssh-keyscan line)")
	fl.StringVar(&f.passwordEnv, "password-env", "", "sftp: the environment variable holding the password")
	fl.StringVar(&f.keyFile, "private-key-file", "", "sftp: the private key file (PEM)")
	fl.StringVar(&f.passphraseEnv, "passphrase-env", "", "sftp: the environment variable holding the key's passphrase")
	fl.StringVar(&f.bucket, "bucket", "", "s3bucket: the tenant's bucket")
	fl.StringVar(&f.prefix, "prefix", "", "s3bucket: key prefix")
	fl.StringVar(&f.region, "region", "", "s3bucket: the bucket's region")
	fl.StringVar(&f.role, "role-arn", "", "s3bucket: the role the service assumes")

	var u struct {
		name, host, user, folder, hostKey, hostKeyFile, passwordEnv, keyFile, passphraseEnv, bucket, prefix, region, role string
		port                                                                                                              int
	}
	updateCmd := withID("update", "Change a target's settings or rotate its credential (only the flags given)", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		fs := cmd.Flags()
		var b bulkapi.TargetUpdate
		str := func(flag string, v string) *string {
			if fs.Changed(flag) {
				return &v
			}
			return nil
		}
		b.Name = str("name", u.name)
		sftp := bulkapi.SFTPUpdate{Host: str("host", u.host), User: str("user", u.user), Folder: str("folder", u.folder), HostKey: str("host-key", u.hostKey)}
		if fs.Changed("port") {
			sftp.Port = &u.port
		}
		if u.hostKeyFile != "" {
			raw, err := os.ReadFile(u.hostKeyFile)
			if err != nil {
				return err
			}
			k := string(raw)
			sftp.HostKey = &k
		}
		if u.passwordEnv != "" {
			if sftp.Password = a.getenv(u.passwordEnv); sftp.Password == "" {
				return usageErr("--password-env %s: the variable is empty or unset", u.passwordEnv)
			}
		}
		if u.keyFile != "" {
			raw, err := os.ReadFile(u.keyFile)
			if err != nil {
				return err
			}
			sftp.PrivateKey = string(raw)
			if u.passphraseEnv != "" {
				sftp.Passphrase = a.getenv(u.passphraseEnv)
			}
		}
		if sftp != (bulkapi.SFTPUpdate{}) {
			b.SFTP = &sftp
		}
		bk := bulkapi.BucketUpdate{Bucket: str("bucket", u.bucket), Prefix: str("prefix", u.prefix), Region: str("region", u.region), RoleARN: str("role-arn", u.role)}
		if bk != (bulkapi.BucketUpdate{}) {
			b.Bucket = &bk
		}
		if b.Name == nil && b.SFTP == nil && b.Bucket == nil {
			return usageErr("nothing to change: give --name, an sftp flag (--host, --port, --user, --folder, --host-key[-file], --password-env, --private-key-file) or a bucket flag")
		}
		t, err := c.UpdateTarget(cmd.Context(), id, b)
		if err != nil {
			return err
		}
		if b.SFTP != nil && (b.SFTP.Password != "" || b.SFTP.PrivateKey != "") {
			a.note("target %s: credential replaced (a new version of its secret); try it with: bulkops targets test %s", t.ID, t.ID)
		}
		return show(t)
	})
	ul := updateCmd.Flags()
	ul.StringVar(&u.name, "name", "", "a new name")
	ul.StringVar(&u.host, "host", "", "sftp: server host name or address")
	ul.IntVar(&u.port, "port", 0, "sftp: port (0: 22)")
	ul.StringVar(&u.user, "user", "", "sftp: user name")
	ul.StringVar(&u.folder, "folder", "", "sftp: remote folder (empty: the login folder)")
	ul.StringVar(&u.hostKey, "host-key", "", "sftp: a new host key to pin")
	ul.StringVar(&u.hostKeyFile, "host-key-file", "", "sftp: a file with a new host key to pin")
	ul.StringVar(&u.passwordEnv, "password-env", "", "sftp: rotate to the password in this environment variable")
	ul.StringVar(&u.keyFile, "private-key-file", "", "sftp: rotate to this private key file (PEM)")
	ul.StringVar(&u.passphraseEnv, "passphrase-env", "", "sftp: the environment variable holding the new key's passphrase")
	ul.StringVar(&u.bucket, "bucket", "", "s3bucket: the tenant's bucket")
	ul.StringVar(&u.prefix, "prefix", "", "s3bucket: key prefix")
	ul.StringVar(&u.region, "region", "", "s3bucket: the bucket's region")
	ul.StringVar(&u.role, "role-arn", "", "s3bucket: the role the service assumes")

	testCmd := withID("test", "Try a target: reached, authenticated, folder writable, or what failed", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		r, err := c.TestTarget(cmd.Context(), id)
		if err != nil {
			return err
		}
		if err := a.printDoc(r.Raw, func(w io.Writer) { fmt.Fprintln(w, r.Sentence) }); err != nil {
			return err
		}
		if !r.OK {
			return &exitError{code: exitGeneric, err: fmt.Errorf("target %s failed its test at %s", id, r.Phase)}
		}
		return nil
	})
	deleteCmd := withID("delete", "Delete a target and its stored credential", func(cmd *cobra.Command, c *apiclient.Client, id string) error {
		if err := c.DeleteTarget(cmd.Context(), id); err != nil {
			return err
		}
		if a.jsonOut() {
			return writeJSONValue(a.out, map[string]any{"id": id, "deleted": true})
		}
		fmt.Fprintf(a.out, "target %s deleted\n", id)
		return nil
	})
	cmd.AddCommand(list, showCmd, createCmd, updateCmd, testCmd, deleteCmd)
	return cmd
}

// printTargets prints targets as a table.
func printTargets(w io.Writer, list []bulkapi.Target, header bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "ID\tNAME\tKIND\tWHERE")
	}
	for _, t := range list {
		where := ""
		switch {
		case t.SFTP != nil:
			where = "sftp://" + t.SFTP.User + "@" + t.SFTP.Addr() + "/" + strings.TrimPrefix(t.SFTP.Folder, "/") + " (" + t.SFTP.HostKeyFingerprint + ")"
		case t.Bucket != nil:
			where = "s3://" + t.Bucket.Bucket + "/" + t.Bucket.Prefix + " via " + t.Bucket.RoleARN
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, t.KindOrDefault(), where)
	}
	_ = tw.Flush()
}
