package bulkapi

// NotificationSettings is the answer of GET and PUT
// /v1/settings/notifications: the tenant's notification contact. The
// webhook's signing secret is never sent back; WebhookSecretSet says
// whether one is kept.
type NotificationSettings struct {
	Email            string `json:"email,omitempty"`
	Webhook          string `json:"webhook,omitempty"`
	WebhookSecretSet bool   `json:"webhookSecretSet"`
}

// NotificationSettingsUpdate is the body of PUT /v1/settings/notifications:
// the whole contact (empty fields: none). WebhookSecret (32 to 256
// printable characters) is required with a new webhook and replaces the
// kept secret when given; it is write-only.
type NotificationSettingsUpdate struct {
	Email         string `json:"email"`
	Webhook       string `json:"webhook"`
	WebhookSecret string `json:"webhookSecret,omitempty"`
}
