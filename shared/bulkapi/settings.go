package bulkapi

import (
	"time"

	"github.com/ccbulk/bulkops/shared/tenancy"
)

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

// SettingsBody is the body of PUT /v1/operator/tenants/{tenant}/settings:
// the tenant's settings as a whole (a field left out is its zero value).
type SettingsBody struct {
	// LargeFiles raises the import ceiling from 5,000 rows / 5 MB to
	// 1,000,000 rows / 500 MB per file.
	LargeFiles bool `json:"largeFiles"`
	// MaxRows and MaxBytes lower the per-file limits under that ceiling
	// (0: the ceiling).
	MaxRows  int   `json:"maxRows"`
	MaxBytes int64 `json:"maxBytes"`
	// DeliveryTargets are the delivery target kinds allowed besides
	// s3link (sftp, s3bucket).
	DeliveryTargets []string `json:"deliveryTargets"`
	// Notification is the tenant's notification contact. In a PUT, left
	// out (null) keeps the contact as it is; given, it replaces it (both
	// channels empty: none). Answers show it when one is set.
	Notification *OperatorContact `json:"notification,omitempty"`
}

// OperatorContact is a tenant's notification contact as an operator sets
// and sees it. WebhookSecret is write-only: required with a new webhook,
// it replaces the kept secret when given, and is never answered;
// WebhookSecretSet (answers only; ignored in a PUT) says whether one is
// kept.
type OperatorContact struct {
	Email            string `json:"email,omitempty"`
	Webhook          string `json:"webhook,omitempty"`
	WebhookSecret    string `json:"webhookSecret,omitempty"`
	WebhookSecretSet bool   `json:"webhookSecretSet,omitempty"`
}

// NewSettingsBody is s as the API writes it.
func NewSettingsBody(s tenancy.Settings) SettingsBody {
	b := SettingsBody{LargeFiles: s.LargeFiles, MaxRows: s.MaxRows, MaxBytes: s.MaxBytes, DeliveryTargets: nonNil(s.DeliveryTargets)}
	if c := s.Notification; !c.Empty() {
		b.Notification = &OperatorContact{Email: c.Email, Webhook: c.Webhook, WebhookSecretSet: c.Webhook != "" && c.SecretRef != ""}
	}
	return b
}

// Settings is the body as tenancy.Settings (not yet checked; without the
// contact, which the API builds and checks on its own).
func (b SettingsBody) Settings() tenancy.Settings {
	return tenancy.Settings{LargeFiles: b.LargeFiles, MaxRows: b.MaxRows, MaxBytes: b.MaxBytes, DeliveryTargets: b.DeliveryTargets}
}

// EffectiveSettings are what a tenant's settings allow: the per-file
// import limits and every delivery target kind allowed (s3link always).
type EffectiveSettings struct {
	LargeFiles      bool     `json:"largeFiles"`
	MaxRows         int      `json:"maxRows"`
	MaxBytes        int64    `json:"maxBytes"`
	DeliveryTargets []string `json:"deliveryTargets"`
}

// NewEffectiveSettings is what s allows within the hard maximums.
func NewEffectiveSettings(s tenancy.Settings) EffectiveSettings {
	l := s.FileLimits(tenancy.HardCeilings())
	e := EffectiveSettings{LargeFiles: s.LargeFiles, MaxRows: l.MaxRows, MaxBytes: l.MaxBytes, DeliveryTargets: []string{}}
	for _, k := range tenancy.TargetKinds() {
		if s.AllowsTarget(k) {
			e.DeliveryTargets = append(e.DeliveryTargets, k)
		}
	}
	return e
}

// TenantSettings is a tenant's settings as an operator sees them (GET and
// PUT /v1/operator/tenants/{tenant}/settings); the ETag header carries
// Version.
type TenantSettings struct {
	Tenant string `json:"tenant"`
	SettingsBody
	// Effective is what the settings allow.
	Effective EffectiveSettings `json:"effective"`
	// Version counts the changes (0: never set); If-Match names it.
	Version   int64      `json:"version"`
	UpdatedAt *time.Time `json:"updatedAt,omitempty"`
	UpdatedBy string     `json:"updatedBy,omitempty"`
}

// NewTenantSettings is rec as the API writes it.
func NewTenantSettings(rec tenancy.SettingsRecord) TenantSettings {
	ts := TenantSettings{Tenant: rec.Tenant, SettingsBody: NewSettingsBody(rec.Settings), Effective: NewEffectiveSettings(rec.Settings),
		Version: rec.Version, UpdatedBy: rec.UpdatedBy}
	if !rec.UpdatedAt.IsZero() {
		at := rec.UpdatedAt.UTC()
		ts.UpdatedAt = &at
	}
	return ts
}

// SettingsChange is one audited change (GET
// /v1/operator/tenants/{tenant}/settings/audit).
type SettingsChange struct {
	Version int64        `json:"version"`
	By      string       `json:"by"`
	At      time.Time    `json:"at"`
	Before  SettingsBody `json:"before"`
	After   SettingsBody `json:"after"`
	// WebhookSecretReplaced says the change stored a new webhook signing
	// secret (never the secret itself).
	WebhookSecretReplaced bool `json:"webhookSecretReplaced,omitempty"`
}

// SettingsChanges lists audited changes, newest first.
type SettingsChanges struct {
	Tenant  string           `json:"tenant"`
	Changes []SettingsChange `json:"changes"`
}

// NewSettingsChanges is changes as the API writes them.
func NewSettingsChanges(tenant string, changes []tenancy.SettingsChange) SettingsChanges {
	out := SettingsChanges{Tenant: tenant, Changes: make([]SettingsChange, len(changes))}
	for i, c := range changes {
		out.Changes[i] = SettingsChange{Version: c.Version, By: c.By, At: c.At.UTC(), Before: NewSettingsBody(c.Before), After: NewSettingsBody(c.After),
			WebhookSecretReplaced: c.SecretReplaced}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
