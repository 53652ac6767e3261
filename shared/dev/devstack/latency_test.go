package devstack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// TestInjectedLatency: a delay set through POST /_local/lambda/latency
// holds every later invocation back, counts against the function's
// timeout (past it the invocation is Sandbox.Timedout, as a slow cold start
// is on AWS), and goes away with delay=0.
func TestInjectedLatency(t *testing.T) {
	s := NewLambdaServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Register("bulkops-local-Slow", lambda.NewHandler(func(ctx context.Context) (string, error) { return "done", nil }),
		FunctionConfig{Timeout: 300 * time.Millisecond})
	mux := http.NewServeMux()
	mux.Handle("/2015-03-31/functions/", s)
	mux.HandleFunc("POST /_local/lambda/latency", s.ServeLatency(func(id string) string {
		if id == "SlowFunction" {
			return "bulkops-local-Slow"
		}
		return id
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	setLatency := func(fn, delay string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+"/_local/lambda/latency?function="+fn+"&delay="+delay, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	invoke := func() (string, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := http.Post(srv.URL+"/2015-03-31/functions/bulkops-local-Slow/invocations", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("X-Amz-Function-Error") + string(b), time.Since(start)
	}

	for _, tc := range []struct {
		fn, delay string
		status    int
	}{
		{"SlowFunction", "soon", http.StatusBadRequest},
		{"SlowFunction", "-1s", http.StatusBadRequest},
		{"NoSuchFunction", "1s", http.StatusNotFound},
	} {
		if got := setLatency(tc.fn, tc.delay); got != tc.status {
			t.Errorf("latency %s=%s: %d, want %d", tc.fn, tc.delay, got, tc.status)
		}
	}

	if got := setLatency("SlowFunction", "100ms"); got != http.StatusNoContent {
		t.Fatalf("set latency: %d", got)
	}
	if out, took := invoke(); out != `"done"` || took < 100*time.Millisecond {
		t.Errorf("with 100ms latency: %q after %v, want \"done\" after at least 100ms", out, took)
	}
	setLatency("bulkops-local-Slow", "1s") // by function name too
	if out, _ := invoke(); !strings.Contains(out, "Sandbox.Timedout") || !strings.HasPrefix(out, "Unhandled") {
		t.Errorf("latency past the timeout: %q, want an Unhandled Sandbox.Timedout", out)
	}
	setLatency("SlowFunction", "0")
	if out, _ := invoke(); out != `"done"` {
		t.Errorf("latency removed: %q", out)
	}
}
