package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/notify"
)

// notificationStore keeps a tenant's notification contact with its
// settings (dynamostore.Store).
type notificationStore interface {
	settingsReader
	SetNotificationContact(ctx context.Context, tenant string, c notify.Contact) error
}

// webhookSecrets keeps a tenant's webhook signing secret (in Secrets
// Manager, named NotifyPolicy.SecretName(tenant)) and returns its reference.
type webhookSecrets interface {
	PutWebhookSecret(ctx context.Context, tenant, secret string) (ref string, err error)
}

func (a *API) notifications() (notificationStore, error) {
	if a.Notifications == nil {
		return nil, bulkerr.New(bulkerr.Internal, "notification settings are not configured")
	}
	return a.Notifications, nil
}

// notificationView is the wire form of a contact (never its secret).
func notificationView(c notify.Contact) bulkapi.NotificationSettings {
	return bulkapi.NotificationSettings{Email: c.Email, Webhook: c.Webhook, WebhookSecretSet: c.Webhook != "" && c.SecretRef != ""}
}

// getNotifications answers the tenant's notification contact.
func (a *API) getNotifications(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, err := a.notifications()
	if err != nil {
		return err
	}
	ts, err := st.TenantSettings(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, notificationView(ts.Notification))
	return nil
}

// putNotifications replaces the tenant's notification contact: an e-mail
// address and/or an HTTPS webhook with its signing secret (required with
// a new webhook, kept when only the URL or the address changes). Both
// empty turns notifications off. The secret goes to the secret store
// before the contact is written and is never answered or logged.
func (a *API) putNotifications(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, err := a.notifications()
	if err != nil {
		return err
	}
	var body bulkapi.NotificationSettingsUpdate
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	old, err := st.TenantSettings(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	c, err := a.newContact(id.Tenant, body.Email, body.Webhook, body.WebhookSecret, old.Notification, "")
	if err != nil {
		return err
	}
	if err := a.keepWebhookSecret(r.Context(), id.Tenant, body.WebhookSecret, &c, ""); err != nil {
		return err
	}
	if err := st.SetNotificationContact(r.Context(), id.Tenant, c); err != nil {
		return err
	}
	a.Log.InfoContext(r.Context(), "notification contact set", "tenant", id.Tenant, "email", c.Email != "", "webhook", c.Webhook != "", "secretReplaced", body.WebhookSecret != "")
	writeJSON(w, http.StatusOK, notificationView(c))
	return nil
}

// newContact builds and checks tenant's contact from the fields of a
// request (at is the JSON pointer of the contact in the body: "" or
// "/notification"). A webhook keeps old's secret unless secret is given;
// a new webhook without a secret is refused. The secret itself is only
// checked here; keepWebhookSecret stores it.
func (a *API) newContact(tenant, email, webhook, secret string, old notify.Contact, at string) (notify.Contact, error) {
	c := notify.Contact{Tenant: tenant, Email: strings.TrimSpace(email), Webhook: strings.TrimSpace(webhook)}
	if c.Webhook == "" && secret != "" {
		return c, invalidAt(at+"/webhookSecret", "webhookSecret is given without a webhook")
	}
	if c.Webhook != "" {
		if secret == "" {
			if old.SecretRef == "" {
				return c, invalidAt(at+"/webhookSecret", "a webhook needs its signing secret: give webhookSecret (%d to %d printable characters)", notify.MinSecretLength, notify.MaxSecretLength)
			}
			c.SecretRef = old.SecretRef
		} else {
			if err := notify.ValidateSecret(secret); err != nil {
				return c, atField(at+"/webhookSecret", err)
			}
			c.SecretRef = a.NotifyPolicy.SecretName(tenant) // checked by Validate before the secret is stored
		}
	}
	if !c.Empty() {
		if err := c.Validate(a.NotifyPolicy); err != nil {
			return c, atField(at+contactPointer(err), err)
		}
	}
	return c, nil
}

// keepWebhookSecret stores secret (when given) as tenant's webhook signing
// secret and points c at it.
func (a *API) keepWebhookSecret(ctx context.Context, tenant, secret string, c *notify.Contact, at string) error {
	if secret == "" {
		return nil
	}
	if a.WebhookSecrets == nil {
		return invalidAt(at+"/webhook", "this deployment keeps no webhook signing secrets (no secret store is configured); set an e-mail address only")
	}
	ref, err := a.WebhookSecrets.PutWebhookSecret(ctx, tenant, secret)
	if err != nil {
		return err
	}
	if !a.NotifyPolicy.SecretOfTenant(ref, tenant) {
		return bulkerr.New(bulkerr.Internal, "the secret store answered a reference outside tenant %s's names", tenant)
	}
	c.SecretRef = ref
	return nil
}

// contactPointer is the body field a notify validation error is about.
func contactPointer(err error) string {
	msg := bulkerr.Message(err)
	switch {
	case strings.HasPrefix(msg, "email:"):
		return "/email"
	case strings.HasPrefix(msg, "webhook:"):
		return "/webhook"
	case strings.HasPrefix(msg, "secretRef:"), strings.HasPrefix(msg, "webhookSecret:"):
		return "/webhookSecret"
	}
	return ""
}
