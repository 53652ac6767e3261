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
// over the old job's rejected rows. The job appears at GET /v1/jobs/{jobId}
// within seconds, once the import workflow has registered it.
type Retry struct {
	JobID      string `json:"jobId"`
	RetryOf    string `json:"retryOf"`
	ObjectType string `json:"objectType"`
	FileName   string `json:"fileName"`
	DryRun     bool   `json:"dryRun"`
	// Rows is how many rows the retry file holds; Duplicates how many
	// rejected rows were left out because they repeat an earlier row's key.
	Rows       int  `json:"rows"`
	Duplicates int  `json:"duplicates"`
	FromReport bool `json:"fromReport,omitempty"`
	// SubmittedAt is when the retry was asked for.
	SubmittedAt time.Time `json:"submittedAt"`
}
