package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLITargetsUpdate: against the running stack's API and its SFTP
// server (user demo), `bulkops targets update`: a target made with a wrong
// password fails `targets test` at authenticate; `targets update
// --password-env` rotates the password (a new version of the same secret)
// and `targets test` passes; a new folder the server denies fails at
// folder until it is set back; a bad field is refused with the field's
// JSON pointer (exit 1), another tenant's target is not found, nothing to
// change is a usage error; neither password is in any output.
func TestCLITargetsUpdate(t *testing.T) {
	r := newE2E(t, "cli-tg-")
	cli := r.cli
	addr := os.Getenv("BULKOPS_SFTP_ADDR")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("BULKOPS_SFTP_ADDR %q: source infra/local/env.sh (the stack's SFTP server): %v", addr, err)
	}
	keyFile := filepath.Join(r.st.Root, ".tools", "run", "sftp-host-key.pub")
	const right, wrong = "demo-sftp-password", "not-the-password-of-demo-5c1e"
	t.Setenv("BULKOPS_TEST_SFTP_WRONG", wrong)
	t.Setenv("BULKOPS_TEST_SFTP_RIGHT", right)
	admin := r.token(t, "")
	opTok, _, err := cli("token", "--operator", "--user", "ops@provider.example", "--key", filepath.Join(r.st.Root, ".tools", "run", "jwt-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var outputs []string
	run := func(args ...string) (string, error) {
		t.Helper()
		out, info, err := cli(args...)
		outputs = append(outputs, out, info)
		if err != nil {
			outputs = append(outputs, describe(err))
		}
		return out, err
	}
	if out, err := run("operator", "settings", "set", r.tenant, "--delivery-targets", "sftp", "--token", strings.TrimSpace(opTok)); err != nil {
		t.Fatalf("allow sftp: %v\n%s", err, out)
	}

	out, err := run("targets", "create", "--name", "HQ", "--kind", "sftp", "--host", host, "--port", port, "--user", "demo",
		"--host-key-file", keyFile, "--password-env", "BULKOPS_TEST_SFTP_WRONG", "-o", "json", "--token", admin)
	var tg struct {
		ID   string
		SFTP struct{ CredentialArn, Folder string }
	}
	if err != nil || json.Unmarshal([]byte(out), &tg) != nil || tg.ID == "" || tg.SFTP.CredentialArn == "" {
		t.Fatalf("create: %v\n%s", err, out)
	}
	test := func(wantOK bool, want string) {
		t.Helper()
		out, err := run("targets", "test", tg.ID, "--token", admin)
		if (err == nil) != wantOK || !strings.Contains(out, want) {
			t.Fatalf("targets test: %v (exit %d)\n%s\nwant ok %v saying %q", err, exitCode(err), out, wantOK, want)
		}
		if !wantOK && exitCode(err) != exitGeneric {
			t.Fatalf("a failed test: exit %d, want %d", exitCode(err), exitGeneric)
		}
	}
	test(false, "authenticate")

	// Rotation: the right password, a new version of the same secret.
	_, info, err := cli("targets", "update", tg.ID, "--password-env", "BULKOPS_TEST_SFTP_RIGHT", "-o", "json", "--token", admin)
	var got struct {
		ID   string
		SFTP struct{ CredentialArn, Auth, Folder string }
	}
	outputs = append(outputs, info)
	if err != nil || !strings.Contains(info, "credential replaced") {
		t.Fatalf("update --password-env: %v\n%s", err, info)
	}
	if out, err = run("targets", "show", tg.ID, "-o", "json", "--token", admin); err != nil || json.Unmarshal([]byte(out), &got) != nil ||
		got.SFTP.CredentialArn != tg.SFTP.CredentialArn || got.SFTP.Auth != "password" {
		t.Fatalf("after the rotation: %v\n%s", err, out)
	}
	test(true, "authenticated as demo")

	// A folder the server denies fails at folder; set back, it passes.
	if out, err := run("targets", "update", tg.ID, "--folder", "/denied", "--token", admin); err != nil || !strings.Contains(out, "/denied") {
		t.Fatalf("update --folder: %v\n%s", err, out)
	}
	test(false, "folder")
	if _, err := run("targets", "update", tg.ID, "--folder", "", "--name", "HQ (login folder)", "--token", admin); err != nil {
		t.Fatalf("update --folder '': %v", err)
	}
	test(true, "writable")

	// Refusals: a bad field with its pointer, another tenant's target, nothing to change.
	for _, c := range []struct {
		name string
		args []string
		exit int
		want []string
	}{
		{"a bad port", []string{"--port", "70000"}, exitGeneric, []string{`sftp.port "70000": between 1 and 65535`, "(400 INVALID_REQUEST)", "field /sftp/port: "}},
		{"a bad user and no name", []string{"--user", "a b", "--name", ""}, exitGeneric, []string{"field /name: name: required", `field /sftp/user: sftp.user "a b"`}},
		{"not a host key", []string{"--host-key", "ssh-nope AAAA"}, exitGeneric, []string{"field /sftp/hostKey: "}},
		{"a password with a line break", []string{"--password-env", "BULKOPS_TEST_SFTP_BAD"}, exitGeneric, []string{"line break", "field /sftp/password: "}},
		{"nothing to change", nil, exitUsage, []string{"nothing to change"}},
	} {
		t.Setenv("BULKOPS_TEST_SFTP_BAD", "two\nlines")
		_, err := run(append([]string{"targets", "update", tg.ID, "--token", admin}, c.args...)...)
		if exitCode(err) != c.exit {
			t.Errorf("%s: exit %d (%v), want %d", c.name, exitCode(err), err, c.exit)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(describe(err), w) {
				t.Errorf("%s: the error lacks %q:\n%s", c.name, w, describe(err))
			}
		}
	}
	other := newE2E(t, "cli-tg-other-")
	if _, err := run("targets", "update", tg.ID, "--name", "mine", "--token", other.token(t, "")); err == nil || !strings.Contains(describe(err), "404") {
		t.Errorf("another tenant's target: %v", err)
	}
	if out, err := run("targets", "show", tg.ID, "-o", "json", "--token", admin); err != nil || json.Unmarshal([]byte(out), &got) != nil || got.SFTP.Folder != "" {
		t.Fatalf("after the refusals: %v\n%s", err, out)
	}
	test(true, "writable")

	all := strings.Join(outputs, "\n")
	for _, pw := range []string{right, wrong} {
		if strings.Contains(all, pw) {
			t.Errorf("a password is in the CLI's output")
		}
	}
	if _, err := run("targets", "delete", tg.ID, "--token", admin); err != nil {
		t.Errorf("delete: %v", err)
	}
}
