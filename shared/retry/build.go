package retry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/ccbulk/bulkops/shared/blob"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Metadata keys of the retry file (the import's upload metadata).
const (
	metaJobID  = "job-id"
	metaDryRun = "dry-run"
)

// BuildStore reads the two jobs, fails the new one on a refusal and
// releases the old one's retry (dynamostore.Store).
type BuildStore interface {
	GetJob(ctx context.Context, tenant, id string) (jobs.Job, error)
	Fail(ctx context.Context, tenant, id, reason string, at time.Time) error
	ReleaseRetry(ctx context.Context, tenant, id, retry string) error
}

// Uploads registers the retry file's upload, as the API registers every
// upload it issues, so the import trusts its job ID.
type Uploads interface {
	RegisterUpload(ctx context.Context, g jobs.UploadGrant, ttl time.Duration) error
}

// Files reads the job's files and writes the retry file.
type Files interface {
	Head(ctx context.Context, key string) (blob.Info, error)
	OpenRange(ctx context.Context, key, versionID string, start, end int64) (io.ReadCloser, error)
	Open(ctx context.Context, key, versionID string) (io.ReadCloser, error)
	PutFileMeta(ctx context.Context, key, contentType string, f *os.File, size int64, meta map[string]string) error
}

// notifier publishes job transitions (jobevents.Publisher).
type notifier interface {
	JobChanged(ctx context.Context, j jobs.Job) error
}

// Builder builds retry files: the retry function's part (functions/
// import-retry), invoked asynchronously by the API with a Request.
type Builder struct {
	Jobs    BuildStore
	Uploads Uploads
	Files   Files
	Events  notifier // optional: announces a job a refusal failed
	// GrantTTL is how long the retry file's upload grant waits for its
	// event (default 15 minutes).
	GrantTTL time.Duration
	// TempDir holds the retry file while it is built ("" for the system's).
	TempDir string
	// Now is the clock (time.Now when nil), and SourceRetention how long an
	// upload is certainly kept (default SourceRetention): an older job's
	// rows are taken from its error report, since S3 may answer for an
	// expired version with 403 rather than 404 to a role that may not list
	// the bucket.
	Now             func() time.Time
	SourceRetention time.Duration
	Log             *slog.Logger
}

// Outcomes of a build.
const (
	// OutcomeWritten: the file was written; its import starts.
	OutcomeWritten = "written"
	// OutcomeRefused: nothing to retry; the new job ended Failed with the
	// reason and the old job's retry was released.
	OutcomeRefused = "refused"
	// OutcomeDone: an earlier attempt already wrote the file, or the new
	// job no longer waits for it (cancelled, failed, running): nothing done.
	OutcomeDone = "done"
)

// Built is what one build did.
type Built struct {
	Outcome string `json:"outcome"`
	JobID   string `json:"jobId"`
	Key     string `json:"key,omitempty"`
	Stats
	// Reason is the refusal's sentence (the new job's message).
	Reason string `json:"reason,omitempty"`
}

// Build builds the retry file of req (exactly as Build of file.go: the
// reports read once, the source twice, streaming, into a temporary file),
// registers its upload grant and writes it with the new job's ID in its
// metadata, which starts the import. It may run more than once for one
// request (Lambda retries an asynchronous invocation that failed): a new
// job that no longer waits for its file, or whose file an earlier attempt
// wrote, is left alone. A refusal known only from the reports (no rows
// left; only DUPLICATE_KEY rows; a report that cannot list its rows) ends
// the new job Failed with the reason and releases the old job's retry, so
// it may be retried again once fixed; it is no error (nothing to retry).
// Other errors are returned, for Lambda to retry; when every attempt
// failed, the cleanup function fails the job from the OnFailure record.
func (b *Builder) Build(ctx context.Context, req Request) (Built, error) {
	res := Built{JobID: req.JobID}
	if err := req.check(); err != nil {
		return res, err
	}
	log := b.logger().With("tenant", req.Tenant, "jobId", req.JobID, "retryOf", req.RetryOf)
	nj, err := b.Jobs.GetJob(ctx, req.Tenant, req.JobID)
	if err != nil {
		return res, err
	}
	if nj.RetryOf != req.RetryOf || nj.DryRun != req.DryRun {
		return res, bulkerr.New(bulkerr.Invalid, "job %s is not the retry of job %s that the request names", req.JobID, req.RetryOf)
	}
	if !nj.AwaitingRetryFile() {
		res.Outcome = OutcomeDone
		log.InfoContext(ctx, "the retry job no longer waits for its file; nothing to build", "status", string(nj.Status))
		if nj.Status.Final() && nj.SourceVersion == "" && !req.DryRun {
			// Ended before its file arrived (cancelled): the old job may
			// be retried again.
			return res, b.Jobs.ReleaseRetry(ctx, req.Tenant, req.RetryOf, req.JobID)
		}
		return res, nil
	}
	j, err := b.Jobs.GetJob(ctx, req.Tenant, req.RetryOf)
	if err != nil {
		return res, err
	}
	t, err := objecttype.Lookup(j.ObjectType)
	if err != nil {
		return res, bulkerr.Wrap(bulkerr.Internal, err, "job %s has object type %q", j.ID, j.ObjectType)
	}
	res.Key = Key(req.Tenant, t.Slug, j.FileName)
	if info, err := b.Files.Head(ctx, res.Key); err == nil && info.Metadata[metaJobID] == req.JobID {
		res.Outcome = OutcomeDone // an earlier attempt wrote it; its event starts the import
		log.InfoContext(ctx, "the retry file was already written", "key", res.Key, "version", info.VersionID)
		return res, nil
	} else if err != nil && bulkerr.KindOf(err) != bulkerr.NotFound {
		return res, err
	}

	tmp, err := os.CreateTemp(b.TempDir, "retry-*.csv")
	if err != nil {
		return res, bulkerr.Wrap(bulkerr.Internal, err, "making the retry file")
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	st, err := Build(t, b.sources(ctx, j), tmp)
	res.Stats = st
	var reason string
	switch {
	case err != nil && bulkerr.KindOf(err) == bulkerr.Conflict:
		reason = bulkerr.Message(err)
	case err != nil:
		return res, err
	case st.Rows == 0 && st.Duplicates == 0:
		reason = fmt.Sprintf("job %s has no rejected rows to retry", j.ID)
	case st.Rows == 0:
		reason = fmt.Sprintf("job %s has no rows to retry: its %d rejected rows repeat the key of an earlier row (DUPLICATE_KEY), which a retry cannot fix; decide which row wins and import it", j.ID, st.Duplicates)
	}
	if reason != "" {
		res.Outcome, res.Reason = OutcomeRefused, reason
		return res, b.refuse(ctx, req, reason, log)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return res, bulkerr.Wrap(bulkerr.Internal, err, "sizing the retry file")
	}
	ttl := b.GrantTTL
	if ttl == 0 {
		ttl = 15 * time.Minute
	}
	err = b.Uploads.RegisterUpload(ctx, jobs.UploadGrant{
		Tenant: req.Tenant, JobID: req.JobID, Key: res.Key, SubmittedBy: req.User, DryRun: req.DryRun, RetryOf: req.RetryOf,
	}, ttl)
	if err != nil && bulkerr.KindOf(err) != bulkerr.Conflict { // Conflict: an earlier attempt registered it
		return res, err
	}
	if err := b.Files.PutFileMeta(ctx, res.Key, "text/csv; charset=utf-8", tmp, size, map[string]string{
		metaJobID: req.JobID, metaDryRun: strconv.FormatBool(req.DryRun),
	}); err != nil {
		return res, err
	}
	res.Outcome = OutcomeWritten
	log.InfoContext(ctx, "retry file written", "key", res.Key, "rows", st.Rows, "duplicates", st.Duplicates,
		"applied", st.Applied, "fromReport", st.FromReport, "bytes", size, "dryRun", req.DryRun)
	return res, nil
}

// sources opens the job's files: its source at the exact version it
// imported (unless past its retention), its error and results reports.
func (b *Builder) sources(ctx context.Context, j jobs.Job) Sources {
	src := Sources{
		Source: func(start int64) (io.ReadCloser, error) {
			if start == 0 {
				return b.Files.Open(ctx, j.SourceKey, j.SourceVersion)
			}
			return b.Files.OpenRange(ctx, j.SourceKey, j.SourceVersion, start, 1<<62)
		},
		Errors: func() (io.ReadCloser, error) { return b.Files.Open(ctx, j.ErrorKey, "") },
	}
	keep := b.SourceRetention
	if keep == 0 {
		keep = SourceRetention
	}
	if j.SourceKey == "" || b.now().Sub(j.SubmittedAt) > keep-24*time.Hour {
		src.Source = nil // past its retention (a day's margin): the report's cells
	}
	if j.ResultsKey != "" {
		src.Results = func() (io.ReadCloser, error) { return b.Files.Open(ctx, j.ResultsKey, "") }
	}
	return src
}

// refuse ends the new job Failed with reason, releases the old job's
// retry and announces the job.
func (b *Builder) refuse(ctx context.Context, req Request, reason string, log *slog.Logger) error {
	if err := b.Jobs.Fail(ctx, req.Tenant, req.JobID, reason, b.now()); err != nil {
		return err
	}
	if !req.DryRun {
		if err := b.Jobs.ReleaseRetry(ctx, req.Tenant, req.RetryOf, req.JobID); err != nil {
			return err
		}
	}
	log.InfoContext(ctx, "retry refused", "reason", reason)
	if b.Events == nil {
		return nil
	}
	j, err := b.Jobs.GetJob(ctx, req.Tenant, req.JobID)
	if err != nil {
		return err
	}
	if err := b.Events.JobChanged(ctx, j); err != nil {
		// The job is Failed either way; the event is best effort here.
		log.WarnContext(ctx, "announcing the refused retry", "err", err.Error())
	}
	return nil
}

func (b *Builder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Builder) logger() *slog.Logger {
	if b.Log != nil {
		return b.Log
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}
