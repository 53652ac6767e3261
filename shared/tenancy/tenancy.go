// Package tenancy holds what belongs to a tenant as a whole rather than to
// one of its jobs or objects: the bulk-operation lock that lets one job at
// a time run (with a lease a crashed job cannot hold forever) and the
// settings an operator sets per tenant. The stores keep them
// (dynamostore); the workflows and the API see only these types. It
// imports nothing from AWS.
package tenancy

import (
	"time"

	"github.com/ccbulk/bulkops/shared/notify"
)

// Lock is the state of a tenant's bulk-operation lock as the store found
// it when asked to take it (AcquireLock) or to look at it (PeekLock).
type Lock struct {
	Acquired bool      // true when the caller holds the lock now
	Holder   string    // the job holding it (the caller when Acquired); "" when free
	Until    time.Time // when the holder's lease ends
}

// Settings are per-tenant options an operator sets. A tenant without
// stored settings has the zero Settings.
type Settings struct {
	// LargeFiles raises the import limits from 5,000 rows / 5 MB to
	// 1,000,000 rows / 500 MB per file.
	LargeFiles bool
	// Notification is the tenant's own notification contact (its Tenant
	// is the tenant whose settings these are; empty: none). The tenant's
	// administrators set it (PUT /v1/settings/notifications); its webhook
	// secret is only referenced (docs/notifications.md).
	Notification notify.Contact
}
