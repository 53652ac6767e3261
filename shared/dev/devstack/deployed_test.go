package devstack

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// TestDeployedAPIFrontsTheDeployedFunctions: before a deployment the API
// answers 503; then its routes invoke the deployed function by its
// physical name, with the stage and issuer the deployment's parameters
// say; a new deployment (another version) is picked up.
func TestDeployedAPIFrontsTheDeployedFunctions(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys, err := authn.NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	issuer := &authn.Issuer{Keys: keys}
	oidc := httptest.NewServer(issuer)
	defer oidc.Close()
	issuer.URL = oidc.URL + "/oidc"

	ls := NewLambdaServer(log)
	var mu sync.Mutex
	var invoked []string
	for _, name := range []string{"stack-Api-1111", "stack-Api-2222"} {
		ls.Register(name, lambda.NewHandler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			mu.Lock()
			invoked = append(invoked, name+" "+ev.RequestContext.Stage+" "+ev.RouteKey)
			mu.Unlock()
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: name}, nil
		}), FunctionConfig{Timeout: 29 * time.Second})
	}
	lsrv := httptest.NewServer(ls)
	defer lsrv.Close()
	tpl, err := samtemplate.Parse([]byte(gwTemplate))
	if err != nil {
		t.Fatal(err)
	}
	var dep *Deployment
	api := &DeployedAPI{
		Template: tpl, APILogicalID: "HttpApi", Log: log,
		Lambda: awslambda.New(awslambda.Options{Region: Region, BaseEndpoint: aws.String(lsrv.URL), Credentials: aws.AnonymousCredentials{}}),
		Keys:   func(iss string) authn.KeyResolver { return &authn.RemoteJWKS{Issuer: iss} },
		Load: func() (Deployment, error) {
			mu.Lock()
			defer mu.Unlock()
			if dep == nil {
				return Deployment{}, errors.New("not deployed")
			}
			return *dep, nil
		},
	}
	srv := httptest.NewServer(api)
	defer srv.Close()

	if resp, body := do(t, "GET", srv.URL+"/prod/v1/health", nil, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("before a deployment: %s %s", resp.Status, body)
	}
	mu.Lock()
	dep = &Deployment{Version: "0", Physical: map[string]string{"HttpApi": "abc"}, Parameters: map[string]string{"JwtIssuer": issuer.URL}}
	mu.Unlock()
	if _, err := api.Gateway(); err == nil {
		t.Fatal("a deployment without the API's function was fronted")
	}
	deploy := func(version, fn string) {
		mu.Lock()
		dep = &Deployment{Version: version, Physical: map[string]string{"Api": fn},
			Parameters: map[string]string{"Stage": "prod", "JwtIssuer": issuer.URL, "JwtAudience": authn.LocalAudience}}
		mu.Unlock()
	}
	deploy("1", "stack-Api-1111")
	tok, err := authn.LocalToken(keys, issuer.URL, "acme", "ana@acme.example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok}
	if resp, body := do(t, "GET", srv.URL+"/dev/v1/health", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the template's default stage, not the deployed one: %s %s", resp.Status, body)
	}
	if resp, body := do(t, "GET", srv.URL+"/prod/v1/jobs", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %s %s", resp.Status, body)
	}
	if resp, body := do(t, "GET", srv.URL+"/prod/v1/jobs", nil, auth); resp.StatusCode != http.StatusOK || body != "stack-Api-1111" {
		t.Fatalf("first deployment: %s %s", resp.Status, body)
	}
	deploy("2", "stack-Api-2222")
	if resp, body := do(t, "GET", srv.URL+"/prod/v1/jobs/7", nil, auth); resp.StatusCode != http.StatusOK || body != "stack-Api-2222" {
		t.Fatalf("second deployment: %s %s", resp.Status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"stack-Api-1111 prod GET /v1/jobs", "stack-Api-2222 prod GET /v1/jobs/{id}"}
	if len(invoked) != 2 || invoked[0] != want[0] || invoked[1] != want[1] {
		t.Fatalf("invoked %q, want %q", invoked, want)
	}
}
