package devstack

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestScheduleTickerInvokesThroughTheLambdaAPI: a tick reaches the handler
// through the Invoke API (an SDK client against the Lambda server on
// 127.0.0.1) with the Scheduled Event a schedule rule sends, and a failing
// handler's error comes back to the ticker.
func TestScheduleTickerInvokesThroughTheLambdaAPI(t *testing.T) {
	s := NewLambdaServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	var mu sync.Mutex
	var got []events.CloudWatchEvent
	fail := false
	s.Register("Dispatch", lambda.NewHandler(func(ctx context.Context, ev events.CloudWatchEvent) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ev)
		if fail {
			return errors.New("store down")
		}
		return nil
	}), FunctionConfig{Timeout: time.Minute})
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := awslambda.New(awslambda.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{},
	})
	at := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
	tk := &ScheduleTicker{Lambda: client, Function: "Dispatch", RuleARN: "arn:aws:events:us-east-1:000000000000:rule/tick",
		Every: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return at }}

	if err := tk.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	fail = true
	if err := tk.Tick(context.Background()); err == nil || !strings.Contains(err.Error(), "store down") {
		t.Fatalf("failing handler: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("%d invocations, want 2", len(got))
	}
	ev := got[0]
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || !ev.Time.Equal(at) || len(ev.Resources) != 1 || ev.Resources[0] != tk.RuleARN {
		t.Fatalf("event %+v", ev)
	}
}
