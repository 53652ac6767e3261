// Package bulkapi is the HTTP API's wire types: the request bodies the API
// reads and the documents it answers with, as shared/httpapi encodes them
// and shared/apiclient (the CLI's transport) decodes them. They are
// described by shared/httpapi/openapi.json, against which every API test
// validates what it receives.
//
// It links no AWS SDK: a client of the API needs none. The domain types
// it embeds (jobs.Job, schedule.Schedule, schedule.Definition,
// exportspec.Options) are AWS-free too; their JSON is the API's.
package bulkapi

import (
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/jobs"
)

// Problem is an RFC 9457 problem document, the answer to every request
// that fails.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Code is the stable code of the error's kind (bulkerr.ProblemCode).
	Code string `json:"code"`
	// Instance names this occurrence: urn:bulkops:request:<id>, the ID
	// the API's logs carry (and the X-Request-Id header).
	Instance string `json:"instance"`
	// Errors lists the fields of an invalid body at fault.
	Errors []FieldError `json:"errors,omitempty"`
	// ActiveJobID names the job holding the tenant's lock (TENANT_BUSY).
	ActiveJobID string `json:"activeJobId,omitempty"`
}

// FieldError is what is wrong with one field of a request body.
type FieldError struct {
	// Pointer is an RFC 6901 JSON pointer into the body ("" for the body
	// as a whole, "/when/time", "/objectTypes/2").
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// Job is a job as the API shows it: the job, its progress and ETA, and
// short-lived links to its files.
type Job struct {
	jobs.Job
	Percent    int    `json:"percent"`
	ETASeconds *int64 `json:"etaSeconds,omitempty"`
	Links      *Links `json:"links,omitempty"`
	// FailedIn is where a Failed job failed (jobs.FailurePhase: "header",
	// "rows (chunk 2 of 5)", "delivery (authenticate)", …), the phase its
	// failure notice names; empty for any other status.
	FailedIn string `json:"failedPhase,omitempty"`
}

// Cancelled tells whether the job was cancelled: its own status, or a
// cancellation recorded on it (cancelledBy, set as soon as it is asked
// for).
func (j Job) Cancelled() bool {
	return strings.EqualFold(string(j.Status), "Cancelled") || strings.EqualFold(string(j.Status), "Canceled") || j.CancelledBy != ""
}

// Final tells whether the job has ended.
func (j Job) Final() bool { return j.Status.Final() || j.Cancelled() }

// Links are a job's short-lived download links: its error CSV and its
// results (an export's ZIP), and a dry run's change CSV.
type Links struct {
	Errors    string    `json:"errors,omitempty"`
	Results   string    `json:"results,omitempty"`
	Changes   string    `json:"changes,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// JobPage is one page of GET /v1/jobs, newest first.
type JobPage struct {
	Jobs []Job `json:"jobs"`
	// NextCursor, when set, is the cursor of the next page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// ImportRequest is the body of POST /v1/imports.
type ImportRequest struct {
	ObjectType string `json:"objectType"`
	FileName   string `json:"fileName"`
	DryRun     bool   `json:"dryRun"`
}

// Import is the answer to POST /v1/imports: where to upload the file.
type Import struct {
	JobID      string    `json:"jobId"`
	ObjectType string    `json:"objectType"`
	FileName   string    `json:"fileName"`
	DryRun     bool      `json:"dryRun"`
	MaxBytes   int64     `json:"maxBytes"`
	ExpiresAt  time.Time `json:"expiresAt"`
	Upload     Upload    `json:"upload"`
}

// Upload is a presigned POST form: post multipart/form-data to URL with
// every field, then the file as the last field, named file.
type Upload struct {
	URL    string            `json:"url"`
	Fields map[string]string `json:"fields"`
}

// ExportRequest is the body of POST /v1/exports.
type ExportRequest struct {
	ObjectTypes []string `json:"objectTypes"`
	Prefix      string   `json:"prefix,omitempty"`
	// Options shape the files (fields, header, multi-values, filters,
	// splits, an interval range); the zero value is the default export
	// (and is left out, for older servers).
	Options exportspec.Options `json:"options,omitzero"`
	// TargetID names the delivery target the file goes to once built;
	// empty: the download link only.
	TargetID string `json:"targetId,omitempty"`
}

// ObjectType is an object type as the API shows it: its CSV columns.
type ObjectType struct {
	Slug     string   `json:"slug"`
	Name     string   `json:"name"`
	Aliases  []string `json:"aliases,omitempty"`
	Key      []string `json:"key"`
	Action   bool     `json:"actionColumn,omitempty"`
	Columns  []Column `json:"columns"`
	Families []string `json:"columnFamilies,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// Column is one CSV column of an object type.
type Column struct {
	Header    string   `json:"header"`
	Aliases   []string `json:"aliases,omitempty"`
	Required  bool     `json:"required"`
	Kind      string   `json:"kind"`
	Multi     bool     `json:"multi,omitempty"`
	Values    []string `json:"values,omitempty"`
	Ref       string   `json:"ref,omitempty"`
	Immutable bool     `json:"immutable,omitempty"`
	Doc       string   `json:"doc,omitempty"`
	Example   string   `json:"example,omitempty"`
}

// TypePage is one page of GET /v1/object-types, in the registry's order.
type TypePage struct {
	ObjectTypes []ObjectType `json:"objectTypes"`
	NextCursor  string       `json:"nextCursor,omitempty"`
}
