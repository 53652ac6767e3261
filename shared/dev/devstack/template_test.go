package devstack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// The local stack is built from template.yaml; these tests pin what it
// reads, so a template change that the local stack cannot follow fails here.
func TestTemplateDrivesTheLocalStack(t *testing.T) {
	tpl := loadTemplate(t)
	names := Names{Template: tpl, Prefix: "p-", Params: map[string]string{"LockWaitSeconds": "1"}}

	if got := tpl.OfType("AWS::DynamoDB::Table"); len(got) != 3 {
		t.Fatalf("tables = %v", got)
	}
	env, err := names.Env("ImportChunkFunction", func(string) string { return "fallback" })
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"BULKOPS_BUCKET": "p-databucket", "BULKOPS_OBJECTS_TABLE": "p-ObjectsTable", "BULKOPS_JOBS_TABLE": "p-JobsTable",
		"BULKOPS_CONTROL_TABLE": "p-ControlTable", "BULKOPS_LOCK_LEASE_SECONDS": "300", "BULKOPS_LOCK_WAIT_SECONDS": "1",
		"AWS_REGION": "fallback",
	} {
		if got := env(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	rules := tpl.StateMachineRules()
	if len(rules) != 1 || rules[0].Target != "ImportStateMachine" {
		t.Fatalf("rules = %+v", rules)
	}
	pat, err := tpl.Resolve(rules[0].Pattern, names)
	if err != nil {
		t.Fatal(err)
	}
	upload := map[string]any{"source": "aws.s3", "detail-type": "Object Created",
		"detail": map[string]any{"bucket": map[string]any{"name": "p-databucket"}, "object": map[string]any{"key": "imports/t/site/x.csv"}}}
	if ok, err := Match(pat, upload); err != nil || !ok {
		t.Fatalf("an upload under imports/ must match the rule: %v %v", ok, err)
	}
	upload["detail"].(map[string]any)["object"].(map[string]any)["key"] = "results/t/j/errors.csv"
	if ok, _ := Match(pat, upload); ok {
		t.Fatal("files the workflow writes must not start it again")
	}
}

func TestEveryDefinitionPlaceholderIsSubstituted(t *testing.T) {
	tpl := loadTemplate(t)
	p := Provisioner{Names: Names{Template: tpl, Prefix: "p-"}, TemplateDir: filepath.Join("..", "..", "..")}
	for _, id := range tpl.OfType("AWS::Serverless::StateMachine") {
		raw, err := os.ReadFile(filepath.Join("..", "..", "..", tpl.Resources[id].Properties["DefinitionUri"].(string)))
		if err != nil {
			t.Fatal(err)
		}
		def, err := p.Definition(id)
		if err != nil {
			t.Fatal(err)
		}
		var parsed map[string]any
		if err := json.Unmarshal([]byte(def), &parsed); err != nil {
			t.Fatalf("%s: definition is not JSON after substitution: %v", id, err)
		}
		for _, m := range regexp.MustCompile(`"\$\{(\w+)\}"`).FindAllStringSubmatch(string(raw), -1) {
			if regexp.MustCompile(`\$\{` + m[1] + `\}`).MatchString(def) {
				t.Errorf("%s: ${%s} left unsubstituted", id, m[1])
			}
		}
		if !regexp.MustCompile(`"Resource": "arn:aws:lambda:us-east-1:000000000000:function:p-ImportChunkFunction"`).MatchString(def) {
			t.Errorf("%s: chunk task does not point at the local function", id)
		}
	}
}
