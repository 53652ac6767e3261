package notifyapp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/httpapi/openapitest"
	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/secretstore"
)

// apiCall sends one request to the stack's API as tenant's administrator
// (answers checked against openapi.json) and returns the status and the
// raw answer.
func apiCall(t *testing.T, st *localtest.Stack, apiURL, tenant, method, path string, body any) (int, []byte) {
	t.Helper()
	keys, err := authn.LoadOrCreateKeySet(filepath.Join(st.Root, ".tools", "run", "jwt-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	token, err := authn.LocalToken(keys, authn.LocalIssuer(os.Getenv), tenant, "admin@"+tenant+".example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, apiURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := openapitest.Client(t, apiURL).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// putAPIContact sets tenant's contact through the stack's API and returns
// the raw answer.
func putAPIContact(t *testing.T, st *localtest.Stack, apiURL, tenant string, c bulkapi.NotificationSettingsUpdate) []byte {
	t.Helper()
	status, raw := apiCall(t, st, apiURL, tenant, http.MethodPut, "/v1/settings/notifications", c)
	var set bulkapi.NotificationSettings
	_ = json.Unmarshal(raw, &set)
	if status != http.StatusOK || set.Email != c.Email || set.Webhook != c.Webhook || set.WebhookSecretSet != (c.Webhook != "") {
		t.Fatalf("PUT /v1/settings/notifications: %d %s (is the stack's dev server built from this tree?)", status, raw)
	}
	return raw
}

// waitDeliveries waits until the sink holds at least n deliveries.
func waitDeliveries(t *testing.T, sink string, n int, within time.Duration) []devstack.WebhookDelivery {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := deliveries(t, sink)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestFailedImportReachesTheSignedWebhook runs on the local stack as it
// runs (the dev server built from this tree, its Secrets Manager): the
// administrator sets a webhook and its signing secret through the API;
// the secret is stored in the stack's Secrets Manager under the tenant's
// name, tagged with the tenant; an import whose header is wrong fails; the
// template's rule invokes NotifyFunction, which reads the secret from
// Secrets Manager and posts the import-failed notice to the stack's
// webhook sink, where it verifies with that secret. Then a second secret
// replaces it (a new version of the same secret), and the secret appears
// in no API answer, table item, event, sink delivery or dev-server log
// line.
func TestFailedImportReachesTheSignedWebhook(t *testing.T) {
	st := localtest.Require(t)
	localtest.RequireDevServer(t) // the webhook sink, the events list and the dev server's log
	base := strings.TrimSuffix(os.Getenv("AWS_ENDPOINT_URL_SESV2"), "/")
	apiURL := os.Getenv("BULKOPS_API_URL")
	if base == "" || apiURL == "" || os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER") == "" {
		t.Fatal("AWS_ENDPOINT_URL_SESV2, AWS_ENDPOINT_URL_SECRETS_MANAGER or BULKOPS_API_URL is not set; source infra/local/env.sh")
	}
	ctx := context.Background()
	stack := devstack.Names{Template: st.Names.Template, Prefix: "bulkops-local-"}
	ref := func(id string) string { v, _ := stack.Ref(id); return v }
	// The stack names the secrets under its own prefix, as template.yaml
	// sets BULKOPS_NOTIFY_SECRET_PREFIX (${AWS::StackName}/notifications/).
	apiEnv, err := stack.Env("ApiFunction", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	names := notify.Policy{SecretPrefix: apiEnv(config.NotifySecretPrefixVar)}
	if names.SecretPrefix != "bulkops-local/notifications/" {
		t.Fatalf("the stack's webhook secret prefix is %q", names.SecretPrefix)
	}
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{Objects: ref("ObjectsTable"), Jobs: ref("JobsTable"), Control: ref("ControlTable")}, time.Now)
	tenant := strings.Trim(localtest.UniquePrefix(t), "-")
	sink := base + "/_local/webhooks/" + tenant
	var b [24]byte
	_, _ = rand.Read(b[:])
	secret := "whsec_" + hex.EncodeToString(b[:]) // 54 characters, unique to this run
	t.Cleanup(func() { _ = db.SetNotificationContact(context.Background(), tenant, notify.Contact{Tenant: tenant}) })

	var answers [][]byte
	answers = append(answers, putAPIContact(t, st, apiURL, tenant, bulkapi.NotificationSettingsUpdate{Webhook: sink, WebhookSecret: secret}))
	_, raw := apiCall(t, st, apiURL, tenant, http.MethodGet, "/v1/settings/notifications", nil)
	answers = append(answers, raw)

	// The secret is in the stack's Secrets Manager under the tenant's
	// name, tagged with it; the contact holds only its ARN.
	sm := secretsmanager.NewFromConfig(st.Config)
	desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(names.SecretName(tenant))})
	if err != nil {
		t.Fatal(err)
	}
	tagged := false
	for _, tg := range desc.Tags {
		tagged = tagged || (aws.ToString(tg.Key) == secretstore.TenantTag && aws.ToString(tg.Value) == tenant)
	}
	ts, err := db.TenantSettings(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if !tagged || ts.Notification.SecretRef != aws.ToString(desc.ARN) {
		t.Fatalf("secret %s tags %v; the contact references %q", aws.ToString(desc.ARN), desc.Tags, ts.Notification.SecretRef)
	}

	// An import that fails: its header names no column of the type.
	key := "imports/" + tenant + "/work-type/broken.csv"
	if _, err := st.Clients.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(ref("DataBucket")), Key: aws.String(key),
		Body: strings.NewReader("Nope,Columns\n1,2\n")}); err != nil {
		t.Fatal(err)
	}
	hooks := waitDeliveries(t, sink, 1, 90*time.Second)
	if len(hooks) != 1 {
		t.Fatalf("the sink got %d deliveries within 90 s, want 1", len(hooks))
	}
	if err := notify.Verify([]byte(secret), hooks[0].Headers[notify.SignatureHeader], []byte(hooks[0].Body), time.Now(), 0); err != nil {
		t.Fatalf("the delivery does not verify with the tenant's secret: %v", err)
	}
	var p struct {
		Type, Tenant, Phase string
		Job                 struct{ ID, FileName string }
	}
	if err := json.Unmarshal([]byte(hooks[0].Body), &p); err != nil || p.Type != string(notify.ImportFailed) || p.Tenant != tenant ||
		p.Job.ID == "" || p.Job.FileName != "broken.csv" {
		t.Fatalf("payload %s (%v)", hooks[0].Body, err)
	}

	// A new secret replaces the old: a new version of the same secret.
	_, _ = rand.Read(b[:])
	second := "whsec_" + hex.EncodeToString(b[:])
	answers = append(answers, putAPIContact(t, st, apiURL, tenant, bulkapi.NotificationSettingsUpdate{Webhook: sink, WebhookSecret: second}))
	v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(names.SecretName(tenant))})
	if err != nil || aws.ToString(v.SecretString) != second {
		t.Fatalf("the secret after the replacement: %v", err)
	}
	if ts, _ := db.TenantSettings(ctx, tenant); ts.Notification.SecretRef != aws.ToString(desc.ARN) {
		t.Fatalf("the contact references %q after the replacement, want %s", ts.Notification.SecretRef, aws.ToString(desc.ARN))
	}

	// The secrets appear nowhere but in Secrets Manager.
	places := map[string][]byte{"the webhook delivery": []byte(fmt.Sprint(hooks[0].Headers, hooks[0].Body))}
	for i, a := range answers {
		places[fmt.Sprintf("API answer %d", i+1)] = a
	}
	for _, table := range []string{ref("JobsTable"), ref("ControlTable"), ref("ObjectsTable")} {
		var items bytes.Buffer
		p := dynamodb.NewScanPaginator(st.Clients.DynamoDB, &dynamodb.ScanInput{TableName: aws.String(table)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprint(&items, page.Items)
			for _, it := range page.Items {
				j, _ := json.Marshal(it)
				items.Write(j)
			}
		}
		places["table "+table] = items.Bytes()
	}
	resp, err := http.Get(base + "/_local/events")
	if err != nil {
		t.Fatal(err)
	}
	events, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	places["the stack's events"] = events
	logs, err := os.ReadFile(filepath.Join(st.Root, ".tools", "run", "devserver.log"))
	if err != nil {
		t.Fatal(err)
	}
	places["the dev server's log"] = logs
	for where, text := range places {
		for _, s := range []string{secret, second} {
			if bytes.Contains(text, []byte(s)) {
				t.Errorf("a webhook secret appears in %s", where)
			}
		}
	}
	if !bytes.Contains(logs, []byte(tenant)) {
		t.Errorf("the dev server's log names nothing of tenant %s: not the log the stack writes?", tenant)
	}
}
