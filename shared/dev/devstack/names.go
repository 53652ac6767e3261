// Package devstack runs the parts of AWS that have no local server of their
// own, on top of the ones that do (MinIO for S3, DynamoDB Local, the
// aws-local-stepfunctions ASL interpreter): the Lambda Invoke API, serving
// the very handlers the Lambda binaries run; EventBridge's S3 "Object
// Created" events and the rules in template.yaml that start the state
// machines; and provisioning of the tables, bucket and state machines from
// template.yaml. Everything it serves binds to 127.0.0.1.
package devstack

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

// Region and Account are the local stack's fixed region and account.
const (
	Region  = "us-east-1"
	Account = "000000000000"
)

// Names gives every template resource a local name. Prefix keeps stacks
// apart (tests use their own prefix); Params overrides parameter defaults.
// Physical, when set, holds the physical IDs of a stack CloudFormation
// deployed from the template (the LocalStack backend's, by logical ID):
// Ref of a resource in it is its physical ID instead of a local name.
type Names struct {
	Template *samtemplate.Template
	Prefix   string
	Params   map[string]string
	Physical map[string]string
}

// Ref resolves !Ref like CloudFormation: a bucket or table gives its name, a
// function its name, a state machine its ARN, a parameter its value.
func (n Names) Ref(id string) (string, bool) {
	if v, ok := n.Params[id]; ok {
		return v, true
	}
	if v, ok := n.Template.ParameterDefault(id); ok {
		return v, true
	}
	if id == "AWS::Region" {
		return Region, true
	}
	if id == "AWS::AccountId" {
		return Account, true
	}
	if id == "AWS::StackName" { // the local stack's name: its prefix
		return strings.TrimSuffix(n.Prefix, "-"), true
	}
	r, ok := n.Template.Resources[id]
	if !ok {
		return "", false
	}
	if v, ok := n.Physical[id]; ok && v != "" {
		return v, true
	}
	switch r.Type {
	case "AWS::S3::Bucket":
		return strings.ToLower(n.Prefix + id), true
	case "AWS::StateMachine", "AWS::Serverless::StateMachine":
		return "arn:aws:states:" + Region + ":" + Account + ":stateMachine:" + n.Prefix + id, true
	}
	return n.Prefix + id, true
}

// GetAtt resolves !GetAtt X.Arn (and .Name) for the resources the template
// uses it on.
func (n Names) GetAtt(id, attr string) (string, bool) {
	r, ok := n.Template.Resources[id]
	if !ok {
		return "", false
	}
	name, _ := n.Ref(id)
	if attr == "Name" {
		return name, true
	}
	if attr != "Arn" {
		return "", false
	}
	switch r.Type {
	case "AWS::Serverless::Function", "AWS::Lambda::Function":
		return FunctionARN(name), true
	case "AWS::S3::Bucket":
		return "arn:aws:s3:::" + name, true
	case "AWS::DynamoDB::Table":
		return "arn:aws:dynamodb:" + Region + ":" + Account + ":table/" + name, true
	case "AWS::Serverless::StateMachine":
		return name, true
	}
	return "", false
}

// FunctionARN is the ARN of a local function.
func FunctionARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + Account + ":function:" + name
}

// Env returns a getenv for function logicalID: its template environment
// resolved to local names, falling back to the process environment (for
// AWS_* settings).
func (n Names) Env(logicalID string, fallback func(string) string) (func(string) string, error) {
	raw := n.Template.FunctionEnv(logicalID)
	resolved, err := n.Template.Resolve(map[string]any(raw), n)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for k, v := range resolved.(map[string]any) {
		vars[k] = toString(v)
	}
	return func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return fallback(k)
	}, nil
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// FunctionConfig reads how Lambda runs function logicalID from the
// template: its Timeout (the function's, else the Globals', else Lambda's
// 3 seconds) and its EventInvokeConfig (MaximumRetryAttempts,
// MaximumEventAgeInSeconds, Lambda OnFailure/OnSuccess destinations), with
// AWS's defaults where the template says nothing.
func (n Names) FunctionConfig(logicalID string) (FunctionConfig, error) {
	r, ok := n.Template.Resources[logicalID]
	if !ok {
		return FunctionConfig{}, fmt.Errorf("no resource %s", logicalID)
	}
	cfg := FunctionConfig{Timeout: 3 * time.Second, Async: DefaultAsync}
	globals, _ := n.Template.Globals["Function"].(map[string]any)
	for _, props := range []map[string]any{globals, r.Properties} {
		v, ok := props["Timeout"]
		if !ok {
			continue
		}
		secs, err := n.number(v)
		if err != nil {
			return cfg, fmt.Errorf("%s Timeout: %w", logicalID, err)
		}
		cfg.Timeout = time.Duration(secs * float64(time.Second))
	}
	eic, _ := r.Properties["EventInvokeConfig"].(map[string]any)
	if v, ok := eic["MaximumRetryAttempts"]; ok {
		n, err := n.number(v)
		if err != nil || n < 0 || n > 2 {
			return cfg, fmt.Errorf("%s MaximumRetryAttempts: must be 0 to 2", logicalID)
		}
		cfg.Async.MaxRetries = int(n)
	}
	if v, ok := eic["MaximumEventAgeInSeconds"]; ok {
		secs, err := n.number(v)
		if err != nil || secs < 60 || secs > 21600 {
			return cfg, fmt.Errorf("%s MaximumEventAgeInSeconds: must be 60 to 21600", logicalID)
		}
		cfg.Async.MaxEventAge = time.Duration(secs) * time.Second
	}
	dests, _ := eic["DestinationConfig"].(map[string]any)
	for key, target := range map[string]*string{"OnFailure": &cfg.Async.OnFailure, "OnSuccess": &cfg.Async.OnSuccess} {
		d, _ := dests[key].(map[string]any)
		if d == nil {
			continue
		}
		if typ, _ := d["Type"].(string); typ != "Lambda" {
			// SQS, SNS and EventBridge destinations have no local
			// server; the dev server plays Lambda destinations only.
			continue
		}
		v, err := n.Template.Resolve(d["Destination"], n)
		if err != nil {
			return cfg, fmt.Errorf("%s %s destination: %w", logicalID, key, err)
		}
		*target = toString(v)
	}
	return cfg, nil
}

// number resolves a template value (a number, or a !Ref to a Number
// parameter) to a float.
func (n Names) number(v any) (float64, error) {
	r, err := n.Template.Resolve(v, n)
	if err != nil {
		return 0, err
	}
	switch x := r.(type) {
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return strconv.ParseFloat(strings.TrimSpace(toString(r)), 64)
}
