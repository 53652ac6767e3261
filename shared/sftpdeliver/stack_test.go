package sftpdeliver

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/secretstore"
)

// TestLocalStack delivers to the stack's own SFTP server (cmd/sftpserver,
// started by infra/local/stack.sh on BULKOPS_SFTP_PORT) with credentials in
// the stack's Secrets Manager (AWS_ENDPOINT_URL_SECRETS_MANAGER: the dev
// server's, or LocalStack's; stack.sh runs the SFTP server on both
// backends): the path a local export takes.
func TestLocalStack(t *testing.T) {
	st := localtest.Require(t)
	addr := os.Getenv("BULKOPS_SFTP_ADDR")
	if addr == "" || os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER") == "" {
		t.Fatal("BULKOPS_SFTP_ADDR or AWS_ENDPOINT_URL_SECRETS_MANAGER is not set; source infra/local/env.sh")
	}
	run := filepath.Join(st.Root, ".tools", "run")
	hostKey, err := os.ReadFile(filepath.Join(run, "sftp-host-key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	clientKey, err := os.ReadFile(filepath.Join(run, "sftp-client-key"))
	if err != nil {
		t.Fatal(err)
	}
	host, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	ctx := context.Background()
	store := &secretstore.Store{API: secretsmanager.NewFromConfig(st.Config), Prefix: "bulkops-test/" + strings.TrimSuffix(localtest.UniquePrefix(t), "-") + "/", Force: true}
	d := &Deliverer{Credentials: store}
	tenant := "acme"
	for i, c := range []struct {
		user string
		cred delivery.Credential
	}{
		{"demo", delivery.Credential{Password: "demo-sftp-password"}},
		{"demo-key", delivery.Credential{PrivateKey: string(clientKey)}},
	} {
		id := "stack" + strconv.Itoa(i)
		arn, err := store.Create(ctx, tenant, id, c.cred)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Delete(context.Background(), tenant, arn) })
		tg := delivery.Target{ID: id, Tenant: tenant, Name: "stack", Kind: delivery.KindSFTP, SFTP: &delivery.SFTP{
			Host: host, Port: port, User: c.user, HostKey: strings.TrimSpace(string(hostKey)), Auth: c.cred.Method(), CredentialARN: arn}}
		if err := tg.ValidateStored(); err != nil {
			t.Fatal(err)
		}
		if res := d.Test(ctx, tg); !res.OK {
			t.Fatalf("%s: Test = %+v", c.user, res)
		}
		name := strings.TrimSuffix(localtest.UniquePrefix(t), "-") + ".csv"
		rc, err := d.Deliver(ctx, tg, name, strings.NewReader("Name\nQueue A\n"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(run, "sftp", c.user, name)
		got, err := os.ReadFile(path)
		if err != nil || string(got) != "Name\nQueue A\n" {
			t.Errorf("%s: %s = %q, %v", c.user, path, got, err)
		}
		_ = os.Remove(path)
		if rc.Destination != "sftp://"+c.user+"@"+addr+"/~/"+name {
			t.Errorf("receipt %+v", rc)
		}
		tg.SFTP.Folder = "/denied"
		if res := d.Test(ctx, tg); res.Phase != delivery.PhaseFolder {
			t.Errorf("denied folder: %+v", res)
		}
	}
	// The stack's user "full" has a 64 KiB quota: a full disk.
	arn, err := store.Create(ctx, tenant, "full", delivery.Credential{Password: "demo-sftp-password"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Delete(context.Background(), tenant, arn) })
	tg := delivery.Target{ID: "full", Tenant: tenant, Name: "full", Kind: delivery.KindSFTP, SFTP: &delivery.SFTP{
		Host: host, Port: port, User: "full", HostKey: strings.TrimSpace(string(hostKey)), Auth: delivery.AuthPassword, CredentialARN: arn}}
	_, err = d.Deliver(ctx, tg, "big.zip", strings.NewReader(strings.Repeat("x", 70000)))
	if delivery.PhaseOf(err) != delivery.PhaseWrite || bulkerr.KindOf(err) != bulkerr.Transient {
		t.Errorf("full disk: %v", err)
	}
}
