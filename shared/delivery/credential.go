package delivery

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"strings"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Credential is what an SFTP target authenticates with: a password or a
// private key (PEM, optionally protected by a passphrase). It is a secret:
// it formats, logs and marshals as "[redacted]" so that it cannot leak
// through a log line, an error or an API response by accident. Only
// EncodeCredential and DecodeCredential see its fields as text, for the
// secret store.
type Credential struct {
	Password   string
	PrivateKey string
	Passphrase string
}

const redacted = "[redacted]"

// String implements fmt.Stringer without the secret.
func (Credential) String() string { return redacted }

// GoString implements fmt.GoStringer without the secret (%#v).
func (Credential) GoString() string { return redacted }

// LogValue implements slog.LogValuer without the secret.
func (Credential) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler without the secret.
func (Credential) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// Method returns the AuthMethod the credential is for.
func (c Credential) Method() AuthMethod {
	if c.PrivateKey != "" {
		return AuthPrivateKey
	}
	return AuthPassword
}

// Limits of a credential.
const (
	MaxPasswordLen   = 1024
	MaxPrivateKeyLen = 16 << 10
)

// Validate checks that c holds exactly one of a password and a private key,
// within the limits, and that a private key is a PEM private key block. The
// error (bulkerr.Invalid) never quotes the secret.
func (c Credential) Validate() error {
	switch {
	case c.Password == "" && c.PrivateKey == "":
		return bulkerr.New(bulkerr.Invalid, "credential: a password or a private key is required")
	case c.Password != "" && c.PrivateKey != "":
		return bulkerr.New(bulkerr.Invalid, "credential: a password or a private key, not both")
	case len(c.Password) > MaxPasswordLen:
		return bulkerr.New(bulkerr.Invalid, "credential: the password is longer than %d bytes", MaxPasswordLen)
	case c.Password != "" && strings.ContainsAny(c.Password, "\x00\r\n"):
		return bulkerr.New(bulkerr.Invalid, "credential: the password contains a NUL or line break")
	case len(c.PrivateKey) > MaxPrivateKeyLen:
		return bulkerr.New(bulkerr.Invalid, "credential: the private key is longer than %d bytes", MaxPrivateKeyLen)
	case c.Passphrase != "" && c.PrivateKey == "":
		return bulkerr.New(bulkerr.Invalid, "credential: a passphrase is only for a private key")
	}
	if c.PrivateKey != "" {
		block, _ := pem.Decode([]byte(strings.TrimSpace(c.PrivateKey)))
		if block == nil || !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return bulkerr.New(bulkerr.Invalid, "credential: the private key is not a PEM private key (-----BEGIN OPENSSH PRIVATE KEY-----)")
		}
	}
	return nil
}

// credentialJSON is the secret's stored form.
type credentialJSON struct {
	Password   string `json:"password,omitempty"`
	PrivateKey string `json:"privateKey,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
}

// EncodeCredential returns the secret string a credential is stored as in
// Secrets Manager: {"password": ...} or {"privateKey": ..., "passphrase": ...}.
func EncodeCredential(c Credential) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(credentialJSON(c))
	return string(b), err
}

// DecodeCredential reads a secret string written by EncodeCredential. The
// error never quotes the secret.
func DecodeCredential(s string) (Credential, error) {
	var j credentialJSON
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Credential{}, bulkerr.New(bulkerr.Invalid, "credential: the secret is not a delivery credential (JSON with password or privateKey)")
	}
	c := Credential(j)
	if err := c.Validate(); err != nil {
		return Credential{}, err
	}
	return c, nil
}

// CredentialSource reads the credential of a tenant's target from where it
// is kept (Secrets Manager: shared/secretstore). It refuses a reference
// outside the tenant's own secrets.
type CredentialSource interface {
	Credential(ctx context.Context, tenant, ref string) (Credential, error)
}
