package sampleevents

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ccbulk/bulkops/shared/apigwlambda"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
	"github.com/ccbulk/bulkops/shared/exportflow"
	"github.com/ccbulk/bulkops/shared/httpapi"
	"github.com/ccbulk/bulkops/shared/importflow"
	"github.com/ccbulk/bulkops/shared/retry"
)

var update = flag.Bool("update", false, "rewrite the files in events/")

const root = "../../.."

func localNames(t *testing.T) devstack.Names {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return devstack.Names{Template: tpl, Prefix: "bulkops-local-", Params: map[string]string{}}
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// strict decodes b into v, refusing fields v's type does not have.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// TestSampleEvents keeps events/ in step with the code that builds the
// events, and checks each against the type its function decodes.
func TestSampleEvents(t *testing.T) {
	names := localNames(t)
	samples, err := All(names)
	if err != nil {
		t.Fatal(err)
	}
	env, err := EnvVars(names, LocalEndpoints)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"env.json": encode(t, env)}
	covered := map[string]bool{}
	for _, s := range samples {
		b := encode(t, s.Event)
		files[s.Path()] = b
		covered[s.Function] = true
		if err := checkType(s, b); err != nil {
			t.Errorf("%s: %v", s.Path(), err)
		}
	}
	for _, id := range names.Template.OfType("AWS::Serverless::Function") {
		if !covered[id] {
			t.Errorf("function %s has no sample event in events/", id)
		}
	}
	dir := filepath.Join(root, "events")
	for name, want := range files {
		path := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("events/%s is stale or missing: run go generate ./shared/dev/sampleevents", name)
		}
	}
	// No file in events/ that the code does not make.
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if _, ok := files[filepath.ToSlash(rel)]; !ok {
			t.Errorf("events/%s is not made by sampleevents; remove it", rel)
		}
		return nil
	})
}

// checkType decodes a sample strictly into what its function takes:
// aws-lambda-go's event types for AWS events, the workflow's own types for
// the state machine's step inputs.
func checkType(s Sample, b []byte) error {
	switch {
	case s.Function == "ApiFunction":
		var ev events.APIGatewayV2HTTPRequest
		return strict(b, &ev)
	case s.Function == "JobCleanupFunction" && (strings.HasPrefix(s.Name, "export-") || strings.HasPrefix(s.Name, "retry-")):
		var r devstack.InvocationRecord
		return strict(b, &r)
	case s.Function == "ExportDispatchFunction" || s.Function == "ImportStateMachine" || s.Function == "JobCleanupFunction" ||
		s.Function == "NotifyFunction":
		var ev events.CloudWatchEvent
		return strict(b, &ev)
	case s.Function == "ExportFunction":
		var r exportflow.Request
		return strict(b, &r)
	case s.Function == "ImportRetryFunction":
		var r retry.Request
		return strict(b, &r)
	case s.Name == "start.json":
		var r struct {
			Step  string                 `json:"step"`
			Event events.CloudWatchEvent `json:"event"`
		}
		if err := strict(b, &r); err != nil {
			return err
		}
		var loose importflow.Request // what the start step reads of it
		return json.Unmarshal(b, &loose)
	default:
		var r importflow.Request
		return strict(b, &r)
	}
}

// TestAPISamplesReachTheHandler: the HTTP API samples go through the
// Lambda adapter to the API's routes (the public one answers, the others
// get past routing to the identity check or further).
func TestAPISamplesReachTheHandler(t *testing.T) {
	samples, err := All(localNames(t))
	if err != nil {
		t.Fatal(err)
	}
	h := apigwlambda.Handler((&httpapi.API{Auth: authn.Claims{}}).Handler())
	for _, s := range samples {
		if s.Function != "ApiFunction" || s.Name != "health.json" {
			continue
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(s.Event.(json.RawMessage), &ev); err != nil {
			t.Fatal(err)
		}
		resp, err := h(context.Background(), ev)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %+v %v", s.Name, resp, err)
		}
	}
}
