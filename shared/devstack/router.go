package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// Router plays EventBridge for S3 events: it turns MinIO's webhook calls
// into "Object Created" events, matches them against the template's rules,
// and starts each matching rule's state machine with the event as input
// (what an EventBridge rule targeting Step Functions does without an input
// transformer).
type Router struct {
	rules []route
	sfn   *sfn.Client
	log   *slog.Logger
}

type route struct {
	name    string
	target  string // state machine ARN
	pattern any    // resolved
}

// NewRouter resolves the template's state machine rules to local names.
func NewRouter(names Names, client *sfn.Client, log *slog.Logger) (*Router, error) {
	r := &Router{sfn: client, log: log}
	for _, rule := range names.Template.StateMachineRules() {
		pat, err := names.Template.Resolve(rule.Pattern, names)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
		}
		if _, err := Match(pat, map[string]any{}); err != nil {
			return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
		}
		arn, _ := names.Ref(rule.Target)
		r.rules = append(r.rules, route{name: rule.Name, target: arn, pattern: pat})
	}
	return r, nil
}

// Deliver matches one event against every rule and starts the targets. It
// returns the execution ARNs started.
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
