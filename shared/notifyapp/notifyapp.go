// Package notifyapp assembles the notifier function (package notify) from
// the environment and adapts it to AWS: the EventBridge events the service
// already publishes ("Export Failed" of a scheduled run, "Bulk Job Status
// Changed" of an import that ended Failed) become notices; the tenant's
// contact is read from its settings (dynamostore); mail goes
// through SES (package sesmail); webhooks are signed with the tenant's
// secret. The Lambda binary (functions/notify) and the local dev server
// call it.
package notifyapp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/ccbulk/bulkops/shared/awswire"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobevents"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/notify"
	"github.com/ccbulk/bulkops/shared/sesmail"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// App is the notifier function: events in, notices out.
type App struct {
	Notifier *notify.Notifier
	// LinkBase is the console's URL; a notice links to
	// <LinkBase>#/jobs/<job ID> (BULKOPS_NOTIFY_LINK_BASE).
	LinkBase string
	Log      *slog.Logger
}

// New builds the notifier from the environment (package config reads
// it once, through awswire):
//
//   - BULKOPS_CONTROL_TABLE: the tenants' settings (their contacts);
//   - BULKOPS_NOTIFY_SES_IDENTITY: the verified SES identity mail is sent
//     from (an address, or a domain: bulkops-notifications@<domain>);
//     empty: no e-mail;
//   - BULKOPS_NOTIFY_LINK_BASE: the console URL notices link to;
//   - BULKOPS_NOTIFY_ALLOW_LOOPBACK=true: accept http://127.0.0.1
//     webhooks (the local stack only);
//   - BULKOPS_NOTIFY_SECRET_PREFIX: where the signing secrets are named
//     (the stack's ${AWS::StackName}/notifications/; empty:
//     bulkops/notifications/).
//
// secrets reads the tenants' webhook signing secrets; nil reads them from
// Secrets Manager (secretstore.WebhookSecrets, the names
// <prefix><tenant>/webhook), as the deployed function does.
func New(ctx context.Context, getenv func(string) string, logOut io.Writer, secrets notify.Secrets) (*App, error) {
	res, err := awswire.Open(ctx, getenv)
	if err != nil {
		return nil, err
	}
	cfg := res.Config
	policy := res.NotifyPolicy()
	log := res.Logger(logOut)
	if secrets == nil {
		secrets = res.WebhookSecrets(log)
	}
	n := &notify.Notifier{
		Contacts: SettingsContacts{Settings: res.DB},
		Secrets:  secrets,
		Webhooks: notify.Webhooks{Client: notify.NewWebhookClient(policy), Backoff: notify.DefaultBackoff},
		Policy:   policy,
		Log:      log,
	}
	if id := cfg.NotifySesIdentity; id != "" {
		n.Mail = sesmail.Mailer{Client: sesv2.NewFromConfig(res.AWS), From: sesmail.FromAddress(id)}
	}
	return &App{Notifier: n, LinkBase: cfg.NotifyLinkBase, Log: log}, nil
}

// Result is what the function answers for one event.
type Result struct {
	// Ignored says why the event is not a notice (a job that did not
	// fail, an export job, which its schedule's event reports).
	Ignored string         `json:"ignored,omitempty"`
	Report  *notify.Report `json:"report,omitempty"`
}

// Handler is the notifier function's Lambda handler. It fails (so Lambda
// retries the event) only when nothing was sent and a retry may help.
func Handler(a *App) func(context.Context, events.CloudWatchEvent) (Result, error) {
	return func(ctx context.Context, ev events.CloudWatchEvent) (Result, error) {
		n, ok, why, err := a.Notice(ev)
		if err != nil {
			a.Log.ErrorContext(ctx, "event not understood", "id", ev.ID, "detailType", ev.DetailType, "error", err.Error())
			return Result{}, err
		}
		if !ok {
			return Result{Ignored: why}, nil
		}
		rep, err := a.Notifier.Notify(ctx, n)
		if err != nil {
			a.Log.ErrorContext(ctx, "notice failed before sending", "tenant", n.Tenant, "notice", n.ID, "error", err.Error())
			return Result{Report: &rep}, err
		}
		return Result{Report: &rep}, nil
	}
}

// Notice turns an event into a notice: an "Export Failed" event into a
// schedule-run-failed notice, a "Bulk Job Status Changed" event of an
// import that ended Failed into an import-failed notice. Other events are
// not notices (ok false, with why). A malformed event is Invalid.
func (a *App) Notice(ev events.CloudWatchEvent) (n notify.Notice, ok bool, why string, err error) {
	if ev.Source != jobevents.Source {
		return n, false, "source " + ev.Source + " is not " + jobevents.Source, nil
	}
	switch ev.DetailType {
	case jobevents.ExportFailedType:
		var d jobevents.ExportFailedDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return n, false, "", bulkerr.Wrap(bulkerr.Invalid, err, "the detail of Export Failed event %s", ev.ID)
		}
		if d.Tenant == "" || d.JobID == "" {
			return n, false, "", bulkerr.New(bulkerr.Invalid, "Export Failed event %s names no tenant or job", ev.ID)
		}
		return notify.Notice{
			ID: ev.ID, Tenant: d.Tenant, Kind: notify.ScheduleRunFailed, ScheduleID: d.ScheduleID, ScheduleTitle: d.Title,
			JobID: d.JobID, ObjectTypes: d.ObjectTypes, Phase: d.Phase, Reason: d.Reason,
			ConsecutiveFailures: d.ConsecutiveFailures, Suspended: d.Suspended, Link: a.link(d.JobID), At: ev.Time,
		}, true, "", nil
	case jobevents.DetailType:
		var d jobevents.Detail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return n, false, "", bulkerr.Wrap(bulkerr.Invalid, err, "the detail of job event %s", ev.ID)
		}
		if d.JobType != jobs.TypeImport || d.Status != jobs.StatusFailed {
			return n, false, fmt.Sprintf("a %s job %s is not a failed import", d.JobType, d.Status), nil
		}
		if d.Tenant == "" || d.JobID == "" {
			return n, false, "", bulkerr.New(bulkerr.Invalid, "job event %s names no tenant or job", ev.ID)
		}
		var types []string
		if d.ObjectType != "" {
			types = []string{d.ObjectType}
		}
		at := ev.Time
		if d.EndedAt != nil {
			at = *d.EndedAt
		}
		return notify.Notice{
			ID: ev.ID, Tenant: d.Tenant, Kind: notify.ImportFailed, JobID: d.JobID, FileName: d.FileName,
			ObjectTypes: types, Phase: d.Phase, Reason: d.Message, Link: a.link(d.JobID), At: at,
		}, true, "", nil
	}
	return n, false, "detail-type " + ev.DetailType + " is not a failure", nil
}

// link is the console page of a job.
func (a *App) link(jobID string) string {
	if a.LinkBase == "" {
		return ""
	}
	return strings.TrimSuffix(a.LinkBase, "/") + "/#/jobs/" + url.PathEscape(jobID)
}

// settingsReader reads a tenant's settings (dynamostore.Store).
type settingsReader interface {
	TenantSettings(ctx context.Context, tenant string) (tenancy.Settings, error)
}

// SettingsContacts reads a tenant's contact from its settings. The
// contact's tenant is the tenant whose settings were read.
type SettingsContacts struct{ Settings settingsReader }

// Contact implements notify.Contacts.
func (c SettingsContacts) Contact(ctx context.Context, tenant string) (notify.Contact, bool, error) {
	ts, err := c.Settings.TenantSettings(ctx, tenant)
	if err != nil {
		return notify.Contact{}, false, err
	}
	ct := ts.Notification
	return ct, !ct.Empty(), nil
}
