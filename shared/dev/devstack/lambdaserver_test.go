package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/stepfunc"
)

func TestLambdaServerInvoke(t *testing.T) {
	s := NewLambdaServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	type in struct {
		Name string `json:"name"`
	}
	s.Register("Echo", lambda.NewHandler(stepfunc.Handler(slog.Default(), func(ctx context.Context, v in) (map[string]string, error) {
		switch v.Name {
		case "busy":
			return nil, bulkerr.New(bulkerr.Busy, "tenant busy")
		case "plain":
			return nil, errors.New("plain failure")
		case "panic":
			panic("boom")
		}
		return map[string]string{"hello": v.Name}, nil
	})), FunctionConfig{Timeout: time.Minute})
	s.Register("Raw", lambda.NewHandler(func(ctx context.Context) error { return errors.New("raw") }), FunctionConfig{})
	srv := httptest.NewServer(s)
	defer srv.Close()

	call := func(fn, body string) (*http.Response, map[string]string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/2015-03-31/functions/"+url.PathEscape(fn)+"/invocations", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]string{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	tests := []struct {
		name, fn, body string
		status         int
		fnErr          string
		want           map[string]string
	}{
		{"ok by name", "Echo", `{"name":"x"}`, 200, "", map[string]string{"hello": "x"}},
		{"ok by ARN", FunctionARN("Echo"), `{"name":"y"}`, 200, "", map[string]string{"hello": "y"}},
		{"ok with qualifier", "Echo:$LATEST", `{"name":"z"}`, 200, "", map[string]string{"hello": "z"}},
		{"kind becomes the error type", "Echo", `{"name":"busy"}`, 200, "Unhandled", map[string]string{"errorType": "Bulk.Busy", "errorMessage": "tenant busy"}},
		{"internal text never leaks", "Echo", `{"name":"plain"}`, 200, "Unhandled", map[string]string{"errorType": "Bulk.Internal", "errorMessage": "internal error; the operation was not completed"}},
		{"panic", "Echo", `{"name":"panic"}`, 200, "Unhandled", map[string]string{"errorType": "Runtime.ExitError", "errorMessage": "the function panicked"}},
		{"unwrapped error uses the Go type name", "Raw", `{}`, 200, "Unhandled", map[string]string{"errorType": "errorString", "errorMessage": "raw"}},
		{"unknown function", "Nope", `{}`, 404, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := call(tt.fn, tt.body)
			if resp.StatusCode != tt.status || resp.Header.Get("X-Amz-Function-Error") != tt.fnErr {
				t.Fatalf("status %d fnErr %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), tt.status, tt.fnErr)
			}
			for k, v := range tt.want {
				if out[k] != v {
					t.Errorf("%s = %q, want %q", k, out[k], v)
				}
			}
		})
	}
}
