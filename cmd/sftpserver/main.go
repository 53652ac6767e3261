// Command sftpserver runs the local stack's SFTP server
// (shared/dev/sftpserver) on 127.0.0.1: the delivery target that local
// exports and tests upload to.
//
//	sftpserver -addr 127.0.0.1:2222 -root .tools/run/sftp \
//	  -host-key .tools/run/sftp-host-key \
//	  -password-user demo=demo-sftp-password \
//	  -client-key .tools/run/sftp-client-key -key-user demo-key \
//	  -quota full=4096 -password-user full=demo-sftp-password
//
// The host key's authorized_keys line is written to <host-key>.pub (pin it
// in a target); -client-key makes a client key pair whose public half logs
// in every -key-user.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/ccbulk/bulkops/shared/applog"
	"github.com/ccbulk/bulkops/shared/dev/sftpserver"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sftpserver:", err)
		os.Exit(1)
	}
}

func run() error {
	port := os.Getenv("BULKOPS_SFTP_PORT")
	if port == "" {
		port = "2222"
	}
	addr := flag.String("addr", "127.0.0.1:"+port, "listen address (loopback only; default port from BULKOPS_SFTP_PORT)")
	root := flag.String("root", ".tools/run/sftp", "folder holding one home folder per user")
	hostKey := flag.String("host-key", ".tools/run/sftp-host-key", "the host key (created if missing; its .pub beside it)")
	clientKey := flag.String("client-key", "", "a client key pair for the -key-user users (created if missing; its .pub beside it)")
	var pwUsers, keyUsers, quotas list
	flag.Var(&pwUsers, "password-user", "name=password of a user who logs in with a password (repeatable)")
	flag.Var(&keyUsers, "key-user", "name of a user who logs in with -client-key (repeatable)")
	flag.Var(&quotas, "quota", "name=bytes: the most a user's files may take (repeatable); writes past it fail with \"no space left on device\"")
	flag.Parse()

	users := map[string]*sftpserver.User{}
	user := func(name string) *sftpserver.User {
		if users[name] == nil {
			users[name] = &sftpserver.User{Name: name}
		}
		return users[name]
	}
	for _, kv := range pwUsers {
		name, pw, ok := strings.Cut(kv, "=")
		if !ok || name == "" || pw == "" {
			return fmt.Errorf("-password-user %q: want name=password", name)
		}
		user(name).Password = pw
	}
	if len(keyUsers) > 0 {
		if *clientKey == "" {
			return fmt.Errorf("-key-user needs -client-key")
		}
		signer, err := sftpserver.LoadOrCreateClientKey(*clientKey)
		if err != nil {
			return err
		}
		for _, name := range keyUsers {
			u := user(name)
			u.AuthorizedKeys = append(u.AuthorizedKeys, signer.PublicKey())
		}
	}
	for _, kv := range quotas {
		name, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || name == "" {
			return fmt.Errorf("-quota %q: want name=bytes", kv)
		}
		user(name).QuotaBytes = n
	}
	cfg := sftpserver.Config{Addr: *addr, Root: *root, HostKeyFile: *hostKey, Log: applog.New(os.Stderr, slog.LevelInfo)}
	for _, u := range users {
		cfg.Users = append(cfg.Users, *u)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return sftpserver.Serve(ctx, cfg)
}
