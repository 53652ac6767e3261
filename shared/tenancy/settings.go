package tenancy

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/notify"
)

// The delivery target kinds a tenant may be allowed (Settings.DeliveryTargets).
const (
	TargetS3Link   = "s3link"   // a download link to the service's bucket (today's behaviour, always allowed)
	TargetSFTP     = "sftp"     // the tenant's SFTP server
	TargetS3Bucket = "s3bucket" // the tenant's own S3 bucket, through a role it lets the service assume
)

// TargetKinds lists every delivery target kind, in a stable order.
func TargetKinds() []string { return []string{TargetS3Link, TargetSFTP, TargetS3Bucket} }

// Settings are per-tenant options an operator sets (PUT
// /v1/operator/tenants/{tenant}/settings). A tenant without stored
// settings has the zero Settings, which behaves as before settings
// existed: the default file limits and download links only.
type Settings struct {
	// LargeFiles raises the ceiling of the import limits from the default
	// ones (5,000 rows / 5 MB per file) to the large ones (1,000,000 rows /
	// 500 MB).
	LargeFiles bool
	// MaxRows and MaxBytes lower the tenant's per-file import limits below
	// the ceiling LargeFiles selects; 0 means the ceiling itself.
	MaxRows  int
	MaxBytes int64
	// DeliveryTargets lists the delivery target kinds (TargetKinds) the
	// tenant may create; empty means TargetS3Link only, which is always
	// allowed (see AllowsTarget).
	DeliveryTargets []string

	// Notification is the tenant's own notification contact (its Tenant
	// is the tenant whose settings these are; empty: none). The tenant's
	// administrators set it (PUT /v1/settings/notifications); its webhook
	// secret is only referenced (docs/notifications.md). An operator may
	// set it too, with the other settings (ContactChange); an operator's
	// change that leaves it out keeps it.
	Notification notify.Contact
}

// AllowsTarget reports whether the tenant may deliver exports to a target
// of kind (TargetS3Link is always allowed).
func (s Settings) AllowsTarget(kind string) bool {
	return kind == TargetS3Link || slices.Contains(s.DeliveryTargets, kind)
}

// Ceilings are the most a tenant's file limits can be: without large files
// (Default) and with them (Large). The import workflow's configured limits
// are its ceilings; the API checks settings against the hard maximums
// (HardCeilings).
type Ceilings struct {
	Default, Large csvread.Limits
}

// HardCeilings are the hard maximums: csvread's default and large limits.
func HardCeilings() Ceilings {
	return Ceilings{Default: csvread.DefaultLimits(), Large: csvread.LargeLimits()}
}

// ceiling is the limit LargeFiles selects.
func (c Ceilings) ceiling(large bool) csvread.Limits {
	if large {
		return c.Large
	}
	return c.Default
}

// FileLimits are the tenant's per-file import limits: the ceiling its
// LargeFiles selects, lowered by MaxRows and MaxBytes where they are set
// and smaller. A tenant without settings gets c.Default unchanged.
func (s Settings) FileLimits(c Ceilings) csvread.Limits {
	l := c.ceiling(s.LargeFiles)
	if s.MaxRows > 0 && s.MaxRows < l.MaxRows {
		l.MaxRows = s.MaxRows
	}
	if s.MaxBytes > 0 && s.MaxBytes < l.MaxBytes {
		l.MaxBytes = s.MaxBytes
	}
	return l
}

// Check validates s against the ceilings: an Invalid error that names the
// field (a JSON pointer of the operator API's body), the value and the
// maximum. It also puts DeliveryTargets in canonical form (lower case,
// known kinds, no repeats, TargetKinds' order).
func (s *Settings) Check(c Ceilings) error {
	top := c.ceiling(s.LargeFiles)
	more := ""
	if !s.LargeFiles {
		more = "; turn largeFiles on to allow more"
	}
	switch {
	case s.MaxRows < 0:
		return bulkerr.InvalidAt("/maxRows", "maxRows %d is negative; send 0 for the maximum (%d) or a number of rows from 1 to %d", s.MaxRows, top.MaxRows, top.MaxRows)
	case s.MaxRows > top.MaxRows:
		return bulkerr.InvalidAt("/maxRows", "maxRows %d is over the maximum of %d rows per file%s", s.MaxRows, top.MaxRows, more)
	case s.MaxBytes < 0:
		return bulkerr.InvalidAt("/maxBytes", "maxBytes %d is negative; send 0 for the maximum (%d) or a number of bytes from 1 to %d", s.MaxBytes, top.MaxBytes, top.MaxBytes)
	case s.MaxBytes > top.MaxBytes:
		return bulkerr.InvalidAt("/maxBytes", "maxBytes %d is over the maximum of %d bytes per file%s", s.MaxBytes, top.MaxBytes, more)
	}
	seen := map[string]bool{}
	for i, k := range s.DeliveryTargets {
		k = strings.ToLower(strings.TrimSpace(k))
		if !slices.Contains(TargetKinds(), k) {
			return bulkerr.InvalidAt("/deliveryTargets/"+strconv.Itoa(i), "deliveryTargets[%d] %q is not a delivery target kind; use %s", i, s.DeliveryTargets[i], strings.Join(TargetKinds(), ", "))
		}
		seen[k] = true
	}
	var kinds []string
	for _, k := range TargetKinds() {
		if seen[k] {
			kinds = append(kinds, k)
		}
	}
	s.DeliveryTargets = kinds
	return nil
}

// SettingsRecord is a tenant's stored settings with their version (the
// operator API's ETag) and who changed them last.
type SettingsRecord struct {
	Tenant   string
	Settings Settings
	// Version counts the changes; 0: the tenant has no stored settings.
	Version   int64
	UpdatedAt time.Time
	UpdatedBy string
}

// SettingsChange is one audited change of a tenant's settings: who made
// it, when, and the settings before and after.
type SettingsChange struct {
	Tenant  string
	Version int64 // the version the change made
	By      string
	At      time.Time
	Before  Settings
	After   Settings
	// SecretReplaced says the change stored a new webhook signing secret
	// (the secret itself is never in a change; its reference may stay
	// the same).
	SecretReplaced bool
}

// ContactChange is an operator's change of a tenant's notification
// contact, made with the other settings: the new contact (empty: none)
// and whether its webhook signing secret was replaced.
type ContactChange struct {
	Contact        notify.Contact
	SecretReplaced bool
}
