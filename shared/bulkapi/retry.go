package bulkapi

import "time"

// RetryRequest is the body of POST /v1/jobs/{id}/retry (optional: an
// empty body retries as the job ran).
type RetryRequest struct {
	// DryRun checks the rejected rows without applying them. The retry
	// of a dry run is always a dry run.
	DryRun *bool `json:"dryRun,omitempty"`
}

// Retry is the answer to POST /v1/jobs/{id}/retry: the new import job
// over the old job's rejected rows, recorded New at once (GET
// /v1/jobs/{jobId} answers right away, with the message "building the
// retry file ..."). The retry function builds the file after the answer,
// so how many rows it holds is not known here: the job's counts show it
// once its import has started; a retry with nothing left to retry ends
// the job Failed with the reason.
type Retry struct {
	JobID      string `json:"jobId"`
	RetryOf    string `json:"retryOf"`
	ObjectType string `json:"objectType"`
	FileName   string `json:"fileName"`
	// Key is where the retry file is written (imports/<tenant>/<type>/<file>).
	Key    string `json:"key"`
	DryRun bool   `json:"dryRun"`
	// Status is the new job's status when answered (New).
	Status string `json:"status"`
	// SubmittedAt is when the retry was asked for (the job's submittedAt).
	SubmittedAt time.Time `json:"submittedAt"`
}
