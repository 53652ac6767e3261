package jobs

import "fmt"

// ExportFailure tells that a scheduled export's run failed: which
// schedule, which job, its object types, the phase it failed in, why, how
// many runs in a row have failed, and whether the schedule suspended
// itself. The export workflow announces it (jobevents publishes it as an
// "Export Failed" event).
type ExportFailure struct {
	Tenant              string
	ScheduleID          string
	Title               string
	JobID               string
	ObjectTypes         []string
	Phase               string
	Reason              string
	ConsecutiveFailures int
	Suspended           bool
}

// The phases a failed job reports (FailurePhase). The step that fails a
// job records where (Job.FailedPhase); the coarse four remain for a job
// failed where nothing finer is known (or before phases were recorded).
const (
	// PhasePrepare: an import failed before its rows were applied: waiting
	// for the tenant lock, or checking the file (limits, encoding, header,
	// duplicates).
	PhasePrepare = "prepare"
	// PhaseApply: an import failed while its rows were applied (chunks)
	// or its reports were written (finalize).
	PhaseApply = "apply"
	// PhaseStart: an export failed before it read an object: its options
	// and types, the tenant lock, starting the export.
	PhaseStart = "start"
	// PhaseExport: an export failed while it read the objects, wrote the
	// file or uploaded it.
	PhaseExport = "export"

	// PhaseLock: an import waited for the tenant lock and gave up.
	PhaseLock = "lock"
	// PhaseUploadChecks: the upload's folder names no known object type,
	// or the file is over the tenant's size limit (refused before a byte
	// of it is read).
	PhaseUploadChecks = "upload checks"
	// PhaseFileChecks: reading the file through: encoding, delimiter,
	// row limit, rows too large, duplicate keys.
	PhaseFileChecks = "file checks"
	// PhaseHeader: the header names no or wrong columns of the type.
	PhaseHeader = "header"
	// PhasePreview: an apply's check of its dry run under the tenant lock
	// (objects changed since the preview, or the preview too old).
	PhasePreview = "preview check"
	// PhaseRows: while the chunks validated and wrote the rows (the
	// failing chunk unknown: ChunkPhase names it when known).
	PhaseRows = "rows"
	// PhaseReports: writing the error, results and change reports.
	PhaseReports = "reports"
	// PhaseReading: an export reading the objects.
	PhaseReading = "reading"
	// PhaseWriting: an export writing its file (CSV or ZIP) and uploading
	// it to the bucket.
	PhaseWriting = "writing the file"
)

// ChunkPhase is the phase of an import that failed validating or writing
// the rows of chunk n (1-based) of m: "rows (chunk n of m)".
func ChunkPhase(n, m int) string { return fmt.Sprintf("%s (chunk %d of %d)", PhaseRows, n, m) }

// DeliveryPhase is the phase of an export whose delivery to its target
// failed at step p (delivery.Phase: connect, host-key, authenticate,
// folder, write, rename, ...): "delivery (p)".
func DeliveryPhase(p string) string { return "delivery (" + p + ")" }

// FailurePhase says in which phase a Failed job failed: the phase the
// failing step recorded (FailedPhase), else, for an export whose delivery
// failed, the delivery's step, else how far the job got (a job is marked
// In Progress, with its start time, once its checks passed); "" for a job
// that did not fail.
func FailurePhase(j Job) string {
	if j.Status != StatusFailed {
		return ""
	}
	if j.FailedPhase != "" {
		return j.FailedPhase
	}
	if d := j.Delivery; j.Type == TypeExport && d != nil && d.Phase != "" {
		return DeliveryPhase(d.Phase)
	}
	started := j.StartedAt != nil
	switch {
	case j.Type == TypeExport && started:
		return PhaseExport
	case j.Type == TypeExport:
		return PhaseStart
	case started:
		return PhaseApply
	}
	return PhasePrepare
}
