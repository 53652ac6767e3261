// Package jobs models bulk jobs (imports and exports): their lifecycle,
// counts, progress and ETA. It imports nothing from AWS.
package jobs

import (
	"fmt"
	"time"

	"github.com/ccbulk/bulkops/shared/bulkerr"
)

// Status is a job's lifecycle state, spelled as users see it.
type Status string

// The statuses, in lifecycle order: New -> In Progress -> one final status.
// Cancelled is the final status of a job an administrator stopped (POST
// /v1/jobs/{id}/cancel), from New or In Progress; it is not a failure: the
// rows applied before the cancel stay applied and are in the results CSV,
// the rest are in the error CSV as not processed.
const (
	StatusNew               Status = "New"
	StatusInProgress        Status = "In Progress"
	StatusCompleted         Status = "Completed"
	StatusCompletedWithErrs Status = "Completed with errors"
	StatusFailed            Status = "Failed"
	StatusCancelled         Status = "Cancelled"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{StatusNew, StatusInProgress, StatusCompleted, StatusCompletedWithErrs, StatusFailed, StatusCancelled}

// Final reports whether s is a final status.
func (s Status) Final() bool {
	return s == StatusCompleted || s == StatusCompletedWithErrs || s == StatusFailed || s == StatusCancelled
}

// Type is the kind of job.
type Type string

// Job types.
const (
	TypeImport Type = "import"
	TypeExport Type = "export"
)

// Retention is how long a job record is kept.
const Retention = 365 * 24 * time.Hour

// Counts are a job's row counters. Processed = Created + Updated + Unchanged
// + Failed once the job has finished.
type Counts struct {
	Total     int `json:"total"`
	Processed int `json:"processed"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
}

// Add returns c plus d, field by field.
func (c Counts) Add(d Counts) Counts {
	return Counts{
		Total:     c.Total + d.Total,
		Processed: c.Processed + d.Processed,
		Created:   c.Created + d.Created,
		Updated:   c.Updated + d.Updated,
		Unchanged: c.Unchanged + d.Unchanged,
		Failed:    c.Failed + d.Failed,
	}
}

// Job is one bulk operation of one tenant.
type Job struct {
	Tenant     string `json:"-"`
	ID         string `json:"id"`
	Type       Type   `json:"type"`
	ObjectType string `json:"objectType"`
	FileName   string `json:"fileName"`
	Bucket     string `json:"-"`
	SourceKey  string `json:"-"`
	// SourceVersion is the S3 version of the uploaded file the job read.
	SourceVersion string     `json:"-"`
	DryRun        bool       `json:"dryRun"`
	Status        Status     `json:"status"`
	SubmittedBy   string     `json:"submittedBy"`
	SubmittedAt   time.Time  `json:"submittedAt"`
	StartedAt     *time.Time `json:"startedAt,omitempty"`
	EndedAt       *time.Time `json:"endedAt,omitempty"`
	Counts        Counts     `json:"counts"`
	Chunks        int        `json:"chunks"`
	ErrorKey      string     `json:"-"`
	ResultsKey    string     `json:"-"`
	// ResultsVersion is the S3 version of an export's file that the job
	// wrote ("" when unknown): a stable-name file is replaced by the next
	// run, and the job's link downloads its own version.
	ResultsVersion string `json:"-"`
	Message        string `json:"message,omitempty"`
	// CancelledBy is the administrator who cancelled the job (recorded
	// when the cancel is asked for, before the job reaches Cancelled).
	CancelledBy string `json:"cancelledBy,omitempty"`
	// CancelRequestedAt is when the cancel was asked for.
	CancelRequestedAt *time.Time `json:"-"`
	// ExecutionArn is the import's Step Functions execution (StartJob
	// records it), which a cancel stops.
	ExecutionArn string `json:"-"`
	// Files is how many CSV files an export's ZIP has (0 for imports).
	Files int `json:"files,omitempty"`
	// RetryOf is the import whose rejected rows this job retries
	// (POST /v1/jobs/{id}/retry), and RetriedBy the job that retries this
	// one's rejected rows (dry-run retries are not recorded here).
	RetryOf   string `json:"retryOf,omitempty"`
	RetriedBy string `json:"retriedBy,omitempty"`
	// ApplyOf is the dry run whose previewed changes this import applies
	// (POST /v1/jobs/{id}/apply).
	ApplyOf string `json:"applyOf,omitempty"`
	// FailedPhase is where a Failed job failed, as the step that failed it
	// recorded it (FailurePhase reads it; "" for jobs failed before it was
	// recorded, whose phase is derived).
	FailedPhase string `json:"-"`
	// Delivery is where an export's file was delivered beyond its
	// download link (a delivery target), or where and why that failed.
	Delivery *Delivery `json:"delivery,omitempty"`
}

// Delivery is an export's delivery to a target: the destination and the
// remote file name once delivered, the failed phase and the reason when
// not. It holds no secret.
type Delivery struct {
	TargetID   string `json:"targetId" dynamodbav:"targetId"`
	TargetName string `json:"targetName,omitempty" dynamodbav:"targetName,omitempty"`
	Kind       string `json:"kind" dynamodbav:"kind"`
	// Destination is the file's location without credentials
	// (sftp://user@host:port/folder/name, s3://bucket/prefix/name).
	Destination string `json:"destination,omitempty" dynamodbav:"destination,omitempty"`
	RemoteName  string `json:"remoteName,omitempty" dynamodbav:"remoteName,omitempty"`
	Bytes       int64  `json:"bytes,omitempty" dynamodbav:"bytes,omitempty"`
	// Phase is the phase the delivery failed in (connect, host-key,
	// authenticate, folder, write, rename, ...); empty when delivered.
	Phase string `json:"phase,omitempty" dynamodbav:"phase,omitempty"`
	Error string `json:"error,omitempty" dynamodbav:"error,omitempty"`
}

// FinalStatus returns the status a job ends with once every row was
// processed: Completed when no row failed, Completed with errors otherwise.
// Failed is reserved for job-level failures.
func FinalStatus(c Counts) Status {
	if c.Failed > 0 {
		return StatusCompletedWithErrs
	}
	return StatusCompleted
}

// CancelRequested reports whether a cancel was asked for a job that has
// not ended yet: no chunk may add counts to it any more, and only the
// cancel (or the cleanup of its dead workflow) ends it, as Cancelled.
func (j Job) CancelRequested() bool { return j.CancelledBy != "" && !j.Status.Final() }

// ExportCancelledMessage is the message of an export job cancelled by
// user after it had read n objects.
func ExportCancelledMessage(user string, n int) string {
	return fmt.Sprintf("cancelled by %s: the export stopped before its ZIP was written (%d objects had been read); nothing was exported, start it again to export them", user, n)
}

// Progress is what a dashboard shows of a running job.
type Progress struct {
	Percent int            `json:"percent"`
	ETA     *time.Duration `json:"-"`
	// ETASeconds is the estimated time remaining, absent when unknown.
	ETASeconds *int64 `json:"etaSeconds,omitempty"`
}

// ProgressAt computes percent done and the remaining time from the measured
// throughput since the job started. The ETA is unknown before the first rows
// are processed and zero once the job is final.
func (j Job) ProgressAt(now time.Time) Progress {
	var p Progress
	if j.Status.Final() {
		p.Percent = 100
		zero := time.Duration(0)
		p.ETA = &zero
	} else if j.Counts.Total > 0 {
		p.Percent = min(99, j.Counts.Processed*100/j.Counts.Total)
		if j.StartedAt != nil && j.Counts.Processed > 0 {
			elapsed := now.Sub(*j.StartedAt)
			perRow := elapsed / time.Duration(j.Counts.Processed)
			eta := perRow * time.Duration(max(0, j.Counts.Total-j.Counts.Processed))
			p.ETA = &eta
		}
	}
	if p.ETA != nil {
		s := int64(p.ETA.Round(time.Second) / time.Second)
		p.ETASeconds = &s
	}
	return p
}

// CanMove reports whether a job may go from status from to status to.
func CanMove(from, to Status) bool {
	switch from {
	case StatusNew:
		return to == StatusInProgress || to == StatusFailed || to == StatusCancelled
	case StatusInProgress:
		return to.Final()
	}
	return false
}

// ErrNotMovable is returned when a transition is not allowed.
func ErrNotMovable(id string, from, to Status) error {
	return bulkerr.New(bulkerr.Conflict, "job %s is %s and cannot become %s", id, from, to)
}
