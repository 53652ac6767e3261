// Package apigwlambda adapts an http.Handler (the API, package httpapi)
// to API Gateway HTTP API events as Lambda receives them (payload format
// 2.0, aws-lambda-go's event types), so the handler itself knows nothing
// of Lambda and the local dev server serves it directly.
package apigwlambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/httpapi"
)

// Handler adapts h to API Gateway HTTP API events (payload format 2.0),
// as AWS sends them: on a named stage the path carries the stage
// (rawPath /dev/v1/jobs); the adapter strips "/" + requestContext.stage
// when it is there, so h routes the same with and without it. A path that
// is not valid percent-encoding, or a body that is not valid base64,
// answers 400 with a problem document. The verified JWT claims the
// authorizer passed on are the only identity h sees (authn.WithClaims).
func Handler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		req, err := lambdaRequest(ctx, ev)
		if err != nil {
			return badRequest(err.Error(), ev.RequestContext.RequestID), nil
		}
		rw := &responseBuffer{header: http.Header{}}
		h.ServeHTTP(rw, req)
		return rw.response(), nil
	}
}

// lambdaRequest builds the http.Request of an event.
func lambdaRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if st := ev.RequestContext.Stage; st != "" && st != "$default" {
		if rest, ok := strings.CutPrefix(path, "/"+st); ok && (rest == "" || strings.HasPrefix(rest, "/")) {
			path = rest
		}
	}
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return nil, errBadRequest("the path must start with /")
	}
	decoded, err := url.PathUnescape(path)
	if err != nil {
		return nil, errBadRequest("the path is not valid percent-encoding")
	}
	query := ev.RawQueryString
	if _, err := url.ParseQuery(query); err != nil {
		return nil, errBadRequest("the query string is not valid percent-encoding")
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, errBadRequest("the body is not valid base64")
		}
	}
	if a := ev.RequestContext.Authorizer; a != nil && a.JWT != nil {
		// Claims API Gateway's JWT authorizer verified; authn.Claims
		// reads them, and nothing else identifies the caller.
		ctx = authn.WithClaims(ctx, a.JWT.Claims)
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, errBadRequest("the method is not valid")
	}
	req.URL = &url.URL{Path: decoded, RawPath: path, RawQuery: query}
	req.RequestURI = path
	if query != "" {
		req.RequestURI += "?" + query
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = ev.RequestContext.DomainName
	if hh := ev.Headers["host"]; hh != "" {
		req.Host = hh
	}
	req.ContentLength = int64(len(body))
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	if p := ev.RequestContext.HTTP.Protocol; p != "" {
		if major, minor, ok := http.ParseHTTPVersion(p); ok {
			req.Proto, req.ProtoMajor, req.ProtoMinor = p, major, minor
		}
	}
	return req, nil
}

type errBadRequest string

func (e errBadRequest) Error() string { return string(e) }

func badRequest(detail, requestID string) events.APIGatewayV2HTTPResponse {
	if requestID == "" {
		requestID = httpapi.NewRequestID()
	}
	p := httpapi.ProblemOf(bulkerr.New(bulkerr.Invalid, "%s", detail), requestID)
	b, _ := json.Marshal(p)
	return events.APIGatewayV2HTTPResponse{StatusCode: p.Status,
		Headers: map[string]string{"Content-Type": "application/problem+json", "X-Request-Id": requestID}, Body: string(b)}
}

// responseBuffer is the http.ResponseWriter a Lambda invocation writes
// into.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *responseBuffer) Header() http.Header { return r.header }

func (r *responseBuffer) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *responseBuffer) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// response maps the written response to payload format 2.0: Set-Cookie
// headers become cookies, other multi-valued headers are comma-joined, and
// a body that is not text is base64-encoded.
func (r *responseBuffer) response() events.APIGatewayV2HTTPResponse {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	for k, vs := range r.header {
		if http.CanonicalHeaderKey(k) == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ",")
	}
	if _, ok := resp.Headers["Content-Type"]; !ok && r.body.Len() > 0 {
		resp.Headers["Content-Type"] = http.DetectContentType(r.body.Bytes())
	}
	resp.Headers["Content-Length"] = strconv.Itoa(r.body.Len())
	if textContent(resp.Headers["Content-Type"]) {
		resp.Body = r.body.String()
	} else {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(r.body.Bytes()), true
	}
	return resp
}

// textContent tells whether a body of content type ct goes as text.
func textContent(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/xml" || strings.HasSuffix(mt, "+xml")
}
