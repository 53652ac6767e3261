package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
)

// fieldsKey is a valid ed25519 host key (the pointers test needs one that
// parses, so only the fields it breaks are refused).
const fieldsKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

// TestTargetFieldPointers: a target's validation error lists every wrong
// field in errors[] with its JSON pointer in the request body and its part
// of the message (field, value, rule), in the message's order; the problem
// document carries them all.
func TestTargetFieldPointers(t *testing.T) {
	sftp := func(f func(*delivery.SFTP)) delivery.Target {
		s := &delivery.SFTP{Host: "sftp.acme.example", Port: 22, User: "exports", HostKey: fieldsKey, Auth: delivery.AuthPassword}
		f(s)
		return delivery.Target{Name: "HQ", Kind: delivery.KindSFTP, SFTP: s}
	}
	bucket := func(f func(*delivery.Bucket)) delivery.Target {
		b := &delivery.Bucket{Bucket: "acme-exports", Region: "eu-central-1", RoleARN: "arn:aws:iam::123456789012:role/bulkops-delivery"}
		f(b)
		return delivery.Target{Name: "Lake", Kind: delivery.KindS3Bucket, Bucket: b}
	}
	for _, c := range []struct {
		name     string
		target   delivery.Target
		stored   bool
		pointers []string
		detail   string // in the first entry's detail
	}{
		{"valid", sftp(func(*delivery.SFTP) {}), false, nil, ""},
		{"no host", sftp(func(s *delivery.SFTP) { s.Host = "" }), false, []string{"/sftp/host"}, "sftp.host: required"},
		{"bad port and user", sftp(func(s *delivery.SFTP) { s.Port, s.User = 70000, "a b" }), false, []string{"/sftp/port", "/sftp/user"}, `sftp.port "70000": between 1 and 65535`},
		{"not a host key", sftp(func(s *delivery.SFTP) { s.HostKey = "ssh-nope AAAA" }), false, []string{"/sftp/hostKey"}, `sftp.hostKey "ssh-nope AAAA"`},
		{"another fingerprint", sftp(func(s *delivery.SFTP) { s.HostKeyFingerprint = "SHA256:x" }), false, []string{"/sftp/hostKeyFingerprint"}, "does not match the host key"},
		{"folder with ..", sftp(func(s *delivery.SFTP) { s.Folder = "a/../b" }), false, []string{"/sftp/folder"}, "'..'"},
		{"stored without its secret", sftp(func(*delivery.SFTP) {}), true, []string{"/sftp/credentialArn"}, "sftp.credentialArn: required"},
		{"no name, no sftp", delivery.Target{Kind: delivery.KindSFTP}, false, []string{"/name", "/sftp"}, "name: required"},
		{"bad kind", delivery.Target{Name: "x", Kind: "ftp"}, false, []string{"/kind"}, `kind "ftp": must be one of`},
		{"bucket fields", bucket(func(b *delivery.Bucket) { b.Bucket, b.Region, b.RoleARN = "Bad_Bucket", "mars", "role" }), false,
			[]string{"/bucket/bucket", "/bucket/region", "/bucket/roleArn"}, `bucket.bucket "Bad_Bucket"`},
		{"bucket prefix", bucket(func(b *delivery.Bucket) { b.Prefix = "/abs" }), false, []string{"/bucket/prefix"}, "not starting with '/'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := targetInvalid(c.target, c.stored)
			if c.pointers == nil {
				if err != nil {
					t.Fatalf("valid target refused: %v", err)
				}
				return
			}
			if bulkerr.KindOf(err) != bulkerr.Invalid || !strings.HasPrefix(bulkerr.Message(err), "invalid target: ") {
				t.Fatalf("error %v", err)
			}
			p := problemOf(t, err)
			var got []string
			for _, e := range p.Errors {
				got = append(got, e.Pointer)
				if !strings.Contains(p.Detail, e.Detail) {
					t.Errorf("entry %q is not part of the detail %q", e.Detail, p.Detail)
				}
			}
			if !reflect.DeepEqual(got, c.pointers) {
				t.Fatalf("pointers %q, want %q (%s)", got, c.pointers, p.Detail)
			}
			if !strings.Contains(p.Errors[0].Detail, c.detail) {
				t.Errorf("first entry %q, want it to say %q", p.Errors[0].Detail, c.detail)
			}
		})
	}
}

// TestCredentialPointer: a refused credential points at the field to fix.
func TestCredentialPointer(t *testing.T) {
	const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----"
	for _, c := range []struct {
		name string
		cred delivery.Credential
		auth delivery.AuthMethod
		want string
	}{
		{"none", delivery.Credential{}, "", "/sftp/password"},
		{"none, auth private-key", delivery.Credential{}, delivery.AuthPrivateKey, "/sftp/privateKey"},
		{"both", delivery.Credential{Password: "pw", PrivateKey: key}, "", "/sftp/privateKey"},
		{"password too long", delivery.Credential{Password: strings.Repeat("p", delivery.MaxPasswordLen+1)}, "", "/sftp/password"},
		{"password with a line break", delivery.Credential{Password: "a\nb", Passphrase: "x"}, "", "/sftp/password"},
		{"passphrase without a key", delivery.Credential{Password: "pw", Passphrase: "x"}, "", "/sftp/passphrase"},
		{"not a PEM key", delivery.Credential{PrivateKey: "ssh-ed25519 AAAA"}, "", "/sftp/privateKey"},
		{"key too long", delivery.Credential{PrivateKey: strings.Repeat("k", delivery.MaxPrivateKeyLen+1)}, "", "/sftp/privateKey"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.cred.Validate() == nil {
				t.Fatal("the credential is valid; the case tests nothing")
			}
			if got := credentialPointer(c.cred, c.auth); got != c.want {
				t.Errorf("pointer %q, want %q", got, c.want)
			}
		})
	}
}

// TestInvalidAtFields: only Invalid errors with fields are marked; the
// marked error keeps its kind and message.
func TestInvalidAtFields(t *testing.T) {
	fields := []FieldError{{Pointer: "/a", Detail: "a: required"}}
	if err := invalidAtFields(nil, fields); err != nil {
		t.Errorf("nil: %v", err)
	}
	nf := bulkerr.New(bulkerr.NotFound, "gone")
	if err := invalidAtFields(nf, fields); !errors.Is(err, nf) || len(problemOf(t, err).Errors) != 0 {
		t.Errorf("a NotFound error gained fields: %v", err)
	}
	inv := bulkerr.New(bulkerr.Invalid, "invalid: a: required")
	if err := invalidAtFields(inv, nil); len(problemOf(t, err).Errors) != 0 {
		t.Errorf("no fields: %v", err)
	}
	err := invalidAtFields(inv, fields)
	if bulkerr.KindOf(err) != bulkerr.Invalid || bulkerr.Message(err) != "invalid: a: required" || !reflect.DeepEqual(problemOf(t, err).Errors, fields) {
		t.Errorf("marked: %v %+v", err, problemOf(t, err))
	}
}

// problemOf is the problem document the API writes for err.
func problemOf(t *testing.T, err error) Problem {
	t.Helper()
	a := &API{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	w := httptest.NewRecorder()
	a.problem(w, httptest.NewRequest("POST", "/v1/targets", nil), err)
	var p Problem
	if e := json.Unmarshal(w.Body.Bytes(), &p); e != nil {
		t.Fatalf("problem document %s: %v", w.Body.Bytes(), e)
	}
	return p
}
