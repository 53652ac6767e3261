package devstack

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

const gwTemplate = `
Parameters:
  Stage: { Type: String, Default: dev }
  JwtIssuer: { Type: String }
  JwtAudience: { Type: CommaDelimitedList }
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 29
      Events:
        Health:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: GET
            Path: "/v1/health"
            Auth:
              Authorizer: NONE
        GetJob:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: GET
            Path: "/v1/jobs/{id}"
        ListJobs:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: GET
            Path: "/v1/jobs"
        Latest:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: GET
            Path: "/v1/jobs/latest"
        Upload:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: POST
            Path: "/v1/imports"
            Auth:
              AuthorizationScopes: [bulkops/write]
        Files:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: ANY
            Path: "/v1/files/{proxy+}"
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: !Ref Stage
      CorsConfiguration:
        AllowOrigins: [http://127.0.0.1:5173]
        AllowMethods: [GET, POST]
        AllowHeaders: [authorization, content-type]
        ExposeHeaders: [x-request-id]
        MaxAge: 600
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration: { issuer: !Ref JwtIssuer, audience: !Ref JwtAudience }
`

// gwRig is API Gateway in front of a function "p-Api" on a Lambda server,
// with an OIDC issuer, each an HTTP server on 127.0.0.1.
type gwRig struct {
	url    string // with the stage
	base   string // without
	issuer *authn.Issuer
	mu     sync.Mutex
	events []events.APIGatewayV2HTTPRequest
	reply  func(ev events.APIGatewayV2HTTPRequest) (any, error)
}

func newGWRig(t *testing.T) *gwRig {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys, err := authn.NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	r := &gwRig{issuer: &authn.Issuer{Keys: keys}}
	oidc := httptest.NewServer(r.issuer)
	t.Cleanup(oidc.Close)
	r.issuer.URL = oidc.URL + "/oidc"

	ls := NewLambdaServer(log)
	ls.Register("p-Api", lambda.NewHandler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (any, error) {
		r.mu.Lock()
		r.events = append(r.events, ev)
		reply := r.reply
		r.mu.Unlock()
		if reply != nil {
			return reply(ev)
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain"}, Body: "ok"}, nil
	}), FunctionConfig{Timeout: 29 * time.Second})
	lsrv := httptest.NewServer(ls)
	t.Cleanup(lsrv.Close)
	client := awslambda.New(awslambda.Options{Region: Region, BaseEndpoint: aws.String(lsrv.URL), Credentials: aws.AnonymousCredentials{}})

	tpl, err := samtemplate.Parse([]byte(gwTemplate))
	if err != nil {
		t.Fatal(err)
	}
	names := Names{Template: tpl, Prefix: "p-", Params: map[string]string{"JwtIssuer": r.issuer.URL, "JwtAudience": "other," + authn.LocalAudience}}
	gw, err := NewAPIGateway(names, "HttpApi", client, func(iss string) authn.KeyResolver { return &authn.RemoteJWKS{Issuer: iss} }, log)
	if err != nil {
		t.Fatal(err)
	}
	gsrv := httptest.NewServer(gw)
	t.Cleanup(gsrv.Close)
	r.base, r.url = gsrv.URL, gsrv.URL+"/dev"
	return r
}

func (r *gwRig) last(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		t.Fatal("the function was not invoked")
	}
	return r.events[len(r.events)-1]
}

func (r *gwRig) token(t *testing.T, mod func(map[string]any)) string {
	t.Helper()
	c := authn.LocalClaims(r.issuer.URL, "acme", "ana@acme.example", time.Now(), time.Hour)
	c["aud"] = []any{"x", authn.LocalAudience}
	if mod != nil {
		mod(c)
	}
	tok, err := r.issuer.Keys.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func do(t *testing.T, method, url string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Add(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestAPIGatewayBuildsPayloadFormat2Events(t *testing.T) {
	r := newGWRig(t)
	tok := r.token(t, nil)
	req, _ := http.NewRequest("GET", r.url+"/v1/jobs/01JAB%20C?status=Failed&status=New&q=a%26b", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("Cookie", "a=1; b=2")
	req.Header.Set("User-Agent", "bulkops-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Apigw-Requestid") == "" {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ev := r.last(t)
	rc := ev.RequestContext
	checks := map[string][2]any{
		"version":          {ev.Version, "2.0"},
		"routeKey":         {ev.RouteKey, "GET /v1/jobs/{id}"},
		"rawPath":          {ev.RawPath, "/dev/v1/jobs/01JAB%20C"},
		"http.path":        {rc.HTTP.Path, "/dev/v1/jobs/01JAB%20C"},
		"rawQueryString":   {ev.RawQueryString, "status=Failed&status=New&q=a%26b"},
		"query status":     {ev.QueryStringParameters["status"], "Failed,New"},
		"query q":          {ev.QueryStringParameters["q"], "a&b"},
		"pathParameters":   {ev.PathParameters["id"], "01JAB C"},
		"multi header":     {ev.Headers["x-multi"], "one,two"},
		"authorization":    {ev.Headers["authorization"], "Bearer " + tok},
		"no cookie header": {ev.Headers["cookie"], ""},
		"cookies":          {strings.Join(ev.Cookies, "|"), "a=1|b=2"},
		"stage":            {rc.Stage, "dev"},
		"rc routeKey":      {rc.RouteKey, "GET /v1/jobs/{id}"},
		"method":           {rc.HTTP.Method, "GET"},
		"sourceIp":         {rc.HTTP.SourceIP, "127.0.0.1"},
		"userAgent":        {rc.HTTP.UserAgent, "bulkops-test"},
		"accountId":        {rc.AccountID, Account},
		"tenant claim":     {rc.Authorizer.JWT.Claims["tenant"], "acme"},
		"list claim":       {rc.Authorizer.JWT.Claims["aud"], "[x " + authn.LocalAudience + "]"},
		"body":             {ev.Body, ""},
		"isBase64Encoded":  {ev.IsBase64Encoded, false},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %#v, want %#v", name, c[0], c[1])
		}
	}
	if exp := rc.Authorizer.JWT.Claims["exp"]; len(exp) != 10 || strings.ContainsAny(exp, "e.") {
		t.Errorf("exp claim %q, want plain seconds as a string", exp)
	}
	if rc.Authorizer.JWT.Scopes != nil {
		t.Errorf("scopes %v on a route without AuthorizationScopes", rc.Authorizer.JWT.Scopes)
	}
	if rc.RequestID == "" || rc.TimeEpoch < time.Now().Add(-time.Minute).UnixMilli() || rc.Time == "" || rc.APIID == "" {
		t.Errorf("request context %+v", rc)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.Time); err != nil {
		t.Errorf("time %q", rc.Time)
	}

	// A binary body is base64-encoded; a JSON body is text.
	bin := []byte{0x50, 0x4b, 0x03, 0x04, 0xff}
	if resp, _ := do(t, "POST", r.url+"/v1/files/a/b.zip", strings.NewReader(string(bin)), map[string]string{"Authorization": tok, "Content-Type": "application/zip"}); resp.StatusCode != 200 {
		t.Fatalf("binary post: %d", resp.StatusCode)
	}
	ev = r.last(t)
	if dec, _ := base64.StdEncoding.DecodeString(ev.Body); !ev.IsBase64Encoded || string(dec) != string(bin) || ev.PathParameters["proxy"] != "a/b.zip" || ev.RouteKey != "ANY /v1/files/{proxy+}" {
		t.Fatalf("binary body event: %+v", ev)
	}
	scoped := r.token(t, func(c map[string]any) { c["scope"] = "openid bulkops/write" })
	if resp, _ := do(t, "POST", r.url+"/v1/imports", strings.NewReader(`{"a":1}`), map[string]string{"Authorization": "Bearer " + scoped, "Content-Type": "application/json"}); resp.StatusCode != 200 {
		t.Fatalf("json post: %d", resp.StatusCode)
	}
	ev = r.last(t)
	if ev.IsBase64Encoded || ev.Body != `{"a":1}` || strings.Join(ev.RequestContext.Authorizer.JWT.Scopes, " ") != "openid bulkops/write" {
		t.Fatalf("json body event: %+v", ev)
	}
	// A literal segment wins over a path variable.
	if resp, _ := do(t, "GET", r.url+"/v1/jobs/latest", nil, map[string]string{"Authorization": "Bearer " + tok}); resp.StatusCode != 200 || r.last(t).RouteKey != "GET /v1/jobs/latest" {
		t.Fatalf("literal route: %d %s", resp.StatusCode, r.last(t).RouteKey)
	}
}

func TestAPIGatewayAuthorizerAndRouting(t *testing.T) {
	r := newGWRig(t)
	tok := r.token(t, nil)
	bearer := map[string]string{"Authorization": "Bearer " + tok}
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		body, challenge    string
	}{
		{"public route needs no token", "GET", "/dev/v1/health", nil, 200, "ok", ""},
		{"no token", "GET", "/dev/v1/jobs", nil, 401, `{"message":"Unauthorized"}`, "Bearer"},
		{"expired", "GET", "/dev/v1/jobs", map[string]string{"Authorization": "Bearer " + r.token(t, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })}, 401, `{"message":"Unauthorized"}`, `error="invalid_token"`},
		{"not yet valid", "GET", "/dev/v1/jobs", map[string]string{"Authorization": "Bearer " + r.token(t, func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() })}, 401, `{"message":"Unauthorized"}`, `error="invalid_token"`},
		{"wrong audience", "GET", "/dev/v1/jobs", map[string]string{"Authorization": "Bearer " + r.token(t, func(c map[string]any) { c["aud"] = "nobody" })}, 401, `{"message":"Unauthorized"}`, "wrong audience"},
		{"wrong issuer", "GET", "/dev/v1/jobs", map[string]string{"Authorization": "Bearer " + r.token(t, func(c map[string]any) { c["iss"] = "https://elsewhere" })}, 401, `{"message":"Unauthorized"}`, "wrong issuer"},
		{"garbage", "GET", "/dev/v1/jobs", map[string]string{"Authorization": "Bearer abc"}, 401, `{"message":"Unauthorized"}`, "not a JWT"},
		{"missing scope", "POST", "/dev/v1/imports", bearer, 403, `{"message":"Forbidden"}`, `error="insufficient_scope"`},
		{"valid", "GET", "/dev/v1/jobs", bearer, 200, "ok", ""},
		{"unknown route", "GET", "/dev/v1/nope", bearer, 404, `{"message":"Not Found"}`, ""},
		{"wrong method", "DELETE", "/dev/v1/jobs", bearer, 404, `{"message":"Not Found"}`, ""},
		{"no stage", "GET", "/v1/jobs", bearer, 404, `{"message":"Not Found"}`, ""},
		{"other stage", "GET", "/prod/v1/jobs", bearer, 404, `{"message":"Not Found"}`, ""},
		{"stage prefix is a whole segment", "GET", "/devx/v1/jobs", bearer, 404, `{"message":"Not Found"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, r.base+tt.path, nil, tt.hdr)
			if resp.StatusCode != tt.status || body != tt.body {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, tt.status, tt.body)
			}
			if got := resp.Header.Get("Www-Authenticate"); !strings.Contains(got, tt.challenge) || (tt.challenge == "") != (got == "") {
				t.Fatalf("www-authenticate %q, want %q", got, tt.challenge)
			}
		})
	}
	// Rotation: a token of the new key verifies (the authorizer fetches
	// the JWKS again for an unknown kid), and so does one of the old key.
	if err := r.issuer.Keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{tok, r.token(t, nil)} {
		if resp, _ := do(t, "GET", r.url+"/v1/jobs", nil, map[string]string{"Authorization": "Bearer " + tk}); resp.StatusCode != 200 {
			t.Fatalf("after rotation: %d", resp.StatusCode)
		}
	}
}

func TestAPIGatewayMapsResponsesAndCORS(t *testing.T) {
	r := newGWRig(t)
	tok := "Bearer " + r.token(t, nil)
	origin := "http://127.0.0.1:5173"
	r.reply = func(ev events.APIGatewayV2HTTPRequest) (any, error) {
		switch ev.RawQueryString {
		case "fail":
			return nil, errors.New("boom")
		case "plain":
			return map[string]string{"hello": "world"}, nil
		case "bad":
			return map[string]any{"statusCode": 42}, nil
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 201, IsBase64Encoded: true, Body: base64.StdEncoding.EncodeToString([]byte("PK\x03\x04")),
			Headers: map[string]string{"Content-Type": "application/zip", "X-Request-Id": "r1", "Access-Control-Allow-Origin": "*"},
			Cookies: []string{"a=1; Path=/", "b=2"}}, nil
	}
	resp, body := do(t, "GET", r.url+"/v1/jobs", nil, map[string]string{"Authorization": tok, "Origin": origin})
	if resp.StatusCode != 201 || body != "PK\x03\x04" || resp.Header.Get("Content-Type") != "application/zip" || resp.Header.Get("X-Request-Id") != "r1" ||
		strings.Join(resp.Header.Values("Set-Cookie"), "|") != "a=1; Path=/|b=2" {
		t.Fatalf("mapped response %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != origin || resp.Header.Get("Access-Control-Expose-Headers") != "x-request-id" {
		t.Fatalf("CORS headers are API Gateway's: %v", resp.Header)
	}
	if resp, body := do(t, "GET", r.url+"/v1/jobs?plain", nil, map[string]string{"Authorization": tok}); resp.StatusCode != 200 || body != `{"hello":"world"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("a response without statusCode: %d %s", resp.StatusCode, body)
	}
	for _, q := range []string{"fail", "bad"} {
		if resp, body := do(t, "GET", r.url+"/v1/jobs?"+q, nil, map[string]string{"Authorization": tok}); resp.StatusCode != 500 || body != `{"message":"Internal Server Error"}` {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
	// Preflight: answered by API Gateway from the CORS configuration.
	n := len(r.events)
	resp, _ = do(t, "OPTIONS", r.url+"/v1/jobs", nil, map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != origin || resp.Header.Get("Access-Control-Allow-Methods") != "GET,POST" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "authorization,content-type" || resp.Header.Get("Access-Control-Max-Age") != "600" || len(r.events) != n {
		t.Fatalf("preflight %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = do(t, "OPTIONS", r.url+"/v1/jobs", nil, map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight of another origin %d %v", resp.StatusCode, resp.Header)
	}
	// A 401 carries the CORS headers too, so a browser can read it.
	if resp, _ := do(t, "GET", r.url+"/v1/jobs", nil, map[string]string{"Origin": origin}); resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("401 without CORS headers: %v", resp.Header)
	}
	// Request bodies over 10 MB never reach the function.
	if resp, _ := do(t, "POST", r.url+"/v1/files/x", strings.NewReader(strings.Repeat("x", MaxAPIRequestBody+1)), map[string]string{"Authorization": tok}); resp.StatusCode != 413 {
		t.Fatalf("huge body: %d", resp.StatusCode)
	}
}

func TestAPIGatewayFromTheTemplate(t *testing.T) {
	tpl, err := samtemplate.Load("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	names := Names{Template: tpl, Prefix: "p-", Params: map[string]string{"JwtIssuer": "http://127.0.0.1:1/oidc", "JwtAudience": authn.LocalAudience}}
	gw, err := NewAPIGateway(names, "HttpApi", nil, func(string) authn.KeyResolver { return nil }, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if gw.Stage != "dev" {
		t.Fatalf("stage %q, want the template's default dev", gw.Stage)
	}
	public := map[string]bool{}
	for _, rt := range gw.Routes {
		if rt.Function != "p-ApiFunction" {
			t.Errorf("route %s goes to %s", rt.Key(), rt.Function)
		}
		public[rt.Key()] = rt.Authorizer == ""
	}
	if len(gw.Routes) < 19 || !public["GET /v1/health"] || !public["GET /v1/openapi.json"] || public["GET /v1/jobs/{id}"] {
		t.Fatalf("routes %v", public)
	}
	if a := gw.Authorizers["TenantJwt"]; a.Policy.Issuer != "http://127.0.0.1:1/oidc" || a.Header != "Authorization" || strings.Join(a.Policy.Audiences, ",") != authn.LocalAudience {
		t.Fatalf("authorizer %+v", a)
	}
}
