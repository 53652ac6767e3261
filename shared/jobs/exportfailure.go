package jobs

// ExportFailure tells that a scheduled export's run failed: which
// schedule, which job, why, how many runs in a row have failed, and
// whether the schedule suspended itself. The export workflow announces it
// (jobevents publishes it as an "Export Failed" event).
type ExportFailure struct {
	Tenant              string
	ScheduleID          string
	Title               string
	JobID               string
	Reason              string
	ConsecutiveFailures int
	Suspended           bool
}
