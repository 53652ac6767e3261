package httpapi

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
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

// TestOpenAPIOperationsAreComplete: every operation has an operationId,
// declares each {param} of its path, answers 401 when it needs a token,
// and every $ref in the document resolves.
func TestOpenAPIOperationsAreComplete(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	params := regexp.MustCompile(`\{([^}]+)\}`)
	comps, _ := doc["components"].(map[string]any)
	resolve := func(ref string) (map[string]any, bool) {
		parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
		if len(parts) != 2 || !strings.HasPrefix(ref, "#/components/") {
			return nil, false
		}
		sec, _ := comps[parts[0]].(map[string]any)
		v, ok := sec[parts[1]].(map[string]any)
		return v, ok
	}
	ids := map[string]string{}
	for _, rt := range routes {
		p := doc["paths"].(map[string]any)[rt.pattern].(map[string]any)
		op, _ := p[strings.ToLower(rt.method)].(map[string]any)
		k := rt.method + " " + rt.pattern
		id, _ := op["operationId"].(string)
		if id == "" || ids[id] != "" {
			t.Errorf("%s: operationId %q missing or also used by %s", k, id, ids[id])
		}
		ids[id] = k
		declared := map[string]bool{}
		list, _ := op["parameters"].([]any)
		for _, x := range list {
			prm, _ := x.(map[string]any)
			if ref, ok := prm["$ref"].(string); ok {
				prm, _ = resolve(ref)
			}
			if prm["in"] == "path" {
				declared[prm["name"].(string)] = true
			}
		}
		for _, m := range params.FindAllStringSubmatch(rt.pattern, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %s is not declared", k, m[1])
			}
		}
		responses, _ := op["responses"].(map[string]any)
		if _, ok := responses["401"]; !rt.public && !ok {
			t.Errorf("%s needs a token but documents no 401", k)
		}
		if _, ok := responses["500"]; !rt.public && !ok {
			t.Errorf("%s documents no 500", k)
		}
		refs := map[string]bool{}
		for _, x := range list {
			prm, _ := x.(map[string]any)
			if ref, ok := prm["$ref"].(string); ok {
				refs[strings.TrimPrefix(ref, "#/components/parameters/")] = true
			}
		}
		if rt.method == "POST" && !rt.public {
			_, has422 := responses["422"]
			if !refs["IdempotencyKey"] || !has422 {
				t.Errorf("%s: a POST must take Idempotency-Key and document 422", k)
			}
		}
		if rt.method == "GET" && strings.HasPrefix(id, "list") && (!refs["cursor"] || !refs["limit"]) {
			t.Errorf("%s: a list must page with limit and cursor", k)
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, ok := resolve(ref); !ok {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(doc)
}
