package jobs

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

// The phases a failed job reports (FailurePhase).
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
)

// FailurePhase says in which phase a Failed job failed, from how far it
// got (a job is marked In Progress, with its start time, once its checks
// passed); "" for a job that did not fail.
func FailurePhase(j Job) string {
	if j.Status != StatusFailed {
		return ""
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
