package apigwlambda_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ccbulk/bulkops/shared/apigwlambda"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/httpapi"
)

// fixture reads a testdata event, refusing fields aws-lambda-go's event
// type does not have.
func fixture(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var ev events.APIGatewayV2HTTPRequest
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// seen is what the echo handler saw of a request.
type seen struct {
	Method, Path, RawPath, Query, Body, Cookie, Tenant, User, Host, Remote string
}

func echo(got *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		id, _ := authn.Claims{}.Identify(r)
		*got = seen{r.Method, r.URL.Path, r.URL.EscapedPath(), r.URL.RawQuery, string(b), r.Header.Get("Cookie"), id.Tenant, id.User, r.Host, r.RemoteAddr}
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "1", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "t", Value: "2"})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
}

func TestLambdaAdapterRoutesWithAndWithoutTheStage(t *testing.T) {
	tests := []struct {
		fixture string
		want    seen
	}{
		{"get-job.json", seen{Method: "GET", Path: "/v1/jobs/01JABCDEFGHJKMNPQRSTVWXYZ0", RawPath: "/v1/jobs/01JABCDEFGHJKMNPQRSTVWXYZ0", Cookie: "theme=dark; lang=de"}},
		{"list-jobs.json", seen{Method: "GET", Path: "/v1/jobs", RawPath: "/v1/jobs", Query: "status=Failed&status=New&limit=5"}},
		{"create-import.json", seen{Method: "POST", Path: "/v1/imports", RawPath: "/v1/imports", Body: `{"objectType":"queue","fileName":"queues.csv"}`}},
	}
	for _, tt := range tests {
		for _, withStage := range []bool{true, false} {
			ev := fixture(t, tt.fixture)
			if !withStage {
				ev.RawPath = strings.TrimPrefix(ev.RawPath, "/dev")
			}
			var got seen
			resp, err := apigwlambda.Handler(echo(&got))(context.Background(), ev)
			want := tt.want
			want.Tenant, want.User, want.Host, want.Remote = "acme", "ana@acme.example", "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "203.0.113.7"
			if err != nil || got != want {
				t.Fatalf("%s (stage in path: %v): saw %+v, want %+v (%v)", tt.fixture, withStage, got, want, err)
			}
			if resp.StatusCode != 200 || resp.Body != `{"ok":true}` || resp.IsBase64Encoded || strings.Join(resp.Cookies, "|") != "s=1; Path=/|t=2" || resp.Headers["Set-Cookie"] != "" {
				t.Fatalf("%s: response %+v", tt.fixture, resp)
			}
		}
	}
}

func TestLambdaAdapterRefusesMalformedRequests(t *testing.T) {
	api := &httpapi.API{Auth: authn.Claims{}}
	h := apigwlambda.Handler(api.Handler())
	ev := fixture(t, "malformed-path.json")
	badBody := fixture(t, "create-import.json")
	badBody.IsBase64Encoded, badBody.Body = true, "not base64!"
	badQuery := fixture(t, "list-jobs.json")
	badQuery.RawQueryString = "q=%zz"
	for name, ev := range map[string]events.APIGatewayV2HTTPRequest{"path": ev, "body": badBody, "query": badQuery} {
		resp, err := h(context.Background(), ev)
		var p httpapi.Problem
		if err != nil || resp.StatusCode != 400 || json.Unmarshal([]byte(resp.Body), &p) != nil || p.Code != "INVALID_REQUEST" || resp.Headers["Content-Type"] != "application/problem+json" {
			t.Fatalf("malformed %s: %+v %v", name, resp, err)
		}
	}
	// The real handler behind the adapter: public routes, with the stage.
	health := fixture(t, "get-job.json")
	health.RawPath, health.RequestContext.HTTP.Path, health.PathParameters = "/dev/v1/health", "/dev/v1/health", nil
	resp, err := h(context.Background(), health)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"ok"`) {
		t.Fatalf("health: %+v %v", resp, err)
	}
	// Without the authorizer's claims nothing identifies the caller.
	job := fixture(t, "get-job.json")
	job.RequestContext.Authorizer = nil
	if resp, _ := h(context.Background(), job); resp.StatusCode != 401 {
		t.Fatalf("no claims: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestLambdaAdapterEncodesBinaryBodies(t *testing.T) {
	zipBytes := []byte("PK\x03\x04\x00\xff")
	h := apigwlambda.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/zip":
			w.Header().Set("Content-Type", "application/zip")
			_, _ = w.Write(zipBytes)
		case "/csv":
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Add("Vary", "Origin")
			w.Header().Add("Vary", "Accept")
			_, _ = w.Write([]byte("\uFEFFName\r\n"))
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			_, _ = w.Write(b)
		}
	}))
	ev := fixture(t, "get-job.json")
	ev.RawPath = "/dev/zip"
	resp, _ := h(context.Background(), ev)
	if b, _ := base64.StdEncoding.DecodeString(resp.Body); !resp.IsBase64Encoded || !bytes.Equal(b, zipBytes) {
		t.Fatalf("zip: %+v", resp)
	}
	ev.RawPath = "/dev/csv"
	resp, _ = h(context.Background(), ev)
	if resp.IsBase64Encoded || resp.Body != "\uFEFFName\r\n" || resp.Headers["Vary"] != "Origin,Accept" {
		t.Fatalf("csv: %+v", resp)
	}
	ev.RawPath, ev.Body, ev.IsBase64Encoded = "/dev/echo", base64.StdEncoding.EncodeToString(zipBytes), true
	resp, _ = h(context.Background(), ev)
	if b, _ := base64.StdEncoding.DecodeString(resp.Body); !bytes.Equal(b, zipBytes) {
		t.Fatalf("binary request body: %+v", resp)
	}
}

func FuzzLambdaAdapterPaths(f *testing.F) {
	for _, s := range []string{"/dev/v1/jobs/%zz", "/v1/jobs", "", "dev", "/dev", "/%", "/dev/v1/jobs/%2F..%2F"} {
		f.Add(s, "a=%zz&b")
	}
	api := &httpapi.API{Auth: authn.Claims{}}
	h := apigwlambda.Handler(api.Handler())
	f.Fuzz(func(t *testing.T, path, query string) {
		ev := events.APIGatewayV2HTTPRequest{RawPath: path, RawQueryString: query,
			RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "dev", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}}
		resp, err := h(context.Background(), ev)
		if err != nil || resp.StatusCode < 200 || resp.StatusCode > 599 {
			t.Fatalf("%q %q: %+v %v", path, query, resp, err)
		}
	})
}
