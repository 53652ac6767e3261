package importflow

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/ccbulk/bulkops/shared/blob"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// Config holds the workflow's tunables (config.Config holds them as the
// environment sets them; importapp.FlowConfig makes one of these).
type Config struct {
	LockLease        time.Duration // lease of the tenant lock, extended by every step
	LockWait         time.Duration // wait between attempts to take a busy lock
	LockWaitAttempts int           // attempts before giving up with Bulk.Busy
	ChunkRows        int           // rows per chunk
	ChunkConcurrency int           // chunks processed at once (the Map state's MaxConcurrencyPath)
	// DistributedChunks is the most chunks a plan may have and still run in
	// the inline Map; a plan with more runs in the Distributed Map, its
	// chunk list read from S3 (0: every plan runs inline).
	DistributedChunks int
	// DistributedConcurrency is the Distributed Map's MaxConcurrency (0:
	// ChunkConcurrency).
	DistributedConcurrency int
	WriteParallelism       int            // concurrent object writes per chunk
	Limits                 csvread.Limits // per file, for tenants without large files
	LargeLimits            csvread.Limits // per file, for tenants with tenancy.Settings.LargeFiles
}

// jobStore is what the steps need of the job records.
type jobStore interface {
	CreateJob(ctx context.Context, j jobs.Job) error
	GetJob(ctx context.Context, tenant, id string) (jobs.Job, error)
	MarkInProgress(ctx context.Context, tenant, id string, total, chunks int, at time.Time) error
	// FinishReportIn and FailIn end a job; a Failed one records the
	// phase it failed in (jobs.Job.FailedPhase).
	FinishReportIn(ctx context.Context, tenant, id string, status jobs.Status, phase, errorKey, resultsKey, message string, at time.Time) error
	FailIn(ctx context.Context, tenant, id, phase, reason string, at time.Time) error
	// FinishCancelled ends a job whose cancel was asked for as Cancelled
	// (dynamostore.Store.FinishCancelled).
	FinishCancelled(ctx context.Context, tenant, id string, c jobs.Counts, errorKey, resultsKey, message string, at time.Time) error
	// AdoptJob gives a retry job the API recorded before its file existed
	// its upload (dynamostore.Store.AdoptJob).
	AdoptJob(ctx context.Context, j jobs.Job) error
}

// lockStore is the tenant lock.
type lockStore interface {
	AcquireLock(ctx context.Context, tenant, job string, lease time.Duration) (tenancy.Lock, error)
	ExtendLock(ctx context.Context, tenant, job string, lease time.Duration) error
	ReleaseLock(ctx context.Context, tenant, job string) error
}

// progressStore records uploads and chunks exactly once.
type progressStore interface {
	ClaimUpload(ctx context.Context, uploadID, job string) (owner string, claimed bool, err error)
	ChunkDone(ctx context.Context, tenant, job string, index int) (bool, error)
	CommitChunk(ctx context.Context, tenant, job string, index int, c jobs.Counts) error
	FailChunk(ctx context.Context, tenant, job string, index, rows int, reason string) error
	FailedChunks(ctx context.Context, tenant, job string) (map[int]string, error)
	// CountedChunks lists committed chunks (reason "") and failed ones.
	CountedChunks(ctx context.Context, tenant, job string) (map[int]string, error)
	// ClaimChunkWrites fences a chunk's object writes against a cancel;
	// ClaimedChunks lists the chunks that claimed.
	ClaimChunkWrites(ctx context.Context, tenant, job string, index int) error
	ClaimedChunks(ctx context.Context, tenant, job string) (map[int]bool, error)
}

// grantStore holds the uploads the API issued (jobs.UploadGrant).
type grantStore interface {
	RedeemUpload(ctx context.Context, tenant, job, objectKey, uploadID string) (jobs.UploadGrant, bool, error)
}

// settingsStore holds per-tenant settings.
type settingsStore interface {
	TenantSettings(ctx context.Context, tenant string) (tenancy.Settings, error)
}

// fileStore is the bucket.
type fileStore interface {
	Head(ctx context.Context, key string) (blob.Info, error)
	HeadVersion(ctx context.Context, key, versionID string) (blob.Info, error)
	Open(ctx context.Context, key, versionID string) (io.ReadCloser, error)
	OpenRange(ctx context.Context, key, versionID string, start, end int64) (io.ReadCloser, error)
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key, contentType string, body []byte, meta map[string]string) error
	// Create streams an object (reports) without holding it whole.
	Create(ctx context.Context, key, contentType string) blob.Writer
	Delete(ctx context.Context, key string) error
}

// ObjectStore is one tenant's objects (dynamostore.Objects).
type ObjectStore interface {
	GetObjects(ctx context.Context, typ string, keys []string) (map[string]catalog.Object, error)
	Apply(ctx context.Context, job string, writes []catalog.Write, concurrency int) ([]catalog.WriteResult, error)
}

// notifier publishes job transitions (jobevents.Publisher).
type notifier interface {
	JobChanged(ctx context.Context, j jobs.Job) error
}

// Flow runs the import steps. Build it once per process.
type Flow struct {
	Config   Config
	Jobs     jobStore
	Locks    lockStore
	Progress progressStore
	// Uploads tells job IDs the API issued from those an uploader made up.
	Uploads  grantStore
	Settings settingsStore
	Files    fileStore
	// Events, if set, receives every job transition.
	Events notifier
	// Objects returns the object store of one tenant.
	Objects func(tenant string) ObjectStore
	// NewID returns a new time-sortable ID (job and object IDs).
	NewID func() (string, error)
	Now   func() time.Time
	Log   *slog.Logger
}

// Handle runs the step named by req.Step. It is the entry point of every
// import function; each function's IAM policy allows only what its steps
// touch.
func (f *Flow) Handle(ctx context.Context, req Request) (any, error) {
	need := func(ok bool, what string) error {
		if !ok {
			return bulkerr.New(bulkerr.Internal, "step %q called without %s", req.Step, what)
		}
		return nil
	}
	switch req.Step {
	case "start":
		if err := need(req.Event != nil, "event"); err != nil {
			return nil, err
		}
		return f.StartExecution(ctx, *req.Event, req.Execution)
	case "acquireLock":
		if err := need(req.Job != nil && req.Lock != nil, "job and lock"); err != nil {
			return nil, err
		}
		return f.AcquireLock(ctx, *req.Job, *req.Lock)
	case "prepare":
		if err := need(req.Job != nil, "job"); err != nil {
			return nil, err
		}
		return f.Prepare(ctx, *req.Job)
	case "chunk":
		if err := need(req.Job != nil && req.Chunk != nil, "job and chunk"); err != nil {
			return nil, err
		}
		return f.ProcessChunk(ctx, *req.Job, *req.Chunk)
	case "chunkFailed":
		if err := need(req.Job != nil && req.Chunk != nil, "job and chunk"); err != nil {
			return nil, err
		}
		return f.ChunkFailed(ctx, *req.Job, *req.Chunk, req.Error)
	case "finalize":
		if err := need(req.Job != nil && req.Plan != nil, "job and plan"); err != nil {
			return nil, err
		}
		return f.Finalize(ctx, *req.Job, *req.Plan)
	case "releaseLock":
		if err := need(req.Job != nil, "job"); err != nil {
			return nil, err
		}
		return struct{}{}, f.Locks.ReleaseLock(ctx, req.Job.Tenant, req.Job.JobID)
	case "markFailed":
		if err := need(req.Job != nil, "job"); err != nil {
			return nil, err
		}
		return struct{}{}, f.MarkFailed(ctx, *req.Job, req.Error)
	}
	return nil, bulkerr.New(bulkerr.Internal, "unknown step %q", req.Step)
}

// announce publishes the job's current state after a transition. Steps
// call it after the (idempotent) transition, so a failed publish retries the
// step and the event goes out at least once.
func (f *Flow) announce(ctx context.Context, tenant, id string) error {
	if f.Events == nil {
		return nil
	}
	j, err := f.Jobs.GetJob(ctx, tenant, id)
	if err != nil {
		return err
	}
	return f.Events.JobChanged(ctx, j)
}

func (f *Flow) logger(j JobRef) *slog.Logger {
	return f.Log.With("tenant", j.Tenant, "jobId", j.JobID)
}
