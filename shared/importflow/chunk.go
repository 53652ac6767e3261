package importflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/csvimport"
	"github.com/ccbulk/bulkops/shared/csvread"
	"github.com/ccbulk/bulkops/shared/jobs"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// rowOutcome is one row's decision as stored in the chunk's decisions file.
type rowOutcome struct {
	Row      int              `json:"row"`
	Action   csvimport.Action `json:"action"`
	Key      string           `json:"key,omitempty"`
	ObjectID string           `json:"objectId,omitempty"`
	Write    *catalog.Write   `json:"write,omitempty"`
	// Version is the stored version the decision saw (0: the key did not
	// exist). Applying a dry run compares it with the stored objects
	// (CheckPreview), so objects changed since the preview are named.
	Version int64 `json:"version,omitempty"`
}

// chunkDecisions is chunks/<n>.json. Its presence means the chunk's error
// and results parts are complete; a retried chunk reuses it instead of
// deciding again, so every attempt writes the same objects with the same IDs.
type chunkDecisions struct {
	Rows []rowOutcome `json:"rows"`
}

// ChunkResult is the chunk step's output (discarded by the Map state).
type ChunkResult struct {
	Index int `json:"index"`
	jobs.Counts
}

// ProcessChunk validates one chunk's rows, decides each against the stored
// objects, writes the error and results parts, applies the upserts (unless
// dry run) and adds the chunk's counts to the job, exactly once.
func (f *Flow) ProcessChunk(ctx context.Context, j JobRef, c ChunkRef) (ChunkResult, error) {
	log := f.logger(j).With("chunk", c.Index)
	if err := f.Locks.ExtendLock(ctx, j.Tenant, j.JobID, f.Config.LockLease); err != nil {
		return ChunkResult{}, err
	}
	lease := f.keepLease(j)
	done, err := f.Progress.ChunkDone(ctx, j.Tenant, j.JobID, c.Index)
	if err != nil {
		return ChunkResult{}, err
	}
	if done {
		log.InfoContext(ctx, "chunk already committed")
		return ChunkResult{Index: c.Index}, nil
	}
	dec, err := f.decisions(ctx, j, c)
	var np errNotPreviewed
	if errors.As(err, &np) {
		// An apply job's chunk the dry run did not decide: recorded
		// failed, as the Map item's Catch would, never decided anew.
		if err := f.Progress.FailChunk(ctx, j.Tenant, j.JobID, c.Index, c.Rows, np.reason); err != nil {
			return ChunkResult{}, err
		}
		log.WarnContext(ctx, "chunk not previewed, not applied", "reason", np.reason)
		return ChunkResult{Index: c.Index, Counts: jobs.Counts{Processed: c.Rows, Failed: c.Rows}}, nil
	}
	if err != nil {
		return ChunkResult{}, err
	}
	counts, writes := dec.tally()
	// Deciding may have taken a while: renew the lease. Writes are
	// claimed first, in one transaction with the check that no cancel
	// was asked for: a cancel then knows every chunk that may be writing
	// and finishes its writes itself (FinishCancelled), and no chunk
	// starts writing after a cancel.
	if err := lease.renew(ctx); err != nil {
		return ChunkResult{}, err
	}
	if !j.DryRun && len(writes) > 0 {
		if err := f.Progress.ClaimChunkWrites(ctx, j.Tenant, j.JobID, c.Index); err != nil {
			return ChunkResult{}, err
		}
		res, err := f.Objects(j.Tenant).Apply(ctx, j.JobID, writes, f.Config.WriteParallelism)
		if err != nil {
			return ChunkResult{}, err
		}
		for i, r := range res {
			if r == catalog.Conflicted && j.ApplyOf != "" {
				// The conditional write paths only: the preview was
				// checked under the lock, so this is a writer without
				// the lock. The previewed decisions cannot be applied.
				return ChunkResult{}, bulkerr.New(bulkerr.Stale,
					"%s %q changed after dry run %s was checked; these rows were not applied as previewed", writes[i].Object.Type, writes[i].Object.Name, j.ApplyOf)
			}
			if r == catalog.Conflicted {
				// Something changed an object after this chunk decided.
				// Decide again on the next attempt.
				if err := f.Files.Delete(ctx, decisionsKey(j.Tenant, j.JobID, c.Index)); err != nil {
					return ChunkResult{}, err
				}
				return ChunkResult{}, bulkerr.New(bulkerr.Transient,
					"%s %q changed while the import ran; the chunk will be decided again", writes[i].Object.Type, writes[i].Object.Name)
			}
		}
	}
	if err := lease.renew(ctx); err != nil {
		return ChunkResult{}, err
	}
	if err := f.Progress.CommitChunk(ctx, j.Tenant, j.JobID, c.Index, counts); err != nil {
		return ChunkResult{}, err
	}
	log.InfoContext(ctx, "chunk committed", "rows", counts.Processed, "created", counts.Created,
		"updated", counts.Updated, "unchanged", counts.Unchanged, "failed", counts.Failed)
	return ChunkResult{Index: c.Index, Counts: counts}, nil
}

// tally counts the chunk's rows by action and lists its object writes.
func (dec chunkDecisions) tally() (jobs.Counts, []catalog.Write) {
	counts := jobs.Counts{Processed: len(dec.Rows)}
	var writes []catalog.Write
	for _, r := range dec.Rows {
		switch r.Action {
		case csvimport.ActionCreated:
			counts.Created++
		case csvimport.ActionUpdated:
			counts.Updated++
		case csvimport.ActionUnchanged:
			counts.Unchanged++
		default:
			counts.Failed++
		}
		if r.Write != nil {
			writes = append(writes, *r.Write)
		}
	}
	return counts, writes
}

// decisions returns the chunk's stored decisions, or decides now and stores
// them (error part, results part, then the decisions file); an apply job's
// chunk adopts the dry run's instead (adoptDecisions).
func (f *Flow) decisions(ctx context.Context, j JobRef, c ChunkRef) (chunkDecisions, error) {
	var dec chunkDecisions
	raw, err := f.Files.Get(ctx, decisionsKey(j.Tenant, j.JobID, c.Index))
	if err == nil {
		if err := json.Unmarshal(raw, &dec); err != nil {
			return dec, bulkerr.Wrap(bulkerr.Internal, err, "decoding decisions of chunk %d", c.Index)
		}
		return dec, nil
	}
	if bulkerr.KindOf(err) != bulkerr.NotFound {
		return dec, err
	}
	if j.ApplyOf != "" && !j.DryRun {
		return f.adoptDecisions(ctx, j, c) // the previewed decisions, never decided anew
	}

	sp, t, err := f.loadPlan(ctx, j)
	if err != nil {
		return dec, err
	}
	var decided []csvimport.Decision
	if t == nil {
		decided, err = f.decideAudio(ctx, j, c, sp)
	} else {
		decided, err = f.decideCSV(ctx, j, c, sp, t)
	}
	if err != nil {
		return dec, err
	}

	var errBuf, resBuf, chBuf bytes.Buffer
	ew := csvimport.NewErrorPartWriter(&errBuf, sp.Header)
	rw := csvimport.NewResultPartWriter(&resBuf)
	var cw *csvimport.ChangePartWriter // a dry run of a CSV type writes its change lines
	if j.DryRun && t != nil {
		cw = csvimport.NewChangePartWriter(&chBuf, t)
	}
	dec.Rows = make([]rowOutcome, len(decided))
	rejected, changed := 0, 0
	for i, d := range decided {
		out := rowOutcome{Row: d.Row, Action: d.Action, Key: d.Object.Key, Version: d.Previous.Version}
		if cw != nil {
			n, err := cw.Write(d)
			if err != nil {
				return dec, bulkerr.Wrap(bulkerr.Internal, err, "writing change part")
			}
			changed += n
		}
		switch d.Action {
		case csvimport.ActionCreated:
			id, err := f.NewID()
			if err != nil {
				return dec, bulkerr.Wrap(bulkerr.Internal, err, "making an object ID")
			}
			obj := d.Object
			obj.ID = id
			out.ObjectID = id
			out.Write = &catalog.Write{Object: obj}
		case csvimport.ActionUpdated:
			obj := d.Object
			obj.ID = d.Previous.ID
			obj.CreatedAt = d.Previous.CreatedAt
			out.ObjectID = obj.ID
			out.Write = &catalog.Write{Object: obj, PrevVersion: d.Previous.Version}
		case csvimport.ActionUnchanged:
			out.ObjectID = d.Previous.ID
		}
		if d.Action == csvimport.ActionRejected {
			rejected++
			if err := ew.Write(d); err != nil {
				return dec, bulkerr.Wrap(bulkerr.Internal, err, "writing error part")
			}
		} else if err := rw.Write(d, out.ObjectID); err != nil {
			return dec, bulkerr.Wrap(bulkerr.Internal, err, "writing results part")
		}
		dec.Rows[i] = out
	}
	if err := ew.Flush(); err != nil {
		return dec, bulkerr.Wrap(bulkerr.Internal, err, "writing error part")
	}
	if err := rw.Flush(); err != nil {
		return dec, bulkerr.Wrap(bulkerr.Internal, err, "writing results part")
	}
	if changed > 0 {
		if err := cw.Flush(); err != nil {
			return dec, bulkerr.Wrap(bulkerr.Internal, err, "writing change part")
		}
		if err := f.Files.Put(ctx, changePartKey(j.Tenant, j.JobID, c.Index), "text/csv", chBuf.Bytes(), nil); err != nil {
			return dec, err
		}
	}
	if rejected > 0 {
		if err := f.Files.Put(ctx, errorPartKey(j.Tenant, j.JobID, c.Index), "text/csv", errBuf.Bytes(), nil); err != nil {
			return dec, err
		}
	}
	if err := f.Files.Put(ctx, resultPartKey(j.Tenant, j.JobID, c.Index), "text/csv", resBuf.Bytes(), nil); err != nil {
		return dec, err
	}
	raw, err = json.Marshal(dec)
	if err != nil {
		return dec, bulkerr.Wrap(bulkerr.Internal, err, "encoding decisions")
	}
	if err := f.Files.Put(ctx, decisionsKey(j.Tenant, j.JobID, c.Index), "application/json", raw, nil); err != nil {
		return dec, err
	}
	return dec, nil
}

// decideCSV reads one chunk of a CSV file and decides its rows.
func (f *Flow) decideCSV(ctx context.Context, j JobRef, c ChunkRef, sp storedPlan, t *objecttype.Type) ([]csvimport.Decision, error) {
	v, err := csvimport.NewValidator(t, sp.Header)
	if err != nil {
		return nil, err
	}
	recs, err := f.readChunk(ctx, j, c, sp.Format)
	if err != nil {
		return nil, err
	}
	decided, err := v.Decide(ctx, recs, f.Objects(j.Tenant))
	if err != nil {
		return nil, err
	}
	csvimport.RejectDuplicates(decided, sp.Duplicates)
	return decided, nil
}

func (f *Flow) readChunk(ctx context.Context, j JobRef, c ChunkRef, format csvread.Format) ([]csvread.Record, error) {
	body, err := f.Files.OpenRange(ctx, j.Key, j.VersionID, c.Start, c.End)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	src := &readErrs{r: body}
	cr := csvread.NewChunkReader(src, format, c.FirstRow)
	recs := make([]csvread.Record, 0, c.Rows)
	for {
		rec, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if src.err != nil {
			return nil, bulkerr.Wrap(bulkerr.Transient, src.err, "reading rows %d to %d", c.FirstRow, c.FirstRow+c.Rows-1)
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	if len(recs) != c.Rows {
		return nil, bulkerr.New(bulkerr.Internal, "chunk %d: planned %d rows, read %d (was the file replaced during the import?)", c.Index, c.Rows, len(recs))
	}
	return recs, nil
}

// ChunkFailed is the Map item's Catch: chunk c failed for good (its
// retries ran out) with error e. It records the chunk as failed, with the
// reason, and counts its rows as processed and failed, so the other chunks
// go on and Finalize still writes the reports: the chunk's rows come back in
// the error CSV as "not processed". A chunk that committed after all (a
// late Lambda) keeps its commit.
func (f *Flow) ChunkFailed(ctx context.Context, j JobRef, c ChunkRef, e *StateError) (ChunkResult, error) {
	reason := FailureReason(e)
	f.logger(j).WarnContext(ctx, "chunk failed for good", "chunk", c.Index, "rows", c.Rows, "reason", reason)
	if err := f.Locks.ExtendLock(ctx, j.Tenant, j.JobID, f.Config.LockLease); err != nil {
		return ChunkResult{}, err
	}
	if err := f.Progress.FailChunk(ctx, j.Tenant, j.JobID, c.Index, c.Rows, reason); err != nil {
		return ChunkResult{}, err
	}
	return ChunkResult{Index: c.Index, Counts: jobs.Counts{Processed: c.Rows, Failed: c.Rows}}, nil
}
