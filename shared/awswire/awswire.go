// Package awswire is where a function's start-up reads its settings and
// builds what talks to AWS, once per process: the typed configuration
// (package config, read from the environment once), the AWS configuration
// (package awsenv) and the AWS-backed adapters every function uses: the
// DynamoDB store, the S3 store and the job event publisher. Each
// function's assembly package (importapp, exportapp, apiapp, cleanupapp)
// calls Open once and plugs the adapters into its workflow's interfaces;
// the workflows never build an adapter themselves.
package awswire

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ccbulk/bulkops/shared/applog"
	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/delivery"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/s3deliver"
	"github.com/ccbulk/bulkops/shared/s3store"
	"github.com/ccbulk/bulkops/shared/secretstore"
	"github.com/ccbulk/bulkops/shared/sftpdeliver"
)

// Resources are one function's configuration and its AWS-backed
// adapters.
type Resources struct {
	Config config.Config
	// AWS is the AWS configuration the clients are built from (for the
	// function's own further clients: Lambda, Step Functions).
	AWS    aws.Config
	DB     *dynamostore.Store
	Files  *s3store.Store
	Events *jobevents.Publisher
}

// Open reads the configuration from getenv (checking that the variables
// named by required are set too, beyond those every function needs),
// loads the AWS configuration and builds the stores and the publisher.
func Open(ctx context.Context, getenv func(string) string, required ...string) (*Resources, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	if err := cfg.Require(required...); err != nil {
		return nil, err
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return &Resources{
		Config: cfg,
		AWS:    awsCfg,
		DB: dynamostore.New(awsenv.DynamoDB(awsCfg), dynamostore.Tables{
			Objects: cfg.ObjectsTable, Jobs: cfg.JobsTable, Control: cfg.ControlTable,
		}, time.Now),
		Files:  s3store.New(awsenv.S3(awsCfg), cfg.Bucket),
		Events: jobevents.New(awsenv.EventBridge(awsCfg), cfg.EventBus),
	}, nil
}

// Logger returns the function's JSON logger on w, at the configured level.
func (r *Resources) Logger(w io.Writer) *slog.Logger { return applog.New(w, r.Config.LogLevel) }

// Delivery builds what delivers export files to targets: the credential
// store (Secrets Manager, names under the configured SecretPrefix) and a
// deliverer per kind (SFTP with credentials from that store; the tenant's
// bucket through STS AssumeRole).
func (r *Resources) Delivery(log *slog.Logger) (*secretstore.Store, delivery.ByKind) {
	return Delivery(r.AWS, r.Config.SecretPrefix, log)
}

// WebhookSecrets builds the store of the tenants' webhook signing secrets
// (Secrets Manager, names <NotifySecretPrefix><tenant>/webhook): the API
// writes them, the notifier reads them.
func (r *Resources) WebhookSecrets(log *slog.Logger) secretstore.WebhookSecrets {
	return secretstore.WebhookSecrets{API: awsenv.SecretsManager(r.AWS), Names: r.NotifyPolicy(), Log: log}
}

// NotifyPolicy is what the configuration lets a notification contact be
// (loopback webhooks locally) and where its signing secret is named.
func (r *Resources) NotifyPolicy() notify.Policy {
	return notify.Policy{AllowLoopbackHTTP: r.Config.NotifyAllowLoopback, SecretPrefix: r.Config.NotifySecretPrefix}
}

// testTimeout bounds a target's connection test.
const testTimeout = 20 * time.Second

// Delivery is Resources.Delivery from an AWS configuration and a secret
// name prefix (tests use it with their own).
func Delivery(cfg aws.Config, secretPrefix string, log *slog.Logger) (*secretstore.Store, delivery.ByKind) {
	secrets := &secretstore.Store{API: awsenv.SecretsManager(cfg), Prefix: secretPrefix, Log: log}
	return secrets, delivery.ByKind{
		// A connection test answers within API Gateway's 30 seconds.
		delivery.KindSFTP:     &sftpdeliver.Deliverer{Credentials: secrets, TestTimeout: testTimeout, Log: log},
		delivery.KindS3Bucket: &s3deliver.Deliverer{STS: awsenv.STS(cfg), Base: cfg, NewS3: awsenv.S3, TestTimeout: testTimeout, Log: log},
	}
}
