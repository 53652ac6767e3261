package bulkapi

// Apply is the answer to POST /v1/jobs/{id}/apply: the import that applies
// a dry run's previewed changes has been started as JobID (it appears in
// GET /v1/jobs/{id} within seconds, once its file event arrives).
type Apply struct {
	// JobID is the new import's job.
	JobID string `json:"jobId"`
	// PreviewJobID is the dry run whose file it imports.
	PreviewJobID string `json:"previewJobId"`
	ObjectType   string `json:"objectType"`
	FileName     string `json:"fileName"`
}
