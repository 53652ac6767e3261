package notify

import (
	"context"
	"log/slog"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Contacts finds a tenant's notification contact (false: none set).
type Contacts interface {
	Contact(ctx context.Context, tenant string) (Contact, bool, error)
}

// Secrets reads a webhook signing secret by its reference.
type Secrets interface {
	SecretValue(ctx context.Context, ref string) ([]byte, error)
}

// Mail is one plain-text message to one address.
type Mail struct {
	To      string
	Subject string
	Text    string
}

// Mailer sends mail; it returns the provider's message ID.
type Mailer interface {
	SendMail(ctx context.Context, m Mail) (string, error)
}

// Notifier sends notices to the contact of each notice's own tenant.
type Notifier struct {
	Contacts Contacts
	// Secrets reads webhook signing secrets; without it webhooks are not
	// sent (never unsigned).
	Secrets Secrets
	// Mail sends e-mail; without it e-mail is not sent.
	Mail     Mailer
	Webhooks Webhooks
	Policy   Policy
	Log      *slog.Logger
}

// MailReport is the outcome of a notice's mail.
type MailReport struct {
	To        string `json:"to"`
	Delivered bool   `json:"delivered"`
	MessageID string `json:"messageId,omitempty"`
	Error     string `json:"error,omitempty"`
}

// WebhookReport is the outcome of a notice's webhook.
type WebhookReport struct {
	URL string `json:"url"`
	Delivery
	Error string `json:"error,omitempty"`
}

// Report is what Notify did with one notice.
type Report struct {
	NoticeID string `json:"noticeId"`
	Tenant   string `json:"tenant"`
	Kind     Kind   `json:"kind"`
	// Skipped says why nothing was sent (no contact, say).
	Skipped string         `json:"skipped,omitempty"`
	Mail    *MailReport    `json:"mail,omitempty"`
	Webhook *WebhookReport `json:"webhook,omitempty"`
}

// Notify sends n by e-mail and/or webhook to the contact of n.Tenant. It
// returns an error (Transient or Internal) only when nothing was sent yet
// and trying again may help: the contact or the secret could not be read.
// Once sending starts, each channel's outcome is in the report and a
// channel that failed is logged at ERROR ("notice not delivered"), so a
// retry of the whole notice never mails twice.
//
// The tenant guard: the contact must belong to n.Tenant and its secret
// reference must be under n.Tenant's prefix; otherwise nothing is sent and
// the error is Internal (a store that answered for another tenant is a
// bug, never a reason to deliver).
func (nf *Notifier) Notify(ctx context.Context, n Notice) (Report, error) {
	rep := Report{NoticeID: n.ID, Tenant: n.Tenant, Kind: n.Kind}
	log := nf.logger().With("tenant", n.Tenant, "notice", n.ID, "kind", string(n.Kind), "job", n.JobID)
	if n.Tenant == "" {
		return rep, bulkerr.New(bulkerr.Invalid, "the notice has no tenant")
	}
	c, ok, err := nf.Contacts.Contact(ctx, n.Tenant)
	if err != nil {
		return rep, bulkerr.Wrap(bulkerr.KindOf(err), err, "reading the notification contact of tenant %s", n.Tenant)
	}
	if !ok || c.Empty() {
		rep.Skipped = "the tenant has no notification contact"
		log.InfoContext(ctx, "notice not sent: no contact")
		return rep, nil
	}
	if c.Tenant != n.Tenant {
		log.ErrorContext(ctx, "notice not sent: the contact store answered with another tenant's contact", "contactTenant", c.Tenant)
		return rep, bulkerr.New(bulkerr.Internal, "the contact read for tenant %s belongs to tenant %s", n.Tenant, c.Tenant)
	}
	if err := c.Validate(nf.Policy); err != nil {
		rep.Skipped = "the stored contact is not valid: " + bulkerr.Message(err)
		log.ErrorContext(ctx, "notice not sent: stored contact invalid", "error", err.Error())
		return rep, nil
	}
	// Everything that can fail before a message goes out is done first,
	// so an error here can be retried without sending anything twice.
	var secret []byte
	if c.Webhook != "" && nf.Secrets != nil {
		if !nf.Policy.SecretOfTenant(c.SecretRef, n.Tenant) { // Validate checked it; the guard stays here
			return rep, bulkerr.New(bulkerr.Internal, "the webhook secret of tenant %s is not under its prefix", n.Tenant)
		}
		secret, err = nf.Secrets.SecretValue(ctx, c.SecretRef)
		if err != nil {
			return rep, bulkerr.Wrap(bulkerr.KindOf(err), err, "reading the webhook signing secret of tenant %s", n.Tenant)
		}
		if len(secret) == 0 {
			return rep, bulkerr.New(bulkerr.Invalid, "the webhook signing secret of tenant %s is empty", n.Tenant)
		}
	}
	if c.Email != "" {
		rep.Mail = nf.sendMail(ctx, log, c.Email, n)
	}
	if c.Webhook != "" {
		rep.Webhook = nf.sendWebhook(ctx, log, c.Webhook, secret, n)
	}
	return rep, nil
}

func (nf *Notifier) sendMail(ctx context.Context, log *slog.Logger, to string, n Notice) *MailReport {
	r := &MailReport{To: to}
	if nf.Mail == nil {
		r.Error = "e-mail is not configured for this deployment"
		log.ErrorContext(ctx, "notice not delivered", "channel", "email", "error", r.Error)
		return r
	}
	id, err := nf.Mail.SendMail(ctx, Mail{To: to, Subject: n.Subject(), Text: n.Text()})
	if err != nil {
		r.Error = err.Error()
		log.ErrorContext(ctx, "notice not delivered", "channel", "email", "error", r.Error)
		return r
	}
	r.Delivered, r.MessageID = true, id
	log.InfoContext(ctx, "notice delivered", "channel", "email", "messageId", id)
	return r
}

func (nf *Notifier) sendWebhook(ctx context.Context, log *slog.Logger, url string, secret []byte, n Notice) *WebhookReport {
	r := &WebhookReport{URL: url}
	if secret == nil {
		r.Error = "no secret store is configured, and webhooks are never sent unsigned"
		log.ErrorContext(ctx, "notice not delivered", "channel", "webhook", "error", r.Error)
		return r
	}
	body, err := n.Payload()
	if err != nil {
		r.Error = err.Error()
		log.ErrorContext(ctx, "notice not delivered", "channel", "webhook", "error", r.Error)
		return r
	}
	d, err := nf.Webhooks.Post(ctx, url, secret, n.ID, body)
	r.Delivery = d
	if err != nil {
		r.Error = err.Error()
		log.ErrorContext(ctx, "notice not delivered", "channel", "webhook", "attempts", len(d.Attempts), "permanent", d.Permanent, "error", r.Error)
		return r
	}
	log.InfoContext(ctx, "notice delivered", "channel", "webhook", "attempts", len(d.Attempts))
	return r
}

func (nf *Notifier) logger() *slog.Logger {
	if nf.Log != nil {
		return nf.Log
	}
	return slog.New(slog.DiscardHandler)
}
