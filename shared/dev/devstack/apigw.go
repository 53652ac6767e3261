package devstack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ccbulk/bulkops/shared/authn"
)

// HTTP API limits.
const (
	// MaxAPIRequestBody is an HTTP API's request payload limit (10 MB).
	MaxAPIRequestBody = 10 * 1024 * 1024
	// IntegrationTimeout is an HTTP API's maximum integration timeout.
	IntegrationTimeout = 30 * time.Second
)

// APIGateway plays an API Gateway HTTP API of the template
// (AWS::Serverless::HttpApi) in front of its Lambda functions, as AWS runs
// it:
//
//   - requests are served under the stage's path (/<StageName>/...; a
//     $default stage has none); anything else answers 404 {"message":"Not
//     Found"};
//   - routes are the functions' HttpApi events (method and path with
//     {param} and {proxy+} variables), most specific first; no match is
//     404 {"message":"Not Found"};
//   - a route with an authorizer (the API's DefaultAuthorizer unless the
//     event says Authorizer: NONE) verifies the JWT as the JWT authorizer
//     does: RS256 with the kid looked up in the issuer's JWKS (fetched
//     over HTTP from the issuer's discovery document), iss, aud, exp, nbf
//     and, where the route sets AuthorizationScopes, one of its scopes;
//     401 {"message":"Unauthorized"} (403 {"message":"Forbidden"} for
//     missing scopes) with a www-authenticate header otherwise;
//   - the request becomes a payload format 2.0 event, the function is
//     invoked through the Lambda Invoke API (Lambda), and its response is
//     mapped back; a function error is 500 {"message":"Internal Server
//     Error"}, an integration over 30 s 503 {"message":"Service
//     Unavailable"};
//   - CORS from the API's CorsConfiguration: preflight OPTIONS requests
//     are answered by API Gateway, and the CORS headers of every response
//     are API Gateway's (the function's are dropped).
type APIGateway struct {
	APIID       string
	Stage       string // "$default" for none
	Routes      []APIRoute
	Authorizers map[string]JWTAuthorizer
	CORS        *CORSConfig
	Lambda      invoker
	Log         *slog.Logger
	Now         func() time.Time
}

// APIRoute is one route of the HTTP API.
type APIRoute struct {
	Method   string // GET, POST, ... or ANY
	Path     string // /v1/jobs/{id}, or $default
	Function string // the integration's function name
	// Authorizer names the route's authorizer ("" for none).
	Authorizer string
	// Scopes are the route's AuthorizationScopes.
	Scopes []string
}

// Key is the route key, e.g. "GET /v1/jobs/{id}".
func (r APIRoute) Key() string {
	if r.Path == "$default" {
		return "$default"
	}
	return r.Method + " " + r.Path
}

// JWTAuthorizer is an HTTP API JWT authorizer.
type JWTAuthorizer struct {
	// Header is the identity source's header ($request.header.<name>).
	Header string
	Policy authn.TokenPolicy
}

// CORSConfig is an HTTP API's CorsConfiguration.
type CORSConfig struct {
	AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders []string
	AllowCredentials                                        bool
	MaxAge                                                  int
}

// NewAPIGateway reads the HTTP API apiLogicalID of the template: its
// stage, authorizers, CORS configuration and the routes of every function
// that has HttpApi events on it. keys resolves an issuer's signing keys
// (RemoteJWKS for the issuer, as AWS fetches them).
func NewAPIGateway(n Names, apiLogicalID string, lambda invoker, keys func(issuer string) authn.KeyResolver, log *slog.Logger) (*APIGateway, error) {
	res, ok := n.Template.Resources[apiLogicalID]
	if !ok || res.Type != "AWS::Serverless::HttpApi" {
		return nil, fmt.Errorf("template has no AWS::Serverless::HttpApi %s", apiLogicalID)
	}
	// Only the properties API Gateway's request handling depends on are
	// resolved: the rest (access logs, tags) may name resources that exist
	// only on AWS.
	played := map[string]any{}
	for _, k := range []string{"StageName", "Auth", "CorsConfiguration"} {
		if v, ok := res.Properties[k]; ok {
			played[k] = v
		}
	}
	props, err := n.Template.Resolve(played, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", apiLogicalID, err)
	}
	p, _ := props.(map[string]any)
	sum := sha256.Sum256([]byte(n.Prefix + apiLogicalID))
	gw := &APIGateway{APIID: hex.EncodeToString(sum[:5]), Stage: "$default", Authorizers: map[string]JWTAuthorizer{}, Lambda: lambda, Log: log}
	if s, ok := p["StageName"].(string); ok && s != "" {
		gw.Stage = s
	}
	auth, _ := p["Auth"].(map[string]any)
	defaultAuth, _ := auth["DefaultAuthorizer"].(string)
	authorizers, _ := auth["Authorizers"].(map[string]any)
	for name, v := range authorizers {
		a, _ := v.(map[string]any)
		jc, _ := a["JwtConfiguration"].(map[string]any)
		if jc == nil {
			return nil, fmt.Errorf("%s authorizer %s: only JWT authorizers are played locally", apiLogicalID, name)
		}
		issuer := toString(jc["issuer"])
		var auds []string
		switch x := jc["audience"].(type) {
		case []any:
			for _, a := range x {
				auds = append(auds, toString(a))
			}
		default:
			auds = strings.Split(toString(x), ",")
		}
		header := "Authorization"
		if src, _ := a["IdentitySource"].(string); strings.HasPrefix(src, "$request.header.") {
			header = strings.TrimPrefix(src, "$request.header.")
		}
		if issuer == "" {
			return nil, fmt.Errorf("%s authorizer %s has no issuer (set the JwtIssuer parameter)", apiLogicalID, name)
		}
		gw.Authorizers[name] = JWTAuthorizer{Header: header, Policy: authn.TokenPolicy{Issuer: issuer, Audiences: auds, Keys: keys(issuer)}}
	}
	gw.CORS = corsConfig(p["CorsConfiguration"])

	for _, fnID := range n.Template.OfType("AWS::Serverless::Function") {
		evs, _ := n.Template.Resources[fnID].Properties["Events"].(map[string]any)
		fnName, _ := n.Ref(fnID)
		for evName, v := range evs {
			ev, _ := v.(map[string]any)
			if ev["Type"] != "HttpApi" {
				continue
			}
			ep, _ := ev["Properties"].(map[string]any)
			if ref, _ := ep["ApiId"].(map[string]any); ref["Ref"] != apiLogicalID {
				continue
			}
			rt := APIRoute{Method: strings.ToUpper(toString(ep["Method"])), Path: toString(ep["Path"]), Function: fnName, Authorizer: defaultAuth}
			if rt.Method == "" || rt.Method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
				rt.Method = "ANY"
			}
			if rt.Path == "" {
				rt.Path = "$default"
			}
			// The route's Auth may use intrinsics (AuthorizationScopes: [!Ref
			// OperatorScope]).
			routeAuth, err := n.Template.Resolve(ep["Auth"], n)
			if err != nil {
				return nil, fmt.Errorf("%s event %s: %w", fnID, evName, err)
			}
			if a, _ := routeAuth.(map[string]any); a != nil {
				if name, ok := a["Authorizer"].(string); ok {
					rt.Authorizer = name
				}
				if sc, _ := a["AuthorizationScopes"].([]any); sc != nil {
					for _, s := range sc {
						rt.Scopes = append(rt.Scopes, toString(s))
					}
				}
			}
			if rt.Authorizer == "NONE" {
				rt.Authorizer = ""
			}
			if _, ok := gw.Authorizers[rt.Authorizer]; rt.Authorizer != "" && !ok {
				return nil, fmt.Errorf("%s event %s: unknown authorizer %s", fnID, evName, rt.Authorizer)
			}
			gw.Routes = append(gw.Routes, rt)
		}
	}
	sort.Slice(gw.Routes, func(i, j int) bool { return gw.Routes[i].Key() < gw.Routes[j].Key() })
	return gw, nil
}

func corsConfig(v any) *CORSConfig {
	switch c := v.(type) {
	case bool:
		if c {
			return &CORSConfig{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}}
		}
	case map[string]any:
		list := func(k string) []string {
			var out []string
			switch x := c[k].(type) {
			case []any:
				for _, e := range x {
					out = append(out, toString(e))
				}
			case string:
				for _, e := range strings.Split(x, ",") {
					if e = strings.TrimSpace(e); e != "" {
						out = append(out, e)
					}
				}
			}
			return out
		}
		cfg := &CORSConfig{AllowOrigins: list("AllowOrigins"), AllowMethods: list("AllowMethods"), AllowHeaders: list("AllowHeaders"), ExposeHeaders: list("ExposeHeaders")}
		cfg.AllowCredentials, _ = c["AllowCredentials"].(bool)
		switch m := c["MaxAge"].(type) {
		case int64:
			cfg.MaxAge = int(m)
		case string:
			cfg.MaxAge, _ = strconv.Atoi(m)
		}
		return cfg
	}
	return nil
}

// gwMessage answers as API Gateway does for its own errors.
func gwMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, msg)
}

// ServeHTTP implements http.Handler.
func (g *APIGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	requestID := apiRequestID()
	w.Header().Set("Apigw-Requestid", requestID)
	status := &statusWriter{ResponseWriter: w}
	defer func() {
		g.Log.Info("api request", "requestId", requestID, "method", r.Method, "path", r.URL.EscapedPath(), "status", status.code, "ms", time.Since(now).Milliseconds())
	}()
	w = status

	origin := r.Header.Get("Origin")
	if g.CORS != nil && r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		g.preflight(w, origin)
		return
	}
	rawPath := r.URL.EscapedPath()
	path := rawPath
	if g.Stage != "$default" {
		rest, ok := strings.CutPrefix(rawPath, "/"+g.Stage)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
			gwMessage(w, http.StatusNotFound, "Not Found")
			return
		}
		path = rest
		if path == "" {
			path = "/"
		}
	}
	route, params, ok := g.match(r.Method, path)
	if !ok {
		g.corsHeaders(w.Header(), origin)
		gwMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	var jwt *events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription
	if route.Authorizer != "" {
		var allowed bool
		if jwt, allowed = g.authorize(w, r, route, origin); !allowed {
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxAPIRequestBody+1))
	if err != nil {
		gwMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > MaxAPIRequestBody {
		gwMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	ev := g.Event(r, route, params, rawPath, body, jwt, requestID, now)
	payload, err := MarshalEvent(ev)
	if err != nil || len(payload) > MaxSyncPayload {
		gwMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), IntegrationTimeout)
	defer cancel()
	out, err := g.Lambda.Invoke(ctx, &awslambda.InvokeInput{
		FunctionName: aws.String(route.Function), InvocationType: lambdatypes.InvocationTypeRequestResponse, Payload: payload,
	})
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		gwMessage(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	case err != nil:
		g.Log.Error("integration failed", "requestId", requestID, "function", route.Function, "err", err.Error())
		gwMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	case out.FunctionError != nil:
		g.Log.Error("function error", "requestId", requestID, "function", route.Function, "payload", string(out.Payload))
		gwMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	g.respond(w, out.Payload, origin, requestID)
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// authorize runs the route's JWT authorizer; it answers the request itself
// when the caller is not allowed.
func (g *APIGateway) authorize(w http.ResponseWriter, r *http.Request, route APIRoute, origin string) (*events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, bool) {
	a := g.Authorizers[route.Authorizer]
	g.corsHeaders(w.Header(), origin)
	token := strings.TrimSpace(r.Header.Get(a.Header))
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	if token == "" {
		w.Header().Set("Www-Authenticate", "Bearer")
		gwMessage(w, http.StatusUnauthorized, "Unauthorized")
		return nil, false
	}
	claims, err := a.Policy.Verify(r.Context(), token)
	if err != nil {
		desc := strings.TrimPrefix(err.Error(), "invalid token: ")
		w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer scope="%s" error="invalid_token" error_description=%q`, strings.Join(route.Scopes, " "), desc))
		gwMessage(w, http.StatusUnauthorized, "Unauthorized")
		return nil, false
	}
	jwt := &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: ClaimStrings(claims)}
	if len(route.Scopes) > 0 {
		have := authn.TokenScopes(claims)
		if !anyOf(have, route.Scopes) {
			w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer scope="%s" error="insufficient_scope" error_description="expected scopes: [%s]"`,
				strings.Join(route.Scopes, " "), strings.Join(route.Scopes, " ")))
			gwMessage(w, http.StatusForbidden, "Forbidden")
			return nil, false
		}
		jwt.Scopes = have
	}
	return jwt, true
}

func anyOf(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

// ClaimStrings turns verified claims into what API Gateway passes on:
// every value a string; numbers in plain notation, lists as "[a b]".
func ClaimStrings(claims map[string]any) map[string]string {
	out := make(map[string]string, len(claims))
	for k, v := range claims {
		out[k] = claimString(v)
	}
	return out
}

func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = claimString(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// match finds the most specific route for method and path (without the
// stage): literal segments before {param}, {param} before {proxy+}, a
// method before ANY, $default last.
func (g *APIGateway) match(method, path string) (APIRoute, map[string]string, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var best APIRoute
	var bestParams map[string]string
	var bestScore []int
	found := false
	for _, rt := range g.Routes {
		if rt.Method != "ANY" && rt.Method != method {
			continue
		}
		var score []int
		var params map[string]string
		if rt.Path == "$default" {
			score = []int{-1}
		} else {
			var ok bool
			if score, params, ok = matchPath(rt.Path, segs); !ok {
				continue
			}
		}
		if rt.Method != "ANY" {
			score = append(score, 1)
		} else {
			score = append(score, 0)
		}
		if !found || better(score, bestScore) {
			best, bestParams, bestScore, found = rt, params, score, true
		}
	}
	return best, bestParams, found
}

func better(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return len(a) > len(b)
}

// matchPath matches a route path against request segments; the score has
// 3 for a literal segment, 2 for {param} and 1 for {proxy+}.
func matchPath(pattern string, segs []string) ([]int, map[string]string, bool) {
	ps := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	params := map[string]string{}
	var score []int
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") {
			if i >= len(segs) || strings.Join(segs[i:], "") == "" {
				return nil, nil, false
			}
			params[p[1:len(p)-2]] = decodeParam(strings.Join(segs[i:], "/"))
			return append(score, 1), params, true
		}
		if i >= len(segs) {
			return nil, nil, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, nil, false
			}
			params[p[1:len(p)-1]] = decodeParam(segs[i])
			score = append(score, 2)
			continue
		}
		if p != segs[i] {
			return nil, nil, false
		}
		score = append(score, 3)
	}
	if len(ps) != len(segs) {
		return nil, nil, false
	}
	return score, params, true
}

// decodeParam decodes a path parameter; one that is not valid
// percent-encoding is passed on as it came.
func decodeParam(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// textTypes are the content types whose bodies API Gateway passes as
// text; every other body is base64-encoded.
func isTextContent(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/xml" || strings.HasSuffix(mt, "+xml") || mt == "application/javascript"
}

// Event builds the payload format 2.0 event API Gateway sends for r.
func (g *APIGateway) Event(r *http.Request, route APIRoute, params map[string]string, rawPath string, body []byte,
	jwt *events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, requestID string, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	for k, vs := range r.Header {
		k = strings.ToLower(k)
		if k == "cookie" {
			continue
		}
		headers[k] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	ip, port, _ := net.SplitHostPort(r.RemoteAddr)
	if xff := headers["x-forwarded-for"]; xff != "" {
		headers["x-forwarded-for"] = xff + ", " + ip
	} else {
		headers["x-forwarded-for"] = ip
	}
	_, hostPort, _ := net.SplitHostPort(r.Host)
	if hostPort == "" {
		hostPort = "80"
	}
	headers["x-forwarded-port"], headers["x-forwarded-proto"] = hostPort, "http"
	trace := sha256.Sum256([]byte(requestID))
	headers["x-amzn-trace-id"] = "Root=1-" + strconv.FormatInt(now.Unix(), 16) + "-" + hex.EncodeToString(trace[:12])
	if len(body) > 0 {
		headers["content-length"] = strconv.Itoa(len(body))
	}
	_ = port
	var cookies []string
	for _, c := range r.Header.Values("Cookie") {
		for _, part := range strings.Split(c, ";") {
			if part = strings.TrimSpace(part); part != "" {
				cookies = append(cookies, part)
			}
		}
	}
	var query map[string]string
	if r.URL.RawQuery != "" {
		if vals, err := url.ParseQuery(r.URL.RawQuery); err == nil && len(vals) > 0 {
			query = map[string]string{}
			for k, vs := range vals {
				query[k] = strings.Join(vs, ",")
			}
		}
	}
	if len(params) == 0 {
		params = nil
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: route.Key(), RawPath: rawPath, RawQueryString: r.URL.RawQuery,
		Cookies: cookies, Headers: headers, QueryStringParameters: query, PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: route.Key(), AccountID: Account, Stage: g.Stage, RequestID: requestID, APIID: g.APIID,
			DomainName: r.Host, DomainPrefix: strings.SplitN(r.Host, ".", 2)[0],
			Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: rawPath, Protocol: r.Proto, SourceIP: ip, UserAgent: r.UserAgent(),
			},
		},
	}
	if jwt != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: jwt}
	}
	if len(body) > 0 {
		if isTextContent(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

// MarshalEvent encodes an HTTP API event as AWS sends it: without the
// requestContext.authentication block when there is no client
// certificate (aws-lambda-go's type would always write it).
func MarshalEvent(ev events.APIGatewayV2HTTPRequest) ([]byte, error) {
	b, err := json.Marshal(ev)
	if err != nil || ev.RequestContext.Authentication.ClientCert.ClientCertPem != "" {
		return b, err
	}
	var top map[string]json.RawMessage
	var rc map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(top["requestContext"], &rc); err != nil {
		return nil, err
	}
	delete(rc, "authentication")
	if top["requestContext"], err = json.Marshal(rc); err != nil {
		return nil, err
	}
	return json.Marshal(top)
}

// respond maps a function's payload format 2.0 response to HTTP.
func (g *APIGateway) respond(w http.ResponseWriter, payload []byte, origin, requestID string) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(payload, &probe); err != nil || probe["statusCode"] == nil {
		if !json.Valid(payload) {
			gwMessage(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		// Valid JSON without a statusCode: API Gateway sends it as the
		// body of a 200 JSON response.
		g.corsHeaders(w.Header(), origin)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(payload)
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(payload, &resp); err != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		g.Log.Error("malformed Lambda proxy response", "requestId", requestID, "payload", truncate(payload, 500))
		gwMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			gwMessage(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		body = b
	}
	h := w.Header()
	for k, v := range resp.Headers {
		if g.CORS != nil && strings.HasPrefix(strings.ToLower(k), "access-control-") {
			continue // API Gateway's CORS configuration wins
		}
		h.Set(k, v)
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	g.corsHeaders(h, origin)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// allowedOrigin is the access-control-allow-origin value for origin, or
// "" when the CORS configuration does not allow it.
func (g *APIGateway) allowedOrigin(origin string) string {
	if g.CORS == nil || origin == "" {
		return ""
	}
	for _, o := range g.CORS.AllowOrigins {
		if o == "*" {
			if g.CORS.AllowCredentials {
				return origin
			}
			return "*"
		}
		if strings.EqualFold(o, origin) {
			return origin
		}
	}
	return ""
}

// corsHeaders adds the CORS headers of a (non-preflight) response.
func (g *APIGateway) corsHeaders(h http.Header, origin string) {
	allow := g.allowedOrigin(origin)
	if allow == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", allow)
	if allow != "*" {
		h.Add("Vary", "Origin")
	}
	if g.CORS.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(g.CORS.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(g.CORS.ExposeHeaders, ","))
	}
}

// preflight answers a CORS preflight request, as API Gateway does for an
// API with a CORS configuration.
func (g *APIGateway) preflight(w http.ResponseWriter, origin string) {
	allow := g.allowedOrigin(origin)
	h := w.Header()
	if allow != "" {
		h.Set("Access-Control-Allow-Origin", allow)
		if allow != "*" {
			h.Add("Vary", "Origin")
		}
		if len(g.CORS.AllowMethods) > 0 {
			h.Set("Access-Control-Allow-Methods", strings.Join(g.CORS.AllowMethods, ","))
		}
		if len(g.CORS.AllowHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(g.CORS.AllowHeaders, ","))
		}
		if g.CORS.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if g.CORS.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(g.CORS.MaxAge))
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiRequestID is an API Gateway style request ID.
func apiRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return strings.TrimRight(base64.StdEncoding.EncodeToString(b[:]), "=")
}
