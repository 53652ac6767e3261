package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/dev/deliverytest"
	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/secretstore"
)

// TestOperatorSetsTheContact: an operator sets a tenant's notification
// contact with its other settings (answers validated against
// openapi.json); the webhook secret goes to Secrets Manager (the local
// protocol server) under the path's tenant's name, tagged with it; the
// audit and the log line record that the contact changed and that the
// secret was replaced, never the secret; a PUT without the contact keeps
// it; a contact's refusals point into /notification; the tenant's
// administrator sees the contact the operator set.
func TestOperatorSetsTheContact(t *testing.T) {
	h, logs := newOperatorHarness(t)
	rig := deliverytest.New(t, slog.New(slog.NewJSONHandler(logs, nil)), 0)
	h.api.WebhookSecrets = secretstore.WebhookSecrets{API: rig.Store.API, Log: slog.New(slog.NewJSONHandler(logs, nil))}
	ctx := context.Background()
	op := h.gw.OperatorToken(t, "ops@provider.example", "")
	tenant := strings.Trim(strings.ToLower(strings.ReplaceAll(t.Name(), "Test", "")), "-")[:12] + "-acme"
	path := "/v1/operator/tenants/" + tenant + "/settings"
	secret := "op-set-secret-" + strings.Repeat("9f", 16)
	var answers []string

	refusals := []struct {
		name    string
		contact bulkapi.OperatorContact
		pointer string
		text    string
	}{
		{"a new webhook without a secret", bulkapi.OperatorContact{Webhook: "https://hooks.acme.example/b"}, "/notification/webhookSecret", "needs its signing secret"},
		{"a short secret", bulkapi.OperatorContact{Webhook: "https://hooks.acme.example/b", WebhookSecret: "short"}, "/notification/webhookSecret", "32 to 256"},
		{"plain http", bulkapi.OperatorContact{Webhook: "http://hooks.acme.example/b", WebhookSecret: secret}, "/notification/webhook", "must use https"},
		{"a display name", bulkapi.OperatorContact{Email: "Ops <ops@acme.example>"}, "/notification/email", "not an e-mail address"},
		{"a secret without a webhook", bulkapi.OperatorContact{Email: "ops@acme.example", WebhookSecret: secret}, "/notification/webhookSecret", "without a webhook"},
	}
	for _, c := range refusals {
		c := c
		status, _, raw := h.sendAs(op, "PUT", path, bulkapi.SettingsBody{Notification: &c.contact}, map[string]string{"If-Match": "*"}, nil)
		p := problem(t, status, raw, http.StatusBadRequest, "INVALID_REQUEST")
		if len(p.Errors) != 1 || p.Errors[0].Pointer != c.pointer || !strings.Contains(p.Detail, c.text) {
			t.Errorf("%s: problem %+v, want %s saying %q", c.name, p, c.pointer, c.text)
		}
		answers = append(answers, string(raw))
	}
	if len(rig.Secrets.Names()) != 0 {
		t.Fatalf("a refused contact stored a secret: %v", rig.Secrets.Names())
	}

	// The contact with the other settings.
	var got bulkapi.TenantSettings
	body := bulkapi.SettingsBody{LargeFiles: true, Notification: &bulkapi.OperatorContact{Email: "ops@acme.example", Webhook: "https://hooks.acme.example/b", WebhookSecret: secret}}
	status, hdr, raw := h.sendAs(op, "PUT", path, body, map[string]string{"If-Match": `"0"`}, &got)
	answers = append(answers, string(raw))
	want := bulkapi.OperatorContact{Email: "ops@acme.example", Webhook: "https://hooks.acme.example/b", WebhookSecretSet: true}
	if status != 200 || hdr.Get("ETag") != `"1"` || !got.LargeFiles || got.Notification == nil || *got.Notification != want {
		t.Fatalf("PUT: %d %s", status, raw)
	}
	ts, err := h.db.TenantSettings(ctx, tenant)
	if err != nil || !notify.SecretOfTenant(ts.Notification.SecretRef, tenant) || ts.Notification.Email != "ops@acme.example" {
		t.Fatalf("stored contact %+v %v", ts.Notification, err)
	}
	v, err := rig.Store.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(notify.SecretName(tenant))})
	if err != nil || aws.ToString(v.SecretString) != secret || aws.ToString(v.ARN) != ts.Notification.SecretRef {
		t.Fatalf("the secret in Secrets Manager: %v", err)
	}
	desc, err := rig.Store.API.(*secretsmanager.Client).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: v.ARN})
	if err != nil || len(desc.Tags) != 1 || aws.ToString(desc.Tags[0].Value) != tenant {
		t.Fatalf("tags %v %v", desc.Tags, err)
	}

	// A change that leaves the contact out keeps it (and its secret).
	status, _, raw = h.sendAs(op, "PUT", path, bulkapi.SettingsBody{LargeFiles: true, MaxRows: 9000}, map[string]string{"If-Match": `"1"`}, &got)
	answers = append(answers, string(raw))
	if status != 200 || got.Notification == nil || *got.Notification != want {
		t.Fatalf("PUT without the contact: %d %s", status, raw)
	}
	// A new address, the webhook as it is, no secret: the secret is kept.
	status, _, raw = h.sendAs(op, "PUT", path, bulkapi.SettingsBody{LargeFiles: true, MaxRows: 9000,
		Notification: &bulkapi.OperatorContact{Email: "noc@acme.example", Webhook: "https://hooks.acme.example/b", WebhookSecretSet: true}}, map[string]string{"If-Match": `"2"`}, &got)
	answers = append(answers, string(raw))
	if status != 200 || got.Notification == nil || got.Notification.Email != "noc@acme.example" || !got.Notification.WebhookSecretSet {
		t.Fatalf("PUT with a new address: %d %s", status, raw)
	}
	// A stale If-Match with a secret stores no secret.
	status, _, raw = h.sendAs(op, "PUT", path, bulkapi.SettingsBody{Notification: &bulkapi.OperatorContact{Webhook: "https://hooks.acme.example/c", WebhookSecret: secret + "x"}},
		map[string]string{"If-Match": `"1"`}, nil)
	problem(t, status, raw, http.StatusPreconditionFailed, "PRECONDITION_FAILED")
	if v, _ := rig.Store.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(notify.SecretName(tenant))}); aws.ToString(v.SecretString) != secret {
		t.Fatal("a stale PUT replaced the secret")
	}

	// The tenant's administrator sees the contact.
	var mine bulkapi.NotificationSettings
	if status, raw := h.call(tenant, "GET", "/v1/settings/notifications", nil, &mine); status != 200 ||
		mine != (bulkapi.NotificationSettings{Email: "noc@acme.example", Webhook: "https://hooks.acme.example/b", WebhookSecretSet: true}) {
		t.Fatalf("the tenant sees %d %s", status, raw)
	}

	// The audit: the contact before and after, the secret replaced once.
	var audit bulkapi.SettingsChanges
	status, _, raw = h.sendAs(op, "GET", path+"/audit", nil, nil, &audit)
	answers = append(answers, string(raw))
	if status != 200 || len(audit.Changes) != 3 {
		t.Fatalf("audit: %d %s", status, raw)
	}
	first, last := audit.Changes[2], audit.Changes[0]
	if first.Before.Notification != nil || first.After.Notification == nil || *first.After.Notification != want || !first.WebhookSecretReplaced {
		t.Errorf("the first change's audit: %+v", first)
	}
	if last.WebhookSecretReplaced || last.Before.Notification == nil || last.Before.Notification.Email != "ops@acme.example" || last.After.Notification.Email != "noc@acme.example" {
		t.Errorf("the last change's audit: %+v", last)
	}
	if audit.Changes[1].WebhookSecretReplaced {
		t.Errorf("a change without the contact says the secret was replaced: %+v", audit.Changes[1])
	}
	if !strings.Contains(logs.String(), `"webhookSecretReplaced":true`) {
		t.Errorf("no log line says the secret was replaced:\n%s", logs.String())
	}
	raws, _ := json.Marshal(audit)
	for where, text := range map[string]string{"an answer": strings.Join(answers, "\n"), "the log": logs.String(), "the audit": string(raws)} {
		if strings.Contains(text, secret) {
			t.Errorf("the secret is in %s", where)
		}
	}
	if item := h.settingsItems(tenant); strings.Contains(item, secret) || !strings.Contains(item, "noc@acme.example") {
		t.Errorf("the control table's items of the tenant hold %s", item)
	}
}

// settingsItems is every control-table item of the tenant's settings
// (the settings and their audit), as text.
func (h *apiHarness) settingsItems(tenant string) string {
	h.t.Helper()
	out, err := h.ddb.Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String(h.control),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: "TENANT#" + tenant}}})
	if err != nil {
		h.t.Fatal(err)
	}
	var b strings.Builder
	for _, it := range out.Items {
		raw, _ := json.Marshal(it)
		b.Write(raw)
	}
	return b.String()
}
