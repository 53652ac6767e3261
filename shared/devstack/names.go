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
	"strings"

	"github.com/ccbulk/bulkops/shared/samtemplate"
)

// Region and Account are the local stack's fixed region and account.
const (
	Region  = "us-east-1"
	Account = "000000000000"
)

// Names gives every template resource a local name. Prefix keeps stacks
// apart (tests use their own prefix); Params overrides parameter defaults.
type Names struct {
	Template *samtemplate.Template
	Prefix   string
	Params   map[string]string
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
	r, ok := n.Template.Resources[id]
	if !ok {
		return "", false
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
