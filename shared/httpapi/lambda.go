package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ccbulk/bulkops/shared/authn"
)

// LambdaHandler adapts h to API Gateway HTTP API (payload format 2.0)
// events.
func LambdaHandler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		body := ev.Body
		if ev.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(ev.Body)
			if err != nil {
				return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest}, nil
			}
			body = string(b)
		}
		target := ev.RawPath
		if ev.RawQueryString != "" {
			target += "?" + ev.RawQueryString
		}
		if a := ev.RequestContext.Authorizer; a != nil && a.JWT != nil {
			// Claims API Gateway's JWT authorizer verified; authn.Claims
			// reads them, and nothing else identifies the caller.
			ctx = authn.WithClaims(ctx, a.JWT.Claims)
		}
		req := httptest.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, target, strings.NewReader(body))
		for k, v := range ev.Headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp := events.APIGatewayV2HTTPResponse{StatusCode: rec.Code, Headers: map[string]string{}}
		for k, v := range rec.Header() {
			resp.Headers[k] = strings.Join(v, ",")
		}
		resp.Body = base64.StdEncoding.EncodeToString(rec.Body.Bytes())
		resp.IsBase64Encoded = true
		return resp, nil
	}
}
