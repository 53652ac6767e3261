package devstack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// TestTimedOutInvocationCannotReachAWS: a handler that outlives its
// timeout and then writes under context.WithoutCancel (as the export's
// and the import steps' failure paths do) gets an error from the sandbox
// client, and the server never sees the request, as on AWS where the
// sandbox is stopped at the deadline. Requests before the deadline, and
// those of the next invocation, go through.
func TestTimedOutInvocationCannotReachAWS(t *testing.T) {
	var hits atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer backend.Close()
	client := SandboxHTTP(awshttp.NewBuildableClient())
	send := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, backend.URL, strings.NewReader("{}"))
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	late := make(chan error, 1)
	s := NewLambdaServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Register("Slow", lambda.NewHandler(func(ctx context.Context, in struct{ Sleep bool }) (string, error) {
		if err := send(ctx); err != nil {
			return "", err
		}
		if in.Sleep {
			<-ctx.Done()
			time.Sleep(20 * time.Millisecond) // past the deadline
			late <- send(context.WithoutCancel(ctx))
		}
		return "ok", nil
	}), FunctionConfig{Timeout: 100 * time.Millisecond})
	srv := httptest.NewServer(s)
	defer srv.Close()
	invoke := func(body string) string {
		resp, err := http.Post(srv.URL+"/2015-03-31/functions/Slow/invocations", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if out := invoke(`{"Sleep":true}`); !strings.Contains(out, "Sandbox.Timedout") {
		t.Fatalf("want Sandbox.Timedout, got %s", out)
	}
	err := <-late
	if err == nil || !strings.Contains(err.Error(), "sandbox was stopped") {
		t.Fatalf("a request after the timeout: %v, want refused", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("backend saw %d requests, want 1 (the one before the deadline)", n)
	}
	if out := invoke(`{}`); out != `"ok"` {
		t.Fatalf("next invocation: %s", out)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("backend saw %d requests, want 2", n)
	}
	if SandboxStopped(context.Background()) {
		t.Error("a context without a sandbox reads as stopped")
	}
}
