package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/notify"
)

// secretKeeper stands in for the Secrets Manager store (issue 18 item 1
// brings it): it keeps each tenant's secret under its name.
type secretKeeper struct {
	mu   sync.Mutex
	kept map[string]string
	fail bool
}

func (k *secretKeeper) PutWebhookSecret(_ context.Context, tenant, secret string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail {
		return "", bulkerr.New(bulkerr.Transient, "the secret store is unavailable")
	}
	if k.kept == nil {
		k.kept = map[string]string{}
	}
	ref := "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + notify.SecretName(tenant) + "-AbCdEf"
	k.kept[ref] = secret
	return ref, nil
}

// TestNotificationSettings: a tenant administrator reads and sets the
// tenant's contact; every answer is checked against openapi.json; refused
// fields are named; the secret is never answered nor stored in the table;
// each tenant sees only its own contact.
func TestNotificationSettings(t *testing.T) {
	h := newAPIHarness(t)
	keeper := &secretKeeper{}
	h.api.WebhookSecrets = keeper
	acme := strings.Trim(localtest.UniquePrefix(t), "-") + "-acme"
	globex := strings.Trim(localtest.UniquePrefix(t), "-") + "-globex"
	secret := strings.Repeat("s3cr3t-", 6) // 42 printable characters
	const path = "/v1/settings/notifications"

	var got bulkapi.NotificationSettings
	if st, raw := h.call(acme, "GET", path, nil, &got); st != 200 || got != (bulkapi.NotificationSettings{}) {
		t.Fatalf("no contact yet: %d %s", st, raw)
	}
	if st, raw := h.call(acme, "PUT", path, map[string]string{"email": "ops@acme.example"}, &got); st != 200 ||
		got != (bulkapi.NotificationSettings{Email: "ops@acme.example"}) {
		t.Fatalf("e-mail only: %d %s", st, raw)
	}

	refusals := []struct {
		name    string
		body    any
		pointer string
		text    string
	}{
		{"a webhook without its secret", map[string]string{"webhook": "https://hooks.acme.example/bulkops"}, "/webhookSecret", "needs its signing secret"},
		{"a short secret", map[string]string{"webhook": "https://hooks.acme.example/bulkops", "webhookSecret": "short-secret"}, "/webhookSecret", "32 to 256"},
		{"a secret with a space", map[string]string{"webhook": "https://hooks.acme.example/bulkops", "webhookSecret": strings.Repeat("a", 32) + " b"}, "/webhookSecret", "printable"},
		{"plain http", map[string]string{"webhook": "http://hooks.acme.example/bulkops", "webhookSecret": secret}, "/webhook", "must use https"},
		{"credentials in the URL", map[string]string{"webhook": "https://u:p@hooks.acme.example/", "webhookSecret": secret}, "/webhook", "user name or password"},
		{"a display name", map[string]string{"email": "Ops <ops@acme.example>"}, "/email", "not an e-mail address"},
		{"a secret without a webhook", map[string]string{"email": "ops@acme.example", "webhookSecret": secret}, "/webhookSecret", "without a webhook"},
		{"an unknown field", map[string]string{"emails": "ops@acme.example"}, "/emails", "unknown field"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			st, raw := h.call(acme, "PUT", path, c.body, nil)
			p := problem(t, st, raw, http.StatusBadRequest, "INVALID_REQUEST")
			if len(p.Errors) != 1 || p.Errors[0].Pointer != c.pointer || !strings.Contains(p.Detail, c.text) {
				t.Fatalf("problem %+v, want %s saying %q", p, c.pointer, c.text)
			}
			if strings.Contains(string(raw), secret) {
				t.Fatal("the secret is in the answer")
			}
		})
	}

	// A webhook with its secret: kept in the secret store, only its
	// reference in the settings item; the answer says a secret is set.
	body := map[string]string{"email": "ops@acme.example", "webhook": "https://hooks.acme.example/bulkops", "webhookSecret": secret}
	st, raw := h.call(acme, "PUT", path, body, fresh(&got))
	if st != 200 || got != (bulkapi.NotificationSettings{Email: "ops@acme.example", Webhook: "https://hooks.acme.example/bulkops", WebhookSecretSet: true}) {
		t.Fatalf("webhook: %d %s", st, raw)
	}
	if strings.Contains(string(raw), secret) {
		t.Fatal("the secret is in the answer")
	}
	ts, err := h.db.TenantSettings(context.Background(), acme)
	if err != nil || !notify.SecretOfTenant(ts.Notification.SecretRef, acme) || keeper.kept[ts.Notification.SecretRef] != secret {
		t.Fatalf("stored %+v %v; kept %v", ts.Notification, err, len(keeper.kept))
	}
	if item := h.rawSettings(acme); strings.Contains(item, secret) || !strings.Contains(item, "hooks.acme.example") {
		t.Fatalf("the settings item holds %s", item)
	}

	// A new URL without resending the secret keeps the kept one.
	if st, raw := h.call(acme, "PUT", path, map[string]string{"webhook": "https://hooks2.acme.example/x"}, fresh(&got)); st != 200 ||
		got != (bulkapi.NotificationSettings{Webhook: "https://hooks2.acme.example/x", WebhookSecretSet: true}) {
		t.Fatalf("new URL: %d %s", st, raw)
	}
	if ts2, _ := h.db.TenantSettings(context.Background(), acme); ts2.Notification.SecretRef != ts.Notification.SecretRef {
		t.Fatalf("the secret reference changed: %+v", ts2.Notification)
	}

	// Another tenant sees only its own (nothing), and its first webhook
	// needs its own secret: acme's does not carry over.
	if st, raw := h.call(globex, "GET", path, nil, fresh(&got)); st != 200 || got != (bulkapi.NotificationSettings{}) {
		t.Fatalf("globex sees %d %s", st, raw)
	}
	if st, raw := h.call(globex, "PUT", path, map[string]string{"webhook": "https://hooks.globex.example/"}, nil); st != 400 {
		t.Fatalf("globex's webhook without a secret: %d %s", st, raw)
	}

	// A secret store that fails: nothing is written, the tenant may retry.
	keeper.fail = true
	st, raw = h.call(acme, "PUT", path, map[string]string{"webhook": "https://hooks3.acme.example/", "webhookSecret": secret}, nil)
	problem(t, st, raw, http.StatusServiceUnavailable, "TRY_AGAIN")
	if ts3, _ := h.db.TenantSettings(context.Background(), acme); ts3.Notification.Webhook != "https://hooks2.acme.example/x" {
		t.Fatalf("a failed secret write changed the contact: %+v", ts3.Notification)
	}
	keeper.fail = false

	// Without a secret store, webhooks cannot be set; e-mail still can.
	h.api.WebhookSecrets = nil
	st, raw = h.call(acme, "PUT", path, body, nil)
	if p := problem(t, st, raw, http.StatusBadRequest, "INVALID_REQUEST"); !strings.Contains(p.Detail, "no secret store") {
		t.Fatalf("without a secret store: %+v", p)
	}

	// Both empty: notifications off.
	if st, raw := h.call(acme, "PUT", path, map[string]string{"email": "", "webhook": ""}, fresh(&got)); st != 200 || got != (bulkapi.NotificationSettings{}) {
		t.Fatalf("off: %d %s", st, raw)
	}
	if ts4, _ := h.db.TenantSettings(context.Background(), acme); !ts4.Notification.Empty() {
		t.Fatalf("still stored: %+v", ts4.Notification)
	}
	if st, _ := h.call("", "GET", path, nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", st)
	}
}

// rawSettings is the tenant's settings item as DynamoDB holds it, every
// string value written out.
func (h *apiHarness) rawSettings(tenant string) string {
	h.t.Helper()
	out, err := h.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(h.control), Key: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "TENANT#" + tenant}, "sk": &ddbtypes.AttributeValueMemberS{Value: "SETTINGS"}}})
	if err != nil {
		h.t.Fatal(err)
	}
	var b strings.Builder
	var walk func(v ddbtypes.AttributeValue)
	walk = func(v ddbtypes.AttributeValue) {
		switch x := v.(type) {
		case *ddbtypes.AttributeValueMemberS:
			b.WriteString(x.Value + " ")
		case *ddbtypes.AttributeValueMemberM:
			for k, e := range x.Value {
				b.WriteString(k + "=")
				walk(e)
			}
		default:
			fmt.Fprintf(&b, "%T ", v)
		}
	}
	walk(&ddbtypes.AttributeValueMemberM{Value: out.Item})
	return b.String()
}

// fresh zeroes *v before an answer is decoded into it.
func fresh[T any](v *T) *T {
	var zero T
	*v = zero
	return v
}
