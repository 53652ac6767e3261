package samtemplate_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

func loadRepoTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// lambdaRetryable are the Lambda service errors AWS's guidance says every
// Lambda task should retry.
var lambdaRetryable = []string{
	"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
	"Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException",
}

// eachState calls fn for every state of a States map, nested ones (Map
// item processors, Parallel branches) included.
func eachState(states map[string]any, fn func(name string, st map[string]any)) {
	for name, v := range states {
		st, _ := v.(map[string]any)
		fn(name, st)
		for _, key := range []string{"ItemProcessor", "Iterator"} {
			if p, ok := st[key].(map[string]any); ok {
				inner, _ := p["States"].(map[string]any)
				eachState(inner, fn)
			}
		}
		if branches, ok := st["Branches"].([]any); ok {
			for _, b := range branches {
				bm, _ := b.(map[string]any)
				inner, _ := bm["States"].(map[string]any)
				eachState(inner, fn)
			}
		}
	}
}

func errorNames(st map[string]any) []string {
	var out []string
	for _, key := range []string{"Retry", "Catch"} {
		list, _ := st[key].([]any)
		for _, r := range list {
			rm, _ := r.(map[string]any)
			names, _ := rm["ErrorEquals"].([]any)
			for _, n := range names {
				out = append(out, n.(string))
			}
		}
	}
	if e, ok := st["Error"].(string); ok {
		out = append(out, e)
	}
	return out
}

// TestStateMachines checks every statemachines/*.asl.json against the
// bulkerr table and the template: Bulk.* error names are the ones Lambda
// errors can carry; every Task has TimeoutSeconds above its function's
// Timeout and retries the Lambda service errors; the execution has a
// TimeoutSeconds.
func TestStateMachines(t *testing.T) {
	tpl := loadRepoTemplate(t)
	known := map[string]bool{}
	for _, k := range bulkerr.Kinds() {
		known[bulkerr.StateName(bulkerr.New(k, "x"))] = true
	}
	for _, name := range bulkerr.ExecutionErrorNames {
		known[name] = true
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "statemachines", "*.asl.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no state machines: %v", err)
	}
	// DefinitionUri -> the substitutions naming each task's function.
	subs := map[string]map[string]any{}
	for _, id := range tpl.OfType("AWS::Serverless::StateMachine") {
		props := tpl.Resources[id].Properties
		m, _ := props["DefinitionSubstitutions"].(map[string]any)
		subs[filepath.Base(props["DefinitionUri"].(string))] = m
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var def map[string]any
		if err := json.Unmarshal(raw, &def); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		base := filepath.Base(file)
		if _, ok := def["TimeoutSeconds"].(float64); !ok {
			t.Errorf("%s: the execution has no TimeoutSeconds", base)
		}
		states, _ := def["States"].(map[string]any)
		tasks := 0
		eachState(states, func(name string, st map[string]any) {
			for _, e := range errorNames(st) {
				switch {
				case strings.HasPrefix(e, bulkerr.StatePrefix):
					if !known[e] {
						t.Errorf("%s: state %s uses %s, which is not in the bulkerr table", base, name, e)
					}
				case strings.HasPrefix(e, "States."), strings.HasPrefix(e, "Lambda."), e == "Sandbox.Timedout":
				default:
					t.Errorf("%s: state %s uses the unknown error name %s", base, name, e)
				}
			}
			if st["Type"] != "Task" {
				return
			}
			tasks++
			res, _ := st["Resource"].(string)
			fn := taskFunction(t, subs[base], res)
			timeout, ok := st["TimeoutSeconds"].(float64)
			want := functionTimeout(tpl, fn)
			if !ok || int64(timeout) <= want {
				t.Errorf("%s: task %s TimeoutSeconds = %v, want more than %s's Timeout %d", base, name, st["TimeoutSeconds"], fn, want)
			}
			retried := map[string]bool{}
			list, _ := st["Retry"].([]any)
			for _, r := range list {
				rm, _ := r.(map[string]any)
				names, _ := rm["ErrorEquals"].([]any)
				for _, n := range names {
					retried[n.(string)] = true
				}
			}
			for _, e := range lambdaRetryable {
				if !retried[e] && !retried["States.ALL"] {
					t.Errorf("%s: task %s does not retry %s", base, name, e)
				}
			}
		})
		if tasks == 0 {
			t.Errorf("%s: no Task states found", base)
		}
	}
}

// taskFunction maps a task's Resource placeholder (${XArn}) to the logical
// ID of the function its substitution points at (!GetAtt X.Arn).
func taskFunction(t *testing.T, subs map[string]any, res string) string {
	t.Helper()
	key := strings.TrimSuffix(strings.TrimPrefix(res, "${"), "}")
	ga, _ := subs[key].(map[string]any)
	parts, _ := ga["Fn::GetAtt"].([]any)
	if len(parts) != 2 {
		t.Fatalf("task resource %s: no !GetAtt <Function>.Arn substitution", res)
	}
	return parts[0].(string)
}

func functionTimeout(tpl *samtemplate.Template, fn string) int64 {
	if v, ok := tpl.Resources[fn].Properties["Timeout"].(int64); ok {
		return v
	}
	g, _ := tpl.Globals["Function"].(map[string]any)
	v, _ := g["Timeout"].(int64)
	return v
}
