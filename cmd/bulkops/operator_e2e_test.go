package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIOperatorSettings: against the dev server, a tenant
// administrator's token cannot reach the operator commands (exit code 6);
// an operator's (bulkops token --operator) sets the tenant's settings,
// only the flags given, refused over the maximum with the field and the
// maximum; the tenant administrator sees them (bulkops settings); the
// audit lists the change; the upload limit follows the operator's byte
// limit.
func TestCLIOperatorSettings(t *testing.T) {
	r := newE2E(t, "cli-op-")
	cli := r.cli
	admin := r.token(t, "")
	opTok, _, err := cli("token", "--operator", "--user", "ops@provider.example", "--key", filepath.Join(r.st.Root, ".tools", "run", "jwt-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	op := strings.TrimSpace(opTok)

	if _, _, err := cli("operator", "settings", "get", r.tenant, "--token", admin); exitCode(err) != exitAuth {
		t.Fatalf("a tenant admin: %v (exit %d), want exit %d", err, exitCode(err), exitAuth)
	}
	out, info, err := cli("operator", "settings", "set", r.tenant, "--large-files", "on", "--max-rows", "20000", "--delivery-targets", "sftp", "--token", op)
	if err != nil || !strings.Contains(out, "version 1") || !strings.Contains(out, "20000") || !strings.Contains(out, "s3link, sftp") || !strings.Contains(out, "ops@provider.example") {
		t.Fatalf("set: %v\n%s\n%s", err, out, info)
	}
	// Only the flags given change.
	if out, _, err := cli("operator", "settings", "set", r.tenant, "--max-bytes", "1000000", "--token", op); err != nil ||
		!strings.Contains(out, "version 2") || !strings.Contains(out, "20000") || !strings.Contains(out, "1000000") || !strings.Contains(out, "sftp") {
		t.Fatalf("set max bytes: %v\n%s", err, out)
	}
	if _, _, err := cli("operator", "settings", "set", r.tenant, "--max-rows", "2000000", "--token", op); err == nil ||
		!strings.Contains(err.Error(), "2000000") || !strings.Contains(err.Error(), "1000000") {
		t.Fatalf("over the maximum: %v", err)
	}
	if _, _, err := cli("operator", "settings", "set", r.tenant, "--token", op); exitCode(err) != exitUsage {
		t.Fatalf("nothing to set: %v", err)
	}
	if out, _, err := cli("settings", "--token", admin); err != nil || !strings.Contains(out, "Large files:       on") || !strings.Contains(out, "20000") {
		t.Fatalf("settings: %v\n%s", err, out)
	}
	if out, _, err := cli("operator", "settings", "audit", r.tenant, "--token", op); err != nil || strings.Count(out, "ops@provider.example") != 2 {
		t.Fatalf("audit: %v\n%s", err, out)
	}

	// The notification contact, its secret from the environment: never
	// printed, in the audit only as replaced.
	secret := "cli-op-webhook-secret-" + strings.Repeat("7e", 12)
	t.Setenv("BULKOPS_TEST_WEBHOOK_SECRET", secret)
	out, info, err = cli("operator", "settings", "set", r.tenant, "--email", "ops@"+r.tenant+".example", "--webhook", "https://hooks.example.com/"+r.tenant,
		"--webhook-secret-env", "BULKOPS_TEST_WEBHOOK_SECRET", "--token", op)
	if err != nil || !strings.Contains(out, "Notification contact: ops@"+r.tenant+".example, https://hooks.example.com/"+r.tenant+" (signed)") || strings.Contains(out+info, secret) {
		t.Fatalf("set the contact: %v\n%s\n%s", err, out, info)
	}
	if _, _, err := cli("operator", "settings", "set", r.tenant, "--webhook", "https://hooks2.example.com/x", "--token", op); err != nil {
		t.Fatalf("a new URL keeps the secret: %v", err)
	}
	if out, _, err := cli("operator", "settings", "audit", r.tenant, "-o", "json", "--token", op); err != nil || !strings.Contains(strings.ReplaceAll(out, " ", ""), `"webhookSecretReplaced":true`) || strings.Contains(out, secret) {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	if _, _, err := cli("operator", "settings", "set", r.tenant, "--webhook-secret-env", "BULKOPS_TEST_UNSET_VAR", "--token", op); exitCode(err) != exitUsage {
		t.Fatalf("an unset secret variable: %v", err)
	}
	if _, _, err := cli("operator", "settings", "set", r.tenant, "--email", "", "--webhook", "", "--token", op); err != nil {
		t.Fatalf("contact off: %v", err)
	}

	// The byte limit an operator set is the upload's limit.
	if _, _, err := cli("operator", "settings", "set", r.tenant, "--large-files", "off", "--max-rows", "0", "--max-bytes", "1000", "--token", op); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("Name,Description,Type\n")
	for range 60 {
		csv.WriteString("Code,some description text,IDLE_CODE\n")
	}
	path := filepath.Join(t.TempDir(), "codes.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cli("import", path, "--type", "work-type", "--token", admin); err == nil || !strings.Contains(err.Error(), "the limit is 1000 B") {
		t.Fatalf("import over the operator's byte limit: %v", err)
	}
}
