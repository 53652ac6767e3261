package devstack

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

// Deployment is what a stack CloudFormation deployed from the template
// says of itself: the physical ID of every resource and the parameter
// values it was deployed with, by logical ID and name. Version changes
// whenever the stack was deployed again.
type Deployment struct {
	Version    string
	Physical   map[string]string
	Parameters map[string]string
}

// DeployedAPI plays the template's HTTP API (APIGateway: stage, routes,
// JWT authorizer, CORS, payload format 2.0 events) in front of a stack
// that CloudFormation deployed without it: LocalStack's community edition
// has no API Gateway v2, so its CloudFormation skips the HttpApi, while
// the functions are deployed. The routes invoke the deployed functions
// (their physical names) through Lambda, and the authorizer and the
// stage are the deployed parameters'. Load is asked again on every
// request, and the gateway rebuilt when the Version changed, so the
// stack may be deployed (again) after the server starts; before the first
// deployment requests answer 503 {"message":"Service Unavailable"}.
type DeployedAPI struct {
	Template *samtemplate.Template
	// APILogicalID is the template's AWS::Serverless::HttpApi.
	APILogicalID string
	Load         func() (Deployment, error)
	Lambda       invoker
	Keys         func(issuer string) authn.KeyResolver
	Log          *slog.Logger

	mu      sync.Mutex
	version string
	gw      *APIGateway
}

// Gateway is the API Gateway play for the current deployment.
func (d *DeployedAPI) Gateway() (*APIGateway, error) {
	dep, err := d.Load()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gw != nil && dep.Version == d.version {
		return d.gw, nil
	}
	names := Names{Template: d.Template, Params: dep.Parameters, Physical: dep.Physical}
	gw, err := NewAPIGateway(names, d.APILogicalID, d.Lambda, d.Keys, d.Log)
	if err != nil {
		return nil, err
	}
	deployed := map[string]bool{}
	for _, v := range dep.Physical {
		deployed[v] = true
	}
	for _, rt := range gw.Routes {
		if !deployed[rt.Function] {
			return nil, fmt.Errorf("route %s: its function is not in the deployed stack", rt.Key())
		}
	}
	d.gw, d.version = gw, dep.Version
	d.Log.Info("api gateway of the deployed stack", "version", dep.Version, "stage", gw.Stage, "routes", len(gw.Routes))
	return gw, nil
}

// ServeHTTP implements http.Handler.
func (d *DeployedAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gw, err := d.Gateway()
	if err != nil {
		d.Log.Error("no deployed stack to front", "err", err.Error())
		gwMessage(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	gw.ServeHTTP(w, r)
}
