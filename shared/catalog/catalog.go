// Package catalog holds the tenant's stored configuration objects as the
// import engine and the stores see them: a type, a natural key, a stable ID
// and canonical field values. It imports nothing from AWS.
package catalog

import "time"

// Object is one stored configuration object of one tenant. The tenant is not
// a field: every store that returns Objects is already scoped to one tenant,
// so nothing read from a CSV can name another tenant's data.
type Object struct {
	// Type is the object type's slug, for example "work-type".
	Type string
	// Key is the natural key, normalized (trimmed, Unicode NFC, case-folded);
	// for types unique only within a parent (teams in a site) it includes
	// the parent, as objecttype defines.
	Key string
	// ID is the stable identifier assigned on create and kept on update.
	ID string
	// Name is the display name as last written.
	Name string
	// Fields holds canonical text values by field key (objecttype.Column.Key).
	// A missing key means "no value".
	Fields map[string]string
	// Version counts writes; 1 after create.
	Version int64
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time
	UpdatedAt time.Time
	// JobID is the bulk job that last wrote the object.
	JobID string
}
