package importflow

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/ccbulk/bulkops/shared/audiozip"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
	"github.com/ccbulk/bulkops/shared/tenancy"
)

// storedPlan is plan.json: everything chunks and finalize need to read the
// file the way prepare did.
type storedPlan struct {
	ObjectType string              `json:"objectType"`
	Format     csvread.Format      `json:"format"`
	Header     []string            `json:"header"`
	Rows       int                 `json:"rows"`
	Chunks     []csvread.Chunk     `json:"chunks"`
	Duplicates []csvread.Duplicate `json:"duplicates,omitempty"`
	// Entries are the ZIP entries of an audio import (audiozip.Slug).
	Entries []audiozip.Entry `json:"entries,omitempty"`
	// Unpreviewed are, in an apply job's plan (JobRef.ApplyOf), the chunks
	// that failed for good in the dry run, with their reasons: not
	// previewed, so not applied.
	Unpreviewed map[int]string `json:"unpreviewed,omitempty"`
}

// Prepare checks the file (type, limits, encoding, delimiter, header,
// duplicate keys), plans chunks of whole rows, stores the plan and marks the
// job In Progress with its row total. It renews the tenant lock's lease
// every third of it while it reads the file, and stops with the lock-lost
// Conflict when a renewal fails. A job that applies a dry run
// (JobRef.ApplyOf) instead re-checks that preview under the lock and takes
// its plan (prepareApply, apply.go).
func (f *Flow) Prepare(ctx context.Context, j JobRef) (PlanRef, error) {
	if err := f.Locks.ExtendLock(ctx, j.Tenant, j.JobID, f.Config.LockLease); err != nil {
		return PlanRef{}, err
	}
	lease := f.keepLease(j)
	if j.ApplyOf != "" && !j.DryRun {
		return f.prepareApply(ctx, j, lease)
	}
	if audiozip.IsSlug(j.ObjectType) {
		sp, err := f.prepareAudio(ctx, j)
		if err != nil {
			return PlanRef{}, err
		}
		return f.storePlan(ctx, j, sp)
	}
	t, err := objecttype.Lookup(j.ObjectType)
	if err != nil {
		return PlanRef{}, f.failChecks(ctx, j, jobs.PhaseUploadChecks, bulkerr.Wrap(bulkerr.Invalid, err,
			"the upload folder names object type %q, which is not known: %s", j.ObjectType, bulkerr.Message(err)))
	}
	limits, err := f.limits(ctx, j.Tenant)
	if err != nil {
		return PlanRef{}, err
	}
	// Refuse an oversize file before reading a byte of it (a direct S3
	// upload has no size cap of its own); Scan also stops reading at
	// MaxBytes+1, in case the object is not what HEAD said.
	info, err := f.Files.HeadVersion(ctx, j.Key, j.VersionID)
	if err != nil {
		return PlanRef{}, err
	}
	if info.Size > limits.MaxBytes {
		return PlanRef{}, f.failChecks(ctx, j, jobs.PhaseUploadChecks, csvread.TooLarge(limits, info.Size))
	}
	body, err := f.Files.Open(ctx, j.Key, j.VersionID)
	if err != nil {
		return PlanRef{}, err
	}
	defer body.Close()
	src := &readErrs{r: body}
	plan, err := csvread.Scan(leaseReader{ctx: ctx, r: src, k: lease}, t, csvread.Options{Limits: limits, ChunkRows: f.Config.ChunkRows})
	if lease.err != nil { // the lock was lost (or could not be renewed)
		return PlanRef{}, lease.err
	}
	if src.err != nil { // the storage read failed, not the file
		return PlanRef{}, bulkerr.Wrap(bulkerr.Transient, src.err, "reading %s", j.FileName)
	}
	if err != nil {
		phase := jobs.PhaseFileChecks
		if he := (*csvread.HeaderError)(nil); errors.As(err, &he) {
			phase = jobs.PhaseHeader
		}
		return PlanRef{}, f.failChecks(ctx, j, phase, err)
	}
	if _, err := csvimport.NewValidator(t, plan.Header); err != nil {
		return PlanRef{}, f.failChecks(ctx, j, jobs.PhaseHeader, err)
	}
	if err := lease.renew(ctx); err != nil {
		return PlanRef{}, err
	}
	return f.storePlan(ctx, j, storedPlan{
		ObjectType: t.Slug, Format: plan.Format, Header: plan.Header, Rows: plan.Rows,
		Chunks: plan.Chunks, Duplicates: plan.Duplicates,
	})
}

// storePlan writes plan.json, marks the job In Progress and returns the
// chunks for the Map state.
func (f *Flow) storePlan(ctx context.Context, j JobRef, sp storedPlan) (PlanRef, error) {
	raw, err := json.Marshal(sp)
	if err != nil {
		return PlanRef{}, bulkerr.Wrap(bulkerr.Internal, err, "encoding the plan")
	}
	if err := f.Files.Put(ctx, planKey(j.Tenant, j.JobID), "application/json", raw, nil); err != nil {
		return PlanRef{}, err
	}
	if err := f.Jobs.MarkInProgress(ctx, j.Tenant, j.JobID, sp.Rows, len(sp.Chunks), f.Now()); err != nil {
		return PlanRef{}, err
	}
	if err := f.announce(ctx, j.Tenant, j.JobID); err != nil {
		return PlanRef{}, err
	}
	ref := PlanRef{Rows: sp.Rows, Chunks: chunkRefs(sp.Chunks), MaxConcurrency: max(f.Config.ChunkConcurrency, 1), ChunkCount: len(sp.Chunks)}
	if f.Config.DistributedChunks > 0 && len(sp.Chunks) > f.Config.DistributedChunks {
		// The chunk list goes to S3 for the Distributed Map's ItemReader;
		// written before the plan is returned, so a retry rewrites the
		// same bytes.
		list, err := json.Marshal(ref.Chunks)
		if err != nil {
			return PlanRef{}, bulkerr.Wrap(bulkerr.Internal, err, "encoding the chunk list")
		}
		key := ChunkListKey(j.Tenant, j.JobID)
		if err := f.Files.Put(ctx, key, "application/json", list, nil); err != nil {
			return PlanRef{}, err
		}
		conc := f.Config.DistributedConcurrency
		if conc <= 0 {
			conc = ref.MaxConcurrency
		}
		ref = PlanRef{Rows: sp.Rows, Chunks: []ChunkRef{}, MaxConcurrency: conc, ChunkCount: len(sp.Chunks), Distributed: true,
			Bucket: j.Bucket, ChunksKey: key, ResultsPrefix: MapResultsPrefix(j.Tenant, j.JobID)}
	}
	f.logger(j).InfoContext(ctx, "planned", "rows", sp.Rows, "chunks", len(sp.Chunks),
		"encoding", sp.Format.Encoding, "duplicates", len(sp.Duplicates), "distributed", ref.Distributed)
	return ref, nil
}

// limits are the file limits of tenant: the large ones when an operator
// enabled large files for it, lowered by the operator's row and byte
// limits (tenancy.Settings.FileLimits).
func (f *Flow) limits(ctx context.Context, tenant string) (csvread.Limits, error) {
	if f.Settings == nil {
		return f.Config.Limits, nil
	}
	ts, err := f.Settings.TenantSettings(ctx, tenant)
	if err != nil {
		return csvread.Limits{}, err
	}
	return ts.FileLimits(tenancy.Ceilings{Default: f.Config.Limits, Large: f.Config.LargeLimits}), nil
}

func (f *Flow) loadPlan(ctx context.Context, j JobRef) (storedPlan, *objecttype.Type, error) {
	raw, err := f.Files.Get(ctx, planKey(j.Tenant, j.JobID))
	if err != nil {
		return storedPlan{}, nil, err
	}
	var sp storedPlan
	if err := json.Unmarshal(raw, &sp); err != nil {
		return storedPlan{}, nil, bulkerr.Wrap(bulkerr.Internal, err, "decoding the plan of job %s", j.JobID)
	}
	if sp.ObjectType == audiozip.Slug {
		return sp, nil, nil
	}
	t, err := objecttype.Lookup(sp.ObjectType)
	if err != nil {
		return storedPlan{}, nil, bulkerr.Wrap(bulkerr.Internal, err, "plan of job %s", j.JobID)
	}
	return sp, t, nil
}

// readErrs remembers the first read error of the underlying reader, so a
// storage failure is told apart from a bad file.
type readErrs struct {
	r   io.Reader
	err error
}

func (r *readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && r.err == nil {
		r.err = err
	}
	return n, err
}

// chunkRefs are the Map items of a stored plan's chunks.
func chunkRefs(cs []csvread.Chunk) []ChunkRef {
	out := make([]ChunkRef, len(cs))
	for i, c := range cs {
		out[i] = ChunkRef{Index: c.Index, Start: c.Start, End: c.End, FirstRow: c.FirstRow, Rows: c.Rows}
	}
	return out
}

// Chunks are plan p's chunks: the listed ones, or a distributed plan's
// chunk list read back from S3 (what the Distributed Map's ItemReader
// reads). For callers that run the steps themselves (tests, benchmarks).
func (f *Flow) Chunks(ctx context.Context, j JobRef, p PlanRef) ([]ChunkRef, error) {
	if !p.Distributed {
		return p.Chunks, nil
	}
	raw, err := f.Files.Get(ctx, ChunkListKey(j.Tenant, j.JobID))
	if err != nil {
		return nil, err
	}
	var cs []ChunkRef
	if err := json.Unmarshal(raw, &cs); err != nil {
		return nil, bulkerr.Wrap(bulkerr.Internal, err, "decoding the chunk list of job %s", j.JobID)
	}
	return cs, nil
}
