package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// invoker is the part of the Lambda client the ticker uses.
type invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// ScheduleTicker plays an EventBridge schedule rule: every Every it invokes
// Function through the Lambda Invoke API (the dev server's own, so the
// handler runs exactly as the rule would run it) with the "Scheduled Event"
// document EventBridge sends.
type ScheduleTicker struct {
	Lambda   invoker
	Function string
	// RuleARN names the rule in the event's resources.
	RuleARN string
	Every   time.Duration
	Log     *slog.Logger
	Now     func() time.Time
}

// ScheduledEvent is the event EventBridge sends a schedule rule's target.
func ScheduledEvent(rule string, at time.Time) map[string]any {
	return map[string]any{
		"version": "0", "id": newEventID(), "detail-type": "Scheduled Event", "source": "aws.events",
		"account": "000000000000", "time": at.UTC().Format(time.RFC3339), "region": "us-east-1",
		"resources": []string{rule}, "detail": map[string]any{},
	}
}

// Tick invokes the function once, synchronously, and returns its error.
func (t *ScheduleTicker) Tick(ctx context.Context) error {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	payload, err := json.Marshal(ScheduledEvent(t.RuleARN, now()))
	if err != nil {
		return err
	}
	out, err := t.Lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(t.Function), InvocationType: lambdatypes.InvocationTypeRequestResponse, Payload: payload,
	})
	if err != nil {
		return fmt.Errorf("invoking %s: %w", t.Function, err)
	}
	if out.FunctionError != nil {
		return fmt.Errorf("%s failed: %s: %s", t.Function, aws.ToString(out.FunctionError), out.Payload)
	}
	return nil
}

// Run ticks until ctx ends. A failed tick is logged; the next one runs as
// scheduled, as with the real rule.
func (t *ScheduleTicker) Run(ctx context.Context) {
	tk := time.NewTicker(t.Every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			if err := t.Tick(ctx); err != nil && ctx.Err() == nil {
				t.Log.WarnContext(ctx, "schedule tick failed", "function", t.Function, "err", err.Error())
			}
		}
	}
}
