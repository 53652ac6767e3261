package retry

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/ccbulk/bulkops/shared/audiozip"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// BuildingMessage is the message of a retry job while the retry function
// builds its file (the job is New; StartJob removes the message when it
// adopts the file).
const BuildingMessage = "building the retry file from the rejected rows of job %s"

// Request is what the API asks the retry function to do (the payload of
// its asynchronous invocation): build the file of tenant's job RetryOf's
// rejected rows for the new job JobID, which the API has recorded (New)
// and, unless DryRun, claimed as RetryOf's retry. The field names tenant
// and jobId are those the cleanup function reads from an OnFailure record.
type Request struct {
	Tenant  string `json:"tenant"`
	JobID   string `json:"jobId"`
	RetryOf string `json:"retryOf"`
	User    string `json:"user"`
	DryRun  bool   `json:"dryRun"`
}

// check refuses a request that does not name both jobs.
func (r Request) check() error {
	if r.Tenant == "" || r.JobID == "" || r.RetryOf == "" {
		return bulkerr.New(bulkerr.Invalid, "a retry build request names a tenant, the new job (jobId) and the job it retries (retryOf)")
	}
	return nil
}

// JobStore reads jobs, records the new job and the one retry of a job.
type JobStore interface {
	GetJob(ctx context.Context, tenant, id string) (jobs.Job, error)
	CreateJob(ctx context.Context, j jobs.Job) error
	Fail(ctx context.Context, tenant, id, reason string, at time.Time) error
	ClaimRetry(ctx context.Context, tenant, id, retry string) error
	ReleaseRetry(ctx context.Context, tenant, id, retry string) error
}

// Builds starts the retry function (retryapp.Invoker: Lambda Invoke,
// InvocationType Event); it returns once the build is queued.
type Builds interface {
	StartBuild(ctx context.Context, req Request) error
}

// Starter starts retries: the API's part, which reads no file.
type Starter struct {
	Jobs   JobStore
	Builds Builds
	NewID  func() (string, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// SourceRetention is how long an upload's version is certainly kept: the
// bucket expires uploads after 30 days and noncurrent versions 30 days
// after they became noncurrent (template.yaml's lifecycle rules).
const SourceRetention = 30 * 24 * time.Hour

// Started is a retry that was started: the new job (recorded New, so it
// can be followed at once), its file and key. How many rows the file
// holds is known only once the retry function has built it: the job's
// total, once its import has started.
type Started struct {
	JobID       string
	RetryOf     string
	ObjectType  string
	FileName    string
	Key         string
	DryRun      bool
	SubmittedAt time.Time
}

// Retry starts a new import job of tenant over the rejected rows of its
// job id, submitted by user. dryRun asks for a dry run; the retry of a dry
// run is always a dry run (nothing of it was applied, so applying only its
// rejected rows would leave out the valid ones). A job that is not a
// finished CSV import with rejected rows is refused (Conflict); one of
// another tenant is not found. A job is retried at most once (dry runs
// aside): a second retry is refused naming the first, which can be
// retried in turn.
//
// Retry reads no file: it records the new job (New, BuildingMessage),
// claims the old job's retry (not for a dry run) and asks the retry
// function to build the file (Builds). Refusals only known from the file
// (no rows left, only duplicates) end the new job Failed there, and
// release the claim.
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
	newID, err := s.NewID()
	if err != nil {
		return Started{}, bulkerr.Wrap(bulkerr.Internal, err, "making a job ID")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now().UTC()
	name := RetryFileName(j.FileName)
	started := Started{JobID: newID, RetryOf: id, ObjectType: t.Slug, FileName: name, Key: Key(tenant, t.Slug, j.FileName), DryRun: dry, SubmittedAt: at}
	if !dry {
		// First the claim: of two retries asked for at once, one wins
		// here, before either has recorded a job.
		if err := s.Jobs.ClaimRetry(ctx, tenant, id, newID); err != nil {
			return Started{}, err
		}
	}
	release := func(cause error) error {
		if dry {
			return cause
		}
		if rerr := s.Jobs.ReleaseRetry(context.WithoutCancel(ctx), tenant, id, newID); rerr != nil {
			return bulkerr.Wrap(bulkerr.KindOf(cause), cause, "starting the retry failed, and releasing job %s's retry did too", id)
		}
		return cause
	}
	if err := s.Jobs.CreateJob(ctx, jobs.Job{
		Tenant: tenant, ID: newID, Type: jobs.TypeImport, ObjectType: t.Slug, FileName: name, DryRun: dry,
		Status: jobs.StatusNew, SubmittedBy: user, SubmittedAt: at, RetryOf: id,
		Message: fmt.Sprintf(BuildingMessage, id),
	}); err != nil {
		return Started{}, release(err)
	}
	if err := s.Builds.StartBuild(ctx, Request{Tenant: tenant, JobID: newID, RetryOf: id, User: user, DryRun: dry}); err != nil {
		ctx := context.WithoutCancel(ctx)
		_ = s.Jobs.Fail(ctx, tenant, newID, "the retry could not be started (its file is built by a function that could not be invoked); retry the job again", now())
		return Started{}, release(bulkerr.Wrap(bulkerr.Transient, err, "starting the build of the retry file"))
	}
	return started, nil
}

// Key is the key of the retry file of an import of fileName by tenant:
// imports/<tenant>/<type>/<file>-retry.csv.
func Key(tenant, typeSlug, fileName string) string {
	return path.Join("imports", tenant, typeSlug, RetryFileName(fileName))
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
