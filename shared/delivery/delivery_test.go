package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

const testARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bulkops/targets/acme/t1-AbCdEf"

func sftpTarget(t *testing.T) Target {
	t.Helper()
	pub := testKeys(t)["ed25519"]
	return Target{ID: "t1", Tenant: "acme", Name: "HQ", Kind: KindSFTP, SFTP: &SFTP{
		Host: "sftp.example.com", User: "exports", Folder: "/in",
		HostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), HostKeyFingerprint: ssh.FingerprintSHA256(pub),
		Auth: AuthPassword, CredentialARN: testARN,
	}}
}

func TestValidate(t *testing.T) {
	good := sftpTarget(t)
	bucket := Target{ID: "t2", Tenant: "acme", Name: "lake", Kind: KindS3Bucket, Bucket: &Bucket{
		Bucket: "acme-exports", Prefix: "bulkops/", Region: "eu-central-1", RoleARN: "arn:aws:iam::123456789012:role/bulkops-delivery"}}
	tests := []struct {
		name   string
		change func(*Target)
		want   []string // substrings of the error; none: valid
	}{
		{"sftp", func(*Target) {}, nil},
		{"bucket", func(t *Target) { *t = bucket }, nil},
		{"link", func(t *Target) { *t = Target{Name: "link"} }, nil},
		{"no name", func(t *Target) { t.Name = " " }, []string{"name: required"}},
		{"bad kind", func(t *Target) { t.Kind = "ftp" }, []string{`kind "ftp": must be one of`}},
		{"link with settings", func(t *Target) { t.Kind = KindS3Link }, []string{"takes no sftp or bucket"}},
		{"sftp without settings", func(t *Target) { t.SFTP = nil }, []string{"sftp: required for kind sftp"}},
		{"bad host", func(t *Target) { t.SFTP.Host = "a b" }, []string{`sftp.host "a b": a DNS name`}},
		{"ip host", func(t *Target) { t.SFTP.Host = "10.1.2.3" }, nil},
		{"bad port", func(t *Target) { t.SFTP.Port = 70000 }, []string{`sftp.port "70000"`}},
		{"bad user", func(t *Target) { t.SFTP.User = "a;b" }, []string{`sftp.user "a;b"`}},
		{"dotdot folder", func(t *Target) { t.SFTP.Folder = "/in/../etc" }, []string{"sftp.folder", "'..'"}},
		{"no host key", func(t *Target) { t.SFTP.HostKey = "" }, []string{"sftp.hostKey: required"}},
		{"bad host key", func(t *Target) { t.SFTP.HostKey = "ssh-dss AAAA" }, []string{"sftp.hostKey", "DSA"}},
		{"fingerprint mismatch", func(t *Target) { t.SFTP.HostKeyFingerprint = "SHA256:nope" }, []string{"sftp.hostKeyFingerprint", "does not match"}},
		{"no auth", func(t *Target) { t.SFTP.Auth = "" }, []string{"sftp.auth: required"}},
		{"bad arn", func(t *Target) { t.SFTP.CredentialARN = "arn:aws:s3:::x" }, []string{"sftp.credentialArn"}},
		{"two errors", func(t *Target) { t.SFTP.User, t.SFTP.Host = "", "" }, []string{"sftp.host: required", "sftp.user: required"}},
		{"bad bucket", func(t *Target) { *t = bucket; t.Bucket.Bucket = "Bad_Bucket" }, []string{`bucket.bucket "Bad_Bucket"`}},
		{"bad region", func(t *Target) { *t = bucket; t.Bucket.Region = "mars" }, []string{`bucket.region "mars"`}},
		{"bad role", func(t *Target) { *t = bucket; t.Bucket.RoleARN = "role" }, []string{`bucket.roleArn "role"`}},
		{"bad prefix", func(t *Target) { *t = bucket; t.Bucket.Prefix = "/abs" }, []string{`bucket.prefix "/abs"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := good
			s := *good.SFTP
			tg.SFTP = &s
			b := *bucket.Bucket
			bucket.Bucket = &b
			tt.change(&tg)
			err := tg.ValidateStored()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("ValidateStored = %v", err)
				}
				return
			}
			if bulkerr.KindOf(err) != bulkerr.Invalid {
				t.Fatalf("err = %v (%s), want Invalid", err, bulkerr.KindOf(err))
			}
			for _, w := range tt.want {
				if !strings.Contains(bulkerr.Message(err), w) {
					t.Errorf("message %q does not contain %q", bulkerr.Message(err), w)
				}
			}
		})
	}
	noARN := sftpTarget(t)
	noARN.SFTP.CredentialARN = ""
	if err := noARN.Validate(); err != nil {
		t.Errorf("Validate before the secret is stored: %v", err)
	}
	if err := noARN.ValidateStored(); err == nil || !strings.Contains(err.Error(), "credentialArn: required") {
		t.Errorf("ValidateStored without ARN = %v", err)
	}
}

func TestValidateFileName(t *testing.T) {
	for name, ok := range map[string]bool{
		"acme-Agent.zip": true, "export 2026-12-01.zip": true, "": false, ".": false, "..": false,
		"a/b.zip": false, `a\b`: false, "a\nb": false, strings.Repeat("x", 256): false, "\xff": false,
	} {
		if err := ValidateFileName(name); (err == nil) != ok {
			t.Errorf("ValidateFileName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
	if JoinRemote("/in/", "a.zip") != "/in/a.zip" || JoinRemote("", "a.zip") != "a.zip" {
		t.Error("JoinRemote")
	}
}

const secretWord = "hunter2-very-secret"

func TestCredentialNeverFormats(t *testing.T) {
	c := Credential{Password: secretWord}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "cred", c, "ptr", &c)
	b, _ := json.Marshal(map[string]any{"c": c})
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), logs.String(), string(b)} {
		if strings.Contains(s, secretWord) {
			t.Errorf("secret leaked: %s", s)
		}
	}
	enc, err := EncodeCredential(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeCredential(enc)
	if err != nil || back != c {
		t.Fatalf("round trip: %v", err)
	}
}

func TestCredentialValidate(t *testing.T) {
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
	tests := []struct {
		c    Credential
		want string
	}{
		{Credential{Password: "pw"}, ""},
		{Credential{PrivateKey: key, Passphrase: "p"}, ""},
		{Credential{}, "required"},
		{Credential{Password: "a", PrivateKey: key}, "not both"},
		{Credential{Password: strings.Repeat("a", MaxPasswordLen+1)}, "longer than"},
		{Credential{Password: "a\nb"}, "line break"},
		{Credential{PrivateKey: "not a key"}, "not a PEM private key"},
		{Credential{PrivateKey: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}, "not a PEM private key"},
		{Credential{Password: "a", Passphrase: "b"}, "only for a private key"},
	}
	for _, tt := range tests {
		err := tt.c.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate = %v, want %q", err, tt.want)
		}
	}
	if _, err := DecodeCredential(`{"password":"` + secretWord + `","extra":1}`); err == nil || strings.Contains(err.Error(), secretWord) {
		t.Errorf("DecodeCredential unknown field: %v", err)
	}
	if _, err := DecodeCredential(secretWord); err == nil || strings.Contains(err.Error(), secretWord) {
		t.Errorf("DecodeCredential not JSON: %v", err)
	}
}

func TestPhaseErrors(t *testing.T) {
	err := fmt.Errorf("run: %w", Fail(PhaseWrite, bulkerr.Transient, errors.New("sftp: no space"), "writing %s failed: the server's disk is full", "a.zip"))
	if PhaseOf(err) != PhaseWrite || bulkerr.KindOf(err) != bulkerr.Transient {
		t.Fatalf("phase %s kind %s", PhaseOf(err), bulkerr.KindOf(err))
	}
	r := Failed(err)
	if r.OK || r.Phase != PhaseWrite || r.Sentence != "failed at write: writing a.zip failed: the server's disk is full" {
		t.Errorf("Failed = %+v", r)
	}
	if PhaseOf(errors.New("x")) != "" || Failed(errors.New("secret detail")).Sentence != "failed at config: internal error; the operation was not completed" {
		t.Error("a plain error has no phase and no details")
	}
}

type recordDeliverer struct{ kinds []Kind }

func (r *recordDeliverer) Deliver(_ context.Context, t Target, name string, _ io.Reader) (Receipt, error) {
	r.kinds = append(r.kinds, t.Kind)
	return Receipt{RemoteName: name}, nil
}
func (r *recordDeliverer) Test(_ context.Context, t Target) TestResult {
	r.kinds = append(r.kinds, t.Kind)
	return TestResult{OK: true}
}

func TestByKind(t *testing.T) {
	sftp := &recordDeliverer{}
	b := ByKind{KindSFTP: sftp}
	ctx := context.Background()
	if _, err := b.Deliver(ctx, Target{Kind: KindSFTP}, "a", nil); err != nil || len(sftp.kinds) != 1 {
		t.Fatalf("sftp: %v", err)
	}
	if _, err := b.Deliver(ctx, Target{ID: "x"}, "a", nil); bulkerr.KindOf(err) != bulkerr.Invalid {
		t.Errorf("s3link: %v", err)
	}
	if r := b.Test(ctx, Target{Kind: KindS3Bucket}); r.OK || r.Phase != PhaseConfig {
		t.Errorf("no deliverer: %+v", r)
	}
}
