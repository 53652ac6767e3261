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
// Manager, named notify.SecretName(tenant)) and returns its reference.
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
	c := notify.Contact{Tenant: id.Tenant, Email: strings.TrimSpace(body.Email), Webhook: strings.TrimSpace(body.Webhook)}
	if c.Webhook == "" && body.WebhookSecret != "" {
		return invalidAt("/webhookSecret", "webhookSecret is given without a webhook")
	}
	if c.Webhook != "" {
		if body.WebhookSecret == "" {
			old, err := st.TenantSettings(r.Context(), id.Tenant)
			if err != nil {
				return err
			}
			if old.Notification.SecretRef == "" {
				return invalidAt("/webhookSecret", "a webhook needs its signing secret: give webhookSecret (%d to %d printable characters)", notify.MinSecretLength, notify.MaxSecretLength)
			}
			c.SecretRef = old.Notification.SecretRef
		} else {
			if err := notify.ValidateSecret(body.WebhookSecret); err != nil {
				return atField("/webhookSecret", err)
			}
			c.SecretRef = notify.SecretName(id.Tenant) // checked below before the secret is stored
		}
	}
	if !c.Empty() {
		if err := c.Validate(a.NotifyPolicy); err != nil {
			return atField(contactPointer(err), err)
		}
	}
	if body.WebhookSecret != "" {
		if a.WebhookSecrets == nil {
			return invalidAt("/webhook", "this deployment keeps no webhook signing secrets yet (no secret store is configured); set an e-mail address only")
		}
		ref, err := a.WebhookSecrets.PutWebhookSecret(r.Context(), id.Tenant, body.WebhookSecret)
		if err != nil {
			return err
		}
		if !notify.SecretOfTenant(ref, id.Tenant) {
			return bulkerr.New(bulkerr.Internal, "the secret store answered a reference outside tenant %s's names", id.Tenant)
		}
		c.SecretRef = ref
	}
	if err := st.SetNotificationContact(r.Context(), id.Tenant, c); err != nil {
		return err
	}
	a.Log.InfoContext(r.Context(), "notification contact set", "tenant", id.Tenant, "email", c.Email != "", "webhook", c.Webhook != "", "secretReplaced", body.WebhookSecret != "")
	writeJSON(w, http.StatusOK, notificationView(c))
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
