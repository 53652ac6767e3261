package localtest

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/dev/cfnstack"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
)

// RunningStack checks that the app's running stack is up and returns the
// names of its resources: on the local backend the ones the dev server
// provisioned (prefix bulkops-local-), on LocalStack the physical IDs of
// the stack CloudFormation deployed from template.yaml, with its deployed
// parameters. On both, the stack's HTTP API is BULKOPS_API_URL (on
// LocalStack the dev server fronts it: devserver -deployed-stack) and its
// OIDC issuer BULKOPS_OIDC_ISSUER.
func RunningStack(t testing.TB, st *Stack) devstack.Names {
	t.Helper()
	health := devServerHealthURL(t)
	resp, err := http.Get(health)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the dev server is not up at %s (infra/local/stack.sh up): %v", health, err)
	}
	resp.Body.Close()
	names := st.Names
	names.Prefix = "bulkops-local-"
	if Backend() != "localstack" {
		return names
	}
	path := os.Getenv("BULKOPS_LOCALSTACK_STACK_FILE")
	if path == "" {
		t.Fatal("BULKOPS_LOCALSTACK_STACK_FILE is not set; source infra/local/env.sh with BULKOPS_BACKEND=localstack")
	}
	s, err := cfnstack.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	names.Prefix = s.Name + "-"
	names.Physical = s.PhysicalIDs()
	names.Params = s.Parameters
	return names
}

// devServerHealthURL is the dev server's GET /_local/health: on its -aws
// address, the OIDC issuer's host (both backends run the issuer there).
func devServerHealthURL(t testing.TB) string {
	t.Helper()
	iss := os.Getenv("BULKOPS_OIDC_ISSUER")
	if iss == "" {
		t.Fatal("BULKOPS_OIDC_ISSUER is not set; source infra/local/env.sh")
	}
	u, err := url.Parse(iss)
	if err != nil {
		t.Fatalf("BULKOPS_OIDC_ISSUER %q: %v", iss, err)
	}
	return strings.TrimSuffix((&url.URL{Scheme: u.Scheme, Host: u.Host}).String(), "/") + "/_local/health"
}
