// Package deliverytest gives tests a delivery rig of real protocol
// servers on 127.0.0.1: an SFTP server (shared/dev/sftpserver) and the dev
// stack's Secrets Manager (devstack.SecretsManager over HTTP), with a
// credential store and the SFTP deliverer wired to them, as the functions
// wire them to AWS.
package deliverytest

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/crypto/ssh"

	"github.com/ccbulk/bulkops/shared/delivery"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/sftpserver"
	"github.com/ccbulk/bulkops/shared/secretstore"
	"github.com/ccbulk/bulkops/shared/sftpdeliver"
)

// Password is the SFTP users' password: a secret every test may grep for.
const Password = "deliverytest-sftp-password-3c9e1"

// Rig is the servers and what talks to them.
type Rig struct {
	SFTP    *sftpserver.Server
	Secrets *devstack.SecretsManager
	// Store keeps credentials in the rig's Secrets Manager.
	Store *secretstore.Store
	// Deliver delivers to SFTP targets of the rig's server.
	Deliver delivery.ByKind
}

// New starts the rig: SFTP users "exports" (password Password) and
// "full" (the same password, a quota of quota bytes: a full disk).
func New(t testing.TB, log *slog.Logger, quota int64) *Rig {
	t.Helper()
	srv, err := sftpserver.Start(sftpserver.Config{Addr: "127.0.0.1:0", Root: t.TempDir(), Log: log,
		Users: []sftpserver.User{{Name: "exports", Password: Password}, {Name: "full", Password: Password, QuotaBytes: quota}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	sm := devstack.NewSecretsManager(log)
	mux := http.NewServeMux()
	mux.Handle("POST /secretsmanager", sm)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	client := secretsmanager.New(secretsmanager.Options{Region: devstack.Region, BaseEndpoint: aws.String(hs.URL + "/secretsmanager"),
		Credentials: credentials.NewStaticCredentialsProvider("local", "localsecret", "")})
	store := &secretstore.Store{API: client, Log: log, Force: true}
	return &Rig{SFTP: srv, Secrets: sm, Store: store,
		Deliver: delivery.ByKind{delivery.KindSFTP: &sftpdeliver.Deliverer{Credentials: store, Log: log}}}
}

// HostKey is the server's host key in authorized_keys form.
func (r *Rig) HostKey() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(r.SFTP.HostKey())))
}

// Addr is the server's host and port.
func (r *Rig) Addr() (string, int) {
	host, port, _ := net.SplitHostPort(r.SFTP.Addr())
	p, _ := strconv.Atoi(port)
	return host, p
}

// Target returns an SFTP target of tenant for the rig's user in folder,
// its credential stored in the rig's Secrets Manager.
func (r *Rig) Target(t testing.TB, tenant, id, user, folder string) delivery.Target {
	t.Helper()
	arn, err := r.Store.Create(context.Background(), tenant, id, delivery.Credential{Password: Password})
	if err != nil {
		t.Fatal(err)
	}
	host, port := r.Addr()
	tg := delivery.Target{ID: id, Tenant: tenant, Name: "rig " + user, Kind: delivery.KindSFTP, SFTP: &delivery.SFTP{
		Host: host, Port: port, User: user, Folder: folder, HostKey: r.HostKey(), Auth: delivery.AuthPassword, CredentialARN: arn}}
	if err := tg.ValidateStored(); err != nil {
		t.Fatal(err)
	}
	return tg
}
