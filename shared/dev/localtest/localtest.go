// Package localtest gives integration tests their own resources on the
// local AWS stack (MinIO, DynamoDB Local, the ASL server): uniquely named
// tables created from template.yaml and a bucket, removed afterwards. Tests
// call Require first: without BULKOPS_INTEGRATION=1 they are skipped (plain
// `go test`), with it (as `make test` runs them) an unreachable server fails
// the test instead of skipping it.
package localtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

// Stack is one test's view of the local stack.
type Stack struct {
	Config  aws.Config
	Clients devstack.Clients
	Names   devstack.Names
	Root    string // repository root
}

// Require skips the test unless integration tests are enabled, and returns
// clients for the local servers.
func Require(t testing.TB) *Stack {
	t.Helper()
	if os.Getenv("BULKOPS_INTEGRATION") != "1" {
		t.Skip("integration test: run `make test` (or set BULKOPS_INTEGRATION=1 with the local stack up)")
	}
	for _, v := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB"} {
		if os.Getenv(v) == "" {
			t.Fatalf("%s is not set; source infra/local/env.sh", v)
		}
	}
	if os.Getenv("AWS_EC2_METADATA_DISABLED") != "true" {
		t.Fatal("AWS_EC2_METADATA_DISABLED must be true for local tests")
	}
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if Backend() == "localstack" {
		if err := capture.start(cfg); err != nil {
			t.Fatal(err)
		}
	}
	root := RepoRoot(t)
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return &Stack{
		Config:  cfg,
		Clients: devstack.Clients{DynamoDB: awsenv.DynamoDB(cfg), S3: awsenv.S3(cfg), SFN: awsenv.SFN(cfg)},
		Names:   devstack.Names{Template: tpl, Prefix: UniquePrefix(t), Params: map[string]string{}},
		Root:    root,
	}
}

// RepoRoot finds the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// UniquePrefix returns a resource-name prefix unique to this test run.
func UniquePrefix(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(t.Name())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 20 {
		name = name[:20]
	}
	return "t-" + strings.Trim(name, "-") + "-" + hex.EncodeToString(b[:]) + "-"
}

// Ref resolves a template logical ID to this test's local name.
func (s *Stack) Ref(id string) string {
	v, ok := s.Names.Ref(id)
	if !ok {
		panic("unknown resource " + id)
	}
	return v
}

// Provision creates this test's tables and bucket from template.yaml and
// removes them when the test ends.
func (s *Stack) Provision(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	p := devstack.Provisioner{Names: s.Names, Clients: s.Clients, TemplateDir: s.Root}
	if err := p.Tables(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Buckets(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, id := range s.Names.Template.OfType("AWS::DynamoDB::Table") {
			_, _ = s.Clients.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.Ref(id))})
		}
		for _, id := range s.Names.Template.OfType("AWS::S3::Bucket") {
			emptyBucket(ctx, s.Clients.S3, s.Ref(id))
			_, _ = s.Clients.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(s.Ref(id))})
		}
	})
}

func emptyBucket(ctx context.Context, c *s3.Client, bucket string) {
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return
		}
		var ids []s3types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		if len(ids) > 0 {
			_, _ = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		}
	}
}
