// Package catalog holds the tenant's stored configuration objects as the
// import engine and the stores see them: a type, a natural key, a stable ID
// and canonical field values, and the writes a job plans of them with what
// became of each (Write, WriteResult). It imports nothing from AWS.
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

// Write is one planned object write of a job. A store applies it as a
// conditional put: a create only if the key is new, an update only if the
// stored version is still PrevVersion (dynamostore.Objects.Apply).
type Write struct {
	// Object is the new state. Its ID must be set (new ID on create, the
	// stored ID on update).
	Object Object
	// PrevVersion is the stored version the write replaces; 0 for create.
	PrevVersion int64
}

// WriteResult says what happened to one Write.
type WriteResult int

// Write results.
const (
	// Applied: written now.
	Applied WriteResult = iota
	// AlreadyApplied: this job had written it before (a retried chunk).
	AlreadyApplied
	// Conflicted: the object changed underneath the job (someone else wrote
	// it since it was read); nothing was written.
	Conflicted
)
