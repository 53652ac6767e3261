package s3deliver

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
)

// rig is the local stack's S3 (MinIO, or LocalStack's), whose STS
// AssumeRole plays the tenant's role, and a tenant bucket made for the
// test. LocalStack's STS enforces no session policy and accepts any
// credentials, so the tests of those skip there.
type rig struct {
	st     *localtest.Stack
	s3     *s3.Client
	bucket string
	d      *Deliverer
	logs   *bytes.Buffer
}

func newRig(t *testing.T) *rig {
	st := localtest.Require(t)
	if os.Getenv("AWS_ENDPOINT_URL_STS") == "" {
		t.Fatal("AWS_ENDPOINT_URL_STS is not set; source infra/local/env.sh")
	}
	bucket := strings.TrimSuffix(localtest.UniquePrefix(t), "-") + "-tenant"
	ctx := context.Background()
	if _, err := st.Clients.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		out, _ := st.Clients.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if out != nil {
			for _, o := range out.Contents {
				_, _ = st.Clients.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
		_, _ = st.Clients.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
	logs := &bytes.Buffer{}
	return &rig{st: st, s3: st.Clients.S3, bucket: bucket, logs: logs, d: &Deliverer{
		STS: sts.NewFromConfig(st.Config), Base: st.Config, NewS3: awsenv.S3, PartSize: MinPartSize,
		Log: slog.New(slog.NewJSONHandler(logs, nil)),
	}}
}

func (r *rig) target(prefix string) delivery.Target {
	return delivery.Target{ID: "b1", Tenant: "acme", Name: "lake", Kind: delivery.KindS3Bucket, Bucket: &delivery.Bucket{
		Bucket: r.bucket, Prefix: prefix, Region: "us-east-1", RoleARN: "arn:aws:iam::000000000000:role/acme-bulkops-delivery"}}
}

func (r *rig) object(t *testing.T, key string) []byte {
	out, err := r.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

func TestDeliverAndTest(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tg := r.target("exports/")
	res := r.d.Test(ctx, tg)
	want := "reached bucket " + r.bucket + " in us-east-1, assumed role arn:aws:iam::000000000000:role/acme-bulkops-delivery, prefix exports/ writable"
	if !res.OK || res.Sentence != want {
		t.Fatalf("Test = %+v, want %q", res, want)
	}
	rc, err := r.d.Deliver(ctx, tg, "acme-Agent.zip", strings.NewReader("small"))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Destination != "s3://"+r.bucket+"/exports/acme-Agent.zip" || rc.Bytes != 5 || rc.RemoteName != "acme-Agent.zip" {
		t.Errorf("receipt %+v", rc)
	}
	// A file of more than a part goes as a multipart upload and replaces
	// the previous object whole.
	big := make([]byte, 2*MinPartSize+12345)
	_, _ = rand.Read(big)
	if rc, err = r.d.Deliver(ctx, tg, "acme-Agent.zip", bytes.NewReader(big)); err != nil || rc.Bytes != int64(len(big)) {
		t.Fatalf("multipart: %+v %v", rc, err)
	}
	if got := r.object(t, "exports/acme-Agent.zip"); !bytes.Equal(got, big) {
		t.Errorf("object has %d bytes, want the %d delivered", len(got), len(big))
	}
	// Exactly one part's worth is a multipart upload of one part.
	one := big[:MinPartSize]
	if _, err := r.d.Deliver(ctx, tg, "one.zip", bytes.NewReader(one)); err != nil {
		t.Fatal(err)
	}
	if got := r.object(t, "exports/one.zip"); !bytes.Equal(got, one) {
		t.Error("one-part object differs")
	}
	out, _ := r.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(r.bucket)})
	if len(out.Contents) != 2 {
		t.Errorf("bucket holds %d objects, want 2 (no probe left)", len(out.Contents))
	}
	if !strings.Contains(r.logs.String(), `"msg":"s3 delivery done"`) {
		t.Errorf("logs: %s", r.logs.String())
	}
}

// TestSessionPolicy: the role session may write under the target's prefix
// only, whatever else the role allows (MinIO enforces the session policy).
func TestSessionPolicy(t *testing.T) {
	localtest.SkipOnLocalStack(t, "LocalStack's STS and S3 enforce no session policy (MinIO's do)")
	r := newRig(t)
	ctx := context.Background()
	s, err := r.d.open(ctx, r.target("exports/"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.bucket), Key: aws.String("elsewhere/x"), Body: strings.NewReader("x")})
	if errorCode(err) != "AccessDenied" {
		t.Errorf("write outside the prefix: %v, want AccessDenied", err)
	}
	_, err = s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String("exports/x")})
	if errorCode(err) != "AccessDenied" {
		t.Errorf("read: %v, want AccessDenied", err)
	}
	if _, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.bucket), Key: aws.String("exports/x"), Body: strings.NewReader("x")}); err != nil {
		t.Errorf("write under the prefix: %v", err)
	}
}

func TestFailures(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	refused := *r.d
	refused.STS = sts.NewFromConfig(r.st.Config, func(o *sts.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("nobody", "not-the-secret", "")
	})
	missing := r.target("")
	missing.Bucket.Bucket = r.bucket + "-missing"
	bad := r.target("")
	bad.Bucket.RoleARN = "not-a-role"
	tests := []struct {
		name  string
		d     *Deliverer
		t     delivery.Target
		phase delivery.Phase
		kind  bulkerr.Kind
		want  string
	}{
		{"role not assumed", &refused, r.target(""), delivery.PhaseAuthenticate, bulkerr.Invalid, "could not be assumed with external ID acme"},
		{"missing bucket", r.d, missing, delivery.PhaseFolder, bulkerr.Invalid, "the bucket " + missing.Bucket.Bucket + " does not exist"},
		{"bad settings", r.d, bad, delivery.PhaseConfig, bulkerr.Invalid, "bucket.roleArn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.d == &refused {
				localtest.SkipOnLocalStack(t, "LocalStack's STS accepts any credentials (MinIO's refuses unknown ones)")
			}
			res := tt.d.Test(ctx, tt.t)
			t.Log(res.Sentence)
			if res.OK || res.Phase != tt.phase || !strings.Contains(res.Sentence, tt.want) {
				t.Errorf("Test = %+v, want phase %s and %q", res, tt.phase, tt.want)
			}
			_, err := tt.d.Deliver(ctx, tt.t, "x.zip", strings.NewReader("x"))
			if delivery.PhaseOf(err) != tt.phase || bulkerr.KindOf(err) != tt.kind {
				t.Errorf("Deliver = %v (phase %s kind %s)", err, delivery.PhaseOf(err), bulkerr.KindOf(err))
			}
		})
	}
}

func TestSessionPolicyDocument(t *testing.T) {
	p, err := SessionPolicy("b", "exports/")
	if err != nil || p != `{"Statement":[{"Action":["s3:PutObject","s3:AbortMultipartUpload","s3:DeleteObject"],"Effect":"Allow","Resource":"arn:aws:s3:::b/exports/*"}],"Version":"2012-10-17"}` {
		t.Errorf("SessionPolicy = %s, %v", p, err)
	}
	if roleAccount("arn:aws:iam::123456789012:role/x") != "123456789012" || roleAccount("x") != "" {
		t.Error("roleAccount")
	}
}
