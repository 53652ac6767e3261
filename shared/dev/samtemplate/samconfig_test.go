package samtemplate_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"

	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

// samconfig is the part of samconfig.toml these tests read: per
// environment, per command, its parameters.
type samconfig map[string]any

func loadSamconfig(t *testing.T) samconfig {
	t.Helper()
	var c samconfig
	if _, err := toml.DecodeFile(filepath.Join("..", "..", "..", "samconfig.toml"), &c); err != nil {
		t.Fatalf("samconfig.toml: %v", err)
	}
	return c
}

// params returns [env.command.parameters] merged over
// [env.global.parameters], as SAM CLI reads them.
func (c samconfig) params(env, command string) map[string]any {
	out := map[string]any{}
	e, _ := c[env].(map[string]any)
	for _, cmd := range []string{"global", command} {
		sec, _ := e[cmd].(map[string]any)
		p, _ := sec["parameters"].(map[string]any)
		for k, v := range p {
			out[k] = v
		}
	}
	return out
}

// overrideRE is one Name=Value of parameter_overrides (a value may be
// double-quoted).
var overrideRE = regexp.MustCompile(`([A-Za-z0-9]+)=("[^"]*"|\S*)`)

// parseOverrides reads parameter_overrides, a string of Name=Value pairs
// separated by spaces (or a list of them).
func parseOverrides(t *testing.T, v any) map[string]string {
	t.Helper()
	var text string
	switch x := v.(type) {
	case nil:
	case string:
		text = x
	case []any:
		for _, e := range x {
			text += fmt.Sprint(e) + " "
		}
	default:
		t.Fatalf("parameter_overrides is a %T", v)
	}
	out := map[string]string{}
	rest := overrideRE.ReplaceAllStringFunc(text, func(m string) string {
		kv := overrideRE.FindStringSubmatch(m)
		out[kv[1]] = strings.Trim(kv[2], `"`)
		return ""
	})
	if strings.TrimSpace(rest) != "" {
		t.Errorf("parameter_overrides: cannot read %q", strings.TrimSpace(rest))
	}
	return out
}

// requiredCapabilities is what CloudFormation makes sam deploy
// acknowledge for this template: CAPABILITY_IAM for roles and policies
// (every function and state machine gets a role), CAPABILITY_NAMED_IAM for
// IAM resources with custom names, CAPABILITY_AUTO_EXPAND for nested
// applications and macros other than the SAM transform.
func requiredCapabilities(t *testing.T, tpl *samtemplate.Template) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Transform any `yaml:"Transform"`
	}
	if err := yaml.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	var need []string
	iam, named, expand := false, false, false
	for id, r := range tpl.Resources {
		switch {
		case r.Type == "AWS::Serverless::Function" || r.Type == "AWS::Serverless::StateMachine" ||
			strings.HasPrefix(r.Type, "AWS::IAM::"):
			iam = true
		case r.Type == "AWS::Serverless::Application" || r.Type == "AWS::CloudFormation::Stack":
			expand = true
		}
		for _, p := range []string{"RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName"} {
			if _, ok := r.Properties[p]; ok && strings.HasPrefix(r.Type, "AWS::IAM::") {
				named = true
				t.Logf("%s has a custom IAM name (%s)", id, p)
			}
		}
	}
	if strings.Contains(string(raw), "Fn::Transform") || strings.Contains(string(raw), "AWS::Include") {
		expand = true
	}
	switch tr := top.Transform.(type) {
	case string:
		expand = expand || tr != "AWS::Serverless-2016-10-31"
	case []any:
		expand = expand || len(tr) > 1
	}
	if iam && !named {
		need = append(need, "CAPABILITY_IAM")
	}
	if named {
		need = append(need, "CAPABILITY_NAMED_IAM")
	}
	if expand {
		need = append(need, "CAPABILITY_AUTO_EXPAND")
	}
	return need
}

// TestDeployAsksNoQuestion checks statically what `sam deploy
// --config-env dev` needs so that it runs without a prompt and without a
// value the README does not give: a stack name and region, an artifact
// bucket (resolve_s3), no change-set confirmation, every capability the
// template requires, and a value for every template parameter that has no
// Default, each override naming a real parameter with an allowed value.
// prod (which confirms its change set on purpose) and default (a plain
// `sam deploy`) must also have every value.
func TestDeployAsksNoQuestion(t *testing.T) {
	tpl := loadRepoTemplate(t)
	cfg := loadSamconfig(t)
	need := requiredCapabilities(t, tpl)
	for _, env := range []string{"dev", "default", "prod"} {
		t.Run(env, func(t *testing.T) {
			p := cfg.params(env, "deploy")
			if len(p) == 0 {
				t.Fatalf("samconfig.toml has no [%s.deploy.parameters]", env)
			}
			for _, k := range []string{"stack_name", "region"} {
				if s, _ := p[k].(string); s == "" {
					t.Errorf("%s is not set: sam deploy would ask for it", k)
				}
			}
			if p["resolve_s3"] != true && p["s3_bucket"] == nil {
				t.Error("neither resolve_s3 = true nor s3_bucket: sam deploy has nowhere to upload the functions")
			}
			if confirm, ok := p["confirm_changeset"].(bool); !ok {
				t.Error("confirm_changeset is not a boolean")
			} else if env != "prod" && confirm {
				t.Error("confirm_changeset = true: sam deploy would ask before applying the change set")
			}
			caps := map[string]bool{}
			switch c := p["capabilities"].(type) {
			case string:
				for _, f := range strings.Fields(c) {
					caps[f] = true
				}
			case []any:
				for _, f := range c {
					caps[fmt.Sprint(f)] = true
				}
			}
			for _, c := range need {
				if !caps[c] {
					t.Errorf("capabilities lack %s, which the template needs", c)
				}
			}
			overrides := parseOverrides(t, p["parameter_overrides"])
			for name := range overrides {
				if _, ok := tpl.Parameters[name]; !ok {
					t.Errorf("parameter_overrides names %s, which the template does not have", name)
				}
			}
			for name, raw := range tpl.Parameters {
				def, _ := raw.(map[string]any)
				v, overridden := overrides[name]
				if !overridden {
					if _, ok := def["Default"]; !ok {
						t.Errorf("parameter %s has no Default and no value in parameter_overrides: sam deploy would stop", name)
						continue
					}
					v = fmt.Sprint(def["Default"])
				}
				checkParameterValue(t, name, def, v)
			}
		})
	}
}

// checkParameterValue checks v against a parameter's Type, AllowedValues,
// MinValue and MaxValue, as CloudFormation would.
func checkParameterValue(t *testing.T, name string, def map[string]any, v string) {
	t.Helper()
	if allowed, ok := def["AllowedValues"].([]any); ok {
		found := false
		for _, a := range allowed {
			found = found || fmt.Sprint(a) == v
		}
		if !found {
			t.Errorf("parameter %s=%q is not one of %v", name, v, allowed)
		}
	}
	if def["Type"] != "Number" {
		return
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Errorf("parameter %s=%q is not a number", name, v)
		return
	}
	if lo, ok := def["MinValue"]; ok {
		if m, _ := strconv.ParseFloat(fmt.Sprint(lo), 64); n < m {
			t.Errorf("parameter %s=%v is below its MinValue %v", name, n, lo)
		}
	}
	if hi, ok := def["MaxValue"]; ok {
		if m, _ := strconv.ParseFloat(fmt.Sprint(hi), 64); n > m {
			t.Errorf("parameter %s=%v is above its MaxValue %v", name, n, hi)
		}
	}
}

// buildTargetRE is a Makefile rule `build-<LogicalId>: ; ... ./functions/<dir>`.
var buildTargetRE = regexp.MustCompile(`(?m)^build-([A-Za-z0-9]+):.*\./functions/([a-z0-9-]+)\s*$`)

// TestSamBuildHasATargetPerFunction: `sam build` builds every function
// with BuildMethod makefile by running `make build-<LogicalId>` in its
// CodeUri; each must have that target, building a functions/<dir> that
// exists, and no target may be left for a function the template dropped.
func TestSamBuildHasATargetPerFunction(t *testing.T) {
	tpl := loadRepoTemplate(t)
	mk, err := os.ReadFile(filepath.Join("..", "..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]string{}
	for _, m := range buildTargetRE.FindAllStringSubmatch(string(mk), -1) {
		targets[m[1]] = m[2]
	}
	fns := tpl.OfType("AWS::Serverless::Function")
	for _, id := range fns {
		r := tpl.Resources[id]
		if bm, _ := r.Metadata["BuildMethod"].(string); bm != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod is %q, want makefile", id, bm)
			continue
		}
		if cu := fmt.Sprint(r.Properties["CodeUri"]); cu != "." {
			t.Errorf("%s: CodeUri %q, want . (the Makefile is at the root)", id, cu)
		}
		dir, ok := targets[id]
		if !ok {
			t.Errorf("%s: the Makefile has no build-%s target", id, id)
			continue
		}
		if _, err := os.Stat(filepath.Join("..", "..", "..", "functions", dir, "main.go")); err != nil {
			t.Errorf("build-%s builds ./functions/%s: %v", id, dir, err)
		}
		delete(targets, id)
	}
	for id := range targets {
		t.Errorf("the Makefile's build-%s builds no template function", id)
	}
	if len(fns) == 0 {
		t.Fatal("no functions in the template")
	}
}
