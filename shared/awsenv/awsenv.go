// Package awsenv loads the AWS configuration once per process and builds the
// service clients. Endpoints come only from the SDK's own environment
// variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>), so the same code
// talks to AWS, to LocalStack or to the project's local stack.
package awsenv

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// Load reads the shared AWS configuration (region, credentials, endpoints)
// from the environment. A context made by WithHTTPClient gives the
// clients that HTTP client instead of the SDK's default.
func Load(ctx context.Context) (aws.Config, error) {
	if c, ok := ctx.Value(httpClientKey{}).(aws.HTTPClient); ok {
		return config.LoadDefaultConfig(ctx, config.WithHTTPClient(c))
	}
	return config.LoadDefaultConfig(ctx)
}

type httpClientKey struct{}

// WithHTTPClient returns a context under which Load configures the clients
// with c. Only the local dev server uses it (its Lambda sandboxes refuse
// the requests of timed-out invocations); the functions never do.
func WithHTTPClient(ctx context.Context, c aws.HTTPClient) context.Context {
	return context.WithValue(ctx, httpClientKey{}, c)
}

// S3 returns an S3 client. When an endpoint URL is configured (a local or
// emulated S3) it uses path-style addressing, which those servers need.
func S3(cfg aws.Config) *s3.Client {
	pathStyle := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
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
	local := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = local })
}

// SFN returns a Step Functions client.
func SFN(cfg aws.Config) *sfn.Client { return sfn.NewFromConfig(cfg) }

// EventBridge returns an EventBridge client.
func EventBridge(cfg aws.Config) *eventbridge.Client { return eventbridge.NewFromConfig(cfg) }

// Lambda returns a Lambda client.
func Lambda(cfg aws.Config) *lambda.Client { return lambda.NewFromConfig(cfg) }
