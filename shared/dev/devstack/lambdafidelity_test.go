package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

// lambdaRig is a Lambda server on 127.0.0.1 and an SDK client for it; the
// server's destinations go through the same client.
type lambdaRig struct {
	s      *LambdaServer
	client *awslambda.Client
}

func newLambdaRig(t *testing.T) *lambdaRig {
	t.Helper()
	s := NewLambdaServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client := awslambda.New(awslambda.Options{Region: Region, BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	s.Destinations = client
	return &lambdaRig{s: s, client: client}
}

func TestLambdaTimeoutIsSandboxTimedout(t *testing.T) {
	r := newLambdaRig(t)
	var deadline time.Duration
	r.s.Register("Slow", lambda.NewHandler(func(ctx context.Context) (string, error) {
		d, _ := ctx.Deadline()
		deadline = time.Until(d)
		<-ctx.Done() // a handler that never finishes on its own
		time.Sleep(50 * time.Millisecond)
		return "too late", nil
	}), FunctionConfig{Timeout: 2 * time.Second})
	r.s.TimeoutScale = 0.1 // the template's 2 s played as 0.2 s
	out, err := r.client.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(FunctionARN("Slow")), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.Unmarshal(out.Payload, &body)
	if aws.ToString(out.FunctionError) != "Unhandled" || body["errorType"] != "Sandbox.Timedout" ||
		!strings.HasSuffix(body["errorMessage"], "Error: Task timed out after 0.20 seconds") || !strings.HasPrefix(body["errorMessage"], "RequestId: ") {
		t.Fatalf("timeout: %s %s", aws.ToString(out.FunctionError), out.Payload)
	}
	if deadline <= 0 || deadline > 200*time.Millisecond {
		t.Fatalf("the handler's context deadline was %v away, want the timeout", deadline)
	}
}

func TestLambdaPayloadLimits(t *testing.T) {
	r := newLambdaRig(t)
	r.s.Register("Big", lambda.NewHandler(func(ctx context.Context, n int) (string, error) {
		return strings.Repeat("x", n), nil
	}), FunctionConfig{Timeout: time.Minute})
	_, err := r.client.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String("Big"), Payload: []byte(`"` + strings.Repeat("y", MaxSyncPayload) + `"`)})
	var tooLarge *lambdatypes.RequestTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Fatalf("a request over 6 MB: %v", err)
	}
	_, err = r.client.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String("Big"), InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(`"` + strings.Repeat("y", MaxAsyncPayload) + `"`)})
	if !errors.As(err, &tooLarge) {
		t.Fatalf("an event over 256 KB: %v", err)
	}
	out, err := r.client.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String("Big"), Payload: []byte(`7000000`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Function.ResponseSizeTooLarge") {
		t.Fatalf("a response over 6 MB: %v %.200s", err, out.Payload)
	}
}

// recorder is a destination function that keeps what it receives.
type recorder struct {
	mu   sync.Mutex
	recs []InvocationRecord
	got  chan struct{}
}

func (rc *recorder) register(s *LambdaServer, name string) {
	rc.got = make(chan struct{}, 10)
	s.Register(name, lambda.NewHandler(func(ctx context.Context, rec InvocationRecord) error {
		rc.mu.Lock()
		rc.recs = append(rc.recs, rec)
		rc.mu.Unlock()
		rc.got <- struct{}{}
		return nil
	}), FunctionConfig{Timeout: time.Minute})
}

func (rc *recorder) wait(t *testing.T) InvocationRecord {
	t.Helper()
	select {
	case <-rc.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no invocation record reached the destination")
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.recs[len(rc.recs)-1]
}

func TestLambdaAsyncRetriesAndOnFailureDestination(t *testing.T) {
	r := newLambdaRig(t)
	r.s.AsyncScale = 0.001 // retries 60 ms and 120 ms apart instead of 1 and 2 minutes
	var mu sync.Mutex
	attempts := map[string][]time.Time{}
	failing := lambda.NewHandler(func(ctx context.Context, ev map[string]string) error {
		mu.Lock()
		attempts[ev["job"]] = append(attempts[ev["job"]], time.Now())
		n := len(attempts[ev["job"]])
		mu.Unlock()
		if ev["job"] == "recovers" && n == 2 {
			return nil
		}
		if ev["job"] == "slow" {
			<-ctx.Done()
		}
		return errors.New("export died")
	})
	var dead recorder
	dead.register(r.s, "Cleanup")
	r.s.Register("Export", failing, FunctionConfig{Timeout: 100 * time.Millisecond,
		Async: AsyncConfig{MaxRetries: 2, MaxEventAge: time.Hour, OnFailure: FunctionARN("Cleanup")}})
	r.s.Register("ExportYoung", failing, FunctionConfig{Timeout: time.Minute,
		Async: AsyncConfig{MaxRetries: 2, MaxEventAge: 90 * time.Second, OnFailure: "Cleanup"}})

	invoke := func(fn, job string) {
		t.Helper()
		out, err := r.client.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(fn),
			InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(`{"job":"` + job + `"}`)})
		if err != nil || out.StatusCode != http.StatusAccepted {
			t.Fatalf("async invoke: %v", err)
		}
	}

	// Three attempts (the first and two retries), then the record.
	invoke("Export", "dies")
	rec := dead.wait(t)
	if got := len(attempts["dies"]); got != 3 {
		t.Fatalf("%d attempts, want 3", got)
	}
	if gap := attempts["dies"][2].Sub(attempts["dies"][1]); gap < 120*time.Millisecond {
		t.Errorf("second retry came %v after the first, want at least 2 (scaled) minutes", gap)
	}
	if rec.Version != "1.0" || rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.ApproximateInvokeCount != 3 ||
		rec.RequestContext.FunctionARN != FunctionARN("Export")+":$LATEST" || rec.RequestContext.RequestID == "" ||
		string(rec.RequestPayload) != `{"job":"dies"}` || rec.ResponseContext.FunctionError != "Unhandled" || rec.ResponseContext.StatusCode != 200 {
		t.Fatalf("record %+v", rec)
	}
	var resp map[string]string
	if json.Unmarshal(rec.ResponsePayload, &resp) != nil || resp["errorMessage"] != "export died" || resp["errorType"] != "errorString" {
		t.Fatalf("response payload %s", rec.ResponsePayload)
	}
	if _, err := time.Parse(time.RFC3339Nano, rec.Timestamp); err != nil {
		t.Fatalf("timestamp %q", rec.Timestamp)
	}

	// A timeout is a failure like any other.
	invoke("Export", "slow")
	if rec := dead.wait(t); rec.RequestContext.Condition != "RetriesExhausted" || !strings.Contains(string(rec.ResponsePayload), "Sandbox.Timedout") {
		t.Fatalf("timed-out record %+v %s", rec, rec.ResponsePayload)
	}

	// An event older than MaximumEventAgeInSeconds is not retried again:
	// after 60 ms the second retry (120 ms later) would be past 90 ms.
	invoke("ExportYoung", "aging")
	if rec := dead.wait(t); rec.RequestContext.Condition != "EventAgeExceeded" || rec.RequestContext.ApproximateInvokeCount != 2 {
		t.Fatalf("aged record %+v", rec)
	}

	// A retry that succeeds sends nothing.
	invoke("Export", "recovers")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		mu.Lock()
		n := len(attempts["recovers"])
		mu.Unlock()
		if n == 2 || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if len(attempts["recovers"]) != 2 || len(dead.recs) != 3 {
		t.Fatalf("recovering event: %d attempts, %d records", len(attempts["recovers"]), len(dead.recs))
	}
}

func TestFunctionConfigFromTheTemplate(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(`
Parameters:
  Age: { Type: Number, Default: 120 }
Globals:
  Function:
    Timeout: 45
Resources:
  Plain:
    Type: AWS::Serverless::Function
    Properties: {}
  Cleanup:
    Type: AWS::Serverless::Function
    Properties: { Timeout: 10 }
  Export:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 900
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        MaximumEventAgeInSeconds: !Ref Age
        DestinationConfig:
          OnFailure: { Type: Lambda, Destination: !GetAtt Cleanup.Arn }
          OnSuccess: { Type: SQS, Destination: arn:aws:sqs:us-east-1:000000000000:q }
`))
	if err != nil {
		t.Fatal(err)
	}
	n := Names{Template: tpl, Prefix: "p-"}
	plain, err := n.FunctionConfig("Plain")
	if err != nil || plain.Timeout != 45*time.Second || plain.Async != DefaultAsync {
		t.Fatalf("Plain: %+v %v", plain, err)
	}
	exp, err := n.FunctionConfig("Export")
	want := AsyncConfig{MaxRetries: 1, MaxEventAge: 2 * time.Minute, OnFailure: FunctionARN("p-Cleanup")}
	if err != nil || exp.Timeout != 900*time.Second || exp.Async != want {
		t.Fatalf("Export: %+v %v", exp, err)
	}

	// The real template: every function has its timeout.
	real, err := samtemplate.Load("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rn := Names{Template: real, Prefix: "p-"}
	for _, id := range real.OfType("AWS::Serverless::Function") {
		cfg, err := rn.FunctionConfig(id)
		if err != nil || cfg.Timeout <= 0 || cfg.Timeout > 15*time.Minute {
			t.Errorf("%s: %+v %v", id, cfg, err)
		}
	}
	if cfg, _ := rn.FunctionConfig("ApiFunction"); cfg.Timeout != 29*time.Second {
		t.Errorf("ApiFunction timeout %v, want the template's 29 s", cfg.Timeout)
	}
}
