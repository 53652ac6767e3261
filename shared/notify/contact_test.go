package notify

import (
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

func TestContactValidate(t *testing.T) {
	secret := SecretName("acme")
	arn := "arn:aws:secretsmanager:eu-central-1:123456789012:secret:" + secret + "-AbC123"
	local := Policy{AllowLoopbackHTTP: true}
	cases := []struct {
		name    string
		c       Contact
		p       Policy
		wantErr string // substring; empty: valid
	}{
		{"mail only", Contact{Tenant: "acme", Email: "ops@acme.example"}, Policy{}, ""},
		{"webhook only", Contact{Tenant: "acme", Webhook: "https://hooks.acme.example/bulkops", SecretRef: secret}, Policy{}, ""},
		{"both, secret by ARN", Contact{Tenant: "acme", Email: "ops@acme.example", Webhook: "https://hooks.acme.example:8443/x?y=1", SecretRef: arn}, Policy{}, ""},
		{"loopback http allowed locally", Contact{Tenant: "acme", Webhook: "http://127.0.0.1:3001/_local/webhooks/acme", SecretRef: secret}, local, ""},
		{"no tenant", Contact{Email: "ops@acme.example"}, Policy{}, "no tenant"},
		{"nothing", Contact{Tenant: "acme"}, Policy{}, "e-mail address, a webhook URL or both"},
		{"display name", Contact{Tenant: "acme", Email: "Ops <ops@acme.example>"}, Policy{}, "email:"},
		{"no at", Contact{Tenant: "acme", Email: "ops.acme.example"}, Policy{}, "email:"},
		{"header injection", Contact{Tenant: "acme", Email: "ops@acme.example\r\nBcc: x@evil.example"}, Policy{}, "email:"},
		{"dotless domain", Contact{Tenant: "acme", Email: "ops@localhost"}, Policy{}, "domain"},
		{"ip literal", Contact{Tenant: "acme", Email: "ops@[10.0.0.1]"}, Policy{}, "email"},
		{"too long", Contact{Tenant: "acme", Email: strings.Repeat("a", 250) + "@x.example"}, Policy{}, "at most 254"},
		{"http", Contact{Tenant: "acme", Webhook: "http://hooks.acme.example/", SecretRef: secret}, Policy{}, "must use https"},
		{"loopback http on AWS", Contact{Tenant: "acme", Webhook: "http://127.0.0.1:3001/x", SecretRef: secret}, Policy{}, "must use https"},
		{"http localhost name", Contact{Tenant: "acme", Webhook: "http://localhost:3001/x", SecretRef: secret}, local, "must use https"},
		{"ftp", Contact{Tenant: "acme", Webhook: "ftp://hooks.acme.example/", SecretRef: secret}, Policy{}, "must use https"},
		{"relative", Contact{Tenant: "acme", Webhook: "/hooks", SecretRef: secret}, Policy{}, "absolute URL"},
		{"credentials in URL", Contact{Tenant: "acme", Webhook: "https://user:pw@hooks.acme.example/", SecretRef: secret}, Policy{}, "user name or password"},
		{"fragment", Contact{Tenant: "acme", Webhook: "https://hooks.acme.example/#x", SecretRef: secret}, Policy{}, "fragment"},
		{"bad port", Contact{Tenant: "acme", Webhook: "https://hooks.acme.example:99999/", SecretRef: secret}, Policy{}, "webhook"},
		{"long URL", Contact{Tenant: "acme", Webhook: "https://hooks.acme.example/" + strings.Repeat("a", 2048), SecretRef: secret}, Policy{}, "at most 2048"},
		{"webhook without secret", Contact{Tenant: "acme", Webhook: "https://hooks.acme.example/"}, Policy{}, "needs its signing secret"},
		{"another tenant's secret", Contact{Tenant: "acme", Webhook: "https://hooks.acme.example/", SecretRef: SecretName("globex")}, Policy{}, "not the signing secret of tenant acme"},
		{"prefix trick", Contact{Tenant: "acme", Webhook: "https://hooks.acme.example/", SecretRef: "bulkops/notifications/acme-evil/webhook"}, Policy{}, "not the signing secret"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.c.Validate(c.p)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
			if bulkerr.KindOf(err) != bulkerr.Invalid {
				t.Fatalf("kind %s, want Invalid", bulkerr.KindOf(err))
			}
		})
	}
}

func TestSecretOfTenant(t *testing.T) {
	cases := []struct {
		ref, tenant string
		want        bool
	}{
		{"bulkops/notifications/acme/webhook", "acme", true},
		{"arn:aws:secretsmanager:us-east-1:000000000000:secret:bulkops/notifications/acme/webhook-Ab12Cd", "acme", true},
		{"arn:aws-cn:secretsmanager:cn-north-1:000000000000:secret:bulkops/notifications/acme/x", "acme", true},
		{"bulkops/notifications/globex/webhook", "acme", false},
		{"bulkops/notifications/acmeco/webhook", "acme", false},
		{"bulkops/notifications/acme", "acme", false},
		{"bulkops/targets/acme/t1", "acme", false},
		{"bulkops/acme/webhook", "acme", false},
		{"arn:aws:s3:::bulkops/notifications/acme/x", "acme", false},
		{"arn:aws:secretsmanager:us-east-1:000000000000:bulkops/notifications/acme/x", "acme", false},
		{"bulkops/notifications/acme/../globex/x", "acme", false},
		{"bulkops/notifications//x", "", false},
		{"bulkops/notifications/a/b/x", "a/b", false},
	}
	for _, c := range cases {
		if got := SecretOfTenant(c.ref, c.tenant); got != c.want {
			t.Errorf("SecretOfTenant(%q, %q) = %v, want %v", c.ref, c.tenant, got, c.want)
		}
	}
}

// TestSecretNamesPerStack: a policy with a stack's prefix names and
// accepts only that stack's secrets; the default prefix's and another
// stack's are refused, by Validate too.
func TestSecretNamesPerStack(t *testing.T) {
	a := Policy{SecretPrefix: "stack-a/notifications/"}
	b := Policy{SecretPrefix: "stack-b/notifications"} // a final slash is added
	if got := a.SecretName("acme"); got != "stack-a/notifications/acme/webhook" {
		t.Errorf("SecretName = %q", got)
	}
	if got := b.SecretName("acme"); got != "stack-b/notifications/acme/webhook" {
		t.Errorf("SecretName without the slash = %q", got)
	}
	if got := (Policy{}).SecretName("acme"); got != DefaultSecretPrefix+"acme/webhook" || got != SecretName("acme") {
		t.Errorf("default SecretName = %q", got)
	}
	cases := []struct {
		p    Policy
		ref  string
		want bool
	}{
		{a, "stack-a/notifications/acme/webhook", true},
		{a, "arn:aws:secretsmanager:eu-west-1:000000000000:secret:stack-a/notifications/acme/webhook-Ab12Cd", true},
		{a, "stack-b/notifications/acme/webhook", false},
		{a, "bulkops/notifications/acme/webhook", false},
		{a, "stack-a/notifications/globex/webhook", false},
		{a, "stack-a/targets/acme/t1", false},
		{a, "stack-a/notifications-x/acme/webhook", false},
		{b, "stack-b/notifications/acme/webhook", true},
		{b, "stack-a/notifications/acme/webhook", false},
		{Policy{}, "stack-a/notifications/acme/webhook", false},
	}
	for _, c := range cases {
		if got := c.p.SecretOfTenant(c.ref, "acme"); got != c.want {
			t.Errorf("%q.SecretOfTenant(%q) = %v, want %v", c.p.SecretPrefix, c.ref, got, c.want)
		}
	}
	other := Contact{Tenant: "acme", Webhook: "https://hooks.acme.example/", SecretRef: b.SecretName("acme")}
	if err := other.Validate(a); err == nil || !strings.Contains(err.Error(), "want stack-a/notifications/acme/webhook") {
		t.Errorf("another stack's secret: %v", err)
	}
	if err := other.Validate(b); err != nil {
		t.Errorf("its own stack's secret: %v", err)
	}
}

func TestValidateSecret(t *testing.T) {
	for _, c := range []struct {
		secret string
		ok     bool
	}{
		{strings.Repeat("a1", 16), true},
		{strings.Repeat("x", 256), true},
		{strings.Repeat("a", 31), false},
		{strings.Repeat("a", 257), false},
		{strings.Repeat("a", 31) + " ", false},
		{strings.Repeat("a", 31) + "é", false},
		{strings.Repeat("a", 31) + "\n", false},
	} {
		err := ValidateSecret(c.secret)
		if (err == nil) != c.ok || (err != nil && strings.Contains(err.Error(), c.secret)) {
			t.Errorf("ValidateSecret(%q) = %v, want ok %v (and never the secret in the error)", c.secret, err, c.ok)
		}
	}
}
