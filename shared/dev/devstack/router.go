package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// Router plays EventBridge's rules: every event that reaches it (S3 events
// from MinIO's webhook, turned into "Object Created" events, and the
// entries of PutEvents, such as Step Functions' "Execution Status Change")
// is matched against the template's EventBridgeRule events, and each
// matching rule's target gets it the way EventBridge delivers it without
// an input transformer: a state machine starts an execution with the event
// as input, a function is invoked asynchronously (InvocationType Event)
// with the event as payload, through the Lambda Invoke API.
type Router struct {
	rules []route
	sfn   *sfn.Client
	// Lambda invokes function targets (the dev server's own Invoke API);
	// required when the template has a rule that targets a function.
	Lambda invoker
	log    *slog.Logger
}

type route struct {
	name     string
	target   string // state machine ARN or function name
	function bool   // the target is a function
	pattern  any    // resolved
}

// NewRouter resolves the template's rules to local names.
func NewRouter(names Names, client *sfn.Client, log *slog.Logger) (*Router, error) {
	r := &Router{sfn: client, log: log}
	for _, rule := range names.Template.EventRules() {
		pat, err := names.Template.Resolve(rule.Pattern, names)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
		}
		if _, err := Match(pat, map[string]any{}); err != nil {
			return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
		}
		target, _ := names.Ref(rule.Target)
		fn := rule.TargetType == "AWS::Serverless::Function"
		if fn {
			target = functionName(target)
		}
		r.rules = append(r.rules, route{name: rule.Name, target: target, function: fn, pattern: pat})
	}
	return r, nil
}

// Deliver matches one event against every rule and delivers it to the
// targets. It returns what it started: execution ARNs, and "function:<name>"
// for each function invoked.
func (r *Router) Deliver(ctx context.Context, event map[string]any) ([]string, error) {
	raw, err := json.Marshal(event)
	if err != nil {
		return nil, err
	}
	// Match on the JSON form, as EventBridge does (numbers are float64).
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return nil, err
	}
	var started []string
	for _, rt := range r.rules {
		ok, err := Match(rt.pattern, generic)
		if err != nil {
			return started, fmt.Errorf("rule %s: %w", rt.name, err)
		}
		if !ok {
			continue
		}
		if rt.function {
			if r.Lambda == nil {
				return started, fmt.Errorf("rule %s targets function %s, but the router has no Lambda client", rt.name, rt.target)
			}
			_, err := r.Lambda.Invoke(ctx, &lambda.InvokeInput{
				FunctionName: aws.String(rt.target), InvocationType: lambdatypes.InvocationTypeEvent, Payload: raw,
			})
			if err != nil {
				return started, fmt.Errorf("rule %s: invoking %s: %w", rt.name, rt.target, err)
			}
			r.log.InfoContext(ctx, "rule matched, function invoked", "rule", rt.name, "function", rt.target)
			started = append(started, "function:"+rt.target)
			continue
		}
		out, err := r.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &rt.target, Input: ptr(string(raw))})
		if err != nil {
			return started, fmt.Errorf("rule %s: starting %s: %w", rt.name, rt.target, err)
		}
		r.log.InfoContext(ctx, "rule matched, execution started", "rule", rt.name, "execution", *out.ExecutionArn)
		started = append(started, *out.ExecutionArn)
	}
	return started, nil
}

// ServeHTTP receives MinIO's bucket-notification webhook.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) == 0 { // MinIO checks the target with an empty request
		w.WriteHeader(http.StatusOK)
		return
	}
	events, err := ObjectCreatedEvents(body)
	if err != nil {
		r.log.Error("bad S3 notification", "error", err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, ev := range events {
		if _, err := r.Deliver(req.Context(), ev); err != nil {
			r.log.Error("delivering S3 event", "error", err.Error())
			http.Error(w, "delivery failed", http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

func ptr[T any](v T) *T { return &v }
