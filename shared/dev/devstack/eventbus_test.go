package devstack

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// TestEventBusWithTheSDK sends job events with the real EventBridge client
// (the code path the import steps use) to the local bus over HTTP.
func TestEventBusWithTheSDK(t *testing.T) {
	bus := NewEventBus(2)
	mux := http.NewServeMux()
	mux.Handle("POST /{$}", bus)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := eventbridge.New(eventbridge.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "localsecret", ""),
	})
	pub := jobevents.New(client, "")
	ctx := context.Background()
	for _, st := range []jobs.Status{jobs.StatusNew, jobs.StatusInProgress, jobs.StatusCompleted} {
		if err := pub.JobChanged(ctx, jobs.Job{Tenant: "acme", ID: "J1", Type: jobs.TypeImport, Status: st, Counts: jobs.Counts{Total: 3}}); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	got := bus.Events()
	if len(got) != 2 { // keeps the latest two
		t.Fatalf("kept %d events, want 2", len(got))
	}
	d := got[1]["detail"].(map[string]any)
	if got[1]["source"] != jobevents.Source || got[1]["detail-type"] != jobevents.DetailType || d["status"] != "Completed" || d["tenant"] != "acme" {
		t.Fatalf("last event: %+v", got[1])
	}

	// EventBridge refuses entries without a JSON object detail, per entry.
	out, err := client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("x"), DetailType: aws.String("y"), Detail: aws.String("not json")},
		{Source: aws.String("x"), DetailType: aws.String("y"), Detail: aws.String(`{"a":1}`)},
	}})
	if err != nil || out.FailedEntryCount != 1 || aws.ToString(out.Entries[0].ErrorCode) != "MalformedDetail" || aws.ToString(out.Entries[1].EventId) == "" {
		t.Fatalf("mixed batch: %+v %v", out, err)
	}
	_, err = client.PutEvents(ctx, &eventbridge.PutEventsInput{})
	if err == nil {
		t.Fatal("an empty batch must be refused")
	}
}
