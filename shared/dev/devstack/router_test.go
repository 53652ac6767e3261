package devstack

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

type recordingInvoker struct {
	mu    sync.Mutex
	calls []*lambda.InvokeInput
}

func (r *recordingInvoker) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, in)
	return &lambda.InvokeOutput{StatusCode: 202}, nil
}

// TestPutEventsReachTheTemplatesRules sends Step Functions status change
// events with the EventBridge SDK to the local bus: those the template's
// cleanup rule matches (the import state machine, FAILED, TIMED_OUT or
// ABORTED) invoke JobCleanupFunction asynchronously with the event, the
// others reach no target.
func TestPutEventsReachTheTemplatesRules(t *testing.T) {
	names := Names{Template: loadTemplate(t), Prefix: "p-"}
	router, err := NewRouter(names, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	inv := &recordingInvoker{}
	router.Lambda = inv
	bus := NewEventBus(10)
	bus.Rules = router
	mux := http.NewServeMux()
	mux.Handle("POST /{$}", bus)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := eventbridge.New(eventbridge.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "localsecret", ""),
	})
	machine, _ := names.Ref("ImportStateMachine")
	send := func(status, sm string) {
		t.Helper()
		detail, _ := json.Marshal(map[string]any{"executionArn": sm + ":x", "stateMachineArn": sm, "status": status})
		_, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			Source: aws.String("aws.states"), DetailType: aws.String("Step Functions Execution Status Change"),
			Detail: aws.String(string(detail)), Resources: []string{sm + ":x"},
		}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []string{"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"} {
		send(st, machine)
	}
	send("FAILED", "arn:aws:states:us-east-1:000000000000:stateMachine:other")
	if len(inv.calls) != 3 {
		t.Fatalf("%d invocations, want 3 (FAILED, TIMED_OUT, ABORTED of the import machine)", len(inv.calls))
	}
	for i, want := range []string{"FAILED", "TIMED_OUT", "ABORTED"} {
		c := inv.calls[i]
		if aws.ToString(c.FunctionName) != "p-JobCleanupFunction" || c.InvocationType != "Event" {
			t.Errorf("call %d: %s %s", i, aws.ToString(c.FunctionName), c.InvocationType)
		}
		var ev struct {
			DetailType string `json:"detail-type"`
			Source     string `json:"source"`
			Detail     struct {
				Status string `json:"status"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(c.Payload, &ev); err != nil || ev.Detail.Status != want || ev.Source != "aws.states" || ev.DetailType == "" {
			t.Errorf("call %d payload %s: %v", i, c.Payload, err)
		}
	}
}
