package samtemplate_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

// TestTemplateEnvironmentIsTheConfig: every variable template.yaml sets
// for a function is a setting of package config (which reads it, with its
// type and default), and every function gets the resources config
// requires; so a variable cannot be set in the template and read by
// nobody, or read under another name.
func TestTemplateEnvironmentIsTheConfig(t *testing.T) {
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]config.Variable{}
	for _, v := range config.Variables() {
		known[v.Name] = v
	}
	fns := tpl.OfType("AWS::Serverless::Function")
	if len(fns) == 0 {
		t.Fatal("the template has no functions")
	}
	for _, fn := range fns {
		env := tpl.FunctionEnv(fn)
		for name := range env {
			if _, ok := known[name]; !ok && !strings.HasPrefix(name, "AWS_") {
				t.Errorf("%s: template.yaml sets %s, which package config does not read", fn, name)
			}
		}
		for _, v := range known {
			if _, ok := env[v.Name]; v.Required && !ok {
				t.Errorf("%s: template.yaml does not set %s, which every function needs", fn, v.Name)
			}
		}
	}
}
