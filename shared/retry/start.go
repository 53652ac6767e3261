package retry

import (
	"context"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/audiozip"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// Metadata keys of the retry file (the import's upload metadata).
const (
	metaJobID  = "job-id"
	metaDryRun = "dry-run"
)

// JobStore reads jobs and records the one retry of a job.
type JobStore interface {
	GetJob(ctx context.Context, tenant, id string) (jobs.Job, error)
	ClaimRetry(ctx context.Context, tenant, id, retry string) error
	ReleaseRetry(ctx context.Context, tenant, id, retry string) error
}

// Uploads registers the retry file's upload, as the API registers every
// upload it issues, so the import trusts its job ID.
type Uploads interface {
	RegisterUpload(ctx context.Context, g jobs.UploadGrant, ttl time.Duration) error
}

// Files reads the job's files and writes the retry file.
type Files interface {
	OpenRange(ctx context.Context, key, versionID string, start, end int64) (io.ReadCloser, error)
	Open(ctx context.Context, key, versionID string) (io.ReadCloser, error)
	PutFileMeta(ctx context.Context, key, contentType string, f *os.File, size int64, meta map[string]string) error
}

// Starter starts retries.
type Starter struct {
	Jobs    JobStore
	Uploads Uploads
	Files   Files
	NewID   func() (string, error)
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
}

// SourceRetention is how long an upload's version is certainly kept: the
// bucket expires uploads after 30 days and noncurrent versions 30 days
// after they became noncurrent (template.yaml's lifecycle rules).
const SourceRetention = 30 * 24 * time.Hour

// Started is a retry that was started: the new job's ID (the job appears
// once the workflow has registered it, within seconds), its file and what
// the file holds.
type Started struct {
	JobID      string
	RetryOf    string
	ObjectType string
	FileName   string
	Key        string
	DryRun     bool
	Stats      Stats
}

// Retry starts a new import job of tenant over the rejected rows of its
// job id, submitted by user. dryRun asks for a dry run; the retry of a dry
// run is always a dry run (nothing of it was applied, so applying only its
// rejected rows would leave out the valid ones). A job that is not a
// finished CSV import with rejected rows is refused (Conflict); one of
// another tenant is not found. A job is retried at most once (dry runs
// aside): a second retry is refused naming the first, which can be
// retried in turn.
func (s *Starter) Retry(ctx context.Context, tenant, user, id string, dryRun *bool) (Started, error) {
	j, err := s.Jobs.GetJob(ctx, tenant, id)
	if err != nil {
		return Started{}, err
	}
	dry := j.DryRun
	if dryRun != nil {
		if j.DryRun && !*dryRun {
			return Started{}, bulkerr.New(bulkerr.Invalid, "job %s was a dry run: nothing of it was applied, so its retry is a dry run too; to apply the rows, import the file itself", id)
		}
		dry = *dryRun
	}
	if err := retryable(j); err != nil {
		return Started{}, err
	}
	if !dry && j.RetriedBy != "" {
		return Started{}, bulkerr.New(bulkerr.Conflict, "job %s was already retried by job %s; follow that job, and retry it in turn if rows are still rejected", id, j.RetriedBy)
	}
	t, err := objecttype.Lookup(j.ObjectType)
	if err != nil {
		return Started{}, bulkerr.Wrap(bulkerr.Internal, err, "job %s has object type %q", id, j.ObjectType)
	}
	tmp, err := os.CreateTemp(s.TempDir, "retry-*.csv")
	if err != nil {
		return Started{}, bulkerr.Wrap(bulkerr.Internal, err, "making the retry file")
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	src := Sources{
		Source: func(start int64) (io.ReadCloser, error) {
			if start == 0 {
				return s.Files.Open(ctx, j.SourceKey, j.SourceVersion)
			}
			return s.Files.OpenRange(ctx, j.SourceKey, j.SourceVersion, start, 1<<62)
		},
		Errors: func() (io.ReadCloser, error) { return s.Files.Open(ctx, j.ErrorKey, "") },
	}
	now, keep := time.Now, s.SourceRetention
	if s.Now != nil {
		now = s.Now
	}
	if keep == 0 {
		keep = SourceRetention
	}
	if j.SourceKey == "" || now().Sub(j.SubmittedAt) > keep-24*time.Hour {
		src.Source = nil // past its retention (a day's margin): the report's cells
	}
	if j.ResultsKey != "" {
		src.Results = func() (io.ReadCloser, error) { return s.Files.Open(ctx, j.ResultsKey, "") }
	}
	st, err := Build(t, src, tmp)
	if err != nil {
		return Started{}, err
	}
	if st.Rows == 0 && st.Duplicates == 0 {
		return Started{}, bulkerr.New(bulkerr.Conflict, "job %s has no rejected rows to retry", id)
	}
	if st.Rows == 0 {
		return Started{}, bulkerr.New(bulkerr.Conflict, "job %s has no rows to retry: its %d rejected rows repeat the key of an earlier row (DUPLICATE_KEY), which a retry cannot fix; decide which row wins and import it", id, st.Duplicates)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return Started{}, bulkerr.Wrap(bulkerr.Internal, err, "sizing the retry file")
	}
	newID, err := s.NewID()
	if err != nil {
		return Started{}, bulkerr.Wrap(bulkerr.Internal, err, "making a job ID")
	}
	name := RetryFileName(j.FileName)
	key := path.Join("imports", tenant, t.Slug, name)
	ttl := s.GrantTTL
	if ttl == 0 {
		ttl = 15 * time.Minute
	}
	if err := s.Uploads.RegisterUpload(ctx, jobs.UploadGrant{
		Tenant: tenant, JobID: newID, Key: key, SubmittedBy: user, DryRun: dry, RetryOf: id,
	}, ttl); err != nil {
		return Started{}, err
	}
	if !dry {
		if err := s.Jobs.ClaimRetry(ctx, tenant, id, newID); err != nil {
			return Started{}, err
		}
	}
	if err := s.Files.PutFileMeta(ctx, key, "text/csv; charset=utf-8", tmp, size, map[string]string{
		metaJobID: newID, metaDryRun: strconv.FormatBool(dry),
	}); err != nil {
		if !dry {
			if rerr := s.Jobs.ReleaseRetry(context.WithoutCancel(ctx), tenant, id, newID); rerr != nil {
				return Started{}, bulkerr.Wrap(bulkerr.KindOf(err), err, "writing the retry file failed, and releasing job %s's retry did too", id)
			}
		}
		return Started{}, err
	}
	return Started{JobID: newID, RetryOf: id, ObjectType: t.Slug, FileName: name, Key: key, DryRun: dry, Stats: st}, nil
}

// RetryFileName is the file name of the retry of an import of name:
// "agents.csv" → "agents-retry.csv" (a retry of a retry keeps one suffix).
func RetryFileName(name string) string {
	base := strings.TrimSuffix(name, path.Ext(name))
	base = strings.TrimSuffix(base, "-retry")
	return base + "-retry.csv"
}

// retryable refuses jobs whose rejected rows cannot be retried.
func retryable(j jobs.Job) error {
	switch {
	case j.Type != jobs.TypeImport:
		return bulkerr.New(bulkerr.Conflict, "job %s is an %s; only imports have rejected rows to retry", j.ID, j.Type)
	case !j.Status.Final():
		return bulkerr.New(bulkerr.Conflict, "job %s is %s; retry its rejected rows once it has finished", j.ID, j.Status)
	case audiozip.IsSlug(j.ObjectType):
		return bulkerr.New(bulkerr.Conflict, "job %s imported a ZIP of audio files, whose entries cannot be retried row by row; put the rejected WAV files (see its error CSV) in a new ZIP and import that", j.ID)
	case j.ErrorKey == "" || j.Counts.Failed == 0 && j.Status != jobs.StatusFailed && j.Status != jobs.StatusCancelled:
		if j.Status == jobs.StatusFailed {
			return bulkerr.New(bulkerr.Conflict, "job %s failed before any row was checked (%s); fix the file and import it again", j.ID, j.Message)
		}
		return bulkerr.New(bulkerr.Conflict, "job %s has no rejected rows to retry", j.ID)
	}
	return nil
}
