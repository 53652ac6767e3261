package secretstore

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/notify"
)

// WebhookSecrets keeps tenants' webhook signing secrets in Secrets
// Manager, one secret per tenant named Names.SecretName(tenant)
// (<stack>/notifications/<tenant>/webhook on AWS,
// bulkops/notifications/<tenant>/webhook by default) and tagged with the
// tenant.
// The API writes them (PutWebhookSecret); the notifier reads them
// (SecretValue). The value is the secret itself, never logged nor put in
// an error.
type WebhookSecrets struct {
	API API
	// Names gives the secrets' names (its SecretPrefix; the zero Policy:
	// notify.DefaultSecretPrefix).
	Names notify.Policy
	Log   *slog.Logger
}

var _ notify.Secrets = WebhookSecrets{}

// PutWebhookSecret stores secret as tenant's webhook signing secret: it
// creates the secret, or, when the tenant has one already, writes the new
// value as its current version (the old one stays as AWSPREVIOUS). It
// returns the secret's ARN.
func (w WebhookSecrets) PutWebhookSecret(ctx context.Context, tenant, secret string) (string, error) {
	if !tenantPattern.MatchString(tenant) {
		return "", bulkerr.New(bulkerr.Invalid, "webhook secret of tenant %q: not a valid tenant", tenant)
	}
	if err := notify.ValidateSecret(secret); err != nil {
		return "", err
	}
	name := w.Names.SecretName(tenant)
	out, err := w.API.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		Description:  aws.String("bulkops webhook signing secret of tenant " + tenant),
		SecretString: aws.String(secret),
		Tags:         []smtypes.Tag{{Key: aws.String(TenantTag), Value: aws.String(tenant)}},
	})
	if err == nil {
		w.store().info(ctx, "webhook secret stored", name)
		return aws.ToString(out.ARN), nil
	}
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		return "", w.store().fail(ctx, "store", name, err)
	}
	put, err := w.API.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(secret)})
	if err != nil {
		return "", w.store().fail(ctx, "replace", name, err)
	}
	w.store().info(ctx, "webhook secret replaced", name)
	return aws.ToString(put.ARN), nil
}

// SecretValue reads the webhook signing secret ref (a name or ARN of
// Names.SecretName's form; the notifier checked its tenant).
func (w WebhookSecrets) SecretValue(ctx context.Context, ref string) ([]byte, error) {
	out, err := w.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref)})
	if err != nil {
		return nil, w.store().fail(ctx, "read", ref, err)
	}
	if out.SecretString == nil {
		return nil, bulkerr.New(bulkerr.Invalid, "the webhook secret %s holds no text", ref)
	}
	return []byte(aws.ToString(out.SecretString)), nil
}

// store lends the Store's logging and error mapping.
func (w WebhookSecrets) store() *Store { return &Store{API: w.API, Log: w.Log} }
