package notifyapp_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/schedule"
)

// TestFailedScheduledRunReachesTheTenant runs on the local stack as it
// runs (`infra/local/stack.sh up`, the dev server built from this tree):
// the tenant's administrator sets the contact through the API
// (PUT /v1/settings/notifications, answers checked against openapi.json);
// a scheduled export of an object type that does not exist comes due; the
// stack's dispatcher starts it, the export fails, the schedule suspends
// itself and publishes "Export Failed"; the template's rule invokes
// NotifyFunction, whose mail lands in the stack's SES naming the
// schedule, the job, the type, the phase, the reason, the failures, the
// suspension and the link; and its webhook, signed with the secret the
// administrator set (kept in the stack's Secrets Manager), reaches the
// stack's webhook sink, where the signature verifies.
func TestFailedScheduledRunReachesTheTenant(t *testing.T) {
	st := localtest.Require(t)
	localtest.SkipOnLocalStack(t, noSESv2)
	base := strings.TrimSuffix(os.Getenv("AWS_ENDPOINT_URL_SESV2"), "/")
	apiURL := os.Getenv("BULKOPS_API_URL")
	if base == "" || apiURL == "" {
		t.Fatal("AWS_ENDPOINT_URL_SESV2 or BULKOPS_API_URL is not set; source infra/local/env.sh")
	}
	ctx := context.Background()
	stack := devstack.Names{Template: st.Names.Template, Prefix: "bulkops-local-"}
	ref := func(id string) string { v, _ := stack.Ref(id); return v }
	db := dynamostore.New(st.Clients.DynamoDB, dynamostore.Tables{Objects: ref("ObjectsTable"), Jobs: ref("JobsTable"), Control: ref("ControlTable")}, time.Now)
	tenant := strings.Trim(localtest.UniquePrefix(t), "-")
	mail := "ops@" + tenant + ".example"
	sink := base + "/_local/webhooks/" + tenant

	// The administrator sets the contact through the stack's API: the
	// address, the webhook and its signing secret.
	secret := "whsec-" + tenant + "-0123456789abcdef"
	putAPIContact(t, st, apiURL, tenant, bulkapi.NotificationSettingsUpdate{Email: mail, Webhook: sink, WebhookSecret: secret})
	t.Cleanup(func() { _ = db.SetNotificationContact(context.Background(), tenant, notify.Contact{Tenant: tenant}) })

	// A schedule whose run fails: its type does not exist (the API would
	// refuse it; a type removed from the registry after the schedule was
	// made looks like this).
	id, err := ident.NewGenerator(nil).New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := db.PutSchedule(ctx, schedule.Schedule{Tenant: tenant, ID: id, Active: true, NextRun: now.Add(-time.Second),
		Definition: schedule.Definition{Title: "Nightly widgets", ObjectTypes: []string{"widgets"}, Spec: schedule.Spec{Frequency: schedule.Daily, Time: "02:00"}},
		CreatedBy:  "admin@" + tenant + ".example", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.DeleteSchedule(context.Background(), tenant, id) })

	// The stack ticks its dispatcher every 5 s; the export fails at once.
	var got []devstack.SentEmail
	deadline := time.Now().Add(90 * time.Second)
	for len(got) == 0 {
		if time.Now().After(deadline) {
			s, _ := db.GetSchedule(ctx, tenant, id)
			t.Fatalf("no mail to %s within 90 s; the schedule is %+v", mail, s)
		}
		time.Sleep(500 * time.Millisecond)
		got = mails(t, base, mail)
	}
	s, err := db.GetSchedule(ctx, tenant, id)
	if err != nil || s.Active || s.Failures != 1 || s.LastJob == "" {
		t.Fatalf("schedule after the run: %+v %v", s, err)
	}
	m := got[0]
	if len(got) != 1 || m.From != "bulkops-notifications@bulkops.local" ||
		m.Subject != `[bulkops] Scheduled export "Nightly widgets" failed (1 in a row; schedule suspended)` {
		t.Fatalf("mail %+v", got)
	}
	for _, l := range []string{
		"Schedule:              Nightly widgets (" + id + ")", "Job:                   " + s.LastJob, "Object types:          widgets",
		"Phase:                 start", "Consecutive failures:  1", "Schedule suspended:    yes", "Link:                  http://127.0.0.1:3002/#/jobs/" + s.LastJob,
	} {
		if !strings.Contains(m.Text, l) {
			t.Errorf("the mail lacks %q:\n%s", l, m.Text)
		}
	}
	if !strings.Contains(m.Text, "Reason:") || !strings.Contains(m.Text, "widgets") {
		t.Errorf("the mail gives no reason:\n%s", m.Text)
	}

	// The event as the stack's EventBridge received it.
	var ev events.CloudWatchEvent
	var all []events.CloudWatchEvent
	getJSON(t, base+"/_local/events", &all)
	for _, e := range all {
		var d jobevents.ExportFailedDetail
		if e.DetailType == jobevents.ExportFailedType && json.Unmarshal(e.Detail, &d) == nil && d.Tenant == tenant {
			ev = e
		}
	}
	if ev.ID == "" {
		t.Fatal("the Export Failed event is not on the stack's bus")
	}
	var d jobevents.ExportFailedDetail
	_ = json.Unmarshal(ev.Detail, &d)
	if d.JobID != s.LastJob || d.Phase != jobs.PhaseStart || strings.Join(d.ObjectTypes, ",") != "widgets" || !d.Suspended || d.ConsecutiveFailures != 1 {
		t.Fatalf("event detail %+v", d)
	}

	// The stack's notifier signed its webhook with the tenant's secret.
	hooks := waitDeliveries(t, sink, 1, 30*time.Second)
	if len(hooks) != 1 {
		t.Fatalf("the sink got %d deliveries, want 1", len(hooks))
	}
	if err := notify.Verify([]byte(secret), hooks[0].Headers[notify.SignatureHeader], []byte(hooks[0].Body), time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	var p struct {
		ID, Type, Tenant, Phase string
		ObjectTypes             []string
		Suspended               bool
		Job                     struct{ ID string }
	}
	if err := json.Unmarshal([]byte(hooks[0].Body), &p); err != nil || p.ID != ev.ID || p.Type != string(notify.ScheduleRunFailed) || p.Tenant != tenant ||
		p.Phase != "start" || strings.Join(p.ObjectTypes, ",") != "widgets" || !p.Suspended || p.Job.ID != s.LastJob {
		t.Fatalf("payload %s (%v)", hooks[0].Body, err)
	}
}
