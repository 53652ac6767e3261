package jobevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// fakeBus records entries and answers as told.
type fakeBus struct {
	got    []ebtypes.PutEventsRequestEntry
	err    error
	refuse bool
}

func (f *fakeBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.got = append(f.got, in.Entries...)
	if f.refuse {
		return &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []ebtypes.PutEventsResultEntry{
			{ErrorCode: aws.String("MalformedDetail"), ErrorMessage: aws.String("no")}}}, nil
	}
	return &eventbridge.PutEventsOutput{Entries: []ebtypes.PutEventsResultEntry{{EventId: aws.String("e1")}}}, nil
}

// TestPublish: both event kinds go to the bus with source bulkops, their
// detail-type and detail; a refused entry or a failed call is Transient.
func TestPublish(t *testing.T) {
	ctx := context.Background()
	failed := jobs.ExportFailure{Tenant: "acme", ScheduleID: "S1", Title: "Nightly", JobID: "J1", ObjectTypes: []string{"queue"},
		Phase: jobs.PhaseExport, Reason: "queue: access denied", ConsecutiveFailures: 2, Suspended: true}
	cases := []struct {
		name       string
		bus        fakeBus
		send       func(p *jobevents.Publisher) error
		detailType string
		detail     map[string]any
		kind       bulkerr.Kind
	}{
		{"job changed", fakeBus{}, func(p *jobevents.Publisher) error {
			return p.JobChanged(ctx, jobs.Job{Tenant: "acme", ID: "J1", Type: jobs.TypeImport, Status: jobs.StatusFailed, Message: "boom"})
		}, jobevents.DetailType, map[string]any{"tenant": "acme", "jobId": "J1", "status": "Failed", "message": "boom", "phase": "prepare"}, ""},
		{"export failed", fakeBus{}, func(p *jobevents.Publisher) error { return p.ExportFailed(ctx, failed) },
			"Export Failed", map[string]any{"tenant": "acme", "scheduleId": "S1", "title": "Nightly", "jobId": "J1",
				"reason": "queue: access denied", "consecutiveFailures": float64(2), "suspended": true, "phase": "export"}, ""},
		{"export failed, not suspended", fakeBus{}, func(p *jobevents.Publisher) error {
			d := failed
			d.Suspended, d.ConsecutiveFailures = false, 1
			return p.ExportFailed(ctx, d)
		}, "Export Failed", map[string]any{"consecutiveFailures": float64(1), "suspended": false}, ""},
		{"refused entry", fakeBus{refuse: true}, func(p *jobevents.Publisher) error { return p.ExportFailed(ctx, failed) },
			"Export Failed", nil, bulkerr.Transient},
		{"bus unreachable", fakeBus{err: errors.New("connection refused")}, func(p *jobevents.Publisher) error { return p.ExportFailed(ctx, failed) },
			"", nil, bulkerr.Transient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := jobevents.New(&c.bus, "")
			err := c.send(p)
			if c.kind != "" {
				if bulkerr.KindOf(err) != c.kind {
					t.Fatalf("error %v, want kind %s", err, c.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.bus.got) != 1 {
				t.Fatalf("sent %d entries, want 1", len(c.bus.got))
			}
			e := c.bus.got[0]
			if aws.ToString(e.Source) != "bulkops" || aws.ToString(e.DetailType) != c.detailType || aws.ToString(e.EventBusName) != "default" {
				t.Fatalf("entry %s %s on %s", aws.ToString(e.Source), aws.ToString(e.DetailType), aws.ToString(e.EventBusName))
			}
			var d map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &d); err != nil {
				t.Fatal(err)
			}
			for k, want := range c.detail {
				if d[k] != want {
					t.Errorf("detail %s = %v, want %v (detail %v)", k, d[k], want, d)
				}
			}
		})
	}
}

// TestExportFailedOnTheDevServer sends an Export Failed event with the real
// EventBridge client to the stack's PutEvents endpoint and finds it among
// the events it received (the dev server's GET /_local/events; on
// LocalStack, localtest's capture rule).
func TestExportFailedOnTheDevServer(t *testing.T) {
	st := localtest.Require(t)
	endpoint := os.Getenv("AWS_ENDPOINT_URL_EVENTBRIDGE")
	if endpoint == "" {
		t.Fatal("AWS_ENDPOINT_URL_EVENTBRIDGE is not set; source infra/local/env.sh")
	}
	tenant := localtest.UniquePrefix(t) + "tenant"
	p := jobevents.New(awsenv.EventBridge(st.Config), "")
	d := jobs.ExportFailure{Tenant: tenant, ScheduleID: "S1", Title: "Nightly", JobID: "J9", ObjectTypes: []string{"queue", "site"},
		Phase: jobs.PhaseExport, Reason: "the bucket is gone", ConsecutiveFailures: 3, Suspended: true}
	if err := p.ExportFailed(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	// LocalStack delivers to the capture rule asynchronously, in seconds
	// on a busy machine: ask again for a while before taking none as none.
	got := findEvents(t, "Export Failed", tenant)
	for deadline := time.Now().Add(20 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		got = findEvents(t, "Export Failed", tenant)
	}
	if len(got) != 1 {
		t.Fatalf("the stack's EventBridge holds %d Export Failed events of %s, want 1", len(got), tenant)
	}
	if !reflect.DeepEqual(got[0], jobevents.ExportFailedDetail(d)) {
		t.Fatalf("event detail %+v, want %+v", got[0], d)
	}
}

// findEvents returns the details of the events of one detail-type and
// tenant the stack's EventBridge received.
func findEvents(t *testing.T, detailType, tenant string) []jobevents.ExportFailedDetail {
	t.Helper()
	var out []jobevents.ExportFailedDetail
	for _, d := range localtest.Events[jobevents.ExportFailedDetail](t, jobevents.Source, detailType) {
		if d.Tenant == tenant {
			out = append(out, d)
		}
	}
	return out
}
