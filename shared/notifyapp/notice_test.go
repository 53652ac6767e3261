package notifyapp

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/notify"
)

func event(t *testing.T, id, detailType string, detail any) events.CloudWatchEvent {
	t.Helper()
	raw, err := json.Marshal(detail)
	if err != nil {
		t.Fatal(err)
	}
	return events.CloudWatchEvent{Version: "0", ID: id, DetailType: detailType, Source: jobevents.Source,
		Time: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC), Detail: raw}
}

// TestEventsToNotices: the events the service publishes today, as they
// are, become notices; later fields (phase, object types) are read when
// an event has them; what is not a failure is ignored.
func TestEventsToNotices(t *testing.T) {
	a := &App{LinkBase: "https://console.example/"}
	ended := time.Date(2026, 12, 1, 2, 0, 3, 0, time.UTC)
	failed := jobevents.ExportFailedDetail{Tenant: "acme", ScheduleID: "S1", Title: "Nightly", JobID: "J1",
		Reason: "queue: access denied", ConsecutiveFailures: 2, Suspended: true}
	cases := []struct {
		name   string
		ev     events.CloudWatchEvent
		want   *notify.Notice
		kind   bulkerr.Kind
		ignore bool
	}{
		{"export failed, as published today", event(t, "e1", jobevents.ExportFailedType, failed), &notify.Notice{
			ID: "e1", Tenant: "acme", Kind: notify.ScheduleRunFailed, ScheduleID: "S1", ScheduleTitle: "Nightly", JobID: "J1",
			Reason: "queue: access denied", ConsecutiveFailures: 2, Suspended: true, Link: "https://console.example/#/jobs/J1",
			At: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)}, "", false},
		{"export failed with phase and types", event(t, "e2", jobevents.ExportFailedType, map[string]any{
			"tenant": "acme", "scheduleId": "S1", "title": "Nightly", "jobId": "J1", "reason": "r", "consecutiveFailures": 1,
			"suspended": false, "phase": "upload", "objectTypes": []string{"queue", "site"}}), &notify.Notice{
			ID: "e2", Tenant: "acme", Kind: notify.ScheduleRunFailed, ScheduleID: "S1", ScheduleTitle: "Nightly", JobID: "J1",
			ObjectTypes: []string{"queue", "site"}, Phase: "upload", Reason: "r", ConsecutiveFailures: 1,
			Link: "https://console.example/#/jobs/J1", At: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)}, "", false},
		{"import failed", event(t, "e3", jobevents.DetailType, jobevents.Detail{Tenant: "acme", JobID: "J2", JobType: jobs.TypeImport,
			ObjectType: "queue", FileName: "q.csv", Status: jobs.StatusFailed, Message: "no header row", EndedAt: &ended}), &notify.Notice{
			ID: "e3", Tenant: "acme", Kind: notify.ImportFailed, JobID: "J2", FileName: "q.csv", ObjectTypes: []string{"queue"},
			Reason: "no header row", Link: "https://console.example/#/jobs/J2", At: ended}, "", false},
		{"import completed", event(t, "e4", jobevents.DetailType, jobevents.Detail{Tenant: "acme", JobID: "J2", JobType: jobs.TypeImport,
			Status: jobs.StatusCompletedWithErrs}), nil, "", true},
		{"export job failed (its schedule's event tells)", event(t, "e5", jobevents.DetailType, jobevents.Detail{Tenant: "acme", JobID: "J3",
			JobType: jobs.TypeExport, Status: jobs.StatusFailed}), nil, "", true},
		{"another source", func() events.CloudWatchEvent {
			e := event(t, "e6", jobevents.ExportFailedType, failed)
			e.Source = "aws.s3"
			return e
		}(), nil, "", true},
		{"another detail-type", event(t, "e7", "Object Created", map[string]any{}), nil, "", true},
		{"no tenant", event(t, "e8", jobevents.ExportFailedType, jobevents.ExportFailedDetail{JobID: "J1"}), nil, bulkerr.Invalid, false},
		{"malformed", events.CloudWatchEvent{ID: "e9", Source: "bulkops", DetailType: jobevents.DetailType, Detail: json.RawMessage(`[1]`)}, nil, bulkerr.Invalid, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, ok, why, err := a.Notice(c.ev)
			if bulkerr.KindOf(err) != c.kind {
				t.Fatalf("error %v, want kind %q", err, c.kind)
			}
			if c.ignore {
				if ok || why == "" {
					t.Fatalf("want ignored with a reason, got %v %q", ok, why)
				}
				return
			}
			if c.want == nil {
				return
			}
			if !ok || !reflect.DeepEqual(n, *c.want) {
				t.Fatalf("notice\n%+v\nwant\n%+v", n, *c.want)
			}
		})
	}
}
