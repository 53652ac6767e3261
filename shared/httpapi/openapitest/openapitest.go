// Package openapitest holds the API's answers against its OpenAPI
// document (shared/httpapi/openapi.json) in tests: every answer a test
// gets from the API, through a real HTTP server, the Lambda adapter or a
// recorder, is validated with libopenapi-validator (OpenAPI 3.1): status
// documented for the operation, headers, content type and body schema.
package openapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/helpers"

	"github.com/ccbulk/bulkops/shared/httpapi"
)

var (
	once    sync.Once
	shared  validator.Validator
	loadErr error
	// mu serializes validations: the validator's caches are shared.
	mu sync.Mutex
)

// load parses the document once per test binary.
func load() (validator.Validator, error) {
	once.Do(func() {
		doc, err := libopenapi.NewDocument(httpapi.OpenAPI)
		if err != nil {
			loadErr = fmt.Errorf("openapi.json: %w", err)
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			loadErr = fmt.Errorf("openapi.json: %v", errs)
			return
		}
		if ok, verrs := v.ValidateDocument(); !ok {
			var msgs []string
			for _, e := range verrs {
				msgs = append(msgs, e.Error())
			}
			loadErr = fmt.Errorf("openapi.json is not a valid OpenAPI document: %s", strings.Join(msgs, "; "))
			return
		}
		shared = v
	})
	return shared, loadErr
}

// Check validates one answer of the API to req (its body already read
// into body). The request's path may carry a stage prefix (/dev/v1/...):
// it is matched from /v1/ on, as the document's server URLs say.
func Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	v, err := load()
	if err != nil {
		t.Fatal(err)
	}
	r := req.Clone(req.Context())
	u := *req.URL
	if i := strings.Index(u.Path, "/v1/"); i > 0 {
		u.Path = u.Path[i:]
		u.RawPath = ""
	}
	r.URL = &u
	r.Body = http.NoBody
	resp := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: r}
	mu.Lock()
	ok, errs := v.ValidateHttpResponse(r, resp)
	mu.Unlock()
	if !ok && len(errs) == 1 && errs[0].ValidationType == helpers.PathValidation {
		// A path (or method) the API does not have: the document cannot
		// describe it; the answer must be a 404 problem document.
		if err := undocumentedRoute(status, header, body); err != nil {
			t.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		}
		return
	}
	if !ok {
		var msgs []string
		for _, e := range errs {
			m := e.Message
			if e.Reason != "" {
				m += ": " + e.Reason
			}
			for _, se := range e.SchemaValidationErrors {
				m += fmt.Sprintf(" [%s: %s]", se.FieldPath, se.Reason)
			}
			msgs = append(msgs, m)
		}
		t.Errorf("%s %s answered %d, which openapi.json does not describe:\n  %s\n  body: %.600s", req.Method, req.URL.Path, status, strings.Join(msgs, "\n  "), body)
	}
}

// undocumentedRoute checks the answer to a request for a route the API
// does not serve. Deployed, API Gateway answers it before any function
// runs, with its own 404 {"message":"Not Found"}; a route the gateway
// passes on but the handler does not know is a 404 NOT_FOUND problem.
func undocumentedRoute(status int, header http.Header, body []byte) error {
	if status == http.StatusNotFound && strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &m) == nil && m.Message == "Not Found" {
			return nil
		}
	}
	var p httpapi.Problem
	if status != http.StatusNotFound || !strings.HasPrefix(header.Get("Content-Type"), "application/problem+json") ||
		json.Unmarshal(body, &p) != nil || p.Code != "NOT_FOUND" || p.Status != status || p.Instance == "" || p.Detail == "" {
		return fmt.Errorf("a route openapi.json does not have answered %d %q %s; want API Gateway's 404 {\"message\":\"Not Found\"} or a 404 NOT_FOUND problem document", status, header.Get("Content-Type"), body)
	}
	return nil
}

// Recorded validates an answer a test recorded (httptest.ResponseRecorder),
// such as one served through the Lambda adapter.
func Recorded(t testing.TB, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	Check(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
}

// Transport returns a RoundTripper (over base, or the default transport)
// that validates every answer from the API at apiBase and passes every
// exchange through unchanged; requests elsewhere (presigned S3 links) are
// not checked.
func Transport(t testing.TB, apiBase string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	api, err := url.Parse(apiBase)
	if err != nil {
		t.Fatalf("api base %q: %v", apiBase, err)
	}
	return &transport{t: t, api: api, base: base}
}

// Client is an http.Client whose answers from apiBase are validated.
func Client(t testing.TB, apiBase string) *http.Client {
	return &http.Client{Transport: Transport(t, apiBase, nil)}
}

type transport struct {
	t    testing.TB
	api  *url.URL
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tr.base.RoundTrip(req)
	if err != nil || req.URL.Host != tr.api.Host || !strings.HasPrefix(req.URL.Path, strings.TrimSuffix(tr.api.Path, "/")+"/v1/") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	Check(tr.t, req, resp.StatusCode, resp.Header, body)
	return resp, nil
}
