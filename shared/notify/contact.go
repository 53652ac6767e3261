// Package notify tells a tenant's own contact that one of its scheduled
// export runs or imports failed: by e-mail and/or by a signed HTTPS webhook.
// It holds the domain only (no AWS SDK): the contact and its validation,
// the notice and how it is rendered (mail subject and text, the webhook's
// JSON payload), the webhook signature (HMAC-SHA256 over
// "<timestamp>.<body>") with a Verify function receivers can use, delivery
// with bounded retries and exponential backoff with jitter, and the
// Notifier, which sends a notice to the contact of the notice's own tenant
// and no one else. The adapters (SES, Secrets Manager, the tenant settings)
// are in shared/notifyapp and shared/sesmail.
package notify

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Limits of a contact's fields.
const (
	MaxEmailLength   = 254  // RFC 5321's path limit
	MaxWebhookLength = 2048 // a URL that every HTTP stack accepts
)

// DefaultSecretPrefix starts the name of every tenant's webhook signing
// secret in Secrets Manager when the deployment names no prefix of its own
// (Policy.SecretPrefix; local runs): bulkops/notifications/<tenant>/webhook.
// A deployed stack names its own, ${AWS::StackName}/notifications/
// (BULKOPS_NOTIFY_SECRET_PREFIX in template.yaml), so two stacks in one
// account never share a tenant's secret. The notifier refuses a secret
// reference outside the notice's tenant's prefix, and the notifier
// function's IAM policy reads only names under the stack's prefix (not
// the delivery targets' credentials under ${AWS::StackName}/targets/).
const DefaultSecretPrefix = "bulkops/notifications/"

// SecretName is tenant's webhook signing secret's name under
// DefaultSecretPrefix (Policy{}.SecretName).
func SecretName(tenant string) string { return Policy{}.SecretName(tenant) }

// SecretOfTenant is Policy{}.SecretOfTenant: ref is under tenant's name
// under DefaultSecretPrefix.
func SecretOfTenant(ref, tenant string) bool { return Policy{}.SecretOfTenant(ref, tenant) }

// Contact is where a tenant's notices go: an e-mail address, an HTTPS
// webhook, or both. The webhook's signing secret is never held here, only
// a reference to it (a Secrets Manager name or ARN).
type Contact struct {
	// Tenant owns the contact; a notice of another tenant is never sent
	// to it.
	Tenant string `json:"tenant"`
	// Email receives the notices as mail (empty: none).
	Email string `json:"email,omitempty"`
	// Webhook receives the notices as signed JSON POSTs (empty: none).
	Webhook string `json:"webhook,omitempty"`
	// SecretRef names the webhook's signing secret (required with a
	// webhook): the Secrets Manager name or ARN of Policy.SecretName(Tenant).
	SecretRef string `json:"secretRef,omitempty"`
}

// Policy says what Validate accepts beyond the rules every deployment has.
type Policy struct {
	// AllowLoopbackHTTP accepts http://127.0.0.1[:port]/... webhooks: the
	// local stack's webhook sink and tests. Never set on AWS
	// (BULKOPS_NOTIFY_ALLOW_LOOPBACK, set only by infra/local/env.sh).
	AllowLoopbackHTTP bool
	// SecretPrefix starts the names of the tenants' webhook signing
	// secrets, <prefix><tenant>/webhook ("": DefaultSecretPrefix; a
	// missing final slash is added). BULKOPS_NOTIFY_SECRET_PREFIX.
	SecretPrefix string
}

// secretPrefix is the prefix the policy names, ending in a slash.
func (p Policy) secretPrefix() string {
	switch {
	case p.SecretPrefix == "":
		return DefaultSecretPrefix
	case strings.HasSuffix(p.SecretPrefix, "/"):
		return p.SecretPrefix
	}
	return p.SecretPrefix + "/"
}

// SecretName is the Secrets Manager name of tenant's webhook signing
// secret: <prefix><tenant>/webhook.
func (p Policy) SecretName(tenant string) string { return p.secretPrefix() + tenant + "/webhook" }

// Empty reports whether the contact has no channel at all.
func (c Contact) Empty() bool { return c.Email == "" && c.Webhook == "" }

// Validate checks the contact: a well-formed address, an HTTPS webhook
// (http only to 127.0.0.1 when p allows it) without credentials in it, and
// a secret reference of the contact's own tenant for a webhook. Every
// error is Invalid and names the field.
func (c Contact) Validate(p Policy) error {
	if c.Tenant == "" {
		return bulkerr.New(bulkerr.Invalid, "the contact has no tenant")
	}
	if c.Empty() {
		return bulkerr.New(bulkerr.Invalid, "give an e-mail address, a webhook URL or both")
	}
	if c.Email != "" {
		if err := ValidateEmail(c.Email); err != nil {
			return err
		}
	}
	if c.Webhook != "" {
		if err := ValidateWebhook(c.Webhook, p); err != nil {
			return err
		}
		if c.SecretRef == "" {
			return bulkerr.New(bulkerr.Invalid, "secretRef: a webhook needs its signing secret")
		}
		if !p.SecretOfTenant(c.SecretRef, c.Tenant) {
			return bulkerr.New(bulkerr.Invalid, "secretRef: %q is not the signing secret of tenant %s (want %s)", c.SecretRef, c.Tenant, p.SecretName(c.Tenant))
		}
	}
	return nil
}

// ValidateEmail accepts one bare address (local@domain, no display name,
// no spaces), at most MaxEmailLength characters, whose domain has a dot.
func ValidateEmail(addr string) error {
	if len(addr) > MaxEmailLength {
		return bulkerr.New(bulkerr.Invalid, "email: the address has %d characters; at most %d", len(addr), MaxEmailLength)
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr || strings.ContainsAny(addr, " \t\r\n<>") {
		return bulkerr.New(bulkerr.Invalid, "email: %q is not an e-mail address such as ops@example.com", addr)
	}
	_, domain, _ := strings.Cut(addr, "@")
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.HasPrefix(domain, "[") {
		return bulkerr.New(bulkerr.Invalid, "email: the domain of %q is not a domain name such as example.com", addr)
	}
	return nil
}

// ValidateWebhook accepts an absolute https URL with a host and no user
// name or password in it (the secret is a separate setting), no fragment,
// at most MaxWebhookLength characters. With p.AllowLoopbackHTTP, http to
// 127.0.0.1 is accepted too.
func ValidateWebhook(raw string, p Policy) error {
	if len(raw) > MaxWebhookLength {
		return bulkerr.New(bulkerr.Invalid, "webhook: the URL has %d characters; at most %d", len(raw), MaxWebhookLength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return bulkerr.New(bulkerr.Invalid, "webhook: %q is not an absolute URL such as https://hooks.example.com/bulkops", raw)
	}
	if u.User != nil {
		return bulkerr.New(bulkerr.Invalid, "webhook: the URL must not hold a user name or password; the signature authenticates the notices")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bulkerr.New(bulkerr.Invalid, "webhook: the URL must not have a fragment (#...)")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowLoopbackHTTP && u.Hostname() == "127.0.0.1":
	default:
		return bulkerr.New(bulkerr.Invalid, "webhook: %q must use https", raw)
	}
	if port := u.Port(); port != "" {
		if _, err := net.LookupPort("tcp", port); err != nil {
			return bulkerr.New(bulkerr.Invalid, "webhook: port %q is not a port number", port)
		}
	}
	return nil
}

// SecretOfTenant reports whether ref (a Secrets Manager name or ARN) names
// a secret under tenant's prefix, <prefix><tenant>/.
func (p Policy) SecretOfTenant(ref, tenant string) bool {
	if tenant == "" || strings.Contains(tenant, "/") {
		return false
	}
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		// arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 chars>
		parts := strings.SplitN(ref, ":", 7)
		if len(parts) != 7 || parts[2] != "secretsmanager" || parts[5] != "secret" {
			return false
		}
		name = parts[6]
	}
	return strings.HasPrefix(name, p.secretPrefix()+tenant+"/") && !strings.Contains(name, "..")
}

// String describes the contact's channels without its secret reference.
func (c Contact) String() string {
	var ch []string
	if c.Email != "" {
		ch = append(ch, "e-mail "+c.Email)
	}
	if c.Webhook != "" {
		ch = append(ch, "webhook "+c.Webhook)
	}
	if len(ch) == 0 {
		return fmt.Sprintf("tenant %s: no contact", c.Tenant)
	}
	return fmt.Sprintf("tenant %s: %s", c.Tenant, strings.Join(ch, ", "))
}

// Limits of a webhook signing secret a tenant sets.
const (
	MinSecretLength = 32
	MaxSecretLength = 256
)

// ValidateSecret accepts a webhook signing secret of MinSecretLength to
// MaxSecretLength printable ASCII characters without spaces (what a
// receiver can paste into its configuration). The error never repeats the
// secret.
func ValidateSecret(secret string) error {
	if len(secret) < MinSecretLength || len(secret) > MaxSecretLength {
		return bulkerr.New(bulkerr.Invalid, "webhookSecret: %d characters; give %d to %d (for example 32 random bytes as 64 hex digits)", len(secret), MinSecretLength, MaxSecretLength)
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; c <= ' ' || c > '~' {
			return bulkerr.New(bulkerr.Invalid, "webhookSecret: character %d is not printable ASCII (spaces and control characters are not allowed)", i+1)
		}
	}
	return nil
}
