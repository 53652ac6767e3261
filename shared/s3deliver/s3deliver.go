// Package s3deliver delivers files into a tenant's own S3 bucket
// (delivery.KindS3Bucket targets): it assumes the role the tenant lets the
// service assume, with the tenant's ID as the external ID, and writes with
// the role's temporary credentials only. The session is narrowed by an
// inline session policy to writing under the target's prefix, whatever
// else the tenant's role allows; the bucket must belong to the role's
// account (ExpectedBucketOwner).
//
// A file up to PartSize is one PutObject; a larger one a multipart upload
// of PartSize parts (memory stays at one part), which S3 makes visible
// under its name only when complete, so a stable name is replaced whole.
// Every failure is a *delivery.Error naming its phase.
package s3deliver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
)

// AssumeRoler is the part of the STS client the deliverer calls.
type AssumeRoler interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// Defaults of a Deliverer.
const (
	DefaultSessionName = "bulkops-delivery"
	DefaultDuration    = 15 * time.Minute
	DefaultPartSize    = 8 << 20
	MinPartSize        = 5 << 20 // S3's smallest part but the last
	DefaultTimeout     = 10 * time.Minute
	DefaultTestTimeout = 30 * time.Second
)

// Deliverer delivers to tenants' buckets.
type Deliverer struct {
	STS AssumeRoler
	// Base is the service's AWS configuration: the tenant's S3 client is
	// built from it with the assumed role's credentials and the target's
	// region.
	Base aws.Config
	// NewS3 builds the S3 client (awsenv.S3 for path-style addressing on a
	// local endpoint); s3.NewFromConfig when nil.
	NewS3 func(aws.Config) *s3.Client
	// SessionName names the role session (DefaultSessionName).
	SessionName string
	// Duration of the role's credentials (DefaultDuration).
	Duration time.Duration
	// PartSize is the most a single PutObject carries and the size of a
	// multipart upload's parts (DefaultPartSize; at least MinPartSize).
	PartSize int64
	// Timeout bounds a delivery, TestTimeout a connection test.
	Timeout, TestTimeout time.Duration
	Log                  *slog.Logger
}

var _ delivery.Deliverer = (*Deliverer)(nil)

// Deliver writes r as <prefix><name> in the tenant's bucket.
func (d *Deliverer) Deliver(ctx context.Context, t delivery.Target, name string, r io.Reader) (delivery.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, or(d.Timeout, DefaultTimeout))
	defer cancel()
	if err := delivery.CheckName(name); err != nil {
		return delivery.Receipt{}, err
	}
	s, err := d.open(ctx, t)
	if err != nil {
		d.logResult(ctx, t, "deliver", err)
		return delivery.Receipt{}, err
	}
	key := t.Bucket.Prefix + name
	n, err := s.upload(ctx, key, r, d.partSize())
	d.logResult(ctx, t, "deliver", err, "key", key, "bytes", n)
	if err != nil {
		return delivery.Receipt{}, err
	}
	return delivery.Receipt{Destination: "s3://" + t.Bucket.Bucket + "/" + key, RemoteName: name, Bytes: n}, nil
}

// Test assumes the role, writes a probe object under the prefix and
// deletes it.
func (d *Deliverer) Test(ctx context.Context, t delivery.Target) delivery.TestResult {
	ctx, cancel := context.WithTimeout(ctx, or(d.TestTimeout, DefaultTestTimeout))
	defer cancel()
	s, err := d.open(ctx, t)
	var note string
	if err == nil {
		key := t.Bucket.Prefix + ".bulkops-probe-" + randomSuffix()
		_, err = s.upload(ctx, key, strings.NewReader("bulkops connection test; safe to delete\n"), d.partSize())
		if err == nil {
			if _, derr := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(t.Bucket.Bucket), Key: aws.String(key), ExpectedBucketOwner: s.owner}); derr != nil {
				// A role that may write but not delete is enough for
				// deliveries: say so, do not fail.
				note = fmt.Sprintf(" (the probe object %s could not be deleted: %s)", key, errorCode(derr))
			}
		}
	}
	d.logResult(ctx, t, "test", err)
	return delivery.Outcome(err, fmt.Sprintf("reached bucket %s in %s, assumed role %s, prefix %s writable%s",
		t.Bucket.Bucket, t.Bucket.Region, t.Bucket.RoleARN, prefixLabel(t.Bucket.Prefix), note))
}

func (d *Deliverer) partSize() int64 {
	if d.PartSize < MinPartSize {
		if d.PartSize > 0 {
			return MinPartSize
		}
		return DefaultPartSize
	}
	return d.PartSize
}

func (d *Deliverer) logResult(ctx context.Context, t delivery.Target, op string, err error, kv ...any) {
	if t.Bucket != nil {
		kv = append([]any{"bucket", t.Bucket.Bucket}, kv...)
	}
	delivery.LogResult(ctx, d.Log, "s3", t, op, err, kv...)
}

// session is an S3 client with the tenant role's credentials.
type session struct {
	t      delivery.Target
	client *s3.Client
	owner  *string // the role's account: the bucket's expected owner
}

func (d *Deliverer) open(ctx context.Context, t delivery.Target) (*session, error) {
	if t.KindOrDefault() != delivery.KindS3Bucket || t.Bucket == nil {
		return nil, delivery.Fail(delivery.PhaseConfig, bulkerr.Invalid, nil, "target %s is not a bucket target", t.ID)
	}
	if err := t.ValidateStored(); err != nil {
		return nil, delivery.Fail(delivery.PhaseConfig, bulkerr.Invalid, err, "%s", bulkerr.Message(err))
	}
	b := t.Bucket
	policy, err := SessionPolicy(b.Bucket, b.Prefix)
	if err != nil {
		return nil, delivery.Fail(delivery.PhaseConfig, bulkerr.Internal, err, "session policy")
	}
	out, err := d.STS.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(b.RoleARN),
		RoleSessionName: aws.String(or(d.SessionName, DefaultSessionName)),
		ExternalId:      aws.String(delivery.ExternalID(t.Tenant)),
		DurationSeconds: aws.Int32(int32(or(d.Duration, DefaultDuration) / time.Second)),
		Policy:          aws.String(policy),
	})
	if err != nil {
		if transportError(err) {
			return nil, delivery.Fail(delivery.PhaseConnect, bulkerr.Transient, err, "STS could not be reached to assume role %s", b.RoleARN)
		}
		return nil, delivery.Fail(delivery.PhaseAuthenticate, bulkerr.Invalid, err,
			"the role %s could not be assumed with external ID %s (%s): its trust policy must allow this service with that external ID",
			b.RoleARN, delivery.ExternalID(t.Tenant), errorCode(err))
	}
	c := out.Credentials
	if c == nil {
		return nil, delivery.Fail(delivery.PhaseAuthenticate, bulkerr.Transient, nil, "STS returned no credentials for role %s", b.RoleARN)
	}
	cfg := d.Base.Copy()
	cfg.Region = b.Region
	cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
		aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)))
	newS3 := d.NewS3
	if newS3 == nil {
		newS3 = func(cfg aws.Config) *s3.Client { return s3.NewFromConfig(cfg) }
	}
	return &session{t: t, client: newS3(cfg), owner: aws.String(roleAccount(b.RoleARN))}, nil
}

// SessionPolicy is the inline policy of the role session: writing objects
// under the target's prefix (and aborting its own multipart uploads,
// deleting its probe object), nothing else.
func SessionPolicy(bucket, prefix string) (string, error) {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":   "Allow",
			"Action":   []string{"s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"},
			"Resource": "arn:aws:s3:::" + bucket + "/" + prefix + "*",
		}},
	}
	b, err := json.Marshal(doc)
	return string(b), err
}

// upload writes r to key: one PutObject when it fits a part, else a
// multipart upload.
func (s *session) upload(ctx context.Context, key string, r io.Reader, partSize int64) (int64, error) {
	bucket := aws.String(s.t.Bucket.Bucket)
	buf := make([]byte, partSize)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, delivery.Fail(delivery.PhaseWrite, bulkerr.Transient, err, "reading the file to deliver failed")
	}
	if int64(n) < partSize {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: bucket, Key: aws.String(key), Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
			ExpectedBucketOwner: s.owner,
		})
		if err != nil {
			return 0, s.writeError(err, key, 0)
		}
		return int64(n), nil
	}
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(key), ExpectedBucketOwner: s.owner})
	if err != nil {
		return 0, s.writeError(err, key, 0)
	}
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId, ExpectedBucketOwner: s.owner})
	}
	var parts []s3types.CompletedPart
	var total int64
	for num := int32(1); n > 0; num++ {
		if num > 10000 {
			abort()
			return total, delivery.Fail(delivery.PhaseWrite, bulkerr.Invalid, nil, "the file is larger than 10,000 parts of %d bytes", partSize)
		}
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)), ExpectedBucketOwner: s.owner,
		})
		if err != nil {
			abort()
			return total, s.writeError(err, key, total)
		}
		total += int64(n)
		parts = append(parts, s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		n, err = io.ReadFull(r, buf)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			abort()
			return total, delivery.Fail(delivery.PhaseWrite, bulkerr.Transient, err, "reading the file to deliver failed after %d bytes", total)
		}
	}
	if _, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}, ExpectedBucketOwner: s.owner,
	}); err != nil {
		abort()
		return total, s.writeError(err, key, total)
	}
	return total, nil
}

// writeError names the phase of a failed S3 write.
func (s *session) writeError(err error, key string, done int64) error {
	b := s.t.Bucket
	code := errorCode(err)
	switch code {
	case "NoSuchBucket":
		return delivery.Fail(delivery.PhaseFolder, bulkerr.Invalid, err, "the bucket %s does not exist", b.Bucket)
	case "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "ExpiredToken":
		return delivery.Fail(delivery.PhaseFolder, bulkerr.Invalid, err, "the role %s may not write s3://%s/%s (%s)", b.RoleARN, b.Bucket, key, code)
	case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
		return delivery.Fail(delivery.PhaseConnect, bulkerr.Invalid, err, "the bucket %s is not in region %s (%s)", b.Bucket, b.Region, code)
	}
	if transportError(err) {
		return delivery.Fail(delivery.PhaseWrite, bulkerr.Transient, err, "writing s3://%s/%s failed after %d bytes: the connection was lost or timed out", b.Bucket, key, done)
	}
	return delivery.Fail(delivery.PhaseWrite, bulkerr.Transient, err, "writing s3://%s/%s failed after %d bytes (%s)", b.Bucket, key, done, code)
}

// errorCode is an AWS error's code ("AccessDenied"), or a short label.
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	if transportError(err) {
		return "network error"
	}
	return "error"
}

func transportError(err error) bool {
	var ne net.Error
	var api smithy.APIError
	return !errors.As(err, &api) && (errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF))
}

// roleAccount is the account ID in a role ARN (arn:aws:iam::<account>:role/...).
func roleAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

func prefixLabel(p string) string {
	if p == "" {
		return "(bucket root)"
	}
	return p
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
