package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ccbulk/bulkops/shared/dev/deliverytest"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// TestUpdateTarget: PATCH /v1/targets/{id} against a real SFTP server and
// the local Secrets Manager (answers validated against openapi.json): a
// target made with a wrong password fails its test at authenticate; a new
// password (a new version of the same secret, the old one AWSPREVIOUS)
// makes it pass; a new host key is pinned anew (its fingerprint computed)
// and refused by the test until it is set back; a new folder the server
// denies fails at folder; refusals (another kind's fields, nothing to
// change, a bad port, an unknown field, another tenant's target); neither
// password is in an answer, a log line or a table item.
func TestUpdateTarget(t *testing.T) {
	h := newAPIHarness(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	rig := deliverytest.New(t, log, 0)
	h.api.Credentials, h.api.Deliver, h.api.Log = rig.Store, rig.Deliver, log
	ctx := context.Background()
	host, port := rig.Addr()
	const wrong = "not-the-password-of-exports-81d2"
	var answers []string
	call := func(tenant, method, path string, body, out any) (int, []byte) {
		t.Helper()
		status, raw := h.call(tenant, method, path, body, out)
		answers = append(answers, string(raw))
		return status, raw
	}
	if err := h.db.PutTenantSettings(ctx, "acme", tenancy.Settings{DeliveryTargets: []string{tenancy.TargetSFTP}}); err != nil {
		t.Fatal(err)
	}
	var tg targetOut
	if status, raw := call("acme", "POST", "/v1/targets", map[string]any{"name": "HQ", "kind": "sftp", "sftp": map[string]any{
		"host": host, "port": port, "user": "exports", "hostKey": rig.HostKey(), "password": wrong}}, &tg); status != 201 {
		t.Fatalf("create: %d %s", status, raw)
	}
	path := "/v1/targets/" + tg.ID
	test := func(want bool, phase string) {
		t.Helper()
		var res testOut
		if status, raw := call("acme", "POST", path+"/test", nil, &res); status != 200 || res.OK != want || res.Phase != phase {
			t.Fatalf("test: %d %s, want ok %v phase %q", status, raw, want, phase)
		}
	}
	test(false, "authenticate")

	// Rotation: the right password, a new version of the same secret.
	var got targetOut
	if status, raw := call("acme", "PATCH", path, map[string]any{"sftp": map[string]any{"password": deliverytest.Password}}, &got); status != 200 ||
		got.SFTP == nil || got.SFTP.CredentialArn != tg.SFTP.CredentialArn || got.SFTP.Auth != "password" || got.SFTP.HostKey != tg.SFTP.HostKey {
		t.Fatalf("rotate: %d %s", status, raw)
	}
	test(true, "")
	prev, err := rig.Store.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(tg.SFTP.CredentialArn), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || !strings.Contains(aws.ToString(prev.SecretString), wrong) {
		t.Fatalf("AWSPREVIOUS after the rotation: %v", err)
	}

	// A new host key is pinned anew; the server's own key passes again.
	other := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	if status, raw := call("acme", "PATCH", path, map[string]any{"sftp": map[string]any{"hostKey": other}}, &got); status != 200 ||
		got.SFTP.HostKey != other || got.SFTP.HostKeyFingerprint == tg.SFTP.HostKeyFingerprint || !strings.HasPrefix(got.SFTP.HostKeyFingerprint, "SHA256:") {
		t.Fatalf("re-pin: %d %s", status, raw)
	}
	test(false, "host-key")
	if status, raw := call("acme", "PATCH", path, map[string]any{"name": "HQ (denied)", "sftp": map[string]any{"hostKey": "[127.0.0.1]:22 " + rig.HostKey(), "folder": "denied"}}, &got); status != 200 ||
		got.SFTP.HostKeyFingerprint != tg.SFTP.HostKeyFingerprint || got.SFTP.Folder != "denied" || got.Name != "HQ (denied)" {
		t.Fatalf("key back, denied folder: %d %s", status, raw)
	}
	test(false, "folder")
	if status, raw := call("acme", "PATCH", path, map[string]any{"sftp": map[string]any{"folder": ""}}, fresh(&got)); status != 200 || got.SFTP.Folder != "" {
		t.Fatalf("login folder: %d %s", status, raw)
	}
	test(true, "")

	// Refusals, with a pointer at the field to fix where there is one.
	for name, c := range map[string]struct {
		tenant   string
		body     any
		status   int
		text     string
		pointers string
	}{
		"another kind's fields": {"acme", map[string]any{"bucket": map[string]any{"region": "eu-west-1"}}, 400, "kind cannot change", "/bucket"},
		"nothing to change":     {"acme", map[string]any{}, 400, "nothing to change", ""},
		"a bad port":            {"acme", map[string]any{"sftp": map[string]any{"port": 70000}}, 400, `sftp.port \"70000\"`, "/sftp/port"},
		"a DSA key":             {"acme", map[string]any{"sftp": map[string]any{"hostKey": "ssh-dss AAAAB3NzaC1kc3M="}}, 400, "sftp.hostKey", "/sftp/hostKey"},
		"no name, a bad user":   {"acme", map[string]any{"name": "", "sftp": map[string]any{"user": "a b"}}, 400, "name: required", "/name /sftp/user"},
		"a bad password":        {"acme", map[string]any{"sftp": map[string]any{"password": "two\nlines"}}, 400, "line break", "/sftp/password"},
		"an unknown field":      {"acme", map[string]any{"sftp": map[string]any{"auth": "password"}}, 400, "auth", "/auth"}, // decodeBody names the unknown field, not its path
		"another tenant's":      {"other", map[string]any{"name": "mine"}, 404, "", "-"},
	} {
		status, raw := call(c.tenant, "PATCH", path, c.body, nil)
		if status != c.status || !strings.Contains(string(raw), c.text) {
			t.Errorf("%s: %d %s, want %d saying %q", name, status, raw, c.status, c.text)
			continue
		}
		if c.pointers == "-" {
			continue
		}
		p := problem(t, status, raw, 400, "INVALID_REQUEST")
		var got []string
		for _, e := range p.Errors {
			got = append(got, e.Pointer)
		}
		if len(got) == 0 || strings.Join(got, " ") != c.pointers {
			t.Errorf("%s: pointers %q, want %q: %s", name, got, c.pointers, raw)
		}
	}
	if status, raw := call("acme", "GET", path, nil, &got); status != 200 || got.Name != "HQ (denied)" || got.SFTP.Port != port {
		t.Fatalf("after the refusals: %d %s", status, raw)
	}

	// Neither password is in an answer, a log line or a table item.
	for _, table := range []string{h.st.Ref("ControlTable"), h.st.Ref("JobsTable")} {
		out, err := h.st.Clients.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(out.Items)
		answers = append(answers, string(raw))
	}
	all := strings.Join(answers, "\n") + logs.String()
	for _, pw := range []string{wrong, deliverytest.Password} {
		if strings.Contains(all, pw) {
			t.Errorf("a password is in an answer, a log line or a table item")
		}
	}
	if !strings.Contains(logs.String(), `"changed":"sftp.credential"`) {
		t.Errorf("no log line names the rotation:\n%s", logs.String())
	}
}
