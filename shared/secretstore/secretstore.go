// Package secretstore keeps delivery targets' credentials in AWS Secrets
// Manager: one secret per target, named <prefix><tenant>/<target ID> and
// tagged with the tenant, holding delivery.EncodeCredential's JSON. Only
// the secret's ARN is kept elsewhere (in the target). Values are never
// logged nor returned in an error; a read refuses an ARN outside the
// calling tenant's names, so one tenant's target can never name another's
// secret. WebhookSecrets keeps the tenants' webhook signing secrets the
// same way (notify.Policy.SecretName's names).
package secretstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
)

// API is the part of the Secrets Manager client the store calls.
type API interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

// DefaultPrefix starts the names of the targets' secrets when Store.Prefix
// is empty.
const DefaultPrefix = "bulkops/targets/"

// TenantTag is the tag key that names a secret's tenant.
const TenantTag = "bulkops:tenant"

// Store keeps credentials in Secrets Manager.
type Store struct {
	API API
	// Prefix starts every secret name (DefaultPrefix when empty); the
	// template's IAM policy grants access to names under it only.
	Prefix string
	// RecoveryDays is the recovery window of a deleted secret (7 to 30;
	// 0: 7). Force deletes at once, without one.
	RecoveryDays int32
	Force        bool
	Log          *slog.Logger
}

var _ delivery.CredentialSource = (*Store)(nil)

var (
	tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	idPattern     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

func (s *Store) prefix() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

// Name returns the secret name of a tenant's target.
func (s *Store) Name(tenant, targetID string) string {
	return s.prefix() + tenant + "/" + targetID
}

// Create stores c as the credential of the tenant's target and returns
// the secret's ARN.
func (s *Store) Create(ctx context.Context, tenant, targetID string, c delivery.Credential) (string, error) {
	if !tenantPattern.MatchString(tenant) || !idPattern.MatchString(targetID) {
		return "", bulkerr.New(bulkerr.Invalid, "secret for tenant %q, target %q: not a valid tenant and target ID", tenant, targetID)
	}
	value, err := delivery.EncodeCredential(c)
	if err != nil {
		return "", err
	}
	name := s.Name(tenant, targetID)
	out, err := s.API.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		Description:  aws.String("bulkops delivery credential of tenant " + tenant + ", target " + targetID),
		SecretString: aws.String(value),
		Tags:         []smtypes.Tag{{Key: aws.String(TenantTag), Value: aws.String(tenant)}},
	})
	if err != nil {
		return "", s.fail(ctx, "create", name, err)
	}
	s.info(ctx, "delivery credential stored", name)
	return aws.ToString(out.ARN), nil
}

// Credential reads the credential in the secret ref (an ARN from Create),
// refusing a secret outside the tenant's names.
func (s *Store) Credential(ctx context.Context, tenant, ref string) (delivery.Credential, error) {
	if err := s.owned(tenant, ref); err != nil {
		return delivery.Credential{}, err
	}
	out, err := s.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref)})
	if err != nil {
		return delivery.Credential{}, s.fail(ctx, "read", ref, err)
	}
	c, err := delivery.DecodeCredential(aws.ToString(out.SecretString))
	if err != nil {
		return delivery.Credential{}, err
	}
	return c, nil
}

// Put replaces the credential in the secret ref with c (a new version
// becomes AWSCURRENT: rotation).
func (s *Store) Put(ctx context.Context, tenant, ref string, c delivery.Credential) error {
	if err := s.owned(tenant, ref); err != nil {
		return err
	}
	value, err := delivery.EncodeCredential(c)
	if err != nil {
		return err
	}
	if _, err := s.API.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(ref), SecretString: aws.String(value)}); err != nil {
		return s.fail(ctx, "replace", ref, err)
	}
	s.info(ctx, "delivery credential replaced", ref)
	return nil
}

// Delete deletes the secret ref (with the recovery window, unless Force).
// A secret already gone is not an error.
func (s *Store) Delete(ctx context.Context, tenant, ref string) error {
	if err := s.owned(tenant, ref); err != nil {
		return err
	}
	in := &secretsmanager.DeleteSecretInput{SecretId: aws.String(ref)}
	if s.Force {
		in.ForceDeleteWithoutRecovery = aws.Bool(true)
	} else {
		days := s.RecoveryDays
		if days == 0 {
			days = 7
		}
		in.RecoveryWindowInDays = aws.Int64(int64(days))
	}
	if _, err := s.API.DeleteSecret(ctx, in); err != nil {
		var nf *smtypes.ResourceNotFoundException
		var ir *smtypes.InvalidRequestException
		if errors.As(err, &nf) || (errors.As(err, &ir) && strings.Contains(ir.ErrorMessage(), "scheduled for deletion")) {
			return nil
		}
		return s.fail(ctx, "delete", ref, err)
	}
	s.info(ctx, "delivery credential deleted", ref)
	return nil
}

// owned checks that ref names a secret of tenant's: an ARN whose name is
// under <prefix><tenant>/ (the ARN's name ends with "-" and six random
// characters).
func (s *Store) owned(tenant, ref string) error {
	_, name, ok := strings.Cut(ref, ":secret:")
	if !ok || !strings.HasPrefix(ref, "arn:") || !tenantPattern.MatchString(tenant) ||
		!strings.HasPrefix(name, s.prefix()+tenant+"/") {
		return bulkerr.New(bulkerr.Invalid, "the credential reference is not a secret of tenant %s", tenant)
	}
	return nil
}

func (s *Store) info(ctx context.Context, msg, ref string) {
	if s.Log != nil {
		s.Log.InfoContext(ctx, msg, "secret", ref)
	}
}

// fail maps a Secrets Manager error to a kind. The AWS error's message
// names the secret, never its value.
func (s *Store) fail(ctx context.Context, op, ref string, err error) error {
	var (
		nf  *smtypes.ResourceNotFoundException
		ex  *smtypes.ResourceExistsException
		ir  *smtypes.InvalidRequestException
		ip  *smtypes.InvalidParameterException
		api smithy.APIError
	)
	var out error
	switch {
	case errors.As(err, &nf):
		out = bulkerr.Wrap(bulkerr.NotFound, err, "the credential's secret does not exist")
	case errors.As(err, &ex):
		out = bulkerr.Wrap(bulkerr.Conflict, err, "a credential is already stored for this target")
	case errors.As(err, &ir):
		out = bulkerr.Wrap(bulkerr.Invalid, err, "the credential's secret cannot be used: %s", ir.ErrorMessage())
	case errors.As(err, &ip):
		out = bulkerr.Wrap(bulkerr.Invalid, err, "Secrets Manager refused the request: %s", ip.ErrorMessage())
	case errors.As(err, &api) && (api.ErrorCode() == "AccessDeniedException" || api.ErrorCode() == "AccessDenied"):
		out = bulkerr.Wrap(bulkerr.Internal, err, "the service may not %s this secret", op)
	default:
		out = bulkerr.Wrap(bulkerr.Transient, err, "Secrets Manager could not %s the credential", op)
	}
	if s.Log != nil {
		s.Log.WarnContext(ctx, "secret "+op+" failed", "secret", ref, "error", fmt.Sprint(err))
	}
	return out
}
