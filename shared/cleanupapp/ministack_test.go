package cleanupapp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// A miniStack is a private dev server (cmd/devserver) and Step Functions
// server (infra/local/sfn/server.mjs) for one test, on the shared
// DynamoDB Local and MinIO with its own resource prefix. A test that must
// change how Lambda or Step Functions behave (a function's Timeout, the
// history limit, the state machine's definition) changes them here, never
// on the shared stack that other packages' tests use at the same time.
// Everything else is the real thing: the template's functions, rules,
// EventInvokeConfig and state machine, routed by the dev server as on the
// shared stack. Uploads are announced by posting MinIO's notification to
// the dev server's webhook (Notify), since MinIO notifies only the shared
// dev server.
type miniStack struct {
	shared  *localtest.Stack
	names   devstack.Names
	db      *dynamostore.Store
	sfn     *sfn.Client
	lambda  *lambda.Client
	awsURL  string // the dev server's Lambda/EventBridge/webhook endpoint
	apiURL  string // the dev server's API Gateway play, with the stage
	jwtKey  string // the local issuer's keys (tokens for apiURL)
	logPath string // the dev server's log
}

// miniOptions change the mini stack from the shared one.
type miniOptions struct {
	// FunctionTimeouts is the dev server's -function-timeout.
	FunctionTimeouts string
	// MaxHistory is the Step Functions server's BULKOPS_SFN_MAX_HISTORY.
	MaxHistory int
	// Env is added to the dev server's environment (the functions see it).
	Env []string
	// Params are added to the dev server's -params (template parameters,
	// "Name=value,...").
	Params string
	// EditASL, if set, rewrites statemachines/import.asl.json of a copy of
	// the template that the dev server provisions from.
	EditASL func(asl map[string]any)
}

var (
	devserverOnce sync.Once
	devserverBin  string
	devserverErr  error
)

// devserver builds cmd/devserver once per test binary (from the build
// cache, so it is quick after make build).
func devserver(t *testing.T, root string) string {
	t.Helper()
	devserverOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ministack-")
		if err != nil {
			devserverErr = err
			return
		}
		devserverBin = filepath.Join(dir, "devserver")
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(gobin, "build", "-o", devserverBin, "./cmd/devserver")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			devserverErr = fmt.Errorf("building the dev server: %v\n%s", err, out)
		}
	})
	if devserverErr != nil {
		t.Fatal(devserverErr)
	}
	return devserverBin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess starts cmd with its output in logPath and stops it (by its
// PID: SIGTERM, then SIGKILL) when the test ends.
func startProcess(t *testing.T, cmd *exec.Cmd, logPath string) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			tail, _ := os.ReadFile(logPath)
			if len(tail) > 6000 {
				tail = tail[len(tail)-6000:]
			}
			t.Logf("last output of %s:\n%s", filepath.Base(cmd.Path), tail)
		}
	})
}

func waitHealthy(t *testing.T, url string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy within %s (last error %v)", url, within, err)
		}
	}
}

// startMini starts a mini stack for t.
func startMini(t *testing.T, o miniOptions) *miniStack {
	t.Helper()
	st := localtest.Require(t)
	// A private dev server and ASL server per test, run with edited
	// function timeouts, ASL, history limits or parameters.
	localtest.SkipOnLocalStack(t, "a private stack per test with edited timeouts, ASL or history limit (cmd/devserver -function-timeout and BULKOPS_SFN_MAX_HISTORY); LocalStack deploys template.yaml unchanged")
	root := st.Root
	bin := devserver(t, root)
	tmp := t.TempDir()

	tplDir := root
	if o.EditASL != nil {
		tplDir = filepath.Join(tmp, "template")
		if err := os.MkdirAll(filepath.Join(tplDir, "statemachines"), 0o755); err != nil {
			t.Fatal(err)
		}
		tpl, err := os.ReadFile(filepath.Join(root, "template.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(root, "statemachines", "import.asl.json"))
		if err != nil {
			t.Fatal(err)
		}
		var asl map[string]any
		if err := json.Unmarshal(raw, &asl); err != nil {
			t.Fatal(err)
		}
		o.EditASL(asl)
		raw, _ = json.MarshalIndent(asl, "", "  ")
		if err := os.WriteFile(filepath.Join(tplDir, "template.yaml"), tpl, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tplDir, "statemachines", "import.asl.json"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	prefix := localtest.UniquePrefix(t)
	tpl, err := samtemplate.Load(filepath.Join(tplDir, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names := devstack.Names{Template: tpl, Prefix: prefix, Params: map[string]string{}}
	ref := func(id string) string { v, _ := names.Ref(id); return v }
	// Registered first, so it runs last: after both servers stopped.
	t.Cleanup(func() { // the tables and bucket the dev server made (after it stopped)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, id := range tpl.OfType("AWS::DynamoDB::Table") {
			_, _ = st.Clients.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(ref(id))})
		}
		bucket := ref("DataBucket")
		p := s3.NewListObjectVersionsPaginator(st.Clients.S3, &s3.ListObjectVersionsInput{Bucket: &bucket})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				break
			}
			for _, v := range page.Versions {
				_, _ = st.Clients.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: v.Key, VersionId: v.VersionId})
			}
			for _, d := range page.DeleteMarkers {
				_, _ = st.Clients.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: d.Key, VersionId: d.VersionId})
			}
		}
		_, _ = st.Clients.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket})
	})

	sfnPort, awsPort, apiPort := freePort(t), freePort(t), freePort(t)
	awsURL := "http://127.0.0.1:" + strconv.Itoa(awsPort)
	sfnURL := "http://127.0.0.1:" + strconv.Itoa(sfnPort)
	env := append(os.Environ(),
		"AWS_ENDPOINT_URL_LAMBDA="+awsURL, "AWS_ENDPOINT_URL_EVENTBRIDGE="+awsURL, "AWS_ENDPOINT_URL_SFN="+sfnURL)

	node := filepath.Join(root, ".tools", "node", "node_modules", ".bin", "node")
	sfnCmd := exec.Command(node, filepath.Join(root, "infra", "local", "sfn", "server.mjs"), "--host", "127.0.0.1", "--port", strconv.Itoa(sfnPort))
	sfnCmd.Env = env
	if o.MaxHistory > 0 {
		sfnCmd.Env = append(sfnCmd.Env, "BULKOPS_SFN_MAX_HISTORY="+strconv.Itoa(o.MaxHistory))
	}
	startProcess(t, sfnCmd, filepath.Join(tmp, "sfn.log"))
	waitHealthy(t, sfnURL+"/health", 30*time.Second)

	args := []string{
		"-template", filepath.Join(tplDir, "template.yaml"), "-prefix", prefix,
		"-api", "127.0.0.1:" + strconv.Itoa(apiPort), "-aws", "127.0.0.1:" + strconv.Itoa(awsPort),
		"-webhook-arn", "", "-jwt-key", filepath.Join(tmp, "jwt-key.pem"),
		// As stack.sh: async retries 100 times sooner, short lock waits.
		"-async-scale", "0.01", "-params", strings.Trim("LockWaitSeconds=2,"+o.Params, ","),
		// No schedule ticks: the event-driven paths alone must end the
		// jobs (the sweeper is the backstop, tested on its own).
		"-export-tick", "0", "-sweep-tick", "0",
	}
	if o.FunctionTimeouts != "" {
		args = append(args, "-function-timeout", o.FunctionTimeouts)
	}
	devCmd := exec.Command(bin, args...)
	devCmd.Dir = root
	devCmd.Env = append(env, o.Env...)
	logPath := filepath.Join(tmp, "devserver.log")
	startProcess(t, devCmd, logPath)
	waitHealthy(t, awsURL+"/_local/health", 90*time.Second)

	m := &miniStack{
		shared: st, names: names, awsURL: awsURL, logPath: logPath,
		apiURL: "http://127.0.0.1:" + strconv.Itoa(apiPort) + "/dev", jwtKey: filepath.Join(tmp, "jwt-key.pem"),
		db: dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{
			Objects: ref("ObjectsTable"), Jobs: ref("JobsTable"), Control: ref("ControlTable")}, time.Now),
		sfn:    sfn.NewFromConfig(st.Config, func(o *sfn.Options) { o.BaseEndpoint = aws.String(sfnURL) }),
		lambda: lambda.NewFromConfig(st.Config, func(o *lambda.Options) { o.BaseEndpoint = aws.String(awsURL) }),
	}
	return m
}

func (m *miniStack) ref(id string) string {
	v, ok := m.names.Ref(id)
	if !ok {
		panic("unknown resource " + id)
	}
	return v
}

// Upload puts body at key in the mini stack's bucket and announces it to
// the dev server the way MinIO's webhook does; the template's rule starts
// the import state machine. It returns the time of the announcement.
func (m *miniStack) Upload(t *testing.T, key string, body []byte) time.Time {
	t.Helper()
	return m.UploadMeta(t, key, body, nil)
}

// UploadMeta is Upload with the object's user metadata (x-amz-meta-*).
func (m *miniStack) UploadMeta(t *testing.T, key string, body []byte, meta map[string]string) time.Time {
	t.Helper()
	bucket := m.ref("DataBucket")
	out, err := m.shared.Clients.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body), Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	return m.notify(t, key, aws.ToString(out.ETag), aws.ToString(out.VersionId), int64(len(body)))
}

// notify posts MinIO's notification of the object at key (its ETag,
// version and size) to the dev server's webhook, and returns when.
func (m *miniStack) notify(t *testing.T, key, etag, version string, size int64) time.Time {
	t.Helper()
	bucket := m.ref("DataBucket")
	var rec map[string]any
	_ = json.Unmarshal([]byte(`{"eventName":"s3:ObjectCreated:Put","awsRegion":"us-east-1",
		"userIdentity":{"principalId":"test"},"requestParameters":{"sourceIPAddress":"127.0.0.1"},
		"responseElements":{"x-amz-request-id":"ministack"}}`), &rec)
	rec["eventTime"] = time.Now().UTC().Format(time.RFC3339Nano)
	rec["s3"] = map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{
		"key": key, "size": size, "eTag": strings.Trim(etag, `"`),
		"versionId": version, "sequencer": fmt.Sprintf("%016X", time.Now().UnixNano()),
	}}
	note, _ := json.Marshal(map[string]any{"EventName": "s3:ObjectCreated:Put", "Key": bucket + "/" + key, "Records": []any{rec}})
	at := time.Now()
	resp, err := http.Post(m.awsURL+"/_local/s3-events", "application/json", bytes.NewReader(note))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	return at
}

// lockFreedWithin waits until tenant's lock is free and returns how long
// after since that was seen; it fails the test past a minute, the bound
// the failure handling promises (README, "When a workflow dies").
func lockFreedWithin(t *testing.T, db *dynamostore.Store, tenant string, since time.Time) time.Duration {
	t.Helper()
	for {
		l, err := db.PeekLock(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		if l.Holder == "" {
			return time.Since(since)
		}
		if time.Since(since) > time.Minute {
			t.Fatalf("tenant %s still locked by %s a minute after the failure", tenant, l.Holder)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitJob waits until the job of the upload key (or the job id) satisfies
// ok.
func (m *miniStack) waitJob(t *testing.T, tenant, key string, within time.Duration, ok func(jobs.Job) bool) jobs.Job {
	t.Helper()
	return jobOf(t, m.db, tenant, key, within, ok)
}

// logLines counts the dev server's log lines that contain every one of
// parts.
func (m *miniStack) logLines(t *testing.T, parts ...string) int {
	t.Helper()
	f, err := os.Open(m.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
lines:
	for sc.Scan() {
		for _, p := range parts {
			if !strings.Contains(sc.Text(), p) {
				continue lines
			}
		}
		n++
	}
	return n
}

func TestMain(m *testing.M) {
	code := m.Run()
	if devserverBin != "" {
		_ = os.RemoveAll(filepath.Dir(devserverBin))
	}
	os.Exit(code)
}
