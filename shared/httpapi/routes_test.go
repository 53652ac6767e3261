package httpapi

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/samtemplate"
)

func routeSet() []string {
	var out []string
	for _, rt := range routes {
		out = append(out, rt.method+" "+rt.pattern)
	}
	sort.Strings(out)
	return out
}

// TestRoutesMatchOpenAPI: the routes the handler serves are exactly the
// operations the OpenAPI document describes, and public routes are the
// ones the document marks with no security.
func TestRoutesMatchOpenAPI(t *testing.T) {
	var doc struct {
		OpenAPI string                                         `json:"openapi"`
		Paths   map[string]map[string]struct{ Security []any } `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	var documented []string
	public := map[string]bool{}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			k := strings.ToUpper(m) + " " + p
			documented = append(documented, k)
			public[k] = op.Security != nil && len(op.Security) == 0
		}
	}
	sort.Strings(documented)
	if got, want := strings.Join(routeSet(), "\n"), strings.Join(documented, "\n"); got != want {
		t.Fatalf("routes and openapi.json differ:\nserved:\n%s\ndocumented:\n%s", got, want)
	}
	for _, rt := range routes {
		if k := rt.method + " " + rt.pattern; public[k] != rt.public {
			t.Errorf("%s: public=%v in code, %v in openapi.json", k, rt.public, public[k])
		}
	}
}

// TestRoutesMatchTemplate: API Gateway routes every served route to the
// function, with the authorizer on every route but the public ones.
func TestRoutesMatchTemplate(t *testing.T) {
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fn, ok := tpl.Resources["ApiFunction"]
	if !ok {
		t.Fatal("template has no ApiFunction")
	}
	props, _ := fn.Properties["Events"].(map[string]any)
	var got []string
	public := map[string]bool{}
	for _, e := range props {
		ev, _ := e.(map[string]any)
		if ev["Type"] != "HttpApi" {
			continue
		}
		p, _ := ev["Properties"].(map[string]any)
		k := p["Method"].(string) + " " + p["Path"].(string)
		got = append(got, k)
		if auth, ok := p["Auth"].(map[string]any); ok && auth["Authorizer"] == "NONE" {
			public[k] = true
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(routeSet(), "\n") {
		t.Fatalf("template routes differ:\ntemplate:\n%s\nserved:\n%s", strings.Join(got, "\n"), strings.Join(routeSet(), "\n"))
	}
	for _, rt := range routes {
		if k := rt.method + " " + rt.pattern; public[k] != rt.public {
			t.Errorf("%s: public=%v in code, %v in the template", k, rt.public, public[k])
		}
	}
}
