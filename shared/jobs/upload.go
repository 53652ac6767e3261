package jobs

// UploadGrant is what the API recorded when it issued an upload form for
// an import: the job ID it put in the form's metadata, for exactly one
// tenant and key, and who asked for it (from the verified token). The
// import trusts a job ID found in an upload's metadata only when a grant
// for that tenant and key exists and no other upload has used it.
type UploadGrant struct {
	Tenant      string
	JobID       string
	Key         string
	SubmittedBy string
	DryRun      bool
	// RetryOf is the job whose rejected rows the upload retries (the API
	// writes the retry file itself); the job it starts records it.
	RetryOf string
	// ApplyOf is the dry run whose previewed changes the upload applies
	// (POST /v1/jobs/{id}/apply copies the previewed version); the job it
	// starts records it and applies exactly those decisions.
	ApplyOf string
}

// AwaitingRetryFile reports whether j is a retry job the API recorded
// before its file exists (POST /v1/jobs/{id}/retry answers at once; the
// retry function builds the file): New, linked to the job it retries, and
// not yet adopted by the import workflow (no source version). Only such a
// job may be adopted by StartJob, or failed by the retry function's
// refusals and its OnFailure record.
func (j Job) AwaitingRetryFile() bool {
	return j.Status == StatusNew && j.RetryOf != "" && j.SourceVersion == "" && j.CancelledBy == ""
}
