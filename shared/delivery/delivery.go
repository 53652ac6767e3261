// Package delivery is the domain of delivery targets: where a tenant's
// export files go once they are built. A target is one of three kinds:
//
//   - s3link (the default): the file stays in the service's bucket behind
//     a short-lived download link, as every export did before targets;
//   - sftp: the tenant's SFTP server, with the server's host key pinned when
//     the target is created and the credential (a password or a private key)
//     kept in AWS Secrets Manager, referenced here by its ARN only;
//   - s3bucket: the tenant's own bucket, written through a role the tenant
//     lets the service assume (the external ID is the tenant's ID).
//
// The package links no AWS SDK: the adapters (shared/sftpdeliver,
// shared/s3deliver, shared/secretstore) implement its consumer-side
// interfaces. Every failure of a delivery names its Phase (connect,
// host-key, authenticate, folder, write, rename, ...), so a failed run can
// tell the tenant where it failed.
package delivery

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Kind is what a target delivers to.
type Kind string

// The kinds of target. Their values are part of the API.
const (
	// KindS3Link leaves the file in the service's bucket behind a link.
	KindS3Link Kind = "s3link"
	// KindSFTP uploads the file to the tenant's SFTP server.
	KindSFTP Kind = "sftp"
	// KindS3Bucket puts the file into the tenant's own S3 bucket.
	KindS3Bucket Kind = "s3bucket"
)

// Kinds lists every kind, the default first.
func Kinds() []Kind { return []Kind{KindS3Link, KindSFTP, KindS3Bucket} }

// Target is one delivery target of a tenant.
type Target struct {
	ID     string `json:"id"`
	Tenant string `json:"-"`
	// Name is the tenant's label for the target ("Nightly to HQ").
	Name string `json:"name"`
	// Kind is KindS3Link when empty.
	Kind Kind `json:"kind"`
	// SFTP is set for KindSFTP only.
	SFTP *SFTP `json:"sftp,omitempty"`
	// Bucket is set for KindS3Bucket only.
	Bucket    *Bucket   `json:"bucket,omitempty"`
	CreatedBy string    `json:"createdBy,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// SFTP holds an SFTP target's settings. It holds no secret: the password
// or private key lives in Secrets Manager under CredentialARN.
type SFTP struct {
	Host string `json:"host"`
	// Port is 22 when 0.
	Port int    `json:"port,omitempty"`
	User string `json:"user"`
	// Folder is the remote folder the files go to: absolute, or relative to
	// the user's login folder; empty is the login folder itself.
	Folder string `json:"folder,omitempty"`
	// HostKey is the server's public host key in authorized_keys form
	// ("ssh-ed25519 AAAA..."), pinned when the target is created: a server
	// that presents another key is refused.
	HostKey string `json:"hostKey"`
	// HostKeyFingerprint is HostKey's SHA256 fingerprint ("SHA256:..."),
	// as ssh-keygen -l prints it; Validate checks that it matches.
	HostKeyFingerprint string `json:"hostKeyFingerprint,omitempty"`
	// Auth says which credential the secret holds.
	Auth AuthMethod `json:"auth"`
	// CredentialARN is the ARN of the Secrets Manager secret that holds the
	// credential (EncodeCredential's form).
	CredentialARN string `json:"credentialArn,omitempty"`
}

// AuthMethod is how the service authenticates to an SFTP server.
type AuthMethod string

// The SFTP authentication methods.
const (
	AuthPassword   AuthMethod = "password"
	AuthPrivateKey AuthMethod = "private-key"
)

// Bucket holds the settings of a target that is the tenant's own bucket.
type Bucket struct {
	Bucket string `json:"bucket"`
	// Prefix is put before every file name ("exports/"); may be empty.
	Prefix string `json:"prefix,omitempty"`
	Region string `json:"region"`
	// RoleARN is the role in the tenant's account that trusts the service
	// with the external ID ExternalID(tenant).
	RoleARN string `json:"roleArn"`
}

// ExternalID is the external ID the service passes when it assumes a
// tenant's role: the tenant's ID, so one tenant's role can never be assumed
// on behalf of another tenant.
func ExternalID(tenant string) string { return tenant }

// DefaultSFTPPort is the port of an SFTP target without one.
const DefaultSFTPPort = 22

// KindOrDefault returns t's kind, KindS3Link when unset.
func (t Target) KindOrDefault() Kind {
	if t.Kind == "" {
		return KindS3Link
	}
	return t.Kind
}

// Addr returns host:port of an SFTP target.
func (s SFTP) Addr() string {
	p := s.Port
	if p == 0 {
		p = DefaultSFTPPort
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(p))
}

// Limits of a target's fields.
const (
	// MaxTargets is how many targets a tenant may have.
	MaxTargets     = 50
	MaxNameLen     = 100
	MaxHostLen     = 253
	MaxUserLen     = 64
	MaxFolderLen   = 1024
	MaxPrefixLen   = 512
	MaxFileNameLen = 255
)

var (
	hostPattern   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
	userPattern   = regexp.MustCompile(`^[A-Za-z0-9._][A-Za-z0-9._@-]*$`)
	bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	rolePattern   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
	secretPattern = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$`)
)

// FieldError is one field of a target that is wrong, and why.
type FieldError struct {
	Field   string // the API's field path, e.g. "sftp.host"
	Value   string // the value as given (never a credential), shortened
	Problem string
}

func (f FieldError) String() string {
	if f.Value == "" {
		return f.Field + ": " + f.Problem
	}
	return fmt.Sprintf("%s %q: %s", f.Field, f.Value, f.Problem)
}

// Validate checks every field of t and returns a bulkerr.Invalid error
// naming each wrong field, its value and the rule it breaks, or nil. It
// does not check that CredentialARN is set: a target is validated before
// its credential is stored (see ValidateStored).
func (t Target) Validate() error {
	return fieldsError(t.fieldErrors(false))
}

// ValidateStored is Validate for a target as it is kept: an SFTP target
// must reference its credential's secret.
func (t Target) ValidateStored() error {
	return fieldsError(t.fieldErrors(true))
}

// FieldErrors lists what Validate (stored false) or ValidateStored (stored
// true) finds wrong, one entry per field, in the order of their messages.
func (t Target) FieldErrors(stored bool) []FieldError {
	return t.fieldErrors(stored)
}

func fieldsError(errs []FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.String()
	}
	return bulkerr.New(bulkerr.Invalid, "invalid target: %s", strings.Join(parts, "; "))
}

func (t Target) fieldErrors(stored bool) []FieldError {
	var errs []FieldError
	add := func(field, value, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Value: shorten(value), Problem: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(t.Name) == "" {
		add("name", "", "required")
	} else if utf8.RuneCountInString(t.Name) > MaxNameLen || !printable(t.Name) {
		add("name", t.Name, "at most %d printable characters", MaxNameLen)
	}
	switch t.KindOrDefault() {
	case KindS3Link:
		if t.SFTP != nil || t.Bucket != nil {
			add("kind", string(KindS3Link), "an s3link target takes no sftp or bucket settings")
		}
	case KindSFTP:
		if t.Bucket != nil {
			add("bucket", "", "only for kind s3bucket")
		}
		if t.SFTP == nil {
			add("sftp", "", "required for kind sftp")
			break
		}
		errs = append(errs, t.SFTP.fieldErrors(stored)...)
	case KindS3Bucket:
		if t.SFTP != nil {
			add("sftp", "", "only for kind sftp")
		}
		if t.Bucket == nil {
			add("bucket", "", "required for kind s3bucket")
			break
		}
		errs = append(errs, t.Bucket.fieldErrors()...)
	default:
		add("kind", string(t.Kind), "must be one of s3link, sftp, s3bucket")
	}
	return errs
}

func (s SFTP) fieldErrors(stored bool) []FieldError {
	var errs []FieldError
	add := func(field, value, format string, args ...any) {
		errs = append(errs, FieldError{Field: "sftp." + field, Value: shorten(value), Problem: fmt.Sprintf(format, args...)})
	}
	switch {
	case s.Host == "":
		add("host", "", "required")
	case len(s.Host) > MaxHostLen || !validHost(s.Host):
		add("host", s.Host, "a DNS name or an IP address")
	}
	if s.Port < 0 || s.Port > 65535 {
		add("port", strconv.Itoa(s.Port), "between 1 and 65535 (0: %d)", DefaultSFTPPort)
	}
	switch {
	case s.User == "":
		add("user", "", "required")
	case len(s.User) > MaxUserLen || !userPattern.MatchString(s.User):
		add("user", s.User, "at most %d letters, digits, '.', '_', '@' or '-'", MaxUserLen)
	}
	if len(s.Folder) > MaxFolderLen || !printable(s.Folder) || hasDotDot(s.Folder) {
		add("folder", s.Folder, "at most %d printable characters, without '..' segments", MaxFolderLen)
	}
	if s.HostKey == "" {
		add("hostKey", "", "required: the server's public host key (ssh-keyscan, or the server's /etc/ssh/ssh_host_*_key.pub)")
	} else if k, err := ParseHostKey(s.HostKey); err != nil {
		add("hostKey", s.HostKey, "%s", err.Error())
	} else if s.HostKeyFingerprint != "" && s.HostKeyFingerprint != k.Fingerprint {
		add("hostKeyFingerprint", s.HostKeyFingerprint, "does not match the host key, whose fingerprint is %s", k.Fingerprint)
	}
	switch s.Auth {
	case AuthPassword, AuthPrivateKey:
	case "":
		add("auth", "", "required: password or private-key")
	default:
		add("auth", string(s.Auth), "must be password or private-key")
	}
	if s.CredentialARN != "" && !secretPattern.MatchString(s.CredentialARN) {
		add("credentialArn", s.CredentialARN, "a Secrets Manager secret ARN")
	} else if s.CredentialARN == "" && stored {
		add("credentialArn", "", "required")
	}
	return errs
}

func (b Bucket) fieldErrors() []FieldError {
	var errs []FieldError
	add := func(field, value, format string, args ...any) {
		errs = append(errs, FieldError{Field: "bucket." + field, Value: shorten(value), Problem: fmt.Sprintf(format, args...)})
	}
	if !bucketPattern.MatchString(b.Bucket) || strings.Contains(b.Bucket, "..") {
		add("bucket", b.Bucket, "an S3 bucket name: 3 to 63 lower-case letters, digits, '.' or '-'")
	}
	if len(b.Prefix) > MaxPrefixLen || !printable(b.Prefix) || strings.HasPrefix(b.Prefix, "/") || hasDotDot(b.Prefix) {
		add("prefix", b.Prefix, "at most %d printable characters, not starting with '/', without '..' segments", MaxPrefixLen)
	}
	if !regionPattern.MatchString(b.Region) {
		add("region", b.Region, "an AWS region such as eu-central-1")
	}
	if !rolePattern.MatchString(b.RoleARN) {
		add("roleArn", b.RoleARN, "an IAM role ARN such as arn:aws:iam::123456789012:role/bulkops-delivery")
	}
	return errs
}

// ValidateFileName checks a remote file name: one path segment (no '/'),
// not "." or "..", at most MaxFileNameLen bytes of printable characters.
// It returns a bulkerr.Invalid error or nil.
func ValidateFileName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return bulkerr.New(bulkerr.Invalid, "file name %q: a file name is required", name)
	case len(name) > MaxFileNameLen:
		return bulkerr.New(bulkerr.Invalid, "file name %q: at most %d bytes", shorten(name), MaxFileNameLen)
	case strings.ContainsAny(name, `/\`) || !printable(name):
		return bulkerr.New(bulkerr.Invalid, "file name %q: printable characters without '/' or '\\'", shorten(name))
	}
	return nil
}

// JoinRemote joins a remote folder and a file name with one '/'.
func JoinRemote(folder, name string) string {
	if folder == "" {
		return name
	}
	return strings.TrimSuffix(folder, "/") + "/" + name
}

func validHost(h string) bool {
	if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
		return true
	}
	return hostPattern.MatchString(h) && !strings.Contains(h, "..")
}

func hasDotDot(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

func shorten(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Receipt tells where a delivered file went. It holds no secret.
type Receipt struct {
	// Destination is the file's full location without credentials:
	// sftp://user@host:port/folder/name or s3://bucket/prefix/name.
	Destination string
	// RemoteName is the file's name at the destination.
	RemoteName string
	Bytes      int64
}

// TestResult is the answer of a connection test: a sentence for the tenant
// and, when the test failed, the phase it failed in.
type TestResult struct {
	OK bool `json:"ok"`
	// Phase is the phase that failed ("" when OK).
	Phase Phase `json:"phase,omitempty"`
	// Sentence says what was reached or what failed, e.g. "reached
	// sftp.example.com:22, authenticated as exports, folder /in writable".
	Sentence string `json:"sentence"`
}

// Deliverer sends files to targets of one or more kinds.
type Deliverer interface {
	// Deliver writes the whole of r as name at t, replacing a file of the
	// same name only once the new one is complete. Errors are *Error
	// values naming the phase.
	Deliver(ctx context.Context, t Target, name string, r io.Reader) (Receipt, error)
	// Test checks that t can be reached, that the service can
	// authenticate, and that the folder is writable (by writing and
	// removing a probe file).
	Test(ctx context.Context, t Target) TestResult
}

// ByKind is a Deliverer that hands each target to the Deliverer of its
// kind. KindS3Link has none: its files stay where the export wrote them.
type ByKind map[Kind]Deliverer

// Deliver implements Deliverer.
func (b ByKind) Deliver(ctx context.Context, t Target, name string, r io.Reader) (Receipt, error) {
	d, err := b.pick(t)
	if err != nil {
		return Receipt{}, err
	}
	return d.Deliver(ctx, t, name, r)
}

// Test implements Deliverer.
func (b ByKind) Test(ctx context.Context, t Target) TestResult {
	d, err := b.pick(t)
	if err != nil {
		return TestResult{Phase: PhaseConfig, Sentence: bulkerr.Message(err)}
	}
	return d.Test(ctx, t)
}

func (b ByKind) pick(t Target) (Deliverer, error) {
	k := t.KindOrDefault()
	if k == KindS3Link {
		return nil, bulkerr.New(bulkerr.Invalid, "target %s is an s3link target: its files stay behind the export's download link", t.ID)
	}
	d, ok := b[k]
	if !ok {
		return nil, bulkerr.New(bulkerr.Invalid, "targets of kind %q cannot be delivered to here", k)
	}
	return d, nil
}
