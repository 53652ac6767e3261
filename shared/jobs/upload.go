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
