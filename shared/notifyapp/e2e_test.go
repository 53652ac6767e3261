package notifyapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/localtest"
	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/httpapi/openapitest"
	"github.com/ccbulk/bulkops/shared/ident"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/notifyapp"
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
// suspension and the link. The stack has no secret store yet (issue 18
// item 1), so its notifier sends no webhook: the same event, read back
// from the stack's EventBridge, goes through a notifier with the test's
// secret to the stack's webhook sink, and the delivery verifies.
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

	// The administrator sets the e-mail address through the stack's API.
	keys, err := authn.LoadOrCreateKeySet(filepath.Join(st.Root, ".tools", "run", "jwt-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	token, err := authn.LocalToken(keys, authn.LocalIssuer(os.Getenv), tenant, "admin@"+tenant+".example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(bulkapi.NotificationSettingsUpdate{Email: mail})
	req, _ := http.NewRequest(http.MethodPut, apiURL+"/v1/settings/notifications", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := openapitest.Client(t, apiURL).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var set bulkapi.NotificationSettings
	_ = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || set.Email != mail {
		t.Fatalf("PUT /v1/settings/notifications: %s %+v (is the stack's dev server built from this tree?)", resp.Status, set)
	}
	// The webhook goes in beside it as the API would store it with a
	// secret store: its reference only.
	ts, err := db.TenantSettings(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	contact := ts.Notification
	contact.Webhook, contact.SecretRef = sink, notify.SecretName(tenant)
	if err := db.SetNotificationContact(ctx, tenant, contact); err != nil {
		t.Fatal(err)
	}
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

	// The same event through a notifier that has the tenant's secret.
	secret := "whsec-" + tenant + "-0123456789abcdef"
	fnEnv, err := stack.Env("NotifyFunction", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	app, err := notifyapp.New(ctx, fnEnv, &logs, testSecrets{notify.SecretName(tenant): secret})
	if err != nil {
		t.Fatal(err)
	}
	app.Notifier.Mail = nil // the stack's notifier mailed already
	if _, err := notifyapp.Handler(app)(ctx, ev); err != nil {
		t.Fatal(err)
	}
	hooks := deliveries(t, sink)
	if len(hooks) != 1 {
		t.Fatalf("the sink got %d deliveries, want 1\n%s", len(hooks), logs.String())
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
