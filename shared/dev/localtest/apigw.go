package localtest

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
)

// API is a test's HTTP API served the way AWS serves it: API Gateway (the
// dev server's play of the template's HttpApi: stage, routes, JWT
// authorizer, CORS) in front of ApiFunction on a Lambda Invoke API server,
// with a local OIDC issuer whose JWKS the authorizer fetches over HTTP.
// Every server is an httptest server on 127.0.0.1.
type API struct {
	// URL is the API's base URL, with the stage: http://127.0.0.1:N/dev.
	URL string
	// Issuer signs the test's tokens.
	Issuer  *authn.Issuer
	Gateway *devstack.APIGateway
	Lambda  *devstack.LambdaServer
}

// ServeAPI serves fn (the handler functions/api starts, e.g.
// lambda.NewHandler(apigwlambda.Handler(api.Handler()))) as the stack's
// ApiFunction behind API Gateway.
func ServeAPI(t testing.TB, st *Stack, fn lambda.Handler) *API {
	t.Helper()
	keys, err := authn.NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	issuer := &authn.Issuer{Keys: keys}
	oidc := httptest.NewServer(issuer)
	t.Cleanup(oidc.Close)
	issuer.URL = oidc.URL + "/oidc"

	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	names := st.Names
	params := map[string]string{"JwtIssuer": issuer.URL, "JwtAudience": authn.LocalAudience}
	for k, v := range st.Names.Params {
		params[k] = v
	}
	names.Params = params
	lambdas := devstack.NewLambdaServer(log)
	cfg, err := names.FunctionConfig("ApiFunction")
	if err != nil {
		t.Fatal(err)
	}
	fnName, _ := names.Ref("ApiFunction")
	lambdas.Register(fnName, fn, cfg)
	ls := httptest.NewServer(lambdas)
	t.Cleanup(ls.Close)
	client := awslambda.New(awslambda.Options{Region: devstack.Region, BaseEndpoint: aws.String(ls.URL), Credentials: aws.AnonymousCredentials{}})
	gw, err := devstack.NewAPIGateway(names, "HttpApi", client,
		func(iss string) authn.KeyResolver { return &authn.RemoteJWKS{Issuer: iss} }, log)
	if err != nil {
		t.Fatal(err)
	}
	gs := httptest.NewServer(gw)
	t.Cleanup(gs.Close)
	base := gs.URL
	if gw.Stage != "$default" {
		base += "/" + gw.Stage
	}
	return &API{URL: base, Issuer: issuer, Gateway: gw, Lambda: lambdas}
}

// Token is an access token of the test's issuer for tenant and user.
func (a *API) Token(t testing.TB, tenant, user string) string {
	t.Helper()
	tok, err := authn.LocalToken(a.Issuer.Keys, a.Issuer.URL, tenant, user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
