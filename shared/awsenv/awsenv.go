// Package awsenv loads the AWS configuration once per process and builds the
// service clients. Endpoints come only from the SDK's own configuration
// (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, or endpoint_url in the
// shared config file), so the same code talks to AWS, to LocalStack or to
// the project's local stack. Whether a client talks to an emulator is read
// from the endpoint the SDK resolved for it, never from the environment
// directly.
package awsenv

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Load reads the shared AWS configuration (region, credentials, endpoints)
// from the environment. Under a context made by WithHTTPWrapper the
// clients' HTTP client is wrapped.
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if wrap, ok := ctx.Value(httpWrapperKey{}).(func(aws.HTTPClient) aws.HTTPClient); ok && err == nil {
		if cfg.HTTPClient == nil {
			cfg.HTTPClient = awshttp.NewBuildableClient()
		}
		cfg.HTTPClient = wrap(cfg.HTTPClient)
	}
	return cfg, err
}

type httpWrapperKey struct{}

// WithHTTPWrapper returns a context under which Load wraps the clients'
// HTTP client (the SDK's, with its CA bundle and settings) with wrap. Only
// the local dev server uses it (its Lambda sandboxes refuse the requests
// of timed-out invocations); the functions never do.
func WithHTTPWrapper(ctx context.Context, wrap func(aws.HTTPClient) aws.HTTPClient) context.Context {
	return context.WithValue(ctx, httpWrapperKey{}, wrap)
}

// S3 returns an S3 client. When an endpoint URL is configured for S3 (a
// local or emulated S3) it uses path-style addressing, which those servers
// need.
func S3(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		// The SDK has resolved the configured endpoint (the service's own,
		// else the global one) into BaseEndpoint before these options run.
		o.UsePathStyle = o.BaseEndpoint != nil
		// Validate response checksums only where S3 requires them: ranged
		// reads of whole-object checksums cannot be validated, and
		// S3-compatible servers differ in what they return.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
}

// DynamoDB returns a DynamoDB client. Against an endpoint URL (DynamoDB
// Local, LocalStack) it does not check the X-Amz-Crc32 response header,
// which DynamoDB Local does not compute over what it sends.
func DynamoDB(cfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = o.BaseEndpoint != nil })
}

// SFN returns a Step Functions client.
func SFN(cfg aws.Config) *sfn.Client { return sfn.NewFromConfig(cfg) }

// EventBridge returns an EventBridge client.
func EventBridge(cfg aws.Config) *eventbridge.Client { return eventbridge.NewFromConfig(cfg) }

// Lambda returns a Lambda client.
func Lambda(cfg aws.Config) *lambda.Client { return lambda.NewFromConfig(cfg) }

// SecretsManager returns a Secrets Manager client.
func SecretsManager(cfg aws.Config) *secretsmanager.Client { return secretsmanager.NewFromConfig(cfg) }

// STS returns an STS client (AssumeRole into tenants' delivery roles).
func STS(cfg aws.Config) *sts.Client { return sts.NewFromConfig(cfg) }
