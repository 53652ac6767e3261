package awsenv_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/logging"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
)

// endpointVars are the variables that configure endpoints; every test
// starts with none of them, whatever infra/local/env.sh exported.
var endpointVars = []string{
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SFN",
	"AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_LAMBDA", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
}

// isolate gives the test an environment of its own: dummy static
// credentials, a region, no instance metadata, no shared config files, no
// endpoint, then the variables of set.
func isolate(t *testing.T, set map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_PROFILE": "",
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE":           filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	for _, k := range append(endpointVars, "AWS_SESSION_TOKEN", "AWS_PROFILE") {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	for k, v := range set {
		t.Setenv(k, v)
	}
}

// request is what the recording server saw of one request.
type request struct {
	Host, Path, Target string
}

// recorder is an HTTP server on 127.0.0.1 that records requests and
// answers each with answer.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []request
}

func newRecorder(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rec.mu.Lock()
		rec.seen = append(rec.seen, request{Host: r.Host, Path: r.URL.Path, Target: r.Header.Get("X-Amz-Target")})
		rec.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.seen...)
}

// headOK answers an S3 HeadObject.
func headOK(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "3")
	w.Header().Set("ETag", `"abc"`)
	w.WriteHeader(http.StatusOK)
}

func load(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestS3AddressingFollowsTheConfiguredEndpoint: with an endpoint URL (the
// service's own or the global one) the S3 client goes there, path-style
// (/<bucket>/<key> on the endpoint's host), which MinIO and LocalStack
// need; without one, or with configured endpoints ignored, it addresses
// AWS virtual-hosted. The endpoint is read from what the SDK resolved, so
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is honoured too.
func TestS3AddressingFollowsTheConfiguredEndpoint(t *testing.T) {
	for _, c := range []struct {
		name      string
		env       func(url string) map[string]string
		pathStyle bool
	}{
		{"service endpoint", func(u string) map[string]string { return map[string]string{"AWS_ENDPOINT_URL_S3": u} }, true},
		{"global endpoint", func(u string) map[string]string { return map[string]string{"AWS_ENDPOINT_URL": u} }, true},
		{"service endpoint over a global one", func(u string) map[string]string {
			return map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_S3": u}
		}, true},
		{"no endpoint", func(string) map[string]string { return nil }, false},
		{"endpoints ignored", func(u string) map[string]string {
			return map[string]string{"AWS_ENDPOINT_URL_S3": u, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder(t, headOK)
			isolate(t, c.env(rec.URL))
			client := awsenv.S3(load(t))
			opts := client.Options()
			if opts.UsePathStyle != c.pathStyle {
				t.Fatalf("UsePathStyle = %v, want %v", opts.UsePathStyle, c.pathStyle)
			}
			if opts.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired {
				t.Errorf("ResponseChecksumValidation = %v, want only when required", opts.ResponseChecksumValidation)
			}
			if !c.pathStyle {
				if opts.BaseEndpoint != nil {
					t.Errorf("BaseEndpoint = %q, want none (AWS)", *opts.BaseEndpoint)
				}
				return // the request would go to AWS
			}
			out, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("imports/acme/queue/q.csv")})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToInt64(out.ContentLength) != 3 {
				t.Errorf("ContentLength = %d, want 3", aws.ToInt64(out.ContentLength))
			}
			want := request{Host: strings.TrimPrefix(rec.URL, "http://"), Path: "/data/imports/acme/queue/q.csv"}
			if got := rec.requests(); len(got) != 1 || got[0] != want {
				t.Fatalf("requests %+v, want [%+v]", got, want)
			}
		})
	}
}

// TestDynamoDBChecksumOnlyAgainstAWS: DynamoDB Local does not compute
// X-Amz-Crc32 over what it sends, so against a configured endpoint the
// client does not check it; against AWS it does. The server answers with
// a wrong checksum: the SDK's own default client reports the mismatch (so
// the test can tell), awsenv's client against the endpoint does not look.
func TestDynamoDBChecksumOnlyAgainstAWS(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", "1")
		_, _ = w.Write([]byte(`{"TableNames":["objects"]}`))
	})
	isolate(t, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": rec.URL})
	cfg := load(t)
	var mu sync.Mutex
	var logged []string
	cfg.Logger = logging.LoggerFunc(func(_ logging.Classification, format string, v ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, v...))
	})
	mismatches := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, l := range logged {
			if strings.Contains(l, "checksum") {
				n++
			}
		}
		return n
	}
	client := awsenv.DynamoDB(cfg)
	if !client.Options().DisableValidateResponseChecksum {
		t.Fatal("the checksum is validated against a configured endpoint")
	}
	out, err := client.ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.TableNames) != 1 || out.TableNames[0] != "objects" {
		t.Fatalf("ListTables = %v", out.TableNames)
	}
	if n := mismatches(); n != 0 {
		t.Fatalf("awsenv's client checked the checksum: %v", logged)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	if mismatches() == 0 {
		t.Fatal("the SDK's default client saw no checksum mismatch: the server does not test what it should")
	}
	if got := rec.requests(); len(got) != 2 || got[0].Target != "DynamoDB_20120810.ListTables" {
		t.Fatalf("requests %+v", got)
	}

	isolate(t, nil)
	if awsenv.DynamoDB(load(t)).Options().DisableValidateResponseChecksum {
		t.Fatal("the checksum is not validated against AWS")
	}
}

// TestClientsUseTheirServiceEndpoint: every client goes to its
// AWS_ENDPOINT_URL_<SERVICE>, which is how the local stack routes Step
// Functions, EventBridge and Lambda to their own servers.
func TestClientsUseTheirServiceEndpoint(t *testing.T) {
	for _, c := range []struct {
		variable, target string
		call             func(cfg aws.Config) error
	}{
		{"AWS_ENDPOINT_URL_SFN", "AWSStepFunctions.ListStateMachines", func(cfg aws.Config) error {
			_, err := awsenv.SFN(cfg).ListStateMachines(context.Background(), &sfn.ListStateMachinesInput{})
			return err
		}},
		{"AWS_ENDPOINT_URL_EVENTBRIDGE", "AWSEvents.ListEventBuses", func(cfg aws.Config) error {
			_, err := awsenv.EventBridge(cfg).ListEventBuses(context.Background(), &eventbridge.ListEventBusesInput{})
			return err
		}},
		{"AWS_ENDPOINT_URL_LAMBDA", "", func(cfg aws.Config) error {
			_, err := awsenv.Lambda(cfg).Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("export"), Payload: []byte(`{}`)})
			return err
		}},
	} {
		t.Run(c.variable, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				_, _ = w.Write([]byte(`{}`))
			})
			// Another service's endpoint must not capture this one.
			isolate(t, map[string]string{c.variable: rec.URL, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1"})
			if err := c.call(load(t)); err != nil {
				t.Fatal(err)
			}
			got := rec.requests()
			if len(got) != 1 || got[0].Target != c.target {
				t.Fatalf("requests %+v, want one with target %q", got, c.target)
			}
			if c.target == "" && got[0].Path != "/2015-03-31/functions/export/invocations" {
				t.Fatalf("Lambda Invoke went to %s", got[0].Path)
			}
		})
	}
}

// countingClient counts the requests it passes on.
type countingClient struct {
	next aws.HTTPClient
	mu   sync.Mutex
	n    int
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.next.Do(r)
}

// TestLoadWrapsTheHTTPClient: under WithHTTPWrapper every client's
// requests go through the wrapper (the dev server's sandboxes); under a
// plain context Load leaves the SDK's client alone.
func TestLoadWrapsTheHTTPClient(t *testing.T) {
	rec := newRecorder(t, headOK)
	isolate(t, map[string]string{"AWS_ENDPOINT_URL": rec.URL})
	var wrapped *countingClient
	ctx := awsenv.WithHTTPWrapper(context.Background(), func(next aws.HTTPClient) aws.HTTPClient {
		wrapped = &countingClient{next: next}
		return wrapped
	})
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("Region = %q, want the environment's eu-west-1", cfg.Region)
	}
	if wrapped == nil {
		t.Fatal("the wrapper was not called")
	}
	if _, err := awsenv.S3(cfg).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if wrapped.n != 1 || len(rec.requests()) != 1 {
		t.Fatalf("wrapper saw %d requests, server %d; want 1 and 1", wrapped.n, len(rec.requests()))
	}
	if plain := load(t); plain.HTTPClient != nil {
		if _, ok := plain.HTTPClient.(*countingClient); ok {
			t.Fatal("a plain context got the wrapper")
		}
	}
}

// TestLocalStack: the clients Load builds from infra/local/env.sh's
// endpoints work against the local stack: S3 path-style against MinIO
// (virtual-hosted addressing cannot reach it), DynamoDB against DynamoDB
// Local.
func TestLocalStack(t *testing.T) {
	st := localtest.Require(t)
	st.Provision(t)
	cfg := load(t)
	ctx := context.Background()
	files := awsenv.S3(cfg)
	if !files.Options().UsePathStyle {
		t.Fatal("the local stack's S3 client is not path-style")
	}
	bucket, key := st.Ref("DataBucket"), "results/awsenv/"+time.Now().Format("150405.000000")+".txt"
	if _, err := files.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader([]byte("hello"))}); err != nil {
		t.Fatal(err)
	}
	got, err := files.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(got.Body)
	got.Body.Close()
	if err != nil || string(body) != "hello" {
		t.Fatalf("read back %q %v", body, err)
	}
	table := st.Ref("JobsTable")
	out, err := awsenv.DynamoDB(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Table.TableName) != table {
		t.Fatalf("described %q, want %q", aws.ToString(out.Table.TableName), table)
	}
}
