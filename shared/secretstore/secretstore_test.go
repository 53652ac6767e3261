package secretstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/notify"
)

const secretWord = "pa55-never-in-logs-7f3a"

// localClient serves the dev stack's Secrets Manager on 127.0.0.1 under
// /secretsmanager, as cmd/devserver does, and returns a client of it.
func localClient(t *testing.T, logs *bytes.Buffer) *secretsmanager.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("POST /secretsmanager", devstack.NewSecretsManager(slog.New(slog.NewJSONHandler(logs, nil))))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return secretsmanager.New(secretsmanager.Options{
		Region: devstack.Region, BaseEndpoint: aws.String(srv.URL + "/secretsmanager"),
		Credentials: credentials.NewStaticCredentialsProvider("local", "localsecret", ""),
	})
}

// clients: the in-test server, and the running stack's (BULKOPS_INTEGRATION,
// through AWS_ENDPOINT_URL_SECRETS_MANAGER).
func clients(t *testing.T, logs *bytes.Buffer) map[string]*secretsmanager.Client {
	out := map[string]*secretsmanager.Client{"local": localClient(t, logs)}
	if os.Getenv("BULKOPS_INTEGRATION") != "" {
		if os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER") == "" {
			t.Fatal("BULKOPS_INTEGRATION is set but AWS_ENDPOINT_URL_SECRETS_MANAGER is not (source infra/local/env.sh)")
		}
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out["stack"] = secretsmanager.NewFromConfig(cfg)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	var serverLogs bytes.Buffer
	for name, client := range clients(t, &serverLogs) {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			ctx := context.Background()
			st := &Store{API: client, Prefix: "bulkops-test-" + randomID(t) + "/", Log: slog.New(slog.NewJSONHandler(&logs, nil)), Force: name == "local"}
			arn, err := st.Create(ctx, "acme", "t1", delivery.Credential{Password: secretWord})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(arn, ":secret:"+st.Prefix+"acme/t1-") {
				t.Errorf("ARN %s", arn)
			}
			c, err := st.Credential(ctx, "acme", arn)
			if err != nil || c.Password != secretWord {
				t.Fatalf("Credential = %v", err)
			}
			// A second create for the same target is a conflict.
			if _, err := st.Create(ctx, "acme", "t1", delivery.Credential{Password: "x"}); bulkerr.KindOf(err) != bulkerr.Conflict {
				t.Errorf("second Create = %v, want Conflict", err)
			}
			// Another tenant may not read it, whatever ARN it names.
			if _, err := st.Credential(ctx, "other", arn); bulkerr.KindOf(err) != bulkerr.Invalid {
				t.Errorf("other tenant's read = %v, want Invalid", err)
			}
			// Rotation: the new value is current.
			keyBody := base64.StdEncoding.EncodeToString([]byte(secretWord + secretWord))
			key := "-----BEGIN OPENSSH PRIVATE KEY-----\n" + keyBody + "\n-----END OPENSSH PRIVATE KEY-----\n"
			if err := st.Put(ctx, "acme", arn, delivery.Credential{PrivateKey: key}); err != nil {
				t.Fatal(err)
			}
			if c, err = st.Credential(ctx, "acme", arn); err != nil || c.PrivateKey != key || c.Password != "" {
				t.Fatalf("after Put: %v", err)
			}
			// Secrets Manager keeps the previous version as AWSPREVIOUS.
			prev, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSPREVIOUS")})
			if err != nil || !strings.Contains(aws.ToString(prev.SecretString), secretWord) {
				t.Errorf("AWSPREVIOUS = %v", err)
			}
			desc, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
			if err != nil || len(desc.Tags) != 1 || aws.ToString(desc.Tags[0].Value) != "acme" || len(desc.VersionIdsToStages) != 2 {
				t.Errorf("DescribeSecret = %+v, %v", desc, err)
			}
			if err := st.Delete(ctx, "acme", arn); err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, "acme", arn); err != nil {
				t.Errorf("second Delete = %v, want nil", err)
			}
			_, err = st.Credential(ctx, "acme", arn)
			if k := bulkerr.KindOf(err); k != bulkerr.NotFound && k != bulkerr.Invalid {
				t.Errorf("read after delete = %v", err)
			}
			if all := logs.String() + serverLogs.String(); strings.Contains(all, secretWord) || strings.Contains(all, keyBody) {
				t.Errorf("the secret is in the logs:\n%s\n%s", logs.String(), serverLogs.String())
			}
			if !strings.Contains(logs.String(), "delivery credential stored") {
				t.Errorf("no log line: %s", logs.String())
			}
		})
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	st := &Store{API: localClient(t, &bytes.Buffer{})}
	ctx := context.Background()
	for _, tt := range []struct{ tenant, id string }{{"../x", "t1"}, {"acme", "a/b"}, {"", "t1"}} {
		if _, err := st.Create(ctx, tt.tenant, tt.id, delivery.Credential{Password: "p"}); bulkerr.KindOf(err) != bulkerr.Invalid {
			t.Errorf("Create(%q, %q) = %v", tt.tenant, tt.id, err)
		}
	}
	if _, err := st.Create(ctx, "acme", "t1", delivery.Credential{}); bulkerr.KindOf(err) != bulkerr.Invalid {
		t.Errorf("empty credential: %v", err)
	}
	if _, err := st.Credential(ctx, "acme", "arn:aws:secretsmanager:us-east-1:000000000000:secret:elsewhere/acme/t1-abcdef"); bulkerr.KindOf(err) != bulkerr.Invalid {
		t.Errorf("a secret outside the prefix: %v", err)
	}
	if _, err := st.Credential(ctx, "acme", "arn:aws:secretsmanager:us-east-1:000000000000:secret:bulkops/targets/acme/none-abcdef"); bulkerr.KindOf(err) != bulkerr.NotFound {
		t.Errorf("a missing secret: %v", err)
	}
}

// TestProtocolErrors checks the local server's AWS error shapes through
// the SDK, which decodes them into its typed errors.
func TestProtocolErrors(t *testing.T) {
	c := localClient(t, &bytes.Buffer{})
	ctx := context.Background()
	_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	var nf *smtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("missing secret: %v", err)
	}
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("a"), SecretString: aws.String("v")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("a"), SecretString: aws.String("v")})
	var ex *smtypes.ResourceExistsException
	if !errors.As(err, &ex) {
		t.Errorf("existing secret: %v", err)
	}
	_, err = c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("a"), ForceDeleteWithoutRecovery: aws.Bool(true), RecoveryWindowInDays: aws.Int64(7)})
	var ip *smtypes.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Errorf("force and window: %v", err)
	}
	if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("a"), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("a")})
	var ir *smtypes.InvalidRequestException
	if !errors.As(err, &ir) || !strings.Contains(ir.ErrorMessage(), "marked for deletion") {
		t.Errorf("deleted secret: %v", err)
	}
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("a"), SecretString: aws.String("v")})
	if !errors.As(err, &ir) {
		t.Errorf("create over a deleted name: %v", err)
	}
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bad name!"), SecretString: aws.String("v")})
	if !errors.As(err, &ip) {
		t.Errorf("bad name: %v", err)
	}
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("big"), SecretString: aws.String(strings.Repeat("x", 65537))})
	if !errors.As(err, &ip) {
		t.Errorf("too big: %v", err)
	}
	// A partial ARN (without the random suffix) finds the secret.
	out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("b"), SecretString: aws.String("v")})
	if err != nil {
		t.Fatal(err)
	}
	partial := aws.ToString(out.ARN)[:len(aws.ToString(out.ARN))-7]
	if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(partial)}); err != nil {
		t.Errorf("partial ARN: %v", err)
	}
}

func TestUnsignedRequestRefused(t *testing.T) {
	srv := httptest.NewServer(devstack.NewSecretsManager(nil))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"SecretId":"a"}`))
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
	}
}

func randomID(t *testing.T) string {
	return strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + strings.TrimPrefix(strings.ToLower(devstackSuffix()), "-")
}

func devstackSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TestWebhookSecrets: a tenant's webhook signing secret is created under
// its name, tagged with the tenant, replaced by a new version on the next
// put (same ARN), read back, and never logged; a bad tenant or secret is
// refused before Secrets Manager is called.
func TestWebhookSecrets(t *testing.T) {
	var serverLogs bytes.Buffer
	for name, client := range clients(t, &serverLogs) {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			ctx := context.Background()
			ws := WebhookSecrets{API: client, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
			tenant := "wh-" + strings.ToLower(randomID(t))
			first, second := "whsec-"+secretWord+"-first-0001", "whsec-"+secretWord+"-second-002"
			arn, err := ws.PutWebhookSecret(ctx, tenant, first)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(arn, ":secret:bulkops/notifications/"+tenant+"/webhook-") {
				t.Errorf("ARN %s", arn)
			}
			if v, err := ws.SecretValue(ctx, arn); err != nil || string(v) != first {
				t.Fatalf("SecretValue = %q, %v", v, err)
			}
			again, err := ws.PutWebhookSecret(ctx, tenant, second)
			if err != nil || again != arn {
				t.Fatalf("replace: %s, %v (want the same ARN %s)", again, err, arn)
			}
			if v, err := ws.SecretValue(ctx, "bulkops/notifications/"+tenant+"/webhook"); err != nil || string(v) != second {
				t.Fatalf("SecretValue by name = %q, %v", v, err)
			}
			prev, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSPREVIOUS")})
			if err != nil || aws.ToString(prev.SecretString) != first {
				t.Errorf("AWSPREVIOUS: %v", err)
			}
			desc, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
			if err != nil || len(desc.Tags) != 1 || aws.ToString(desc.Tags[0].Key) != TenantTag || aws.ToString(desc.Tags[0].Value) != tenant {
				t.Errorf("tags %v, %v", desc.Tags, err)
			}
			if _, err := ws.SecretValue(ctx, "bulkops/notifications/nobody/webhook"); bulkerr.KindOf(err) != bulkerr.NotFound {
				t.Errorf("a missing secret: %v", err)
			}
			for _, c := range []struct{ tenant, secret string }{{"Bad Tenant", first}, {"", first}, {tenant, "short"}} {
				if _, err := ws.PutWebhookSecret(ctx, c.tenant, c.secret); bulkerr.KindOf(err) != bulkerr.Invalid {
					t.Errorf("PutWebhookSecret(%q, %q) = %v, want Invalid", c.tenant, c.secret, err)
				}
			}
			if name == "local" {
				_, _ = client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)})
			}
			if strings.Contains(logs.String(), secretWord) || strings.Contains(serverLogs.String(), secretWord) {
				t.Errorf("a secret is logged:\n%s\n%s", logs.String(), serverLogs.String())
			}
		})
	}
}

// TestWebhookSecretsPerStack: two stacks (two name prefixes, as
// BULKOPS_NOTIFY_SECRET_PREFIX sets them from ${AWS::StackName}) in one
// account keep one tenant's webhook secrets apart: each writes and reads
// its own name, and one stack's notifier policy refuses the other's
// reference.
func TestWebhookSecretsPerStack(t *testing.T) {
	var serverLogs bytes.Buffer
	for name, client := range clients(t, &serverLogs) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			log := slog.New(slog.NewJSONHandler(io.Discard, nil))
			id := strings.ToLower(randomID(t))
			a := WebhookSecrets{API: client, Names: notify.Policy{SecretPrefix: "stack-a-" + id + "/notifications/"}, Log: log}
			b := WebhookSecrets{API: client, Names: notify.Policy{SecretPrefix: "stack-b-" + id + "/notifications"}, Log: log} // the slash is added
			tenant := "acme"
			arnA, err := a.PutWebhookSecret(ctx, tenant, "whsec-"+secretWord+"-stack-a-01")
			if err != nil {
				t.Fatal(err)
			}
			arnB, err := b.PutWebhookSecret(ctx, tenant, "whsec-"+secretWord+"-stack-b-01")
			if err != nil {
				t.Fatal(err)
			}
			if arnA == arnB || !strings.Contains(arnA, ":secret:stack-a-"+id+"/notifications/acme/webhook-") || !strings.Contains(arnB, ":secret:stack-b-"+id+"/notifications/acme/webhook-") {
				t.Fatalf("ARNs %s and %s", arnA, arnB)
			}
			for _, c := range []struct {
				ws   WebhookSecrets
				arn  string
				want string
			}{{a, arnA, "stack-a-01"}, {b, arnB, "stack-b-01"}} {
				if v, err := c.ws.SecretValue(ctx, c.arn); err != nil || !strings.HasSuffix(string(v), c.want) {
					t.Errorf("SecretValue(%s) = %q, %v", c.arn, v, err)
				}
			}
			if !a.Names.SecretOfTenant(arnA, tenant) || a.Names.SecretOfTenant(arnB, tenant) || b.Names.SecretOfTenant(arnA, tenant) {
				t.Errorf("each stack's policy must accept only its own name")
			}
			if name == "local" {
				for _, arn := range []string{arnA, arnB} {
					_, _ = client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)})
				}
			}
		})
	}
}
